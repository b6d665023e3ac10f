"""Pictures of gradient flow and training: the one module that imports matplotlib.

``import numrnn`` never imports matplotlib; ``import numrnn.plotting`` does
not either until a function is called. Then, if nobody has chosen a backend
yet (no ``MPLBACKEND``, no ``matplotlib.use``, no backend in a matplotlibrc,
pyplot not yet imported), it selects the non-interactive Agg backend, so the
functions work on servers, in CI and in auto-graders. A backend the user chose
(Jupyter's inline backend, ``MPLBACKEND=qtagg``, ...) is left alone.

Every function draws into ``ax`` when one is given, or into a new figure, and
returns the Axes. Save with ``ax.figure.savefig(path)``; close with
``matplotlib.pyplot.close(ax.figure)``.

==================================  ==============================================
function                            picture
==================================  ==============================================
:func:`plot_gradient_norms`         the (L, T) map of ‖∂loss/∂h_t^(l)‖, a heat map
:func:`plot_gradient_norm_curves`   one curve of ‖∂loss/∂h_t^(l)‖ per layer
:func:`compare_gradient_flow`       one curve per architecture, on one Axes
:func:`plot_history`                training curves (loss, val_loss, ...) per step
==================================  ==============================================

Shape legend: L layers, T steps, N logged points of a training history.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import numpy as np

__all__ = ["plot_gradient_norms", "plot_gradient_norm_curves", "compare_gradient_flow", "plot_history"]

NORM_LABEL = r"$\Vert\partial\,\mathrm{loss}/\partial h_t^{(l)}\Vert$"


# --------------------------------------------------------------------------- matplotlib, lazily

def _pyplot():
    """``matplotlib.pyplot``, with the Agg backend unless a backend was already chosen."""
    if "matplotlib.pyplot" not in sys.modules:
        import matplotlib

        if _chosen_backend(matplotlib) is None:
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _chosen_backend(matplotlib):
    """The backend the user chose (MPLBACKEND, matplotlibrc, matplotlib.use), or None if none was."""
    try:
        return matplotlib.get_backend(auto_select=False)      # matplotlib >= 3.10
    except TypeError:
        return matplotlib.rcParams._get_backend_or_none()      # matplotlib 3.5 - 3.9


def _new_axes(ax):
    """``ax`` itself, or the Axes of a new figure; raises TypeError for anything else."""
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(7, 3.5), layout="constrained")
        return ax
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
    return ax


# --------------------------------------------------------------------------- input checks

def _as_norms(value, name: str, *, ndim: tuple = (1, 2)) -> np.ndarray:
    """``value`` as a float array of gradient norms: finite, >= 0, non-empty, ``ndim`` in ``ndim``."""
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__len__"):
        raise TypeError(
            f"{name} must be an array of gradient norms of shape (L, T) or (T,), such as "
            f"info.grad_norms from model.loss_and_grads; got {type(value).__name__}"
        )
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers; got dtype {array.dtype}")
    shapes = " or ".join({1: "(T,)", 2: "(L, T)"}[n] for n in ndim)
    if array.ndim not in ndim:
        raise ValueError(f"{name} must have shape {shapes}; got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty; got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite; it has NaN or inf entries (did the gradient explode?)")
    if (array < 0).any():
        raise ValueError(f"{name} must be >= 0 (they are norms); got {array.min()}")
    return array.astype(np.float64, copy=False)


def _as_2d(norms: np.ndarray) -> np.ndarray:
    """A (T,) array as (1, T); an (L, T) array unchanged."""
    return norms[None, :] if norms.ndim == 1 else norms


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


# --------------------------------------------------------------------------- gradient flow

def plot_gradient_norms(grad_norms, ax=None, log: bool = True, title: str | None = None):
    """Heat map of ‖∂loss/∂h_t^(l)‖: layers on the y axis, steps on the x axis.

    With the loss on the last step only, this is the vanishing/exploding
    gradient picture: a colour that fades from right (step T) to left
    (step 1) is a vanishing gradient; one that grows is an exploding one.

    Parameters
    ----------
    grad_norms : array_like of shape (L, T) or (T,)
        ``info.grad_norms`` from :meth:`numrnn.DeepRNN.loss_and_grads`; row
        l - 1 is layer l. A (T,) array is drawn as one layer.
    ax : matplotlib.axes.Axes or None, default None
        Where to draw; None makes a new figure.
    log : bool, default True
        Logarithmic colour scale (entries equal to 0 are drawn in the
        colour map's "bad" colour, grey). Needs at least one entry > 0.
    title : str or None, default None
        None gives a title naming L and T.

    Returns
    -------
    matplotlib.axes.Axes
        Its one image holds ``grad_norms`` as (L, T) data; the figure has a
        colour bar.

    Raises
    ------
    TypeError
        If ``grad_norms`` is not an array of numbers, or ``ax`` not an Axes.
    ValueError
        If ``grad_norms`` is not 1-D or 2-D, is empty, has NaN, inf or
        negative entries, or (with ``log``) has no positive entry.
    """
    norms = _as_2d(_as_norms(grad_norms, "grad_norms"))
    log = _check_bool(log, "log")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string or None; got {type(title).__name__}")
    L, T = norms.shape
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm, Normalize

    if log:
        positive = norms[norms > 0]
        if positive.size == 0:
            raise ValueError("grad_norms has no entry > 0, so it has no log colour scale; pass log=False")
        low, high = positive.min(), positive.max()
        norm = LogNorm(vmin=low, vmax=high if high > low else low * 10)
    else:
        norm = Normalize(vmin=0.0, vmax=norms.max() if norms.max() > 0 else 1.0)
    ax = _new_axes(ax)
    cmap = colormaps["viridis"].with_extremes(bad="0.6")
    image = ax.imshow(norms, aspect="auto", origin="lower", interpolation="nearest", cmap=cmap, norm=norm,
                      extent=(0.5, T + 0.5, 0.5, L + 0.5))            # pixel centres at steps 1..T, layers 1..L
    ax.figure.colorbar(image, ax=ax, label=NORM_LABEL)
    ax.set_xlabel("step t")
    ax.set_ylabel("layer l")
    ax.set_yticks(np.arange(1, L + 1))
    ax.set_title(f"gradient norms, L={L} layers, T={T} steps" if title is None else title)
    return ax


def plot_gradient_norm_curves(grad_norms, ax=None, labels=None):
    """One curve of ‖∂loss/∂h_t^(l)‖ against t per layer, on a log y axis.

    Parameters
    ----------
    grad_norms : array_like of shape (L, T) or (T,)
        ``info.grad_norms``; a (T,) array is one layer.
    ax : matplotlib.axes.Axes or None, default None
    labels : sequence of str of length L, or None, default None
        Legend entries; None gives ``"layer 1" .. "layer L"``.

    Returns
    -------
    matplotlib.axes.Axes
        With L lines, line l - 1 holding steps ``1..T`` and row l - 1.

    Raises
    ------
    TypeError
        If ``grad_norms`` is not an array of numbers, ``labels`` not strings,
        or ``ax`` not an Axes.
    ValueError
        If ``grad_norms`` has a bad shape or value, or ``labels`` has not L entries.
    """
    norms = _as_2d(_as_norms(grad_norms, "grad_norms"))
    L, T = norms.shape
    if labels is None:
        labels = [f"layer {l}" for l in range(1, L + 1)]
    else:
        if isinstance(labels, str) or not hasattr(labels, "__len__"):
            raise TypeError(f"labels must be a sequence of {L} strings (one per layer); got {labels!r}")
        labels = list(labels)
        if len(labels) != L:
            raise ValueError(f"labels must have one entry per layer (L={L}); got {len(labels)}")
        if not all(isinstance(label, str) for label in labels):
            raise TypeError(f"labels must be strings; got {labels!r}")
    ax = _new_axes(ax)
    steps = np.arange(1, T + 1)
    for row, label in zip(norms, labels):
        ax.plot(steps, row, marker="." if T <= 60 else None, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel(NORM_LABEL)
    ax.legend()
    return ax


def compare_gradient_flow(named_grad_norms, ax=None, layer: int = -1, normalize: bool = False):
    """Several architectures' gradient norms against t, one curve each, on a log y axis.

    Parameters
    ----------
    named_grad_norms : dict of str to array_like of shape (T,) or (L, T)
        Legend label to ``info.grad_norms``. The entries may differ in L and T.
    ax : matplotlib.axes.Axes or None, default None
    layer : int, default -1
        Which row of each (L, T) array to draw, Python-style: -1 is the top
        layer, 0 the first. (T,) arrays are drawn whole.
    normalize : bool, default False
        Divide each curve by its value at the last step, so every curve ends
        at 1 and its value at step 1 is the ratio ‖∂loss/∂h_1‖ / ‖∂loss/∂h_T‖.

    Returns
    -------
    matplotlib.axes.Axes
        With one line per entry, in the dict's order.

    Raises
    ------
    TypeError
        If ``named_grad_norms`` is not a dict of str to arrays, ``layer`` not
        an int, or ``ax`` not an Axes.
    ValueError
        If it is empty, an array has a bad shape or value, ``layer`` is out of
        range for an entry, or ``normalize`` meets a curve that is 0 at step T.
    """
    if not isinstance(named_grad_norms, Mapping):
        raise TypeError(
            "named_grad_norms must be a dict of label to grad_norms array, e.g. "
            f"{{'vanilla': info.grad_norms}}; got {type(named_grad_norms).__name__}"
        )
    if not named_grad_norms:
        raise ValueError("named_grad_norms must hold at least one entry; got an empty dict")
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise TypeError(f"layer must be an integer row index such as -1 (top layer); got {layer!r}")
    normalize = _check_bool(normalize, "normalize")
    curves = {}
    for label, value in named_grad_norms.items():
        if not isinstance(label, str):
            raise TypeError(f"named_grad_norms keys must be strings (legend labels); got {label!r}")
        norms = _as_norms(value, f"named_grad_norms[{label!r}]")
        if norms.ndim == 2:
            L = norms.shape[0]
            if not -L <= layer < L:
                raise ValueError(f"layer must be in [-{L}, {L}) for named_grad_norms[{label!r}] with L={L} layers; "
                                 f"got {layer}")
            norms = norms[layer]
        if normalize:
            if norms[-1] == 0:
                raise ValueError(f"normalize=True divides by the norm at the last step, which is 0 for "
                                 f"named_grad_norms[{label!r}]")
            norms = norms / norms[-1]
        curves[label] = norms
    ax = _new_axes(ax)
    for label, norms in curves.items():
        ax.plot(np.arange(1, norms.size + 1), norms, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel(NORM_LABEL + (" / value at step T" if normalize else ""))
    ax.legend()
    return ax


# --------------------------------------------------------------------------- training curves

def plot_history(history, keys=("loss",), ax=None, log: bool = False):
    """Training curves: each of ``keys`` against the step.

    Parameters
    ----------
    history : dict of str to array_like of shape (N,), or a training History
        E.g. ``{"step": ..., "loss": ..., "grad_norm": ..., "lr": ...}``, or the
        ``History`` that :func:`numrnn.train` returns (anything with a
        ``to_arrays()`` method giving such a dict). Keys starting with
        ``"val_"`` may instead have one entry per ``history["eval_step"]``
        (E,), the steps at which a validation set was evaluated. NaN entries
        mean "not measured at this step" and are left out of that curve.
    keys : str or sequence of str, default ("loss",)
        Which entries to draw, one line each.
    ax : matplotlib.axes.Axes or None, default None
    log : bool, default False
        Logarithmic y axis.

    Returns
    -------
    matplotlib.axes.Axes
        With one line per key. x is ``history["step"]`` when present, else
        ``0 .. N-1``; for a ``"val_"`` key with one entry per evaluation it is
        ``history["eval_step"]``.

    Raises
    ------
    TypeError
        If ``history`` is neither a dict nor has ``to_arrays()``, or ``keys`` are not strings.
    ValueError
        If a key is missing, an entry is not 1-D, or its length matches no step column.
    """
    if not isinstance(history, Mapping) and callable(getattr(history, "to_arrays", None)):
        history = history.to_arrays()
    if not isinstance(history, Mapping):
        raise TypeError(f"history must be a dict of str to 1-D arrays (or have to_arrays()); "
                        f"got {type(history).__name__}")
    if isinstance(keys, str):
        keys = (keys,)
    if not hasattr(keys, "__iter__"):
        raise TypeError(f"keys must be a string or a sequence of strings; got {keys!r}")
    keys = list(keys)
    if not keys or not all(isinstance(key, str) for key in keys):
        raise TypeError(f"keys must be a non-empty sequence of strings; got {keys!r}")
    log = _check_bool(log, "log")
    step_keys = [key for key in ("step", "eval_step") if key in history]
    columns = {}
    for key in step_keys + keys:
        if key not in history:
            raise ValueError(f"history has no key {key!r}; it has {sorted(history)}")
        column = np.asarray(history[key])
        if column.ndim != 1 or not (column.size == 0 or np.issubdtype(column.dtype, np.number)):
            raise ValueError(f"history[{key!r}] must be a 1-D array of numbers; got shape {column.shape}, "
                             f"dtype {column.dtype}")
        columns[key] = column.astype(np.float64)
    x_of = {key: _steps_of(key, columns) for key in keys}
    ax = _new_axes(ax)
    for key in keys:
        kept = np.isfinite(columns[key])
        ax.plot(x_of[key][kept], columns[key][kept], label=key)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(keys[0] if len(keys) == 1 else "value")
    if len(keys) > 1:
        ax.legend()
    return ax


def _steps_of(key: str, columns: dict) -> np.ndarray:
    """The x values of ``columns[key]``: "step", or "eval_step" for a validation key, or 0..N-1."""
    values = columns[key]
    candidates = (["eval_step"] if key.startswith("val_") else []) + ["step"]
    candidates = [name for name in candidates if name in columns and name != key]
    for name in candidates:
        if len(columns[name]) == len(values):
            return columns[name]
    if not candidates:
        return np.arange(len(values), dtype=np.float64)
    counts = " or ".join(f"one entry per {name} ({len(columns[name])})" for name in candidates)
    raise ValueError(f"history[{key!r}] must have {counts}; got {len(values)}")
