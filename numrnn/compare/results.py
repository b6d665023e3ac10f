"""From the sweep's job results to the report's numbers: the table, the depth sweep, the verdicts.

Everything the report shows is computed here from a :class:`numrnn.compare.sweep.Sweep`
and written to ``results.json``; the Markdown and HTML pages only format these
numbers. Nothing is hard-coded: each of the chapter's claims has a rule with a
stated threshold, and its verdict is whatever the measurements give.

Conventions:

* the *held-out metric* of a run is its test-set metric for synthetic tasks
  (a fresh draw, seed 1; the learning rate was chosen on the validation set,
  seed 0) and its validation metric for the others;
* a run learnt its task when its held-out metric is below
  ``protocol.learned_fraction`` × the trivial baseline;
* gradient flow is the base-10 log of ``‖∂loss/∂h_1‖ / ‖∂loss/∂h_T‖`` on the
  probe of :func:`numrnn.diagnostics.gradient_flow` (T = ``protocol.flow_T``,
  loss on the last step), averaged over seeds; its verdict uses
  :func:`numrnn.diagnostics.flow_verdict`'s per-step thresholds.
"""

from __future__ import annotations

import math

import numpy as np

from .. import diagnostics
from ..presets import ARCHITECTURES
from .budget import count_parameters, preset_depth, solve_width

__all__ = ["ARCHITECTURE_TITLES", "depth_location", "collect_results", "TIMING_KEYS"]

ARCHITECTURE_TITLES = {
    "vanilla": "vanilla RNN",
    "hierarchical": "hierarchical (stacked, L=2)",
    "deep-transition": "deep transition (q=2)",
    "deep-transition-skip": "deep transition + skip (residual, q=2)",
    "deep-transition-shortcut": "DT(S) shortcut (Pascanu et al., q=2)",
    "hierarchical-deep-transition-skip": "stacked residual deep transition (L=2, q=2)",
}
"""The chapter's name of each preset, for the report's rows."""

TIMING_KEYS = (
    "ms_per_step",
    "steps_per_second",
    "seconds_per_step",
    "wall_time_seconds",
    "cpu_seconds",
    "timing",
)
"""Keys of results.json that are measured times: they differ from run to run; nothing else does."""


def _mean_std(values) -> dict:
    """Mean and (population) std of the finite values, their count and how many were not finite."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"mean": None, "std": None, "n": 0, "not_finite": len(values)}
    array = np.asarray(finite)
    return {
        "mean": float(array.mean()),
        "std": float(array.std()),
        "n": len(finite),
        "not_finite": len(values) - len(finite),
    }


def _log10_ratio(flow) -> float:
    """log10 of a job's gradient ratio: -inf: underflowed to 0, +inf: overflowed, NaN: none."""
    if flow is None:
        return math.nan
    if flow["log10_ratio"] is not None:
        return flow["log10_ratio"]
    return -math.inf if flow["ratio"] == 0 else math.inf


def _flow_summary(flows, T: int) -> dict:
    """Mean log10 ratio and decay rate over seeds, and the verdict of the mean ratio."""
    logs = [_log10_ratio(flow) for flow in flows]
    defined = [value for value in logs if not math.isnan(value)]
    if not defined:
        return {"log10_ratio": None, "rate": None, "verdict": None, "runs": 0}
    mean_log = float(np.mean(defined))  # -inf or +inf if one seed under/overflowed
    rates = [flow["rate"] for flow in flows if flow is not None and flow["rate"] is not None]
    ratio = 10.0**mean_log if math.isfinite(mean_log) else (0.0 if mean_log < 0 else math.inf)
    with np.errstate(over="ignore", under="ignore"):
        verdict = diagnostics.flow_verdict(float(ratio), T)
    return {
        "log10_ratio": mean_log if math.isfinite(mean_log) else None,
        "log10_ratio_limit": None
        if math.isfinite(mean_log)
        else ("-inf" if mean_log < 0 else "+inf"),
        "rate": float(np.mean(rates)) if rates else None,
        "verdict": verdict,
        "runs": len(defined),
    }


def depth_location(arch: str) -> str:
    """Where the preset puts its depth, read from its configuration."""
    from ..presets import build

    model_config = build(arch, 1, 1, 1, seed=0).config
    L = model_config.num_layers
    q = max(layer.transition_depth for layer in model_config.layers)
    skips = {layer.skip for layer in model_config.layers}
    skip = "" if skips == {"none"} else f", {'/'.join(sorted(skips - {'none'}))} skip"
    if L == 1 and q == 0:
        return "none (one nonlinearity per step)"
    if q == 0:
        return f"vertical stacking (L={L})"
    if L == 1:
        return f"within the step (q={q}{skip})"
    return f"both: stacking (L={L}) and within each step (q={q}{skip})"


def _transition_depths(configuration) -> list:
    """q of every layer of a configuration's model."""
    from ..presets import build

    model = build(configuration.arch, 1, 1, 1, transition_depth=configuration.transition_depth)
    return [layer.transition_depth for layer in model.config.layers]


def _held_out(result) -> float | None:
    if result["diverged"] is not None:
        return None
    return result["test_metric"] if result["held_out"] == "test" else result["final_val_metric"]


def _configuration_summary(protocol, configuration, tuning, chosen, seed_results) -> dict:
    first = seed_results[0]
    seconds = [r["timing"]["seconds_per_step"] for r in seed_results]
    seconds = [s for s in seconds if s is not None]
    mean_seconds = float(np.mean(seconds)) if seconds else None
    held_out = [_held_out(r) for r in seed_results]
    baseline = first["test_baseline"] if first["held_out"] == "test" else first["baseline"]
    metric = _mean_std(held_out)
    learned = None
    if metric["mean"] is not None:
        learned = (
            metric["not_finite"] == 0 and metric["mean"] < protocol.learned_fraction * baseline
        )
    return {
        "arch": configuration.arch,
        "task": configuration.task.label,
        "sequential_depth": first["sequential_depth"],
        "transition_depths": _transition_depths(configuration),
        "transition_depth": configuration.transition_depth,
        "hidden": configuration.hidden,
        "parameters": dict(configuration.parameters),
        "budget_relative_error": configuration.relative_error,
        "tuning": tuning,
        "lr": chosen["lr"],
        "residual_scale": chosen.get("residual_scale"),
        "ms_per_step": None if mean_seconds is None else mean_seconds * 1e3,
        "steps_per_second": None if mean_seconds is None else 1.0 / mean_seconds,
        "flow_init": _flow_summary([r["flow_init"] for r in seed_results], protocol.flow_T),
        "flow_trained": _flow_summary(
            [r["flow_trained"] for r in seed_results if r["diverged"] is None], protocol.flow_T
        ),
        "metric_name": first["metric_name"],
        "held_out": first["held_out"],
        "metric": metric,
        "metric_per_seed": held_out,
        "diverged": [r["diverged"] for r in seed_results],
        "baseline": baseline,
        "baseline_description": first["baseline_description"],
        "learned": learned,
    }


def _claim(pattern, cell, claim, rule, verdict, deciding, numbers) -> dict:
    return {
        "pattern": pattern,
        "cell": cell,
        "claim": claim,
        "rule": rule,
        "verdict": verdict,
        "deciding": deciding,
        "numbers": numbers,
    }


def _fmt(value, digits=3) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}g}"


def _judge_claims(protocol, rows, metrics_by_task, sweep_rows, equal_width) -> list:
    """Every claim of the chapter's table and principle, with its rule and measured verdict."""
    claims = []
    unmeasured = "not measured"
    flow = {arch: row["flow_init"] for arch, row in rows.items()}

    def supported(condition):
        return "supported" if condition else "not supported"

    def have(*archs):
        return all(arch in rows for arch in archs)

    # --- parameters ---------------------------------------------------------------------------
    ratio = equal_width["ratio_to_vanilla"]
    H = equal_width["hidden"]
    rule = f"at the same width H={H}, more parameters than the vanilla RNN"
    if "hierarchical" in ratio:
        claims.append(
            _claim(
                "hierarchical",
                "parameters",
                "high",
                rule,
                supported(ratio["hierarchical"] > 1),
                f"×{ratio['hierarchical']:.2f} the vanilla RNN's count",
                {"ratio_to_vanilla": ratio["hierarchical"]},
            )
        )
    for arch in ("deep-transition", "deep-transition-skip"):
        if arch in ratio:
            claims.append(
                _claim(
                    arch,
                    "parameters",
                    "very high",
                    f"at the same width H={H}, more parameters than hierarchical (which is 'high')",
                    supported(ratio[arch] > ratio["hierarchical"]),
                    f"×{ratio[arch]:.3f} vs hierarchical ×{ratio['hierarchical']:.3f} vanilla's "
                    "count",
                    {"ratio_to_vanilla": ratio[arch], "hierarchical": ratio["hierarchical"]},
                )
            )

    # --- gradient flow at initialisation -------------------------------------------------------
    T = protocol.flow_T
    if have("vanilla", "hierarchical"):
        a, b = flow["hierarchical"], flow["vanilla"]
        claims.append(
            _claim(
                "hierarchical",
                "gradient flow",
                "standard BPTT",
                f"same flow verdict at initialisation as the vanilla RNN (T={T}; per-step rate "
                f"< {diagnostics.VANISHING_BELOW} vanishing, > {diagnostics.EXPLODING_ABOVE} "
                "exploding)",
                supported(a["verdict"] == b["verdict"]),
                f"{a['verdict']} (log10 ratio {_fmt(a['log10_ratio'])}) vs vanilla "
                f"{b['verdict']} ({_fmt(b['log10_ratio'])})",
                {"log10_ratio": a["log10_ratio"], "vanilla_log10_ratio": b["log10_ratio"]},
            )
        )
    if have("vanilla", "deep-transition"):
        a, b = flow["deep-transition"], flow["vanilla"]
        worse = _lower(a, b)
        claims.append(
            _claim(
                "deep-transition",
                "gradient flow",
                "challenging",
                f"at initialisation the gradient reaching step 1 from step T={T} is smaller than "
                "the vanilla RNN's (lower log10 ratio)",
                supported(worse),
                f"log10 ratio {_fmt(a['log10_ratio'])} vs vanilla {_fmt(b['log10_ratio'])}",
                {"log10_ratio": a["log10_ratio"], "vanilla_log10_ratio": b["log10_ratio"]},
            )
        )
    if have("deep-transition", "deep-transition-skip"):
        a, b = flow["deep-transition-skip"], flow["deep-transition"]
        closer = _closer_to_stable(a, b)
        claims.append(
            _claim(
                "deep-transition-skip",
                "gradient flow",
                "improved",
                f"|log10 ratio| at initialisation (T={T}) closer to 0 (a stable flow) than the "
                "deep "
                "transition without skip",
                supported(closer),
                f"log10 ratio {_fmt(a['log10_ratio'])} ({a['verdict']}) vs without skip "
                f"{_fmt(b['log10_ratio'])} ({b['verdict']})",
                {"log10_ratio": a["log10_ratio"], "without_skip_log10_ratio": b["log10_ratio"]},
            )
        )

    # --- use cases ---------------------------------------------------------------------------
    sine = [label for label in metrics_by_task if label.split("-")[0] == "sine"]
    if (
        sine
        and "hierarchical" in metrics_by_task[sine[0]]
        and "vanilla" in metrics_by_task[sine[0]]
    ):
        task = sine[0]
        a, b = metrics_by_task[task]["hierarchical"], metrics_by_task[task]["vanilla"]
        claims.append(
            _claim(
                "hierarchical",
                "use case",
                "multi-scale temporal patterns",
                f"on {task} (a sum of sines of periods 6, 20 and 70 steps) a lower held-out mse "
                "than the vanilla RNN at the same budget, by more than the larger std over seeds",
                supported(_less(a, b)),
                f"{_fmt(a['mean'])} vs vanilla {_fmt(b['mean'])}",
                {"metric": a["mean"], "vanilla_metric": b["mean"]},
            )
        )
    else:
        claims.append(
            _claim(
                "hierarchical",
                "use case",
                "multi-scale temporal patterns",
                "needs the sine task (sum of sines at three time scales) and both architectures",
                unmeasured,
                "add --task sine:50",
                {},
            )
        )
    claims.append(
        _claim(
            "deep-transition",
            "use case",
            "complex state transitions",
            "no built-in task isolates the complexity of the state transition",
            unmeasured,
            "no task for it",
            {},
        )
    )

    # --- the depth sweep: very deep networks ------------------------------------------------
    sweep_task = protocol.sweep_task.label
    if sweep_rows and all(
        arch in sweep_rows for arch in ("deep-transition", "deep-transition-skip")
    ):
        q = max(protocol.depths)
        skip, plain = sweep_rows["deep-transition-skip"][q], sweep_rows["deep-transition"][q]
        claims.append(
            _claim(
                "deep-transition-skip",
                "use case",
                "very deep networks",
                f"at the deepest transition swept (q={q}) on {sweep_task}: learns the task "
                "(held-out "
                f"metric < {protocol.learned_fraction:g} × baseline, every seed finite) and beats "
                "the deep transition without skip by more than the larger std over seeds",
                supported(bool(skip["learned"]) and _less(skip["metric"], plain["metric"])),
                f"{_fmt(skip['metric']['mean'])} vs without skip {_fmt(plain['metric']['mean'])} "
                f"(baseline {_fmt(skip['baseline'])})",
                {"metric": skip["metric"]["mean"], "without_skip_metric": plain["metric"]["mean"]},
            )
        )
        flows = [sweep_rows["deep-transition"][q]["flow_init"] for q in protocol.depths]
        logs = [flow["log10_ratio"] for flow in flows]
        values = [_log_or_limit(flow) for flow in flows]  # -inf: underflowed to 0
        decreasing = len(values) > 1 and all(
            b < a for a, b in zip(values, values[1:], strict=False)
        )
        claims.append(
            _claim(
                "principle",
                "depth adds optimisation difficulty",
                "deeper transitions pass less gradient back in time",
                f"deep transition without skip: log10 gradient ratio at initialisation decreases "
                f"with every step of q in {list(protocol.depths)}",
                supported(decreasing),
                "log10 ratio by q: "
                + ", ".join(_fmt(v) if math.isfinite(v) else f"{v:+}" for v in values),
                {"log10_ratio_by_q": logs},
            )
        )
        claims.append(
            _claim(
                "principle",
                "skip connections are essential for very deep recurrent architectures",
                "at large q, with skip trains, without skip does not",
                f"at q={q} on {sweep_task}: with skip learns the task, without skip does not",
                supported(bool(skip["learned"]) and not plain["learned"]),
                f"learnt with skip: {bool(skip['learned'])}, without: {bool(plain['learned'])}",
                {"with_skip_learned": skip["learned"], "without_skip_learned": plain["learned"]},
            )
        )
    else:
        for cell in ("very deep networks", "depth adds optimisation difficulty"):
            claims.append(
                _claim(
                    "principle" if cell.startswith("depth") else "deep-transition-skip",
                    cell,
                    cell,
                    "needs the depth sweep with both deep-transition architectures",
                    unmeasured,
                    "no sweep",
                    {},
                )
            )

    # --- depth adds expressiveness; the combination -----------------------------------------
    deep = [a for a in rows if a != "vanilla"]
    if "vanilla" in rows and deep:
        wins = {}
        for task, by_arch in metrics_by_task.items():
            best = min(deep, key=lambda a: _key(by_arch[a]))
            wins[task] = (best, by_arch[best]["mean"], by_arch["vanilla"]["mean"])
        ok = all(
            _less(metrics_by_task[t][b], metrics_by_task[t]["vanilla"])
            for t, (b, _, _) in wins.items()
        )
        claims.append(
            _claim(
                "principle",
                "depth adds expressiveness",
                "some deep architecture beats the vanilla RNN on every task at the same budget",
                "on each task the best deep architecture's held-out metric is below the vanilla "
                "RNN's by more than the larger std over seeds",
                supported(ok),
                "; ".join(
                    f"{t}: {b} {_fmt(m)} vs vanilla {_fmt(v)}" for t, (b, m, v) in wins.items()
                ),
                {t: {"best": b, "metric": m, "vanilla_metric": v} for t, (b, m, v) in wins.items()},
            )
        )
    combo = "hierarchical-deep-transition-skip"
    parts = [a for a in ("hierarchical", "deep-transition-skip") if a in rows]
    if combo in rows and parts:
        ms = {a: rows[a]["ms_per_step"] for a in [combo, *parts]}
        per_step = {
            a: sum(q + 1 for q in rows[a]["transition_depths"]) for a in [combo, *parts]
        }  # nonlinearities applied to states per step, summed over layers
        claims.append(
            _claim(
                "principle",
                "combining patterns costs computation",
                "a stack of residual deep transitions needs more computation per step",
                "more sequential nonlinearities on the state path per step, summed over layers "
                "(Σ_l (q_l + 1): the products that cannot run in parallel over time) than each of "
                "its parts; measured times per step are in the table",
                supported(all(per_step[combo] > per_step[a] for a in parts)),
                "state nonlinearities per step "
                + ", ".join(f"{a} {per_step[a]}" for a in [combo, *parts]),
                {"state_nonlinearities_per_step": per_step},
            )
        )
        claims[-1]["timing"] = {"ms_per_step": ms}  # measured, differs from run to run
        for task, by_arch in metrics_by_task.items():
            claims.append(
                _claim(
                    "principle",
                    "combining patterns buys expressiveness",
                    "the stack of residual deep transitions is at least as good as its parts on "
                    f"{task}",
                    "neither hierarchical nor deep transition + skip is better by more than the "
                    "larger std over seeds",
                    supported(all(not _less(by_arch[a], by_arch[combo]) for a in parts)),
                    f"{_fmt(by_arch[combo]['mean'])} vs "
                    + ", ".join(f"{a} {_fmt(by_arch[a]['mean'])}" for a in parts),
                    {a: by_arch[a]["mean"] for a in [combo, *parts]},
                )
            )
    return claims


def _number(value) -> float:
    """None (not measured) as NaN, so that every comparison with it is False."""
    return math.nan if value is None else value


def _key(metric) -> float:
    """A metric summary as a number to compare: a run with a non-finite seed counts as +inf."""
    if metric["mean"] is None or metric["not_finite"]:
        return math.inf
    return metric["mean"]


def _less(a, b) -> bool:
    """Metric summary a clearly better (lower) than b: by more than one std over seeds.

    The gap between the means must exceed the larger of the two standard deviations, so a
    difference within the seeds' spread decides nothing. A diverged seed counts as +inf.
    """
    key_a, key_b = _key(a), _key(b)
    if key_a == math.inf:
        return False
    if key_b == math.inf:
        return True
    return key_b - key_a > max(a["std"] or 0.0, b["std"] or 0.0)


def _log_or_limit(flow) -> float:
    if flow["log10_ratio"] is not None:
        return flow["log10_ratio"]
    limit = flow.get("log10_ratio_limit")
    return {"-inf": -math.inf, "+inf": math.inf}.get(limit, math.nan)


def _lower(a, b) -> bool:
    return _log_or_limit(a) < _log_or_limit(b)


def _closer_to_stable(a, b) -> bool:
    return abs(_log_or_limit(a)) < abs(_log_or_limit(b))


def collect_results(protocol, sweep) -> dict:
    """Every number of the report, JSON-ready (apart from the run's own facts, added by the CLI).

    Parameters
    ----------
    protocol : numrnn.compare.Protocol
    sweep : numrnn.compare.sweep.Sweep

    Returns
    -------
    dict
        ``protocol``, ``tasks`` (per task: metric, baseline, held-out set),
        ``table`` (one row per architecture), ``equal_width`` (parameter counts
        at one shared width), ``runs`` (every configuration's summary, main
        table and sweep), ``sweep`` (per swept architecture, per q) and
        ``claims`` (rule, deciding numbers, verdict).
    """
    summaries = []
    for index, configuration in enumerate(sweep.configurations):
        grid = sweep.tuning_grids[index]
        tuning = []  # every point tried, with its tuning seeds' final validation metrics
        for k, point in enumerate(grid):
            per_seed = [run["final_val_metric"] for run in sweep.tuning_results[(index, k)]]
            mean = None if None in per_seed else float(np.mean(per_seed))
            tuning.append({**point, "final_val_metric": mean, "per_seed": per_seed})
        summaries.append(
            _configuration_summary(
                protocol,
                configuration,
                tuning,
                grid[sweep.chosen[index]],
                sweep.seed_results[index],
            )
        )
    main = {}
    for summary, configuration in zip(summaries, sweep.configurations, strict=True):
        if configuration.transition_depth == preset_depth(configuration.arch):
            main.setdefault(configuration.task.label, {})[configuration.arch] = summary
    flow_task = protocol.sweep_task.label
    first = next(iter(sweep.configurations))
    reference = solve_width(
        "vanilla",
        first.input_size,
        first.output_size,
        protocol.budget,
        tolerance=protocol.tolerance,
    )
    equal_counts = {  # every preset, run or not: counting needs no training
        arch: count_parameters(arch, first.input_size, first.output_size, reference.hidden)["total"]
        for arch in ARCHITECTURES
    }
    vanilla_count = reference.parameters["total"]
    equal_width = {
        "hidden": reference.hidden,
        "task": first.task.label,
        "vanilla_total": vanilla_count,
        "totals": equal_counts,
        "ratio_to_vanilla": {arch: equal_counts[arch] / vanilla_count for arch in equal_counts},
    }
    table = []
    for arch in protocol.architectures:
        row = main[flow_task][arch]
        table.append(
            {
                "arch": arch,
                "title": ARCHITECTURE_TITLES.get(arch, arch),
                "depth_location": depth_location(arch),
                "hidden": row["hidden"],
                "parameters": row["parameters"],
                "parameters_vs_vanilla_at_equal_width": equal_width["ratio_to_vanilla"][arch],
                "sequential_depth": row["sequential_depth"],
                "transition_depths": row["transition_depths"],
                "ms_per_step": row["ms_per_step"],
                "steps_per_second": row["steps_per_second"],
                "flow_init": row["flow_init"],
                "flow_trained": row["flow_trained"],
                "metrics": {
                    task.label: {
                        **main[task.label][arch]["metric"],
                        "lr": main[task.label][arch]["lr"],
                        "residual_scale": main[task.label][arch]["residual_scale"],
                    }
                    for task in protocol.tasks
                },
            }
        )
    rows = {row["arch"]: row for row in table}
    metrics_by_task = {
        task.label: {arch: main[task.label][arch]["metric"] for arch in protocol.architectures}
        for task in protocol.tasks
    }
    sweep_rows = {}
    for summary, configuration in zip(summaries, sweep.configurations, strict=True):
        if (
            configuration.task == protocol.sweep_task
            and configuration.arch in protocol.sweep_architectures
            and configuration.transition_depth in protocol.depths
        ):
            sweep_rows.setdefault(configuration.arch, {})[configuration.transition_depth] = summary
    sweep_rows = {  # q ascending, whatever order the configurations were planned in
        arch: {q: sweep_rows[arch][q] for q in sorted(sweep_rows[arch])}
        for arch in protocol.sweep_architectures
        if arch in sweep_rows
    }
    tasks = {}
    for task in protocol.tasks:
        any_row = main[task.label][protocol.architectures[0]]
        tasks[task.label] = {
            "settings": task.settings(),
            "metric_name": any_row["metric_name"],
            "held_out": any_row["held_out"],
            "baseline": any_row["baseline"],
            "baseline_description": any_row["baseline_description"],
        }
    claims = _judge_claims(protocol, rows, metrics_by_task, sweep_rows, equal_width)
    return {
        "protocol": protocol.to_dict(),
        "tasks": tasks,
        "flow_task": flow_task,
        "equal_width": equal_width,
        "table": table,
        "runs": summaries,
        "sweep": {
            arch: {str(q): summary for q, summary in by_q.items()}
            for arch, by_q in sweep_rows.items()
        },
        "claims": claims,
        "thresholds": {
            "vanishing_below": diagnostics.VANISHING_BELOW,
            "exploding_above": diagnostics.EXPLODING_ABOVE,
            "learned_fraction": protocol.learned_fraction,
            "budget_tolerance": protocol.tolerance,
        },
    }
