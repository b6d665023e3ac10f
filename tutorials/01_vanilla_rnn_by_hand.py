# %% [markdown]
# # Tutorial 1: a vanilla RNN, by hand
#
# A vanilla recurrent layer maps inputs $x_1..x_T$ and a state $h_0$ to states
#
# $$h_t = \tanh(x_t W_{xh} + h_{t-1} W_{hh} + b_h).$$
#
# Batches are rows: $x_t$ is a (B, D) matrix and $h_t$ a (B, H) matrix, so every affine map
# is `v @ W + b`, exactly as in the code. In this tutorial you will
#
# 1. compute one step forward and backward with NumPy, and compare with
#    `numrnn.reference.step_forward` / `step_backward`;
# 2. run backpropagation through time (BPTT) as a loop of steps;
# 3. check that numrnn's vectorized core computes the same thing;
# 4. check your own loop's gradients against finite differences with
#    `numrnn.gradcheck.check_gradients`.
#
# The equations are derived in `docs/derivations.md`; their labels, such as (R.6), are the ones
# the code cites.

# %%
import os
import tempfile
from pathlib import Path

import numpy as np

import numrnn
import numrnn.plotting
from numrnn import reference
from numrnn.config import LayerConfig
from numrnn.gradcheck import check_gradients

rng = np.random.default_rng(0)
T, B, D, H = 6, 3, 4, 5  # steps, batch, input size, hidden size

params = {
    "W_xh": 0.5 * rng.standard_normal((D, H)),  # (D, H)
    "W_hh": 0.5 * rng.standard_normal((H, H)),  # (H, H)
    "b_h": 0.1 * rng.standard_normal(H),  # (H,)  non-zero, so a missing bias would show
}
config = LayerConfig(input_size=D, hidden_size=H)  # a vanilla layer: q = p = 0, tanh
x = rng.standard_normal((T, B, D))  # (T, B, D), time-major
h0 = 0.5 * rng.standard_normal((B, H))  # (B, H)
out_dir = Path(
    os.environ.get("NUMRNN_TUTORIAL_OUTPUT") or tempfile.mkdtemp(prefix="numrnn-tutorial-")
)
out_dir.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## The picture
#
# `numrnn.plotting.plot_architecture` draws a model unrolled in time. Here is the vanilla RNN
# (with an output map on top, as a `DeepRNN` has): time runs to the right, and the only arrow
# between steps is the recurrent one, $h_{t-1} \to h_t$ through $W_{hh}$. Backpropagation
# through time walks those arrows from right to left, which is what this tutorial writes by hand.

# %%
figure = numrnn.plotting.plot_architecture(numrnn.DeepRNN(D, H, 1, seed=0), steps=4)
figure.savefig(out_dir / "vanilla_unrolled.png", dpi=80)

import matplotlib.pyplot as plt  # after numrnn.plotting chose the backend (Agg in a script)

plt.show()

# %% [markdown]
# ## One step forward
#
# The pre-activation $a_1 = x_1 W_{xh} + h_0 W_{hh} + b_h$ and the state $h_1 = \tanh(a_1)$.
# `reference.step_forward` returns the state and a named cache of what the backward pass needs.

# %%
a1 = x[0] @ params["W_xh"] + h0 @ params["W_hh"] + params["b_h"]  # (B, H)
h1_by_hand = np.tanh(a1)

h1, cache = reference.step_forward(x[0], h0, params, config)
print(f"step forward:  max |by hand - reference| = {np.abs(h1_by_hand - h1).max():.1e}")
np.testing.assert_allclose(h1_by_hand, h1, rtol=0, atol=1e-14)

# %% [markdown]
# ## One step backward
#
# Given $dh_1 = \partial\,\mathrm{loss}/\partial h_1$, the chain rule gives, in the row
# convention:
#
# * through tanh (R.6): $da = dh \odot (1 - h_1^2)$, since $\tanh' = 1 - \tanh^2$;
# * the weights (affine rule): $dW_{xh} = x_1^\top da$, $dW_{hh} = h_0^\top da$,
#   $db_h = \sum_{\text{rows}} da$;
# * the inputs: $dx_1 = da\, W_{xh}^\top$ and $dh_0 = da\, W_{hh}^\top$ (R.8).

# %%
dh1 = rng.standard_normal((B, H))  # a random upstream gradient
da = dh1 * (1 - h1_by_hand**2)  # backprop through tanh
by_hand = {
    "W_xh": x[0].T @ da,  # (D, H)
    "W_hh": h0.T @ da,  # (H, H)
    "b_h": da.sum(axis=0),  # (H,)
}
dx1_by_hand = da @ params["W_xh"].T  # (B, D)
dh0_by_hand = da @ params["W_hh"].T  # (B, H)

dx1, dh0_step, step_grads = reference.step_backward(dh1, cache)
worst = max(np.abs(by_hand[name] - step_grads[name]).max() for name in params)
worst = max(worst, np.abs(dx1 - dx1_by_hand).max(), np.abs(dh0_step - dh0_by_hand).max())
print(f"step backward: max |by hand - reference| = {worst:.1e}")
assert worst < 1e-13

# %% [markdown]
# ## The whole sequence: backpropagation through time
#
# Make the loss a scalar with a random upstream gradient $G$ (T, B, H):
# $\mathrm{loss} = \sum_{t,b,i} h_{t,bi}\, G_{t,bi}$, so the gradient arriving at each state from
# above is $dH_t = G_t$. The weights are shared by all steps, so their gradients are sums over
# steps. Going backwards, each state also receives $dh_{\text{next}}$ from the step after it
# (R.5).

# %%
G = rng.standard_normal((T, B, H))  # dH: ∂loss/∂h_t from above, every step


def my_rnn_forward(x, h0, params):
    """The student's vanilla RNN over a sequence: states (T, B, H) and the list of states."""
    states = [h0]
    for t in range(x.shape[0]):
        a = x[t] @ params["W_xh"] + states[-1] @ params["W_hh"] + params["b_h"]
        states.append(np.tanh(a))
    return np.stack(states[1:]), states


def my_rnn_backward(dH, x, states, params):
    """The student's BPTT: gradients of W_xh, W_hh, b_h, and dx, dh0."""
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    dx = np.zeros_like(x)
    dh_next = np.zeros_like(states[0])
    for t in reversed(range(x.shape[0])):
        dh = dH[t] + dh_next  # (R.5) from above + from step t+1
        da = dh * (1 - states[t + 1] ** 2)  # (R.6) through tanh
        grads["W_xh"] += x[t].T @ da  # shared weights: sum over steps
        grads["W_hh"] += states[t].T @ da  # states[t] is h_{t-1}
        grads["b_h"] += da.sum(axis=0)
        dx[t] = da @ params["W_xh"].T
        dh_next = da @ params["W_hh"].T  # (R.8) into h_{t-1}
    return grads, dx, dh_next


h_mine, states = my_rnn_forward(x, h0, params)
grads_mine, dx_mine, dh0_mine = my_rnn_backward(G, x, states, params)

# %% [markdown]
# ## The vectorized core computes the same
#
# `numrnn.layers.rnn_forward` / `rnn_backward` run the same layer on numrnn's vectorized core:
# the input products for all steps at once before the loop, only the recurrent products inside
# it, and every weight gradient as one product after it (`docs/core.md`).

# %%
h_core, core_cache = numrnn.layers.rnn_forward(x, h0, params)
dx_core, dh0_core, grads_core = numrnn.layers.rnn_backward(G, core_cache)

differences = [
    np.abs(h_core - h_mine).max(),
    np.abs(dx_core - dx_mine).max(),
    np.abs(dh0_core - dh0_mine).max(),
]
differences += [np.abs(grads_core[name] - grads_mine[name]).max() for name in params]
print(
    f"vectorized core agrees with the step-by-step loop: max |difference| = {max(differences):.1e}"
)
assert max(differences) < 1e-12

# %% [markdown]
# ## Check your gradients against finite differences
#
# Agreeing with numrnn is reassuring, but the real test is the definition of the derivative.
# `check_gradients(f, params, grads)` perturbs every entry of every array, evaluates `f` with a
# sixth-order central difference and reports the worst relative error per array. Adding `x` and
# `h0` to the dictionary checks `dx` and `dh0` too.

# %%
point = dict(params, x=x, h0=h0)
analytic = dict(grads_mine, x=dx_mine, h0=dh0_mine)


def loss(p):
    """loss = Σ h ⊙ G, the scalar whose gradient my_rnn_backward computes."""
    h, _ = my_rnn_forward(p["x"], p["h0"], {name: p[name] for name in params})
    return np.sum(h * G)


report = check_gradients(loss, point, analytic, title="my vanilla RNN")
print(report)
assert report.passed

# %% [markdown]
# Every row passes at a relative error far below the $10^{-7}$ tolerance. Try breaking
# `my_rnn_backward` — drop the `dh_next` term, or use `states[t + 1]` in place of `states[t]` —
# and run the check again: the report names the arrays that are wrong.
# [Tutorial 4](04_check_your_own_layer.md) does this on purpose.
