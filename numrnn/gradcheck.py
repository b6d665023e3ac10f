"""Check analytic gradients against finite differences, for any function of a params dict.

Three methods (``docs/gradcheck.md`` explains the numbers):

* ``"full"`` — every entry of every array: for small models.
* ``"sampled"`` — ``num_samples`` random entries of each array.
* ``"directional"`` — per array, one random unit direction ``v``:
  ``⟨grad, v⟩`` against the derivative of ``s ↦ f(θ + s v)`` at 0 (the
  textbook ``(f(θ + εv) − f(θ − εv)) / 2ε``, with the stencil below); six
  evaluations per array however large it is.

The derivative is the sixth-order central difference

    n = (f(θ+3ε) − 9 f(θ+2ε) + 45 f(θ+ε) − 45 f(θ−ε) + 9 f(θ−2ε) − f(θ−3ε)) / 60ε

whose truncation error is O(ε⁶) instead of the textbook stencil's O(ε²).
That lets ε be large (2e-3 in float64), so the rounding error of ``f``
(about 1e-16 ``|f|``) is divided by a large ε: the numeric derivative is then
good to about 1e-12 ``|f|``, which is what makes a 1e-7 relative tolerance
meaningful. Each entry is scored by the relative error
``|a − n| / max(|a| + |n|, tiny)``; ``tiny`` (1e-4) keeps entries that are
zero up to rounding from counting as failures, and still compares them at
an absolute 1e-11. An entry that fails is looked at again with ε/4, in case
the step was too large for the function's curvature there
(:func:`_numeric_derivative` says how, without peeking at the answer).

Shape legend: any shapes; each array of ``params`` gets one report row.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ._checks import check_choice, check_int, check_number
from .losses import compute_loss

__all__ = [
    "GradcheckPrecisionWarning",
    "GradcheckRow",
    "GradcheckReport",
    "check_gradients",
    "check_model",
    "relative_error",
]

METHODS = ("auto", "full", "sampled", "directional")
AUTO_FULL_LIMIT = 4000  # "auto" checks every entry up to this many, else samples
PROGRESS_MIN_ENTRIES = (
    500  # progress=None shows a bar from this many checked entries (a few seconds)
)


class GradcheckPrecisionWarning(UserWarning):
    """Warns that a gradient check runs in float32, where it cannot tell right from wrong."""


def relative_error(analytic, numeric, tiny: float):
    """``|a − n| / max(|a| + |n|, tiny)``, element-wise (``docs/gradcheck.md``)."""
    analytic, numeric = (
        np.asarray(analytic, dtype=np.float64),
        np.asarray(numeric, dtype=np.float64),
    )
    return np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), tiny)


@dataclass
class GradcheckRow:
    """One array's result.

    Attributes
    ----------
    name : str
    shape : tuple of int
    checked : int
        How many entries (or directions) were compared.
    max_relative_error : float
    max_absolute_error : float
    passed : bool
    """

    name: str
    shape: tuple
    checked: int
    max_relative_error: float
    max_absolute_error: float
    passed: bool


@dataclass
class GradcheckReport:
    """The result of a gradient check: a row per array, printable as a table.

    Attributes
    ----------
    rows : list of GradcheckRow
    method : str
    tolerance : float
    dtype : numpy.dtype
    title : str
    """

    rows: list = field(default_factory=list)
    method: str = "full"
    tolerance: float = 1e-7
    dtype: np.dtype = np.dtype(np.float64)
    title: str = "gradient check"

    @property
    def passed(self) -> bool:
        """True when every row passed."""
        return all(row.passed for row in self.rows)

    @property
    def max_relative_error(self) -> float:
        """The worst relative error over all rows."""
        return max((row.max_relative_error for row in self.rows), default=0.0)

    def failures(self) -> list:
        """The rows that failed."""
        return [row for row in self.rows if not row.passed]

    def __str__(self) -> str:
        head = ("parameter", "shape", "checked", "max rel. error", "verdict")
        cells = [
            (
                row.name,
                str(row.shape),
                str(row.checked),
                f"{row.max_relative_error:.2e}",
                "ok" if row.passed else "FAIL",
            )
            for row in self.rows
        ]
        widths = [max(len(r[i]) for r in cells + [head]) for i in range(5)]

        def fmt(r):
            """One table row: the name left-aligned, the other cells right-aligned."""
            return "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )

        rule = "-" * len(fmt(head))
        verdict = (
            "PASS" if self.passed else f"FAIL ({len(self.failures())} of {len(self.rows)} arrays)"
        )
        lines = [
            f"{self.title}: {self.method} check in {self.dtype}, tolerance {self.tolerance:g}",
            rule,
            fmt(head),
            rule,
            *map(fmt, cells),
            rule,
            f"{verdict}: max relative error {self.max_relative_error:.2e}",
        ]
        return "\n".join(lines)


_STENCIL = ((3, 1), (2, -9), (1, 45), (-1, -45), (-2, 9), (-3, -1))  # (offset, weight) / 60ε


def _central_difference(
    g: Callable[[float], float], eps: float, machine_eps: float
) -> tuple[float, float]:
    """g'(0) by the sixth-order central difference, and a bound on its rounding error.

    Each g value carries a rounding error of about ``machine_eps · |g|``;
    the stencil's weights (sum of magnitudes 110/60) pass it on divided by ε.
    """
    values = [(weight, g(offset * eps)) for offset, weight in _STENCIL]
    estimate = sum(weight * value for weight, value in values) / (60 * eps)
    rounding = (110 / 60) * machine_eps * max(abs(value) for _, value in values) / eps
    return estimate, rounding


def _numeric_derivative(
    g: Callable[[float], float],
    eps: float,
    machine_eps: float,
    analytic: float,
    tolerance: float,
    tiny: float,
) -> float:
    """g'(0) at step ε, refined at ε/4 when the step was too large for g's curvature.

    Only an entry that disagrees with its analytic value is refined, and the
    choice between the two estimates does not look at the analytic value: the
    ε/4 estimate (truncation error 4⁶ = 4096 times smaller) replaces the ε one
    when the two differ by more than rounding can explain. A wrong gradient
    disagrees with both, so it still fails.
    """
    estimate, _ = _central_difference(g, eps, machine_eps)
    if relative_error(analytic, estimate, tiny) <= tolerance:
        return estimate
    finer, finer_rounding = _central_difference(g, eps / 4, machine_eps)
    return finer if abs(finer - estimate) > 2 * finer_rounding else estimate


def _along_entry(f, point, array, index):
    """s -> f(point) with ``array[index]`` moved by s (restored after each call)."""
    original = array[index]

    def g(s):
        array[index] = original + s
        try:
            return float(f(point))
        finally:
            array[index] = original

    return g


def _along_direction(f, point, array, direction):
    """s -> f(point) with ``array`` moved by s · direction (restored after each call)."""
    original = array.copy()

    def g(s):
        np.copyto(array, original + s * direction, casting="unsafe")
        try:
            return float(f(point))
        finally:
            np.copyto(array, original)

    return g


def check_gradients(
    f: Callable,
    params: dict,
    grads: dict,
    *,
    method: str = "auto",
    tolerance: float = 1e-7,
    eps: float | None = None,
    tiny: float = 1e-4,
    num_samples: int = 20,
    seed: int = 0,
    title: str = "gradient check",
    progress: bool | None = None,
) -> GradcheckReport:
    """Compare analytic gradients with finite differences of ``f``.

    Parameters
    ----------
    f : callable ``params -> loss``
        The scalar function whose gradient ``grads`` claims to be. It is
        called with a dict holding copies of ``params`` (your arrays are never
        changed) and must read the values it is given.
    params : dict of str to ndarray
        The point to check at: float arrays, any shapes.
    grads : dict of str to ndarray
        The analytic ∂f/∂params: same keys and shapes.
    method : {"auto", "full", "sampled", "directional"}, default "auto"
        "auto" is "full" up to 4000 entries in all, else "sampled".
    tolerance : float, default 1e-7
        The largest relative error that passes.
    eps : float or None, default None
        Finite-difference step; None picks 2e-3 for float64 and 5e-2 for
        float32 (near the seventh root of machine epsilon, the best step for
        a sixth-order difference).
    tiny : float, default 1e-4
        Floor of the relative error's denominator.
    num_samples : int, default 20
        Entries per array for "sampled".
    seed : int, default 0
        Seed for the sampled entries and directions.
    title : str
        First line of the printed report.
    progress : bool or None, default None
        Show a tqdm progress bar on stderr, one tick per checked entry. None
        shows it for long checks only (at least :data:`PROGRESS_MIN_ENTRIES`
        entries) and only on a terminal, so logs and notebooks' captured
        output are not flooded; True always, False never.

    Returns
    -------
    GradcheckReport

    Warns
    -----
    GradcheckPrecisionWarning
        When any array is float32.
    """
    check_choice(method, "method", METHODS)
    if not callable(f):
        raise TypeError(f"f must be callable as f(params) -> loss; got {type(f).__name__}")
    if not isinstance(params, dict) or not isinstance(grads, dict):
        raise TypeError("params and grads must both be dicts of str to ndarray")
    if set(params) != set(grads):
        raise ValueError(
            f"grads must have the keys of params; missing {sorted(set(params) - set(grads))}, "
            f"extra {sorted(set(grads) - set(params))}"
        )
    dtypes = set()
    for name, value in params.items():
        if not isinstance(value, np.ndarray) or value.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"params[{name!r}] must be a float32 or float64 ndarray; "
                f"got {getattr(value, 'dtype', type(value))}"
            )
        if not isinstance(grads[name], np.ndarray) or grads[name].shape != value.shape:
            raise ValueError(
                f"grads[{name!r}] must have shape {value.shape}; "
                f"got {getattr(grads[name], 'shape', None)}"
            )
        dtypes.add(value.dtype)
    check_number(tolerance, "tolerance", positive=True)
    check_number(tiny, "tiny", positive=True)
    if eps is not None:
        check_number(eps, "eps", positive=True)
    check_int(num_samples, "num_samples", minimum=1)
    dtype = np.dtype(np.float32) if np.dtype(np.float32) in dtypes else np.dtype(np.float64)
    if dtype == np.float32:
        warnings.warn(
            "gradient check in float32: rounding in the loss (about 1e-7 relative) divided by the "
            "step makes finite differences accurate only to about 1e-3, so a correct gradient can "
            "fail and a wrong one can pass; check in float64 (dtype=np.float64) and train in "
            "float32",
            GradcheckPrecisionWarning,
            stacklevel=2,
        )
    machine_eps = float(np.finfo(dtype).eps)
    if eps is None:
        eps = 5e-2 if dtype == np.float32 else 2e-3
    if method == "auto":
        total = sum(value.size for value in params.values())
        method = "full" if total <= AUTO_FULL_LIMIT else "sampled"

    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None; got {progress!r}")

    point = {
        name: value.copy() for name, value in params.items()
    }  # perturbed in place, then restored
    rng = np.random.default_rng(seed)
    chosen = {}  # name -> entries (or a direction)
    for name, value in point.items():
        if method == "directional":
            direction = rng.standard_normal(value.shape)
            chosen[name] = direction / np.linalg.norm(direction)
        elif method == "full" or num_samples >= value.size:
            chosen[name] = list(np.ndindex(value.shape))
        else:
            chosen[name] = [
                np.unravel_index(i, value.shape)
                for i in rng.choice(value.size, num_samples, replace=False)
            ]
    total = (
        len(point) if method == "directional" else sum(len(entries) for entries in chosen.values())
    )
    bar = _progress_bar(progress, total)
    report = GradcheckReport(method=method, tolerance=tolerance, dtype=dtype, title=title)
    for name, value in point.items():
        analytic = np.asarray(grads[name], dtype=np.float64)
        if method == "directional":
            lines = [_along_direction(f, point, value, chosen[name])]
            analytic = np.array([np.sum(analytic * chosen[name])])  # ⟨grad, v⟩
        else:
            lines = [_along_entry(f, point, value, index) for index in chosen[name]]
            analytic = np.array([analytic[index] for index in chosen[name]])
        numeric = []
        for g, a in zip(lines, analytic, strict=True):
            numeric.append(_numeric_derivative(g, eps, machine_eps, a, tolerance, tiny))
            if bar is not None:
                bar.update(1)
        numeric = np.array(numeric)
        errors = relative_error(analytic, numeric, tiny)
        worst = float(errors.max()) if errors.size else 0.0
        worst_abs = float(np.abs(analytic - numeric).max()) if errors.size else 0.0
        passed = bool(worst <= tolerance) and all(math.isfinite(v) for v in numeric)
        report.rows.append(
            GradcheckRow(name, value.shape, int(errors.size), worst, worst_abs, passed)
        )
    if bar is not None:
        bar.close()
    return report


def _progress_bar(progress: bool | None, total: int):
    """A tqdm bar over ``total`` entries, or None (see ``progress`` in :func:`check_gradients`)."""
    import sys

    if progress is None:
        try:
            progress = total >= PROGRESS_MIN_ENTRIES and sys.stderr.isatty()
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            progress = False
    if not progress:
        return None
    from tqdm import tqdm  # imported only when a bar is wanted

    return tqdm(
        total=total,
        desc="gradient check",
        unit="entry",
        leave=False,
        mininterval=0.5,
        file=sys.stderr,
    )


def check_model(
    model,
    x,
    targets,
    *,
    loss: str = "xent",
    h0=None,
    mask=None,
    bptt_window=None,
    include_inputs: bool = True,
    **options,
) -> GradcheckReport:
    """Check every gradient of a :class:`numrnn.DeepRNN`, and ``dx`` and ``dh0``.

    Parameters
    ----------
    model : DeepRNN
    x : ndarray of shape (T, B, D)
    targets : ndarray
        As for :meth:`numrnn.DeepRNN.loss_and_grads`.
    loss : {"xent", "mse", "bce"}, default "xent"
    h0 : None, or list of ndarray of shape (B, H_l)
        None means zeros (then ``dh0`` is still checked, at zero).
    mask : ndarray of shape (T, B), optional
    bptt_window : int or None
        Must be None or >= T: a truncated gradient is not the gradient of
        the loss, so no finite difference can confirm it.
    include_inputs : bool, default True
        Also check ``dx`` (row ``"x"``) and ``dh0`` (rows ``"h0[l]"``).
    **options
        Passed to :func:`check_gradients` (method, tolerance, eps, tiny, progress, ...): a long
        check shows a progress bar on a terminal (``progress=None``).

    Returns
    -------
    GradcheckReport
    """
    x, h0 = model.check_inputs(x, h0)  # the model's own checks: None -> zeros, always a list
    if bptt_window is not None and check_int(bptt_window, "bptt_window", minimum=1) < x.shape[0]:
        raise ValueError(
            f"bptt_window must be None or >= T={x.shape[0]} for a gradient check: a truncated "
            f"gradient is not the gradient of the loss; got {bptt_window}"
        )
    value, grads, info = model.loss_and_grads(
        x, targets, loss=loss, h0=h0, mask=mask, bptt_window=bptt_window, need_dx=True
    )
    point, analytic = dict(model.params), dict(grads)
    if include_inputs:
        point["x"], analytic["x"] = x, info.dx
        for l, (state, dstate) in enumerate(zip(h0, info.dh0, strict=True)):
            point[f"h0[{l}]"], analytic[f"h0[{l}]"] = state, dstate
    states = [f"h0[{l}]" for l in range(len(h0))]
    original = model.params

    def f(perturbed):
        model.params = {name: perturbed[name] for name in original}
        try:
            start = [perturbed.get(name, state) for name, state in zip(states, h0, strict=True)]
            y, _ = model.forward(perturbed.get("x", x), start)
            return compute_loss(loss, y, targets, mask)[0]
        finally:
            model.params = original

    options.setdefault("title", f"gradient check of {model!r}")
    return check_gradients(f, point, analytic, **options)
