"""The feed-forward MLP over rows: ``MLP_x`` and ``MLP_o``, forward and backward.

An MLP with k hidden layers maps ``v`` (N rows) to ``g_k @ W_{k+1} + b_{k+1}``
where ``g_0 = v`` and ``g_j = ψ(g_{j-1} @ W_j + b_j)``, or, with the
layer-skip option and equal widths, ``g_j = g_{j-1} + ψ(g_{j-1} @ W_j + b_j)``.

Neither MLP depends on the recurrent state, so the core runs each over all
N = T·B rows at once (one matrix product per affine map), never inside the
time loop. Equations: ``docs/derivations.md``, section "MLP".

Shape legend: N rows (T·B), I input width, M hidden width, O output width.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .activations import get_activation
from .workspace import scratch

__all__ = ["MLPSpec", "MLPCache", "column_sums", "mlp_forward", "mlp_backward"]


class MLPSpec(NamedTuple):
    """Which entries of a params dict form the MLP, and how it computes.

    Attributes
    ----------
    hidden_name : str
        Letter of the hidden layers: ``"x"`` reads ``W_x1, b_x1, ..., W_x{k}, b_x{k}``.
    depth : int
        k, the number of hidden layers.
    last_weight : str
        Name of the last affine's weight (``"W_xh"``, ``"W_hy"``).
    last_bias : str
        Name of the last affine's bias (``"b_h"``, ``"b_h1"``, ``"b_y"``).
    activation : str
        ψ, the hidden layers' activation.
    layer_skip : bool
        Whether hidden layers of equal in/out width are layer-skips.
    """

    hidden_name: str
    depth: int
    last_weight: str
    last_bias: str
    activation: str
    layer_skip: bool


class MLPCache(NamedTuple):
    """What the backward pass needs from the forward pass.

    Attributes
    ----------
    inputs : list of ndarray
        ``g_0 .. g_k``, the input of each affine map, each of shape (N, ·).
    activations : list of ndarray
        ``ψ(s_j)`` for j = 1..k, shape (N, M): ψ' is computed from them.
    skips : list of bool
        Whether hidden layer j is a layer-skip.
    spec : MLPSpec
    params : dict of str to ndarray
    """

    inputs: list
    activations: list
    skips: list
    spec: MLPSpec
    params: dict


def column_sums(a: np.ndarray) -> np.ndarray:
    """``1ᵀ a``: the sum of the rows of ``a``, as one matrix-vector product.

    A bias gradient is a sum over all N = T·B rows. As a product with a vector
    of ones it runs in the BLAS, about twice as fast as ``a.sum(axis=0)`` on
    these tall arrays (``docs/core.md``), and it reads column blocks of a wider
    array without a copy.

    Parameters
    ----------
    a : ndarray of shape (N, M)
        Float32 or float64; rows may be strided (a column block of a wider array).

    Returns
    -------
    ndarray of shape (M,)
        ``a.sum(axis=0)``, in ``a``'s dtype.

    Raises
    ------
    ValueError
        If ``a`` is not 2-D.
    """
    if a.ndim != 2:
        raise ValueError(f"column_sums needs a 2-D array (N, M); got shape {a.shape}")
    return np.dot(np.ones(a.shape[0], dtype=a.dtype), a)


def mlp_forward(
    v: np.ndarray, params: dict, spec: MLPSpec, *, out: np.ndarray | None = None
) -> tuple[np.ndarray, MLPCache]:
    """Apply the MLP to every row of ``v``.

    Parameters
    ----------
    v : ndarray of shape (N, I)
    params : dict of str to ndarray
        Holds the names ``spec`` lists.
    spec : MLPSpec
    out : ndarray of shape (N, O), optional
        C-contiguous array to write the result into (the core passes the
        array named for the quantity, e.g. ``U``); by default a new array.

    Returns
    -------
    out : ndarray of shape (N, O)
    cache : MLPCache
    """
    psi = get_activation(spec.activation)
    inputs, activations, skips = [v], [], []
    g = v
    for j in range(1, spec.depth + 1):
        W, b = params[f"W_{spec.hidden_name}{j}"], params[f"b_{spec.hidden_name}{j}"]
        psi_s = scratch("mlp/psi_s", (len(g), W.shape[1]), W.dtype)
        np.dot(g, W, out=psi_s)  # (M.1) s_j = g_{j-1} W_j + b_j ...
        psi_s += b
        psi.forward(psi_s, out=psi_s)  # ... and ψ(s_j) overwrites s_j (s_j is not needed again)
        skip = spec.layer_skip and W.shape[0] == W.shape[1]
        if skip:
            g_j = scratch("mlp/g", psi_s.shape, psi_s.dtype)
            g = np.add(g, psi_s, out=g_j)  # g_j = g_{j-1} + ψ(s_j)
        else:
            g = psi_s  # g_j = ψ(s_j)
        inputs.append(g)
        activations.append(psi_s)
        skips.append(skip)
    out = np.dot(g, params[spec.last_weight], out=out)  # (M.2) out = g_k W_{k+1} + b_{k+1}, (N, O)
    out += params[spec.last_bias]
    cache = MLPCache(inputs=inputs, activations=activations, skips=skips, spec=spec, params=params)
    return out, cache


def mlp_backward(
    dout: np.ndarray, cache: MLPCache, *, need_dv: bool = True
) -> tuple[np.ndarray | None, dict]:
    """Backward pass of :func:`mlp_forward`.

    Parameters
    ----------
    dout : ndarray of shape (N, O)
        ∂loss/∂out.
    cache : MLPCache
    need_dv : bool, default True
        Skip the last product when the caller does not need ``dv``.

    Returns
    -------
    dv : ndarray of shape (N, I) or None
    grads : dict of str to ndarray
        ∂loss/∂ each parameter the MLP uses, same names and shapes.
    """
    spec, params = cache.spec, cache.params
    psi = get_activation(spec.activation)
    k = spec.depth
    grads = {}
    W = params[spec.last_weight]
    grads[spec.last_weight] = cache.inputs[k].T @ dout  # (M.3) dW_{k+1} = g_kᵀ dout
    grads[spec.last_bias] = column_sums(dout)  # (M.3) db_{k+1} = Σ_rows dout
    if k == 0 and not need_dv:
        return None, grads
    dg = _dg_array(k, len(dout), W.shape[0], W.dtype)
    np.dot(dout, W.T, out=dg)  # (M.4) dg_k = dout W_{k+1}ᵀ
    for j in range(k, 0, -1):
        W = params[f"W_{spec.hidden_name}{j}"]
        dpsi = scratch("mlp/delta", dg.shape, dg.dtype, temporary=True)
        psi.derivative_from_output(cache.activations[j - 1], out=dpsi)  # ψ'(s_j) ...
        delta = np.multiply(dg, dpsi, out=dpsi)  # (M.5) ... and δ_j = dg_j ⊙ ψ'(s_j) overwrites it
        dW_j = cache.inputs[j - 1].T @ delta  # (M.6) dW_j = g_{j-1}ᵀ δ_j
        grads[f"W_{spec.hidden_name}{j}"] = dW_j
        grads[f"b_{spec.hidden_name}{j}"] = column_sums(delta)  # (M.6) db_j = Σ_rows δ_j
        if j == 1 and not need_dv:
            return None, grads
        dg_below = _dg_array(j - 1, len(delta), W.shape[0], W.dtype)
        np.dot(delta, W.T, out=dg_below)  # (M.7) dg_{j-1} = δ_j W_jᵀ
        if cache.skips[j - 1]:
            dg_below += dg  # (M.7) dg_{j-1} += dg_j  (a layer-skip)
        dg = dg_below
    return dg, grads  # dv = dg_0


def _dg_array(j: int, rows: int, width: int, dtype) -> np.ndarray:
    """Scratch for ``dg_j``; ``dg_0 = dv`` is the result, so it is not a temporary."""
    if j == 0:
        return scratch("mlp/dv", (rows, width), dtype)
    return scratch(f"mlp/dg{j}", (rows, width), dtype, temporary=True)
