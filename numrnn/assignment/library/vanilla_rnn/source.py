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
# # Assignment 1: the vanilla RNN, forward and backward
#
# You will write one step of a vanilla recurrent network, forward and backward, then run it
# over a whole sequence and backpropagate through time (BPTT).
#
# **Learning goals.** After this assignment you can
#
# 1. write the step `h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)` for a batch (rows are examples);
# 2. derive and code its backward pass: the gradient at the pre-activation, then each weight's;
# 3. unroll the step over T steps and carry `dh_next` backwards through time;
# 4. check a backward pass against finite differences of your own forward.
#
# **Points (10).** `rnn_step_forward` 2, `rnn_step_backward` 3, `rnn_forward` 2, `rnn_backward` 3.
# A backward function earns its points gradient by gradient: with five gradients each is worth a
# fifth. The grader calls your functions on hidden random inputs of other sizes than the public
# checks at the end of this notebook, and compares them with the reference solution.
#
# **Conventions** (the same as numrnn's): sequences are time-major, `x` has shape `(T, B, D)`;
# an affine map is `v @ W + b` with `W` of shape `(in, out)`; `dX` is the gradient of the loss
# with respect to `X` and has the shape of `X`. Use only NumPy. Do not change the signatures.
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
# checked. Sizes are drawn from the ranges in `dims` for the hidden trials.

# %%
GRADING = {
    "title": "Assignment 1: the vanilla RNN, forward and backward",
    "dims": {"T": (2, 4), "B": (2, 3), "D": (2, 4), "H": (3, 5)},
    "public_dims": {"T": 3, "B": 2, "D": 3, "H": 4},
    "trials": 2,
    "items": {
        "rnn_step_forward": {
            "check": "forward",
            "points": 2,
            "args": {
                "x": ("B", "D"),
                "h_prev": ("B", "H"),
                "W_xh": {"shape": ("D", "H"), "scale": 0.5},
                "W_hh": {"shape": ("H", "H"), "scale": 0.5},
                "b_h": {"shape": ("H",), "scale": 0.1},
            },
        },
        "rnn_step_backward": {
            "check": "backward",
            "points": 3,
            "forward": "rnn_step_forward",
            "grads": {
                "dx": "x",
                "dh_prev": "h_prev",
                "dW_xh": "W_xh",
                "dW_hh": "W_hh",
                "db_h": "b_h",
            },
        },
        "rnn_forward": {
            "check": "forward",
            "points": 2,
            "args": {
                "x": ("T", "B", "D"),
                "h0": ("B", "H"),
                "W_xh": {"shape": ("D", "H"), "scale": 0.5},
                "W_hh": {"shape": ("H", "H"), "scale": 0.5},
                "b_h": {"shape": ("H",), "scale": 0.1},
            },
        },
        "rnn_backward": {
            "check": "backward",
            "points": 3,
            "forward": "rnn_forward",
            "grads": {"dx": "x", "dh0": "h0", "dW_xh": "W_xh", "dW_hh": "W_hh", "db_h": "b_h"},
        },
    },
}

# %% [markdown]
# ## 1. One step forward (2 points)
#
# $a_t = x_t W_{xh} + h_{t-1} W_{hh} + b_h$ and $h_t = \tanh(a_t)$. Return `h` and a `cache`:
# whatever your backward pass will need (a dict is fine).


# %%
def rnn_step_forward(x, h_prev, W_xh, W_hh, b_h):
    """One step of a vanilla tanh RNN.

    Parameters
    ----------
    x : ndarray of shape (B, D)
        The inputs x_t of this step.
    h_prev : ndarray of shape (B, H)
        The previous state h_{t-1}.
    W_xh : ndarray of shape (D, H)
    W_hh : ndarray of shape (H, H)
    b_h : ndarray of shape (H,)

    Returns
    -------
    h : ndarray of shape (B, H)
        The new state h_t.
    cache : object
        What rnn_step_backward needs.
    """
    ### BEGIN SOLUTION
    a = x @ W_xh + h_prev @ W_hh + b_h  # (B, H) pre-activation a_t
    h = np.tanh(a)
    cache = {"x": x, "h_prev": h_prev, "W_xh": W_xh, "W_hh": W_hh, "h": h}
    ### END SOLUTION
    return h, cache


# %% [markdown]
# ## 2. One step backward (3 points)
#
# Given `dh` (the gradient at $h_t$), return the gradients at the step's inputs, state and
# parameters. Start from $\delta_t = dh \odot (1 - h_t^2)$, the gradient at $a_t$.


# %%
def rnn_step_backward(dh, cache):
    """Backward pass of rnn_step_forward.

    Parameters
    ----------
    dh : ndarray of shape (B, H)
        The gradient of the loss at h_t.
    cache : object
        From rnn_step_forward.

    Returns
    -------
    dx : ndarray of shape (B, D)
    dh_prev : ndarray of shape (B, H)
    dW_xh : ndarray of shape (D, H)
    dW_hh : ndarray of shape (H, H)
    db_h : ndarray of shape (H,)
    """
    ### BEGIN SOLUTION
    delta = dh * (1.0 - cache["h"] ** 2)  # backprop through tanh: da_t
    dx = delta @ cache["W_xh"].T  # backprop into x_t
    dh_prev = delta @ cache["W_hh"].T  # backprop into h_{t-1}
    dW_xh = cache["x"].T @ delta  # dW_xh = x_tᵀ δ_t
    dW_hh = cache["h_prev"].T @ delta  # dW_hh = h_{t-1}ᵀ δ_t
    db_h = delta.sum(axis=0)  # db_h = Σ_rows δ_t
    ### END SOLUTION
    return dx, dh_prev, dW_xh, dW_hh, db_h


# %% [markdown]
# ## 3. A whole sequence forward (2 points)
#
# Run `rnn_step_forward` for t = 1..T, starting from `h0`. Return every state, shape `(T, B, H)`.


# %%
def rnn_forward(x, h0, W_xh, W_hh, b_h):
    """A vanilla tanh RNN over a sequence.

    Parameters
    ----------
    x : ndarray of shape (T, B, D)
    h0 : ndarray of shape (B, H)
        The initial state.
    W_xh : ndarray of shape (D, H)
    W_hh : ndarray of shape (H, H)
    b_h : ndarray of shape (H,)

    Returns
    -------
    h : ndarray of shape (T, B, H)
        h[t] is the state after step t.
    cache : object
        What rnn_backward needs.
    """
    ### BEGIN SOLUTION
    T, B = x.shape[0], x.shape[1]
    h = np.zeros((T, B, W_hh.shape[0]))
    step_caches = []
    h_prev = h0
    for t in range(T):
        h[t], step_cache = rnn_step_forward(x[t], h_prev, W_xh, W_hh, b_h)
        step_caches.append(step_cache)
        h_prev = h[t]
    cache = {"steps": step_caches}
    ### END SOLUTION
    return h, cache


# %% [markdown]
# ## 4. Backpropagation through time (3 points)
#
# `dh[t]` is the gradient that reaches $h_t$ from above (from a loss on every step). Walk back
# from t = T to 1: the total gradient at $h_t$ is `dh[t]` plus the `dh_next` carried back from
# step t + 1. Weight gradients add up over the steps.


# %%
def rnn_backward(dh, cache):
    """Backpropagation through time for rnn_forward.

    Parameters
    ----------
    dh : ndarray of shape (T, B, H)
        The gradient of the loss at every state, from above.
    cache : object
        From rnn_forward.

    Returns
    -------
    dx : ndarray of shape (T, B, D)
    dh0 : ndarray of shape (B, H)
    dW_xh : ndarray of shape (D, H)
    dW_hh : ndarray of shape (H, H)
    db_h : ndarray of shape (H,)
    """
    ### BEGIN SOLUTION
    steps = cache["steps"]
    T, B, D = len(steps), dh.shape[1], steps[0]["x"].shape[1]
    dx = np.zeros((T, B, D))
    dW_xh = np.zeros_like(steps[0]["W_xh"])
    dW_hh = np.zeros_like(steps[0]["W_hh"])
    db_h = np.zeros(dh.shape[2])
    dh_next = np.zeros_like(dh[0])
    for t in reversed(range(T)):
        dx[t], dh_next, dW_xh_t, dW_hh_t, db_h_t = rnn_step_backward(dh[t] + dh_next, steps[t])
        dW_xh += dW_xh_t  # the weights are shared by every step: sum their gradients
        dW_hh += dW_hh_t
        db_h += db_h_t
    dh0 = dh_next
    ### END SOLUTION
    return dx, dh0, dW_xh, dW_hh, db_h
