"""The docs build without a warning, and they derive every equation the code cites.

* Every equation label the code cites in a comment, ``(M.3)``, ``(R.7)``, ``(S.2)``, ``(L.1)``...,
  must be derived in ``docs/derivations.md``, as a bold lead-in ``**(R.7)`` and a ``\\tag{R.7}``
  on its displayed equation, exactly once. This keeps code and docs agreeing as either changes.
* ``python -m sphinx -W -b html docs <tmp>`` must succeed (``-W``: any warning is an error) and
  produce every page, including the tutorials, rendered from the notebooks the test run executed
  once (fixture ``executed_tutorials``) with their printed output and figures. Skipped only when
  Sphinx or myst-nb is not installed (``pip install ".[docs]"``; CI installs it).
* The built docs load nothing from the network (no script, stylesheet or font from http(s):// or
  //), MathJax is bundled, and, where Debian's chromium is installed, a headless browser shows
  typeset maths, not TeX.
* The pages fit a laptop: in that browser, at 1024, 1280 and 1440 px windows, no displayed
  equation or table is cut off (each fits its column or scrolls in its own box), and at 1280 px
  the code column holds 100 characters (``tests/layout_probe.js`` measures, over a local HTTP
  server); with ``numrnn.css`` emptied the same check fails.
* The code on the self-contained pages runs as written; the teachers page prints what it shows.
* The API reference documents every name in the ``__all__`` of every public module, found by
  walking the package (a new module fails the test until ``docs/api.md`` documents it).
* The PyTorch mapping of ``docs/compare_with_pytorch.py`` gives ``torch.nn.RNN``'s equations the
  same network (without torch; with torch, where it is installed, the full comparison).
* The ``numrnn compare`` files the gradient-flow page includes are what
  ``docs/generate_compare.py`` makes of the committed ``results.json``; likewise the chorales
  run's tables in ``docs/music.md`` and ``docs/generate_music.py``, whose tests against the
  vanilla RNN follow Holm.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
LABEL = re.compile(r"\((M|R|S|L)\.(\d+)\)")
PAGES = [
    "index",
    "install",
    "architectures",
    "derivations",
    "gradcheck",
    "gradient_flow",
    "core",
    "tutorials",
    "api",
    "pytorch",
    "teachers",
]


def _cited_labels(paths=None) -> set:
    """Every (M|R|S|L).n label cited in ``paths`` (default: every file of the package's source)."""
    labels = set()
    for path in (REPO / "numrnn").rglob("*.py") if paths is None else paths:
        labels.update(
            f"{family}.{number}"
            for family, number in LABEL.findall(path.read_text(encoding="utf-8"))
        )
    return labels


def _load_extension(name: str):
    spec = importlib.util.spec_from_file_location(name, DOCS / "_ext" / f"{name}.py")
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


def _derived_labels() -> set:
    """Every label docs/derivations.md tags on a displayed equation."""
    derivations = (DOCS / "derivations.md").read_text(encoding="utf-8")
    return set(re.findall(r"\\tag\{([MRSL]\.\d+)\}", derivations))


def test_every_derived_equation_is_cited_in_the_code():
    """Backward equations included: a derivation that no line of numrnn/ cites (a step the code
    does differently, or a label renumbered on one side only) fails here."""
    backward = {"M.3", "M.4", "M.5", "M.6", "M.7", "R.5", "R.6", "R.7", "R.8", "R.9", "R.10"}
    assert backward | {"R.11", "S.2", "L.2", "L.4", "L.6"} <= _derived_labels()
    uncited = sorted(_derived_labels() - _cited_labels())
    assert not uncited, f"derived in docs/derivations.md but cited nowhere in numrnn/: {uncited}"


def test_the_reference_cites_every_equation_it_implements():
    """numrnn/reference.py, read beside the derivations, cites every MLP, layer and stack label
    except (R.2), the core's fused product, which a one-step-at-a-time loop does not have."""
    wanted = {label for label in _derived_labels() if label[0] in "MRS"} - {"R.2"}
    cited = _cited_labels([REPO / "numrnn" / "reference.py"])
    assert sorted(wanted - cited) == []


def test_every_derived_label_is_tagged_once():
    derivations = (DOCS / "derivations.md").read_text(encoding="utf-8")
    tags = re.findall(r"\\tag\{([MRSL]\.\d+)\}", derivations)
    lead_ins = re.findall(r"\*\*\(([MRSL]\.\d+)\)", derivations)
    assert len(tags) == len(set(tags)) and sorted(tags) == sorted(lead_ins)


@pytest.mark.parametrize("page", ["index.md", "architectures.md", "gradcheck.md"])
def test_the_code_on_self_contained_pages_runs(page):
    """Each page's ```python blocks, run in order in one namespace, as a reader would paste them."""
    blocks = re.findall(
        r"```python\n(.*?)```", (DOCS / page).read_text(encoding="utf-8"), re.DOTALL
    )
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
        if info.name.endswith("__main__"):  # importing it runs the CLI
            continue
        result = doctest.testmod(importlib.import_module(info.name), optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, info.name
        attempted += result.attempted
    assert attempted >= 5


def test_the_teachers_page_prints_what_it_shows():
    """docs/teachers.md's code, run in order, prints exactly its ```text block."""
    import contextlib
    import io

    page = (DOCS / "teachers.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", page, re.DOTALL)
    shown = re.findall(r"```text\n(.*?)```", page, re.DOTALL)
    assert len(blocks) == 3 and len(shown) == 1
    namespace, printed = {}, io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in blocks:
            exec(compile(block, "docs/teachers.md", "exec"), namespace)
    assert printed.getvalue() == shown[0]


# --------------------------------------------------------------------------- compare with PyTorch


def _load_docs_script(name: str):
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _torch_rnn_in_numpy(state: dict, x, h0, num_layers: int):
    """torch.nn.RNN (tanh, time-major) + Linear, from torch's documented equations, in NumPy."""
    inputs = x  # (T, B, D)
    for k in range(num_layers):
        h, states = h0[k], []
        for x_t in inputs:
            h = np.tanh(
                x_t @ state[f"rnn.weight_ih_l{k}"].T
                + state[f"rnn.bias_ih_l{k}"]
                + h @ state[f"rnn.weight_hh_l{k}"].T
                + state[f"rnn.bias_hh_l{k}"]
            )
            states.append(h)
        inputs = np.stack(states)  # (T, B, H): the next layer's input
    return inputs @ state["linear.weight"].T + state["linear.bias"]  # (T, B, O)


def test_the_pytorch_mapping_gives_torch_rnn_the_same_network():
    """Without torch: numrnn's parameters under torch's names, in torch's equations, give its y."""
    import numrnn

    check = _load_docs_script("compare_with_pytorch")
    T, B, D, H, O, L = 6, 2, 3, 5, 4, 3
    model = numrnn.DeepRNN(D, H, O, num_layers=L, bias=0.1, seed=0)
    rng = np.random.default_rng(1)
    for name in model.params:
        model.params[name][...] = 0.5 * rng.standard_normal(model.params[name].shape)
    state = check.numrnn_to_torch(model.params, L)
    shapes = {f"rnn.weight_ih_l{k}": (H, D if k == 0 else H) for k in range(L)}
    shapes.update({f"rnn.weight_hh_l{k}": (H, H) for k in range(L)})
    shapes.update({f"rnn.bias_{kind}_l{k}": (H,) for kind in ("ih", "hh") for k in range(L)})
    shapes.update({"linear.weight": (O, H), "linear.bias": (O,)})
    assert {name: value.shape for name, value in state.items()} == shapes  # torch.nn.RNN's names
    x = rng.standard_normal((T, B, D))
    h0 = [rng.standard_normal((B, H)) for _ in range(L)]
    y, _ = model.forward(x, h0)
    assert np.abs(_torch_rnn_in_numpy(state, x, h0, L) - y).max() < 1e-13
    for k in range(L):  # torch's two biases, any split
        split = rng.standard_normal(H)
        state[f"rnn.bias_hh_l{k}"] = split
        state[f"rnn.bias_ih_l{k}"] = model.params[f"layer{k + 1}.b_h"] - split
    assert np.abs(_torch_rnn_in_numpy(state, x, h0, L) - y).max() < 1e-13
    back = check.torch_to_numrnn(state, L)
    assert sorted(back) == sorted(model.params)
    for name, value in back.items():
        np.testing.assert_allclose(value, model.params[name], rtol=0, atol=1e-15, err_msg=name)


def test_the_pytorch_comparison_passes_where_torch_is_installed():
    pytest.importorskip("torch")
    differences = _load_docs_script("compare_with_pytorch").compare()
    assert len(differences) == 3 + 3 * 2 + 2 + 1
    assert max(differences.values()) < 1e-12, differences


# --------------------------------------------------------------------------- the compare report


def test_the_compare_includes_are_generated_from_the_committed_results():
    """docs/_static/compare/*.md are exactly what docs/generate_compare.py makes of results.json."""
    generate = _load_docs_script("generate_compare")
    folder = DOCS / "_static" / "compare"
    results = generate.read_results(folder)
    for name, make in generate.INCLUDES.items():
        assert (folder / name).read_text(encoding="utf-8") == make(results), (
            f"{name} was edited by hand"
        )
    for figure in generate.FIGURES:
        assert (folder / f"{figure}.png").read_bytes()[:4] == b"\x89PNG", figure
    pages = "".join(
        (DOCS / page).read_text(encoding="utf-8") for page in ("gradient_flow.md", "compare.md")
    )
    for name in [*generate.INCLUDES, *(f"{figure}.png" for figure in generate.FIGURES)]:
        assert f"_static/compare/{name}" in pages, f"no page of docs/ shows {name}"


def test_the_readme_table_is_generated_from_the_committed_results(tmp_path):
    """The README's table of the default report is what generate_compare makes of the committed
    results.json (a hand edit, or a rerun whose README was not regenerated, fails here), and
    update_readme rewrites only the block between the markers."""
    generate = _load_docs_script("generate_compare")
    results = generate.read_results(DOCS / "_static" / "compare")
    readme = generate.README.read_text(encoding="utf-8")
    block = readme.split(generate.README_BEGIN)[1].split(generate.README_END)[0]
    assert block == "\n" + generate.readme_table_markdown(results), "README's table is stale"
    copy = tmp_path / "README.md"
    copy.write_text(readme.replace(block, "\nstale\n"), encoding="utf-8")
    generate.update_readme(results, copy)
    assert copy.read_text(encoding="utf-8") == readme
    copy.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="must hold <!-- compare-table:begin -->"):
        generate.update_readme(results, copy)
    assert copy.read_text(encoding="utf-8") == "no markers\n"


def _flow_column(verdict, median) -> dict:
    """A flow column of results.json (every seed's worst layer 1)."""
    return {
        "per_seed": [],
        "verdict": verdict,
        "verdict_counts": {} if verdict is None else {verdict: 6},
        "worst_layers": [] if verdict is None else [1],
        "median_value": median,
        "any_bound": False,
    }


def _fake_report(folder: Path, figures) -> dict:
    folder.mkdir()
    results = {
        "run": {
            "command": "numrnn compare --out report",
            "numrnn": "0.1.0",
            "numpy": "2.0",
            "python": "3.11",
            "cores": 2,
            "workers": 2,
            "wall_time_seconds": 170.4,
        },
        "thresholds": {"vanishing_below": 0.95, "exploding_above": 1.05},
        "flow_task": "adding-20",
        "figures": {name: {"caption": name, "files": [f"{name}.png"]} for name in figures},
        "table": [
            {
                "title": "vanilla RNN",
                "hidden": 15,
                "parameters": {"total": 286},
                "sequential_depth": {"recurrent": 1},
                "flow_init": _flow_column("vanishing", -3.561),
                "flow_first_eval": _flow_column("vanishing", -2.5),
                "flow_trained": _flow_column(None, None),
            }
        ],
        "claims": [
            {
                "pattern": "deep-transition",
                "cell": "gradient flow",
                "claim": "challenging",
                "rule": "|a| < |b|",
                "deciding": "-5.3 vs -3.56",
                "family": "gradient flow",
                "test": {
                    "test": "exact Mann-Whitney U",
                    "p_for": 0.001,
                    "p_against": 0.999,
                    "holm_p_for": 0.004,
                    "holm_p_against": 1.0,
                    "family_size": 4,
                    "effect": "median difference",
                    "effect_value": -1.7,
                    "effect_interval": [-2.0, -1.5],
                },
                "verdict": "supported",
            },
            {
                "pattern": "hierarchical",
                "cell": "parameters",
                "claim": "high",
                "rule": "more",
                "deciding": "x2.6",
                "family": None,
                "test": None,
                "verdict": "supported",
            },
        ],
    }
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    for name in figures:
        (folder / f"{name}.png").write_bytes(b"\x89PNG fake " + name.encode())
    return results


def test_generate_compare_writes_the_figures_and_the_includes(tmp_path):
    generate = _load_docs_script("generate_compare")
    _fake_report(tmp_path / "report", generate.FIGURES)
    output = tmp_path / "docs" / "_static" / "compare"
    written = generate.write_docs_files(tmp_path / "report", output)
    assert written == sorted(
        [*(f"{name}.png" for name in generate.FIGURES), "results.json", *generate.INCLUDES]
    )
    table = (output / "flow_table.md").read_text(encoding="utf-8")
    assert (
        "| vanilla RNN | 15 | 286 | 1 | vanishing; worst layer 1; median log10 ratio -3.56 "
        "| vanishing; worst layer 1; median log10 ratio -2.5 | n/a |"
    ) in table
    claims = (output / "flow_claims.md").read_text(encoding="utf-8")
    assert (
        "challenging | \\|a\\| < \\|b\\| | -5.3 vs -3.56 | exact Mann-Whitney U; p 0.001" in claims
    )
    assert "Holm over 4 in 'gradient flow': 0.004" in claims and "**supported** |" in claims
    assert "parameters: high" not in claims  # not a claim about gradient flow
    assert "numrnn compare --out report" in (output / "run.md").read_text(encoding="utf-8")


def test_generate_compare_keeps_the_previous_files_when_a_report_is_incomplete(tmp_path):
    generate = _load_docs_script("generate_compare")
    _fake_report(tmp_path / "good", generate.FIGURES)
    output = tmp_path / "compare"
    generate.write_docs_files(tmp_path / "good", output)
    before = {path.name: path.read_bytes() for path in output.iterdir()}
    _fake_report(tmp_path / "partial", generate.FIGURES[:-1])
    with pytest.raises(SystemExit, match="the report has no figure 'depth_sweep_metric'"):
        generate.write_docs_files(tmp_path / "partial", output)
    assert {path.name: path.read_bytes() for path in output.iterdir()} == before
    with pytest.raises(SystemExit, match="does not exist: is .* a numrnn compare report"):
        generate.write_docs_files(tmp_path / "nowhere", output)
    assert not [
        path for path in tmp_path.iterdir() if path.name.startswith(".compare-")
    ]  # no staging left


# --------------------------------------------------------------------------- the tutorial pages


def _notebook(cells: list, mark: dict | None):
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=cells)
    if mark is not None:
        notebook.metadata["numrnn_tutorial"] = mark
    return notebook


def test_pages_come_only_from_current_successful_runs(tmp_path):
    """A notebook executed from another version, or one that failed, never becomes a page."""
    nbformat = pytest.importorskip("nbformat")
    tutorial_notebooks = _load_extension("tutorial_notebooks")
    script = tmp_path / "demo.py"
    script.write_text("# %% [markdown]\n# # Demo\n#\n# Text.\n\n# %%\nprint(1)\n", encoding="utf-8")
    executed, pages = tmp_path / "executed", tmp_path / "pages"
    executed.mkdir()
    cells = [
        nbformat.v4.new_markdown_cell("# Demo\n\nText."),
        nbformat.v4.new_code_cell("print(1)"),
    ]
    current = tutorial_notebooks.source_hash(script)

    def write(mark):
        nbformat.write(_notebook(cells, mark), str(executed / "demo.ipynb"))

    write({"hash": "0" * 64, "error": None})
    with pytest.raises(
        RuntimeError, match="demo.ipynb was executed from another version of tutorials/demo.py"
    ):
        tutorial_notebooks.write_pages([script], pages, executed)
    write({"hash": current, "error": "CellExecutionError: boom"})
    with pytest.raises(
        RuntimeError,
        match="tutorials/demo.py failed when run as a notebook:\nCellExecutionError: boom",
    ):
        tutorial_notebooks.write_pages([script], pages, executed)
    assert not (pages / "demo.ipynb").exists()

    write({"hash": current, "error": None})
    (pages / "gone.ipynb").write_text(
        nbformat.writes(_notebook([], {"hash": "x"})), encoding="utf-8"
    )
    (pages / "old.md").write_text("% generated from tutorials/old.py\n", encoding="utf-8")
    (pages / "mine.md").write_text("# a page someone wrote\n", encoding="utf-8")
    assert tutorial_notebooks.write_pages([script], pages, executed) == [pages / "demo.ipynb"]
    page = nbformat.read(str(pages / "demo.ipynb"), as_version=4)
    assert page.cells[0].source.startswith("# Demo\n\n```{note}\nThis page is `tutorials/demo.py`")
    assert page.cells[0].source.endswith("\n\nText.")
    assert sorted(path.name for path in pages.iterdir()) == [
        "demo.ipynb",
        "mine.md",
    ]  # generated stale pages go


def test_links_to_a_tutorials_markdown_name_reach_its_notebook():
    pytest.importorskip("sphinx")
    from docutils import nodes
    from sphinx import addnodes

    tutorial_notebooks = _load_extension("tutorial_notebooks")
    doctree = nodes.document(None, None)
    targets = ["tutorials/01_a.md#setup", "02_b.md", "install.md", "https://example.org/x.md"]
    for target in targets:
        doctree += addnodes.pending_xref(reftype="myst", refdomain=None, reftarget=target)
    docs = {"tutorials/01_a", "tutorials/02_b"}
    assert (
        tutorial_notebooks.link_markdown_names(doctree, "index", docs) == 1
    )  # 02_b.md: not from index
    refs = list(doctree.findall(addnodes.pending_xref))
    assert (refs[0]["refdomain"], refs[0]["reftarget"], refs[0]["reftargetid"]) == (
        "doc",
        "tutorials/01_a",
        "setup",
    )
    assert [ref["reftarget"] for ref in refs[1:]] == targets[1:]  # left to MyST
    for ref in refs:
        ref["refdomain"] = None
    assert (
        tutorial_notebooks.link_markdown_names(doctree, "tutorials/01_a", docs) == 1
    )  # 02_b.md beside it


# --------------------------------------------------------------------------- the build


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory, executed_tutorials) -> Path:
    """The HTML docs, built with -W into a temporary folder, from this run's executed tutorials."""
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_nb")
    executed = executed_tutorials.executed_folder()
    out = tmp_path_factory.mktemp("html")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-b",
            "html",
            "-d",
            str(out / ".doctrees"),
            "-D",
            f"numrnn_executed_tutorials={executed}",
            str(DOCS),
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"sphinx -W failed:\n{result.stderr[-5000:]}"
    return out


def test_docs_build_every_page(built_docs: Path):
    for page in PAGES:
        assert (built_docs / f"{page}.html").is_file(), page
    for image in ("gradient_flow_map.png", "gradient_flow_compare.png"):
        assert (built_docs / "_images" / image).read_bytes()[:4] == b"\x89PNG", image


# Tutorials written before issue 13 that draw no figure; every other tutorial must show one.
FIGURELESS = {"01_vanilla_rnn_by_hand", "02_three_ways_to_go_deep", "04_check_your_own_layer"}


def test_docs_render_every_tutorial_with_its_output_and_figures(
    built_docs: Path, executed_tutorials
):
    tutorials = sorted((REPO / "tutorials").glob("*.py"))
    assert tutorials
    index = (built_docs / "tutorials.html").read_text(encoding="utf-8")
    for script in tutorials:
        page = built_docs / "tutorials" / f"{script.stem}.html"
        assert page.is_file(), script.name
        assert f"tutorials/{script.stem}.html" in index, (
            f"{script.name} is not in the tutorials toctree"
        )
        html = page.read_text(encoding="utf-8")
        assert f"tutorials/{script.name}</span>" in html  # the note on how to run it
        assert 'class="highlight-ipython3' in html  # its code cells
        run = executed_tutorials[script.name]
        printed = [line.strip() for line in run.stdout.splitlines() if line.strip()]
        assert printed and printed[-1] in _page_text(html), (
            f"{script.name}: its output is not on its page"
        )
        images = sum(
            "image/png" in output.get("data", {})
            for cell in run.notebook.cells
            for output in cell.get("outputs", [])
        )
        shown = re.findall(r'<img [^>]*src="(\.\./_images/[^"]+)"', html)
        assert len(shown) >= images, f"{script.name}: {images} figures drawn, {len(shown)} shown"
        for src in shown:
            assert (page.parent / src).resolve().read_bytes()[:4] == b"\x89PNG", src
        if script.stem not in FIGURELESS:
            assert shown, f"{script.name}: a tutorial page must show at least one figure (<img>)"


def test_the_tutorial_pages_fold_the_checks_and_the_solutions(built_docs: Path):
    """Tutorials 5-8 on the web: every cell tagged hide-input (the checks, whose hints give
    hints away, and the worked solutions) shows its code folded in a <details>, the solutions
    come after a Solutions heading, and nothing before it says an exercise is correct."""
    for number in ("05", "06", "07", "08"):
        page = next((built_docs / "tutorials").glob(f"{number}_*.html"))
        html = page.read_text(encoding="utf-8")
        tagged = html.count('class="cell tag_hide-input')
        folded = re.findall(
            r'<div class="cell tag_hide-input[^"]*">\s*<details class="[^"]*hide above-input">',
            html,
        )
        assert tagged >= 3 and len(folded) == tagged, f"{page.name}: {len(folded)} of {tagged}"
        before, solutions = html.split('id="solutions"', 1)
        assert "not answered yet" in _page_text(before), page.name  # the blanks' checks ran
        assert not re.search(r"exercise \w+: correct", _page_text(before)), page.name
        assert re.search(r"exercise \w+: correct", _page_text(solutions)), page.name


def _page_text(page: str) -> str:
    """The text a reader sees: tags removed, entities decoded."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", page))


# --------------------------------------------------------------------------- no network

REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


class _Loads:
    """The URLs an HTML page makes the browser load: script src, stylesheet and preload hrefs."""

    def __init__(self, text: str):
        from html.parser import HTMLParser

        self.urls: list[str] = []
        loads = self.urls

        class Parser(HTMLParser):
            def handle_starttag(self, tag, attrs):
                attrs = dict(attrs)
                rel = (attrs.get("rel") or "").lower().split()
                if tag == "script" and attrs.get("src"):
                    loads.append(attrs["src"])
                elif (
                    tag == "link"
                    and attrs.get("href")
                    and {"stylesheet", "preload", "icon", "modulepreload"} & set(rel)
                ):
                    loads.append(attrs["href"])
                elif tag in ("img", "iframe", "source") and attrs.get("src"):
                    loads.append(attrs["src"])

        Parser().feed(text)


def remote_loads(html: str) -> list[str]:
    """The URLs in ``html`` that a browser would fetch from the network."""
    return [url for url in _Loads(html).urls if REMOTE.match(url)]


def remote_css_urls(css: str) -> list[str]:
    """``@import`` and ``url(...)`` targets of a stylesheet that point to the network."""
    targets = re.findall(r"url\(\s*['\"]?([^'\")]+)", css)  # url(...), in @import too
    targets += re.findall(r"@import\s+['\"]([^'\"]+)", css)  # @import "..."
    return [target for target in targets if REMOTE.match(target)]


def test_the_network_checks_catch_remote_loads():
    page = (
        '<script src="https://cdn.example.org/mathjax.js"></script>'
        '<script src="_static/a.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.org/css"><link rel="next" href="https://x.org">'
        '<img src="http://x.org/a.png"><a href="https://example.org">a link is not a load</a>'
    )
    assert remote_loads(page) == [
        "https://cdn.example.org/mathjax.js",
        "//fonts.example.org/css",
        "http://x.org/a.png",
    ]
    css = (
        '@import url("https://fonts.example.org/css2?family=Lato"); @import "//x.org/a.css";\n'
        ".a { background: url(data:image/svg+xml;charset=utf-8,"
        "%3Csvg xmlns='http://www.w3.org/2000/svg') }\n"
        "@font-face { src: url('https://x.org/f.woff2') format(\"woff2\"), url(fonts/f.woff2) }"
    )
    assert remote_css_urls(css) == [
        "https://fonts.example.org/css2?family=Lato",
        "https://x.org/f.woff2",
        "//x.org/a.css",
    ]


def test_no_built_page_loads_anything_from_the_network(built_docs: Path):
    pages = sorted(built_docs.rglob("*.html"))
    assert len(pages) >= len(PAGES)
    for page in pages:
        remote = remote_loads(page.read_text(encoding="utf-8"))
        assert not remote, f"{page.relative_to(built_docs)} loads {remote}"
    for sheet in sorted(built_docs.rglob("*.css")):
        remote = remote_css_urls(sheet.read_text(encoding="utf-8", errors="replace"))
        assert not remote, f"{sheet.relative_to(built_docs)} loads {remote}"


def test_mathjax_is_bundled(built_docs: Path):
    html = (built_docs / "derivations.html").read_text(encoding="utf-8")
    scripts = [url for url in _Loads(html).urls if "mathjax" in url.lower()]
    assert scripts == ["_static/mathjax/tex-chtml.js"]
    assert (built_docs / scripts[0]).stat().st_size > 100_000
    fonts = built_docs / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert len(list(fonts.glob("*.woff"))) > 10  # the fonts MathJax draws with


def test_a_browser_shows_typeset_maths_not_tex(built_docs: Path, tmp_path: Path):
    """What a reader sees offline: headless chromium (Debian's), MathJax's output, no TeX."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    page = built_docs / "derivations.html"
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    source = page.read_text(encoding="utf-8")
    assert source.count('class="math') >= 50 and "\\(" in source  # the page as built: TeX
    typeset = dom.count("<mjx-container")
    assert typeset >= source.count('class="math'), f"only {typeset} formulas typeset"
    assert "\\(" not in dom and "\\[" not in dom  # no raw TeX left


# --------------------------------------------------------------------------- pages fit a laptop

# Pages with displayed maths, wide tables or code, measured at three laptop window widths.
LAYOUT_PAGES = [
    "derivations",
    "architectures",
    "training",
    "gradient_flow",
    "core",
    "compare",
    "index",
    "api",
    "tutorials/06_going_deep_in_time",
    "tutorials/07_skip_connections_make_depth_trainable",
]
LAYOUT_WIDTHS = (1024, 1280, 1440)
CODE_WIDTH = 100  # numrnn's longest code line, in characters; the column must hold it at 1280 px
PROBE_PAGE = "/_numrnn_layout_probe.html"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def _serving(folder: Path, *, replace: dict | None = None):
    """An HTTP server on 127.0.0.1 for ``folder``, with in-memory files at the paths ``replace``
    names (the probe page; an emptied stylesheet); yields its base URL."""
    import functools
    import http.server
    import threading

    replace = replace or {}

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?")[0]
            if path not in replace:
                return super().do_GET()
            body = replace[path].encode("utf-8")
            self.send_response(200)
            kind = "text/css" if path.endswith(".css") else "text/html; charset=utf-8"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # no request log on stderr
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def measure_layout(
    built: Path, pages: list, widths, profile: Path, *, replace: dict | None = None
) -> list:
    """Measure ``pages`` of the built docs at each window width in headless Chromium.

    Each page is loaded in an iframe of that width (``tests/layout_probe.js``), after MathJax has
    typeset it. Returns one dict per (width, page): ``page``, ``width``, ``column`` (px),
    ``equations`` (``label``, ``width``, ``problem``), ``code`` (``characters`` across the
    ``pre``, ``longest`` line, ``problem``) and ``tables`` (``width``, ``problem``); a problem is
    None or says what a reader cannot see.
    """
    probe = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body><script>"
        f"const PAGES = {json.dumps([f'/{page}.html' for page in pages])};"
        f"const WIDTHS = {json.dumps(list(widths))};</script><script>"
        + (REPO / "tests" / "layout_probe.js").read_text(encoding="utf-8")
        + "</script></body></html>"
    )
    with _serving(built, replace={PROBE_PAGE: probe, **(replace or {})}) as base:
        result = subprocess.run(
            [
                _chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                f"--user-data-dir={profile}",
                f"--window-size={max(widths) + 100},1000",
                "--virtual-time-budget=600000",
                "--dump-dom",
                base + PROBE_PAGE,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    found = re.findall(
        r'<script type="application/json" id="numrnn-layout">(.*?)</script>', result.stdout, re.S
    )
    assert found, f"the layout probe wrote nothing:\n{result.stderr[-2000:]}"
    out = json.loads(found[-1])
    assert "error" not in out, out.get("error")
    return out["results"]


def layout_problems(results: list, *, code_width: int = CODE_WIDTH, at: int = 1280) -> list:
    """One line per thing a reader cannot see in ``measure_layout``'s results: a displayed
    equation or a table that is cut off, or (at window width ``at``) a code column narrower than
    ``code_width`` characters. The code column is the page's widest ``pre``: one nested in a list
    or a docstring's indented block is narrower by its indent."""
    problems = []
    for page in results:
        where = f"{page['page']} at {page['width']} px"
        for equation in page["equations"]:
            if equation["problem"]:
                problems.append(f"{where}: equation {equation['label']!r} {equation['problem']}")
        for table in page["tables"]:
            if table["problem"]:
                problems.append(f"{where}: a {table['width']} px table {table['problem']}")
        column = max((block["characters"] for block in page["code"]), default=None)
        if page["width"] == at and column is not None and column < code_width:
            problems.append(f"{where}: code column {column} characters, below {code_width}")
    return problems


def test_layout_problems_name_what_a_reader_cannot_see():
    """Catches a checker that ignores a cut equation, a clipped table or a narrow code column
    at 1280 px, that counts a narrow column at another width, or that takes a nested block's
    width (the 64) for the column's."""
    fits = {"equations": [{"label": "R.1", "width": 600, "problem": None}], "tables": []}
    results = [
        {"page": "/a.html", "width": 1280, **fits, "code": [{"characters": 109}]},
        {
            "page": "/b.html",
            "width": 1280,
            "equations": [{"label": "R.8", "width": 880, "problem": "cut 256 px on the left"}],
            "tables": [{"width": 700, "problem": "wider than the column"}],
            "code": [{"characters": 70}, {"characters": 64}],
        },
        {"page": "/b.html", "width": 1024, **fits, "code": [{"characters": 83}]},
    ]
    assert layout_problems(results) == [
        "/b.html at 1280 px: equation 'R.8' cut 256 px on the left",
        "/b.html at 1280 px: a 700 px table wider than the column",
        "/b.html at 1280 px: code column 70 characters, below 100",
    ]
    assert layout_problems(results[:1]) == []


def _measured_pages(built_docs: Path, tmp_path: Path, **options) -> list:
    if _chromium() is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return measure_layout(built_docs, **options, profile=tmp_path / "profile")


@pytest.mark.slow
def test_the_pages_fit_a_laptop(built_docs: Path, tmp_path: Path):
    """At 1024, 1280 and 1440 px no displayed equation or table is cut off (each fits, or scrolls
    in its own box) and no equation is a MathJax error (\\tag in a $$ block of several lines
    was one), and at 1280 px the code column holds 100 characters. Fails on the theme's
    own layout (see the next test) and on any page whose content outgrows it."""
    results = _measured_pages(built_docs, tmp_path, pages=LAYOUT_PAGES, widths=LAYOUT_WIDTHS)
    assert len(results) == len(LAYOUT_PAGES) * len(LAYOUT_WIDTHS)
    assert sum(len(page["equations"]) for page in results) >= 3 * 40  # typeset, then measured
    assert not layout_problems(results), "\n".join(layout_problems(results))


@pytest.mark.slow
def test_the_layout_check_fails_without_numrnn_css(built_docs: Path, tmp_path: Path):
    """The same measurement with docs/_theme/numrnn.css emptied (the theme's layout, as before
    issue 19): derivations.html at 1280 px loses the left part of equations ((R.9), (L.1) and
    (L.5) today; before the widest were broken over two lines, also (M.1), (R.7), (R.8), (R.10)
    and (S.1)), and the code column holds 68 characters."""
    results = _measured_pages(
        built_docs,
        tmp_path,
        pages=["derivations", "architectures"],
        widths=[1280],
        replace={"/_static/numrnn.css": ""},
    )
    problems = layout_problems(results)
    cut = [line for line in problems if line.startswith("/derivations.html at 1280 px: equation")]
    assert cut and all("on the left" in line for line in cut), problems
    assert any("architectures.html at 1280 px: code column" in line for line in problems)


def test_api_page_documents_the_public_functions(built_docs: Path):
    api = (built_docs / "api.html").read_text(encoding="utf-8")
    for name in (
        "numrnn.gradcheck.check_gradients",
        "numrnn.model.DeepRNN",
        "numrnn.core.layer_backward",
        "numrnn.plotting.plot_gradient_norms",
        "numrnn.losses.softmax_cross_entropy",
    ):
        assert f'id="{name}"' in api, name


# --------------------------------------------------------------------------- API reference coverage


def public_modules(package) -> list:
    """Every public module of ``package`` with an ``__all__``: no ``_private`` part, not the CLI."""
    import importlib
    import pkgutil

    modules = [package]
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        parts = info.name.split(".")[1:]
        if any(part.startswith("_") for part in parts) or parts[0] == "cli":
            continue
        modules.append(importlib.import_module(info.name))
    return [module for module in modules if hasattr(module, "__all__")]


def undocumented_names(modules, documented: set) -> list:
    """``module.name`` for every name in a module's ``__all__`` the reference does not document.

    An object counts as documented when any of its public names has an entry: where it is
    defined (``numrnn.model.DeepRNN``), or any module whose ``__all__`` lists it
    (``numrnn.training.tasks.one_hot`` for ``numrnn.training.tasks.base.one_hot``,
    ``numrnn.compare.DEFAULT`` for ``numrnn.compare.protocol.DEFAULT``); a module by its own
    entry. A number, string or tuple (which Python may share between unrelated names) counts
    only under the module that lists it.
    """
    import types

    def named(obj) -> bool:
        return not isinstance(obj, (str, bytes, int, float, complex, tuple, frozenset, type(None)))

    places: dict = {}  # id of a named object -> its public names
    for module in modules:
        for name in module.__all__:
            obj = getattr(module, name)
            if named(obj):
                places.setdefault(id(obj), set()).add(f"{module.__name__}.{name}")
    missing = []
    for module in modules:
        for name in module.__all__:
            obj = getattr(module, name)
            names = {f"{module.__name__}.{name}"}
            if named(obj):
                names |= places[id(obj)]
            if isinstance(obj, types.ModuleType):
                names.add(obj.__name__)
            elif isinstance(obj, (type, types.FunctionType)):
                names.add(f"{obj.__module__}.{obj.__qualname__}")
            if not names & documented:
                missing.append(f"{module.__name__}.{name}")
    return missing


def _documented_objects(built: Path) -> set:
    """Every Python object the built reference documents (from its ``objects.inv``)."""
    import posixpath

    from sphinx.util.inventory import InventoryFile

    with open(built / "objects.inv", "rb") as handle:
        inventory = InventoryFile.load(handle, "", posixpath.join)
    return {
        name for kind, entries in inventory.items() if kind.startswith("py:") for name in entries
    }


def test_the_coverage_check_names_an_undocumented_public_name():
    import types

    def function(module_name, name):
        def f():
            """A docstring."""

        f.__module__, f.__qualname__, f.__name__ = module_name, name, name
        return f

    module, package = types.ModuleType("numrnn.fake.impl"), types.ModuleType("numrnn.fake")
    module.documented, module.planted = (
        function(module.__name__, "documented"),
        function(module.__name__, "planted"),
    )
    module.reexported = function(
        module.__name__, "reexported"
    )  # documented where the package lists it
    module.CONSTANT, module.UNDESCRIBED, module.TABLE = 3, 4, {"a": 1}
    module.__all__ = ["documented", "planted", "reexported", "CONSTANT", "UNDESCRIBED", "TABLE"]
    package.impl, package.reexported, package.TABLE, package.UNDESCRIBED = (
        module,
        module.reexported,
        module.TABLE,
        4,
    )
    package.__all__ = ["impl", "reexported", "TABLE", "UNDESCRIBED"]
    documented = {
        "numrnn.fake.impl.documented",
        "numrnn.fake.reexported",
        "numrnn.fake.impl.CONSTANT",
        "numrnn.fake.impl.TABLE",
    }  # TABLE: one object, documented once
    assert undocumented_names([package, module], documented) == [
        "numrnn.fake.impl",
        "numrnn.fake.UNDESCRIBED",
        "numrnn.fake.impl.planted",
        "numrnn.fake.impl.UNDESCRIBED",
    ]
    documented |= {
        "numrnn.fake.impl",
        "numrnn.fake.impl.planted",
        "numrnn.fake.impl.UNDESCRIBED",
        "numrnn.fake.UNDESCRIBED",
    }
    assert undocumented_names([package, module], documented) == []


def test_public_modules_are_found_by_walking_the_package():
    import numrnn

    names = [module.__name__ for module in public_modules(numrnn)]
    assert names[0] == "numrnn" and "numrnn.training.optim" in names and "numrnn.core" in names
    assert not [name for name in names if name.startswith("numrnn.cli") or "._" in name]


def test_the_api_reference_documents_every_public_name(built_docs: Path):
    """Every name in the ``__all__`` of every public module has an entry (and so a docstring)."""
    import numrnn

    missing = undocumented_names(public_modules(numrnn), _documented_objects(built_docs))
    assert not missing, (
        "public names the API reference does not document (give each a docstring, "
        "and its module an automodule section in docs/api.md, or describe a "
        f"constant with .. py:data::): {missing}"
    )


def test_derivations_page_shows_the_labels(built_docs: Path):
    html = (built_docs / "derivations.html").read_text(encoding="utf-8")
    for label in sorted(_cited_labels()):
        assert f"<strong>({label})" in html and f"\\tag{{{label}}}" in html, label


# --------------------------------------------------------------------------- chorales at full size


def _music_results(values: dict) -> dict:
    """A results.json of one chorales task with these per-seed held-out values per architecture."""
    return {
        "tasks": {"chorales-32": {"baseline": 10.6}},
        "rules": {"alpha": 0.05},
        "protocol": {"reporting_seeds_used": list(range(2, 2 + len(values["vanilla"])))},
        "table": [
            {
                "arch": arch,
                "hidden": 10,
                "parameters": {"total": 100},
                "metrics": {
                    "chorales-32": {
                        "values": seeds,
                        "median": float(np.median(seeds)),
                        "mean": float(np.mean(seeds)),
                        "sd": float(np.std(seeds, ddof=1)),
                        "lr": 0.01,
                        "residual_scale": None,
                    }
                },
            }
            for arch, seeds in values.items()
        ],
    }


def test_the_music_ordering_tests_each_architecture_against_the_vanilla_rnn():
    """Separated seeds are 'supported' (better) or 'contradicted' (worse), the same seeds
    shuffled 'inconclusive', after Holm over both directions of every comparison. Fails if the
    directions are swapped, if Holm is skipped (the raw p of 19/924 would pass where the
    adjusted one, 6 × 19/924, must not), or if the table is not ordered by median."""
    pytest.importorskip("scipy")
    generate = _load_docs_script("generate_music")
    vanilla = [9.0, 9.1, 9.2, 9.3, 9.4, 9.5]
    results = _music_results(
        {
            "vanilla": vanilla,
            "hierarchical": [8.0, 8.1, 8.2, 8.3, 8.4, 8.5],  # every seed better
            "deep-transition": [9.6, 9.7, 9.8, 9.9, 10.0, 10.1],  # every seed worse
            "deep-transition-shortcut": [9.05, 9.15, 9.25, 9.35, 9.45, 9.55],  # interleaved
            "deep-transition-skip": [8.7, 8.8, 8.9, 8.95, 9.15, 9.25],  # p = 19/924 raw
        }
    )
    verdicts = {row["arch"]: row for row in generate.vs_vanilla(results, "chorales-32")}
    assert verdicts["hierarchical"]["verdict"] == "supported"
    assert verdicts["deep-transition"]["verdict"] == "contradicted"
    assert verdicts["deep-transition-shortcut"]["verdict"] == "inconclusive"
    skip = verdicts["deep-transition-skip"]
    assert skip["p_better"] < 0.05 and skip["verdict"] == "inconclusive"
    assert skip["holm_better"] == pytest.approx(6 * skip["p_better"], rel=1e-9)
    table = generate.ordering_markdown(results)
    ranks = [line.split(" | ")[1] for line in table.splitlines() if line.startswith("| 1 ")]
    assert ranks == ["hierarchical (stacked, L=2)"]
    assert table.index("| 5 | deep transition (q=2)") > table.index("| 4 | DT(S)")
    del results["table"][0]
    with pytest.raises(ValueError, match="results must include the vanilla RNN; got"):
        generate.vs_vanilla(results, "chorales-32")


def test_the_music_ordering_is_generated_from_the_committed_results():
    """docs/_static/music/*.md are what docs/generate_music.py makes of the committed
    results.json (a hand edit, or a rerun whose includes were not regenerated, fails here), and
    docs/music.md shows them."""
    pytest.importorskip("scipy")
    generate = _load_docs_script("generate_music")
    folder = DOCS / "_static" / "music"
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    page = (DOCS / "music.md").read_text(encoding="utf-8")
    for name, make in generate.INCLUDES.items():
        assert (folder / name).read_text(encoding="utf-8") == make(results), (
            f"{name} was edited by hand"
        )
        assert f"_static/music/{name}" in page, f"docs/music.md does not show {name}"
    assert results["protocol"]["early_stopping"] and results["protocol"]["seeds"] >= 5
