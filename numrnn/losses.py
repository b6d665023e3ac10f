"""Losses over a sequence of outputs, each with its hand-written gradient.

Each loss is a mean over the entries that count and returns ``(loss, dy)``
with ``dy = ∂loss/∂y`` of the shape of ``y``. Equations and derivations:
``docs/derivations.md``, section "Losses".

=========  ==============================  ===================================
name       targets                         loss (mean over counted entries)
=========  ==============================  ===================================
"xent"     int (T, B), -1 = not counted    softmax cross-entropy, log-sum-exp
"mse"      float (T, B, O)                 squared error
"bce"      float in [0, 1], (T, B, O)      sigmoid binary cross-entropy
=========  ==============================  ===================================

``mask`` (T, B), optional, weights each step of each sequence (0 = not
counted); the mean divides by the total weight that counts.

Shape legend: T steps, B batch, O output size.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_choice, check_float_array
from .workspace import scratch

__all__ = [
    "LOSSES",
    "softmax_cross_entropy",
    "mean_squared_error",
    "sigmoid_binary_cross_entropy",
    "compute_loss",
]


def step_weights(mask, y_shape, dtype):
    """The (T, B) weight of each (step, sequence): the checked mask, or ones when it is None."""
    if mask is None:
        return np.ones(y_shape[:2], dtype=dtype)
    return mask


def _flush_subnormals(dy):
    """Set entries below the smallest normal float to 0, in place.

    Underflowing values leave subnormal numbers in ``dy``, and every matrix
    product that reads them then runs tens of times slower on x86
    (``docs/core.md``). Their values are
    below 1e-38 in float32.
    """
    dy[np.abs(dy) < np.finfo(dy.dtype).tiny] = 0
    return dy


def _logit_floor(w, total, num_classes: int, dtype) -> float:
    """The lowest ``z = y - max(y)`` the softmax keeps: below it, ``dy`` would be subnormal.

    ``dy = w e^z / (Σw Σ_k e^{z_k})`` with ``Σ_k e^{z_k} <= O``, so every
    ``z >= log(tiny) + log(O Σw / w_min) + 1`` gives ``dy >= e·tiny``: a normal
    float. Raising the z below the floor to it changes a probability under
    ``e^floor`` (< 1e-19) by less than itself, far below the dtype's precision,
    and keeps subnormals out of ``dy`` without a mask or a second array
    (subnormals make the products that read ``dy`` tens of times slower).
    """
    tiny = np.finfo(dtype).tiny
    smallest_weight = w[w > 0].min()
    floor = np.log(tiny) + np.log(num_classes * total / smallest_weight) + 1
    return float(
        min(floor, np.log(tiny) / 2)
    )  # never above log(tiny)/2: absurd weights keep the softmax


def _xent(y, targets, weights):
    """Softmax cross-entropy over counted rows; see :func:`softmax_cross_entropy`."""
    T, B, O = y.shape
    counted = targets >= 0
    w = np.where(counted, weights, 0).astype(y.dtype)  # (T, B)
    total = w.sum()
    if total <= 0:
        raise ValueError("targets has no entry that counts (every target is -1 or has mask 0)")
    step, row = np.ogrid[:T, :B]
    safe_targets = np.where(counted, targets, 0)  # -1 would index the last class
    dy = scratch("loss/dy", y.shape, y.dtype)  # one (T, B, O) buffer serves throughout
    np.subtract(
        y, y.max(axis=-1, keepdims=True), out=dy
    )  # (L.1) z = y - max(y) <= 0: exp cannot overflow
    picked = dy[step, row, safe_targets]  # z_c, (T, B)
    np.maximum(dy, _logit_floor(w, total, O, y.dtype), out=dy)  # z >= floor: no subnormal in dy
    np.exp(dy, out=dy)  # e^z
    norm = dy.sum(axis=-1)  # Σ_k e^{z_k}, (T, B)
    loss = (w * (np.log(norm) - picked)).sum() / total  # (L.1) logsumexp(y) - y_c = log Σ e^z - z_c
    dy *= (w / (total * norm))[..., None]  # (L.2) dy = w (softmax(y) - onehot(c)) / Σw:
    dy[step, row, safe_targets] -= w / total  #       e^z w / (Σw Σe^z), then - w / Σw at c
    return y.dtype.type(loss), dy


def _mse(y, targets, weights):
    """Weighted mean squared error; see :func:`mean_squared_error`."""
    total = weights.sum() * y.shape[-1]
    if total <= 0:
        raise ValueError("mask has no entry that counts (all weights are 0)")
    diff = np.subtract(y, targets, out=scratch("loss/dy", y.shape, y.dtype))  # (T, B, O)
    loss = np.einsum("tbo,tbo,tb->", diff, diff, weights) / total  # (L.3) total = N = O Σw
    diff *= ((2 / total) * weights)[..., None].astype(y.dtype)  # (L.4) dy = 2 w (y - t) / N
    return y.dtype.type(loss), _flush_subnormals(diff)


def _bce(y, targets, weights):
    """Sigmoid binary cross-entropy on logits; see :func:`sigmoid_binary_cross_entropy`."""
    total = weights.sum() * y.shape[-1]
    if total <= 0:
        raise ValueError("mask has no entry that counts (all weights are 0)")
    w = weights[..., None]
    # (L.5) softplus(y) - t y, written so that exp never overflows:
    # softplus(y) = max(y, 0) + log1p(exp(-|y|))
    per_entry = np.maximum(y, 0) - targets * y + np.log1p(np.exp(-np.abs(y)))
    loss = (w * per_entry).sum() / total
    sigmoid = 0.5 * (1 + np.tanh(0.5 * y))
    dy = np.multiply(
        w / total,
        sigmoid - targets,  # (L.6) dy = w (σ(y) - t) / N,  N = O Σw
        out=scratch("loss/dy", y.shape, y.dtype),
        casting="same_kind",
    )
    return y.dtype.type(loss), _flush_subnormals(dy)


LOSSES = {"xent": _xent, "mse": _mse, "bce": _bce}


def check_targets(loss: str, targets, y_shape: tuple, dtype: np.dtype) -> np.ndarray:
    """Raise unless ``targets`` fits ``loss`` and outputs of shape ``y_shape`` (T, B, O)."""
    T, B, O = y_shape
    if loss == "xent":
        if not isinstance(targets, np.ndarray):
            raise TypeError(
                "targets must be an integer numpy array of shape (T, B); "
                f"got {type(targets).__name__}"
            )
        if not np.issubdtype(targets.dtype, np.integer):
            raise TypeError(
                "targets for loss='xent' must have an integer dtype (class indices); "
                f"got {targets.dtype}"
            )
        if targets.shape != (T, B):
            raise ValueError(
                f"targets for loss='xent' must have shape (T, B) = {(T, B)}; got {targets.shape}"
            )
        bad = (targets < -1) | (targets >= O)
        if bad.any():
            value = targets[bad].flat[0]
            raise ValueError(
                f"targets for loss='xent' must be class indices in [0, {O}) or -1 (not counted); "
                f"got {value}"
            )
        return targets
    targets = check_float_array(targets, "targets", ndim=3, dtype=dtype, shape_doc="(T, B, O)")
    if targets.shape != (T, B, O):
        raise ValueError(
            f"targets for loss={loss!r} must have shape (T, B, O) = {(T, B, O)}; "
            f"got {targets.shape}"
        )
    outside = (targets < 0) | (targets > 1)
    if loss == "bce" and outside.any():
        raise ValueError(
            f"targets for loss='bce' must lie in [0, 1]; got {float(targets[outside].flat[0])}"
        )
    return targets


def check_mask(mask, T: int, B: int, dtype: np.dtype) -> np.ndarray | None:
    """Return ``mask`` as (T, B) weights of ``dtype``, or raise; None stays None."""
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"mask must be a numpy array of shape (T, B); got {type(mask).__name__}")
    if mask.shape != (T, B):
        raise ValueError(f"mask must have shape (T, B) = {(T, B)}; got {mask.shape}")
    if not (
        mask.dtype == bool
        or np.issubdtype(mask.dtype, np.integer)
        or np.issubdtype(mask.dtype, np.floating)
    ):
        raise TypeError(f"mask must be boolean or numeric; got dtype {mask.dtype}")
    weights = mask.astype(dtype)
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any():
        raise ValueError(f"mask must hold finite weights >= 0; got {float(mask[bad].flat[0])}")
    return weights


def compute_loss(loss: str, y: np.ndarray, targets, mask=None) -> tuple:
    """Evaluate a loss by name and its gradient, checking every argument.

    Parameters
    ----------
    loss : {"xent", "mse", "bce"}
    y : ndarray of shape (T, B, O)
        The model's outputs (logits for "xent" and "bce").
    targets : ndarray
        int (T, B) for "xent"; float (T, B, O) of y's dtype for "mse" and "bce".
    mask : ndarray of shape (T, B), optional
        Weight of each (step, sequence); 0 means not counted.

    Returns
    -------
    loss : scalar of y's dtype
    dy : ndarray of shape (T, B, O)
        ∂loss/∂y, y's dtype.
    """
    check_choice(loss, "loss", LOSSES)
    if not isinstance(y, np.ndarray) or y.dtype not in (np.float32, np.float64):
        raise TypeError(
            "y must be a float32 or float64 numpy array of shape (T, B, O); "
            f"got {getattr(y, 'dtype', type(y).__name__)}"
        )
    y = check_float_array(y, "y", ndim=3, dtype=y.dtype, shape_doc="(T, B, O)")
    targets = check_targets(loss, targets, y.shape, y.dtype)
    weights = check_mask(mask, y.shape[0], y.shape[1], y.dtype)
    return LOSSES[loss](y, targets, step_weights(weights, y.shape, y.dtype))


def softmax_cross_entropy(logits, targets, mask=None):
    """Softmax cross-entropy, mean over counted steps, via log-sum-exp.

    ``loss = Σ_{t,b} w_tb (logsumexp(y_tb) - y_tb[c_tb]) / Σ w_tb`` over the
    (t, b) whose target ``c_tb`` is not -1.

    Parameters
    ----------
    logits : ndarray of shape (T, B, O)
    targets : int ndarray of shape (T, B)
        Class indices in [0, O); -1 means "not counted".
    mask : ndarray of shape (T, B), optional

    Returns
    -------
    loss : scalar
    dlogits : ndarray of shape (T, B, O)
    """
    return compute_loss("xent", logits, targets, mask)


def mean_squared_error(y, targets, mask=None):
    """Mean squared error over every counted entry.

    ``loss = Σ w_tb (y_tbo - t_tbo)² / (O Σ w_tb)``.

    Parameters
    ----------
    y, targets : ndarray of shape (T, B, O)
    mask : ndarray of shape (T, B), optional

    Returns
    -------
    loss : scalar
    dy : ndarray of shape (T, B, O)
    """
    return compute_loss("mse", y, targets, mask)


def sigmoid_binary_cross_entropy(logits, targets, mask=None):
    """Sigmoid binary cross-entropy for multi-label targets (e.g. piano rolls).

    ``loss = Σ w_tb (softplus(y_tbo) - t_tbo y_tbo) / (O Σ w_tb)``, computed
    without overflow for any logit.

    Parameters
    ----------
    logits : ndarray of shape (T, B, O)
    targets : ndarray of shape (T, B, O)
        Probabilities in [0, 1].
    mask : ndarray of shape (T, B), optional

    Returns
    -------
    loss : scalar
    dlogits : ndarray of shape (T, B, O)
    """
    return compute_loss("bce", logits, targets, mask)
