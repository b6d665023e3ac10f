# %% [markdown]
# # Tutorial 6: going deep in time
#
# A stack (tutorial 5) deepens the path from $x_t$ to $y_t$; each layer stays a one-nonlinearity
# recurrence. A **deep transition** puts an MLP with q hidden layers *on the recurrent path*:
#
# $$g_1 = \tanh(h_{t-1} W_{h1} + b_{h1}), \;\dots,\; g_q = \tanh(g_{q-1} W_{hq} + b_{hq}),
# \qquad h_t = \tanh(g_q W_{hh} + x_t W_{xh} + b_h)$$
#
# (equations (R.3)-(R.4) in `docs/derivations.md`). Every step is now q + 1 levels deep.
#
# **Learning goals.** After this tutorial you can
#
# 1. state the sequential depth from $h_{t-1}$ to $h_t$ of a deep transition, and check it with
#    `numrnn.diagnostics.sequential_depth`;
# 2. write the step Jacobian $J_t = \partial h_t / \partial h_{t-1}$ of a deep transition as a
#    product of q + 1 factors and check it against `numrnn.diagnostics.step_jacobians`;
# 3. explain, with $\log\lvert\det J_t\rvert$ and the singular values from
#    `numrnn.diagnostics.jacobian_spectra`, why each level makes the step shrink more;
# 4. measure how fast $\Vert \partial h_T / \partial h_t \Vert$ decays with the distance T - t
#    (`numrnn.diagnostics.span_norms`), and see it decay faster as q grows.

# %%
import os
import tempfile
from pathlib import Path

import numpy as np

import numrnn
import numrnn.plotting
from numrnn import diagnostics
from numrnn.params import layer_params

out_dir = Path(
    os.environ.get("NUMRNN_TUTORIAL_OUTPUT") or tempfile.mkdtemp(prefix="numrnn-tutorial-")
)
out_dir.mkdir(parents=True, exist_ok=True)

T, B, D, H, O = 50, 8, 3, 16, 1  # steps, batch, input, hidden, output
x = np.random.default_rng(0).standard_normal((T, B, D))  # (T, B, D)
depths = [0, 1, 2, 4, 8]  # q = 0 is the vanilla RNN

# %% [markdown]
# ## Sequential depth
#
# `sequential_depth` counts the nonlinearities on the longest path of one step. For a deep
# transition the recurrent path goes through the q hidden levels and the state's tanh: q + 1.
# The path from $x_t$ to $y_t$ stays at one, since $x_t$ joins at the last level.

# %%
models = {q: numrnn.DeepRNN(D, H, O, transition_depth=q, seed=0) for q in depths}
for q, model in models.items():
    depth = diagnostics.sequential_depth(model)
    print(
        f"q = {q}: sequential depth h_(t-1) -> h_t = {depth.recurrent}, "
        f"x_t -> y_t = {depth.input_to_output}, parameters {model.num_params()}"
    )

# %% [markdown]
# ## The step Jacobian is a product of q + 1 factors
#
# Differentiate one step level by level. With $\tanh' = 1 - \tanh^2$, level j contributes the
# factor $\mathrm{diag}(1 - g_j^2)\, W_{hj}^\top$ (in the column convention
# $J_t[i, k] = \partial h_{t,i} / \partial h_{t-1,k}$), so
#
# $$J_t = \mathrm{diag}(1 - h_t^2)\, W_{hh}^\top\; \mathrm{diag}(1 - g_q^2)\, W_{hq}^\top \cdots
#        \mathrm{diag}(1 - g_1^2)\, W_{h1}^\top .$$
#
# Below, the q = 2 model's step 10 for sequence 0, by hand from its weights, against numrnn's
# `step_jacobians` (which pushes identity matrices through the core's backward step):

# %%
q, t, b = 2, 10, 0
model = models[q]
params = layer_params(model.params, 1)  # layer 1's weights, without the "layer1." prefix
states, _ = numrnn.layers.layer_forward(x, None, params, model.config.layers[0])  # (T, B, H)
h_prev = states[t - 2, b]  # h_{t-1} (states[s - 1] holds h_s)

weights = [params[f"W_h{j}"] for j in range(1, q + 1)] + [params["W_hh"]]  # W_j, j = 1..q+1
g = h_prev  # g_0 = h_{t-1}
derivatives = []  # 1 - g_j^2, the tanh' of each level
for j in range(1, q + 1):
    g = np.tanh(g @ weights[j - 1] + params[f"b_h{j}"])  # g_j
    derivatives.append(1 - g**2)
h = np.tanh(g @ params["W_hh"] + x[t - 1, b] @ params["W_xh"] + params["b_h"])  # h_t
derivatives.append(1 - h**2)
factors = [np.diag(d) @ W.T for d, W in zip(derivatives, weights, strict=True)]  # level 1 first

jacobian_by_hand = np.linalg.multi_dot(factors[::-1])  # last level on the left
jacobian = diagnostics.step_jacobians(model, x)[0][t - 1, b]  # (H, H)
print(
    f"h_t by hand equals the layer's: max |difference| = {np.abs(h - states[t - 1, b]).max():.1e}"
)
difference = np.abs(jacobian_by_hand - jacobian).max()
print(f"J_t by hand equals diagnostics.step_jacobians: max |difference| = {difference:.1e}")
assert difference < 1e-12

# %% [markdown]
# ## Why every level shrinks the step: the determinant
#
# The determinant of a product is the product of the determinants, so
#
# $$\log\lvert\det J_t\rvert = \sum_{j=1}^{q+1} \Bigl( \sum_i \log(1 - g_{j,i}^2)
#    + \log\lvert\det W_{hj}\rvert \Bigr), \qquad g_{q+1} = h_t,\; W_{h,q+1} = W_{hh} .$$
#
# $\log\lvert\det J\rvert$ is the sum of the logs of J's singular values, so divided by H it is
# their **mean log**: the average factor by which the step stretches a direction. Each level
# adds a term of its own, and both parts of it are negative here: $\log(1 - g^2) \le 0$ always,
# and a random (Xavier) square matrix has $\log\lvert\det W\rvert < 0$. More levels, more
# negative terms:

# %%
level_terms = []
for j, (derivative, weight) in enumerate(zip(derivatives, weights, strict=True), start=1):
    level_terms.append(np.log(derivative).sum() + np.linalg.slogdet(weight)[1])
    print(
        f"level {j}: Σ log(1 - g²) = {np.log(derivative).sum():+.3f}, "
        f"log|det W| = {np.linalg.slogdet(weight)[1]:+.3f}, term {level_terms[-1]:+.3f}"
    )
log_det = np.linalg.slogdet(jacobian)[1]
print(f"sum of the level terms = {sum(level_terms):+.6f}, log|det J_t| = {log_det:+.6f}")
assert abs(sum(level_terms) - log_det) < 1e-9

# %% [markdown]
# The mean log singular value over all steps and sequences, from
# `diagnostics.jacobian_spectra` (a list with one (T, B, H) array per layer, largest first):

# %%
spectra = {q: diagnostics.jacobian_spectra(model, x)[0] for q, model in models.items()}
for q, spectrum in spectra.items():
    print(
        f"q = {q}: mean log σ(J_t) = {np.log(spectrum).mean():+.2f}, "
        f"largest σ mean {spectrum[..., 0].mean():.2f}, "
        f"share of σ below 1: {(spectrum < 1).mean():.0%}"
    )

ax = numrnn.plotting.plot_jacobian_spectra(
    {f"deep-transition q={q}" if q else "vanilla": spectra[q] for q in (0, 2, 8)}
)
import matplotlib.pyplot as plt  # after numrnn.plotting chose the backend (Agg in a script)


def one_color_per_depth(ax):
    """numrnn colours by architecture; give each depth its own colour (lines and bands)."""
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    for i, line in enumerate(lines):
        color = plt.cm.viridis(0.9 * i / max(len(lines) - 1, 1))
        line.set_color(color)
        if i < len(ax.collections):
            ax.collections[i].set_color(color)
    ax.legend(fontsize="small")


one_color_per_depth(ax)
ax.figure.savefig(out_dir / "deep_transition_spectra.png", dpi=80)
plt.show()

# %% [markdown]
# The largest singular value stays near or above 1 at every depth (its mean is above 0.9): one
# step alone can still stretch some direction. But the bulk of the spectrum sinks with every
# level (a larger share of the singular values is below 1), and the mean log singular value falls
# by roughly the same amount per level, between 0.3 and 1 per added level.
#
# A gradient going back T - t steps is multiplied by T - t such Jacobians. The log of the norm of
# a long product grows, per factor, by at most the average log of the largest singular value
# ($\Vert AB \Vert \le \Vert A \Vert \Vert B \Vert$) and at least the average mean log
# singular value (the determinant of the product is the product of the determinants). The
# deeper the transition, the further down that second bound moves.
#
# ## Measured: $\Vert \partial h_T / \partial h_t \Vert$ against the distance
#
# `diagnostics.span_norms(model, x)` multiplies the step Jacobians back from step T and returns
# the mean spectral norm of $\partial h_T / \partial h_t = J_T J_{T-1} \cdots J_{t+1}$ for
# every distance T - t (computed with a running rescaling, so it never underflows). A straight
# line on a log scale is geometric decay; its slope gives the **rate per step**. One draw of the
# weights is noisy, so the rates are averaged over 5 seeds.

# %%
distance = np.arange(T)


def decay_per_step(log_span):
    """exp(slope) of a line fitted to ln ‖∂h_T/∂h_t‖ against the distance, from distance 5 on."""
    return float(np.exp(np.polyfit(distance[5:], log_span[5:], 1)[0]))


rates = {}
for q in depths:
    seeds = [numrnn.DeepRNN(D, H, O, transition_depth=q, seed=seed) for seed in range(5)]
    rates[q] = np.mean([decay_per_step(diagnostics.span_norms(m, x, log=True)) for m in seeds])
    log10_span = diagnostics.span_norms(models[q], x, log=True)[-1] / np.log(10)
    print(
        f"q = {q}: decay per step {rates[q]:.3f} (mean of 5 seeds); "
        f"seed 0: log10 ‖∂h_T/∂h_1‖ = {log10_span:.1f}"
    )
print(f"q = 8 keeps {rates[8] / rates[0]:.2f} of the vanilla RNN's rate per step")

ax = numrnn.plotting.plot_norm_vs_distance(
    {
        f"deep-transition q={q}" if q else "vanilla": diagnostics.span_norms(models[q], x)
        for q in depths
    },
    order="distance",
)
ax.set_ylabel(r"$\Vert\partial h_T/\partial h_t\Vert_2$ (mean over the batch)")
ax.set_title("seed 0: how a perturbation of h_t reaches h_T")
one_color_per_depth(ax)
ax.figure.savefig(out_dir / "deep_transition_span_norms.png", dpi=80)
plt.show()
print(f"figures saved to {out_dir}")

# %% [markdown]
# Averaged over seeds, every deeper transition decays faster per step, and at q = 8 the rate is
# less than half the vanilla RNN's. Over 49 steps that compounds: for seed 0, $h_1$ reaches
# $h_T$ more than 20 orders of magnitude more weakly at q = 8 than in the vanilla RNN. This is
# the chapter's "challenging" gradient flow of deep transitions, measured. Tutorial 7 adds the
# one change that fixes it: a residual path, $h_t = h_{t-1} + \varphi(a_t)$.
#
# ## Exercises
#
# Each numeric exercise has a blank for your answer, `answer = None`, and a check under it that
# compares it with what numrnn (or NumPy) computes and says "correct", or "not right yet" with a
# hint, without telling you the answer. The cell that builds each check is folded (it holds the
# hints for common mistakes), and so are the worked solutions in the last section: try first.

# %%
from numrnn.exercises import Exercise

# %% [markdown]
# **Exercise 1.** How many nonlinearities lie between $h_{t-1}$ and $h_t$ in a deep transition
# with q = 5? And in a *stack* of 5 vanilla layers?

# %% tags=["hide-input"] jupyter={"source_hidden": true}
exercise_1a = Exercise(
    "1a",
    expected=diagnostics.sequential_depth(numrnn.DeepRNN(1, 4, 1, transition_depth=5)).recurrent,
    hint="count the levels of the transition, j = 1..q+1",
    mistakes=[(5, "count the last level too: the one that computes a_t, through φ")],
)
exercise_1b = Exercise(
    "1b",
    expected=diagnostics.sequential_depth(numrnn.DeepRNN(1, 4, 1, num_layers=5)).recurrent,
    hint="which nonlinearities lie between h_(t-1) and h_t of the same layer?",
    mistakes=[(5, "stacking deepens x_t -> y_t; each layer's own recurrence stays one step")],
)

# %%
answer_1a = None  # your answer: the deep transition, q = 5
answer_1b = None  # your answer: the stack of 5 vanilla layers
exercise_1a.check(answer_1a)
exercise_1b.check(answer_1b)

# %% [markdown]
# **Exercise 2.** A gradient shrinks by the rate you measured for q = 4 at every step. After how
# many steps back is it first below $10^{-6}$ of its size? (The smallest whole number n with
# rate$^n < 10^{-6}$.)

# %% tags=["hide-input"] jupyter={"source_hidden": true}
steps_to_a_millionth = next(n for n in range(1, 10_000) if rates[4] ** n < 1e-6)
exercise_2 = Exercise(
    2,
    expected=steps_to_a_millionth,
    hint="solve rate^n = 1e-6 for n with logarithms, then take the next whole number",
    mistakes=[(steps_to_a_millionth - 1, "at that n, rate^n is still above 1e-6: round up")],
)

# %%
answer_2 = None  # your answer: a whole number of steps
exercise_2.check(answer_2)

# %% [markdown]
# **Exercise 3.** Take the q = 2 model at step t = 10, sequence 0 (the `factors` above). What is
# the mean log singular value of $J_t$, $\log\lvert\det J_t\rvert / H$? Compute it from the
# level terms alone, without forming $J_t$.

# %% tags=["hide-input"] jupyter={"source_hidden": true}
exercise_3 = Exercise(
    3,
    expected=np.log(np.linalg.svd(jacobian, compute_uv=False)).mean(),
    hint="log|det J_t| is the sum of the level terms; the mean is over the H singular values",
    mistakes=[(sum(level_terms), "that is log|det J_t|, the sum: divide by H for the mean")],
    rtol=1e-8,
)

# %%
answer_3 = None  # your answer, from level_terms and H
exercise_3.check(answer_3)

# %% [markdown]
# **Exercise 4** (open). Build the deep transitions with `init="orthogonal"`: every
# $\log\lvert\det W\rvert$ is then 0. Which part of the level terms is left, and does the decay
# per step change?

# %% [markdown]
# ## Solutions
#
# Worked solutions of the numeric exercises, folded on the web page. Each runs its exercise's
# check, which says "correct".

# %% [markdown]
# **Exercise 1: worked solution** (unfold the code to read it).

# %% tags=["hide-input"] jupyter={"source_hidden": true}
# Exercise 1: a deep transition passes ψ at each of its q = 5 hidden levels and φ at the last,
# q + 1 = 6 in all; each layer of a stack is a vanilla recurrence, one φ per step.
solution_1a, solution_1b = 5 + 1, 1
exercise_1a.check(solution_1a)
exercise_1b.check(solution_1b)

# %% [markdown]
# **Exercise 2: worked solution** (unfold the code to read it).

# %% tags=["hide-input"] jupyter={"source_hidden": true}
# Exercise 2: rate^n < 1e-6  <=>  n > log(1e-6) / log(rate) (log(rate) < 0 flips the sign).
solution_2 = int(np.ceil(np.log(1e-6) / np.log(rates[4])))
exercise_2.check(solution_2)

# %% [markdown]
# **Exercise 3: worked solution** (unfold the code to read it).

# %% tags=["hide-input"] jupyter={"source_hidden": true}
# Exercise 3: log|det J_t| = Σ log σ_i(J_t) is the sum of the level terms; divide by the H of them.
solution_3 = sum(level_terms) / H
exercise_3.check(solution_3)
