"""What every architecture reaches on every task with ``numrnn train``'s defaults (its recipes).

For each pair it runs exactly ``numrnn train --task TASK --arch ARCH --quiet --out TMP`` (through
:func:`numrnn.cli.main`, in this process), reads the ``history.json`` the command wrote, and
records the final validation metric, the best one, the trivial baseline, the steps and the wall
time. The Markdown table goes into ``benchmarks/README.md`` between the markers
``<!-- recipes:begin -->`` and ``<!-- recipes:end -->`` (generated, never pasted), and the
numbers into ``benchmarks/results/recipes.json``.

A pair passes when its final validation metric is below the task's baseline. A pair that the
literature expects to fail at the task's default length is listed in
:data:`numrnn.training.recipes.EXPECTED_FAILURES` with its reason, and the table shows it as an
expected failure, with its number.

Usage::

    python benchmarks/recipes.py                       # every pair, writes the table
    python benchmarks/recipes.py --tasks adding --archs deep-transition-skip vanilla
    python benchmarks/recipes.py --steps 500           # a quick look (the table says so)
    python benchmarks/recipes.py --tasks adding copy temporal-order --results a.json --no-write &
    python benchmarks/recipes.py --tasks sine reber charlm --results b.json --no-write
    python benchmarks/recipes.py --merge a.json b.json  # the two halves' table
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.dirname(HERE) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(HERE))

from numrnn import cli  # noqa: E402
from numrnn.presets import ARCHITECTURES  # noqa: E402
from numrnn.training.checkpoint import atomic_write  # noqa: E402
from numrnn.training.recipes import EXPECTED_FAILURES, recipe  # noqa: E402
from numrnn.training.tasks import TASKS  # noqa: E402

README = os.path.join(HERE, "README.md")
RESULTS = os.path.join(HERE, "results", "recipes.json")
BEGIN, END = "<!-- recipes:begin -->", "<!-- recipes:end -->"


def run_pair(task: str, arch: str | None, steps: int | None = None) -> dict:
    """Train one pair with the CLI's defaults (and ``--steps`` if given); its numbers as a dict."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "run")
        argv = ["train", "--task", task, "--quiet", "--out", out]
        if arch is not None:  # else the task's own architecture
            argv += ["--arch", arch]
        if steps is not None:
            argv += ["--steps", str(steps)]
        started = time.perf_counter()
        with (
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()) as err,
        ):
            status = cli.main(argv)
        seconds = time.perf_counter() - started
        history_path = os.path.join(out, "history.json")
        if not os.path.exists(history_path):
            raise RuntimeError(f"numrnn {' '.join(argv)} exited {status}: {err.getvalue().strip()}")
        with open(history_path, encoding="utf-8") as handle:
            history = json.load(handle)
    values = [v for v in history["evaluations"]["val_metric"] if v is not None]
    baseline = history["baseline"]["value"]
    final = values[-1] if values else float("nan")
    expected = EXPECTED_FAILURES.get((task, arch or recipe(task)["arch"]))
    return {
        "task": task,
        "arch": arch or recipe(task)["arch"],
        "metric": history["metric"],
        "status": status,
        "steps": history["steps"]["step"][-1] if history["steps"]["step"] else 0,
        "final": final,
        "best": min(values) if values else float("nan"),
        "baseline": baseline,
        "ratio": final / baseline,
        "passed": status == 0 and final < baseline,
        "expected_failure": expected,
        "seconds": seconds,
    }


def verdict(row: dict) -> str:
    """One word for the table: below, ABOVE, diverged, with the literature's reason if expected."""
    if row["passed"]:
        word = "below"
    else:
        word = "diverged" if row["status"] == 1 else "ABOVE"
    reason = EXPECTED_FAILURES.get((row["task"], row["arch"]), row["expected_failure"])
    if reason and not row["passed"]:
        word += f" (expected: {reason})"
    return word


def _grid_order(key: tuple) -> tuple:
    """Tasks and architectures in the order of TASKS and ARCHITECTURES."""
    task, arch = key
    return (list(TASKS).index(task), list(ARCHITECTURES).index(arch))


def markdown(rows: list, steps) -> str:
    """The table of every pair, with how it was made."""
    if steps is None:
        how = "with the recipes' own steps"
    elif steps == "mixed":
        how = (
            "with `--steps 100` for most pairs (a quick look on a shared machine) and the "
            "recipes' own steps where the steps column equals the recipe column"
        )
    else:
        how = f"with `--steps {steps}` (the recipe column says how many a default run takes)"
    lines = [
        "Made by `python benchmarks/recipes.py` "
        + how
        + f" on {platform.machine()} ({os.cpu_count()} cores, shared), float32, seed 0. "
        "Final = the "
        "validation metric after the last step; best = the lowest evaluation (kept in "
        "`checkpoint-best.npz`); ratio = final / baseline.",
        "",
        "| task | architecture | metric | steps | recipe | final | best | baseline | ratio "
        "| verdict | time |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['task']} | {row['arch']} | {row['metric']} | {row['steps']} | "
            f"{recipe(row['task'], row['arch'])['steps']} | "
            f"{row['final']:.4g} | {row['best']:.4g} | {row['baseline']:.4g} | "
            f"{row['ratio']:.3f} | "
            f"{verdict(row)} | {row['seconds']:.0f} s |"
        )
    passed = sum(row["passed"] for row in rows)
    expected = sum(bool(row["expected_failure"]) and not row["passed"] for row in rows)
    lines += [
        "",
        f"{passed} of {len(rows)} pairs end below their baseline; {expected} expected failures.",
    ]
    return "\n".join(lines)


def write_readme(table: str) -> None:
    """Replace the text between the markers in benchmarks/README.md (atomically)."""
    with open(README, encoding="utf-8") as handle:
        text = handle.read()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{README} has no {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    atomic_write(README, lambda handle: handle.write(f"{head}{BEGIN}\n{table}\n{END}{tail}"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument(
        "--archs", nargs="+", default=list(ARCHITECTURES), choices=list(ARCHITECTURES)
    )
    parser.add_argument("--steps", type=int, default=None, help="override every recipe's --steps")
    parser.add_argument(
        "--results", default=RESULTS, help=f"JSON file for the rows (default: {RESULTS})"
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="make the table from the rows of these results files instead of running (e.g. "
        "two halves of the grid run in parallel)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch benchmarks/README.md")
    args = parser.parse_args(argv)
    if args.merge:
        merged, steps = {}, set()
        for path in args.merge:  # a later file's row replaces an earlier one of the same pair
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            merged.update({(row["task"], row["arch"]): row for row in data["rows"]})
            steps.add(data["steps_override"])
        rows = [merged[key] for key in sorted(merged, key=_grid_order)]
        args.steps = steps.pop() if len(steps) == 1 else "mixed"
        if not args.no_write:
            data = {"steps_override": args.steps, "merged_from": args.merge, "rows": rows}
            atomic_write(args.results, lambda handle: json.dump(data, handle, indent=1))
    else:
        rows = []
        os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
        for task in args.tasks:
            for arch in args.archs:
                row = run_pair(task, arch, args.steps)
                rows.append(row)
                print(
                    f"{task:15s} {arch:34s} {row['metric']} {row['final']:.4g} (baseline "
                    f"{row['baseline']:.4g}) {verdict(row)} {row['seconds']:.0f} s",
                    flush=True,
                )
                data = {  # after every pair, so that a stopped run keeps what it measured
                    "steps_override": args.steps,
                    "recipes": {f"{t}/{a}": recipe(t, a) for t in args.tasks for a in args.archs},
                    "rows": rows,
                }
                atomic_write(args.results, lambda handle, d=data: json.dump(d, handle, indent=1))
    table = markdown(rows, args.steps)
    print(table)
    if not args.no_write:
        write_readme(table)
    return 0 if all(row["passed"] or row["expected_failure"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
