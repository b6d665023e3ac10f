"""The shared vectorized BPTT core: one recurrent layer, forward and backward.

Every architecture numrnn builds runs on these two functions. Per layer
(``docs/derivations.md``, section "The recurrent layer"):

1. **Forward.** ``U = MLP_x(X)`` for all T·B rows at once (R.1). The time
   loop then does only what depends on the previous state: the transition
   levels j = 1..q+1 (R.2–R.4), writing what the backward pass needs into
   preallocated (T, B, ·) arrays.
2. **Backward.** The gradient from above, ``dH`` (T, B, H), arrives for all
   steps at once. The reverse loop carries ``dh_next`` back through φ and the
   transition (R.5–R.8), writing every delta into one (T, B, ·) array; it
   does no weight-gradient work.
3. **After the loop**, each weight gradient is one matrix product over all
   T·B rows (R.9), each bias gradient a column sum, and ``dX`` comes from
   ``MLP_x``'s backward for all rows at once (R.10).

One trick makes every skip kind the same code: all weights that read
``h_{t-1}`` (``W_h1``, and DT(S)'s shortcuts ``S_h2 .. S_hh``) are
concatenated into one matrix ``W_from_h`` once per call, so each step does a
single product with ``h_{t-1}`` forward and a single product into
``dh_{t-1}`` backward (the deltas of those levels sit side by side).

Shape legend: T steps, B batch, D input size, H hidden size, M MLP width.
"""

from __future__ import annotations

from itertools import accumulate
from typing import NamedTuple

import numpy as np

from .activations import get_activation
from .config import LayerConfig
from .mlp import MLPCache, MLPSpec, column_sums, mlp_backward, mlp_forward
from .norms import norms_from_squares
from .workspace import FRESH, Workspace

__all__ = ["LayerCache", "LayerGradients", "input_mlp_spec", "level_names", "layer_forward", "layer_backward"]


def input_mlp_spec(config: LayerConfig) -> MLPSpec:
    """The ``MLP_x`` of a layer: hidden layers ``W_x{j}``, last affine ``W_xh`` plus the input level's bias."""
    return MLPSpec(
        hidden_name="x",
        depth=config.input_depth,
        last_weight="W_xh",
        last_bias=level_names(config, config.input_level)[2],
        activation=config.psi,
        layer_skip=config.layer_skip,
    )


def level_names(config: LayerConfig, j: int) -> tuple[str, str, str]:
    """Names ``(W, S, b)`` of transition level j: e.g. ``("W_h2", "S_h2", "b_h2")``; level q+1 is ``hh``/``h``."""
    top = j == config.transition_depth + 1
    return ("W_hh", "S_hh", "b_h") if top else (f"W_h{j}", f"S_h{j}", f"b_h{j}")


class _Levels(NamedTuple):
    """Layout of the transition levels j = 1..q+1 inside the layer's buffers."""

    widths: list        # widths[j - 1] = output width of level j
    offsets: list       # offsets[j - 1] = first column of level j in W_from_h (levels that read h_{t-1})
    reads_h: int        # number of leading levels that read h_{t-1}: 1, or q + 1 for DT(S)
    width_from_h: int   # columns of W_from_h: the widths of those levels


def _levels(config: LayerConfig) -> _Levels:
    levels = range(1, config.transition_depth + 2)
    widths = [config.level_width(j) for j in levels]
    offsets = list(accumulate([0] + widths[:-1]))
    reads_h = len(widths) if config.skip == "shortcut" else 1
    return _Levels(widths, offsets, reads_h, sum(widths[:reads_h]))


def _weights_from_h(params: dict, config: LayerConfig, levels: _Levels) -> np.ndarray:
    """``W_from_h`` (H, ·): ``W_h1`` and, for DT(S), ``S_h2 .. S_hh`` side by side."""
    blocks = [params[level_names(config, 1)[0]]]
    blocks += [params[level_names(config, j)[1]] for j in range(2, levels.reads_h + 1)]
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1)


class LayerCache(NamedTuple):
    """What :func:`layer_backward` needs from :func:`layer_forward`.

    Attributes
    ----------
    config : LayerConfig
    params : dict of str to ndarray
        The layer's parameters, unprefixed.
    input_cache : MLPCache
        ``MLP_x``'s cache over all T·B rows.
    states : ndarray of shape (T + 1, B, H)
        ``h_0 .. h_T``.
    level_outputs : list of ndarray of shape (T, B, M)
        ``g_1 .. g_q`` for every step (the inputs of levels 2..q+1).
    level_activations : list of ndarray of shape (T, B, M)
        ``ψ(s_j)`` for j = 1..q (the same arrays as ``level_outputs`` where a
        level is no layer-skip); ψ' is computed from them.
    phi_a : ndarray of shape (T, B, H)
        ``φ(a_t)``; a view of ``states[1:]`` when skip is not residual.
    """

    config: LayerConfig
    params: dict
    input_cache: MLPCache
    states: np.ndarray
    level_outputs: list
    level_activations: list
    phi_a: np.ndarray


class LayerGradients(NamedTuple):
    """Result of :func:`layer_backward`.

    Attributes
    ----------
    dx : ndarray of shape (T, B, D)
    dh0 : ndarray of shape (B, H)
    grads : dict of str to ndarray
        Same names and shapes as the layer's params.
    dh_norms : ndarray of shape (T,)
        ``‖∂loss/∂h_t‖`` (Frobenius over batch and units) for t = 1..T.
    """

    dx: np.ndarray
    dh0: np.ndarray
    grads: dict
    dh_norms: np.ndarray


def layer_forward(x: np.ndarray, h0: np.ndarray, params: dict, config: LayerConfig, *,
                  workspace: Workspace = FRESH) -> tuple[np.ndarray, LayerCache]:
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
    workspace : Workspace, optional
        Where the cache's arrays come from (:mod:`numrnn.workspace`). By
        default new arrays; with a reused workspace, ``h`` and the cache are
        valid until the workspace's next use.

    Returns
    -------
    h : ndarray of shape (T, B, H)
        ``h_1 .. h_T`` (a view into the cache's ``states``).
    cache : LayerCache
    """
    T, B, D = x.shape
    H, q = config.hidden_size, config.transition_depth
    phi, psi = get_activation(config.activation), get_activation(config.psi)
    levels = _levels(config)
    dtype = params["W_hh"].dtype

    states = workspace.empty("states", (T + 1, B, H), dtype)    # h_0 .. h_T
    states[0] = h0
    level_activations = [workspace.empty(f"psi{j}", (T, B, levels.widths[j - 1]), dtype) for j in range(1, q + 1)]
    level_outputs = [
        workspace.empty(f"g{j}", act.shape, dtype) if config.level_has_skip(j) else act
        for j, act in enumerate(level_activations, start=1)
    ]
    phi_a = workspace.empty("phi_a", (T, B, H), dtype) if config.skip == "residual" else states[1:]

    # (R.1) The input side for all T·B rows at once; the input level's bias rides along.
    # u_t is written straight into the buffer of the level it joins (no array of its
    # own): step t adds the rest of s_j to it and applies the activation in place.
    input_buffer = phi_a if config.input_level == q + 1 else level_activations[config.input_level - 1]
    _, input_cache = mlp_forward(x.reshape(T * B, D), params, input_mlp_spec(config),
                                 out=input_buffer.reshape(T * B, -1), workspace=workspace.scope("input"))

    # Everything a step needs, fetched once: the loop below only multiplies and adds.
    W_from_h = _weights_from_h(params, config, levels)         # (H, width_from_h)
    W_level = [params[level_names(config, j)[0]] for j in range(1, q + 2)]
    takes_input = [j == config.input_level for j in range(1, q + 2)]
    # The biases the loop adds (every level but the input's), tiled to (B, w) once per call: adding
    # an array of the same shape is ~2.5x faster than broadcasting a (w,) row (0.56 vs 1.48 µs).
    b_level = [None if takes_input[j - 1] else np.tile(params[level_names(config, j)[2]], (B, 1))
               for j in range(1, q + 2)]
    has_skip = [config.level_has_skip(j) for j in range(1, q + 2)]
    residual = config.skip == "residual"
    h_products = np.empty((B, levels.width_from_h), dtype=dtype)  # h_{t-1} @ W_from_h
    from_h = [h_products[:, lo:lo + w] if j <= levels.reads_h else None    # level j's columns of it
              for j, lo, w in zip(range(1, q + 2), levels.offsets, levels.widths)]
    scratch = [np.empty((B, w), dtype=dtype) for w in levels.widths]

    # np.dot with out= below: for 2-D arrays it is matmul with less call overhead,
    # which matters when a step's product takes about a microsecond.
    for t in range(T):
        h_prev = states[t]
        np.dot(h_prev, W_from_h, out=h_products)               # (R.2) every product with h_{t-1}, fused
        g = h_prev
        for j in range(1, q + 2):
            if j == 1:
                r = from_h[0]                                   # h_{t-1} W_h1
            else:
                r = scratch[j - 1]
                np.dot(g, W_level[j - 1], out=r)                # g_{j-1} W_hj
                if from_h[j - 1] is not None:
                    r += from_h[j - 1]                          #   + h_{t-1} S_hj   (DT(S))
            if takes_input[j - 1]:
                s = input_buffer[t]                             # s_j = u_t (put there by (R.1))
                s += r                                          #       + the products above
            else:
                s = r
                s += b_level[j - 1]                             # s_j = the products above + b_hj
            if j <= q:                                          # (R.3) a hidden transition level
                act = level_activations[j - 1][t]
                psi.forward(s, out=act)                         # ψ(s_j)
                if has_skip[j - 1]:
                    np.add(g, act, out=level_outputs[j - 1][t])  # g_j = g_{j-1} + ψ(s_j)
                g = level_outputs[j - 1][t]
            else:                                               # (R.4) the state: a_t = s_{q+1}
                phi.forward(s, out=phi_a[t])                    # h_t = φ(a_t)
                if residual:
                    np.add(h_prev, phi_a[t], out=states[t + 1])  # h_t = h_{t-1} + φ(a_t)

    cache = LayerCache(config, params, input_cache, states, level_outputs, level_activations, phi_a)
    return states[1:], cache


def layer_backward(dh: np.ndarray, cache: LayerCache, *, window: int | None = None, need_dx: bool = True,
                   overwrite_dh: bool = False, dx_out: np.ndarray | None = None,
                   workspace: Workspace = FRESH) -> LayerGradients:
    """Backpropagate through one recurrent layer over the whole sequence.

    Parameters
    ----------
    dh : ndarray of shape (T, B, H)
        ∂loss/∂h_t arriving from above (the output MLP or the next layer),
        for every step, not yet including the path through time.
    cache : LayerCache
        From :func:`layer_forward`.
    window : int or None, default None
        Truncated BPTT: the gradient is not carried from step t back to step
        t - 1 where t is a multiple of ``window`` (t > 0, 0-based), so each
        window of ``window`` steps is backpropagated on its own. None (or a
        window >= T) is full BPTT.
    need_dx : bool, default True
        False skips the product that gives ``dx`` (then None): the bottom
        layer of a model in training needs no gradient for its data.
    overwrite_dh : bool, default False
        Let the core accumulate into ``dh`` instead of a copy of it (for
        callers that own ``dh``, like :func:`numrnn.network.backward`).
    dx_out : ndarray of shape (T, B, D), optional
        C-contiguous buffer for ``dx``. It may be ``dh`` itself when
        ``overwrite_dh`` is True: ``dh``'s last use comes before ``dx`` is
        written. By default ``dx`` is a new array.
    workspace : Workspace, optional
        Where the backward pass's temporaries come from; by default new arrays.

    Returns
    -------
    LayerGradients
        ``dx`` (T, B, D) or None, ``dh0`` (B, H), ``grads`` and ``dh_norms`` (T,).
    """
    config, params, states = cache.config, cache.params, cache.states
    T, B, H = dh.shape
    q = config.transition_depth
    phi, psi = get_activation(config.activation), get_activation(config.psi)
    levels = _levels(config)
    dtype = states.dtype

    # The deltas of the levels that read h_{t-1} sit side by side in one array, for the fused
    # product (R.8); every other level has an array of its own, contiguous, because element-wise
    # passes over a column block of a wider array run ~3x slower (measured, numpy 2.4).
    deltas_from_h = workspace.empty("deltas_from_h", (T, B, levels.width_from_h), dtype)
    delta = [deltas_from_h[:, :, lo:lo + w] if j <= levels.reads_h else workspace.empty(f"delta{j}", (T, B, w), dtype)
             for j, lo, w in zip(range(1, q + 2), levels.offsets, levels.widths)]
    # δ_j's array first holds ψ'(s_j) (δ_{q+1}'s holds φ'(a_t)), for all steps at once,
    # outside the loop; the loop then multiplies the incoming gradient into it in place.
    phi.derivative_from_output(cache.phi_a, into=delta[q])                   # φ'(a_t)
    for j in range(1, q + 1):
        psi.derivative_from_output(cache.level_activations[j - 1], into=delta[j - 1])  # ψ'(s_j)

    # dh_total becomes ∂loss/∂h_t including the path through time.
    if overwrite_dh:
        dh_total = dh
    else:
        dh_total = workspace.empty("dh_total", dh.shape, dtype)
        np.copyto(dh_total, dh)
    # Transposed weights copied to C order once per call: np.dot with a transposed
    # view is measurably slower per step at small sizes.
    W_from_h_T = np.ascontiguousarray(_weights_from_h(params, config, levels).T)
    W_level_T = [np.ascontiguousarray(params[level_names(config, j)[0]].T) for j in range(1, q + 2)]
    has_skip = [config.level_has_skip(j) for j in range(1, q + 2)]
    residual = config.skip == "residual"
    dg = [np.empty((B, w), dtype=dtype) for w in levels.widths[:-1]]   # dg_1 .. dg_q, reused each step
    dh_next = np.zeros((B, H), dtype=dtype)
    dh_squares = np.empty(T, dtype=dtype)

    for t in range(T - 1, -1, -1):
        dh_t = dh_total[t]
        dh_t += dh_next                                          # (R.5) dh_t = dH_t + dh_next
        dh_flat = dh_t.reshape(-1)
        dh_squares[t] = np.dot(dh_flat, dh_flat)                 # ‖dh_t‖², while dh_t is in cache
        np.multiply(dh_t, delta[q][t], out=delta[q][t])          # (R.6) δ_{q+1} = da_t = dh_t ⊙ φ'(a_t)
        for j in range(q, 0, -1):                                # (R.7) down the transition levels
            np.dot(delta[j][t], W_level_T[j], out=dg[j - 1])     #   dg_j = δ_{j+1} W_{j+1}ᵀ
            if has_skip[j]:
                dg[j - 1] += dg[j]                               #        + dg_{j+1}  (layer-skip at j+1)
            np.multiply(dg[j - 1], delta[j - 1][t], out=delta[j - 1][t])  # δ_j = dg_j ⊙ ψ'(s_j)
        # (R.8) dh_{t-1}: every level that reads h_{t-1}, in one product.
        np.dot(deltas_from_h[t], W_from_h_T, out=dh_next)
        if has_skip[0]:
            dh_next += dg[0]                                     #   + dg_1  (g_1 = h_{t-1} + ψ(s_1))
        if residual:
            dh_next += dh_t                                      #   + dh_t  (h_t = h_{t-1} + φ(a_t))
        if window is not None and t % window == 0 and t > 0:
            dh_next[...] = 0                                     # (R.11) truncated BPTT: cut at the window edge

    # (R.9) Weight gradients: one product over all T·B rows per weight.
    rows = T * B
    delta_rows = [d.reshape(rows, -1) for d in delta]            # δ_j as (T·B, w_j), no copies
    grads = {}
    dW_from_h = states[:-1].reshape(rows, H).T @ deltas_from_h.reshape(rows, -1)  # Σ_t h_{t-1}ᵀ δ
    for j in range(1, levels.reads_h + 1):
        lo, w = levels.offsets[j - 1], levels.widths[j - 1]
        W_name, S_name, _ = level_names(config, j)
        grads[W_name if j == 1 else S_name] = dW_from_h if levels.reads_h == 1 else dW_from_h[:, lo:lo + w].copy()
    for j in range(2, q + 2):
        g_prev = cache.level_outputs[j - 2].reshape(rows, -1)
        grads[level_names(config, j)[0]] = g_prev.T @ delta_rows[j - 1]             # Σ_t g_{j-1}ᵀ δ_j
    for j in range(1, q + 2):
        if j != config.input_level:
            grads[level_names(config, j)[2]] = column_sums(delta_rows[j - 1])        # Σ_t Σ_b δ_j
    # ‖∂loss/∂h_t‖ per step; a sum of squares that under- or overflowed is redone by
    # scaling (numrnn.norms), so a vanishing gradient never reads as exactly 0.
    dh_norms = norms_from_squares(dh_squares, dh_total)

    # (R.10) The input side for all rows at once: du_t is the input level's delta.
    du = delta_rows[config.input_level - 1]
    dx, input_grads = mlp_backward(du, cache.input_cache, need_dv=need_dx,
                                   dv_out=None if dx_out is None else dx_out.reshape(rows, -1),
                                   workspace=workspace.scope("input"))
    grads.update(input_grads)

    ordered = {name: grads[name] for name in params}                  # the params' own order
    return LayerGradients(None if dx is None else dx.reshape(T, B, -1), dh_next, ordered, dh_norms)
