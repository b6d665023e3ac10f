"""The student version of an assignment, as a percent ``.py`` and an ``.ipynb``.

Each solution region becomes ``raise NotImplementedError`` at the region's
indentation (signatures and docstrings stay), hidden-test regions and
``instructor`` cells are dropped, and a last cell of public tests is added: the
fixed public case of every graded item, with the inputs written out and the
reference's outputs, checked by :func:`numrnn.assignment.kit.run_public_tests`
(whose text is pasted in, so the student version needs only NumPy).

The ``.ipynb`` is written with the standard library (nbformat 4.5 JSON), so
``numrnn assignment make`` needs neither jupytext nor nbformat.
"""

from __future__ import annotations

import json
import pprint
import textwrap
from pathlib import Path

import numpy as np

from . import kit
from .files import write_text_atomic
from .reference import Reference
from .source import (
    PUBLIC_TESTS_MARKER,
    Assignment,
    Cell,
    hidden_test_regions,
    markdown_text,
    solution_regions,
)

NOT_IMPLEMENTED = "raise NotImplementedError"
YOUR_ANSWER = "YOUR ANSWER HERE"


def student_cell(cell: Cell, filename: str = "<source>") -> Cell:
    """``cell`` with its solution regions replaced and its hidden-test regions removed."""
    lines = list(cell.lines)
    hidden = hidden_test_regions(cell, filename)
    solutions = solution_regions(cell, filename)
    replacements = [(begin, end, None) for begin, end in hidden]
    for begin, end in solutions:
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        if cell.kind == "code":
            new = [f"{indent}# YOUR CODE HERE", f"{indent}{NOT_IMPLEMENTED}"]
        else:
            new = [f"# {YOUR_ANSWER}"]
        replacements.append((begin, end, new))
    for begin, end, new in sorted(replacements, reverse=True):
        lines[begin : end + 1] = new or []
    return Cell(cell.kind, cell.marker, tuple(lines), cell.tags)


def _listed(array) -> object:
    """An array as nested lists of Python floats (exact: repr round-trips)."""
    return np.asarray(array, dtype=np.float64).tolist()


def public_cases(assignment: Assignment, reference: Reference) -> dict:
    """The public case of every item: inputs, reference outputs and tolerances.

    Parameters
    ----------
    assignment : Assignment
    reference : Reference
        The reference solution, loaded from the same source.

    Returns
    -------
    dict
        Item name to a plain dict (lists, floats, strings) for :func:`kit.run_public_tests`.
    """
    cases = {}
    for name, item in assignment.grading.items.items():
        trial = reference.public_trial(name)
        if item.check == "value":
            cases[name] = {"check": "value", "shape": list(np.shape(trial.expected["value"]))}
            continue
        case = {
            "check": item.check,
            "args": {key: _listed(value) for key, value in trial.inputs.items()},
            "returns_cache": assignment.grading.items[item.forward or name].returns_cache,
            "rtol": item.rtol,
        }
        if item.check == "forward":
            case["expected"] = _listed(trial.expected["out"])
        else:
            case.update(
                forward=item.forward,
                grads=dict(item.grads),
                dout=_listed(trial.dout),
                expected={grad: _listed(trial.expected[grad]) for grad in item.grads},
                fd_eps=item.fd_eps,
                fd_tol=item.fd_tol,
            )
        cases[name] = case
    return cases


def public_tests_cell(cases: dict) -> Cell:
    """The code cell that runs the public tests (the grader skips it by its first line)."""
    kit_text = Path(kit.__file__).read_text(encoding="utf-8").strip("\n")
    lines = [
        f"{PUBLIC_TESTS_MARKER}: the grader skips this cell; run it to check your work.",
        "",
        *kit_text.splitlines(),
        "",
        "PUBLIC_CASES = " + pprint.pformat(cases, width=100, sort_dicts=False),
        "",
        "run_public_tests(PUBLIC_CASES, globals())",
    ]
    text = "\n".join(lines)
    return Cell("code", "# %%", tuple(text.splitlines()))


def student_cells(assignment: Assignment, reference: Reference) -> list:
    """Every cell of the student version, in order, public tests last."""
    cells = [
        student_cell(cell, str(assignment.path))
        for cell in assignment.cells
        if "instructor" not in cell.tags
    ]
    tolerances = sorted(
        {item.rtol for item in assignment.grading.items.values() if item.check != "value"}
    )
    contract = textwrap.wrap(kit.precision_contract(max(tolerances)), 92) if tolerances else []
    intro = Cell(
        "markdown",
        "# %% [markdown]",
        (
            "# ## Check your work",
            "#",
            "# The next cell runs each graded function on a fixed public case and compares it with",
            "# the reference solution's output; for a backward function it also compares your",
            "# gradients with finite differences of your own forward. The grader uses other,",
            "# hidden inputs, and the same comparison.",
            *(["#"] + [f"# {line}" for line in contract] if contract else []),
        ),
    )
    return [*cells, intro, public_tests_cell(public_cases(assignment, reference))]


def percent_text(header: list, cells: list) -> str:
    """Cells back as a jupytext percent file."""
    parts = ["\n".join(header)] if header else []
    for cell in cells:
        block = [cell.marker] if cell.marker else []
        block.extend(cell.lines)
        parts.append("\n".join(block))
    return "\n\n".join(parts) + "\n"


def notebook_json(cells: list) -> dict:
    """Cells as an nbformat 4.5 notebook (a plain dict)."""
    out = []
    for index, cell in enumerate(cells):
        text = markdown_text(cell) if cell.kind == "markdown" else "\n".join(cell.lines)
        source = text.splitlines(keepends=True)
        entry = {
            "cell_type": cell.kind,
            "id": f"cell-{index:03d}",
            "metadata": {},
            "source": source,
        }
        if cell.tags:
            entry["metadata"]["tags"] = list(cell.tags)
        if cell.kind == "code":
            entry.update(execution_count=None, outputs=[])
        out.append(entry)
    metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return {"cells": out, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def write_student_version(
    assignment: Assignment, outdir, reference: Reference | None = None
) -> tuple:
    """Write ``<name>.py`` and ``<name>.ipynb``, the student version, into ``outdir``.

    Parameters
    ----------
    assignment : Assignment
    outdir : str or Path
        Created if missing.
    reference : Reference, optional
        The loaded reference solution (loaded from ``assignment`` if not given).

    Returns
    -------
    (Path, Path)
        The ``.py`` and the ``.ipynb`` written.
    """
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise ValueError(f"outdir must be a directory; {str(outdir)!r} is a file")
    reference = reference or Reference(assignment)
    cells = student_cells(assignment, reference)
    outdir.mkdir(parents=True, exist_ok=True)
    py_path, nb_path = outdir / f"{assignment.name}.py", outdir / f"{assignment.name}.ipynb"
    write_text_atomic(py_path, percent_text(assignment.header, cells))
    write_text_atomic(
        nb_path, json.dumps(notebook_json(cells), indent=1, ensure_ascii=False) + "\n"
    )
    return py_path, nb_path
