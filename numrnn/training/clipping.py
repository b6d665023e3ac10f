"""Gradient clipping, in place over the grads dict, always reporting the pre-clip norm.

Exploding gradients (Bengio et al. 1994; Pascanu et al. 2013) show up as
sudden spikes of the global gradient norm

    ‖g‖ = sqrt( Σ_name Σ_entries g² ),

so both functions return that norm *before* clipping, and the trainer logs
it every step.

* :func:`clip_by_global_norm` (Pascanu et al. 2013; their deep-RNN paper
  clips at 1): if ``‖g‖ > c``, every gradient is multiplied by ``c / ‖g‖``.
  The direction of the update is unchanged; only its length is capped.
* :func:`clip_by_value` (min-char-rnn's ``np.clip(d, -5, 5)``): each entry is
  clipped to ``[-c, c]`` on its own, which can change the direction.

Shape legend: each gradient has the shape of its parameter.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_number
from ..norms import reliable_squares_floor, scaled_norm

__all__ = ["global_norm", "clip_by_global_norm", "clip_by_value"]


def _check_grads(grads) -> None:
    if not isinstance(grads, dict) or not grads:
        raise TypeError(
            f"grads must be a non-empty dict of str to ndarray; got {type(grads).__name__}"
        )


def global_norm(grads: dict) -> float:
    """``‖g‖ = sqrt(Σ_name Σ g²)`` over every gradient, accumulated in float64.

    A sum that under- or overflowed is recomputed by scaling (:mod:`numrnn.norms`), so a
    tiny gradient never reports a norm of 0 and a huge finite one never reports inf.

    Parameters
    ----------
    grads : dict of str to ndarray

    Returns
    -------
    float
        inf when an entry is inf, nan when one is nan; never raises for that.
    """
    _check_grads(grads)
    total, floor = 0.0, 0.0
    count = sum(g.size for g in grads.values())
    with np.errstate(over="ignore", under="ignore"):  # both are caught just below
        for g in grads.values():
            flat = g.ravel()
            total += float(np.dot(flat, flat))  # Σ g² of this array
            floor = max(floor, reliable_squares_floor(count, flat.dtype))
    if floor <= total < math.inf:
        return math.sqrt(total)
    return scaled_norm(*grads.values())  # under/overflowed: redo by scaling


def clip_by_global_norm(grads: dict, max_norm: float) -> float:
    """Scale every gradient by ``max_norm / ‖g‖`` when ``‖g‖ > max_norm``, in place.

    ``g ← g · min(1, c / ‖g‖)`` (Pascanu et al. 2013): the direction is kept
    and the global norm becomes exactly ``c`` (up to rounding).

    Parameters
    ----------
    grads : dict of str to ndarray
        Modified in place.
    max_norm : float > 0
        c, the largest global norm let through.

    Returns
    -------
    float
        The global norm before clipping (inf/nan are returned as they are and
        nothing is scaled, so the caller can stop on them).
    """
    max_norm = check_number(max_norm, "max_norm", positive=True)
    norm = global_norm(grads)
    if math.isfinite(norm) and norm > max_norm:
        scale = max_norm / norm
        for g in grads.values():
            g *= scale  # g ← g · c / ‖g‖
    return norm


def clip_by_value(grads: dict, limit: float) -> float:
    """Clip every gradient entry to ``[-limit, limit]``, in place (min-char-rnn uses 5).

    Parameters
    ----------
    grads : dict of str to ndarray
        Modified in place.
    limit : float > 0

    Returns
    -------
    float
        The global norm before clipping.
    """
    limit = check_number(limit, "limit", positive=True)
    norm = global_norm(grads)
    for g in grads.values():
        np.clip(g, -limit, limit, out=g)  # g ← max(−c, min(c, g))
    return norm
