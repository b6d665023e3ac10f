"""Regenerate what docs/music.md shows of the full-size ``numrnn compare --task chorales`` run.

Run from the top of the repository::

    python docs/generate_music.py --from DIR   # DIR: what `numrnn compare --out DIR` wrote
    python docs/generate_music.py              # only rewrite the include from the committed JSON

With ``--from`` the script copies the report's ``report.md``, ``results.json``, training curves
and gradient maps (PNG; the report's other figures stay in DIR) into ``docs/_static/music/``
(commit them); then, from ``results.json`` alone, it
writes two includes of docs/music.md: ``verdicts.md``, the report's verdicts of the claims the
run measured, and ``ordering.md``: every architecture's held-out NLL (median, mean ±
sample sd, every reporting seed), ordered by median, and each deep architecture against the
vanilla RNN, the comparison Pascanu et al. (2014) made. Each of those is tested in both
directions with the report's own one-sided exact Mann–Whitney test
(:func:`numrnn.compare.stats.less_than`), and the p-values of both directions of every
comparison are adjusted together by Holm's method (:func:`numrnn.compare.stats.holm`) at the
report's α, so the verdicts (:func:`numrnn.compare.stats.three_way`) hold the same family-wise
error as the report's. ``tests/test_docs.py`` checks that the committed includes are what this
script makes from the committed ``results.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
from pathlib import Path

from numrnn.compare.results import ARCHITECTURE_TITLES
from numrnn.compare.stats import holm, less_than, three_way

DOCS = Path(__file__).resolve().parent
OUTPUT = DOCS / "_static" / "music"

PASCANU_NAMES = {
    "vanilla": "RNN",
    "hierarchical": "sRNN (stacked)",
    "deep-transition": "DT-RNN",
    "deep-transition-shortcut": "DT(S)-RNN",
    "deep-transition-skip": "not in the paper",
    "hierarchical-deep-transition-skip": "not in the paper",
}
"""The name in Pascanu et al. (2014) of each preset (their DOT(S) has a deep output: no preset)."""


def _generate_compare():
    """docs/generate_compare.py, loaded by path (it is a script beside this one, not a module)."""
    spec = importlib.util.spec_from_file_location("generate_compare", DOCS / "generate_compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measured_verdicts_markdown(results: dict) -> str:
    """The report's verdicts, as docs/compare.md shows them, of the claims this run measured."""
    measured = [claim for claim in results["claims"] if claim["verdict"] != "not measured"]
    return _generate_compare().verdicts_markdown({**results, "claims": measured})


def _number(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _metrics(results: dict, task: str) -> dict:
    """Per architecture: its row's summary of the held-out metric on ``task``."""
    return {row["arch"]: row["metrics"][task] for row in results["table"]}


def vs_vanilla(results: dict, task: str) -> list:
    """Each deep architecture against the vanilla RNN on ``task``: tests, Holm, verdicts.

    Parameters
    ----------
    results : dict
        A ``results.json`` of ``numrnn compare`` whose architectures include ``vanilla``.
    task : str
        A task label of the run (``"chorales-32"``).

    Returns
    -------
    list of dict
        One per architecture other than vanilla, in the run's order: ``arch``, the median
        difference (deep − vanilla) and its 95 % bootstrap interval, the raw and Holm-adjusted
        one-sided p-values of "deep is better" and "vanilla is better", and the verdict.
    """
    metrics = _metrics(results, task)
    if "vanilla" not in metrics:
        raise ValueError(f"results must include the vanilla RNN; got {sorted(metrics)}")
    vanilla = metrics["vanilla"]["values"]
    rows = []
    for arch, summary in metrics.items():
        if arch == "vanilla":
            continue
        better = less_than(summary["values"], vanilla)
        worse = less_than(vanilla, summary["values"])
        rows.append(
            {
                "arch": arch,
                "difference": better.effect,
                "interval": (better.effect_low, better.effect_high),
                "p_better": better.p_value,
                "p_worse": worse.p_value,
            }
        )
    adjusted = holm(
        [row["p_better"] for row in rows] + [row["p_worse"] for row in rows],
        alpha=results["rules"]["alpha"],
    )
    for k, row in enumerate(rows):
        row["holm_better"] = adjusted[k]["adjusted_p"]
        row["holm_worse"] = adjusted[len(rows) + k]["adjusted_p"]
        row["verdict"] = three_way(row["holm_better"], row["holm_worse"], results["rules"]["alpha"])
    return rows


def ordering_markdown(results: dict) -> str:
    """The include of docs/music.md: the ordering table and the tests against the vanilla RNN."""
    (task,) = results["tasks"]
    metrics = _metrics(results, task)
    rows = {row["arch"]: row for row in results["table"]}
    seeds = results["protocol"]["reporting_seeds_used"]
    baseline = results["tasks"][task]["baseline"]
    order = sorted(metrics, key=lambda arch: (metrics[arch]["median"], arch))
    lines = [
        f"Held-out (test split) NLL per frame in nats on {task}, each run at its best "
        f"validation checkpoint; baseline {baseline:.3f}. Ordered by median, best first.",
        "",
        "| rank | architecture | Pascanu et al. | H | parameters | tuned lr | median | "
        "mean ± sample sd | " + " | ".join(f"seed {seed}" for seed in seeds) + " |",
        "|---" * (8 + len(seeds)) + "|",
    ]
    for rank, arch in enumerate(order, 1):
        summary, row = metrics[arch], rows[arch]
        lr = f"{summary['lr']:g}"
        if summary.get("residual_scale") is not None:
            lr += f" (scale {summary['residual_scale']:g})"
        lines.append(
            f"| {rank} | {ARCHITECTURE_TITLES.get(arch, arch)} | {PASCANU_NAMES.get(arch, '')} | "
            f"{row['hidden']} | {row['parameters']['total']} | {lr} | "
            f"{_number(summary['median'])} | {_number(summary['mean'])} ± "
            f"{_number(summary['sd'])} | "
            + " | ".join(_number(value) for value in summary["values"])
            + " |"
        )
    tests = vs_vanilla(results, task)
    alpha = results["rules"]["alpha"]
    lines += [
        "",
        f"Each architecture against the vanilla RNN: one-sided exact Mann–Whitney tests in both "
        f"directions on the {len(seeds)} reporting seeds, the {2 * len(tests)} p-values adjusted "
        f"together by Holm at α = {alpha:g}.",
        "",
        "| architecture | median − vanilla's [95 % CI] | p (better), Holm | "
        "p (worse), Holm | verdict: better than the vanilla RNN |",
        "|---|---|---|---|---|",
    ]
    for row in tests:
        low, high = row["interval"]
        lines.append(
            f"| {ARCHITECTURE_TITLES.get(row['arch'], row['arch'])} | "
            f"{row['difference']:+.3f} [{low:+.3f}, {high:+.3f}] | "
            f"{row['p_better']:.4f}, {row['holm_better']:.4f} | "
            f"{row['p_worse']:.4f}, {row['holm_worse']:.4f} | **{row['verdict']}** |"
        )
    return "\n".join(lines) + "\n"


INCLUDES = {"ordering.md": ordering_markdown, "verdicts.md": measured_verdicts_markdown}
"""The Markdown includes of docs/music.md, each made from ``results.json`` alone."""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", metavar="DIR", help="a compare report folder")
    args = parser.parse_args(argv)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    if args.source:
        source = Path(args.source)
        figures = ["gradient_maps.png", *(p.name for p in source.glob("training_curves_*.png"))]
        for name in ["report.md", "results.json", *figures]:
            shutil.copyfile(source / name, OUTPUT / name)
    results = json.loads((OUTPUT / "results.json").read_text(encoding="utf-8"))
    for name, make in INCLUDES.items():
        target = OUTPUT / name
        temporary = target.with_suffix(".md.tmp")
        temporary.write_text(make(results), encoding="utf-8")
        temporary.replace(target)  # atomic: a failed run leaves the old include
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
