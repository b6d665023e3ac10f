"""Tutorials as executed notebooks: each runs once, and the docs show its outputs and figures.

Every ``tutorials/*.py`` is a jupytext "percent" script. :func:`execute_tutorial` converts one
to a notebook (jupytext) and runs its cells in order in one fresh Python kernel (nbclient), the
way ``python tutorials/X.py`` runs them, from an empty working folder, with
``NUMRNN_TUTORIAL_OUTPUT`` naming the folder for its figures and RuntimeWarnings (overflow,
invalid values) turned into errors. A figure that a cell saves into that folder, and does not
show inline, becomes the cell's image output, so the notebook holds every figure the tutorial
draws. The executed notebook records a hash of everything its outputs depend on (the tutorial
and the numrnn sources, :func:`source_hash`), so a stale one is never shown.

Two users:

* the test suite (``tests/conftest.py``, fixture ``executed_tutorials``) executes each tutorial
  once per run, checks what it printed (``tests/test_tutorials.py``) and hands the folder of
  executed notebooks to the docs build it runs (``-D numrnn_executed_tutorials=FOLDER``), so CI
  executes nothing twice;
* the docs build (this module as a Sphinx extension) writes one page ``tutorials/<name>.ipynb``
  per tutorial into the docs source folder, which myst-nb renders without executing. The
  notebook comes from ``numrnn_executed_tutorials`` when it is set; otherwise the page already
  there is kept when its hash still matches, and the tutorial is executed when it does not.

Pages and tutorials link to a tutorial as ``tutorials/<name>.md`` (``<name>.md`` between
tutorials), as if it were a Markdown page; the extension points those links at the notebook.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import posixpath
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[2]
TUTORIALS = REPO / "tutorials"
PAGE_MARK = "numrnn_tutorial"  # notebook metadata key: the page is generated, with its hash
FORMAT_VERSION = "1"  # bump when the way pages are made changes
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
IMAGE_SUFFIXES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


class TutorialRun(NamedTuple):
    """One executed tutorial: its notebook, what it printed and where it wrote."""

    script: Path  # tutorials/<name>.py
    notebook: object  # the executed nbformat.NotebookNode
    stdout: str  # every stdout stream of every cell, in order: what the script prints
    figures: Path  # the folder NUMRNN_TUTORIAL_OUTPUT named
    workdir: Path  # its working folder, empty before the run
    error: str | None  # None, or why execution stopped (the failing cell's traceback)
    seconds: float  # wall time of the execution, kernel start included


def source_hash(script: Path) -> str:
    """A hash of the tutorial's text and of every numrnn source: what its outputs depend on."""
    digest = hashlib.sha256(FORMAT_VERSION.encode())
    package = REPO / "numrnn"
    for path in [script, *sorted(package.rglob("*.py")), *sorted(package.rglob("*.txt"))]:
        digest.update(
            str(path.relative_to(REPO) if path.is_relative_to(REPO) else path.name).encode()
        )
        digest.update(path.read_bytes())
    return digest.hexdigest()


def notebook_of(script: Path):
    """The notebook of a percent-format script (jupytext), with a Python 3 kernelspec."""
    import jupytext

    notebook = jupytext.reads(script.read_text(encoding="utf-8"), fmt="py:percent")
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata.pop("jupytext", None)
    return notebook


def stdout_of(notebook) -> str:
    """Everything the notebook's code cells printed to stdout, in order."""
    return "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == "stdout"
    )


def _snapshot(folder: Path) -> dict:
    """The image files in ``folder`` with their size and modification time."""
    if not folder.is_dir():
        return {}
    return {
        path: (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    }


def _shows_an_image(cell) -> bool:
    return any(
        key.startswith("image/")
        for output in cell.get("outputs", [])
        for key in output.get("data", {})
    )


def _attach_saved_figures(notebook, saved: dict) -> None:
    """Give each cell that saved figures, and shows none inline, those figures as image outputs."""
    import nbformat

    for index, paths in saved.items():
        cell = notebook.cells[index]
        if _shows_an_image(cell):
            continue
        for path in paths:
            if not path.is_file():  # written, then removed by a later cell
                continue
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            cell.outputs.append(
                nbformat.v4.new_output(
                    "display_data",
                    data={
                        IMAGE_SUFFIXES[path.suffix.lower()]: data,
                        "text/plain": f"<{path.name}>",
                    },
                    metadata={"numrnn": {"saved_as": path.name}},
                )
            )


def _write_notebook(notebook, path: Path) -> None:
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            nbformat.write(notebook, handle)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def kernel_environment(figures: Path, config: Path) -> dict:
    """The kernel's environment: figures go to ``figures``, caches to ``config``, warnings fail."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")
    }  # inline figures, no window
    python_path = [str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env.update(
        NUMRNN_TUTORIAL_OUTPUT=str(figures),
        PYTHONPATH=os.pathsep.join(python_path),  # the numrnn of this tree
        PYTHONWARNINGS="error::RuntimeWarning",  # as `python -W error::RuntimeWarning`
        MPLCONFIGDIR=str(config / "matplotlib"),
        IPYTHONDIR=str(config / "ipython"),
        PYTHONIOENCODING="utf-8",
    )
    return env


def execute_tutorial(script: Path, folder: Path, *, timeout: int = 300) -> TutorialRun:
    """Run ``script`` as a notebook in a fresh kernel; write ``folder/<name>.ipynb``.

    The kernel's working folder is ``folder/<name>/work`` (empty), its figures go to
    ``folder/<name>/figures``. Execution stops at the first cell that raises; the run records the
    error instead of raising, and the notebook written holds the outputs up to that cell.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    script = Path(script).resolve()
    base = Path(folder) / script.stem
    workdir, figures, config = base / "work", base / "figures", base / "config"
    for path in (workdir, figures, config):
        path.mkdir(parents=True, exist_ok=True)

    notebook = notebook_of(script)
    saved: dict = {}
    before = {"files": _snapshot(figures)}

    def record_saved_figures(cell, cell_index, **_):
        after = _snapshot(figures)
        new = [path for path, stamp in after.items() if before["files"].get(path) != stamp]
        if new:
            saved[cell_index] = new
        before["files"] = after

    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=KERNELSPEC["name"],
        resources={"metadata": {"path": str(workdir)}},
        on_cell_executed=record_saved_figures,
    )
    start = time.perf_counter()
    error = None
    try:
        client.execute(cwd=str(workdir), env=kernel_environment(figures, config))
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    _attach_saved_figures(notebook, saved)
    notebook.metadata[PAGE_MARK] = {
        "source": f"tutorials/{script.name}",
        "hash": source_hash(script),
        "error": error,
        "seconds": round(seconds, 2),
    }
    _write_notebook(notebook, Path(folder) / f"{script.stem}.ipynb")
    return TutorialRun(script, notebook, stdout_of(notebook), figures, workdir, error, seconds)


class TutorialRuns:
    """The tutorials of one test session, each executed once, when first asked for."""

    def __init__(self, folder: Path, scripts: list[Path] | None = None):
        self.folder = Path(folder)
        self.scripts = sorted(TUTORIALS.glob("*.py")) if scripts is None else list(scripts)
        self._runs: dict[str, TutorialRun] = {}

    def __getitem__(self, name: str) -> TutorialRun:
        """The run of ``tutorials/<name>`` (``name`` ends in .py), executing it the first time."""
        if name not in self._runs:
            script = next((path for path in self.scripts if path.name == name), None)
            if script is None:
                raise KeyError(f"no tutorial named {name!r} in {TUTORIALS}")
            self._runs[name] = execute_tutorial(script, self.folder)
        return self._runs[name]

    def executed_folder(self) -> Path:
        """The folder holding ``<name>.ipynb`` of every tutorial, executing those not yet run."""
        for script in self.scripts:
            self[script.name]
        return self.folder


# --------------------------------------------------------------------------- the docs pages


def _note(source: str) -> str:
    return (
        f"```{{note}}\nThis page is `{source}`, run as a notebook when these docs were built: the "
        f"output and figures below are what it printed and drew. Run it yourself with "
        f"`python {source}` from the top of the repository, or open it in Jupyter with "
        f"`jupytext --to notebook {source}`.\n```"
    )


def page_of(notebook, source: str):
    """The docs page of an executed notebook: a note on how to run it under the title."""
    import copy

    import nbformat

    page = copy.deepcopy(notebook)
    first = page.cells[0] if page.cells else None
    if first is not None and first.cell_type == "markdown" and first.source.startswith("# "):
        title, _, rest = first.source.partition("\n")
        first.source = (
            title + "\n\n" + _note(source) + ("\n\n" + rest.strip() if rest.strip() else "")
        )
    else:
        page.cells.insert(
            0, nbformat.v4.new_markdown_cell(f"# {Path(source).stem}\n\n{_note(source)}")
        )
    return page


def _read_notebook(path: Path):
    import nbformat

    with open(path, encoding="utf-8") as handle:
        return nbformat.read(handle, as_version=4)


def _mark(notebook) -> dict:
    return dict(notebook.metadata.get(PAGE_MARK) or {})


def _is_generated(page: Path) -> bool:
    """A page this extension (or the old Markdown renderer) wrote, and may remove."""
    try:
        if page.suffix == ".md":
            return page.read_text(encoding="utf-8").startswith("% generated from")
        return bool(json.loads(page.read_text(encoding="utf-8")).get("metadata", {}).get(PAGE_MARK))
    except (OSError, ValueError):
        return False


def write_pages(scripts: list[Path], pages: Path, executed: Path | None, log=print) -> list[Path]:
    """Write ``pages/<name>.ipynb`` for every script; remove generated pages of deleted tutorials.

    A page is taken from ``executed/<name>.ipynb`` when ``executed`` is given (it must exist, be
    current and have run without error), else kept when the page there is current, else made by
    executing the tutorial. Raises ``RuntimeError`` naming the tutorial when one failed.
    """
    pages.mkdir(parents=True, exist_ok=True)
    written = []
    for script in scripts:
        source, page_path, expected = (
            f"tutorials/{script.name}",
            pages / f"{script.stem}.ipynb",
            source_hash(script),
        )
        if executed is not None:
            path = Path(executed) / f"{script.stem}.ipynb"
            if not path.is_file():
                raise RuntimeError(f"numrnn_executed_tutorials: {path} does not exist")
            notebook = _read_notebook(path)
            if _mark(notebook).get("hash") != expected:
                raise RuntimeError(
                    f"numrnn_executed_tutorials: {path} was executed from another version "
                    f"of {source} or of numrnn"
                )
        elif page_path.is_file() and _mark(_read_notebook(page_path)).get("hash") == expected:
            written.append(page_path)
            continue
        else:
            with tempfile.TemporaryDirectory(prefix="numrnn-tutorial-") as folder:
                run = execute_tutorial(script, Path(folder))
            log(f"numrnn: executed {source} in {run.seconds:.1f} s")
            notebook = run.notebook
        error = _mark(notebook).get("error")
        if error:
            raise RuntimeError(f"{source} failed when run as a notebook:\n{error}")
        _write_notebook(page_of(notebook, source), page_path)
        written.append(page_path)
    for page in [*pages.glob("*.ipynb"), *pages.glob("*.md")]:
        if page not in written and _is_generated(page):
            page.unlink()
    return written


def link_markdown_names(doctree, docname: str, tutorial_docs: set) -> int:
    """Point MyST links to ``<tutorial>.md`` at the tutorial page; return how many changed."""
    from sphinx import addnodes

    changed = 0
    for node in doctree.findall(addnodes.pending_xref):
        if node.get("reftype") != "myst" or node.get("refdomain"):
            continue
        target, _, anchor = node["reftarget"].partition("#")
        if not target.endswith(".md"):
            continue
        candidate = posixpath.normpath(
            posixpath.join(posixpath.dirname(docname), target[: -len(".md")])
        )
        if candidate in tutorial_docs:
            node["refdomain"], node["reftarget"], node["reftargetid"] = (
                "doc",
                candidate,
                anchor or None,
            )
            changed += 1
    return changed


def _on_builder_inited(app) -> None:
    from sphinx.errors import ExtensionError
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    scripts = sorted(
        (Path(app.confdir) / app.config.numrnn_tutorials_source).resolve().glob("*.py")
    )
    executed = app.config.numrnn_executed_tutorials or None
    output = app.config.numrnn_tutorials_output
    try:
        write_pages(
            scripts,
            Path(app.srcdir) / output,
            Path(executed) if executed else None,
            log=logger.info,
        )
    except RuntimeError as exc:
        raise ExtensionError(str(exc)) from None
    app.numrnn_tutorial_docs = {f"{output}/{script.stem}" for script in scripts}


def _on_doctree_read(app, doctree) -> None:
    link_markdown_names(doctree, app.env.docname, getattr(app, "numrnn_tutorial_docs", set()))


def setup(app):
    app.add_config_value("numrnn_tutorials_source", "../tutorials", "env")
    app.add_config_value("numrnn_tutorials_output", "tutorials", "env")
    app.add_config_value("numrnn_executed_tutorials", "", "env", types=[str])
    app.connect("builder-inited", _on_builder_inited)
    app.connect("doctree-read", _on_doctree_read)
    return {"version": FORMAT_VERSION, "parallel_read_safe": True, "parallel_write_safe": True}
