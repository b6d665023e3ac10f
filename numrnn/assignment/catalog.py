"""The shipped assignments, and loading an assignment by name or by path."""

from __future__ import annotations

from pathlib import Path

from .source import Assignment, read_source

LIBRARY = Path(__file__).resolve().parent / "library"


def list_assignments() -> list:
    """``(name, path of source.py)`` of every shipped assignment, in course order.

    Returns
    -------
    list of (str, Path)
    """
    found = sorted(path for path in LIBRARY.glob("*/source.py"))
    order = {"vanilla_rnn": 0, "deep_transition": 1, "residual_flow": 2}
    found.sort(key=lambda path: (order.get(path.parent.name, 99), path.parent.name))
    return [(path.parent.name, path) for path in found]


def load(source) -> Assignment:
    """An assignment from a shipped name (``vanilla_rnn``) or a source file's path.

    Raises
    ------
    FileNotFoundError
        If ``source`` is neither a shipped name nor an existing file.
    """
    shipped = dict(list_assignments())
    if isinstance(source, str) and source in shipped:
        return read_source(shipped[source], name=source)
    path = Path(source)
    if not path.is_file():
        names = ", ".join(shipped) or "none"
        raise FileNotFoundError(
            f"source must be a source file or a shipped assignment ({names}); got {str(source)!r}"
        )
    return read_source(path)
