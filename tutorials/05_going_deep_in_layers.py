# %% [markdown]
# # Tutorial 5: going deep in layers
#
# The first way to make a recurrent network deep is to **stack** layers: layer l reads the state
# sequence of layer l - 1 (equation (S.1) in `docs/derivations.md`),
#
# $$h_t^{(l)} = \tanh\bigl(h_t^{(l-1)} W_{xh}^{(l)} + h_{t-1}^{(l)} W_{hh}^{(l)} + b_h^{(l)}\bigr),
# \qquad h_t^{(0)} = x_t .$$
#
# **Learning goals.** After this tutorial you can
#
# 1. count the parameters of a stack by hand and say why L layers of H units cost fewer
#    parameters than one layer of L·H units;
# 2. say which path a stack makes deeper: $x_t \to y_t$, not $h_{t-1} \to h_t$
#    (`numrnn.diagnostics.sequential_depth`);
# 3. run a stack layer by layer with the functional API and look at each layer's states;
# 4. read the (L, T) map `info.grad_norms` of a stack, and explain why the lowest layer keeps
#    the most gradient far back in time.
#
# The task is a **multi-scale** one: predict the next value of a sum of three sines with periods
# of 6, 20 and 70 steps (`numrnn.training.tasks.SineTask`), so fast and slow structure coexist.

# %%
import os
import tempfile
from pathlib import Path

import numpy as np

import numrnn
import numrnn.plotting
from numrnn import diagnostics
from numrnn.params import layer_params
from numrnn.training import tasks

out_dir = Path(
    os.environ.get("NUMRNN_TUTORIAL_OUTPUT") or tempfile.mkdtemp(prefix="numrnn-tutorial-")
)
out_dir.mkdir(parents=True, exist_ok=True)

task = tasks.SineTask(seq_len=100, seed=0, validation_size=64)  # T = 100 steps, D = O = 1
D, O = task.input_size, task.output_size
L, H = 3, 16  # layers, units per layer
print(task.describe())
print(f"baseline: {task.baseline.description}, validation MSE {task.baseline.value:.4f}")

# %% [markdown]
# ## Parameters: a stack against a vanilla RNN of the same size
#
# Layer 1 reads x (D inputs), every other layer reads the H states below it:
#
# $$N_{\text{stack}} = \underbrace{(D H + H^2 + H)}_{\text{layer 1}}
#   + (L - 1)\underbrace{(H H + H^2 + H)}_{\text{layers } 2..L}
#   + \underbrace{H O + O}_{\text{output}} .$$
#
# A vanilla RNN with the same number of units, L·H = 48, has one (48, 48) recurrent matrix: the
# H² term grows with the square of the width, so splitting the units into a stack is cheaper.
# The third model is a vanilla RNN with (about) the stack's **parameter budget**: the widest one
# that does not have more parameters than the stack.

# %%
stack = numrnn.DeepRNN(D, H, O, num_layers=L, seed=0)
same_units = numrnn.presets.vanilla(D, L * H, O, seed=0)
by_formula = (D * H + H * H + H) + (L - 1) * (H * H + H * H + H) + H * O + O
print(f"stack by the formula: {by_formula}, by the model: {stack.num_params()}")
assert by_formula == stack.num_params()

budget_width = max(
    width
    for width in range(1, 200)
    if numrnn.presets.vanilla(D, width, O, seed=0).num_params() <= stack.num_params()
)
same_budget = numrnn.presets.vanilla(D, budget_width, O, seed=0)

models = {
    f"stack L={L}, H={H}": stack,
    f"vanilla H={L * H}": same_units,
    f"vanilla H={budget_width}": same_budget,
}
print(
    f"{'model':22s} {'input':>6s} {'transition':>10s} {'output':>6s} {'total':>6s}   "
    "depth h->h  depth x->y"
)
for label, model in models.items():
    counts = diagnostics.parameter_counts(model)
    depth = diagnostics.sequential_depth(model)
    print(
        f"{label:22s} {counts['input']:6d} {counts['transition']:10d} {counts['output']:6d} "
        f"{counts['total']:6d}   {depth.recurrent:10d}  {depth.input_to_output:10d}"
    )
print(
    f"the vanilla RNN with {L * H} units has {same_units.num_params() / stack.num_params():.2f} "
    f"times the stack's parameters"
)

# %% [markdown]
# Two things to read in the table:
#
# * the vanilla RNN with the same 48 units needs more parameters than the stack: its one
#   recurrent matrix has $(L H)^2 = 2304$ entries, while the stack's recurrent matrices and the
#   matrices between its layers have $L H^2 + (L - 1) H^2 = 1280$ (`parameter_counts` files a
#   layer's $W_{xh}$ under "input", its $W_{hh}$ and $b_h$ under "transition");
# * **sequential depth** (`diagnostics.sequential_depth`) counts nonlinearities on the longest
#   path. Stacking makes the path from $x_t$ to $y_t$ L nonlinearities deep but leaves the path
#   from $h_{t-1}^{(l)}$ to $h_t^{(l)}$ at one: each layer is still a shallow recurrence in
#   time. Deepening *that* path is tutorial 6's subject.
#
# ## Training, briefly
#
# 200 steps of Adam on batches of 16 sequences train the stack and the vanilla RNN of equal
# budget (a few seconds each). `numrnn.plotting.plot_training_curves` draws the two runs; the
# dashed line is the persistence baseline ($s_{t+1} = s_t$).

# %%
histories = {}
for label in (f"stack L={L}, H={H}", f"vanilla H={budget_width}"):
    histories[label] = numrnn.train(
        models[label], task, steps=200, batch_size=16, eval_every=50, seed=0, progress=False
    )
    final = histories[label].val_metric[-1]
    print(
        f"{label:22s} validation MSE after 200 steps: {final:.5f} "
        f"({task.baseline.value / final:.0f} times below the baseline)"
    )

figure = numrnn.plotting.plot_training_curves(
    histories, metric_name="validation MSE", baseline=task.baseline.value
)
figure.savefig(out_dir / "stack_training.png", dpi=80)

import matplotlib.pyplot as plt  # after numrnn.plotting chose the backend (Agg in a script)

plt.show()

# %% [markdown]
# Both models learn the task: their validation error ends far below the persistence baseline.
# Which of the two is ahead after 200 steps is one seed's result, not a law; exercise 3 asks you
# to look at more.
#
# ## Each layer's states, one layer at a time
#
# A stack is nothing but (S.1): run layer 1 over x, feed its state sequence to layer 2, and so
# on. The functional API (`numrnn.layers.layer_forward`) runs one layer and returns its whole
# state sequence (T, B, H); `numrnn.params.layer_params(params, l)` takes layer l's weights out
# of the model. Running the layers one by one must give the model's own final states:

# %%
batch = task.validation_batches()[0]
layer_input = batch.x  # (T, B, D)
states = []
for l in range(1, L + 1):
    h, cache = numrnn.layers.layer_forward(
        layer_input, None, layer_params(stack.params, l), stack.config.layers[l - 1]
    )
    states.append(h)  # (T, B, H)
    layer_input = h  # layer l + 1 reads layer l
_, final_state = stack.forward(batch.x)
difference = max(np.abs(h[-1] - final).max() for h, final in zip(states, final_state, strict=True))
print(f"layer by layer equals the model: max |difference| of the final states = {difference:.1e}")
assert difference < 1e-12

# %% [markdown]
# What do the layers hold? The figure shows the input and the states of every layer for one
# validation sequence, one row per unit. A rough measure of each layer's time scale is the
# **mean frequency** of its states: the average of the frequency f (cycles per step) under the
# power spectrum of the (mean-removed) states, over units and sequences. Its inverse is a mean
# period in steps, to compare with the input's periods 6, 20 and 70.


# %%
def mean_period(sequence):
    """1 / (mean frequency) of the power spectrum of a (T, B, H) array, averaged over B and H."""
    centred = sequence - sequence.mean(axis=0)
    power = (np.abs(np.fft.rfft(centred, axis=0)) ** 2).sum(axis=(1, 2))  # (T // 2 + 1,)
    frequency = np.fft.rfftfreq(sequence.shape[0])  # cycles per step
    return 1.0 / ((power * frequency).sum() / power.sum())


periods = [mean_period(batch.x)] + [mean_period(h) for h in states]
for l, period in enumerate(periods):
    print(f"{'input x' if l == 0 else f'layer {l}':8s} mean period {period:5.1f} steps")

figure, axes = plt.subplots(L + 1, 1, figsize=(8, 6), sharex=True, layout="constrained")
axes[0].plot(batch.x[:, 0, 0], color="0.2")
axes[0].set_ylabel("x")
for l, h in enumerate(states, start=1):
    image = axes[l].imshow(
        h[:, 0, :].T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest"
    )
    axes[l].set_ylabel(f"layer {l}\nunit")
figure.colorbar(image, ax=axes[1:], label="state $h_t$ (tanh: -1 to 1), one scale for all layers")
axes[-1].set_xlabel("step t")
axes[0].set_title("one validation sequence: the input and every layer's states (tanh units)")
figure.savefig(out_dir / "stack_states.png", dpi=80)
plt.show()

# %% [markdown]
# Every layer is driven by the layer below at the same step, so it follows all three sines;
# nothing forces the upper layers to be slower. Whether a stack separates time scales depends on
# the task and the training (the chapter's claim is about what a stack *can* represent). Here the
# mean periods of the layers stay between the input's fastest and slowest periods.
#
# ## Each layer's gradient norms
#
# `info.grad_norms` holds $\Vert \partial\,\mathrm{loss} / \partial h_t^{(l)} \Vert$ for every
# layer and step, an (L, T) array. Score the **last step only** (a mask that is 1 at step T) and
# every gradient at an earlier step has come back through time.
#
# In a stack there are several ways back. The gradient reaching $h_1^{(L)}$ must travel all
# T - 1 steps inside the top layer. The gradient reaching $h_1^{(1)}$ can go *down* the stack at
# any step first (S.2) and travel the rest of the way in any layer below: the lower the layer,
# the more paths add up at it.

# %%
mask = np.zeros(batch.x.shape[:2])
mask[-1] = 1.0  # count step T only
loss, grads, info = stack.loss_and_grads(batch.x, batch.targets, loss="mse", mask=mask)
grad_norms = info.grad_norms  # (L, T)
print("grad_norms shape", grad_norms.shape)
for l in range(L):
    ratio = grad_norms[l, 0] / grad_norms[l, -1]
    first, last = grad_norms[l, 0], grad_norms[l, -1]
    print(f"layer {l + 1}: ‖∂L/∂h_1‖ = {first:.2e}, ‖∂L/∂h_T‖ = {last:.2e}, ratio {ratio:.2e}")
advantage = grad_norms[0, 0] / grad_norms[-1, 0]
print(f"at step 1, layer 1 holds {advantage:.1e} times the top layer's gradient")

ax = numrnn.plotting.plot_gradient_norms(grad_norms, title=f"stack L={L}, trained, loss on step T")
ax.figure.savefig(out_dir / "stack_grad_norms.png", dpi=80)
plt.show()
print(f"figures saved to {out_dir}")

# %% [markdown]
# The heat map fades from right to left in every layer (each one is a vanilla recurrence in
# time, so its gradient vanishes geometrically), and it fades fastest in the top layer, which
# has only its own path back. The lowest layer keeps orders of magnitude more gradient at
# step 1.
#
# ## Exercises
#
# Each numeric exercise has a blank for your answer, `answer = None`, and a check under it that
# says "correct", or "not right yet" with a hint, without telling you the answer. The cell that
# builds each check is folded (it holds the hints for common mistakes), and so are the worked
# solutions in the last section: try first.

# %%
from numrnn.exercises import Exercise

# %% [markdown]
# **Exercise 1.** How many parameters has a stack of 4 layers of 8 units each, with D = 3 inputs
# and O = 2 outputs? Use the formula, then check.

# %% tags=["hide-input"] jupyter={"source_hidden": true}
exercise_1 = Exercise(
    1,
    expected=numrnn.DeepRNN(3, 8, 2, num_layers=4, seed=0).num_params(),
    hint="each layer has its input matrix, W_hh and b_h; the output adds W_hy and b_y",
    mistakes=[
        (4 * (3 * 8 + 8 * 8 + 8) + 8 * 2 + 2, "layers 2-4 read the 8 states below, not 3 inputs"),
        ((3 * 8 + 8 * 8 + 8) + 3 * (8 * 8 + 8 * 8 + 8), "the output layer has parameters too"),
        (
            (3 * 8 + 8 * 8) + 3 * (8 * 8 + 8 * 8) + 8 * 2,
            "every layer and the output has a bias too",
        ),
    ],
)

# %%
answer_1 = None  # your answer: a number (a formula in 3, 8 and 2 is fine)
exercise_1.check(answer_1)

# %% [markdown]
# **Exercise 2.** How many nonlinearities are on the longest path from $x_t$ to $y_t$ in a stack of
# 5 layers whose output MLP has one hidden layer (`output_depth=1`)? And from $h_{t-1}^{(l)}$ to
# $h_t^{(l)}$?

# %% tags=["hide-input"] jupyter={"source_hidden": true}
depth = diagnostics.sequential_depth(numrnn.DeepRNN(1, 8, 1, num_layers=5, output_depth=1, seed=0))
exercise_2a = Exercise(
    "2a",
    expected=depth.input_to_output,
    hint="follow x_t up through every layer, then through the output MLP",
    mistakes=[(5, "the output MLP's hidden layer applies a nonlinearity too")],
)
exercise_2b = Exercise(
    "2b",
    expected=depth.recurrent,
    hint="which nonlinearities lie between h_(t-1) and h_t of the same layer?",
    mistakes=[(5, "stacking deepens x_t -> y_t; each layer's own recurrence stays one step")],
)

# %%
answer_2a = None  # your answer: x_t -> y_t
answer_2b = None  # your answer: h_(t-1) -> h_t within one layer
exercise_2a.check(answer_2a)
exercise_2b.check(answer_2b)

# %% [markdown]
# **Exercise 3** (open). Train both models with seeds 1 and 2 (`numrnn.DeepRNN(..., seed=s)` and
# `numrnn.train(..., seed=s)`). Is the stack ahead every time? Then train each for 1000 steps.
#
# **Exercise 4** (open). Score every step instead of the last one (`mask=None`): how does the
# gradient map change, and why does every step now receive gradient of about the same size?

# %% [markdown]
# ## Solutions
#
# Worked solutions of the numeric exercises, folded on the web page. Each runs its exercise's
# check, which says "correct".

# %% [markdown]
# **Exercise 1: worked solution** (unfold the code to read it).

# %% tags=["hide-input"] jupyter={"source_hidden": true}
# Exercise 1: layer 1 reads the D = 3 inputs, layers 2-4 the H = 8 states of the layer below;
# each has W_xh, W_hh (8 x 8) and b_h (8); the output has W_hy (8 x 2) and b_y (2).
solution_1 = (3 * 8 + 8 * 8 + 8) + 3 * (8 * 8 + 8 * 8 + 8) + 8 * 2 + 2
exercise_1.check(solution_1)

# %% [markdown]
# **Exercise 2: worked solution** (unfold the code to read it).

# %% tags=["hide-input"] jupyter={"source_hidden": true}
# Exercise 2: x_t passes one tanh per layer (5) and the output MLP's hidden layer (1); from
# h_(t-1) to h_t of one layer there is that layer's tanh only.
solution_2a, solution_2b = 5 + 1, 1
exercise_2a.check(solution_2a)
exercise_2b.check(solution_2b)
