# %% [markdown]
# # Tutorial 7: skip connections make depth trainable
#
# Tutorial 6 measured the price of a deep transition: every step multiplies the gradient by a
# product of q + 1 level factors, and the deeper the step, the faster the gradient vanishes. The
# chapter's remedy is a **residual path through time**:
#
# $$h_t = h_{t-1} + \varphi(a_t), \qquad
# \frac{\partial h_t}{\partial h_{t-1}} = I + \frac{\partial \varphi(a_t)}{\partial h_{t-1}} .$$
#
# However deep the branch $\varphi(a_t)$ is, the identity is always there: the gradient has a
# path back through time that no weight multiplies (`docs/gradient_flow.md`).
#
# **Learning goals.** After this tutorial you can
#
# 1. run a depth sweep q = 1..8 with and without the residual path and read its gradient ratios
#    $\Vert \partial L/\partial h_1 \Vert / \Vert \partial L/\partial h_T \Vert$
#    (`numrnn.diagnostics.gradient_flow`);
# 2. split a residual step Jacobian into $I + K_t$ with the measured $K_t$, and explain with its
#    size why no direction is squashed in one step;
# 3. see the other side of the coin: the residual path can let gradients *grow*, which is why
#    training clips them;
# 4. read short training curves of both models on a task that needs memory.

# %%
import os
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

T, B, D, H, O = 50, 8, 3, 16, 1  # steps, batch, input, hidden, output
depths = list(range(1, 9))  # q = 1..8
seeds = [0, 1, 2]
names = ["deep-transition", "deep-transition-skip"]  # without and with the residual path

# %% [markdown]
# ## One change only: the same weights, with and without the identity
#
# To see what the identity path alone does, compare each deep transition with **the same
# weights** plus the skip. `with_residual_path` builds a residual model of the same sizes and
# gives it a copy of the plain model's weights (`model.params` can be edited freely).
#
# Its `branch_scale` multiplies the two maps that end the branch, $W_{hh}$ and $W_{xh}$: 1
# keeps the plain draw, so that the skip is the *only* difference. (Initialisations such as
# Fixup and ReZero start a residual branch small on purpose; the last section tries that.)


# %%
def with_residual_path(plain, branch_scale=1.0):
    """A one-layer residual deep transition with the weights of ``plain``, its branch scaled."""
    layer = plain.config.layers[0]
    residual = numrnn.DeepRNN(
        plain.config.input_size,
        layer.hidden_size,
        plain.config.output_size,
        transition_depth=layer.transition_depth,
        skip="residual",
        seed=0,
    )
    residual.params = {name: value.copy() for name, value in plain.params.items()}
    for name in ("layer1.W_hh", "layer1.W_xh"):
        residual.params[name] *= branch_scale
    return residual


def model_pair(q, seed, input_size=D, output_size=O):
    """The deep transition of depth q drawn with ``seed``, and the same weights with the skip."""
    plain = numrnn.DeepRNN(input_size, H, output_size, transition_depth=q, seed=seed)
    return {"deep-transition": plain, "deep-transition-skip": with_residual_path(plain)}


# %% [markdown]
# ## The depth sweep
#
# For every depth q, both architectures and three seeds of the initial weights,
# `diagnostics.gradient_flow(model, T=50)` scores an mse loss on step T only and returns the
# gradient-norm map, the ratio $\Vert dh_1 \Vert / \Vert dh_T \Vert$ of the top layer, the fitted
# rate per step and a verdict: "vanishing" below a rate of 0.95 per step, "exploding" above 1.05
# (`diagnostics.VANISHING_BELOW`, `EXPLODING_ABOVE`).

# %%
ratios = {name: np.zeros((len(depths), len(seeds))) for name in names}  # (n_depths, n_seeds)
verdicts = {name: [] for name in names}
for i, q in enumerate(depths):
    for k, seed in enumerate(seeds):
        for name, model in model_pair(q, seed).items():
            flow = diagnostics.gradient_flow(model, T=T)
            ratios[name][i, k] = flow.ratio
            verdicts[name].append(flow.verdict)

print(f"{'q':>2s}  {'ratio without skip (3 seeds)':>32s}  {'ratio with skip (3 seeds)':>30s}")
for i, q in enumerate(depths):
    row = ["  ".join(f"{r:8.1e}" for r in ratios[name][i]) for name in names]
    print(f"{q:2d}  {row[0]:>32s}  {row[1]:>30s}")
for name in names:
    counts = {verdict: verdicts[name].count(verdict) for verdict in sorted(set(verdicts[name]))}
    print(f"verdicts for {name}: {counts}")
smallest_with, largest_without = (
    ratios["deep-transition-skip"].min(),
    ratios["deep-transition"].max(),
)
print(f"smallest ratio with skip {smallest_with:.1e}, largest without {largest_without:.1e}")

ax = numrnn.plotting.plot_depth_sweep(
    depths,
    {name: np.log10(values) for name, values in ratios.items()},
    ylabel=r"$\log_{10}$ of the ratio $\Vert dh_1\Vert / \Vert dh_T\Vert$, T = 50",
)
ax.set_title("depth sweep at initialisation: mean ± std over 3 seeds")
ax.figure.savefig(out_dir / "depth_sweep_ratios.png", dpi=80)

import matplotlib.pyplot as plt  # after numrnn.plotting chose the backend (Agg in a script)

plt.show()

# %% [markdown]
# Without the residual path every model of every depth is "vanishing", and the ratio falls by
# orders of magnitude as q grows. With it, none is: the ratio stays above 1 at every depth and
# every seed, more than a million times the best ratio without skip. Depth in the step
# no longer decides how far back a gradient reaches. (Many residual models are even called
# "exploding": the section after next explains why.)
#
# ## The argument, with the measured numbers: $\partial h_t / \partial h_{t-1} = I + K_t$
#
# `diagnostics.step_jacobians` returns every step Jacobian $J_t$. For the residual models,
# $K_t = J_t - I$ is the Jacobian of the branch $\varphi(a_t)$: the product of the q + 1 level
# factors of tutorial 6. Three numbers per depth, averaged over steps, sequences and seeds:
#
# * $\Vert K_t \Vert_2$: how far the step is from the identity;
# * the smallest singular value of $J_t$. Since $\Vert (I + K) v \Vert \ge \Vert v \Vert -
#   \Vert K v \Vert$, it is at least $1 - \Vert K_t \Vert_2$: if $\Vert K_t \Vert_2 < 1$ no
#   direction is squashed to zero in one step;
# * the mean log singular value of $J_t$, which tutorial 6 showed falls with every added
#   level without the skip.

# %%
x = np.random.default_rng(0).standard_normal((T, B, D))  # (T, B, D)
identity = np.eye(H)
print(
    f"{'q':>2s}  {'mean ‖K_t‖':>10s}  {'share ‖K_t‖<1':>13s}  {'mean σ_min(J): skip':>19s}  "
    f"{'no skip':>7s}  {'mean log σ(J): skip':>19s}  {'no skip':>7s}"
)
for q in depths:
    norms_K = []
    smallest = {name: [] for name in names}  # σ_min(J_t) of every step and sequence
    mean_log = {name: [] for name in names}  # mean log σ(J_t), per seed
    for seed in seeds:
        for name, model in model_pair(q, seed).items():
            jacobians = diagnostics.step_jacobians(model, x)[0]  # (T, B, H, H)
            singular = np.linalg.svd(jacobians, compute_uv=False)  # (T, B, H), largest first
            smallest[name].append(singular[..., -1])
            mean_log[name].append(np.log(singular).mean())
            if name == "deep-transition-skip":
                norms_K.append(np.linalg.norm(jacobians - identity, ord=2, axis=(-2, -1)))
    norms_K = np.concatenate(norms_K)
    print(
        f"{q:2d}  {norms_K.mean():10.2f}  {(norms_K < 1).mean():13.0%}  "
        f"{np.concatenate(smallest['deep-transition-skip']).mean():19.2f}  "
        f"{np.concatenate(smallest['deep-transition']).mean():7.3f}  "
        f"{np.mean(mean_log['deep-transition-skip']):+19.3f}  "
        f"{np.mean(mean_log['deep-transition']):+7.2f}"
    )

# %% [markdown]
# Read the table as the chapter's argument:
#
# * the branch is **not** small (the plain draw): its Jacobian has a spectral norm of about a
#   half. The skip does not work by making $\partial\varphi/\partial h$ negligible.
# * $\Vert K_t \Vert_2 < 1$ at most steps, so the smallest singular value of $J_t$ stays well
#   above zero (above 0.5 on average at every depth) while without the skip it is below 0.01:
#   some direction is all but erased at every step.
# * the mean log singular value of $J_t$ is within 0.05 of zero at every depth, against a value
#   that falls with every level without the skip: $I + K_t$ neither shrinks nor grows volume
#   on average, so a product of many of them need not vanish, however deep the branch.
#
# The identity also means nothing *bounds* the product: the ratios above 1 in the sweep are a
# gradient that grows on its way back. At initialisation the residual model's gradients are
# large, and training clips them (the `Trainer`'s default `clip=1.0` rescales any gradient whose
# global norm exceeds 1).
#
# ## Training curves
#
# The adding problem (`tasks.AddingTask`, T = 20) scores only the last step, and the answer
# depends on two inputs that can be up to 19 steps earlier: the gradient must reach them. Both
# models, q = 8 and H = 16 with the same initial weights, train for 300 steps of Adam (learning
# rate 3e-3, batches of 32, clipping at 1). One seed: a short run shows the shape of the effect,
# not a benchmark (tutorial 8's `numrnn compare` tunes every architecture alike and tests
# its claims on fresh seeds).

# %%
task = tasks.AddingTask(seq_len=20, seed=0, validation_size=256)
baseline = task.baseline.value
histories = {}
pair = model_pair(8, seed=0, input_size=task.input_size, output_size=task.output_size)
for name, model in pair.items():
    histories[name] = numrnn.train(
        model,
        task,
        steps=300,
        batch_size=32,
        eval_every=25,
        seed=0,
        progress=False,
        optimizer=numrnn.training.optim.Adam(lr=3e-3),
    )
for name, history in histories.items():
    print(
        f"{name:21s} validation MSE: first {history.val_metric[0]:.3f}, "
        f"final {history.val_metric[-1]:.3f} ({history.val_metric[-1] / baseline:.0%} of the "
        f"baseline {baseline:.3f}); gradient norm before clipping: first step "
        f"{history.grad_norm[0]:.1f}, median {np.median(history.grad_norm):.1f}"
    )

figure = numrnn.plotting.plot_training_curves(
    histories, metric_name="validation MSE", baseline=baseline
)
figure.savefig(out_dir / "skip_training_curves.png", dpi=80)
plt.show()
print(f"figures saved to {out_dir}")

# %% [markdown]
# Without the skip the q = 8 model never leaves the baseline: it learns to predict the mean of
# the sum (its final error stays above 80 % of the baseline), because no gradient from step T
# reaches the marked inputs. With the skip it ends below half of the baseline: it has started to
# use them, though its validation error jumps up and down on the way. The right panel shows the
# price: the residual model's gradient norm before clipping is more than 50 times larger at the
# first step, and clipping is what keeps its updates sane.
#
# ## Starting the branch small
#
# The growing gradients come from the branch: with the plain draw, $\Vert K_t \Vert$ is about a
# half and the product of many $I + K_t$ can grow. Fixup (Zhang et al. 2019) and ReZero
# (Bachlechner et al. 2020) start every residual branch near zero, so that each step starts
# near the identity. Scaling the branch's last maps by 0.1 with `with_residual_path`:

# %%
for q in (1, 8):
    for branch_scale in (1.0, 0.1):
        norms_K, log10_ratios = [], []
        for seed in seeds:
            plain = numrnn.DeepRNN(D, H, O, transition_depth=q, seed=seed)
            model = with_residual_path(plain, branch_scale)
            jacobians = diagnostics.step_jacobians(model, x)[0]  # (T, B, H, H)
            norms_K.append(np.linalg.norm(jacobians - identity, ord=2, axis=(-2, -1)).mean())
            flow = diagnostics.gradient_flow(model, T=T)
            log10_ratios.append(np.log10(flow.ratio))
        print(
            f"q = {q}, branch scale {branch_scale:3.1f}: mean ‖K_t‖ = {np.mean(norms_K):.2f}, "
            f"mean log10 ratio = {np.mean(log10_ratios):+.2f}"
        )

# %% [markdown]
# A branch ten times smaller makes $\Vert K_t \Vert$ several times smaller and brings the
# ratio closer to 1 ($\log_{10}$ closer to 0) at both depths: the gradient neither vanishes nor
# grows much. The price is a network that starts as almost the identity and must grow its
# branch by training.
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
# **Exercise 1.** A residual step has $\Vert K_t \Vert_2 = 0.3$. What is the smallest the norm
# $\Vert (I + K_t)\, v \Vert$ can be, for a unit vector v? Check your bound on a random K with
# that norm.

# %% tags=["hide-input"] jupyter={"source_hidden": true}
K = np.random.default_rng(1).standard_normal((H, H))
K *= 0.3 / np.linalg.norm(K, 2)  # ‖K‖₂ = 0.3
exercise_1 = Exercise(
    1,
    expected=1 - np.linalg.norm(K, 2),
    hint="the identity keeps v whole; how much of it can K v cancel at most?",
    mistakes=[
        (1.3, "that is the largest ‖(I + K) v‖ can be; the smallest subtracts"),
        (0.3, "that is ‖K v‖ at most; add the identity's part, v itself"),
    ],
)

# %%
answer_1 = None  # your answer: a number
exercise_1.check(answer_1)

# %% [markdown]
# **Exercise 2.** The `flow_verdict` thresholds are per step. Over T = 50 steps, below which
# ratio $\Vert dh_1 \Vert / \Vert dh_T \Vert$ does numrnn call a gradient "vanishing"?
# (The rate is ratio$^{1/(T-1)}$.)

# %% tags=["hide-input"] jupyter={"source_hidden": true}
rate = diagnostics.VANISHING_BELOW
exercise_2 = Exercise(
    2,
    expected=next(  # the smallest ratio on a fine grid whose verdict is no longer "vanishing"
        r
        for r in np.geomspace(1e-3, 1e-1, 200_001)
        if diagnostics.flow_verdict(r, T) != "vanishing"
    ),
    hint="the ratio is the per-step rate, diagnostics.VANISHING_BELOW, compounded over the steps",
    mistakes=[
        (rate**T, "count the steps between h_1 and h_50: there are T - 1 of them"),
        (rate, "that is the threshold of one step; the ratio spans T - 1 steps"),
    ],
    rtol=1e-4,
)

# %%
answer_2 = None  # your answer: a number (diagnostics.VANISHING_BELOW and T may appear)
exercise_2.check(answer_2)

# %% [markdown]
# **Exercise 3** (open). Rerun the sweep with `T = 200`. Which ratios change by orders of
# magnitude, and which verdicts change?
#
# **Exercise 4** (open). Try `skip="shortcut"` (Pascanu et al.'s DT(S)): its $h_{t-1}$ reaches
# $a_t$ through one matrix as well as through the q + 1 levels, but there is no identity.
# Where does it fall in the sweep?

# %% [markdown]
# ## Solutions
#
# Worked solutions of the numeric exercises, folded on the web page. Each runs its exercise's
# check, which says "correct".

# %% [markdown]
# **Exercise 1: worked solution** (unfold the code to read it).

# %% tags=["hide-input"] jupyter={"source_hidden": true}
# Exercise 1: ‖(I + K) v‖ >= ‖v‖ - ‖K v‖ >= 1 - ‖K‖₂ (triangle inequality), and K = -0.3 I
# reaches it for every v. Check the bound on the random K:
solution_1 = 1 - 0.3
assert np.linalg.svd(identity + K, compute_uv=False)[-1] >= solution_1 - 1e-12
exercise_1.check(solution_1)

# %% [markdown]
# **Exercise 2: worked solution** (unfold the code to read it).

# %% tags=["hide-input"] jupyter={"source_hidden": true}
# Exercise 2: rate = ratio^(1/(T-1)) < VANISHING_BELOW  <=>  ratio < VANISHING_BELOW^(T-1):
# h_1 to h_50 is 49 steps.
solution_2 = diagnostics.VANISHING_BELOW ** (T - 1)
exercise_2.check(solution_2)
