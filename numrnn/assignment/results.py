"""What grading writes: Gradescope's ``results.json``, a CSV gradebook, a summary.

The ``results.json`` layout follows Gradescope's autograder specification: a
top-level ``score``, ``output`` and ``execution_time``, and ``tests``, each with
``name``, ``score``, ``max_score``, ``status``, ``output`` and ``visibility``.
:func:`validate_gradescope` checks a dict against that layout.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter
from pathlib import Path

from .files import write_text_atomic
from .text import csv_cell, printable

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
_TEST_KEYS = {
    "score",
    "max_score",
    "status",
    "name",
    "name_format",
    "number",
    "output",
    "output_format",
    "tags",
    "visibility",
    "extra_data",
}
_TOP_KEYS = {
    "score",
    "execution_time",
    "output",
    "output_format",
    "test_output_format",
    "test_name_format",
    "visibility",
    "stdout_visibility",
    "extra_data",
    "tests",
    "leaderboard",
}


def gradescope_results(result) -> dict:
    """One submission's result in Gradescope's ``results.json`` layout.

    Parameters
    ----------
    result : SubmissionResult

    Returns
    -------
    dict
    """
    tests = []
    for number, item in enumerate(result.items, start=1):
        tests.append(
            {
                "name": item.name,
                "number": str(number),
                "score": item.score,
                "max_score": item.max_score,
                "status": "passed" if item.score >= item.max_score else "failed",
                "output": item.output,
                "visibility": item.visibility,
            }
        )
    lines = [
        f"{result.score:.4g} / {result.max_score:.4g} points for {printable(result.name)}.",
        *result.notes,
    ]
    return {
        "score": round(result.score, 6),
        "execution_time": round(result.seconds, 3),
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"numrnn_assignment": result.assignment, "seed_id": result.seed_id},
    }


def validate_gradescope(results: dict) -> None:
    """Raise ValueError unless ``results`` has Gradescope's ``results.json`` layout.

    Parameters
    ----------
    results : dict

    Raises
    ------
    ValueError
        Naming the first key or value that does not fit.
    """
    if not isinstance(results, dict):
        raise ValueError(f"results must be a JSON object; got {type(results).__name__}")
    unknown = set(results) - _TOP_KEYS
    if unknown:
        raise ValueError(f"results has unknown top-level keys {sorted(unknown)}")
    tests = results.get("tests", [])
    if "score" not in results and not all(isinstance(t, dict) and "score" in t for t in tests):
        raise ValueError("results needs a top-level score, or a score on every test")
    for key in ("score", "execution_time"):
        if key in results and (
            isinstance(results[key], bool) or not isinstance(results[key], (int, float))
        ):
            raise ValueError(f"results[{key!r}] must be a number; got {results[key]!r}")
    for key in ("visibility", "stdout_visibility"):
        if key in results and results[key] not in VISIBILITIES:
            raise ValueError(
                f"results[{key!r}] must be one of {', '.join(VISIBILITIES)}; got {results[key]!r}"
            )
    if not isinstance(tests, list):
        raise ValueError(f"results['tests'] must be a list; got {type(tests).__name__}")
    for index, test in enumerate(tests):
        where = f"results['tests'][{index}]"
        if not isinstance(test, dict):
            raise ValueError(f"{where} must be an object")
        unknown = set(test) - _TEST_KEYS
        if unknown:
            raise ValueError(f"{where} has unknown keys {sorted(unknown)}")
        for key in ("score", "max_score"):
            if key in test and (
                isinstance(test[key], bool) or not isinstance(test[key], (int, float))
            ):
                raise ValueError(f"{where}[{key!r}] must be a number; got {test[key]!r}")
        for key in ("name", "output", "number"):
            if key in test and not isinstance(test[key], str):
                raise ValueError(f"{where}[{key!r}] must be a string; got {test[key]!r}")
        if "status" in test and test["status"] not in ("passed", "failed"):
            raise ValueError(
                f"{where}['status'] must be 'passed' or 'failed'; got {test['status']!r}"
            )
        if "visibility" in test and test["visibility"] not in VISIBILITIES:
            raise ValueError(
                f"{where}['visibility'] must be one of {', '.join(VISIBILITIES)}; "
                f"got {test['visibility']!r}"
            )
    json.dumps(results)  # must be JSON: raises TypeError otherwise


def write_results_json(path, result) -> Path:
    """Write one submission's ``results.json`` atomically (validated first)."""
    results = gradescope_results(result)
    validate_gradescope(results)
    return write_text_atomic(path, json.dumps(results, indent=2) + "\n")


def gradebook_csv(results: list, item_names: list) -> str:
    """The CSV gradebook: one row per submission, a column per item, and the failures.

    Every text cell goes through :func:`numrnn.assignment.text.csv_cell`: one line, valid
    Unicode, and never read as a formula by a spreadsheet.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", "score", "max_score", *item_names, "failures", "file"])
    for result in results:
        scores = {item.name: item.score for item in result.items}
        failures = "; ".join(
            f"{item.name}: {failure}" for item in result.items for failure in item.failures
        )
        writer.writerow(
            [
                csv_cell(result.name),
                f"{result.score:.6g}",
                f"{result.max_score:.6g}",
                *[f"{scores.get(name, 0.0):.6g}" for name in item_names],
                csv_cell(failures),
                csv_cell(str(result.path)),
            ]
        )
    return buffer.getvalue()


def write_gradebook(path, results: list, item_names: list) -> Path:
    """Write the CSV gradebook atomically."""
    return write_text_atomic(path, gradebook_csv(results, item_names))


def summary_text(batch) -> str:
    """The end-of-batch summary: mean score, each function's mean, how many hit each failure.

    Parameters
    ----------
    batch : BatchResult

    Returns
    -------
    str
        Several lines; the failures are grouped by graded item, in the declared order, the
        most frequent first.
    """
    results = batch.results
    lines = [
        f"graded {len(results)} submission{'s' * (len(results) != 1)} of {batch.assignment} "
        f"in {batch.seconds:.1f} s with {batch.workers} worker{'s' * (batch.workers != 1)}"
    ]
    order = [item.name for item in results[0].items] if results else []
    if results:
        scores = sorted(result.score for result in results)
        maximum = results[0].max_score
        full = sum(score >= maximum for score in scores)
        mean = sum(scores) / len(scores)
        median = statistics.median(scores)
        lines.append(
            f"mean score {mean:.2f} / {maximum:.4g} ({100 * mean / maximum:.0f}%), "
            f"median {median:.4g}, full marks {full}, zero {sum(score == 0 for score in scores)}"
        )
        lines.append("per graded item: mean score, submissions with full marks")
        width = max(len(name) for name in order)
        for index, name in enumerate(order):
            item_scores = [result.items[index].score for result in results]
            item_max = results[0].items[index].max_score
            item_full = sum(score >= item_max for score in item_scores)
            lines.append(
                f"  {name:<{width}}  {sum(item_scores) / len(item_scores):5.2f} / {item_max:<4g}"
                f"  {item_full} of {len(results)}"
            )
    counts = Counter()
    for result in results:
        for failure in {(item.name, failure) for item in result.items for failure in item.failures}:
            counts[failure] += 1
        for note in result.notes:
            if note.startswith("could not read"):
                counts[("submission", "unreadable")] += 1
    if counts:
        lines.append("failures (submissions):")
        rank = {name: index for index, name in enumerate(order)}
        labels = {key: f"{key[0]}: {key[1]}" for key in counts}
        width = max(len(label) for label in labels.values())
        for key, count in sorted(
            counts.items(), key=lambda pair: (rank.get(pair[0][0], -1), -pair[1], pair[0][1])
        ):
            lines.append(f"  {labels[key]:<{width}}  {count}")
    skipped = getattr(batch, "skipped", [])
    lines += [f"not graded: {printable(entry)}" for entry in skipped]
    lines.append(batch.isolation)
    return "\n".join(lines)
