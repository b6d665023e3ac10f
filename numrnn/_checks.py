"""Argument checks for the public edge.

Every message names the argument, the rule and the value received, in the
scikit-learn manner: ``x must have shape (T, B, D) with D=4; got (5, 3, 2)``.
These helpers are called once where a user calls in; the core behind them
trusts its inputs.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_int(value, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} of type {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def check_number(
    value,
    name: str,
    *,
    positive: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = True,
    high_open: bool = True,
) -> float:
    """Return ``value`` as a float if it is a finite real number (NumPy scalars too), else raise.

    Parameters
    ----------
    value : object
        What the user passed.
    name : str
        The argument's name, for messages.
    positive : bool, default False
        Require ``value > 0``.
    low, high : float or None
        Bounds of an interval ``value`` must lie in (None: unbounded).
    low_open, high_open : bool, default True
        Whether each bound is excluded.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number; got {value!r} of type {type(value).__name__}"
        )
    if positive and not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    if low is not None or high is not None:
        low = -math.inf if low is None else low
        high = math.inf if high is None else high
        number = float(value)
        too_low = number <= low if low_open else number < low
        too_high = number >= high if high_open else number > high
        if not math.isfinite(number) or too_low or too_high:
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            raise ValueError(
                f"{name} must be a finite number in {left}{low}, {high}{right}; got {number!r}"
            )
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    return float(value)


def check_switch(value, name: str, *, above: float | None = None, meaning: str = ""):
    """A setting that 0 or None turns off: None for off, else ``value`` as a float.

    Parameters
    ----------
    value : object
        What the user passed.
    name : str
        The argument's name, for messages.
    above : float or None, default None
        If given, a value that is on must be greater than this.
    meaning : str, default ""
        Said after ``above`` in the message, e.g. ``" (a growth)"``.

    Returns
    -------
    float or None
    """
    if value is not None and (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not (math.isfinite(value) and value >= 0)
    ):
        raise ValueError(f"{name} must be a number >= 0 (0 = off) or None; got {value!r}")
    if not value:
        return None
    if above is not None and value <= above:
        raise ValueError(f"{name} must be > {above:g}{meaning}, 0 or None; got {value!r}")
    return float(value)


def check_choice(value, name: str, choices) -> str:
    """Return ``value`` if it is one of ``choices`` (strings), else raise."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {sorted(choices)}; got {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}; got {value!r}")
    return value


def check_dtype(dtype) -> np.dtype:
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be np.float32 or np.float64; got {dtype!r}") from None
    if resolved not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be np.float32 or np.float64; got {resolved}")
    return resolved


def check_float_array(
    value, name: str, *, ndim: int, dtype: np.dtype, shape_doc: str
) -> np.ndarray:
    """Check that ``value`` is a finite float array of ``ndim`` dims and ``dtype``.

    Parameters
    ----------
    value : array_like
        What the user passed.
    name : str
        The argument's name, for messages.
    ndim : int
        Required number of dimensions.
    dtype : numpy.dtype
        Required dtype (the model's): no silent casts either way.
    shape_doc : str
        The expected shape in letters, e.g. ``"(T, B, D)"``.

    Returns
    -------
    ndarray
        ``value`` itself (no copy) when it is already an ndarray.
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy array of shape {shape_doc}; got {type(value).__name__}"
        )
    if value.ndim != ndim:
        raise ValueError(
            f"{name} must have {ndim} dimensions {shape_doc}; "
            f"got {value.ndim} (shape {value.shape})"
        )
    if value.dtype != dtype:
        raise TypeError(
            f"{name} must have dtype {dtype} (the model's dtype; numrnn never casts silently); "
            f"got {value.dtype}. Convert with {name}.astype(np.{dtype})"
        )
    if not np.isfinite(value).all():
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        raise ValueError(f"{name} must be finite; got {bad} NaN or inf entries")
    return value
