# %% [markdown]
# # Tutorial 4: check your own layer
#
# numrnn's gradient checker works on any function of a dictionary of arrays, so you can use it
# on a layer numrnn does not have. Here you write a **leaky RNN** layer, forward and backward,
#
# $$h_t = (1 - \alpha)\, h_{t-1} + \alpha \tanh(x_t W_{xh} + h_{t-1} W_{hh} + b_h),$$
#
# check it with `numrnn.gradcheck.check_gradients`, and then watch the checker catch a bug
# planted on purpose. The leak rate $\alpha \in (0, 1]$ is a fixed hyper-parameter: with
# $\alpha = 1$ the layer is the vanilla RNN, which gives one more check.

# %%
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

import numrnn
import numrnn.plotting
from numrnn.gradcheck import check_gradients

rng = np.random.default_rng(1)
T, B, D, H = 7, 3, 4, 5  # steps, batch, input size, hidden size
ALPHA = 0.3  # leak rate

params = {
    "W_xh": 0.5 * rng.standard_normal((D, H)),
    "W_hh": 0.5 * rng.standard_normal((H, H)),
    "b_h": 0.1 * rng.standard_normal(H),  # non-zero, so a missing bias term would show
}
x = rng.standard_normal((T, B, D))  # (T, B, D)
h0 = 0.5 * rng.standard_normal((B, H))  # (B, H), non-zero for the same reason
G = rng.standard_normal((T, B, H))  # a random upstream gradient ∂loss/∂h_t
out_dir = Path(
    os.environ.get("NUMRNN_TUTORIAL_OUTPUT") or tempfile.mkdtemp(prefix="numrnn-tutorial-")
)
out_dir.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## Where the leaky layer sits
#
# numrnn cannot draw your layer, but it can draw its two neighbours. With $\alpha = 1$ the
# leaky layer is the vanilla RNN; numrnn's residual layer, $h_t = h_{t-1} + \tanh(a_t)$, has the
# identity path $h_{t-1} \to h_t$ (the blue arc) beside the recurrent one. The leaky layer has
# both arrows too, with the arc scaled by $1 - \alpha$ and the recurrent path by $\alpha$: its
# gradient has a path back through time that $W_{hh}$ does not multiply.

# %%
for title, skip in [
    ("α = 1: the vanilla RNN", "none"),
    ("residual: hₜ = hₜ₋₁ + tanh(aₜ)", "residual"),
]:
    model = numrnn.DeepRNN(D, H, 1, skip=skip, seed=0)
    figure = numrnn.plotting.plot_architecture(model, steps=3, title=title)
    figure.savefig(out_dir / f"neighbour_{skip}.png", dpi=80)

import matplotlib.pyplot as plt  # after numrnn.plotting chose the backend (Agg in a script)

plt.show()

# %% [markdown]
# ## Forward
#
# Write the forward pass as a loop over steps that keeps what the backward pass needs in a
# named cache: the inputs, every state (`states[t]` is $h_t$, `states[0]` is $h_0$) and every
# $\tanh$ output, from which $\tanh' = 1 - \tanh^2$ follows.


# %%
class LeakyCache(NamedTuple):
    """What leaky_backward needs from leaky_forward."""

    x: np.ndarray  # (T, B, D)
    states: np.ndarray  # (T + 1, B, H): h_0 .. h_T
    c: np.ndarray  # (T, B, H): tanh(a_t)
    params: dict
    alpha: float


def leaky_forward(x, h0, params, alpha):
    """h_t = (1 - α) h_{t-1} + α tanh(x_t W_xh + h_{t-1} W_hh + b_h); returns h (T, B, H) and a
    cache."""
    T = x.shape[0]
    states = np.empty((T + 1,) + h0.shape)
    c = np.empty((T,) + h0.shape)
    states[0] = h0
    for t in range(T):
        a = x[t] @ params["W_xh"] + states[t] @ params["W_hh"] + params["b_h"]  # (B, H)
        c[t] = np.tanh(a)
        states[t + 1] = (1 - alpha) * states[t] + alpha * c[t]
    return states[1:], LeakyCache(x, states, c, params, alpha)


# %% [markdown]
# ## Backward
#
# Going back one step, $h_{t-1}$ is read twice — by the leak term and inside $a_t$ — so its
# gradient is the sum of both paths:
#
# * total gradient at $h_t$: $dh_t = dH_t + dh_{\text{next}}$;
# * through the leak and tanh: $da_t = \alpha\, dh_t \odot (1 - c_t^2)$;
# * weights (summed over steps): $dW_{xh} \mathrel{+}= x_t^\top da_t$,
#   $dW_{hh} \mathrel{+}= h_{t-1}^\top da_t$, $db_h \mathrel{+}= \sum_{\text{rows}} da_t$;
# * inputs: $dx_t = da_t W_{xh}^\top$ and
#   $dh_{\text{next}} = (1 - \alpha)\, dh_t + da_t W_{hh}^\top$.


# %%
def leaky_backward(dH, cache, *, planted_bug=False):
    """BPTT through leaky_forward: returns dx (T, B, D), dh0 (B, H) and the grads dict."""
    x, states, c, params, alpha = cache
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    dx = np.empty_like(x)
    dh_next = np.zeros_like(states[0])
    for t in reversed(range(x.shape[0])):
        dh = dH[t] + dh_next  # from above + from step t+1
        da = alpha * dh * (1 - c[t] ** 2)  # through α tanh(a_t)
        grads["W_xh"] += x[t].T @ da
        grads["W_hh"] += states[t].T @ da  # states[t] is h_{t-1}
        grads["b_h"] += da.sum(axis=0)
        dx[t] = da @ params["W_xh"].T
        if planted_bug:
            dh_next = dh + da @ params["W_hh"].T  # BUG: forgot the (1 - α) on the leak path
        else:
            dh_next = (1 - alpha) * dh + da @ params["W_hh"].T
    return dx, dh_next, grads


# %% [markdown]
# ## Check it
#
# Make the loss a scalar with the random upstream gradient: $\mathrm{loss} = \sum h \odot G$.
# Then $\partial\,\mathrm{loss}/\partial h_t = G_t$ is what `leaky_backward` receives. Checking
# `x` and `h0` as well as the weights checks `dx` and `dh0`.


# %%
def loss(p):
    """Σ h ⊙ G for the leaky layer at the point p (weights, x and h0)."""
    h, _ = leaky_forward(p["x"], p["h0"], {name: p[name] for name in params}, ALPHA)
    return np.sum(h * G)


h, cache = leaky_forward(x, h0, params, ALPHA)
dx, dh0, grads = leaky_backward(G, cache)
report = check_gradients(
    loss, dict(params, x=x, h0=h0), dict(grads, x=dx, h0=dh0), title="leaky RNN"
)
print(report)
assert report.passed

# %% [markdown]
# ## A planted bug
#
# Forgetting the $(1 - \alpha)$ factor on the leak path is an easy mistake. The loss is
# unchanged, the shapes are right and nothing crashes; only the gradients are wrong. The
# checker sees it:

# %%
dx_bad, dh0_bad, grads_bad = leaky_backward(G, cache, planted_bug=True)
bad_report = check_gradients(
    loss,
    dict(params, x=x, h0=h0),
    dict(grads_bad, x=dx_bad, h0=dh0_bad),
    title="leaky RNN with a planted bug",
)
print(bad_report)
print("arrays caught:", ", ".join(row.name for row in bad_report.failures()))
assert not bad_report.passed

# %% [markdown]
# The bug lives on the path back through time, so every gradient that flows along it is wrong
# and all five arrays fail. Only the entries of the last step (`dx` at step T) are still right:
# the report shows each array's worst entry.
#
# ## With α = 1 it is numrnn's vanilla RNN
#
# One more independent check: at $\alpha = 1$ the leak term vanishes and the layer must match
# `numrnn.layers.rnn_forward` / `rnn_backward` exactly.

# %%
h1, cache1 = leaky_forward(x, h0, params, 1.0)
dx1, dh01, grads1 = leaky_backward(G, cache1)
h_ref, cache_ref = numrnn.layers.rnn_forward(x, h0, params)
dx_ref, dh0_ref, grads_ref = numrnn.layers.rnn_backward(G, cache_ref)
worst = max(
    np.abs(h1 - h_ref).max(),
    np.abs(dx1 - dx_ref).max(),
    np.abs(dh01 - dh0_ref).max(),
    *(np.abs(grads1[name] - grads_ref[name]).max() for name in params),
)
print(f"α = 1 equals numrnn's vanilla layer: max |difference| = {worst:.1e}")
assert worst < 1e-12

# %% [markdown]
# ## Checking larger layers
#
# A full check evaluates the loss six times per entry. For a layer with many parameters use
# `method="sampled"` (a few random entries per array) or `method="directional"` (one random
# direction per array, six evaluations however large it is); `docs/gradcheck.md` explains the
# trade-offs, and why the check must run in float64.

# %%
quick = check_gradients(
    loss,
    dict(params, x=x, h0=h0),
    dict(grads, x=dx, h0=dh0),
    method="directional",
    title="leaky RNN, directional",
)
print(quick)
