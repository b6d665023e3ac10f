"""Markdown tables from the JSON that ``peers.py`` writes, for ``benchmarks/README.md``.

    python benchmarks/report.py benchmarks/results/peers-float32-2threads.json

Prints, for each dtype in the file, the median and the min table (time and
ratio against numrnn, rounds begun while other processes were busy), the
gradient agreement, and the issue-5 targets by median and by min. Copying
numbers by hand is how tables go stale; regenerate them instead.
"""

from __future__ import annotations

import argparse
import json
import sys

from common import fmt_time
from peers import evaluate_targets


def _table(rows: list, stat: str) -> list:
    impls = []
    for row in rows:
        impls += [name for name in row["impls"] if name not in impls]
    ratio = "ratio_vs_numrnn" if stat == "median" else "min_ratio_vs_numrnn"
    lines = [
        "| config | " + " | ".join(impls) + " | contended rounds |",
        "|---|" + "---|" * len(impls) + "---|",
    ]
    for row in rows:
        cells = []
        for name in impls:
            result = row["impls"].get(name)
            cells.append(
                "–" if result is None else f"{fmt_time(result[stat + '_s'])} ({result[ratio]:.2f}×)"
            )
        lines.append(
            f"| {row['config']} | " + " | ".join(cells) + f" | {row['contended_rounds']} |"
        )
    return lines


def _agreement(rows: list) -> list:
    lines = []
    for row in rows:
        parts = [
            f"{name} {result['grad_max_rel_diff']:.1e}"
            for name, result in row["impls"].items()
            if name not in ("numrnn", "numrnn-core", "gemm-floor") and "grad_max_rel_diff" in result
        ]
        lines.append(f"- {row['config']}: " + ", ".join(parts))
    return lines


def _targets(targets: list) -> list:
    lines = ["| target | measured | verdict |", "| --- | --- | --- |"]
    for target in targets:
        value = target["value"]
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        detail = f" ({target['detail']})" if target.get("detail") else ""
        lines.append(
            f"| {target['target']} | {shown}{detail} | {'met' if target['met'] else '**missed**'} |"
        )
    return lines


def report(data: dict) -> str:
    """The Markdown for one ``peers.py`` result file."""
    out = [f"Command: `{data['command']}`", ""]
    for dtype, rows in data["results"].items():
        for stat in ("median", "min"):
            out += [f"**{dtype}, {stat} of the timed runs** (ratio = time / numrnn's {stat})", ""]
            out += _table(rows, stat) + [""]
        out += [
            f"**{dtype}, gradient agreement** "
            "(max over parameters of max|g − g_numrnn| / max|g_numrnn|)",
            "",
        ]
        out += _agreement(rows) + [""]
    rows = data["results"].get("float32")
    if rows:  # recomputed from the rows, so the wording is current
        for stat in ("median", "min"):
            targets = evaluate_targets(rows, data.get("float32_check"), stat)
            out += [f"**Issue 5 targets by {stat} times**", ""] + _targets(targets) + [""]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="a JSON file written by peers.py")
    args = parser.parse_args(argv)
    with open(args.path, encoding="utf-8") as handle:
        data = json.load(handle)
    print(report(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
