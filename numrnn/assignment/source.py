"""A teacher's source file: jupytext percent cells, solution regions, the declaration.

The source is a jupytext "percent" ``.py`` file (so it opens as a notebook):
``# %%`` starts a code cell, ``# %% [markdown]`` a Markdown cell whose lines
are ``# ``-comments, and an optional ``# ---`` ... ``# ---`` header at the top
holds jupytext's metadata. Solution regions are marked the nbgrader way::

    def rnn_step_forward(x, h_prev, W_xh, W_hh, b_h):
        \"\"\"...\"\"\"
        ### BEGIN SOLUTION
        h = np.tanh(x @ W_xh + h_prev @ W_hh + b_h)
        ### END SOLUTION
        return h, cache

A cell tagged ``instructor`` (``# %% tags=["instructor"]``) is left out of the
student version, and so is an nbgrader ``### BEGIN HIDDEN TESTS`` region.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .declaration import Grading, find_grading_literal, parse_grading

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
PUBLIC_TESTS_MARKER = "# numrnn-public-tests"  # first line of the cell the grader skips
_CELL = re.compile(r"^# %%(?P<rest>.*)$")
_TAGS = re.compile(r"tags\s*=\s*(\[[^\]]*\])")
MAX_SOURCE_BYTES = 2_000_000


@dataclass(frozen=True)
class Cell:
    """One cell of a percent file: its kind, its ``# %%`` line (or None) and its lines."""

    kind: str  # "code" or "markdown"
    marker: str | None  # the "# %% ..." line as written; None for text before the first marker
    lines: tuple  # without trailing newlines
    tags: tuple = ()

    @property
    def text(self) -> str:
        """The cell's lines joined, surrounding blank lines dropped."""
        return "\n".join(self.lines).strip("\n")


def parse_percent(text: str) -> tuple[list, list]:
    """Split a percent-format file into its header lines and its cells.

    Parameters
    ----------
    text : str
        The file's text.

    Returns
    -------
    header : list of str
        The ``# ---`` ... ``# ---`` block at the top, markers included (may be empty).
    cells : list of Cell
        Cells in order; text before the first marker becomes a code cell if it is not blank.
    """
    lines = text.splitlines()
    header = []
    if lines and lines[0].strip() == "# ---":
        for end in range(1, len(lines)):
            if lines[end].strip() == "# ---":
                header, lines = lines[: end + 1], lines[end + 1 :]
                break
    cells, kind, marker, tags, body = [], "code", None, (), []

    def flush():
        if marker is not None or any(line.strip() for line in body):
            cells.append(Cell(kind, marker, tuple(_trim(body)), tags))

    for line in lines:
        match = _CELL.match(line)
        if match:
            flush()
            rest = match.group("rest")
            kind = "markdown" if re.match(r"\s*\[(markdown|md)\]", rest) else "code"
            tag_match = _TAGS.search(rest)
            try:
                tags = tuple(json.loads(tag_match.group(1))) if tag_match else ()
            except json.JSONDecodeError:
                tags = ()
            marker, body = line, []
        else:
            body.append(line)
    flush()
    return header, cells


def _trim(lines):
    """Drop leading and trailing blank lines."""
    lines = list(lines)
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _unprefix(line: str) -> str:
    """A Markdown line of a percent file without its ``# `` comment prefix."""
    if line.startswith("# "):
        return line[2:]
    return "" if line.strip() == "#" else line


def markdown_text(cell: Cell) -> str:
    """A Markdown cell's text without the ``# `` comment prefixes."""
    return "\n".join(_unprefix(line) for line in cell.lines)


def solution_regions(cell: Cell, filename: str = "<source>") -> list:
    """``(begin, end)`` line indices of each solution region of ``cell``, markers included.

    Raises
    ------
    ValueError
        If a region is not closed, or an END comes without a BEGIN.
    """
    return _regions(cell, BEGIN_SOLUTION, END_SOLUTION, filename)


def _regions(cell, begin_marker, end_marker, filename):
    regions, start = [], None
    for index, line in enumerate(cell.lines):
        stripped = _unprefix(line).strip() if cell.kind == "markdown" else line.strip()
        if stripped == begin_marker:
            if start is not None:
                raise ValueError(
                    f"{filename}: {begin_marker} inside another region (cell {cell.marker!r})"
                )
            start = index
        elif stripped == end_marker:
            if start is None:
                raise ValueError(
                    f"{filename}: {end_marker} without a {begin_marker} (cell {cell.marker!r})"
                )
            regions.append((start, index))
            start = None
    if start is not None:
        raise ValueError(
            f"{filename}: {begin_marker} is never closed by {end_marker} (cell {cell.marker!r})"
        )
    return regions


def hidden_test_regions(cell: Cell, filename: str = "<source>") -> list:
    """``(begin, end)`` line indices of each nbgrader hidden-tests region of ``cell``."""
    return _regions(cell, BEGIN_HIDDEN, END_HIDDEN, filename)


def solution_code(cell: Cell) -> str:
    """A code cell as the reference runs it: the markers removed, every solution kept."""
    markers = {BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN}
    return "\n".join(line for line in cell.lines if line.strip() not in markers)


@dataclass(frozen=True)
class Assignment:
    """A parsed source file.

    Attributes
    ----------
    name : str
        The shipped assignment's name, or the source file's stem.
    path : Path
    text : str
    header : list of str
        The jupytext header block.
    cells : list of Cell
    grading : Grading
    """

    name: str
    path: Path
    text: str
    header: list
    cells: list
    grading: Grading

    def solution_lines(self) -> list:
        """Every line inside a solution region (markers excluded), as written."""
        lines = []
        for cell in self.cells:
            for begin, end in solution_regions(cell, str(self.path)):
                lines.extend(cell.lines[begin + 1 : end])
        return lines

    def reference_cells(self) -> list:
        """The code cells the reference solution runs, markers removed."""
        return [solution_code(cell) for cell in self.cells if cell.kind == "code"]


def read_source(path, name: str | None = None) -> Assignment:
    """Parse a teacher's source file.

    Parameters
    ----------
    path : str or Path
        A jupytext percent ``.py`` file holding a ``GRADING`` declaration.
    name : str, optional
        The assignment's name (default: the file's stem, or its folder's name
        when the file is called ``source.py``).

    Returns
    -------
    Assignment

    Raises
    ------
    ValueError
        If the file is not UTF-8 text, is too large, or its regions or declaration are malformed.
    FileNotFoundError
        If there is no such file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"source {str(path)!r} is not a file")
    data = path.read_bytes()
    if len(data) > MAX_SOURCE_BYTES:
        raise ValueError(
            f"source {str(path)!r} is {len(data)} bytes; the limit is {MAX_SOURCE_BYTES}"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"source {str(path)!r} is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    header, cells = parse_percent(text)
    for cell in cells:
        solution_regions(cell, str(path))
        hidden_test_regions(cell, str(path))
    grading = parse_grading(find_grading_literal(text, str(path)), str(path))
    if name is None:
        name = path.parent.name if path.stem == "source" else path.stem
    return Assignment(
        name=name, path=path.resolve(), text=text, header=header, cells=cells, grading=grading
    )
