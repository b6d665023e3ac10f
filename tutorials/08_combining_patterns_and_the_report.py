# %% [markdown]
# # Tutorial 8: combining patterns, and reading the comparison report
#
# The three ways to go deep combine. The chapter's last architecture is a **stack of residual
# deep transitions**: L layers, each of which has a q-level MLP on its recurrent path and the
# skip $h_t^{(l)} = h_{t-1}^{(l)} + \varphi(a_t^{(l)})$. Then the chapter's table compares every
# pattern by parameters, gradient flow and use case; `numrnn compare` measures that table.
#
# **Learning goals.** After this tutorial you can
#
# 1. build the stacked residual deep transition and say which depth it takes from which parent:
#    the $x_t \to y_t$ depth from the stack, the $h_{t-1} \to h_t$ depth from the deep transition;
# 2. run `numrnn compare --quick` and find every number of its report in `results.json`;
# 3. read the report's claims one by one: what each claim means, which rule and which test
#    decide it, which numbers they used, and why a verdict can be "inconclusive";
# 4. recompute the parameters and the per-seed gradient flow yourself with numrnn's public API,
#    and check that you reach the report's numbers and its exact-count verdicts.

# %%
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import numrnn
import numrnn.plotting
from numrnn import diagnostics
from numrnn.training import tasks

out_dir = Path(
    os.environ.get("NUMRNN_TUTORIAL_OUTPUT") or tempfile.mkdtemp(prefix="numrnn-tutorial-")
)
out_dir.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## The stacked residual deep transition and its parents
#
# `numrnn.presets.build("hierarchical-deep-transition-skip", D, H, O)` is
# `numrnn.DeepRNN(D, H, O, num_layers=2, transition_depth=2, skip="residual")`. Next to it, its
# two parents (the stack and the residual deep transition) and the vanilla RNN, all at H = 16.
# `diagnostics.summarize` gives each one's parameters, sequential depth and gradient flow at
# initialisation (mse loss on the last of T = 100 steps).

# %%
D, H, O = 3, 16, 1
names = ["vanilla", "hierarchical", "deep-transition-skip", "hierarchical-deep-transition-skip"]
models = {name: numrnn.presets.build(name, D, H, O, seed=0) for name in names}
same = numrnn.DeepRNN(D, H, O, num_layers=2, transition_depth=2, skip="residual", seed=0)
combined = models["hierarchical-deep-transition-skip"]
assert all(np.array_equal(same.params[key], combined.params[key]) for key in combined.params)
print(combined.summary())

summaries = {name: diagnostics.summarize(model, T=100) for name, model in models.items()}
print(
    f"\n{'architecture':34s} {'parameters':>10s}  depth h->h  depth x->y  state nonlin./step  "
    f"{'log10 ratio':>11s}  verdict"
)
for name, summary in summaries.items():
    # the nonlinearities on the state paths of one step, over all layers: Σ_l (q_l + 1)
    state_nonlinearities = sum(layer.transition_depth + 1 for layer in models[name].config.layers)
    print(
        f"{name:34s} {summary.parameters['total']:10d}  {summary.sequential_depth.recurrent:10d}  "
        f"{summary.sequential_depth.input_to_output:10d}  {state_nonlinearities:18d}  "
        f"{summary.log10_ratio:11.2f}  {summary.verdict}"
    )

# %% [markdown]
# The combination inherits one depth from each parent: 3 nonlinearities from $h_{t-1}$ to
# $h_t$ (q + 1, like the residual deep transition) and 2 from $x_t$ to $y_t$ (L, like the stack).
# It has more parameters than either parent at the same width. And its gradient flow is the
# residual one: where the plain stack's gradient vanishes over 100 steps, the combination's
# does not. Per step it computes L(q + 1) = 6 state nonlinearities (one after the other within
# a layer, and a layer waits for the one below), the most of all: the chapter's point that
# combining the patterns costs computation.

# %%
# the same probe as summarize's (T = 100, batch 8, seed 0), with its (L, T) map of norms
grad_norms = {
    name: diagnostics.gradient_flow(model, T=100).grad_norms for name, model in models.items()
}
ax = numrnn.plotting.compare_gradient_flow(grad_norms, normalize=True)
ax.set_title("top layer at initialisation, loss on step T = 100, divided by its value at T")
ax.figure.savefig(out_dir / "combined_gradient_flow.png", dpi=80)

import matplotlib.pyplot as plt  # after numrnn.plotting chose the backend (Agg in a script)

plt.show()

# %% [markdown]
# ## Running `numrnn compare --quick`
#
# `numrnn compare` trains every architecture at a **matched parameter budget** (each model's
# width H is solved so that the counts are equal), gives every architecture the **same number
# of tuning points** (chosen by successive halving on tuning seeds), then measures the chosen
# settings on **fresh reporting seeds** and decides each of the chapter's claims with a stated
# one-sided test. `--quick` runs the same pipeline on a tiny protocol in seconds, and its report
# opens with a banner that its numbers decide nothing: 2 against 2 seeds cannot reach a small
# p-value. Its numbers at initialisation (parameters, sequential depth, gradient flow) are
# nevertheless the real thing.
#
# From a notebook, run it as any command, here with the Python that runs this notebook:

# %%
report_dir = out_dir / "compare_quick"
command = [
    sys.executable,
    "-m",
    "numrnn",
    "compare",
    "--quick",
    "--no-progress",
    "--out",
    str(report_dir),
]
completed = subprocess.run(command, capture_output=True, text=True, encoding="utf-8")
print(completed.stdout.strip().splitlines()[-1])
assert completed.returncode == 0, completed.stderr
print("the report folder holds:", ", ".join(sorted(p.name for p in report_dir.glob("*.*"))))
print("report.md opens with:", (report_dir / "report.md").read_text().splitlines()[0][:60])

# %% [markdown]
# `report.md` (and `report.html`) are for reading; **`results.json` holds every number on the
# page**, so that you can check them. Its top-level keys:

# %%
results = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
protocol = results["protocol"]
print("results.json keys:", list(results))
print(
    f"protocol: budget {protocol['budget']} parameters (± {protocol['tolerance']:.0%}), "
    f"{protocol['steps']} steps, tuning seeds {protocol['tuning_seeds_used']}, "
    f"reporting seeds {protocol['reporting_seeds_used']}, "
    f"{protocol['tuning_points']} tuning points per architecture"
)

# %% [markdown]
# ## The table, row by row
#
# One row per architecture: its solved width H, its parameters, its sequential depth, and its
# gradient flow at initialisation on the sweep task's own inputs: for every reporting seed,
# `diagnostics.flow_by_layer` measures every layer in float64, and the model's verdict is its
# **worst** layer's. Then the median held-out metric per task.

# %%
task_labels = list(results["tasks"])
print(
    f"{'architecture':34s} {'H':>3s} {'params':>6s}  h->h  x->y  {'log10 ratio':>11s} "
    f"{'verdict':>10s}  " + "  ".join(f"{label:>10s}" for label in task_labels)
)
for row in results["table"]:
    flow, depth = row["flow_init"], row["sequential_depth"]
    metrics = "  ".join(f"{row['metrics'][label]['median']:10.3f}" for label in task_labels)
    print(
        f"{row['arch']:34s} {row['hidden']:3d} {row['parameters']['total']:6d}  "
        f"{depth['recurrent']:4d}  {depth['input_to_output']:4d}  "
        f"{flow['median_value']:11.2f} {flow['verdict']:>10s}  {metrics}"
    )
for label in task_labels:
    print(
        f"{label}: trivial baseline {results['tasks'][label]['baseline']:.3f} "
        f"({results['tasks'][label]['baseline_description']})"
    )

# %% [markdown]
# The deeper the architecture, the narrower it must be to fit the budget: the vanilla RNN is
# the widest, the stacked residual deep transition the narrowest, and every count is within the
# tolerance of the budget. After so few steps no held-out metric gets below half the trivial
# baseline (the report's bar for "learnt the task"): that is what `--quick` can and cannot show.
# A flow verdict of "mixed" means the reporting seeds disagree; the report then counts them.
#
# ## The claims, one by one
#
# Each claim of the chapter's table (and of its principles) comes with a **rule**, the
# **numbers** it used, a **test** and a verdict: "supported", "contradicted", "inconclusive"
# (the data cannot decide), or "not measured". A claim about a count with no randomness in it
# (parameters, nonlinearities per step) is exact arithmetic; every other one is a one-sided
# test on the reporting seeds, in both directions, with Holm's correction over its family.

# %%
for number, claim in enumerate(results["claims"], start=1):
    print(
        f"claim {number:2d} [{claim['verdict']}] {claim['pattern']} / {claim['cell']}: "
        f"{claim['claim']!r}"
    )
    print(f"           rule: {claim['rule']}")
    print(f"           measured: {claim['deciding']}")
    if claim["test"] is not None:
        test = claim["test"]
        print(
            f"           test: {test['test']}, p {test['p_for']:.3g}, after Holm over "
            f"{test['family_size']} p-values {test['holm_p_for']:.3g}"
        )
verdict_counts = {
    v: [c["verdict"] for c in results["claims"]].count(v)
    for v in ("supported", "contradicted", "inconclusive", "not measured")
}
print("verdicts:", verdict_counts)
print(f"smallest p of 2 vs 2 seeds: {results['rules']['smallest_p_reporting_seeds']:.3f}")

# %% [markdown]
# How to read each kind:
#
# * **parameters** ("high", "very high"): compared at the *same width*, not at the budget, since
#   at the budget every count is equal by construction. A ratio to the vanilla RNN's count.
# * **gradient flow** ("standard BPTT", "challenging", "improved"): the per-layer flow of
#   tutorials 3, 6 and 7 at initialisation, one value per reporting seed, compared by a test.
#   With 2 seeds a side no test can pass: the smallest p two against two can give is 1/6.
# * **use case** and the training **principles**: decided by held-out metrics after training.
#   With 20 steps they are a smoke test of the pipeline; read them in the full run.
#
# ## Check the report yourself
#
# Everything the report says about the models *at initialisation* (parameters, gradient flow,
# the computation per step) can be recomputed with the public API: `numrnn.presets.build` at
# the report's widths and reporting seeds (in float32, as the protocol says), and
# `diagnostics.flow_by_layer` on the first validation sequences of the task.

# %%
flow_task = tasks.make_task(**results["tasks"][results["flow_task"]]["settings"], dtype=np.float32)
D_task, O_task = flow_task.input_size, flow_task.output_size
dtype = np.float32 if protocol["dtype"] == "float32" else np.float64
x_flow = flow_task.validation_batches()[0].x[:, : protocol["flow_batch"]].astype(np.float64)


def worst_at_init(row, seed):
    """The worst layer's log10 ratio and the model's verdict at initialisation, for one seed."""
    residual = row["metrics"][results["flow_task"]]["residual_scale"]
    scale = {} if residual is None else {"residual_scale": residual}
    model = numrnn.presets.build(
        row["arch"],
        D_task,
        row["hidden"],
        O_task,
        transition_depth=row["transition_depths"][0],
        dtype=dtype,
        seed=seed,
        **scale,
    )
    flow = diagnostics.flow_by_layer(model, x_flow, seed=seed)
    return model, flow.worst.log10_ratio, flow.verdict


COMBINED = "hierarchical-deep-transition-skip"
state_path = {}  # Σ_l (q_l + 1): state nonlinearities per step, from the rebuilt model
worst_flow = 0.0
for row in results["table"]:
    for seed, reported in zip(
        protocol["reporting_seeds_used"], row["flow_init"]["per_seed"], strict=True
    ):
        model, value, verdict = worst_at_init(row, seed)
        worst_flow = max(worst_flow, abs(value - reported["value"]))
        assert verdict == reported["verdict"], (row["arch"], seed)
    assert model.num_params() == row["parameters"]["total"], row["arch"]
    state_path[row["arch"]] = sum(layer.transition_depth + 1 for layer in model.config.layers)
print(f"parameter counts of all {len(results['table'])} rows rebuilt: equal")
print(f"gradient-flow column recomputed per seed: max |difference| = {worst_flow:.1e}")

width = results["equal_width"]
equal_width_ratio = {
    arch: numrnn.presets.build(arch, D_task, width["hidden"], O_task).num_params()
    / numrnn.presets.build("vanilla", D_task, width["hidden"], O_task).num_params()
    for arch in width["totals"]
}


def my_verdict(claim):
    """The verdict of a claim decided by exact counts, from my numbers; else None."""
    holds = None
    if claim["cell"] == "parameters" and claim["pattern"] == "hierarchical":
        holds = equal_width_ratio["hierarchical"] > 1
    elif claim["cell"] == "parameters":
        holds = equal_width_ratio[claim["pattern"]] > equal_width_ratio["hierarchical"]
    elif claim["cell"] == "combining patterns costs computation":
        parts = ("hierarchical", "deep-transition-skip")
        holds = all(state_path[COMBINED] > state_path[part] for part in parts)
    return None if holds is None else ("supported" if holds else "contradicted")


checked = 0
for number, claim in enumerate(results["claims"], start=1):
    verdict = my_verdict(claim)
    if verdict is not None:
        checked += 1
        agrees = "agrees" if verdict == claim["verdict"] else "DISAGREES"
        print(
            f"claim {number:2d} {claim['pattern']} / {claim['cell']} {claim['claim']!r}: "
            f"report {claim['verdict']}, recomputed {verdict}: {agrees}"
        )
        assert verdict == claim["verdict"]
print(f"{checked} exact-count claims recomputed from the public API; all agree with the report")

# %% [markdown]
# Every parameter count and every seed's gradient-flow number of the table comes out of the
# public API again (to the last digit: the runs are seeded), and so does every verdict decided
# by exact counts. The tested claims need the trained models; `jobs/` in the report folder holds
# every job's settings and result, to rerun any one of them.
#
# The report also draws the figures of tutorials 3, 6 and 7 for all architectures at once. Here
# is its depth sweep, read from the report folder:

# %%
figure_key = (
    "depth_sweep_ratio"
    if "depth_sweep_ratio" in results["figures"]
    else next(iter(results["figures"]))
)
figure_info = results["figures"][figure_key]
png = next(name for name in figure_info["files"] if name.endswith(".png"))
figure, ax = plt.subplots(figsize=(8, 4), layout="constrained")
ax.imshow(plt.imread(report_dir / png))
ax.set_axis_off()
ax.set_title("from the report: " + figure_key.replace("_", " "), fontsize="small")
print(f"shown: {png} ({figure_info['caption'][:60]}...)")
plt.show()
print(f"figures and the report saved to {out_dir}")

# %% [markdown]
# ## Exercises
#
# Each numeric exercise has a blank for your answer, `answer = None`, and a check under it that
# compares it with the computed value and says "correct", or "not right yet" with a hint,
# without telling you the answer. The cell that builds each check is folded (it holds the hints
# for common mistakes), and so are the worked solutions in the last section: try first.

# %%
from numrnn.exercises import Exercise

# %% [markdown]
# **Exercise 1.** Write the parameter count of a stack of L residual deep transitions (depth q,
# width H, D inputs, O outputs) as a formula, and evaluate it at the report's width for
# `hierarchical-deep-transition-skip` (L = 2, q = 2). Hint: a layer has its input matrix, q
# hidden levels with a bias each, and the last level $W_{hh}$ with the layer's bias $b_h$.

# %%
row = next(r for r in results["table"] if r["arch"] == "hierarchical-deep-transition-skip")
Hr, L, q = row["hidden"], 2, 2  # the report's width H, and the stack's L and q
print(f"H = {Hr}, L = {L}, q = {q}, D = {D_task}, O = {O_task}")

# %% tags=["hide-input"] jupyter={"source_hidden": true}
no_level_biases = q * Hr * Hr + Hr * Hr + Hr
exercise_1 = Exercise(
    1,
    expected=row["parameters"]["total"],
    hint="per layer: W_xh, q levels of (H x H weights + H biases), W_hh and b_h; then W_hy, b_y",
    mistakes=[
        (
            (D_task * Hr + no_level_biases)
            + (L - 1) * (Hr * Hr + no_level_biases)
            + Hr * O_task
            + O_task,
            "each of the q hidden levels has its own bias b_hj as well",
        ),
        (
            L * (D_task * Hr + q * (Hr * Hr + Hr) + Hr * Hr + Hr) + Hr * O_task + O_task,
            "layer 2 reads layer 1's H states, not the D inputs",
        ),
    ],
)

# %%
answer_1 = None  # your answer: a formula in Hr, L, q, D_task and O_task
exercise_1.check(answer_1)

# %% [markdown]
# **Exercise 2.** Below which log10 gradient ratio over the report's flow measurement (the sweep
# task's T steps) does numrnn call a layer's flow "vanishing"? (The verdict uses the per-step
# rate ratio$^{1/(T-1)}$ and `diagnostics.VANISHING_BELOW`.)

# %%
T_probe = flow_task.seq_len  # the flow measurement's T: the sweep task's length
print(f"T = {T_probe}")

# %% tags=["hide-input"] jupyter={"source_hidden": true}
exercise_2 = Exercise(
    2,
    expected=next(  # the smallest log10 ratio on a fine grid whose verdict is not "vanishing"
        value
        for value in np.linspace(-3, 0, 300_001)
        if diagnostics.flow_verdict(10.0**value, T_probe) != "vanishing"
    ),
    hint="ratio = rate^(T-1); take log10 of both sides at rate = diagnostics.VANISHING_BELOW",
    mistakes=[
        (T_probe * np.log10(diagnostics.VANISHING_BELOW), "h_1 to h_T is T - 1 steps, not T"),
        (
            diagnostics.VANISHING_BELOW ** (T_probe - 1),
            "that is the ratio; the question asks log10",
        ),
    ],
    rtol=1e-4,
)

# %%
answer_2 = None  # your answer: a log10 ratio (a negative number)
exercise_2.check(answer_2)

# %% [markdown]
# **Exercise 3** (open). Run the full comparison, `numrnn compare --out my_report` (about three
# minutes on two cores: some 320 s of CPU time), and read its claims again. Which verdicts of
# the training claims change? Then run it again with `--seed-offset 1000`: which verdicts
# repeat on disjoint seeds, and which move between "supported" and "inconclusive"?

# %% [markdown]
# ## Solutions
#
# Worked solutions of the numeric exercises, folded on the web page. Each runs its exercise's
# check, which says "correct".

# %% [markdown]
# **Exercise 1: worked solution** (unfold the code to read it).

# %% tags=["hide-input"] jupyter={"source_hidden": true}
# Exercise 1: a layer is its input matrix (D x H for layer 1, H x H above), q hidden levels of
# H x H weights and H biases, and the last level W_hh (H x H) with b_h (H); the output is
# W_hy (H x O) and b_y (O).
levels = q * (Hr * Hr + Hr) + Hr * Hr + Hr  # MLP_h's q levels, W_hh and b_h
solution_1 = (D_task * Hr + levels) + (L - 1) * (Hr * Hr + levels) + Hr * O_task + O_task
exercise_1.check(solution_1)

# %% [markdown]
# **Exercise 2: worked solution** (unfold the code to read it).

# %% tags=["hide-input"] jupyter={"source_hidden": true}
# Exercise 2: ratio^(1/(T-1)) < VANISHING_BELOW  <=>  log10 ratio < (T - 1) log10 VANISHING_BELOW.
solution_2 = (T_probe - 1) * np.log10(diagnostics.VANISHING_BELOW)
exercise_2.check(solution_2)
