"""A student's submission as a list of code cells: a percent ``.py`` or an ``.ipynb``.

Reading a submission executes nothing: a ``.py`` is split at its ``# %%``
markers (a plain script is one cell), a notebook's code cells are taken from its
JSON (nbgrader's submitted and autograded notebooks work unchanged). IPython
magics and shell escapes (``%...``, ``!...``) become comments, Markdown cells are
dropped, and so is the public-tests cell of the student version.
"""

from __future__ import annotations

import json
from pathlib import Path

from .source import PUBLIC_TESTS_MARKER, parse_percent

MAX_SUBMISSION_BYTES = 5_000_000
SUFFIXES = (".py", ".ipynb")


class SubmissionError(ValueError):
    """A submission that cannot be read (it scores zero, with this message)."""


def _clean(code: str) -> str:
    """Magics and shell escapes commented out, so the cell is plain Python."""
    lines = []
    for line in code.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            indent = line[: len(line) - len(stripped)]
            line = f"{indent}pass  # IPython line removed by the grader: {stripped[:60]}"
        lines.append(line)
    return "\n".join(lines)


def _keep(code: str) -> bool:
    return bool(code.strip()) and not code.lstrip().startswith(PUBLIC_TESTS_MARKER)


def read_submission(path) -> list:
    """The code cells of a submission, in order.

    Parameters
    ----------
    path : str or Path
        A ``.py`` (percent cells or a plain script) or an ``.ipynb``.

    Returns
    -------
    list of str
        One string per code cell.

    Raises
    ------
    SubmissionError
        If the file is missing, too large, of another kind, or not a readable notebook.
    """
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise SubmissionError(f"a submission must be a .py or an .ipynb file; got {path.name!r}")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SubmissionError(f"cannot read {path.name}: {error.strerror}") from None
    if len(data) > MAX_SUBMISSION_BYTES:
        raise SubmissionError(
            f"{path.name} is {len(data)} bytes; the limit is {MAX_SUBMISSION_BYTES}"
        )
    text = data.decode("utf-8", errors="replace")
    if path.suffix == ".py":
        _, cells = parse_percent(text)
        codes = [cell.text for cell in cells if cell.kind == "code"]
    else:
        codes = notebook_code_cells(text, path.name)
    return [_clean(code) for code in codes if _keep(code)]


def notebook_code_cells(text: str, name: str = "notebook") -> list:
    """The code cells' sources of an nbformat 4 notebook's JSON text.

    Raises
    ------
    SubmissionError
        If ``text`` is not JSON or not a notebook.
    """
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as error:
        raise SubmissionError(
            f"{name} is not a valid notebook: not JSON ({error.msg} at line {error.lineno})"
        ) from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise SubmissionError(f"{name} is not a valid notebook: no list of cells")
    codes = []
    for index, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise SubmissionError(
                f"{name} is not a valid notebook: cell {index} has a source of type "
                f"{type(source).__name__}"
            )
        codes.append(source)
    return codes


def find_submissions(paths) -> list:
    """``(name, path)`` of every submission under ``paths``.

    A file is one submission (named by its stem). A directory holds one
    submission per ``.py``/``.ipynb`` directly inside it, and one per
    subdirectory (named by the subdirectory, e.g. nbgrader's
    ``submitted/<student>/<assignment>/``), which must hold one notebook or
    script (an ``.ipynb`` is preferred; checkpoints are skipped).

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    ValueError
        If nothing is found.
    """
    found = []
    for path in map(Path, paths):
        if path.is_file():
            found.append((path.stem, path))
        elif path.is_dir():
            for entry in sorted(path.iterdir()):
                if entry.is_file() and entry.suffix in SUFFIXES and not entry.name.startswith("."):
                    found.append((entry.stem, entry))
                elif entry.is_dir() and not entry.name.startswith("."):
                    inner = sorted(
                        p
                        for p in entry.rglob("*")
                        if p.is_file()
                        and p.suffix in SUFFIXES
                        and ".ipynb_checkpoints" not in p.parts
                        and not p.name.startswith(".")
                    )
                    if inner:
                        notebooks = [p for p in inner if p.suffix == ".ipynb"]
                        found.append((entry.name, (notebooks or inner)[0]))
        else:
            raise FileNotFoundError(f"submission {str(path)!r} does not exist")
    if not found:
        raise ValueError(f"no .py or .ipynb submissions found in {', '.join(map(str, paths))}")
    names, unique = {}, []
    for name, path in found:
        count = names.get(name, 0)
        names[name] = count + 1
        unique.append((name if count == 0 else f"{name}-{count + 1}", path))
    return unique
