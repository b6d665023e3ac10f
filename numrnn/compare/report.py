"""Write the comparison report: report.md, report.html (self-contained), results.json, figures.

The page is built once as a list of blocks (headings, paragraphs, tables,
figures, code) and rendered twice, to Markdown and to HTML, so the two always
say the same. Every number on the page comes from the results dict of
:func:`numrnn.compare.results.collect_results`, which is written as
``results.json``; numbers are shown with three significant digits.

Figures are drawn by :mod:`numrnn.plotting` (the one module that imports
matplotlib) and saved as PNG and SVG; report.html embeds the PNGs as base64
data, so it opens in any browser with no network and no other file.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import numpy as np

from .sweep import write_json_atomically, write_text_atomically

__all__ = [
    "FIGURES",
    "QUICK_BANNER",
    "flow_cell",
    "flow_value",
    "claim_test_cell",
    "write_figures",
    "report_blocks",
    "render_markdown",
    "render_html",
    "write_report",
]

FIGURES = {
    "gradient_maps": "Gradient-norm heat map of each architecture at initialisation, on the sweep "
    "task's own inputs (float64; rows are layers, columns steps; the loss is on the last step). "
    "Look for colour that fades (vanishing) or grows (exploding) towards step 1 in ANY row: each "
    "panel's title names the worst layer and its verdict, the one the table shows.",
    "norm_vs_distance": "Gradient norm of the worst layer against the distance T − t it travelled "
    "back, one line per architecture (log scale). A falling line vanishes, a rising one explodes.",
    "jacobian_spectra": "Singular values of the step Jacobians ∂h_t/∂h_(t−1) of the top layer. "
    "Values below the dashed line at 1 shrink a gradient at every step, above it they grow it.",
    "span_norms": "Norm of the product of step Jacobians ‖∂h_T/∂h_t‖₂ over a span of length T − t, "
    "top layer, at initialisation: how a perturbation of h_t reaches h_T.",
    "depth_sweep_ratio": "Worst-layer log10 gradient ratio at initialisation against the "
    "transition depth q (budget-matched; float64, so no depth underflows in this range; a seed "
    "that still underflowed is drawn at its bound). Look at the gap between the two lines as q "
    "grows.",
    "depth_sweep_metric": "Held-out metric against the transition depth q, budget-matched and "
    "at fixed width, every reporting seed; the dashed line is the trivial baseline, and a run "
    "below half of it learnt the task.",
}
"""Figures written as ``NAME.png`` and ``NAME.svg`` (plus ``training_curves_<task>`` per task)."""

QUICK_BANNER = (
    "QUICK RUN: these numbers decide nothing. --quick trains tiny models for a few steps on "
    "2 reporting seeds to exercise the pipeline: no test of 2 against 2 seeds can reach p < 0.17, "
    "so every tested verdict is inconclusive by construction. Run numrnn compare without --quick "
    "for a report to read."
)
"""The first paragraph of a ``--quick`` report."""


def fmt(value, digits: int = 3) -> str:
    """A number as shown in the report: ``digits`` significant digits, "n/a" for None."""
    if value is None:
        return "n/a"
    if isinstance(value, float) and not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


def _summary_cell(metric) -> str:
    """``"median 0.012 [IQR 0.010, 0.020]; mean 0.013 ± 0.004 (sd); 5 of 6 learnt"``."""
    text = (
        f"median {fmt(metric['median'])} [IQR {fmt(metric['q1'])}, {fmt(metric['q3'])}]; "
        f"mean {fmt(metric['mean'])} ± {fmt(metric['sd'])} (sample sd)"
    )
    if metric.get("learned") is not None:
        text += f"; learnt {metric['learned']} of {metric.get('learned_of', metric['n'])}"
    if metric["n_failed"]:
        text += f"; {metric['n_failed']} diverged"
    if metric.get("grid_edge"):
        text += f"; tuned at the grid's {metric['grid_edge']}"
    return text


def _tuned_cell(row: dict) -> str:
    """``"lr 0.003"``, or ``"lr 0.003, residual scale 1"`` where the scale was tuned."""
    cell = f"lr {row['lr']:g}"
    if row.get("residual_scale") is not None:
        cell += f", residual scale {row['residual_scale']:g}"
    if row.get("grid_edge"):
        cell += f" (EDGE: {row['grid_edge']})"
    return cell


def flow_value(worst) -> str:
    """One seed's worst-layer ratio: ``"-3.2"``, or ``"< 10^-307"`` for a bound."""
    if worst is None:
        return "n/a"
    if worst["bound"] == "<":
        return f"< 10^{math.floor(worst['value'])}"
    if worst["bound"] == ">":
        return f"> 10^{math.ceil(worst['value'])}"
    return f"{worst['value']:.3g}"


def _seed_cell(value, worst) -> str:
    """One seed: ``"0.012 (-3.2, L1)"``: its metric, its worst layer's log10 ratio at init."""
    layer = "" if worst is None else f", L{worst['layer']}"
    return f"{fmt(value)} ({flow_value(worst)}{layer})"


def flow_cell(column) -> str:
    """A flow column: the seeds' verdict (or counts), the worst layer(s) and the median ratio.

    Parameters
    ----------
    column : dict
        A configuration's ``flow_init``, ``flow_first_eval`` or ``flow_trained``.

    Returns
    -------
    str
        e.g. ``"4 vanishing, 2 exploding; worst layer 1, 2; median log10 ratio -3.1"``:
        never "stable" unless every seed's worst layer is.
    """
    if column["verdict"] is None:
        return "n/a"
    layers = ", ".join(str(layer) for layer in column["worst_layers"])
    if column["verdict"] == "mixed":
        verdict = ", ".join(f"{n} {v}" for v, n in column["verdict_counts"].items())
    else:
        verdict = column["verdict"]
    bound = " (some seeds at an underflow bound)" if column["any_bound"] else ""
    return (
        f"{verdict}; worst layer {layers}; median log10 ratio {fmt(column['median_value'])}{bound}"
    )


def write_figures(results: dict, sweep, out) -> dict:
    """Draw every figure of the report and save it as PNG and SVG in ``out``.

    Parameters
    ----------
    results : dict
        From :func:`numrnn.compare.results.collect_results`.
    sweep : numrnn.compare.sweep.Sweep
        For the gradient maps, spectra and training histories.
    out : Path

    Returns
    -------
    dict of str to str
        Figure name (file stem) to its caption, in the order the report shows them.
    """
    from .. import plotting

    out = Path(out)
    drawn = {}

    def save(name, figure, caption):
        for suffix in (".png", ".svg"):
            plotting.save_figure(figure, out / f"{name}{suffix}", close=False)
        plotting._pyplot().close(figure)
        drawn[name] = caption

    maps, worst_rows = {}, {}
    for arch, result in sweep.flow_results.items():
        flow = result["flow_init"]
        if flow is None:
            continue
        worst = flow["worst"]  # the per-layer verdict of this very model
        title = f"{arch}\nworst: layer {worst['layer']} {flow['verdict']}"
        grad_norms = np.array(
            [[np.nan if v is None else v for v in row] for row in flow["grad_norms"]]
        )
        maps[title] = grad_norms
        worst_rows[title] = grad_norms[worst["layer"] - 1]
    if maps:
        save("gradient_maps", plotting.plot_gradient_norm_maps(maps), FIGURES["gradient_maps"])
        save(
            "norm_vs_distance",
            plotting.plot_norm_vs_distance(worst_rows).figure,
            FIGURES["norm_vs_distance"],
        )
    spans = {
        arch: 10.0 ** np.array([-np.inf if v is None else v for v in result["span_log10"]])
        for arch, result in sweep.flow_results.items()
    }
    ax = plotting.plot_norm_vs_distance(spans, order="distance")
    ax.set_ylabel("‖∂h_T/∂h_t‖₂ (mean over sequences)")
    ax.set_title("norm of the Jacobian product over a span, vs its length T − t")
    save("span_norms", ax.figure, FIGURES["span_norms"])
    spectra = {
        arch: [np.asarray(layer, dtype=np.float64) for layer in result["spectra"]]
        for arch, result in sweep.flow_results.items()
    }
    save(
        "jacobian_spectra",
        plotting.plot_jacobian_spectra(spectra).figure,
        FIGURES["jacobian_spectra"],
    )
    for task_label, task in results["tasks"].items():
        histories = {}
        for index, row in enumerate(results["runs"]):
            if row["task"] == task_label and "main" in row["roles"]:
                histories[row["arch"]] = [result["history"] for result in sweep.seed_results[index]]
        figure = plotting.plot_training_curves(
            histories,
            metric_name=f"validation {task['metric_name']}",
            baseline=task["baseline"] if task["held_out"] == "validation" else None,
        )
        figure.suptitle(f"training on {task_label}: every reporting seed at its chosen settings")
        save(
            f"training_curves_{task_label}",
            figure,
            f"Training curves on {task_label}, every reporting seed: look for runs that stay at "
            "the baseline (did not learn) and for spikes in the gradient norm.",
        )
    if results["sweep"]:
        depths = results["protocol"]["depths"]
        ratios, metrics = {}, {}
        for arch, by_q in results["sweep"].items():
            ratios[arch] = [
                [np.nan if w is None else w["value"] for w in by_q[str(q)]["flow_init"]["per_seed"]]
                for q in depths
            ]
            metrics[f"{arch} (budget)"] = [
                [np.nan if v is None else v for v in by_q[str(q)]["metric_per_seed"]]
                for q in depths
            ]
        for arch, by_q in results.get("sweep_fixed_width", {}).items():
            hidden = next(iter(by_q.values()))["hidden"]
            metrics[f"{arch} (H={hidden} fixed)"] = [
                [np.nan if v is None else v for v in by_q[str(q)]["metric_per_seed"]]
                for q in depths
            ]
        save(
            "depth_sweep_ratio",
            plotting.plot_depth_sweep(
                depths, ratios, "worst-layer log10 gradient ratio at init (float64)"
            ).figure,
            FIGURES["depth_sweep_ratio"],
        )
        sweep_task = results["tasks"][results["flow_task"]]
        save(
            "depth_sweep_metric",
            plotting.plot_depth_sweep(
                depths,
                metrics,
                f"held-out {sweep_task['metric_name']} on {results['flow_task']}",
                baseline=sweep_task["baseline"],
                log=True,
            ).figure,
            FIGURES["depth_sweep_metric"],
        )
    return drawn


# --------------------------------------------------------------------------- the page as blocks


def _verdict_counts(claims) -> str:
    measured = [c for c in claims if c["verdict"] != "not measured"]
    counts = {v: sum(c["verdict"] == v for c in measured) for v in VERDICT_ORDER}
    return f"{len(measured)} measured claims: " + ", ".join(
        f"{n} {v}" for v, n in counts.items() if n
    )


VERDICT_ORDER = ("supported", "contradicted", "inconclusive")


def claim_test_cell(claim) -> str:
    """A claim's test as one cell: the test, its p's, Holm's p's and the effect with its interval.

    Parameters
    ----------
    claim : dict
        One entry of ``results["claims"]``.

    Returns
    -------
    str
        ``"exact count"`` for a claim decided by arithmetic, ``""`` for one not measured.
    """
    test = claim["test"]
    if test is None:
        return "exact count" if claim["verdict"] != "not measured" else ""
    interval = test["effect_interval"]
    return (
        f"{test['test']}; p {fmt(test['p_for'])} (against {fmt(test['p_against'])}); Holm over "
        f"{test['family_size']} in '{claim['family']}': {fmt(test['holm_p_for'])} "
        f"(against {fmt(test['holm_p_against'])}); {test['effect']} {fmt(test['effect_value'])} "
        f"[{fmt(interval[0])}, {fmt(interval[1])}]"
    )


def report_blocks(results: dict, figures: dict) -> list:
    """The report as a list of blocks ``(kind, content)``.

    Kinds: ``"h1"``, ``"h2"``, ``"p"`` (text), ``"table"`` (header, rows),
    ``"figure"`` (file stem, caption), ``"code"`` (text), ``"list"`` (items).
    A ``--quick`` report opens with :data:`QUICK_BANNER`.
    """
    protocol, run, rules = results["protocol"], results["run"], results["rules"]
    blocks = []
    if run.get("quick"):
        blocks.append(("p", f"**{QUICK_BANNER}**"))
    blocks.append(("h1", "numrnn compare: the chapter's table, measured"))
    blocks.append(("code", run["command"]))
    blocks.append(
        (
            "p",
            f"numrnn {run['numrnn']}, NumPy {run['numpy']}, Python {run['python']}, "
            f"{run['cores']} CPU cores, {run['workers']} worker(s) ({run['executor']}), one BLAS "
            f"thread per worker; wall time {run['wall_time_seconds']:.1f} s (CPU time of all its "
            f"processes {fmt(run['cpu_seconds'])} s); {run['jobs_run']} jobs run, "
            f"{run['jobs_cached']} found done in jobs/. Times per step are measured inside the "
            "worker processes while other jobs run beside them: compare them with each other, "
            "not with other machines.",
        )
    )
    blocks.append(("p", "**" + _verdict_counts(results["claims"]) + ".**"))
    blocks.append(("h2", "The protocol: a fair comparison"))
    tasks = ", ".join(
        f"{label} ({task['metric_name']}, trivial baseline {fmt(task['baseline'])}: "
        f"{task['baseline_description']})"
        for label, task in results["tasks"].items()
    )
    tuning_seeds = protocol["tuning_seeds_used"]
    reporting = protocol["reporting_seeds_used"]
    blocks.append(
        (
            "list",
            [
                f"Tasks: {tasks}. " + run["task_reason"],
                f"Parameter budget {protocol['budget']}: every model's hidden size H is solved so "
                f"its count is within {protocol['tolerance']:.0%} of it; the depth sweep is run "
                "both at the budget (H shrinks as q grows) and at one fixed width (the count grows "
                "with q), so that depth is not confounded with width.",
                f"Equal tuning: every architecture gets {protocol['tuning_points']} tuning points "
                f"(learning rates spread geometrically over {protocol['lr_range']}; an "
                "architecture with a residual branch h_t = h_(t−1) + φ(…) gets "
                f"{protocol['tuning_points'] // len(protocol['residual_scales'])} learning rates "
                f"× its branch's initial scale {protocol['residual_scales']}), chosen by "
                f"successive halving: every point trains {protocol['rung_steps'][0]} steps on the "
                f"tuning seeds {tuning_seeds}, the best 1/{protocol['halving_rate']} go on to "
                + ", then ".join(str(s) for s in protocol["rung_steps"][1:])
                + " steps, and the best mean final validation metric there is chosen. A choice "
                "at the edge of the learning-rate range is flagged (EDGE).",
                f"Fresh reporting seeds: the chosen point is trained on seeds {reporting}, which "
                "no tuning run used; only they are reported. --seed-offset N shifts every seed "
                f"(this run: offset {protocol['seed_offset']}).",
                f"Optimizer {protocol['optimizer']}, global-norm clipping at {protocol['clip']}, "
                f"{protocol['steps']} steps of batch {protocol['batch_size']}, "
                f"{protocol['dtype']}, validation every {protocol['eval_every']} steps, the same "
                "for every architecture."
                + (
                    " Early stopping: every run (tuning and reporting) ends with the parameters of "
                    "its evaluation with the lowest validation metric, initialisation included; "
                    "its validation and held-out metrics are that checkpoint's."
                    if protocol.get("early_stopping")
                    else ""
                ),
                "Held-out metric: the test set, which took no part in choosing the tuning point "
                "(a fresh draw for synthetic tasks). Every cell gives the median and "
                "interquartile range over the reporting seeds, the mean ± SAMPLE sd, and how many "
                f"seeds learnt the task (held-out metric below {rules['learned_fraction']:g} × "
                "the trivial baseline); every per-seed value is in the per-seed table.",
                "Verdicts: each comparative claim is decided by a one-sided test on the reporting "
                "seeds' values (exact Mann–Whitney, a diverged run ranked worst; Fisher's exact "
                "test on learned counts where the claim is about learning), in both directions. "
                "Holm's method adjusts the p-values of both directions of every claim of a "
                f"family together, at family-wise level {rules['alpha']}; families: "
                + "; ".join(f"{name} ({what})" for name, what in rules["families"].items())
                + ". Supported: the claim's direction passes; contradicted: the opposite "
                "direction passes; otherwise inconclusive. With "
                f"{protocol['seeds']} vs {protocol['seeds']} seeds the smallest p a "
                f"Mann–Whitney test can give is {fmt(rules['smallest_p_reporting_seeds'])}, so a "
                "claim can pass Holm only when the seeds separate (almost) completely. "
                "Counts that involve no randomness (parameters, nonlinearities per step) are "
                "exact arithmetic.",
                "Gradient flow: numrnn.diagnostics.flow_by_layer in float64 on the task's own "
                f"inputs (the first {protocol['flow_batch']} validation sequences) and length, "
                "with the loss on the last step, for every layer, at initialisation and at every "
                "evaluation of every reporting seed; log10 of ‖∂loss/∂h_1‖/‖∂loss/∂h_T‖ per "
                "layer; the verdict from the per-step rate ratio^(1/(T−1)): below "
                f"{results['thresholds']['vanishing_below']} vanishing, above "
                f"{results['thresholds']['exploding_above']} exploding, else stable. A model's "
                "verdict is its worst layer's, and the table names that layer. A ratio that "
                "underflows even in float64 is shown as its bound, < 10^−k.",
            ],
        )
    )
    blocks.append(("h2", "The chapter's table, measured"))
    flow_task = results["flow_task"]
    header = [
        "architecture",
        "depth location",
        "H",
        "parameters: total (input / transition / output)",
        "× vanilla at equal width",
        "sequential depth h→h, x→y",
        f"ms/step ({flow_task})",
        f"gradient flow at init ({flow_task}, per seed)",
        f"gradient flow at the first evaluation ({flow_task})",
    ]
    for label, task in results["tasks"].items():
        header.append(
            f"{label} {task['held_out']} {task['metric_name']} (baseline {fmt(task['baseline'])})"
        )
    rows = []
    for row in results["table"]:
        p = row["parameters"]
        cells = [
            row["title"],
            row["depth_location"],
            str(row["hidden"]),
            f"{p['total']} ({p['input']} / {p['transition']} / {p['output']})",
            f"{row['parameters_vs_vanilla_at_equal_width']:.3g}",
            f"{row['sequential_depth']['recurrent']}, {row['sequential_depth']['input_to_output']}",
            fmt(row["ms_per_step"]),
            flow_cell(row["flow_init"]),
            flow_cell(row["flow_first_eval"]),
        ]
        cells += [_summary_cell(row["metrics"][label]) for label in results["tasks"]]
        rows.append(cells)
    blocks.append(("table", (header, rows)))
    equal = results["equal_width"]
    blocks.append(
        (
            "p",
            f"Parameters at equal width (H={equal['hidden']}, the vanilla RNN's width at the "
            f"budget, on {equal['task']}): "
            + ", ".join(f"{a} {n}" for a, n in equal["totals"].items())
            + ". The chapter's 'high' and 'very high' describe this: at the same H, depth "
            "multiplies the weights. The comparison itself holds the count fixed instead and "
            "lets H shrink.",
        )
    )
    blocks.append(("h2", "Verdicts on the chapter's claims"))
    claim_rows = [
        [
            c["pattern"],
            c["cell"],
            c["claim"],
            c["rule"],
            c["deciding"],
            claim_test_cell(c),
            f"**{c['verdict']}**",
        ]
        for c in results["claims"]
    ]
    blocks.append(
        (
            "table",
            (["pattern", "column", "claim", "rule", "measured", "test", "verdict"], claim_rows),
        )
    )
    texts = []
    for when, label in (("init", "at initialisation"), ("first_eval", "at the first evaluation")):
        relation = results["flow_and_learning"][when]
        (ls, ns), (lu, nu) = relation["table"]["stable"], relation["table"]["not stable"]
        text = (
            f"Worst layer stable {label}: {ls} of {ns} runs learnt their task; not stable: "
            f"{lu} of {nu}."
        )
        if relation["test"] is not None:
            test = relation["test"]
            text += (
                f" {test['test']}, p {fmt(test['p_value'])} that the stable runs learn "
                f"more often; {test['effect']} {fmt(test['effect_value'])} "
                f"[{fmt(test['effect_interval'][0])}, {fmt(test['effect_interval'][1])}]."
            )
        texts.append(text)
    blocks.append(("h2", "Does the gradient flow predict which runs learn?"))
    blocks.append(
        (
            "p",
            "Every reporting run of every configuration, pooled (exploratory: outside the "
            "families of claims, and runs of one configuration are not independent of its "
            "architecture). "
            + " ".join(texts)
            + " Per seed, the worst layer's flow at every evaluation is in results.json "
            "(runs[*].flow_during_training).",
        )
    )
    blocks.append(("h2", "Every reporting seed"))
    seeds = protocol["reporting_seeds_used"]
    header = ["architecture", "task", "q", "H", "role"]
    header += [f"seed {s}" for s in seeds] + ["learnt"]
    seed_rows = []
    for row in results["runs"]:
        seed_rows.append(
            [
                row["arch"],
                row["task"],
                str(row["transition_depth"]),
                str(row["hidden"]),
                ", ".join(row["roles"]),
            ]
            + [
                _seed_cell(value, worst)
                for value, worst in zip(
                    row["metric_per_seed"], row["flow_init"]["per_seed"], strict=True
                )
            ]
            + [f"{row['learned']} of {row['learned_of']}"]
        )
    blocks.append(
        (
            "p",
            "Each cell: the held-out metric of that seed, and in brackets its worst layer's "
            "log10 gradient ratio at initialisation and which layer (L1 reads the input).",
        )
    )
    blocks.append(("table", (header, seed_rows)))
    for key, title in (
        ("sweep", f"The depth sweep on {flow_task}, budget-matched"),
        ("sweep_fixed_width", f"The depth sweep on {flow_task}, at fixed width"),
    ):
        if not results.get(key):
            continue
        blocks.append(("h2", title))
        header = ["architecture", "q", "H", "parameters", "tuned", "flow at init", "held-out"]
        sweep_rows = []
        for arch, by_q in results[key].items():
            for q, row in by_q.items():
                metric = {
                    **row["metric"],
                    "learned": row["learned"],
                    "learned_of": row["learned_of"],
                }
                sweep_rows.append(
                    [
                        arch,
                        q,
                        str(row["hidden"]),
                        str(row["parameters"]["total"]),
                        _tuned_cell(row),
                        flow_cell(row["flow_init"]),
                        _summary_cell(metric),
                    ]
                )
        blocks.append(("table", (header, sweep_rows)))
    blocks.append(("h2", "Figures"))
    for name, caption in figures.items():
        blocks.append(("figure", (name, caption)))
    blocks.append(
        (
            "h2",
            "Tuning: the mean final validation metric of the tuning seeds at each rung",
        )
    )
    header = ["architecture", "task", "q", "H", "point", "rungs (steps: mean val)", "chosen"]
    tuning_rows = []
    for row in results["runs"]:
        for point in row["tuning"]:
            name = f"lr {point['lr']:g}" + (
                f", residual scale {point['residual_scale']:g}"
                if point.get("residual_scale") is not None
                else ""
            )
            chosen = (
                point["lr"] == row["lr"] and point.get("residual_scale") == row["residual_scale"]
            )
            tuning_rows.append(
                [
                    row["arch"],
                    row["task"],
                    str(row["transition_depth"]),
                    str(row["hidden"]),
                    name,
                    "; ".join(
                        f"{r['steps']}: {fmt(r['final_val_metric'])}" for r in point["rungs"]
                    ),
                    (_tuned_cell(row) if chosen else ""),
                ]
            )
    blocks.append(("table", (header, tuning_rows)))
    blocks.append(
        (
            "p",
            "n/a: the run diverged (a NaN or inf loss or gradient). Every number on this page is "
            "in results.json; every job's settings and full result are in jobs/.",
        )
    )
    return blocks


def render_markdown(blocks: list) -> str:
    """The blocks as GitHub-flavoured Markdown (figures as PNG links)."""
    lines = []
    for kind, content in blocks:
        if kind == "h1":
            lines += [f"# {content}", ""]
        elif kind == "h2":
            lines += [f"## {content}", ""]
        elif kind == "p":
            lines += [content, ""]
        elif kind == "code":
            lines += ["```", content, "```", ""]
        elif kind == "list":
            lines += [f"* {item}" for item in content] + [""]
        elif kind == "table":
            header, rows = content
            escape = lambda cell: str(cell).replace("|", "\\|")  # noqa: E731
            lines.append("| " + " | ".join(escape(c) for c in header) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
            lines.append("")
        elif kind == "figure":
            name, caption = content
            lines += [f"![{caption}]({name}.png)", "", f"*{caption}* ([SVG]({name}.svg))", ""]
    return "\n".join(lines)


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
figure { margin: 1.5em 0; } img { max-width: 100%; }
"""


def _inline(text: str) -> str:
    """Escape text for HTML, keeping ``**bold**``."""
    parts = html.escape(text).split("**")
    return "".join(f"<strong>{part}</strong>" if i % 2 else part for i, part in enumerate(parts))


def render_html(blocks: list, out) -> str:
    """The blocks as one self-contained HTML page: figures embedded as base64 PNG, no network."""
    out = Path(out)
    body = []
    for kind, content in blocks:
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{_inline(content)}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{_inline(content)}</p>")
        elif kind == "code":
            body.append(f"<pre><code>{html.escape(content)}</code></pre>")
        elif kind == "list":
            body.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in content) + "</ul>")
        elif kind == "table":
            header, rows = content
            head = "".join(f"<th>{_inline(str(c))}</th>" for c in header)
            cells = "".join(
                "<tr>" + "".join(f"<td>{_inline(str(c))}</td>" for c in row) + "</tr>"
                for row in rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
        elif kind == "figure":
            name, caption = content
            data = base64.b64encode((out / f"{name}.png").read_bytes()).decode("ascii")
            body.append(
                f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>numrnn compare</title>"
        f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_report(results: dict, figures: dict, out) -> dict:
    """Write results.json, report.md and report.html into ``out`` (the figures are already there).

    Parameters
    ----------
    results : dict
        :func:`numrnn.compare.results.collect_results` plus a ``"run"`` entry
        (command, versions, cores, workers, wall and CPU time, task_reason).
    figures : dict of str to str
        From :func:`write_figures`: file stem to caption.
    out : str or Path

    Returns
    -------
    dict of str to Path
        ``"markdown"``, ``"html"``, ``"json"``.
    """
    out = Path(out)
    results["figures"] = {
        name: {"caption": caption, "files": [f"{name}.png", f"{name}.svg"]}
        for name, caption in figures.items()
    }
    write_json_atomically(out / "results.json", results)
    blocks = report_blocks(results, figures)
    write_text_atomically(out / "report.md", render_markdown(blocks))
    write_text_atomically(out / "report.html", render_html(blocks, out))
    return {
        "markdown": out / "report.md",
        "html": out / "report.html",
        "json": out / "results.json",
    }
