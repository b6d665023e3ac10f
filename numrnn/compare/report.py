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

from .budget import preset_depth
from .sweep import write_json_atomically, write_text_atomically

__all__ = [
    "FIGURES",
    "write_figures",
    "report_blocks",
    "render_markdown",
    "render_html",
    "write_report",
]

FIGURES = {
    "gradient_maps": "gradient-norm heat map per architecture at initialisation",
    "norm_vs_distance": "gradient norm vs distance T − t, one line per architecture",
    "jacobian_spectra": "singular values of the step Jacobians ∂h_t/∂h_{t-1}",
    "span_norms": "‖∂h_T/∂h_t‖₂ = ‖J_T ··· J_{t+1}‖₂ vs T − t at initialisation, one line per "
    "architecture (how a perturbation of h_t reaches h_T)",
    "depth_sweep_ratio": "log10 of ‖∂loss/∂h_1‖ / ‖∂loss/∂h_T‖ at initialisation vs transition "
    "depth q (mean ± std over seeds; a seed whose ‖dh_1‖ underflowed to 0 has no logarithm and is "
    "left out of the mean: the depth-sweep table shows -inf for it)",
    "depth_sweep_metric": "final held-out metric vs transition depth q (mean ± std over seeds)",
}
"""Figures written as ``NAME.png`` and ``NAME.svg`` (plus ``training_curves_<task>`` per task)."""


def fmt(value, digits: int = 3) -> str:
    """A number as shown in the report: ``digits`` significant digits, "n/a" for None."""
    if value is None:
        return "n/a"
    if isinstance(value, float) and not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


def _mean_std(metric) -> str:
    if metric["mean"] is None:
        return f"diverged ({metric['not_finite']} of {metric['not_finite']})"
    text = f"{fmt(metric['mean'])} ± {fmt(metric['std'])}"
    if metric["not_finite"]:
        text += f" ({metric['not_finite']} diverged)"
    return text


def _tuned_cell(row: dict) -> str:
    """``"lr 0.003"``, or ``"lr 0.003, residual scale 1"`` where the scale was tuned."""
    cell = f"lr {row['lr']:g}"
    if row.get("residual_scale") is not None:
        cell += f", residual scale {row['residual_scale']:g}"
    return cell


def _flow_cell(flow) -> str:
    if flow["log10_ratio"] is None:
        limit = flow.get("log10_ratio_limit")
        if limit is None:
            return "n/a"
        what = "‖dh_1‖ underflowed to 0" if limit == "-inf" else "‖dh_1‖ overflowed"
        return f"{limit} ({flow['verdict']}: {what})"
    return f"{fmt(flow['log10_ratio'])} ({flow['verdict']})"


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

    flows = {
        arch: np.asarray(result["flow_init"]["grad_norms"], dtype=np.float64)
        for arch, result in sweep.flow_results.items()
        if result["flow_init"] is not None
    }
    if flows:
        save("gradient_maps", plotting.plot_gradient_norm_maps(flows), FIGURES["gradient_maps"])
        save(
            "norm_vs_distance",
            plotting.plot_norm_vs_distance(flows).figure,
            FIGURES["norm_vs_distance"],
        )
    spans = {
        arch: 10.0 ** np.array([-np.inf if v is None else v for v in result["span_log10"]])
        for arch, result in sweep.flow_results.items()
    }
    ax = plotting.plot_norm_vs_distance(spans, order="distance")
    ax.set_ylabel(r"$\Vert\partial h_T/\partial h_t\Vert_2$ (mean over sequences)")
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
        for index, configuration in enumerate(sweep.configurations):
            row = results["runs"][index]
            if (
                configuration.task.label == task_label
                and row["arch"] in results["protocol"]["architectures"]
            ):
                if row["transition_depth"] != preset_depth(row["arch"]):
                    continue
                histories[row["arch"]] = [result["history"] for result in sweep.seed_results[index]]
        figure = plotting.plot_training_curves(
            histories,
            metric_name=f"validation {task['metric_name']}",
            baseline=task["baseline"] if task["held_out"] == "validation" else None,
        )
        figure.suptitle(f"training on {task_label}: every seed at its chosen learning rate")
        save(f"training_curves_{task_label}", figure, f"training curves on {task_label}")
    if results["sweep"]:
        depths = results["protocol"]["depths"]
        ratios, metrics = {}, {}
        for arch, by_q in results["sweep"].items():
            ratios[arch] = [_seed_log_ratios(sweep, arch, q, results) for q in depths]
            metrics[arch] = [
                [np.nan if v is None else v for v in by_q[str(q)]["metric_per_seed"]]
                for q in depths
            ]
        save(
            "depth_sweep_ratio",
            plotting.plot_depth_sweep(
                depths,
                ratios,
                f"log10 gradient ratio at init (T={results['protocol']['flow_T']})",
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


def _seed_log_ratios(sweep, arch, q, results) -> list:
    """log10 gradient ratio at init of every seed of one swept configuration (NaN: none)."""
    for index, configuration in enumerate(sweep.configurations):
        if (
            configuration.arch == arch
            and configuration.transition_depth == q
            and configuration.task.label == results["flow_task"]
        ):
            values = []
            for result in sweep.seed_results[index]:
                flow = result["flow_init"]
                values.append(
                    np.nan if flow is None or flow["log10_ratio"] is None else flow["log10_ratio"]
                )
            return values
    return [np.nan]


# --------------------------------------------------------------------------- the page as blocks


def report_blocks(results: dict, figures: dict) -> list:
    """The report as a list of blocks ``(kind, content)``.

    Kinds: ``"h1"``, ``"h2"``, ``"p"`` (text), ``"table"`` (header, rows),
    ``"figure"`` (file stem, caption), ``"code"`` (text), ``"list"`` (items).
    """
    protocol, run = results["protocol"], results["run"]
    blocks = [("h1", "numrnn compare: the chapter's table, measured")]
    blocks.append(("code", run["command"]))
    blocks.append(
        (
            "p",
            f"numrnn {run['numrnn']}, NumPy {run['numpy']}, Python {run['python']}, "
            f"{run['cores']} CPU cores, {run['workers']} worker(s) ({run['executor']}); wall time "
            f"{run['wall_time_seconds']:.1f} s (CPU time of all its processes "
            f"{fmt(run['cpu_seconds'])} s); {run['jobs_run']} jobs run, {run['jobs_cached']} found "
            "done in jobs/. Times per step are measured inside the worker processes while other "
            "jobs "
            "run beside them: compare them with each other, not with other machines.",
        )
    )
    blocks.append(("h2", "The protocol: a fair comparison"))
    tasks = ", ".join(
        f"{label} ({task['metric_name']}, trivial baseline {fmt(task['baseline'])}: "
        f"{task['baseline_description']})"
        for label, task in results["tasks"].items()
    )
    blocks.append(
        (
            "list",
            [
                f"Tasks: {tasks}. " + results["run"]["task_reason"],
                f"Parameter budget {protocol['budget']}: every model's hidden size H is solved so "
                "its "
                f"count is within {protocol['tolerance']:.0%} of it (counts below).",
                "Learning rate chosen per architecture and task from the grid "
                f"{protocol['lr_grid']}: "
                "the best mean final validation metric over seeds "
                f"0..{protocol['tuning_seeds'] - 1} (one seed picks the rate that was lucky "
                "once; every run on validation data is listed below); the other seeds use the "
                "chosen rate. An architecture with a residual "
                "branch (h_t = h_{t-1} + φ(…)) also has the branch's initial scale chosen, "
                f"jointly with the rate, from {protocol['residual_scales']} (numrnn.init: 0.01 "
                "starts the state near the identity path, numrnn train's default; 1 is the plain "
                "draw), because which one learns depends on the optimizer and the step budget; "
                f"so it gets {len(protocol['residual_scales'])} times as many tuning runs.",
                f"Optimizer {protocol['optimizer']}, global-norm clipping at {protocol['clip']}, "
                f"{protocol['steps']} steps of batch {protocol['batch_size']}, "
                f"{protocol['dtype']}, "
                f"seeds 0..{protocol['seeds'] - 1} (weights and batches), the same for every "
                "architecture.",
                "Held-out metric: the test set, which took no part in choosing the learning rate "
                "(a fresh draw, seed 1, for synthetic tasks; the test split of a data set that has "
                "one, such as the chorales' test pieces; otherwise the validation set, as each "
                "task's column header says); mean ± std over seeds.",
                f"Gradient flow: the probe of numrnn.diagnostics.gradient_flow (standard normal "
                f"inputs, mse on the last of T={protocol['flow_T']} steps, batch "
                f"{protocol['flow_batch']}); log10 of ‖∂loss/∂h_1‖/‖∂loss/∂h_T‖ of the top layer, "
                "mean over seeds; verdict from the per-step rate ratio^(1/(T-1)): below "
                f"{results['thresholds']['vanishing_below']} vanishing, above "
                f"{results['thresholds']['exploding_above']} exploding, else stable.",
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
        "steps/s",
        f"log10 grad ratio at init, T={protocol['flow_T']}",
        "decay/step at init",
        f"log10 grad ratio trained ({flow_task})",
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
            fmt(row["steps_per_second"]),
            _flow_cell(row["flow_init"]),
            fmt(row["flow_init"]["rate"]),
            _flow_cell(row["flow_trained"]),
        ]
        cells += [_mean_std(row["metrics"][label]) for label in results["tasks"]]
        rows.append(cells)
    blocks.append(("table", (header, rows)))
    equal = results["equal_width"]
    blocks.append(
        (
            "p",
            f"Parameters at equal width (H={equal['hidden']}, the vanilla RNN's width at the "
            "budget, on "
            f"{equal['task']}): " + ", ".join(f"{a} {n}" for a, n in equal["totals"].items()) + ". "
            "The chapter's 'high' and 'very high' describe this: at the same H, depth multiplies "
            "the "
            "weights. The comparison itself holds the count fixed instead and lets H shrink.",
        )
    )
    blocks.append(("h2", "Verdicts on the chapter's claims"))
    claim_rows = [
        [c["pattern"], c["cell"], c["claim"], c["rule"], c["deciding"], f"**{c['verdict']}**"]
        for c in results["claims"]
    ]
    blocks.append(
        ("table", (["pattern", "column", "claim", "rule", "measured", "verdict"], claim_rows))
    )
    disagreements = [c for c in results["claims"] if c["verdict"] == "not supported"]
    if disagreements:
        blocks.append(
            (
                "p",
                "Where the measurements disagree with the chapter: "
                + "; ".join(
                    f"{c['pattern']} / {c['claim']} ({c['deciding']})" for c in disagreements
                )
                + ". These are measurements of these models, at this budget and step count, with "
                "numrnn's default initialisation; a failed default is shown here, not hidden.",
            )
        )
    else:
        blocks.append(("p", "Every measured claim is supported by these runs."))
    if results["sweep"]:
        blocks.append(("h2", f"The depth sweep on {flow_task}"))
        header = [
            "architecture",
            "q",
            "H",
            "parameters",
            "tuned",
            "log10 grad ratio at init",
            "held-out metric",
        ]
        sweep_rows = []
        for arch, by_q in results["sweep"].items():
            for q, row in by_q.items():
                sweep_rows.append(
                    [
                        arch,
                        q,
                        str(row["hidden"]),
                        str(row["parameters"]["total"]),
                        _tuned_cell(row),
                        _flow_cell(row["flow_init"]),
                        _mean_std(row["metric"]),
                    ]
                )
        blocks.append(("table", (header, sweep_rows)))
    blocks.append(("h2", "Figures"))
    for name, caption in figures.items():
        blocks.append(("figure", (name, caption)))
    blocks.append(
        (
            "h2",
            "Tuning: the mean final validation metric of the tuning seeds at each point of the "
            "grid",
        )
    )
    header = ["architecture", "task", "q", "H", "parameters", "residual scale"]
    header += [f"lr {lr:g}" for lr in protocol["lr_grid"]] + ["chosen"]
    lr_rows = []
    for row in results["runs"]:
        by_scale = {}  # one line per residual scale (one line, "–", for the others)
        for point in row["tuning"]:
            by_scale.setdefault(point.get("residual_scale"), {})[point["lr"]] = point
        for scale, by_lr in by_scale.items():
            lr_rows.append(
                [
                    row["arch"],
                    row["task"],
                    str(row["transition_depth"]),
                    str(row["hidden"]),
                    str(row["parameters"]["total"]),
                    "–" if scale is None else f"{scale:g}",
                ]
                + [fmt(by_lr[lr]["final_val_metric"]) for lr in protocol["lr_grid"]]
                + [_tuned_cell(row) if scale == row["residual_scale"] else ""]
            )
    blocks.append(("table", (header, lr_rows)))
    blocks.append(
        (
            "p",
            "n/a: the run diverged (a NaN or inf loss or gradient). Every number on this page is "
            "in "
            "results.json; every job's settings and full result are in jobs/.",
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
