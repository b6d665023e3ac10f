"""Euclidean norms that neither underflow nor overflow, for the gradient-flow diagnostics.

``‖v‖ = sqrt(Σ v²)`` computed as written loses any vector whose entries are all
below ``sqrt(tiny)`` (1.5e-154 in float64, 1.1e-19 in float32): their squares
round to zero or to subnormals, and the norm comes out as 0 or far off. That is
exactly the vanishing gradient these norms exist to show. It overflows to inf
above ``sqrt(max)`` (1.3e154 in float64, 1.8e19 in float32) in the same way.

The fast sum of squares is exact to rounding whenever it lies in
``[n · tiny / eps, max)`` for n entries: every square it loses is below
``tiny``, so together they are below ``n · tiny``, a relative error under
``eps``. So the engine keeps the fast sum (one dot product per step, while the
vector is in cache) and recomputes only the entries outside that range, by
scaling with the largest magnitude (LAPACK's ``xNRM2`` idea):
``‖v‖ = s · sqrt(Σ (v / s)²)`` with ``s = max |v|``, in float64.

Shape legend: T steps; a row is one step's vector of any shape.
"""

from __future__ import annotations

import numpy as np

__all__ = ["scaled_norm", "norms_from_squares", "reliable_squares_floor"]


def scaled_norm(*arrays) -> float:
    """``‖(a_1, ..., a_k)‖₂`` over every entry of the arrays, in float64, with no under/overflow.

    Parameters
    ----------
    *arrays : ndarray
        Any shapes and float dtypes; the norm is over all their entries together.

    Returns
    -------
    float
        Correct to float64 rounding for every finite input from the smallest
        subnormal up to ``max / sqrt(n)``; 0 for all-zero input, inf if an entry
        is inf, nan if an entry is nan.
    """
    flats = [np.asarray(a, dtype=np.float64).ravel() for a in arrays]
    flats = [flat for flat in flats if flat.size]
    if not flats:
        return 0.0
    scale = max(float(np.max(np.abs(flat))) for flat in flats)  # s = max |v|
    if scale == 0.0 or not np.isfinite(scale):
        return scale  # 0, inf or nan as it is
    total = 0.0
    for flat in flats:
        scaled = flat / scale  # every entry in [-1, 1]
        total += float(np.dot(scaled, scaled))  # Σ (v / s)², no under/overflow
    return scale * float(np.sqrt(total))  # ‖v‖ = s · sqrt(Σ (v / s)²)


def reliable_squares_floor(count: int, dtype) -> float:
    """Smallest sum of ``count`` squares in ``dtype`` exact to rounding: ``count · tiny / eps``."""
    info = np.finfo(dtype)
    return float(count) * float(info.tiny) / float(info.eps)


def norms_from_squares(squares: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Norms from fast sums of squares, each unreliable sum recomputed from its row by scaling.

    Parameters
    ----------
    squares : ndarray of shape (T,)
        ``Σ rows[t]²`` as computed by a plain dot product, in the dtype of ``rows``.
    rows : ndarray of shape (T, ...)
        The vectors themselves (each row is one step's vector, any shape).

    Returns
    -------
    ndarray of shape (T,), the dtype of ``rows``
        ``sqrt(squares)`` where ``squares[t]`` lies in the reliable range
        ``[n · tiny / eps, inf)``, and :func:`scaled_norm` of ``rows[t]``
        elsewhere (an underflowed, overflowed or nan sum). A row that is
        exactly zero gets exactly 0.
    """
    count = int(np.prod(rows.shape[1:], dtype=np.int64))
    floor = reliable_squares_floor(count, rows.dtype)
    norms = np.sqrt(squares)
    unreliable = ~((squares >= floor) & (squares < np.inf))  # also catches nan
    for t in np.flatnonzero(unreliable):
        norms[t] = scaled_norm(rows[t])
    return norms
