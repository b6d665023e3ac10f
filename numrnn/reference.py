"""The naive per-step reference: one time step at a time, every product in the loop.

Read this file first. It computes exactly what the vectorized core
(``numrnn.core``) computes, but the way the maths is written: a Python loop
over t that calls ``step_forward``, and a reverse loop that calls
``step_backward``, in the style of CS231n's ``rnn_layers.py`` and Karpathy's
min-char-rnn. The test suite uses it as the core's independent oracle.

Read it beside ``docs/derivations.md``: every line that computes a labelled
equation cites it, ``(M.1)``-``(M.7)`` for the MLPs, ``(R.1)``-``(R.11)`` for
the recurrent layer, ``(S.1)``-``(S.2)`` for the stack. One layer, one step
(q transition depth, p input depth)::

    gx_0 = x_t,      gx_j = [gx_{j-1} +] ψ(gx_{j-1} @ W_x{j} + b_x{j})   j = 1..p     (M.1)
    u_t  = gx_p @ W_xh + b_{j_in}                                                      (R.1)
    g_0  = h_{t-1},  s_j  = g_{j-1} @ W_j [+ h_{t-1} @ S_j] + c_{j,t}   j = 1..q+1  (R.3, R.4)
                     g_j  = [g_{j-1} +] ψ(s_j)                           j = 1..q        (R.3)
    a_t  = s_{q+1},  h_t  = [h_{t-1} +] φ(a_t)                                         (R.4)

Level j's weight and bias are ``W_h{j}, b_h{j}`` (j <= q) or ``W_hh, b_h``
(j = q + 1); ``S_h{j}``/``S_hh`` exist for skip="shortcut" (DT(S)) and j >= 2.
Bracketed terms are the optional skips. The input joins one level, the input
level ``j_in = config.input_level``: q + 1 (so ``a_t = u_t + z_t``) for skip
none/residual, 1 for DT(S). Each level has exactly one bias, and the
derivation's bookkeeping puts the input level's in ``u_t``: ``c_{j,t}`` is
``u_t`` at level ``j_in`` and ``b_j`` at every other level. So for the vanilla
RNN ``u_t = x_t W_xh + b_h`` and ``z_t = h_{t-1} W_hh``.

The one equation of the core this file does not have is (R.2), its fused
product: here each level multiplies ``h_{t-1}`` by its own matrix.

Shape legend: T steps, B batch, D input size, H hidden size, M MLP width,
O output size, L layers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import check_float_array, check_int
from .activations import Activation, get_activation
from .config import LayerConfig, ModelConfig
from .params import (
    OUTPUT_PREFIX,
    check_params,
    layer_params,
    layer_prefix,
    model_parameter_shapes,
    output_params,
)
from .records import LayerGradients, ModelGradients

__all__ = [
    "StepCache",
    "OutputStepCache",
    "ModelCache",
    "step_forward",
    "step_backward",
    "layer_forward",
    "layer_backward",
    "output_forward",
    "output_backward",
    "model_forward",
    "model_backward",
]


# --------------------------------------------------------------------------- MLP hidden layers


def _mlp_hidden_forward(v, params, letter, depth, act: Activation, layer_skip):
    """Hidden layers ``g_j = [g_{j-1} +] act(g_{j-1} @ W_{letter}{j} + b_{letter}{j})``, (M.1).

    Returns ``(g_0 .. g_k, act outputs)``.
    """
    g, act_out = [v], []
    for j in range(1, depth + 1):
        W = params[f"W_{letter}{j}"]
        out = act.forward(g[j - 1] @ W + params[f"b_{letter}{j}"])  # (M.1) ψ(s_j)
        act_out.append(out)
        g.append(g[j - 1] + out if layer_skip and W.shape[0] == W.shape[1] else out)
    return tuple(g), tuple(act_out)


def _mlp_hidden_backward(dg, g, act_out, params, letter, act: Activation, layer_skip, grads):
    """Backprop ``dg`` (grad at g_k) down to g_0, adding weight grads into ``grads``: (M.5)-(M.7).

    Returns ``dg_0``.
    """
    for j in range(len(act_out), 0, -1):
        W = params[f"W_{letter}{j}"]
        ds = dg * act.derivative_from_output(act_out[j - 1])  # (M.5) δ_j = dg_j ⊙ ψ'(s_j)
        grads[f"W_{letter}{j}"] += g[j - 1].T @ ds  # (M.6) dW_j = g_{j-1}ᵀ δ_j
        grads[f"b_{letter}{j}"] += ds.sum(axis=0)  # (M.6) db_j = Σ_rows δ_j
        dg_below = ds @ W.T  # (M.7) dg_{j-1} = δ_j W_jᵀ
        if layer_skip and W.shape[0] == W.shape[1]:
            dg_below += dg  # (M.7) + dg_j: layer-skip path g_j = g_{j-1} + ψ(s_j)
        dg = dg_below
    return dg


# --------------------------------------------------------------------------- one step of one layer


class StepCache(NamedTuple):
    """What ``step_backward`` needs from one ``step_forward`` (activations are kept as outputs)."""

    x: np.ndarray  # (B, D) the input x_t
    h_prev: np.ndarray  # (B, H) h_{t-1}
    gx: tuple  # gx_0 = x_t, gx_1..gx_p: MLP_x's hidden layers
    psi_x: tuple  # ψ(gx_{j-1} @ W_x{j} + b_x{j}), j = 1..p (= gx_j without layer skip)
    u: np.ndarray  # (B, H) or (B, M) the input projection u_t, with the input level's bias
    g: tuple  # g_0 = h_{t-1}, g_1..g_q: the transition levels' outputs
    psi_h: tuple  # ψ(s_j), j = 1..q, each (B, M)
    phi_a: np.ndarray  # (B, H) φ(a_t)
    h: np.ndarray  # (B, H) h_t
    params: dict  # the layer's unprefixed parameters
    config: LayerConfig


def step_forward(x_t, h_prev, params, config: LayerConfig):
    """One step of one recurrent layer: ``h_t = f(h_{t-1}, x_t)``.

    Parameters
    ----------
    x_t : ndarray of shape (B, D)
    h_prev : ndarray of shape (B, H)
        The previous state ``h_{t-1}``.
    params : dict of str to ndarray
        The layer's unprefixed parameters (``numrnn.params.layer_parameter_shapes``).
    config : LayerConfig

    Returns
    -------
    h : ndarray of shape (B, H)
    cache : StepCache
    """
    psi, phi = get_activation(config.psi), get_activation(config.activation)
    q, j_in = config.transition_depth, config.input_level
    # input MLP: gx_j = [gx_{j-1} +] ψ(gx_{j-1} @ W_x{j} + b_x{j}), (M.1)
    gx, psi_x = _mlp_hidden_forward(x_t, params, "x", config.input_depth, psi, config.layer_skip)
    u = gx[-1] @ params["W_xh"] + params[config.level_names(j_in).bias]  # (R.1) u_t
    # transition: levels 1..q+1, g_0 = h_{t-1}; level j <= q is (R.3), level q + 1 is (R.4)
    g, psi_h = [h_prev], []
    for j in range(1, q + 2):
        W, b, S = config.level_names(j)  # LevelNames(weight, bias, shortcut or None)
        c = u if j == j_in else params[b]  # c_{j,t}: u_t at the input level, else b_j
        s = g[j - 1] @ params[W]  # (R.3)/(R.4) s_j = g_{j-1} W_j
        if S is not None:
            s = s + h_prev @ params[S]  # (R.3)/(R.4) s_j += h_{t-1} S_j  (DT(S))
        s = s + c  # (R.3)/(R.4) s_j += c_{j,t}
        if j <= q:
            out = psi.forward(s)  # (R.3) ψ(s_j)
            psi_h.append(out)
            g.append(g[j - 1] + out if config.level_has_skip(j) else out)  # (R.3) g_j
    phi_a = phi.forward(s)  # (R.4) φ(a_t), a_t = s_{q+1}
    h = h_prev + phi_a if config.skip == "residual" else phi_a  # (R.4) h_t
    cache = StepCache(
        x=x_t,
        h_prev=h_prev,
        gx=gx,
        psi_x=psi_x,
        u=u,
        g=tuple(g),
        psi_h=tuple(psi_h),
        phi_a=phi_a,
        h=h,
        params=params,
        config=config,
    )
    return h, cache


def step_backward(dh, cache: StepCache):
    """Backward pass of one step.

    Parameters
    ----------
    dh : ndarray of shape (B, H)
        The total gradient at ``h_t`` (from above plus from step t + 1).
    cache : StepCache
        From :func:`step_forward`.

    Returns
    -------
    dx : ndarray of shape (B, D)
    dh_prev : ndarray of shape (B, H)
        The gradient at ``h_{t-1}`` through this step only.
    grads : dict of str to ndarray
        This step's contribution to every parameter's gradient, same keys as ``cache.params``.
    """
    config, params = cache.config, cache.params
    psi, phi = get_activation(config.psi), get_activation(config.activation)
    q, j_in = config.transition_depth, config.input_level
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    dh_prev = (
        dh.copy() if config.skip == "residual" else np.zeros_like(dh)
    )  # (R.8) + dh_t: the residual path h_t = h_{t-1} + φ(a_t)
    du = dg = None  # dg: ∂loss/∂g_j, from the level above (none above level q + 1)
    for j in range(q + 1, 0, -1):
        if j == q + 1:
            ds = dh * phi.derivative_from_output(cache.phi_a)  # (R.6) δ_{q+1} = dh_t ⊙ φ'(a_t)
        else:
            ds = dg * psi.derivative_from_output(cache.psi_h[j - 1])  # (R.7) δ_j = dg_j ⊙ ψ'(s_j)
        W, b, S = config.level_names(j)
        grads[W] += cache.g[j - 1].T @ ds  # (R.9) dW_j = g_{j-1}ᵀ δ_j, this step's term
        if j == j_in:
            du = ds  # (R.10) du_t = δ_{j_in}: u_t, which holds b_{j_in}, is added into s_{j_in}
        else:
            grads[b] += ds.sum(axis=0)  # (R.9) db_j = Σ_rows δ_j, j ≠ j_in
        if S is not None:
            grads[S] += cache.h_prev.T @ ds  # (R.9) dS_j = h_{t-1}ᵀ δ_j
            dh_prev += ds @ params[S].T  # (R.8) + δ_j S_jᵀ: h_{t-1} through the shortcut
        dg_below = ds @ params[W].T  # (R.7) dg_{j-1} = δ_j W_jᵀ
        if config.level_has_skip(j):
            dg_below += dg  # (R.7) + dg_j: layer-skip path g_j = g_{j-1} + ψ(s_j)
        dg = dg_below
    dh_prev += dg  # (R.8) + δ_1 W_1ᵀ (+ dg_1): g_0 is h_{t-1}
    # (R.10) the input side: u_t = gx_p W_xh + b_{j_in} is MLP_x's last affine map
    grads["W_xh"] += cache.gx[-1].T @ du  # (M.3) dW_xh = gx_pᵀ du
    grads[config.level_names(j_in).bias] += du.sum(axis=0)  # (M.3) db_{j_in} = Σ_rows du
    dgx = du @ params["W_xh"].T  # (M.4) dgx_p = du W_xhᵀ
    dx = _mlp_hidden_backward(
        dgx, cache.gx, cache.psi_x, params, "x", psi, config.layer_skip, grads
    )
    return dx, dh_prev, grads


# --------------------------------------------------------------------------- one layer over time


def layer_forward(x, h0, params, config: LayerConfig):
    """Run one layer over a sequence, one :func:`step_forward` per step.

    Parameters
    ----------
    x : ndarray of shape (T, B, D)
    h0 : ndarray of shape (B, H)
    params : dict of str to ndarray
        The layer's unprefixed parameters.
    config : LayerConfig

    Returns
    -------
    h : ndarray of shape (T, B, H)
        States ``h_1..h_T``.
    caches : list of StepCache
        One per step.
    """
    T = x.shape[0]
    h = np.empty((T,) + h0.shape, dtype=h0.dtype)
    caches = []
    h_prev = h0
    for t in range(T):
        h[t], cache = step_forward(x[t], h_prev, params, config)
        caches.append(cache)
        h_prev = h[t]
    return h, caches


def layer_backward(dh, caches, window=None):
    """Backpropagation through time for one layer, one :func:`step_backward` per step.

    Parameters
    ----------
    dh : ndarray of shape (T, B, H)
        The gradient arriving at each state from above (the output or the next layer).
    caches : list of StepCache
        From :func:`layer_forward`.
    window : int or None, default None
        Truncated BPTT window k: the gradient is not carried from step t back
        to step t - 1 when t % k == 0 and t > 0 (0-based t). None: full BPTT.

    Returns
    -------
    numrnn.records.LayerGradients
        The core's result type: ``dx`` (T, B, D); ``dh0`` (B, H), the gradient
        at ``h_0`` (from the first window); ``grads`` summed over steps, keys
        in the params' order; ``dh_norms`` (T,), ``‖dh_t‖`` (Frobenius over
        (B, H)) of the total gradient at each state. Unpacks as ``dx, dh0, grads``.
    """
    if window is not None:
        check_int(window, "window", minimum=1)
    T = len(caches)
    first = caches[0]
    dx = np.empty((T,) + first.x.shape, dtype=dh.dtype)
    grads = {name: np.zeros_like(value) for name, value in first.params.items()}
    dh_norms = np.zeros(T, dtype=dh.dtype)
    dh_next = np.zeros_like(first.h_prev)
    for t in reversed(range(T)):
        dh_t = dh[t] + dh_next  # (R.5) dh_t = dH_t + dh_next: from above + from step t+1
        dh_norms[t] = np.hypot.reduce(
            dh_t.astype(np.float64).ravel()
        )  # ‖dh_t‖, hypot never underflows
        dx[t], dh_prev, step_grads = step_backward(dh_t, caches[t])
        for name in grads:
            grads[name] += step_grads[name]  # (R.9) weights are shared over time: Σ_t
        if window is not None and t > 0 and t % window == 0:
            dh_prev = np.zeros_like(dh_prev)  # (R.11) truncated BPTT: cut at the window's start
        dh_next = dh_prev
    return LayerGradients(dx=dx, dh0=dh_next, grads=grads, dh_norms=dh_norms)


# --------------------------------------------------------------------------- output MLP


class OutputStepCache(NamedTuple):
    """What ``output_backward`` needs from one step of the output MLP."""

    gy: tuple  # gy_0 = h_t^(L), gy_1..gy_r: MLP_o's hidden layers
    psi_y: tuple  # ψo(gy_{j-1} @ W_y{j} + b_y{j}), j = 1..r
    params: dict  # the output MLP's unprefixed parameters
    config: ModelConfig


def output_forward(h, params, model_config: ModelConfig):
    """The output MLP, one step at a time: ``y_t = MLP_o(h_t)``.

    Parameters
    ----------
    h : ndarray of shape (T, B, H)
        The top layer's states.
    params : dict of str to ndarray
        The output MLP's unprefixed parameters (``W_y{j}, b_y{j}, W_hy, b_y``).
    model_config : ModelConfig

    Returns
    -------
    y : ndarray of shape (T, B, O)
    caches : list of OutputStepCache
    """
    act = get_activation(model_config.output_activation)
    T, B = h.shape[:2]
    y = np.empty((T, B, model_config.output_size), dtype=h.dtype)
    caches = []
    for t in range(T):
        gy, psi_y = _mlp_hidden_forward(
            h[t], params, "y", model_config.output_depth, act, model_config.output_layer_skip
        )
        y[t] = gy[-1] @ params["W_hy"] + params["b_y"]  # (M.2) y_t = gy_r W_hy + b_y
        caches.append(OutputStepCache(gy=gy, psi_y=psi_y, params=params, config=model_config))
    return y, caches


def output_backward(dy, caches):
    """Backward pass of the output MLP.

    Parameters
    ----------
    dy : ndarray of shape (T, B, O)
    caches : list of OutputStepCache

    Returns
    -------
    dh : ndarray of shape (T, B, H)
        The gradient arriving at the top layer's states from the output.
    grads : dict of str to ndarray
        Summed over steps, keys in the params' order.
    """
    params, model_config = caches[0].params, caches[0].config
    act = get_activation(model_config.output_activation)
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    dh = np.empty((len(caches),) + caches[0].gy[0].shape, dtype=dy.dtype)
    for t, cache in enumerate(caches):
        grads["W_hy"] += cache.gy[-1].T @ dy[t]  # (M.3) dW_hy = gy_rᵀ dy_t
        grads["b_y"] += dy[t].sum(axis=0)  # (M.3) db_y = Σ_rows dy_t
        dgy = dy[t] @ params["W_hy"].T  # (M.4) dgy_r = dy_t W_hyᵀ
        dh[t] = _mlp_hidden_backward(
            dgy, cache.gy, cache.psi_y, params, "y", act, model_config.output_layer_skip, grads
        )
    return dh, grads


# --------------------------------------------------------------------------- the whole model


class ModelCache(NamedTuple):
    """What ``model_backward`` needs from ``model_forward``."""

    layer_caches: list  # layer_caches[l - 1][t]: the StepCache of layer l at step t
    output_caches: list  # one OutputStepCache per step
    param_names: list  # the prefixed parameter names, in the params' order


def _check_model_inputs(params, model_config: ModelConfig, x, h0):
    """Raise ValueError/TypeError unless params, x and h0 fit ``model_config``, in one dtype."""
    shapes = model_parameter_shapes(model_config)
    first = params.get(next(iter(shapes))) if isinstance(params, dict) else None
    dtype = first.dtype if isinstance(first, np.ndarray) else np.dtype(np.float64)
    check_params(params, shapes, dtype)
    check_float_array(x, "x", ndim=3, dtype=dtype, shape_doc="(T, B, D)")
    T, B, D = x.shape
    if T < 1 or D != model_config.input_size:
        raise ValueError(
            f"x must have shape (T, B, D) with T >= 1 and D={model_config.input_size}; "
            f"got {x.shape}"
        )
    if not isinstance(h0, (list, tuple)):
        raise TypeError(f"h0 must be a list of one (B, H) state per layer; got {type(h0).__name__}")
    if len(h0) != model_config.num_layers:
        raise ValueError(
            f"h0 must hold one state per layer ({model_config.num_layers}); got {len(h0)}"
        )
    for l, (state, layer) in enumerate(zip(h0, model_config.layers, strict=True), start=1):
        check_float_array(state, f"h0[{l - 1}]", ndim=2, dtype=dtype, shape_doc="(B, H)")
        if state.shape != (B, layer.hidden_size):
            raise ValueError(
                f"h0[{l - 1}] must have shape (B, H) = {(B, layer.hidden_size)}; got {state.shape}"
            )


def model_forward(params, model_config: ModelConfig, x, h0):
    """A stack of L layers and the output MLP, layer by layer, step by step.

    Parameters
    ----------
    params : dict of str to ndarray
        Prefixed parameters (``numrnn.params.model_parameter_shapes``).
    model_config : ModelConfig
    x : ndarray of shape (T, B, D)
    h0 : list of ndarray of shape (B, H_l)
        The initial state of each layer l = 1..L.

    Returns
    -------
    y : ndarray of shape (T, B, O)
    states : list of ndarray of shape (B, H_l)
        Each layer's final state ``h_T^(l)``.
    cache : ModelCache
    """
    _check_model_inputs(params, model_config, x, h0)
    inputs, layer_caches, states = x, [], []
    for l, layer in enumerate(model_config.layers, start=1):
        h, caches = layer_forward(inputs, h0[l - 1], layer_params(params, l), layer)
        layer_caches.append(caches)
        states.append(h[-1])
        inputs = h  # (S.1) layer l+1 reads layer l's states
    y, output_caches = output_forward(inputs, output_params(params), model_config)
    return (
        y,
        states,
        ModelCache(
            layer_caches=layer_caches, output_caches=output_caches, param_names=list(params)
        ),
    )


def model_backward(dy, cache: ModelCache, window=None):
    """Backward pass of :func:`model_forward`.

    Parameters
    ----------
    dy : ndarray of shape (T, B, O)
        ∂loss/∂y.
    cache : ModelCache
    window : int or None, default None
        Truncated BPTT window (see :func:`layer_backward`), the same for every layer.

    Returns
    -------
    numrnn.records.ModelGradients
        The type :func:`numrnn.network.backward` returns: ``grads`` (prefixed,
        the params' keys and order), ``dx`` (T, B, D), ``dh0`` (list of
        (B, H_l)), ``grad_norms`` (L, T), ``‖∂loss/∂h_t^(l)‖`` for each layer and step.
    """
    dh, output_grads = output_backward(dy, cache.output_caches)
    found = {OUTPUT_PREFIX + name: value for name, value in output_grads.items()}
    L, T = len(cache.layer_caches), dy.shape[0]
    dh0 = [None] * L
    dh_norms = np.zeros((L, T), dtype=dy.dtype)
    for l in range(L, 0, -1):
        result = layer_backward(dh, cache.layer_caches[l - 1], window)
        dh0[l - 1], dh_norms[l - 1] = result.dh0, result.dh_norms
        found.update({layer_prefix(l) + name: value for name, value in result.grads.items()})
        dh = result.dx  # (S.2) dH^(l-1) = dX^(l): backprop into layer l-1's states
    grads = {name: found[name] for name in cache.param_names}
    return ModelGradients(grads=grads, dx=dh, dh0=dh0, grad_norms=dh_norms)
