"""The shared vectorized BPTT core: one recurrent layer, forward and backward.

Every architecture numrnn builds runs on these two functions. Read them beside
``docs/derivations.md``, section "The recurrent layer": each labelled equation
(R.1)–(R.11) is one line here, in the same order, cited in a comment.

1. **Forward** (:func:`layer_forward`). ``U = MLP_x(X)`` for all T·B rows at
   once (R.1). The time loop then does only what depends on the previous
   state: the fused product with ``h_{t-1}`` (R.2) and the transition levels
   j = 1..q+1 (R.3, R.4), writing what the backward pass needs into
   (T + 1, B, ·) arrays.
2. **Backward** (:func:`layer_backward`). The gradient from above, ``dH``, arrives
   for all steps at once. The reverse loop adds the path through time (R.5) and
   carries dh_t down the transition (R.6–R.8), writing every δ_{j,t} into a
   (T + 1, B, ·) array, and does no weight-gradient work; (R.11) cuts the path
   at window edges. That loop, :func:`_reverse_loop`, is the engine's one
   chain rule: :func:`step_jacobians` runs it too.
3. **After the loop**, each weight gradient is one matrix product over all T·B
   rows (R.9), each bias gradient a column sum, and ``dX`` comes from
   ``MLP_x``'s backward for all rows at once (R.10).

Indices are the derivations' own. Levels are j = 1..q+1: every per-level list
has an unused entry 0, so ``W[j]`` is W_j. Steps are t = 1..T: every array over
the steps has T + 1 rows, so row t is step t (row 0 of ``states`` is h_0; row 0
of the others is unused). Only the caller's arrays, ``x`` and ``dH`` of shape
(T, B, ·), are indexed from 0.

One trick makes every skip kind the same code: all weights that read ``h_{t-1}``
(``W_h1``, and DT(S)'s shortcuts ``S_h2 .. S_hh``) are concatenated into one
matrix ``W_from_h`` once per call, so each step does a single product with
``h_{t-1}`` forward (R.2) and a single product into ``dh_{t-1}`` backward (R.8).
The arrays the functions use and drop come from :func:`numrnn.workspace.scratch`:
new arrays, or reused memory while a model's workspace is in use. Why each
line is written the way it is, with the measurements: ``docs/core.md``.

Shape legend: T steps, B batch, D input size, H hidden size, M MLP width,
w_j the width of level j (M for j <= q, H for j = q + 1).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .activations import get_activation
from .config import LayerConfig
from .mlp import MLPCache, MLPSpec, column_sums, mlp_backward, mlp_forward
from .norms import reliable_squares_floor, scaled_norm
from .records import LayerGradients  # what layer_backward returns (also numrnn.core.LayerGradients)
from .workspace import scratch

__all__ = [
    "LayerCache",
    "input_mlp_spec",
    "layer_forward",
    "layer_backward",
    "step_jacobians",
]


def input_mlp_spec(config: LayerConfig) -> MLPSpec:
    """``MLP_x``: hidden layers ``W_x{j}``, last affine ``W_xh`` plus the input level's bias."""
    return MLPSpec(
        hidden_name="x",
        depth=config.input_depth,
        last_weight="W_xh",
        last_bias=config.level_names(config.input_level).bias,
        activation=config.psi,
        layer_skip=config.layer_skip,
    )


class _LevelLayout(NamedTuple):
    """Where the transition levels j = 1..q+1 sit in the fused arrays (lists indexed by j)."""

    widths: list  # widths[j] = w_j, the output width of level j
    offsets: list  # offsets[j] = first column of level j's block in W_from_h (levels that read h)
    reads_h: int  # levels 1..reads_h read h_{t-1}: 1, or q + 1 for DT(S)
    width_from_h: int  # columns of W_from_h: w_1 + ... + w_{reads_h}


def _level_layout(config: LayerConfig) -> _LevelLayout:
    levels = range(1, config.transition_depth + 2)
    widths = [0] + [config.level_width(j) for j in levels]
    offsets = [0] + [sum(widths[1:j]) for j in levels]
    reads_h = len(levels) if config.skip == "shortcut" else 1
    return _LevelLayout(widths, offsets, reads_h, sum(widths[1 : reads_h + 1]))


def _weights_from_h(params: dict, config: LayerConfig, layout: _LevelLayout) -> np.ndarray:
    """``W_from_h`` (H, width_from_h) of (R.2): ``W_h1`` and, for DT(S), ``S_h2 .. S_hh``."""
    blocks = [params[config.level_names(1).weight]]
    blocks += [params[config.level_names(j).shortcut] for j in range(2, layout.reads_h + 1)]
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1)


class LayerCache(NamedTuple):
    """What :func:`layer_backward` needs from :func:`layer_forward`.

    Arrays over the steps have T + 1 rows: row t is step t = 1..T.

    Attributes
    ----------
    config : LayerConfig
    params : dict of str to ndarray
        The layer's parameters, unprefixed.
    input_cache : MLPCache
        ``MLP_x``'s cache over all T·B rows.
    states : ndarray of shape (T + 1, B, H)
        ``h_0 .. h_T``.
    g : list of ndarray of shape (T + 1, B, M)
        ``g[j]`` holds ``g_j`` (R.3) for j = 1..q; ``g[0]`` is None (g_0 is
        ``h_{t-1}``, in ``states``). Without a layer-skip at level j,
        ``g[j]`` is the array ``psi_s[j]``.
    psi_s : list of ndarray of shape (T + 1, B, M)
        ``psi_s[j]`` holds ``ψ(s_j)`` for j = 1..q (entry 0 is None); ψ' is
        computed from it.
    phi_a : ndarray of shape (T + 1, B, H)
        ``φ(a_t)`` (R.4); the array ``states`` itself unless skip is
        "residual", since then ``h_t = φ(a_t)``.
    """

    config: LayerConfig
    params: dict
    input_cache: MLPCache
    states: np.ndarray
    g: list
    psi_s: list
    phi_a: np.ndarray


def layer_forward(
    x: np.ndarray, h0: np.ndarray, params: dict, config: LayerConfig
) -> tuple[np.ndarray, LayerCache]:
    """Run one recurrent layer over a whole sequence.

    The inputs are trusted: :mod:`numrnn.layers` and :class:`numrnn.DeepRNN`
    check them before they call in.

    Parameters
    ----------
    x : ndarray of shape (T, B, D)
    h0 : ndarray of shape (B, H)
    params : dict of str to ndarray
        The layer's parameters, unprefixed (:func:`numrnn.params.layer_parameter_shapes`).
    config : LayerConfig

    Returns
    -------
    h : ndarray of shape (T, B, H)
        ``h_1 .. h_T`` (a view of the cache's ``states``).
    cache : LayerCache
    """
    T, B, D = x.shape
    H, q, j_in = config.hidden_size, config.transition_depth, config.input_level
    phi, psi = get_activation(config.activation), get_activation(config.psi)
    layout = _level_layout(config)
    w = layout.widths
    levels = range(1, q + 2)  # j = 1..q+1
    dtype = params["W_hh"].dtype

    # What the backward pass reads, one (T + 1, B, ·) array per quantity.
    states = scratch("core/states", (T + 1, B, H), dtype)  # h_0 .. h_T
    states[0] = h0
    psi_s = [None] + [scratch("core/psi_s", (T + 1, B, w[j]), dtype) for j in levels[:-1]]
    g = [None] + [
        scratch("core/g", (T + 1, B, w[j]), dtype) if config.level_has_skip(j) else psi_s[j]
        for j in levels[:-1]
    ]  # g_j; the array psi_s[j] itself where level j is no layer-skip, since then g_j = ψ(s_j)
    residual = config.skip == "residual"
    # φ(a_t): an array of its own for skip = "residual"; else states itself, as h_t = φ(a_t)
    phi_a = scratch("core/phi_a", (T + 1, B, H), dtype) if residual else states

    # (R.1) U = MLP_x(X): u_t for all T·B rows at once; u_t carries the input level's bias.
    # U shares the array of the activation of the level u_t joins (ψ(s_{j_in}), or φ(a_t) when
    # j_in = q + 1): row t holds u_t until step t reads it into s_{j_in}, and from then on that
    # activation. One array, not two, saves a (T, B, w) stream through memory (docs/core.md).
    U = psi_s[j_in] if j_in <= q else phi_a
    _, input_cache = mlp_forward(
        x.reshape(T * B, D), params, input_mlp_spec(config), out=U[1:].reshape(T * B, -1)
    )

    # Everything a step needs, fetched once: the loop below only multiplies and adds.
    W_from_h = _weights_from_h(params, config, layout)  # (H, width_from_h)
    W = [None] + [params[config.level_names(j).weight] for j in levels]
    b = [None] + [  # b_j tiled to (B, w_j) once per call (docs/core.md); u_t brings b_{j_in}
        None if j == j_in else np.tile(params[config.level_names(j).bias], (B, 1)) for j in levels
    ]
    has_skip = [None] + [config.level_has_skip(j) for j in levels]
    P = np.empty((B, layout.width_from_h), dtype=dtype)  # P_t = h_{t-1} W_from_h
    # P_t^(j), level j's column block of P_t (the levels that read h_{t-1}; None for the others)
    P_level = [None] + [
        P[:, layout.offsets[j] : layout.offsets[j] + w[j]] if j <= layout.reads_h else None
        for j in levels
    ]
    s = [None] + [np.empty((B, w[j]), dtype=dtype) for j in levels]  # s_j of the current step

    for t in range(1, T + 1):
        h_prev = states[t - 1]  # h_{t-1}
        np.dot(h_prev, W_from_h, out=P)  # (R.2) P_t = h_{t-1} W_from_h
        g_below = h_prev  # g_0 = h_{t-1}
        for j in levels:  # s_j of level j <= q is (R.3); s_{q+1} = a_t is (R.4)
            c = U[t] if j == j_in else b[j]  # c_{j,t}: u_t at the input level, else b_j
            if j == 1:
                np.add(P_level[1], c, out=s[1])  # (R.3)/(R.4) s_1 = h_{t-1} W_1 + c_1
            else:
                np.dot(g_below, W[j], out=s[j])  # (R.3)/(R.4) s_j = g_{j-1} W_j
                if P_level[j] is not None:
                    s[j] += P_level[j]  # (R.3)/(R.4) s_j += h_{t-1} S_j  (DT(S))
                s[j] += c  # (R.3)/(R.4) s_j += c_{j,t}
            if j <= q:
                psi.forward(s[j], out=psi_s[j][t])  # (R.3) ψ(s_j)
                if has_skip[j]:
                    np.add(g_below, psi_s[j][t], out=g[j][t])  # (R.3) g_j = g_{j-1} + ψ(s_j)
                g_below = g[j][t]  # g_j, the input of level j + 1
            elif residual:  # level q + 1: (R.4) a_t = s_{q+1}
                phi.forward(s[j], out=phi_a[t])  # (R.4) φ(a_t)
                np.add(h_prev, phi_a[t], out=states[t])  # (R.4) h_t = h_{t-1} + φ(a_t)
            else:
                phi.forward(s[j], out=states[t])  # (R.4) h_t = φ(a_t)

    cache = LayerCache(
        config=config,
        params=params,
        input_cache=input_cache,
        states=states,
        g=g,
        psi_s=psi_s,
        phi_a=phi_a,
    )
    return states[1:], cache


class _BackwardWeights(NamedTuple):
    """The weights one backward step reads, transposed to C order once per call (docs/core.md)."""

    W_T: list  # W_T[j] = W_jᵀ, j = 1..q+1 (entry 0 unused)
    W_from_h_T: np.ndarray  # W_from_hᵀ, (width_from_h, H)
    has_skip: list  # has_skip[j]: level j is a layer-skip
    residual: bool  # skip == "residual": h_t = h_{t-1} + φ(a_t)


def _backward_weights(params: dict, config: LayerConfig, layout: _LevelLayout) -> _BackwardWeights:
    levels = range(1, config.transition_depth + 2)
    return _BackwardWeights(
        W_T=[None] + [np.ascontiguousarray(params[config.level_names(j).weight].T) for j in levels],
        W_from_h_T=np.ascontiguousarray(_weights_from_h(params, config, layout).T),
        has_skip=[None] + [config.level_has_skip(j) for j in levels],
        residual=config.skip == "residual",
    )


def _delta_arrays(steps: int, rows: int, layout: _LevelLayout, dtype) -> tuple[np.ndarray, list]:
    """``delta[j]`` (steps, rows, w_j) for j = 1..q+1, and ``delta_from_h`` (steps, rows, ·).

    The deltas of the levels that read ``h_{t-1}`` are column blocks of one
    array, ``delta_from_h``, for the fused product of (R.8); every other level
    has a contiguous array of its own (docs/core.md).
    """
    delta_from_h = scratch(
        "core/delta_from_h", (steps, rows, layout.width_from_h), dtype, temporary=True
    )
    delta = [None]
    for j in range(1, len(layout.widths)):
        lo, w = layout.offsets[j], layout.widths[j]
        if j <= layout.reads_h:
            delta.append(delta_from_h[:, :, lo : lo + w])
        else:
            delta.append(scratch(f"core/delta{j}", (steps, rows, w), dtype, temporary=True))
    return delta_from_h, delta


def _reverse_loop(dH, delta, delta_from_h, weights: _BackwardWeights, window):
    """The loop of backpropagation through time, t = T..1: (R.5)–(R.8) and (R.11).

    The one chain rule of the engine: :func:`layer_backward` runs it over the
    sequence, :func:`step_jacobians` over one step of unit vectors.

    Parameters
    ----------
    dH : ndarray of shape (T, rows, H)
        The gradient from above; ``dH[t - 1]`` is (R.5)'s ``dH_t``.
    delta : list of ndarray of shape (T + 1, rows, w_j)
        ``delta[j]`` for j = 1..q+1 (entry 0 unused). On entry row t holds ψ'(s_j)
        (φ'(a_t) for j = q + 1); step t overwrites it with δ_{j,t}, the only
        quantity that needs that ψ'.
    delta_from_h : ndarray of shape (T + 1, rows, width_from_h)
        The array whose column blocks are ``delta[1] .. delta[reads_h]``.
    weights : _BackwardWeights
    window : int or None
        Truncated-BPTT window (R.11).

    Returns
    -------
    dh0 : ndarray of shape (rows, H)
        ∂loss/∂h_0.
    dh_norms : ndarray of shape (T,)
        ``‖dh_t‖`` of (R.5)'s totals.
    """
    T, rows, H = dH.shape
    W_T, W_from_h_T, has_skip, residual = weights
    q = len(W_T) - 2
    dtype = dH.dtype
    dg = [None] + [np.empty((rows, delta[j].shape[2]), dtype=dtype) for j in range(1, q + 1)]
    dh_next = np.zeros((rows, H), dtype=dtype)  # ∂loss/∂h_t through step t + 1; at the end dh_0
    dh_t = np.empty((rows, H), dtype=dtype)  # (R.5)'s total at the current step
    dh_t_flat = dh_t.reshape(-1)  # the same memory, flat, for ‖dh_t‖²
    dh_squares = np.empty(T + 1, dtype=dtype)
    # ‖dh_t‖ for the gradient-flow map: a sum of squares below this floor (or inf, nan) under- or
    # overflowed, and that step's norm is redone by scaling (numrnn.norms), so a vanishing
    # gradient never reads as exactly 0.
    reliable_floor, rescaled = reliable_squares_floor(rows * H, dtype), {}

    for t in range(T, 0, -1):
        np.add(dH[t - 1], dh_next, out=dh_t)  # (R.5) dh_t = dH_t + dh_next
        dh_squares[t] = square = np.dot(dh_t_flat, dh_t_flat)  # ‖dh_t‖², while dh_t is in cache
        if not reliable_floor <= square < np.inf:
            rescaled[t] = scaled_norm(dh_t)
        np.multiply(dh_t, delta[q + 1][t], out=delta[q + 1][t])  # (R.6) δ_{q+1} = dh_t ⊙ φ'(a_t)
        for j in range(q, 0, -1):
            np.dot(delta[j + 1][t], W_T[j + 1], out=dg[j])  # (R.7) dg_j = δ_{j+1} W_{j+1}ᵀ
            if has_skip[j + 1]:
                dg[j] += dg[j + 1]  # (R.7) dg_j += dg_{j+1}  (level j + 1 is a layer-skip)
            np.multiply(dg[j], delta[j][t], out=delta[j][t])  # (R.7) δ_j = dg_j ⊙ ψ'(s_j)
        np.dot(delta_from_h[t], W_from_h_T, out=dh_next)  # (R.8) dh_{t-1} = [δ_1 | …] W_from_hᵀ
        if has_skip[1]:
            dh_next += dg[1]  # (R.8) dh_{t-1} += dg_1  (g_1 = h_{t-1} + ψ(s_1))
        if residual:
            dh_next += dh_t  # (R.8) dh_{t-1} += dh_t  (h_t = h_{t-1} + φ(a_t))
        if window is not None and (t - 1) % window == 0 and t > 1:
            dh_next[...] = 0  # (R.11) truncated BPTT: cut at the window's first step

    dh_norms = np.sqrt(dh_squares[1:])  # ‖dh_t‖, t = 1..T
    for t, norm in rescaled.items():
        dh_norms[t - 1] = norm
    return dh_next, dh_norms


def layer_backward(
    dH: np.ndarray, cache: LayerCache, *, window: int | None = None, need_dx: bool = True
) -> LayerGradients:
    """Backpropagate through one recurrent layer over the whole sequence.

    Parameters
    ----------
    dH : ndarray of shape (T, B, H)
        ∂loss/∂h_t arriving from above (the output MLP or the next layer) for
        every step, not yet including the path through time: ``dH[t - 1]`` is
        (R.5)'s ``dH_t``.
    cache : LayerCache
        From :func:`layer_forward`.
    window : int or None, default None
        Truncated BPTT (R.11): the gradient is not carried from step t back to
        step t - 1 where t - 1 is a positive multiple of ``window``. None (or a
        window >= T) is full BPTT.
    need_dx : bool, default True
        False skips the product that gives ``dx`` (then None): the bottom
        layer of a model in training needs no gradient for its data.

    Returns
    -------
    LayerGradients
        ``dx`` (T, B, D) or None, ``dh0`` (B, H), ``grads`` and ``dh_norms`` (T,).
    """
    config, params, states = cache.config, cache.params, cache.states
    T, B, H = dH.shape
    q, j_in = config.transition_depth, config.input_level
    phi, psi = get_activation(config.activation), get_activation(config.psi)
    layout = _level_layout(config)
    dtype = states.dtype

    delta_from_h, delta = _delta_arrays(T + 1, B, layout, dtype)
    # Each δ_j's array first holds ψ'(s_j) (φ'(a_t) for j = q + 1), for all steps at once, outside
    # the loop; step t of the loop overwrites row t with δ_{j,t}.
    phi.derivative_from_output(cache.phi_a[1:], out=delta[q + 1][1:])  # φ'(a_t), t = 1..T
    for j in range(1, q + 1):
        psi.derivative_from_output(cache.psi_s[j][1:], out=delta[j][1:])  # ψ'(s_j), t = 1..T

    # (R.5)–(R.8), (R.11): the reverse loop writes every δ_{j,t} and returns dh_0 and ‖dh_t‖.
    weights = _backward_weights(params, config, layout)
    dh0, dh_norms = _reverse_loop(dH, delta, delta_from_h, weights, window)

    # (R.9) Weight gradients: one product over all T·B rows per weight.
    rows = T * B
    delta_rows = [None] + [d[1:].reshape(rows, -1) for d in delta[1:]]  # δ_j, (T·B, w_j), no copy
    grads = {}
    h_prev_rows = states[:-1].reshape(rows, H)  # h_{t-1} for t = 1..T
    dW_from_h = h_prev_rows.T @ delta_from_h[1:].reshape(rows, -1)  # (R.9) Σ_t h_{t-1}ᵀ [δ_1|…]
    for j in range(1, layout.reads_h + 1):  # its column blocks: dW_1, and dS_2 .. dS_{q+1} (DT(S))
        names, lo, w = config.level_names(j), layout.offsets[j], layout.widths[j]
        block = dW_from_h if layout.reads_h == 1 else dW_from_h[:, lo : lo + w].copy()
        grads[names.weight if j == 1 else names.shortcut] = block
    for j in range(2, q + 2):
        g_below_rows = cache.g[j - 1][1:].reshape(rows, -1)  # g_{j-1} for t = 1..T
        dW_j = g_below_rows.T @ delta_rows[j]  # (R.9) dW_j = Σ_t g_{j-1}ᵀ δ_j
        grads[config.level_names(j).weight] = dW_j
    for j in range(1, q + 2):
        if j != j_in:
            db_j = column_sums(delta_rows[j])  # (R.9) db_j = Σ_t Σ_rows δ_j
            grads[config.level_names(j).bias] = db_j

    # (R.10) The input side for all rows at once: dU = δ_{j_in}.
    dx, input_grads = mlp_backward(delta_rows[j_in], cache.input_cache, need_dv=need_dx)
    grads.update(input_grads)

    return LayerGradients(
        dx=None if dx is None else dx.reshape(T, B, -1),
        dh0=dh0,
        grads={name: grads[name] for name in params},  # the params' own order
        dh_norms=dh_norms,
    )


def step_jacobians(cache: LayerCache) -> np.ndarray:
    """``∂h_t/∂h_{t-1}`` of one layer for every step and sequence, by the core's own backward step.

    The backward step (R.6)–(R.8) is linear in ``dh_t``, so pushing the H unit
    vectors through it gives the H rows of the step Jacobian. No step's
    Jacobian depends on another's, so every (t, b, i) is one row of a single
    step of :func:`_reverse_loop`: T·B·H rows, ψ' repeated H times.

    Parameters
    ----------
    cache : LayerCache
        From :func:`layer_forward`.

    Returns
    -------
    ndarray of shape (T, B, H, H)
        ``J[t - 1, b, i, k] = ∂h_t[b, i] / ∂h_{t-1}[b, k]`` for t = 1..T.
    """
    config, params, states = cache.config, cache.params, cache.states
    T, B, H = states.shape[0] - 1, states.shape[1], states.shape[2]
    q, dtype = config.transition_depth, states.dtype
    phi, psi = get_activation(config.activation), get_activation(config.psi)
    layout = _level_layout(config)
    rows = T * B * H  # row (t, b, i): dh_t = e_i for sequence b

    def per_row(a):  # (T + 1, B, w) -> (T·B·H, w): steps 1..T, each (t, b) repeated H times
        return np.repeat(a[1:].reshape(T * B, -1), H, axis=0)

    delta_from_h, delta = _delta_arrays(2, rows, layout, dtype)  # one "step" (row 1) of T·B·H rows
    phi.derivative_from_output(per_row(cache.phi_a), out=delta[q + 1][1])  # φ'(a_t)
    for j in range(1, q + 1):
        psi.derivative_from_output(per_row(cache.psi_s[j]), out=delta[j][1])  # ψ'(s_j)
    unit_dH = np.tile(np.eye(H, dtype=dtype), (T * B, 1))[None]  # (1, T·B·H, H): e_1 .. e_H
    weights = _backward_weights(params, config, layout)
    jacobian_rows, _ = _reverse_loop(unit_dH, delta, delta_from_h, weights, window=None)
    return jacobian_rows.reshape(T, B, H, H)
