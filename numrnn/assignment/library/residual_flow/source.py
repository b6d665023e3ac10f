# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Assignment 3: a residual deep transition, and where the gradient flows
#
# A deep transition makes every step of time a deep network, so the path from $h_T$ back to
# $h_0$ crosses two nonlinearities per step, and the gradient vanishes faster than in a
# vanilla RNN. A **residual** (skip) connection adds $h_{t-1}$ back to the step's output:
#
# $$h_t = h_{t-1} + \tanh(a_t), \qquad
#   a_t = x_t W_{xh} + \tanh(h_{t-1} W_{h1} + b_{h1}) W_{hh} + b_h.$$
#
# You will write its forward and backward over a whole sequence, then measure the gradient
# flow of the plain and the residual layer and answer three questions with numbers.
#
# **Learning goals.** After this assignment you can
#
# 1. backpropagate through a skip connection: the gradient at $h_{t-1}$ gets the identity path
#    `dh_next` **plus** the path through the transition MLP;
# 2. measure the ratio $\lVert \partial L / \partial h_0 \rVert / \lVert \partial L / \partial h_T
#    \rVert$ with your own backward pass, for a loss on the last step only;
# 3. explain, with a number, why the step Jacobian of a residual layer cannot vanish when the
#    transition's weights are small.
#
# **Points (10).** `res_forward` 2, `res_backward` 5 (a seventh for each of the 7 gradients),
# `ratio_plain` 1, `ratio_residual` 1, `jacobian_norm_at_zero` 1. The three answers are numbers,
# graded against the reference with a relative tolerance of 1 % (`rtol = 0.01`).
#
# **Conventions** (numrnn's, as in assignment 2): `x` is `(T, B, D)`, `v @ W + b` with `W` of shape
# `(in, out)`; `numrnn.layers.residual_forward` computes the same layer. Use only NumPy.
#
# **Precision.** Work in float64 (NumPy's default) and return float64 arrays: each array is
# compared with the reference's, and its largest difference, relative to the arrays' largest
# entry, must be at most 1e-10. float32 arithmetic (errors of 1e-9 and more) does not meet it.

# %%
import numpy as np

# %% [markdown]
# ## What is graded
#
# The grader reads this declaration (do not edit it).

# %%
GRADING = {
    "title": "Assignment 3: a residual deep transition and its gradient flow",
    "dims": {"T": (2, 4), "B": (2, 3), "D": (2, 4), "H": (3, 5), "M": (3, 6)},
    "public_dims": {"T": 3, "B": 2, "D": 3, "H": 4, "M": 5},
    "trials": 2,
    "items": {
        "res_forward": {
            "check": "forward",
            "points": 2,
            "args": {
                "x": ("T", "B", "D"),
                "h0": ("B", "H"),
                "W_xh": {"shape": ("D", "H"), "scale": 0.5},
                "W_h1": {"shape": ("H", "M"), "scale": 0.5},
                "b_h1": {"shape": ("M",), "scale": 0.1},
                "W_hh": {"shape": ("M", "H"), "scale": 0.5},
                "b_h": {"shape": ("H",), "scale": 0.1},
            },
        },
        "res_backward": {
            "check": "backward",
            "points": 5,
            "forward": "res_forward",
            "grads": {
                "dx": "x",
                "dh0": "h0",
                "dW_xh": "W_xh",
                "dW_h1": "W_h1",
                "db_h1": "b_h1",
                "dW_hh": "W_hh",
                "db_h": "b_h",
            },
        },
        "ratio_plain": {"check": "value", "points": 1, "rtol": 0.01},
        "ratio_residual": {"check": "value", "points": 1, "rtol": 0.01},
        "jacobian_norm_at_zero": {"check": "value", "points": 1, "rtol": 0.01},
    },
}

# %% [markdown]
# ## 1. The residual layer forward (2 points)
#
# Return every state, shape `(T, B, H)`, and a `cache` for the backward pass.


# %%
def res_forward(x, h0, W_xh, W_h1, b_h1, W_hh, b_h):
    """A residual deep-transition RNN layer over a sequence: h_t = h_{t-1} + tanh(a_t).

    Parameters
    ----------
    x : ndarray of shape (T, B, D)
    h0 : ndarray of shape (B, H)
    W_xh : ndarray of shape (D, H)
    W_h1 : ndarray of shape (H, M)
    b_h1 : ndarray of shape (M,)
    W_hh : ndarray of shape (M, H)
    b_h : ndarray of shape (H,)

    Returns
    -------
    h : ndarray of shape (T, B, H)
    cache : object
        What res_backward needs.
    """
    ### BEGIN SOLUTION
    T, B = x.shape[:2]
    H, M = h0.shape[1], W_h1.shape[1]
    h = np.zeros((T, B, H))
    g = np.zeros((T, B, M))  # the transition's hidden layer at every step
    phi = np.zeros((T, B, H))  # tanh(a_t), the residual branch
    h_prev = h0
    for t in range(T):
        g[t] = np.tanh(h_prev @ W_h1 + b_h1)
        phi[t] = np.tanh(x[t] @ W_xh + g[t] @ W_hh + b_h)
        h[t] = h_prev + phi[t]  # the skip: h_t = h_{t-1} + tanh(a_t)
        h_prev = h[t]
    cache = {"x": x, "h0": h0, "h": h, "g": g, "phi": phi, "W_xh": W_xh, "W_h1": W_h1}
    cache.update(W_hh=W_hh, b_h1=b_h1, b_h=b_h)
    ### END SOLUTION
    return h, cache


# %% [markdown]
# ## 2. The residual layer backward (5 points)
#
# The gradient at $h_{t-1}$ has two paths: the skip carries the whole total gradient at $h_t$
# straight through, and the transition adds $\delta^s_t W_{h1}^\top$.


# %%
def res_backward(dh, cache):
    """Backpropagation through time for res_forward.

    Parameters
    ----------
    dh : ndarray of shape (T, B, H)
    cache : object
        From res_forward.

    Returns
    -------
    dx : ndarray of shape (T, B, D)
    dh0 : ndarray of shape (B, H)
    dW_xh : ndarray of shape (D, H)
    dW_h1 : ndarray of shape (H, M)
    db_h1 : ndarray of shape (M,)
    dW_hh : ndarray of shape (M, H)
    db_h : ndarray of shape (H,)
    """
    ### BEGIN SOLUTION
    x, h, g, phi = cache["x"], cache["h"], cache["g"], cache["phi"]
    W_xh, W_h1, W_hh = cache["W_xh"], cache["W_h1"], cache["W_hh"]
    dx = np.zeros_like(x)
    dW_xh, dW_h1, dW_hh = np.zeros_like(W_xh), np.zeros_like(W_h1), np.zeros_like(W_hh)
    db_h1, db_h = np.zeros_like(cache["b_h1"]), np.zeros_like(cache["b_h"])
    dh_next = np.zeros_like(dh[0])
    for t in reversed(range(x.shape[0])):
        h_prev = h[t - 1] if t > 0 else cache["h0"]
        dh_total = dh[t] + dh_next
        da = dh_total * (1.0 - phi[t] ** 2)  # through the branch's tanh
        dx[t] = da @ W_xh.T
        dW_xh += x[t].T @ da
        db_h += da.sum(axis=0)
        dW_hh += g[t].T @ da
        ds = (da @ W_hh.T) * (1.0 - g[t] ** 2)  # into the transition's hidden layer
        dW_h1 += h_prev.T @ ds
        db_h1 += ds.sum(axis=0)
        dh_next = dh_total + ds @ W_h1.T  # the skip's identity path plus the transition's
    dh0 = dh_next
    ### END SOLUTION
    return dx, dh0, dW_xh, dW_h1, db_h1, dW_hh, db_h


# %% [markdown]
# ## 3. Gradient flow: the setting (given, do not change)
#
# One sequence of T = 20 steps, H = M = 16, weights at the scale of a common initialisation. The
# plain deep-transition layer (assignment 2's, written here in vectorized form) is given so that
# you can compare. The loss is $L = \sum h_T$, on the last step only: its upstream gradient is
# `dh` with `dh[T-1] = 1` and zeros elsewhere.

# %%
FLOW_T, FLOW_D, FLOW_H, FLOW_M = 20, 3, 16, 16
_rng = np.random.default_rng(2014)
flow_x = _rng.standard_normal((FLOW_T, 1, FLOW_D))
flow_h0 = np.zeros((1, FLOW_H))
flow_params = {
    "W_xh": _rng.standard_normal((FLOW_D, FLOW_H)) / np.sqrt(FLOW_D),
    "W_h1": _rng.standard_normal((FLOW_H, FLOW_M)) / np.sqrt(FLOW_H),
    "b_h1": np.zeros(FLOW_M),
    "W_hh": _rng.standard_normal((FLOW_M, FLOW_H)) / np.sqrt(FLOW_M),
    "b_h": np.zeros(FLOW_H),
}
flow_dh = np.zeros((FLOW_T, 1, FLOW_H))
flow_dh[-1] = 1.0  # L = sum(h_T)


def plain_forward(x, h0, W_xh, W_h1, b_h1, W_hh, b_h):
    """The deep-transition layer of assignment 2 (no skip), for comparison."""
    hs, gs, h_prev = [], [], h0
    for x_t in x:
        gs.append(np.tanh(h_prev @ W_h1 + b_h1))
        h_prev = np.tanh(x_t @ W_xh + gs[-1] @ W_hh + b_h)
        hs.append(h_prev)
    return np.array(hs), (x, h0, np.array(hs), np.array(gs), W_xh, W_h1, W_hh)


def plain_backward_dh0(dh, cache):
    """Only dh0 of the plain layer: the gradient that reaches the initial state."""
    x, h0, h, g, W_xh, W_h1, W_hh = cache
    dh_next = np.zeros_like(h0)
    for t in reversed(range(len(x))):
        da = (dh[t] + dh_next) * (1.0 - h[t] ** 2)
        dh_next = ((da @ W_hh.T) * (1.0 - g[t] ** 2)) @ W_h1.T
    return dh_next


# %% [markdown]
# ## 4. Three questions with numbers (1 point each, tolerance 1 %)
#
# **(a)** `ratio_plain`: $\lVert \partial L/\partial h_0 \rVert / \lVert \partial L/\partial h_T
# \rVert$ (Frobenius norms) for the plain layer in this setting. Here $\partial L/\partial h_T$
# is `flow_dh[-1]`.
#
# **(b)** `ratio_residual`: the same ratio for your residual layer (use `res_forward` and
# `res_backward`).
#
# **(c)** `jacobian_norm_at_zero`: the largest singular value of the step Jacobian
# $\partial h_t / \partial h_{t-1}$ of the residual layer when $W_{h1} = 0$ and $W_{hh} = 0$
# (any input). Compute it numerically with your `res_backward` on one step (`T = 1`, `B = 1`):
# row `i` of the Jacobian's transpose is `dh0` for `dh = e_i`.
#
# Then say in a sentence, in the Markdown cell below, what (a) and (b) mean for learning long
# dependencies (not graded automatically).

# %%
### BEGIN SOLUTION
_h, _cache = plain_forward(flow_x, flow_h0, **flow_params)
ratio_plain = np.linalg.norm(plain_backward_dh0(flow_dh, _cache)) / np.linalg.norm(flow_dh[-1])

_h, _cache = res_forward(flow_x, flow_h0, **flow_params)
ratio_residual = np.linalg.norm(res_backward(flow_dh, _cache)[1]) / np.linalg.norm(flow_dh[-1])

_zero = dict(flow_params, W_h1=np.zeros((FLOW_H, FLOW_M)), W_hh=np.zeros((FLOW_M, FLOW_H)))
_h, _cache = res_forward(flow_x[:1], flow_h0, **_zero)
_jacobian_T = np.array(
    [res_backward(np.eye(FLOW_H)[i].reshape(1, 1, FLOW_H), _cache)[1][0] for i in range(FLOW_H)]
)
jacobian_norm_at_zero = np.linalg.svd(_jacobian_T, compute_uv=False)[0]
### END SOLUTION
print(f"ratio_plain = {ratio_plain:.4g}, ratio_residual = {ratio_residual:.4g}")
print(f"jacobian_norm_at_zero = {jacobian_norm_at_zero:.4g}")

# %% [markdown]
# Your interpretation:
#
# ### BEGIN SOLUTION
# The plain layer's ratio is about 5e-6: a loss at step T barely reaches the first steps, so
# they learn almost nothing from it. The residual layer's ratio is above one: its step Jacobian
# is the identity plus the transition's term, so with small transition weights it is close to
# the identity (exactly the identity, norm 1, at zero weights), never close to zero. (It can
# grow instead, which is why residual layers are initialised with small branch weights.)
# ### END SOLUTION
