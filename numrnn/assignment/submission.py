"""A student's submission as a list of code cells: a percent ``.py`` or an ``.ipynb``.

Reading a submission executes nothing: a ``.py`` is split at its ``# %%``
markers (a plain script is one cell), a notebook's code cells are taken from its
JSON (nbgrader's submitted and autograded notebooks work unchanged). IPython
magics and shell escapes (``%...``, ``!...``) become comments, Markdown cells are
dropped, and so is the public-tests cell of the student version.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .source import PUBLIC_TESTS_MARKER, parse_percent
from .text import printable, unicode_name

MAX_SUBMISSION_BYTES = 5_000_000
SUFFIXES = (".py", ".ipynb")
MAX_NAME = 100  # characters of a submission's name: <name>-<n>.json must stay a valid file name


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
        If the file is missing, a symbolic link or not a regular file, too large,
        of another kind, empty, or not a readable notebook.
    """
    path = Path(path)
    shown = printable(path.name)
    if path.is_symlink():
        raise SubmissionError(f"{shown} is a symbolic link; submit the file itself")
    if path.suffix not in SUFFIXES:
        raise SubmissionError(f"a submission must be a .py or an .ipynb file; got {shown!r}")
    data = _read_regular(path, shown)
    text = data.decode("utf-8-sig", errors="replace")  # a BOM is allowed, as Python allows it
    if not text.strip():
        raise SubmissionError(f"{shown} is empty")
    if path.suffix == ".py":
        _, cells = parse_percent(text)
        codes = [cell.text for cell in cells if cell.kind == "code"]
    else:
        codes = notebook_code_cells(text, shown)
    codes = [_clean(code) for code in codes if _keep(code)]
    if not codes:
        raise SubmissionError(f"{shown} has no code")
    return codes


def _read_regular(path: Path, shown: str) -> bytes:
    """The bytes of ``path``, opened without following a symbolic link (never its target)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        if os.path.islink(path):
            raise SubmissionError(f"{shown} is a symbolic link; submit the file itself") from None
        raise SubmissionError(f"cannot read {shown}: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionError(f"{shown} is not a regular file")
        if info.st_size > MAX_SUBMISSION_BYTES:
            raise SubmissionError(
                f"{shown} is {info.st_size} bytes; the limit is {MAX_SUBMISSION_BYTES}"
            )
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(MAX_SUBMISSION_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_SUBMISSION_BYTES:
        raise SubmissionError(f"{shown} is over the limit of {MAX_SUBMISSION_BYTES} bytes")
    return data


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
    except RecursionError:
        raise SubmissionError(
            f"{name} is not a valid notebook: its JSON nests too deeply"
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


@dataclass
class Found:
    """What :func:`scan_submissions` found.

    Attributes
    ----------
    submissions : list of (str, Path)
        Each submission's unique name (see :func:`unique_names`) and file.
    skipped : list of str
        ``"bob.py.txt (not .py or .ipynb)"``: files that look like submissions but are
        not graded, with the reason (shown to the teacher as "not graded: ...").
    """

    submissions: list = field(default_factory=list)
    skipped: list = field(default_factory=list)


def _looks_like_a_submission(name: str) -> bool:
    lowered = name.lower()
    return any(suffix in lowered for suffix in SUFFIXES)


def _is_candidate(path: Path) -> bool:
    """A ``.py``/``.ipynb`` entry that is not hidden: a file, or a link (an error row)."""
    return (
        path.suffix in SUFFIXES
        and not path.name.startswith(".")
        and (path.is_symlink() or path.is_file())
    )


def _skip_reason(path: Path) -> str | None:
    """Why a file that looks like a submission is not one (None if it does not look like one)."""
    if not _looks_like_a_submission(path.name) or path.is_dir():
        return None
    if path.name.startswith("."):
        return "a hidden file"
    if path.suffix not in SUFFIXES:
        return "not .py or .ipynb"
    return None


def _folder_files(folder: Path) -> list:
    """Every file under ``folder``, links included, never walking into a linked folder."""
    files = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints")
        files += [Path(root) / name for name in sorted(names)]
        files += [Path(root) / d for d in dirs if (Path(root) / d).is_symlink()]
    return files


def scan_submissions(paths) -> Found:
    """Every submission under ``paths``, and the files that look like one but are not taken.

    A file is one submission (named by its stem; a symbolic link, to a file or to a
    folder, is one too, and grading it gives an error row without reading the target).
    A directory holds one submission per
    ``.py``/``.ipynb`` directly inside it, and one per subdirectory (named by the
    subdirectory, e.g. nbgrader's ``submitted/<student>/<assignment>/``), which
    must hold one notebook or script (an ``.ipynb`` is preferred; checkpoints are
    skipped; the others are listed as skipped).

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    ValueError
        If nothing is found.
    """
    found, skipped = [], []

    def skip(path, reason, base):
        shown = path.relative_to(base) if base is not None else path.name
        skipped.append(f"{printable(str(shown))} ({reason})")

    for path in map(Path, paths):
        if path.is_symlink() or path.is_file():
            found.append((path.stem, path))
        elif path.is_dir():
            for entry in sorted(path.iterdir()):
                if _is_candidate(entry):
                    found.append((entry.stem, entry))
                elif entry.is_symlink() and entry.is_dir():
                    found.append((entry.name, entry))  # a linked folder: an error row, unread
                elif entry.is_dir() and not entry.is_symlink() and not entry.name.startswith("."):
                    files = _folder_files(entry)
                    inner = [p for p in files if _is_candidate(p)]
                    notebooks = [p for p in inner if p.suffix == ".ipynb"]
                    chosen = (notebooks or inner or [None])[0]
                    if chosen is not None:
                        found.append((entry.name, chosen))
                    for other in files:
                        if other in inner and other != chosen:
                            skip(other, f"one file per folder: graded {chosen.name}", path)
                        elif other not in inner and _skip_reason(other):
                            skip(other, _skip_reason(other), path)
                elif _skip_reason(entry):
                    skip(entry, _skip_reason(entry), path)
        else:
            raise FileNotFoundError(f"submission {printable(str(path))!r} does not exist")
    if not found:
        raise ValueError(
            f"no .py or .ipynb submissions found in {', '.join(printable(str(p)) for p in paths)}"
        )
    return Found(unique_names(found), skipped)


def find_submissions(paths) -> list:
    """``(name, path)`` of every submission under ``paths`` (:func:`scan_submissions`)."""
    return scan_submissions(paths).submissions


def unique_names(found: list) -> list:
    """``(name, path)`` pairs with names that are valid Unicode, one line of visible text,
    safe as a file name, and unique even ignoring case (``dave``, ``dave-2``, ``dave-3``...):
    a name taken by a file is never given to a duplicate of another.

    Parameters
    ----------
    found : list of (str, Path)

    Returns
    -------
    list of (str, Path)
        In the order given.
    """
    cleaned = [
        (
            printable(unicode_name(name)).replace("/", "_").lstrip(".")[:MAX_NAME] or "submission",
            path,
        )
        for name, path in found
    ]
    taken = {name.casefold() for name, _ in cleaned}
    seen, unique = set(), []
    for name, path in cleaned:
        chosen, count = name, 1
        while chosen.casefold() in seen or (count > 1 and chosen.casefold() in taken):
            count += 1  # a name another file has is kept for that file
            chosen = f"{name}-{count}"
        seen.add(chosen.casefold())
        unique.append((chosen, path))
    return unique
