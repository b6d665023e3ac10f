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
# # Assignment 2: backpropagation through time in a deep-transition RNN
#
# In a vanilla RNN the step from $h_{t-1}$ to $h_t$ is one affine map and one nonlinearity. A
# **deep transition** (Pascanu et al., 2014) puts a small MLP in that step, so every step of
# time is itself a deep network. You will write its step forward and backward, then
# backpropagate through time over a whole sequence.
#
# **Learning goals.** After this assignment you can
#
# 1. write a step whose transition is an MLP: $g_t = \tanh(h_{t-1} W_{h1} + b_{h1})$, then
#    $a_t = x_t W_{xh} + g_t W_{hh} + b_h$ and $h_t = \tanh(a_t)$;
# 2. backpropagate through the two levels of the step, in the reverse order of the forward;
# 3. carry `dh_next` back through time when every step is a two-level network, and see that
#    the path from $h_T$ to $h_0$ now crosses $2T$ nonlinearities;
# 4. check a backward pass against finite differences of your own forward.
#
# **Points (10).** `dt_step_forward` 2, `dt_step_backward` 4, `dt_forward` 1, `dt_backward` 3.
# A backward function earns its points gradient by gradient (seven gradients: a seventh each).
# The grader calls your functions on hidden random inputs of other sizes than the public checks
# at the end of this notebook, and compares them with the reference solution.
#
# **Conventions** (numrnn's): time-major `x` of shape `(T, B, D)`; an affine map is `v @ W + b`
# with `W` of shape `(in, out)`; `dX` is the gradient of the loss with respect to `X`. Sizes:
# D inputs, H hidden state, M width of the transition MLP. The parameter names are numrnn's
# (`numrnn.layers.deep_transition_forward` computes the same layer). Use only NumPy.
#
# **Precision.** Work in float64 (NumPy's default) and return float64 arrays: each array is
# compared with the reference's, and its largest difference, relative to the arrays' largest
# entry, must be at most 1e-10. float32 arithmetic (errors of 1e-9 and more) does not meet it.

# %%
import numpy as np

# %% [markdown]
# ## What is graded
#
# The grader reads this declaration (do not edit it): each function, its points, and how it is
# checked.

# %%
GRADING = {
    "title": "Assignment 2: BPTT through a deep-transition layer",
    "dims": {"T": (2, 4), "B": (2, 3), "D": (2, 4), "H": (3, 5), "M": (3, 6)},
    "public_dims": {"T": 3, "B": 2, "D": 3, "H": 4, "M": 5},
    "trials": 2,
    "items": {
        "dt_step_forward": {
            "check": "forward",
            "points": 2,
            "args": {
                "x": ("B", "D"),
                "h_prev": ("B", "H"),
                "W_xh": {"shape": ("D", "H"), "scale": 0.5},
                "W_h1": {"shape": ("H", "M"), "scale": 0.5},
                "b_h1": {"shape": ("M",), "scale": 0.1},
                "W_hh": {"shape": ("M", "H"), "scale": 0.5},
                "b_h": {"shape": ("H",), "scale": 0.1},
            },
        },
        "dt_step_backward": {
            "check": "backward",
            "points": 4,
            "forward": "dt_step_forward",
            "grads": {
                "dx": "x",
                "dh_prev": "h_prev",
                "dW_xh": "W_xh",
                "dW_h1": "W_h1",
                "db_h1": "b_h1",
                "dW_hh": "W_hh",
                "db_h": "b_h",
            },
        },
        "dt_forward": {
            "check": "forward",
            "points": 1,
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
        "dt_backward": {
            "check": "backward",
            "points": 3,
            "forward": "dt_forward",
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
    },
}

# %% [markdown]
# ## 1. One step forward (2 points)
#
# The transition MLP has one hidden layer of width M:
#
# $$s_t = h_{t-1} W_{h1} + b_{h1}, \quad g_t = \tanh(s_t), \quad
#   a_t = x_t W_{xh} + g_t W_{hh} + b_h, \quad h_t = \tanh(a_t).$$
#
# Return `h` and a `cache` with what the backward pass needs (a dict is fine).


# %%
def dt_step_forward(x, h_prev, W_xh, W_h1, b_h1, W_hh, b_h):
    """One step of a deep-transition RNN (one hidden layer in the transition).

    Parameters
    ----------
    x : ndarray of shape (B, D)
    h_prev : ndarray of shape (B, H)
        The previous state h_{t-1}.
    W_xh : ndarray of shape (D, H)
    W_h1 : ndarray of shape (H, M)
        The transition MLP's hidden layer.
    b_h1 : ndarray of shape (M,)
    W_hh : ndarray of shape (M, H)
        From the MLP's hidden layer to the state's pre-activation.
    b_h : ndarray of shape (H,)

    Returns
    -------
    h : ndarray of shape (B, H)
    cache : object
        What dt_step_backward needs.
    """
    ### BEGIN SOLUTION
    g = np.tanh(h_prev @ W_h1 + b_h1)  # (B, M) the transition's hidden layer g_t
    a = x @ W_xh + g @ W_hh + b_h  # (B, H) pre-activation a_t
    h = np.tanh(a)
    cache = {"x": x, "h_prev": h_prev, "g": g, "h": h, "W_xh": W_xh, "W_h1": W_h1, "W_hh": W_hh}
    ### END SOLUTION
    return h, cache


# %% [markdown]
# ## 2. One step backward (4 points)
#
# Walk the forward backwards: $\delta^a_t = dh \odot (1 - h_t^2)$ at the pre-activation, then
# into $x_t$, $W_{xh}$, $b_h$, $W_{hh}$ and $g_t$; then $\delta^s_t = dg \odot (1 - g_t^2)$ and
# into $W_{h1}$, $b_{h1}$ and $h_{t-1}$.


# %%
def dt_step_backward(dh, cache):
    """Backward pass of dt_step_forward.

    Parameters
    ----------
    dh : ndarray of shape (B, H)
        The gradient of the loss at h_t.
    cache : object
        From dt_step_forward.

    Returns
    -------
    dx : ndarray of shape (B, D)
    dh_prev : ndarray of shape (B, H)
    dW_xh : ndarray of shape (D, H)
    dW_h1 : ndarray of shape (H, M)
    db_h1 : ndarray of shape (M,)
    dW_hh : ndarray of shape (M, H)
    db_h : ndarray of shape (H,)
    """
    ### BEGIN SOLUTION
    da = dh * (1.0 - cache["h"] ** 2)  # backprop through tanh: δ^a_t
    dx = da @ cache["W_xh"].T
    dW_xh = cache["x"].T @ da
    db_h = da.sum(axis=0)
    dW_hh = cache["g"].T @ da
    dg = da @ cache["W_hh"].T  # backprop into the hidden layer g_t
    ds = dg * (1.0 - cache["g"] ** 2)  # backprop through its tanh: δ^s_t
    dW_h1 = cache["h_prev"].T @ ds
    db_h1 = ds.sum(axis=0)
    dh_prev = ds @ cache["W_h1"].T  # backprop into h_{t-1}
    ### END SOLUTION
    return dx, dh_prev, dW_xh, dW_h1, db_h1, dW_hh, db_h


# %% [markdown]
# ## 3. A whole sequence forward (1 point)
#
# Run `dt_step_forward` for t = 1..T from `h0`; return every state, shape `(T, B, H)`.


# %%
def dt_forward(x, h0, W_xh, W_h1, b_h1, W_hh, b_h):
    """A deep-transition RNN layer over a sequence.

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
        What dt_backward needs.
    """
    ### BEGIN SOLUTION
    T, B = x.shape[:2]
    h = np.zeros((T, B, h0.shape[1]))
    step_caches, h_prev = [], h0
    for t in range(T):
        h[t], step_cache = dt_step_forward(x[t], h_prev, W_xh, W_h1, b_h1, W_hh, b_h)
        step_caches.append(step_cache)
        h_prev = h[t]
    cache = {"steps": step_caches, "b_h1": b_h1, "b_h": b_h}
    ### END SOLUTION
    return h, cache


# %% [markdown]
# ## 4. Backpropagation through time (3 points)
#
# `dh[t]` reaches $h_t$ from above. From t = T down to 1, the total gradient at $h_t$ is
# `dh[t] + dh_next`; the parameters are shared by every step, so their gradients add up.


# %%
def dt_backward(dh, cache):
    """Backpropagation through time for dt_forward.

    Parameters
    ----------
    dh : ndarray of shape (T, B, H)
    cache : object
        From dt_forward.

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
    steps = cache["steps"]
    dx = np.zeros((len(steps),) + steps[0]["x"].shape)
    dW_xh = np.zeros_like(steps[0]["W_xh"])
    dW_h1 = np.zeros_like(steps[0]["W_h1"])
    db_h1 = np.zeros_like(cache["b_h1"])
    dW_hh = np.zeros_like(steps[0]["W_hh"])
    db_h = np.zeros_like(cache["b_h"])
    dh_next = np.zeros_like(dh[0])
    for t in reversed(range(len(steps))):
        dx[t], dh_next, dW_xh_t, dW_h1_t, db_h1_t, dW_hh_t, db_h_t = dt_step_backward(
            dh[t] + dh_next, steps[t]
        )
        dW_xh += dW_xh_t  # shared weights: their gradients add up over the steps
        dW_h1 += dW_h1_t
        db_h1 += db_h1_t
        dW_hh += dW_hh_t
        db_h += db_h_t
    dh0 = dh_next
    ### END SOLUTION
    return dx, dh0, dW_xh, dW_h1, db_h1, dW_hh, db_h
