"""From the sweep's job results to the report's numbers: the table, the depth sweeps, the verdicts.

Everything the report shows is computed here from a :class:`numrnn.compare.sweep.Sweep`
and written to ``results.json``; the Markdown and HTML pages only format these
numbers. The rules below are code constants, fixed before any run: no
threshold is chosen from the data.

* The *held-out metric* of a run is its test-set metric for synthetic tasks
  (a fresh draw; the tuning point was chosen on the validation set) and its
  validation metric for the others. Only the **reporting seeds** count; the
  tuning seeds chose the point and are never reported as measurements.
* A run *learnt* its task when its held-out metric is below
  :data:`LEARNED_FRACTION` × the task's trivial baseline; a configuration's
  count reads "4 of 6 seeds".
* A comparative claim is decided by a **one-sided test** on the reporting
  seeds' per-seed values (:func:`numrnn.compare.stats.less_than`, exact
  Mann–Whitney, failed runs worst; or :func:`~numrnn.compare.stats.fisher_fewer_failures`
  on learned counts), in both directions. Within each family of claims
  (:data:`FAMILIES`) the p-values of both directions of every claim are
  adjusted together by Holm's method, and :func:`~numrnn.compare.stats.three_way`
  gives *supported* (the claim's direction at adjusted p ≤ :data:`ALPHA`),
  *contradicted* (the opposite direction) or *inconclusive*.
* A claim about a count that involves no randomness (parameters at one
  width, nonlinearities per step) is exact arithmetic: supported or
  contradicted, no test.
* Gradient flow is :func:`numrnn.diagnostics.flow_by_layer` (float64, the
  task's own inputs and length, every layer) per seed, at initialisation and
  at every evaluation; a model's verdict is its *worst* layer's, and that
  layer is named. A ratio that underflowed is kept as its bound, "< 10^−k".
"""

from __future__ import annotations

import math

import numpy as np

from .. import diagnostics
from ..presets import ARCHITECTURES
from . import stats
from .budget import count_parameters, solve_width

__all__ = [
    "ALPHA",
    "LEARNED_FRACTION",
    "RELIABLY_LEARNED",
    "FAMILIES",
    "ARCHITECTURE_TITLES",
    "depth_location",
    "worst_layer",
    "compare_seeds",
    "decide",
    "collect_results",
    "TIMING_KEYS",
]

ALPHA = 0.05
"""Family-wise level of every verdict (Holm over each family of claims)."""

LEARNED_FRACTION = 0.5
"""A run learnt its task when its held-out metric is below this fraction of the trivial baseline."""

RELIABLY_LEARNED = 5 / 6
"""A configuration learns *reliably* when at least this fraction of its reporting seeds learnt."""

N_RESAMPLES = 10_000
"""Bootstrap resamples of each effect's interval (and most permutations of a tied test)."""

BOOTSTRAP_SEED = 0
"""Seed of the bootstrap intervals (they describe; the exact p-values decide)."""

FAMILIES = {
    "gradient flow": "the flow claims: deep transition vs vanilla, skip vs no skip, q_max vs q_min",
    "use cases": "each pattern's use case on the task chosen to test it, and very deep transitions",
    "principles": "depth adds expressiveness; combining buys expressiveness (a claim per task)",
}
"""The families of claims Holm adjusts over (each claim's two directions together)."""

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


def worst_layer(flow) -> dict | None:
    """The worst layer of one per-layer flow measurement (``FlowByLayer.to_dict()``).

    Parameters
    ----------
    flow : dict or None
        A job's ``flow_init`` or one entry of its ``flow_during_training``.

    Returns
    -------
    dict or None
        ``{"layer", "value", "bound", "verdict"}``: ``value`` is the worst
        layer's log10 ratio, or, where ``bound`` is ``"<"`` (underflow even in
        float64) or ``">"`` (overflow), the bound the true value lies beyond;
        ``verdict`` is the model's (its worst layer's). None: not measured.
    """
    if flow is None:
        return None
    worst = flow["worst"]
    return {
        "layer": worst["layer"],
        "value": worst["log10_ratio"],
        "bound": worst["bound"],
        "verdict": flow["verdict"],
    }


def _flow_column(seed_flows) -> dict:
    """Per seed: the worst layer of each flow, and the verdict every seed agrees on (or "mixed")."""
    worst = [worst_layer(flow) for flow in seed_flows]
    measured = [w for w in worst if w is not None]
    verdicts = sorted({w["verdict"] for w in measured})
    layers = sorted({w["layer"] for w in measured})
    values = [w["value"] for w in measured]
    return {
        "per_seed": worst,
        "verdict": verdicts[0] if len(verdicts) == 1 else ("mixed" if verdicts else None),
        "verdict_counts": {v: sum(w["verdict"] == v for w in measured) for v in verdicts},
        "worst_layers": layers,
        "median_value": float(np.median(values)) if values else None,
        "any_bound": any(w["bound"] is not None for w in measured),
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


def _edge(grid: list, chosen: dict) -> str | None:
    """Which edge of the learning-rate range the chosen point sits on (None: inside)."""
    rates = sorted({point["lr"] for point in grid})
    if len(rates) < 2:
        return None
    if chosen["lr"] == rates[0]:
        return "lowest learning rate"
    if chosen["lr"] == rates[-1]:
        return "highest learning rate"
    return None


def _configuration_summary(protocol, configuration, grid, tuning, chosen, seed_results) -> dict:
    first = seed_results[0]
    seconds = [r["timing"]["seconds_per_step"] for r in seed_results]
    seconds = [s for s in seconds if s is not None]
    mean_seconds = float(np.mean(seconds)) if seconds else None
    held_out = [_held_out(r) for r in seed_results]
    baseline = first["test_baseline"] if first["held_out"] == "test" else first["baseline"]
    learned = [value is not None and value < LEARNED_FRACTION * baseline for value in held_out]
    first_eval = [
        r["flow_during_training"]["flow"][1] if len(r["flow_during_training"]["flow"]) > 1 else None
        for r in seed_results
    ]
    final = [
        r["flow_during_training"]["flow"][-1] if r["diverged"] is None else None
        for r in seed_results
    ]
    return {
        "arch": configuration.arch,
        "task": configuration.task.label,
        "roles": list(configuration.roles),
        "sequential_depth": first["sequential_depth"],
        "transition_depths": _transition_depths(configuration),
        "transition_depth": configuration.transition_depth,
        "hidden": configuration.hidden,
        "parameters": dict(configuration.parameters),
        "budget_relative_error": configuration.relative_error,
        "tuning": tuning,
        "lr": chosen["lr"],
        "residual_scale": chosen.get("residual_scale"),
        "grid_edge": _edge(grid, chosen),
        "ms_per_step": None if mean_seconds is None else mean_seconds * 1e3,
        "steps_per_second": None if mean_seconds is None else 1.0 / mean_seconds,
        "seeds": list(protocol.reporting_seed_list),
        "flow_init": _flow_column([r["flow_init"] for r in seed_results]),
        "flow_first_eval": _flow_column(first_eval),
        "flow_trained": _flow_column(final),
        "flow_eval_steps": first["flow_during_training"]["eval_step"],
        "flow_during_training": [
            [worst_layer(flow) for flow in r["flow_during_training"]["flow"]] for r in seed_results
        ],
        "metric_name": first["metric_name"],
        "held_out": first["held_out"],
        "metric": stats.summarize(held_out),
        "metric_per_seed": held_out,
        "diverged": [r["diverged"] for r in seed_results],
        "baseline": baseline,
        "baseline_description": first["baseline_description"],
        "learned_per_seed": learned,
        "learned": sum(learned),
        "learned_of": len(learned),
    }


def _fmt(value, digits=3) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}g}"


def compare_seeds(a, b) -> dict:
    """Both one-sided Mann–Whitney tests of "a lower than b" and its opposite, JSON-ready.

    Parameters
    ----------
    a, b : sequence of float or None, lengths n_a, n_b
        Per-seed values (lower is better; None, NaN or inf: a failed run, ranked worst).

    Returns
    -------
    dict
        ``test``, ``p_for`` (a lower), ``p_against`` (b lower), the median
        difference ``effect_value`` with its bootstrap ``effect_interval``,
        ``level`` and ``n``; :func:`decide` adds the Holm-adjusted p's.
    """
    result = stats.less_than(a, b, seed=BOOTSTRAP_SEED, n_resamples=N_RESAMPLES)
    against = stats.less_than(b, a, seed=BOOTSTRAP_SEED, n_resamples=N_RESAMPLES)
    return {
        "test": result.test,
        "p_for": result.p_value,
        "p_against": against.p_value,
        "effect": "median difference",
        "effect_value": _json(result.effect),
        "effect_interval": [_json(result.effect_low), _json(result.effect_high)],
        "level": result.level,
        "n": [len(a), len(b)],
    }


def _fisher(learned_a: int, n_a: int, learned_b: int, n_b: int) -> dict:
    """Both one-sided Fisher tests of "a learns more often than b" and its opposite."""
    result = stats.fisher_fewer_failures(learned_a, n_a, learned_b, n_b)
    against = stats.fisher_fewer_failures(learned_b, n_b, learned_a, n_a)
    return {
        "test": result.test,
        "p_for": result.p_value,
        "p_against": against.p_value,
        "effect": "difference in learned fractions",
        "effect_value": _json(result.effect),
        "effect_interval": [_json(result.effect_low), _json(result.effect_high)],
        "level": result.level,
        "n": [n_a, n_b],
    }


def _json(value):
    return None if value is None or not math.isfinite(value) else float(value)


def _claim(pattern, cell, claim, rule, deciding, numbers, *, family=None, test=None, exact=None):
    """One claim: a tested one (``family`` and ``test``) or an exact count (``exact``: bool)."""
    return {
        "pattern": pattern,
        "cell": cell,
        "claim": claim,
        "rule": rule,
        "family": family,
        "test": test,
        "verdict": None if exact is None else ("supported" if exact else "contradicted"),
        "deciding": deciding,
        "numbers": numbers,
    }


def _unmeasured(pattern, cell, claim, why) -> dict:
    return {
        "pattern": pattern,
        "cell": cell,
        "claim": claim,
        "rule": why,
        "family": None,
        "test": None,
        "verdict": "not measured",
        "deciding": "",
        "numbers": {},
    }


def _medians(a: dict, b: dict) -> str:
    """``"median 0.012 (IQR 0.010–0.020) vs 0.150 (0.140–0.160)"``."""
    return (
        f"median {_fmt(a['median'])} (IQR {_fmt(a['q1'])}–{_fmt(a['q3'])}) vs "
        f"{_fmt(b['median'])} ({_fmt(b['q1'])}–{_fmt(b['q3'])})"
    )


def _values(flow_column: dict, absolute: bool = False) -> list:
    """Per-seed worst-layer log10 ratios (a bound where one underflowed), for a test."""
    values = [None if w is None else w["value"] for w in flow_column["per_seed"]]
    return [None if v is None else (abs(v) if absolute else v) for v in values]


def _judge_claims(protocol, rows, main, sweep_rows, width_rows, equal_width) -> list:
    """Every claim of the chapter's table and principle, with its rule, test and numbers."""
    claims = []

    def have(*archs):
        return all(arch in rows for arch in archs)

    # --- parameters: exact counts ----------------------------------------------------------
    ratio = equal_width["ratio_to_vanilla"]
    H = equal_width["hidden"]
    if "hierarchical" in ratio:
        claims.append(
            _claim(
                "hierarchical",
                "parameters",
                "high",
                f"at the same width H={H}, more parameters than the vanilla RNN (exact count)",
                f"×{ratio['hierarchical']:.2f} the vanilla RNN's count",
                {"ratio_to_vanilla": ratio["hierarchical"]},
                exact=ratio["hierarchical"] > 1,
            )
        )
    for arch in ("deep-transition", "deep-transition-skip"):
        if arch in ratio and "hierarchical" in ratio:
            claims.append(
                _claim(
                    arch,
                    "parameters",
                    "very high",
                    f"at the same width H={H}, more parameters than hierarchical (exact count)",
                    f"×{ratio[arch]:.3f} vs hierarchical ×{ratio['hierarchical']:.3f}",
                    {"ratio_to_vanilla": ratio[arch], "hierarchical": ratio["hierarchical"]},
                    exact=ratio[arch] > ratio["hierarchical"],
                )
            )

    # --- gradient flow at initialisation, per seed, worst layer --------------------------------
    sweep_task = protocol.sweep_task.label
    flow = {arch: rows[arch]["flow_init"] for arch in rows}
    if have("vanilla", "hierarchical"):
        a, b = flow["hierarchical"], flow["vanilla"]
        claims.append(
            _claim(
                "hierarchical",
                "gradient flow",
                "standard BPTT",
                f"worst-layer log10 ratio at init on {sweep_task} no different from the vanilla "
                "RNN's: an equivalence claim, so a difference in either direction contradicts it "
                "and no difference leaves it inconclusive (a test cannot prove equality)",
                f"median {_fmt(a['median_value'])} vs vanilla {_fmt(b['median_value'])}",
                {"hierarchical": _values(a), "vanilla": _values(b)},
                family="gradient flow",
                test={**compare_seeds(_values(a), _values(b)), "equivalence": True},
            )
        )
    if have("vanilla", "deep-transition"):
        a, b = flow["deep-transition"], flow["vanilla"]
        claims.append(
            _claim(
                "deep-transition",
                "gradient flow",
                "challenging",
                f"worst-layer log10 ratio at init on {sweep_task} lower than the vanilla RNN's",
                f"median {_fmt(a['median_value'])} vs vanilla {_fmt(b['median_value'])}",
                {"deep-transition": _values(a), "vanilla": _values(b)},
                family="gradient flow",
                test=compare_seeds(_values(a), _values(b)),
            )
        )
    if have("deep-transition", "deep-transition-skip"):
        a, b = flow["deep-transition-skip"], flow["deep-transition"]
        claims.append(
            _claim(
                "deep-transition-skip",
                "gradient flow",
                "improved",
                f"|worst-layer log10 ratio| at init on {sweep_task} closer to 0 (stable) than "
                "the deep transition without skip",
                f"median |·| {_fmt(np.median([v for v in _values(a, True) if v is not None]))} "
                f"vs {_fmt(np.median([v for v in _values(b, True) if v is not None]))}",
                {"with_skip": _values(a), "without_skip": _values(b)},
                family="gradient flow",
                test=compare_seeds(_values(a, True), _values(b, True)),
            )
        )
    plain_sweep = sweep_rows.get("deep-transition", {})
    if len(plain_sweep) > 1:
        q_low, q_high = min(plain_sweep), max(plain_sweep)
        a, b = plain_sweep[q_high]["flow_init"], plain_sweep[q_low]["flow_init"]
        claims.append(
            _claim(
                "principle",
                "depth adds optimisation difficulty",
                "deeper transitions pass less gradient back in time",
                f"deep transition without skip, budget-matched, on {sweep_task}: worst-layer "
                f"log10 ratio at init lower at q={q_high} than at q={q_low}",
                "median by q: "
                + ", ".join(
                    f"q={q} {_fmt(row['flow_init']['median_value'])}"
                    + (" (a bound)" if row["flow_init"]["any_bound"] else "")
                    for q, row in plain_sweep.items()
                ),
                {f"q={q}": _values(row["flow_init"]) for q, row in plain_sweep.items()},
                family="gradient flow",
                test=compare_seeds(_values(a), _values(b)),
            )
        )

    # --- use cases: a task for each -------------------------------------------------------------
    def versus(task, arch, other, pattern, cell, claim, why):
        if task is None or arch not in main.get(task, {}) or other not in main.get(task, {}):
            claims.append(_unmeasured(pattern, cell, claim, f"needs {why}"))
            return
        a, b = main[task][arch]["metric"], main[task][other]["metric"]
        claims.append(
            _claim(
                pattern,
                cell,
                claim,
                f"on {task} ({why}): held-out {main[task][arch]['metric_name']} lower than the "
                f"{other}'s at the same budget",
                _medians(a, b),
                {arch: a["values"], other: b["values"]},
                family="use cases",
                test=compare_seeds(a["values"], b["values"]),
            )
        )

    sine = next((t for t in main if t.startswith("sine")), None)
    versus(
        sine,
        "hierarchical",
        "vanilla",
        "hierarchical",
        "use case",
        "multi-scale temporal patterns",
        "a sum of sines of periods 6, 20 and 70 steps, scored after a burn-in, so that the "
        "phase transient of the first steps does not decide",
    )
    count = next((t for t in main if t.startswith("count-mod")), None)
    versus(
        count,
        "deep-transition",
        "vanilla",
        "deep-transition",
        "use case",
        "complex state transitions",
        "the running count of ones mod k at every step: each state update is a hard "
        "nonlinear function of state and input",
    )
    skip_sweep = sweep_rows.get("deep-transition-skip", {})
    for label, by_arch in (("budget-matched", sweep_rows), ("fixed width", width_rows)):
        plain_rows, skip_rows = (
            by_arch.get("deep-transition", {}),
            by_arch.get("deep-transition-skip", {}),
        )
        common = sorted(set(plain_rows) & set(skip_rows))
        if not common:
            continue
        q = common[-1]
        skip, plain = skip_rows[q], plain_rows[q]
        claims.append(
            _claim(
                "deep-transition-skip",
                "use case",
                f"very deep networks ({label})",
                f"at q={q} on {sweep_task}, {label} (H={skip['hidden']} with skip, "
                f"{plain['hidden']} without): held-out metric lower with the skip",
                _medians(skip["metric"], plain["metric"])
                + f"; learnt {skip['learned']} of {skip['learned_of']} vs "
                f"{plain['learned']} of {plain['learned_of']} seeds",
                {"with_skip": skip["metric"]["values"], "without_skip": plain["metric"]["values"]},
                family="use cases",
                test=compare_seeds(skip["metric"]["values"], plain["metric"]["values"]),
            )
        )
    if skip_sweep and plain_sweep:
        q_low, q = min(plain_sweep), max(set(plain_sweep) & set(skip_sweep))
        skip, plain, shallow = skip_sweep[q], plain_sweep[q], plain_sweep[q_low]
        reliable = shallow["learned"] >= RELIABLY_LEARNED * shallow["learned_of"]
        claims.append(
            _claim(
                "principle",
                "skip connections are essential for very deep recurrent architectures",
                "at large q, with skip trains, without skip does not",
                f"at q={q} on {sweep_task} (budget-matched), the skip learns the task (held-out "
                f"metric < {LEARNED_FRACTION:g} × baseline) on more seeds than the plain "
                f"transition; meaningful where the plain q={q_low} transition learns reliably "
                f"(≥ {RELIABLY_LEARNED:.0%} of seeds)",
                f"learnt {skip['learned']} of {skip['learned_of']} with skip vs "
                f"{plain['learned']} of {plain['learned_of']} without; plain q={q_low}: "
                f"{shallow['learned']} of {shallow['learned_of']}"
                + ("" if reliable else " (not reliable: the task itself is too hard here)"),
                {
                    "with_skip_learned": skip["learned"],
                    "without_skip_learned": plain["learned"],
                    "plain_shallow_learned": shallow["learned"],
                    "seeds": skip["learned_of"],
                },
                family="use cases",
                test=_fisher(
                    skip["learned"], skip["learned_of"], plain["learned"], plain["learned_of"]
                ),
            )
        )

    # --- principles: expressiveness ---------------------------------------------------------------
    deep = [a for a in rows if a != "vanilla"]
    if "vanilla" in rows and deep:
        for task, by_arch in main.items():
            # the best deep architecture is picked on the TUNING seeds' validation metric, which
            # the reporting seeds never saw: the test below needs no correction for best-of-k
            best = min(deep, key=lambda arch: by_arch[arch]["tuning_score"])
            a, b = by_arch[best]["metric"], by_arch["vanilla"]["metric"]
            claims.append(
                _claim(
                    "principle",
                    "depth adds expressiveness",
                    f"some deep architecture beats the vanilla RNN on {task}",
                    "the deep architecture with the best tuning-seed validation metric (chosen "
                    "before the reporting seeds are seen) has a lower held-out metric than the "
                    "vanilla RNN",
                    f"{best}: " + _medians(a, b),
                    {"best": best, best: a["values"], "vanilla": b["values"]},
                    family="principles",
                    test=compare_seeds(a["values"], b["values"]),
                )
            )
    combo = "hierarchical-deep-transition-skip"
    parts = [a for a in ("hierarchical", "deep-transition-skip") if a in rows]
    if combo in rows and parts:
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
                "its parts (exact count); measured times per step are in the table",
                "state nonlinearities per step "
                + ", ".join(f"{a} {per_step[a]}" for a in [combo, *parts]),
                {"state_nonlinearities_per_step": per_step},
                exact=all(per_step[combo] > per_step[a] for a in parts),
            )
        )
        claims[-1]["timing"] = {"ms_per_step": {a: rows[a]["ms_per_step"] for a in [combo, *parts]}}
        for task, by_arch in main.items():
            tests = [
                compare_seeds(by_arch[combo]["metric"]["values"], by_arch[a]["metric"]["values"])
                for a in parts
            ]
            # intersection-union: better than BOTH parts needs both p's small (the larger decides);
            # worse than either part contradicts (the smaller decides)
            test = dict(tests[0])
            test["p_for"] = max(t["p_for"] for t in tests)
            test["p_against"] = min(1.0, len(tests) * min(t["p_against"] for t in tests))
            test["per_part"] = dict(zip(parts, tests, strict=True))
            claims.append(
                _claim(
                    "principle",
                    "combining patterns buys expressiveness",
                    f"the stack of residual deep transitions beats its parts on {task}",
                    "held-out metric lower than each of hierarchical and deep transition + skip "
                    "(intersection–union: the larger of the two p's; the opposite direction: "
                    "worse than either part, Bonferroni over the two)",
                    "; ".join(
                        f"vs {a}: " + _medians(by_arch[combo]["metric"], by_arch[a]["metric"])
                        for a in parts
                    ),
                    {a: by_arch[a]["metric"]["values"] for a in [combo, *parts]},
                    family="principles",
                    test=test,
                )
            )
    decide(claims)
    return claims


def decide(claims: list) -> None:
    """Holm over each family (both directions of every claim together), then three-way verdicts.

    Parameters
    ----------
    claims : list of dict
        Claims as :func:`collect_results` makes them; a claim with a ``family``
        and a ``test`` (:func:`compare_seeds`) gets ``verdict`` and the test's
        ``holm_p_for``, ``holm_p_against`` and ``family_size``, in place. An
        equivalence claim (``test["equivalence"]``) is contradicted by a
        difference either way and otherwise inconclusive.
    """
    for family in FAMILIES:
        members = [c for c in claims if c["family"] == family and c["test"] is not None]
        p_values = [c["test"]["p_for"] for c in members] + [c["test"]["p_against"] for c in members]
        adjusted = stats.holm(p_values, alpha=ALPHA)
        m = len(members)
        for i, claim in enumerate(members):
            p_for, p_against = adjusted[i]["adjusted_p"], adjusted[m + i]["adjusted_p"]
            claim["test"]["holm_p_for"] = p_for
            claim["test"]["holm_p_against"] = p_against
            claim["test"]["family_size"] = 2 * m
            verdict = stats.three_way(p_for, p_against, ALPHA)
            if claim["test"].get("equivalence"):  # a difference either way contradicts
                verdict = "contradicted" if verdict != "inconclusive" else "inconclusive"
            claim["verdict"] = verdict


def _flow_and_learning(summaries: list) -> dict:
    """Does the flow verdict (at init, at the first evaluation) go with learning? Every run pooled.

    Returns ``{"init": ..., "first_eval": ...}``, each ``{"table": {"stable": [learned, runs],
    "not stable": [learned, runs]}, "test": one-sided Fisher test that stable runs learn more
    often, or None}``: exploratory, outside the families of claims.
    """
    relation = {}
    for when, column in (("init", "flow_init"), ("first_eval", "flow_first_eval")):
        table = {"stable": [0, 0], "not stable": [0, 0]}  # [learned, runs]
        for summary in summaries:
            for flow, learned in zip(
                summary[column]["per_seed"], summary["learned_per_seed"], strict=True
            ):
                if flow is None:
                    continue
                row = table["stable" if flow["verdict"] == "stable" else "not stable"]
                row[0] += int(learned)
                row[1] += 1
        result = {"table": table, "test": None}
        (ls, ns), (lu, nu) = table["stable"], table["not stable"]
        if ns and nu:
            test = stats.fisher_fewer_failures(ls, ns, lu, nu)
            result["test"] = {
                "test": test.test,
                "p_value": test.p_value,
                "effect": "difference in learned fractions (stable − not stable)",
                "effect_value": _json(test.effect),
                "effect_interval": [_json(test.effect_low), _json(test.effect_high)],
            }
        relation[when] = result
    return relation


def collect_results(protocol, sweep) -> dict:
    """Every number of the report, JSON-ready (apart from the run's own facts, added by the CLI).

    Parameters
    ----------
    protocol : numrnn.compare.Protocol
    sweep : numrnn.compare.sweep.Sweep

    Returns
    -------
    dict
        ``protocol``, ``rules`` (the constants every verdict uses), ``tasks``
        (per task: metric, baseline, held-out set), ``table`` (one row per
        architecture), ``equal_width`` (parameter counts at one shared width),
        ``runs`` (every configuration's summary with every reporting seed's
        value), ``sweep`` and ``sweep_fixed_width`` (per swept architecture,
        per q), ``flow_and_learning`` and ``claims`` (rule, test, Holm-adjusted
        p-values, verdict).
    """
    summaries = []
    last_rung = len(protocol.rung_steps) - 1
    for index, configuration in enumerate(sweep.configurations):
        grid = sweep.tuning_grids[index]
        tuning = []  # every point tried, at every rung it reached, with its tuning seeds' metrics
        for k, point in enumerate(grid):
            rungs = []
            for rung, steps in enumerate(protocol.rung_steps):
                runs = sweep.tuning_results.get((index, rung, k))
                if runs is None:
                    continue
                per_seed = [run["final_val_metric"] for run in runs]
                mean = None if None in per_seed else float(np.mean(per_seed))
                rungs.append({"steps": steps, "final_val_metric": mean, "per_seed": per_seed})
            tuning.append({**point, "rungs": rungs})
        chosen = grid[sweep.chosen[index]]
        summary = _configuration_summary(
            protocol, configuration, grid, tuning, chosen, sweep.seed_results[index]
        )
        score = [
            run["final_val_metric"]
            for run in sweep.tuning_results[(index, last_rung, sweep.chosen[index])]
        ]
        summary["tuning_score"] = math.inf if None in score else float(np.mean(score))
        summaries.append(summary)
    main = {}
    for summary in summaries:
        if "main" in summary["roles"]:
            main.setdefault(summary["task"], {})[summary["arch"]] = summary
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
                "flow_first_eval": row["flow_first_eval"],
                "flow_trained": row["flow_trained"],
                "metrics": {
                    task.label: {
                        **main[task.label][arch]["metric"],
                        "learned": main[task.label][arch]["learned"],
                        "learned_of": main[task.label][arch]["learned_of"],
                        "lr": main[task.label][arch]["lr"],
                        "residual_scale": main[task.label][arch]["residual_scale"],
                        "grid_edge": main[task.label][arch]["grid_edge"],
                    }
                    for task in protocol.tasks
                },
            }
        )
    rows = {row["arch"]: row for row in table}

    def by_q(role):
        found = {}
        for summary in summaries:
            if role in summary["roles"] and summary["arch"] in protocol.sweep_architectures:
                found.setdefault(summary["arch"], {})[summary["transition_depth"]] = summary
        return {
            arch: {q: found[arch][q] for q in sorted(found[arch])}
            for arch in protocol.sweep_architectures
            if arch in found
        }

    sweep_rows, width_rows = by_q("budget sweep"), by_q("width sweep")
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
    claims = _judge_claims(protocol, rows, main, sweep_rows, width_rows, equal_width)
    return {
        "protocol": protocol.to_dict(),
        "rules": {
            "alpha": ALPHA,
            "learned_fraction": LEARNED_FRACTION,
            "reliably_learned": RELIABLY_LEARNED,
            "families": FAMILIES,
            "bootstrap_resamples": N_RESAMPLES,
            "smallest_p_reporting_seeds": stats.minimum_p(protocol.seeds, protocol.seeds),
        },
        "tasks": tasks,
        "flow_task": flow_task,
        "equal_width": equal_width,
        "table": table,
        "runs": summaries,
        "sweep": {
            arch: {str(q): summary for q, summary in rows_q.items()}
            for arch, rows_q in sweep_rows.items()
        },
        "sweep_fixed_width": {
            arch: {str(q): summary for q, summary in rows_q.items()}
            for arch, rows_q in width_rows.items()
        },
        "flow_and_learning": _flow_and_learning(summaries),
        "claims": claims,
        "thresholds": {
            "vanishing_below": diagnostics.VANISHING_BELOW,
            "exploding_above": diagnostics.EXPLODING_ABOVE,
            "learned_fraction": LEARNED_FRACTION,
            "budget_tolerance": protocol.tolerance,
        },
    }
