"""Run every tutorial as a user would, and check what it prints.

Each ``tutorials/*.py`` is executed once per test run, as a notebook: jupytext converts it and
nbclient runs its cells in order in one fresh kernel (fixture ``executed_tutorials`` in
``conftest.py``, machinery in ``docs/_ext/tutorial_notebooks.py``), from an empty working
folder, with ``NUMRNN_TUTORIAL_OUTPUT`` pointing at a temporary folder for its figures and
RuntimeWarnings (overflow, invalid values) turned into errors. The docs build of
``tests/test_docs.py`` renders the same executed notebooks, so nothing runs twice.

A tutorial passes when every cell runs *and* it prints the results it teaches (its stdout
streams, in order, are what ``python tutorials/X.py`` prints): a tutorial that silently computes
something else fails. A new tutorial must add its expectations to ``EXPECTED``.

That is also the script run: the cells of a percent script, run in order in one namespace, are
the script. What could still differ is checked cheaply: no cell holds IPython-only syntax
(a magic or shell escape that jupytext uncomments), and every script compiles and its imports
run under plain ``python``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import numrnn

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((REPO / "tutorials").glob("*.py"))
FLOAT = r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def _check_01(out: str, figures: Path) -> None:
    for what in ("step forward", "step backward"):
        difference = float(re.search(rf"{what}: +max \|by hand - reference\| = ({FLOAT})", out).group(1))
        assert difference < 1e-13
    agreement = re.search(rf"vectorized core agrees with the step-by-step loop: max \|difference\| = ({FLOAT})", out)
    assert agreement and float(agreement.group(1)) < 1e-12
    assert re.search(r"my vanilla RNN: full check in float64", out)
    assert re.search(r"^PASS: max relative error", out, re.MULTILINE)


def _check_02(out: str, figures: Path) -> None:
    for name in numrnn.presets.ARCHITECTURES:        # every preset in the table, with a parameter count
        assert re.search(rf"^{re.escape(name)} +\d+ +\d+ +\w+ +\d+  \(20, 4, 5\)$", out, re.MULTILINE), name
    formula, model = re.search(r"vanilla by the formula: (\d+), by the model: (\d+)", out).groups()
    assert formula == model
    assert out.count("total parameters:") == 2                      # two summaries
    assert "deep transition with q = 0 equals vanilla: max |difference| = 0.0e+00" in out
    assert "hierarchical with L = 1 equals vanilla: max |difference| = 0.0e+00" in out
    assert "layers: ['vanilla', 'deep transition + skip', 'DT(S) shortcut']" in out


def _check_03(out: str, figures: Path) -> None:
    ratios = dict(re.findall(rf"ratio ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ for (\S+) += ({FLOAT})", out))
    assert set(ratios) == {"vanilla", "deep-transition", "deep-transition-skip", "hierarchical"}
    ratios = {name: float(value) for name, value in ratios.items()}
    # The chapter's claims, as this tutorial measures them at T = 50.
    assert ratios["vanilla"] < 1e-2                                  # vanilla: the gradient vanishes
    assert ratios["deep-transition"] < ratios["vanilla"]             # deep transition: "challenging"
    assert ratios["deep-transition-skip"] > 1e3 * ratios["vanilla"]  # with skip: "improved"
    for name in ("gradient_norm_map.png", "gradient_flow_compare.png"):
        assert (figures / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert f"figures saved to {figures}" in out


def _check_04(out: str, figures: Path) -> None:
    assert re.search(r"^leaky RNN: full check in float64.*?^PASS: max relative error", out, re.MULTILINE | re.DOTALL)
    assert re.search(r"^leaky RNN with a planted bug: full check.*?^FAIL \(\d+ of 5 arrays\)", out,
                     re.MULTILINE | re.DOTALL)
    caught = re.search(r"arrays caught: (.+)", out).group(1).split(", ")
    assert "W_hh" in caught and "h0" in caught                       # the bug is on the path through time
    agreement = re.search(rf"α = 1 equals numrnn's vanilla layer: max \|difference\| = ({FLOAT})", out)
    assert agreement and float(agreement.group(1)) < 1e-12
    assert re.search(r"^leaky RNN, directional: directional check.*?^PASS", out, re.MULTILINE | re.DOTALL)


EXPECTED = {
    "01_vanilla_rnn_by_hand.py": _check_01,
    "02_three_ways_to_go_deep.py": _check_02,
    "03_vanishing_gradients.py": _check_03,
    "04_check_your_own_layer.py": _check_04,
}


def test_every_tutorial_has_expectations():
    assert TUTORIALS, "no tutorials found"
    assert sorted(path.name for path in TUTORIALS) == sorted(EXPECTED)


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=[path.stem for path in TUTORIALS])
def test_tutorial_runs_and_prints_its_results(tutorial: Path, executed_tutorials):
    run = executed_tutorials[tutorial.name]
    assert run.error is None, f"{tutorial.name} failed as a notebook:\n{run.error}"
    EXPECTED[tutorial.name](run.stdout, run.figures)
    assert os.listdir(run.workdir) == [], "a tutorial must write only into NUMRNN_TUTORIAL_OUTPUT"


# --------------------------------------------------------------------------- the script run

IPYTHON_ONLY = re.compile(r"\b(get_ipython|display)\(")


def notebook_script_differences(script: str) -> list:
    """Why the notebook jupytext makes of ``script`` would not run exactly the script (empty: it does).

    jupytext uncomments ``# %magic`` and ``# !command`` lines, which would make the notebook run
    something the script does not (a cell that is not Python); ``get_ipython()`` and ``display()``
    exist only in a kernel. Otherwise the code cells, in order, have the script's syntax tree.
    """
    import ast

    import jupytext

    cells = [cell.source for cell in jupytext.reads(script, fmt="py:percent").cells if cell.cell_type == "code"]
    if not cells:
        return ["no code cell"]
    problems = []
    for index, source in enumerate(cells):
        try:
            ast.parse(source)
        except SyntaxError as error:
            problems.append(f"code cell {index} is not Python (an IPython magic?): {error.text!r}")
        if IPYTHON_ONLY.search(source):
            problems.append(f"code cell {index} calls a kernel-only function")
    if not problems and ast.dump(ast.parse("\n\n".join(cells))) != ast.dump(ast.parse(script)):
        problems.append("the code cells are not the script's code")
    return problems


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=[path.stem for path in TUTORIALS])
def test_the_notebook_runs_exactly_the_script(tutorial: Path):
    assert notebook_script_differences(tutorial.read_text(encoding="utf-8")) == [], tutorial.name


def test_the_script_check_catches_code_only_a_kernel_runs():
    assert notebook_script_differences("# %%\nimport numpy as np\n\n# %%\nx = 1\n") == []
    magic = notebook_script_differences("# %%\nimport numpy as np\n# %matplotlib inline\nx = 1\n")
    assert magic == ["code cell 0 is not Python (an IPython magic?): '%matplotlib inline\\n'"]
    assert notebook_script_differences("# %%\ndisplay(1)\n") == ["code cell 0 calls a kernel-only function"]


def test_every_script_compiles_and_its_imports_run_in_plain_python(tmp_path: Path):
    """``python tutorials/X.py`` gets past its imports, without IPython, in one interpreter."""
    import ast

    imports = []
    for tutorial in TUTORIALS:
        tree = ast.parse(tutorial.read_text(encoding="utf-8"), str(tutorial))    # a SyntaxError fails here
        imports += [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert imports
    code = "\n".join(sorted(set(imports))) + "\nimport sys\nassert 'IPython' not in sys.modules\n"
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(MPLBACKEND="Agg", PYTHONPATH=str(REPO), MPLCONFIGDIR=str(tmp_path / "mplconfig"))
    result = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- the runner itself

PLANTED = """\
# %% [markdown]
# # A planted tutorial

# %%
import os
from pathlib import Path

import numpy as np

import numrnn.plotting

print("hello from cell 1")

# %%
ax = numrnn.plotting.plot_gradient_norms(np.ones((2, 5)), title="planted")
ax.figure.savefig(Path(os.environ["NUMRNN_TUTORIAL_OUTPUT"]) / "planted.png", dpi=40)
import matplotlib.pyplot as plt

plt.close("all")
print("working folder:", os.getcwd())

# %%
np.exp(np.array(1000.0))
print("never printed")
"""


def test_runner_records_stdout_figures_and_the_first_error(tmp_path: Path):
    """A saved figure becomes its cell's image; an overflow stops the run, as ``-W error`` would."""
    tutorial_notebooks = _load_runner()
    script = tmp_path / "planted.py"
    script.write_text(PLANTED, encoding="utf-8")
    run = tutorial_notebooks.execute_tutorial(script, tmp_path / "runs")
    assert run.stdout.startswith("hello from cell 1\nworking folder: ")
    assert Path(run.stdout.split("working folder: ")[1].strip()) == run.workdir.resolve()
    assert "never printed" not in run.stdout
    assert run.error is not None and "overflow" in run.error            # a RuntimeWarning made an error
    images = [index for index, cell in enumerate(run.notebook.cells)
              for output in cell.get("outputs", []) if "image/png" in output.get("data", {})]
    assert images == [2]                                                # the cell that saved the figure
    assert (run.figures / "planted.png").is_file() and os.listdir(run.workdir) == []
    written = tutorial_notebooks._read_notebook(tmp_path / "runs" / "planted.ipynb")
    assert written.metadata["numrnn_tutorial"]["error"] == run.error


def _load_runner():
    import importlib.util

    spec = importlib.util.spec_from_file_location("tutorial_notebooks", REPO / "docs" / "_ext" / "tutorial_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
