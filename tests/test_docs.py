"""The docs build without a warning, and they derive every equation the code cites.

* Every equation label the code cites in a comment, ``(M.3)``, ``(R.7)``, ``(S.2)``, ``(L.1)``...,
  must be derived in ``docs/derivations.md``, as a bold lead-in ``**(R.7)`` and a ``\\tag{R.7}``
  on its displayed equation, exactly once. This keeps code and docs agreeing as either changes.
* ``python -m sphinx -W -b html docs <tmp>`` must succeed (``-W``: any warning is an error) and
  produce every page, including the tutorials rendered from ``tutorials/*.py``. Skipped only when
  Sphinx or MyST is not installed (``pip install ".[docs]"``; CI installs it).
* The code on the self-contained pages runs as written.
* The tutorial renderer (``docs/_ext/percent_to_myst.py``) turns percent-format cells into
  Markdown and fenced code.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
LABEL = re.compile(r"\((M|R|S|L)\.(\d+)\)")
PAGES = ["index", "install", "architectures", "derivations", "gradcheck", "gradient_flow", "core", "tutorials",
         "api"]


def _cited_labels() -> set:
    """Every (M|R|S|L).n label cited in the package's source."""
    labels = set()
    for path in (REPO / "numrnn").rglob("*.py"):
        labels.update(f"{family}.{number}" for family, number in LABEL.findall(path.read_text(encoding="utf-8")))
    return labels


def _load_renderer():
    spec = importlib.util.spec_from_file_location("percent_to_myst", DOCS / "_ext" / "percent_to_myst.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- code and docs agree

def test_the_code_cites_every_family_of_labels():
    families = {label.split(".")[0] for label in _cited_labels()}
    assert families == {"M", "R", "S", "L"}


def test_every_label_the_code_cites_is_derived_once():
    derivations = (DOCS / "derivations.md").read_text(encoding="utf-8")
    missing, repeated = [], []
    for label in sorted(_cited_labels()):
        lead_ins = derivations.count(f"**({label})")
        tags = derivations.count(f"\\tag{{{label}}}")
        if lead_ins == 0 or tags == 0:
            missing.append(label)
        elif lead_ins > 1 or tags > 1:
            repeated.append(label)
    assert not missing, f"labels cited in numrnn/ but not derived in docs/derivations.md: {missing}"
    assert not repeated, f"labels derived more than once in docs/derivations.md: {repeated}"


def test_every_derived_label_is_tagged_once():
    derivations = (DOCS / "derivations.md").read_text(encoding="utf-8")
    tags = re.findall(r"\\tag\{([MRSL]\.\d+)\}", derivations)
    lead_ins = re.findall(r"\*\*\(([MRSL]\.\d+)\)", derivations)
    assert len(tags) == len(set(tags)) and sorted(tags) == sorted(lead_ins)


@pytest.mark.parametrize("page", ["index.md", "architectures.md", "gradcheck.md"])
def test_the_code_on_self_contained_pages_runs(page):
    """Each page's ```python blocks, run in order in one namespace, as a reader would paste them."""
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(encoding="utf-8"), re.DOTALL)
    assert blocks
    namespace = {}
    for block in blocks:
        exec(compile(block, f"docs/{page}", "exec"), namespace)


def test_the_examples_in_docstrings_run_and_print_what_they_show():
    """Catches a docstring example (``>>>``) that no longer runs or whose output changed."""
    import doctest
    import importlib
    import pkgutil

    import numrnn
    attempted = 0
    for info in pkgutil.walk_packages(numrnn.__path__, "numrnn."):
        if info.name.endswith("__main__"):            # importing it runs the CLI
            continue
        result = doctest.testmod(importlib.import_module(info.name), optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, info.name
        attempted += result.attempted
    assert attempted >= 5


# --------------------------------------------------------------------------- the tutorial renderer

def test_renderer_turns_cells_into_markdown_and_code():
    renderer = _load_renderer()
    script = "\n".join([
        "# ---", "# jupyter:", "#   jupytext: {}", "# ---", "",
        "# %% [markdown]", "# # My title", "#", "# Some *text* with $x_t$.", "",
        "# %%", "import numpy as np", "", "x = np.zeros(3)  # a comment", "",
        "# %% [md]", "# ## Part two", "",
        "# %% a titled cell", "print('```')", "",
    ])
    page = renderer.to_myst(script, "tutorials/demo.py")
    assert page.startswith("% generated from tutorials/demo.py")
    assert "jupytext" not in page                                   # the YAML header is dropped
    assert "\n# My title\n" in page and "\n## Part two\n" in page
    assert "Some *text* with $x_t$." in page
    assert "```python\nimport numpy as np\n\nx = np.zeros(3)  # a comment\n```" in page
    assert "````python\nprint('```')\n````" in page                 # a longer fence around backticks
    assert "python tutorials/demo.py" in page                       # how to run it


def test_renderer_gives_an_untitled_script_a_title_and_removes_stale_pages(tmp_path):
    renderer = _load_renderer()
    source, output = tmp_path / "src", tmp_path / "out"
    source.mkdir()
    (source / "plain.py").write_text("print(1)\n", encoding="utf-8")
    output.mkdir()
    (output / "gone.md").write_text("% generated from src/gone.py\n", encoding="utf-8")
    (output / "mine.md").write_text("# a page someone wrote\n", encoding="utf-8")
    written = renderer.render_tutorials(source, output, "src")
    assert written == [output / "plain.md"]
    page = (output / "plain.md").read_text(encoding="utf-8")
    assert "\n# plain\n" in page and "```python\nprint(1)\n```" in page
    assert not (output / "gone.md").exists()                         # its tutorial is gone
    assert (output / "mine.md").exists()                             # not generated: left alone


# --------------------------------------------------------------------------- the build

@pytest.fixture(scope="module")
def built_docs(tmp_path_factory) -> Path:
    """The HTML docs, built with -W into a temporary folder."""
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    out = tmp_path_factory.mktemp("html")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-d", str(out / ".doctrees"),
         str(DOCS), str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, f"sphinx -W failed:\n{result.stderr[-5000:]}"
    return out


def test_docs_build_every_page(built_docs: Path):
    for page in PAGES:
        assert (built_docs / f"{page}.html").is_file(), page
    for image in ("gradient_flow_map.png", "gradient_flow_compare.png"):
        assert (built_docs / "_images" / image).read_bytes()[:4] == b"\x89PNG", image


def test_docs_render_every_tutorial(built_docs: Path):
    tutorials = sorted((REPO / "tutorials").glob("*.py"))
    assert tutorials
    index = (built_docs / "tutorials.html").read_text(encoding="utf-8")
    for script in tutorials:
        page = built_docs / "tutorials" / f"{script.stem}.html"
        assert page.is_file(), script.name
        assert f"tutorials/{script.stem}.html" in index, f"{script.name} is not in the tutorials toctree"
        html = page.read_text(encoding="utf-8")
        assert f"tutorials/{script.name}</span>" in html               # the note on how to run it
        assert 'class="highlight-python' in html                    # its code cells, as Python blocks


def test_api_page_documents_the_public_functions(built_docs: Path):
    api = (built_docs / "api.html").read_text(encoding="utf-8")
    for name in ("numrnn.gradcheck.check_gradients", "numrnn.model.DeepRNN", "numrnn.core.layer_backward",
                 "numrnn.plotting.plot_gradient_norms", "numrnn.losses.softmax_cross_entropy"):
        assert f'id="{name}"' in api, name


def test_derivations_page_shows_the_labels(built_docs: Path):
    html = (built_docs / "derivations.html").read_text(encoding="utf-8")
    for label in sorted(_cited_labels()):
        assert f"<strong>({label})" in html and f"\\tag{{{label}}}" in html, label
