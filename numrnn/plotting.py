"""Pictures of gradient flow and training: the one module that imports matplotlib.

``import numrnn`` never imports matplotlib; ``import numrnn.plotting`` does
not either until a function is called. Then, if nobody has chosen a backend
yet (no ``MPLBACKEND``, no ``matplotlib.use``, no backend in a matplotlibrc,
pyplot not yet imported), it selects the non-interactive Agg backend, so the
functions work on servers, in CI and in auto-graders. A backend the user chose
(Jupyter's inline backend, ``MPLBACKEND=qtagg``, ...) is left alone.

Every function draws into ``ax`` when one is given, or into a new figure, and
returns the Axes (:func:`plot_training_curves`, three panels, returns the
Figure). Save with ``ax.figure.savefig(path)``; close with
``matplotlib.pyplot.close(ax.figure)``.

==================================  ==============================================
function                            picture
==================================  ==============================================
:func:`plot_gradient_norms`         the (L, T) map of ‖∂loss/∂h_t^(l)‖, a heat map
:func:`plot_gradient_norm_curves`   one curve of ‖∂loss/∂h_t^(l)‖ per layer
:func:`compare_gradient_flow`       one curve per architecture, on one Axes
:func:`plot_history`                training curves (loss, val_loss, ...) per step
:func:`plot_norm_vs_distance`       ‖∂loss/∂h_t‖ vs distance T − t, one line per architecture
:func:`plot_jacobian_spectra`       singular values of ∂h_t/∂h_{t-1}, one line per architecture
:func:`plot_training_curves`        loss, validation metric, gradient norm: 3 panels
:func:`plot_depth_sweep`            a measurement vs transition depth q, mean ± std
:func:`plot_gradient_norm_maps`     one gradient-norm heat map per architecture
==================================  ==============================================

Every architecture has one colour in every figure (:data:`ARCHITECTURE_COLORS`,
Okabe & Ito's colour-blind-safe palette; :func:`color_for`). A gradient norm
that is exactly 0 or below the smallest normal float is never dropped: the
heat map hatches its cell and the curves mark it on the bottom edge, each with
a legend entry.

Shape legend: L layers, T steps, N logged points of a training history.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import numpy as np

__all__ = [
    "ARCHITECTURE_COLORS",
    "color_for",
    "plot_gradient_norms",
    "plot_gradient_norm_curves",
    "compare_gradient_flow",
    "plot_norm_vs_distance",
    "plot_jacobian_spectra",
    "plot_training_curves",
    "plot_depth_sweep",
    "plot_history",
    "plot_gradient_norm_maps",
    "save_figure",
]

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
    """The backend the user chose (MPLBACKEND, matplotlibrc, matplotlib.use), or None if none
    was."""
    try:
        return matplotlib.get_backend(auto_select=False)  # matplotlib >= 3.10
    except TypeError:
        return matplotlib.rcParams._get_backend_or_none()  # matplotlib 3.5 - 3.9


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
    """``value`` as a float array of gradient norms: finite, >= 0, non-empty, ``ndim`` in
    ``ndim``."""
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
        raise ValueError(
            f"{name} must be finite; it has NaN or inf entries (did the gradient explode?)"
        )
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


def _tiny(norms) -> float:
    """The smallest normal float of the dtype the norms were computed in (float32 or float64)."""
    dtype = np.asarray(norms).dtype
    return float(np.finfo(dtype if np.issubdtype(dtype, np.floating) else np.float64).tiny)


def _zero_and_subnormal(norms, tiny: float):
    """Boolean masks: entries exactly 0, and entries in (0, tiny) (below the smallest normal
    float)."""
    return norms == 0, (norms > 0) & (norms < tiny)


ZERO_LABEL = "= 0: exact zero, or underflowed to 0"
SUBNORMAL_LABEL = "< smallest normal float (underflow, inexact)"


def _hatch_cells(ax, mask: np.ndarray, hatch: str, facecolor: str):
    """Draw one hatched rectangle per run of True cells in each row of an (L, T) mask; return
    their count."""
    from matplotlib.patches import Rectangle

    cells = 0
    for row, line in enumerate(mask, start=1):
        step = 0
        T = line.size
        while step < T:
            if not line[step]:
                step += 1
                continue
            start = step
            while step < T and line[step]:
                step += 1
            ax.add_patch(
                Rectangle(
                    (start + 0.5, row - 0.5),
                    step - start,
                    1.0,
                    facecolor=facecolor,
                    edgecolor="black",
                    hatch=hatch,
                    linewidth=0.0,
                )
            )
            cells += step - start
    return cells


def plot_gradient_norms(grad_norms, ax=None, log: bool = True, title: str | None = None):
    """Heat map of ‖∂loss/∂h_t^(l)‖: layers on the y axis, steps on the x axis.

    With the loss on the last step only, this is the vanishing/exploding
    gradient picture: a colour that fades from right (step T) to left
    (step 1) is a vanishing gradient; one that grows is an exploding one.

    A norm that is exactly 0 has no colour on a log scale; it is drawn as a
    white cell hatched ``///`` and named in a legend ("exact zero, or
    underflowed to 0"). A norm below the smallest normal float of its dtype
    (a subnormal number, which has lost precision) keeps its colour and is
    hatched ``xx``, with its own legend entry. No cell is ever left blank or
    grey without a label.

    Parameters
    ----------
    grad_norms : array_like of shape (L, T) or (T,)
        ``info.grad_norms`` from :meth:`numrnn.DeepRNN.loss_and_grads`; row
        l - 1 is layer l. A (T,) array is drawn as one layer. Its dtype
        (float32 or float64) sets the underflow threshold.
    ax : matplotlib.axes.Axes or None, default None
        Where to draw; None makes a new figure.
    log : bool, default True
        Logarithmic colour scale. Needs at least one entry > 0.
    title : str or None, default None
        None gives a title naming L and T.

    Returns
    -------
    matplotlib.axes.Axes
        Its one image holds ``grad_norms`` as (L, T) data; the figure has a
        colour bar; zero and subnormal cells are hatched patches.

    Raises
    ------
    TypeError
        If ``grad_norms`` is not an array of numbers, or ``ax`` not an Axes.
    ValueError
        If ``grad_norms`` is not 1-D or 2-D, is empty, has NaN, inf or
        negative entries, or (with ``log``) has no positive entry.
    """
    tiny = _tiny(grad_norms)
    norms = _as_2d(_as_norms(grad_norms, "grad_norms"))
    log = _check_bool(log, "log")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string or None; got {type(title).__name__}")
    L, T = norms.shape
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.patches import Patch

    if log:
        positive = norms[norms > 0]
        if positive.size == 0:
            raise ValueError(
                "grad_norms has no entry > 0, so it has no log colour scale; pass log=False"
            )
        low, high = positive.min(), positive.max()
        norm = LogNorm(vmin=low, vmax=high if high > low else low * 10)
    else:
        norm = Normalize(vmin=0.0, vmax=norms.max() if norms.max() > 0 else 1.0)
    ax = _new_axes(ax)
    cmap = colormaps["viridis"].with_extremes(
        bad="white"
    )  # zeros are also covered by hatched patches
    image = ax.imshow(
        norms,
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        cmap=cmap,
        norm=norm,
        extent=(0.5, T + 0.5, 0.5, L + 0.5),
    )  # pixel centres at steps 1..T, layers 1..L
    ax.figure.colorbar(image, ax=ax, label=NORM_LABEL + " (batch, units)")
    zero, subnormal = _zero_and_subnormal(norms, tiny)
    handles = []
    count = _hatch_cells(ax, zero, "///", "white")
    if count:
        handles.append(
            Patch(
                facecolor="white", edgecolor="black", hatch="///", label=f"{ZERO_LABEL} ({count})"
            )
        )
    count = _hatch_cells(ax, subnormal, "xx", "none")
    if count:
        handles.append(
            Patch(
                facecolor="none",
                edgecolor="black",
                hatch="xx",
                label=f"{SUBNORMAL_LABEL} ({count})",
            )
        )
    if handles:
        ax.legend(handles=handles, loc="upper left", fontsize="small", framealpha=0.9)
    ax.set_xlabel("step t")
    ax.set_ylabel("layer l")
    ax.set_yticks(np.arange(1, L + 1))
    ax.set_title(f"gradient norms, L={L} layers, T={T} steps" if title is None else title)
    return ax


def _mark_underflow(ax, x, y, tiny: float, color, marked: dict) -> np.ndarray:
    """On a log y axis: show entries of ``y`` that are 0 or subnormal, return ``y`` with zeros
    as NaN.

    Zeros (which a log axis would silently drop) become downward triangles on
    the bottom edge of the axes; subnormal entries get an ``x`` marker on the
    curve. ``marked`` records which legend entries were made, so each kind
    has one entry however many curves have it.
    """
    zero, subnormal = _zero_and_subnormal(y, tiny)
    if zero.any():
        label = None if marked.get("zero") else ZERO_LABEL + ", drawn on the bottom edge"
        marked["zero"] = True
        ax.plot(
            x[zero],
            np.zeros(int(zero.sum())),
            linestyle="none",
            marker="v",
            color=color,
            markeredgecolor="black",
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            label=label,
            gid="zero-marker",
        )
    if subnormal.any():
        label = None if marked.get("subnormal") else SUBNORMAL_LABEL
        marked["subnormal"] = True
        ax.plot(
            x[subnormal],
            y[subnormal],
            linestyle="none",
            marker="x",
            color=color,
            label=label,
            gid="subnormal-marker",
        )
    return np.where(zero, np.nan, y)


def plot_gradient_norm_curves(grad_norms, ax=None, labels=None):
    """One curve of ‖∂loss/∂h_t^(l)‖ against t per layer, on a log y axis.

    Entries that are exactly 0, which a log axis cannot show, are drawn as
    triangles on the bottom edge with a legend entry; subnormal ones (below
    the smallest normal float of their dtype) get an ``x``.

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
        With L data lines (line l - 1 holding steps ``1..T`` and row l - 1,
        zeros as NaN), plus the markers described above.

    Raises
    ------
    TypeError
        If ``grad_norms`` is not an array of numbers, ``labels`` not strings,
        or ``ax`` not an Axes.
    ValueError
        If ``grad_norms`` has a bad shape or value, or ``labels`` has not L entries.
    """
    tiny = _tiny(grad_norms)
    norms = _as_2d(_as_norms(grad_norms, "grad_norms"))
    L, T = norms.shape
    if labels is None:
        labels = [f"layer {l}" for l in range(1, L + 1)]
    else:
        if isinstance(labels, str) or not hasattr(labels, "__len__"):
            raise TypeError(
                f"labels must be a sequence of {L} strings (one per layer); got {labels!r}"
            )
        labels = list(labels)
        if len(labels) != L:
            raise ValueError(f"labels must have one entry per layer (L={L}); got {len(labels)}")
        if not all(isinstance(label, str) for label in labels):
            raise TypeError(f"labels must be strings; got {labels!r}")
    ax = _new_axes(ax)
    steps = np.arange(1, T + 1)
    marked = {}
    for row, label in zip(norms, labels, strict=True):
        (line,) = ax.plot(steps, row, marker="." if T <= 60 else None, label=label)
        line.set_ydata(_mark_underflow(ax, steps, row, tiny, line.get_color(), marked))
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel(NORM_LABEL)
    ax.set_title(f"gradient norm per layer, L={L}, T={T} steps")
    ax.legend()
    return ax


def compare_gradient_flow(named_grad_norms, ax=None, layer: int = -1, normalize: bool = False):
    """Several architectures' gradient norms against t, one curve each, on a log y axis.

    Curves whose label is an architecture name (or starts with one) take
    that architecture's colour (:func:`color_for`). Zeros and subnormal
    entries are marked as in :func:`plot_gradient_norm_curves`.

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
        With one data line per entry, in the dict's order.

    Raises
    ------
    TypeError
        If ``named_grad_norms`` is not a dict of str to arrays, ``layer`` not
        an int, or ``ax`` not an Axes.
    ValueError
        If it is empty, an array has a bad shape or value, ``layer`` is out of
        range for an entry, or ``normalize`` meets a curve that is 0 at step T.
    """
    curves = _named_rows(named_grad_norms, "named_grad_norms", layer)
    normalize = _check_bool(normalize, "normalize")
    if normalize:
        for label, (norms, tiny) in curves.items():
            if norms[-1] == 0:
                raise ValueError(
                    f"normalize=True divides by the norm at the last step, which is 0 for "
                    f"named_grad_norms[{label!r}]"
                )
            curves[label] = (norms / norms[-1], tiny)
    ax = _new_axes(ax)
    marked = {}
    for label, (norms, tiny) in curves.items():
        steps = np.arange(1, norms.size + 1)
        (line,) = ax.plot(steps, norms, label=label, color=color_for(label))
        line.set_ydata(_mark_underflow(ax, steps, norms, tiny, line.get_color(), marked))
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel(NORM_LABEL + (" / value at step T" if normalize else ""))
    ax.set_title("gradient norm per architecture, loss on the last step")
    ax.legend()
    return ax


def _check_named(named, name: str, what: str, role: str = "legend labels") -> Mapping:
    """Check that ``named`` is a non-empty dict of string labels (``role``) to ``what``."""
    if not isinstance(named, Mapping):
        raise TypeError(f"{name} must be a dict of label to {what}; got {type(named).__name__}")
    if not named:
        raise ValueError(f"{name} must hold at least one entry; got an empty dict")
    for label in named:
        if not isinstance(label, str):
            raise TypeError(f"{name} keys must be strings ({role}); got {label!r}")
    return named


def _named_rows(named, name: str, layer) -> dict:
    """``{label: ((T,) float64 norms, tiny)}`` from a dict of (T,) or (L, T) arrays, row
    ``layer``."""
    _check_named(named, name, "grad_norms array, e.g. {'vanilla': info.grad_norms}")
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise TypeError(f"layer must be an integer row index such as -1 (top layer); got {layer!r}")
    curves = {}
    for label, value in named.items():
        tiny = (
            _tiny(value)
            if hasattr(value, "__len__") and not isinstance(value, (str, bytes))
            else 0.0
        )
        norms = _as_norms(value, f"{name}[{label!r}]")
        if norms.ndim == 2:
            L = norms.shape[0]
            if not -L <= layer < L:
                raise ValueError(
                    f"layer must be in [-{L}, {L}) for {name}[{label!r}] with L={L} layers; "
                    f"got {layer}"
                )
            norms = norms[layer]
        curves[label] = (norms, tiny)
    return curves


# --------------------------------------------------------------------------- training curves


def plot_history(history, keys=("loss",), ax=None, log: bool = False):
    """Training curves: each of ``keys`` against the step.

    Parameters
    ----------
    history : dict of str to array_like of shape (N,), or a training History
        E.g. ``{"step": ..., "loss": ..., "grad_norm": ..., "lr": ...}``, the
        ``History`` that :func:`numrnn.train` returns (anything with a
        ``to_arrays()`` method giving such a dict), or the dict read from the
        ``history.json`` that ``numrnn train`` writes (``{"steps": {...},
        "evaluations": {...}, ...}``; null entries count as NaN). Keys starting with
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
        raise TypeError(
            f"history must be a dict of str to 1-D arrays (or have to_arrays()); "
            f"got {type(history).__name__}"
        )
    if isinstance(history.get("steps"), Mapping) and isinstance(
        history.get("evaluations"), Mapping
    ):
        history = _flat_history_json(history)
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
            raise ValueError(
                f"history[{key!r}] must be a 1-D array of numbers; got shape {column.shape}, "
                f"dtype {column.dtype}"
            )
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


def _flat_history_json(data: Mapping) -> dict:
    """The columns of a ``history.json`` layout: steps' columns, then ``eval_step`` and
    ``val_*``."""
    evaluations = data["evaluations"]
    flat = {**data["steps"], "eval_step": evaluations.get("step", [])}
    flat.update({key: value for key, value in evaluations.items() if key != "step"})
    return {key: [np.nan if v is None else v for v in values] for key, values in flat.items()}


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


# ---------------------------------------------------------------------- one colour per architecture

# Okabe & Ito's colour-blind-safe palette (Color Universal Design, 2008), one colour per preset of
# numrnn.presets.ARCHITECTURES, the same in every figure. Yellow (#F0E442) is left out: it is
# hard to see on white.
ARCHITECTURE_COLORS = {
    "vanilla": "#000000",  # black
    "hierarchical": "#E69F00",  # orange
    "deep-transition": "#D55E00",  # vermillion
    "deep-transition-skip": "#0072B2",  # blue
    "deep-transition-shortcut": "#009E73",  # bluish green
    "hierarchical-deep-transition-skip": "#CC79A7",  # reddish purple
}
_SPARE_COLOR = "#56B4E9"  # sky blue: any other label
BASELINE_COLOR = "0.45"  # grey, dashed: trivial baselines


def color_for(name: str) -> str:
    """The colour of an architecture in every numrnn figure.

    Parameters
    ----------
    name : str
        A key of :data:`ARCHITECTURE_COLORS` (``numrnn.presets.ARCHITECTURES``),
        or a label that starts with one, such as ``"deep-transition-skip q=4"``
        (the longest matching key wins).

    Returns
    -------
    str
        A hex colour; sky blue (``#56B4E9``) for a label that names no architecture.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string (an architecture name); got {name!r}")
    matches = [key for key in ARCHITECTURE_COLORS if name == key or name.startswith(key + " ")]
    return ARCHITECTURE_COLORS[max(matches, key=len)] if matches else _SPARE_COLOR


# --------------------------------------------------------------------------- comparison figures


def plot_norm_vs_distance(
    named_norms, ax=None, order: str = "step", layer: int = -1, normalize: bool = False
):
    """Gradient norm against the distance T − t it travelled, one line per architecture, log y.

    Parameters
    ----------
    named_norms : dict of str to array_like of shape (T,) or (L, T)
        Architecture (legend label) to norms. With ``order="step"`` (default)
        entry t - 1 is step t, as in ``info.grad_norms`` or
        ``FlowSummary.grad_norms`` (row ``layer`` of an (L, T) array is
        drawn); with ``order="distance"`` entry d is distance d, as
        :func:`numrnn.diagnostics.span_norms` returns.
    ax : matplotlib.axes.Axes or None, default None
    order : {"step", "distance"}, default "step"
    layer : int, default -1
        Row of (L, T) arrays, Python-style (-1: top layer).
    normalize : bool, default False
        Divide each curve by its value at distance 0 (step T).

    Returns
    -------
    matplotlib.axes.Axes
        One data line per entry (x = 0..T-1, distance in steps), coloured by
        :func:`color_for`; zeros are marked on the bottom edge.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it.
    """
    if order not in ("step", "distance"):
        raise ValueError(f"order must be 'step' or 'distance'; got {order!r}")
    normalize = _check_bool(normalize, "normalize")
    curves = _named_rows(named_norms, "named_norms", layer)
    ax = _new_axes(ax)
    marked = {}
    for label, (norms, tiny) in curves.items():
        by_distance = norms[::-1] if order == "step" else norms
        if normalize:
            if by_distance[0] == 0:
                raise ValueError(
                    f"normalize=True divides by the norm at distance 0, which is 0 for "
                    f"named_norms[{label!r}]"
                )
            by_distance = by_distance / by_distance[0]
        distance = np.arange(by_distance.size)
        (line,) = ax.plot(distance, by_distance, label=label, color=color_for(label))
        line.set_ydata(_mark_underflow(ax, distance, by_distance, tiny, line.get_color(), marked))
    ax.set_yscale("log")
    ax.set_xlabel("distance T − t (steps)")
    ax.set_ylabel(
        r"$\Vert\partial\,\mathrm{loss}/\partial h_t\Vert$"
        + (" / value at t = T" if normalize else "")
    )
    ax.set_title("gradient norm vs distance travelled back in time")
    ax.legend(fontsize="small")
    return ax


def _spectrum_array(value, label: str, layer: int) -> np.ndarray:
    """``value`` (an array (..., H), or a list of them per layer) as (N, H) float64 singular
    values."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"named_spectra[{label!r}] must not be an empty list")
        if not -len(value) <= layer < len(value):
            raise ValueError(
                f"layer must be in [-{len(value)}, {len(value)}) for named_spectra[{label!r}] "
                f"with {len(value)} layers; got {layer}"
            )
        value = value[layer]
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"named_spectra[{label!r}] must be an array (..., H) of singular values or a list of "
            f"them per layer, as jacobian_spectra returns; got {type(value).__name__}"
        )
    if value.ndim < 1 or value.size == 0 or not np.issubdtype(value.dtype, np.number):
        raise ValueError(
            f"named_spectra[{label!r}] must be a non-empty numeric array (..., H); "
            f"got shape {value.shape}, dtype {value.dtype}"
        )
    array = value.reshape(-1, value.shape[-1]).astype(np.float64)
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"named_spectra[{label!r}] must hold finite singular values >= 0")
    return -np.sort(-array, axis=1)  # largest first


def plot_jacobian_spectra(named_spectra, ax=None, layer: int = -1):
    """Singular values of the step Jacobians ``∂h_t/∂h_{t-1}``, one line per architecture.

    Each line is the mean over steps and sequences of the k-th largest
    singular value against k, with a band from its 10th to its 90th
    percentile; a dashed line at 1 divides directions in which a gradient
    shrinks at each step (below) from those in which it grows (above).

    Parameters
    ----------
    named_spectra : dict of str to ndarray of shape (..., H), or to a list of them
        Architecture to :func:`numrnn.diagnostics.jacobian_spectra` output (a
        list per layer, of which ``layer`` is drawn) or one array (T, B, H).
    ax : matplotlib.axes.Axes or None, default None
    layer : int, default -1
        Which layer of a list, Python-style (-1: top layer).

    Returns
    -------
    matplotlib.axes.Axes
        One data line per entry, x = 1..H, coloured by :func:`color_for`.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it.
    """
    _check_named(named_spectra, "named_spectra", "singular values (..., H)")
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise TypeError(
            f"layer must be an integer layer index such as -1 (top layer); got {layer!r}"
        )
    spectra = {}
    for label, value in named_spectra.items():
        spectra[label] = _spectrum_array(value, label, layer)
    ax = _new_axes(ax)
    for label, values in spectra.items():
        k = np.arange(1, values.shape[1] + 1)
        color = color_for(label)
        ax.plot(k, values.mean(axis=0), marker=".", label=label, color=color)
        low, high = np.percentile(values, [10, 90], axis=0)
        ax.fill_between(k, np.maximum(low, 1e-300), high, color=color, alpha=0.15, linewidth=0)
    ax.axhline(1.0, color=BASELINE_COLOR, linestyle="--", linewidth=1, gid="reference")
    ax.set_yscale("log")
    ax.set_xlabel("index k of the singular value (largest first)")
    ax.set_ylabel(r"$\sigma_k(\partial h_t/\partial h_{t-1})$ (dimensionless)")
    ax.set_title("step-Jacobian singular values: mean over steps and sequences, 10–90 % band")
    ax.legend(fontsize="small")
    return ax


def _history_columns(history, label: str) -> dict:
    """``step, loss, grad_norm, eval_step, val_metric`` arrays from a History, its dict, or
    history.json."""
    if not isinstance(history, Mapping) and callable(getattr(history, "to_arrays", None)):
        history = history.to_arrays()
    if not isinstance(history, Mapping):
        raise TypeError(
            f"named_histories[{label!r}] must be a History, a dict of arrays or the dict of a "
            f"history.json; got {type(history).__name__}"
        )
    if "steps" in history and "evaluations" in history:  # the layout of history.json
        steps, evaluations = history["steps"], history["evaluations"]
        history = {
            **steps,
            "eval_step": evaluations.get("step", []),
            **{key: value for key, value in evaluations.items() if key != "step"},
        }
    columns = {}
    for key in ("step", "loss", "grad_norm", "eval_step", "val_metric"):
        if key not in history:
            raise ValueError(f"named_histories[{label!r}] has no {key!r}; it has {sorted(history)}")
        column = np.asarray([np.nan if v is None else v for v in history[key]], dtype=np.float64)
        if column.ndim != 1:
            raise ValueError(
                f"named_histories[{label!r}][{key!r}] must be 1-D; got shape {column.shape}"
            )
        columns[key] = column
    for x, ys in (("step", ("loss", "grad_norm")), ("eval_step", ("val_metric",))):
        for y in ys:
            if columns[y].size != columns[x].size:
                raise ValueError(
                    f"named_histories[{label!r}][{y!r}] must have one entry per {x} "
                    f"({columns[x].size}); got {columns[y].size}"
                )
    return columns


def plot_training_curves(
    named_histories,
    axes=None,
    metric_name: str = "validation metric",
    baseline: float | None = None,
):
    """Training loss, validation metric and pre-clip gradient norm of several runs, side by side.

    Parameters
    ----------
    named_histories : dict of str to History, dict, or list of them
        Architecture (legend label) to the ``History`` of a run
        (:class:`numrnn.training.trainer.History`), its ``to_arrays()`` dict,
        or the dict read from a ``history.json``. A list holds several runs of
        the same architecture (seeds): each is drawn as a thin line of that
        architecture's colour, with one legend entry. NaN or missing values
        are left out of a curve.
    axes : sequence of 3 matplotlib Axes, or None, default None
        Where to draw the three panels; None makes a new figure.
    metric_name : str, default "validation metric"
        The y label of the middle panel, e.g. ``"validation MSE"``.
    baseline : float or None, default None
        The task's trivial baseline, drawn as a dashed grey line in the middle panel.

    Returns
    -------
    matplotlib.figure.Figure
        With three panels: training loss, validation metric (log y axes) and
        gradient norm before clipping (log y), one line per run.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it.
    """
    _check_named(named_histories, "named_histories", "History (or a list of them)")
    if not isinstance(metric_name, str):
        raise TypeError(f"metric_name must be a string; got {metric_name!r}")
    if baseline is not None and (isinstance(baseline, bool) or not np.isfinite(baseline)):
        raise ValueError(f"baseline must be a finite number or None; got {baseline!r}")
    runs = {}
    for label, value in named_histories.items():
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if not values:
            raise ValueError(
                f"named_histories[{label!r}] must hold at least one run; got an empty list"
            )
        runs[label] = [_history_columns(history, label) for history in values]
    if axes is None:
        figure, axes = _pyplot().subplots(1, 3, figsize=(13, 3.8), layout="constrained")
    else:
        axes = list(axes) if hasattr(axes, "__len__") else axes
        from matplotlib.axes import Axes

        if (
            not isinstance(axes, list)
            or len(axes) != 3
            or not all(isinstance(a, Axes) for a in axes)
        ):
            raise TypeError(
                f"axes must be a sequence of 3 matplotlib Axes or None; got {axes!r:.80}"
            )
        figure = axes[0].figure
    panels = (
        ("step", "loss", "training loss (batch mean)", "training loss"),
        ("eval_step", "val_metric", metric_name, f"{metric_name} on held-out data"),
        (
            "step",
            "grad_norm",
            "global gradient norm before clipping",
            "gradient norm before clipping",
        ),
    )
    for ax, (x, y, ylabel, title) in zip(axes, panels, strict=True):
        for label, columns_list in runs.items():
            for seed, columns in enumerate(columns_list):
                kept = np.isfinite(columns[y])
                ax.plot(
                    columns[x][kept],
                    columns[y][kept],
                    color=color_for(label),
                    linewidth=1.5 if len(columns_list) == 1 else 0.9,
                    alpha=1.0 if len(columns_list) == 1 else 0.7,
                    label=label if seed == 0 else None,
                )
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
    if baseline is not None:
        axes[1].axhline(
            float(baseline),
            color=BASELINE_COLOR,
            linestyle="--",
            linewidth=1,
            label="trivial baseline",
            gid="reference",
        )
    axes[1].legend(fontsize="small")
    return figure


def plot_depth_sweep(
    depths, named_values, ylabel: str, ax=None, baseline: float | None = None, log: bool = False
):
    """A measurement against transition depth q, one line per architecture, mean ± std over seeds.

    Parameters
    ----------
    depths : array_like of int, shape (n_depths,)
        The transition depths q swept, e.g. ``[1, 2, 4, 8]``.
    named_values : dict of str to array_like of shape (n_depths,) or (n_depths, n_seeds)
        Architecture to its values at each depth; with seeds, the line is
        the mean and a band shows ± one standard deviation. NaN or inf
        entries (a run that diverged) are left out of the mean; a depth with
        no finite value is marked with an ``x`` on the top edge ("not finite").
    ylabel : str
        What is measured, with its unit, e.g. ``"gradient ratio ‖dh_1‖/‖dh_T‖"``.
    ax : matplotlib.axes.Axes or None, default None
    baseline : float or None, default None
        Drawn as a dashed grey line labelled "trivial baseline".
    log : bool, default False
        Logarithmic y axis (zeros are then marked on the bottom edge).

    Returns
    -------
    matplotlib.axes.Axes
        One data line per entry, coloured by :func:`color_for`.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it.
    """
    depths_array = np.asarray(depths)
    if (
        depths_array.ndim != 1
        or depths_array.size == 0
        or not np.issubdtype(depths_array.dtype, np.integer)
    ):
        raise ValueError(f"depths must be a non-empty 1-D sequence of integers; got {depths!r}")
    if not isinstance(ylabel, str) or not ylabel:
        raise TypeError(f"ylabel must be a non-empty string naming the measurement; got {ylabel!r}")
    _check_named(named_values, "named_values", "values per depth")
    if baseline is not None and (isinstance(baseline, bool) or not np.isfinite(baseline)):
        raise ValueError(f"baseline must be a finite number or None; got {baseline!r}")
    log = _check_bool(log, "log")
    n = depths_array.size
    series = {}
    for label, value in named_values.items():
        array = np.asarray(value, dtype=np.float64)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2 or array.shape[0] != n:
            raise ValueError(
                f"named_values[{label!r}] must have shape (n_depths,) or (n_depths, n_seeds) "
                f"with n_depths={n}; got {np.shape(value)}"
            )
        series[label] = array
    ax = _new_axes(ax)
    marked = {}
    x = depths_array.astype(np.float64)
    for label, array in series.items():
        color = color_for(label)
        finite = np.isfinite(array)
        counts = finite.sum(axis=1)
        safe = np.where(finite, array, 0.0)
        mean = np.where(counts > 0, safe.sum(axis=1) / np.maximum(counts, 1), np.nan)
        spread = np.sqrt(
            np.where(finite, (safe - mean[:, None]) ** 2, 0.0).sum(axis=1) / np.maximum(counts, 1)
        )
        (line,) = ax.plot(x, mean, marker="o", label=label, color=color)
        if array.shape[1] > 1:
            ax.fill_between(x, mean - spread, mean + spread, color=color, alpha=0.2, linewidth=0)
        if log:  # a log axis cannot show a mean of 0: mark it
            line.set_ydata(_mark_underflow(ax, x, mean, 0.0, color, marked))
        missing = counts == 0
        if missing.any():
            text = None if marked.get("missing") else "not finite (diverged)"
            marked["missing"] = True
            ax.plot(
                x[missing],
                np.ones(int(missing.sum())),
                linestyle="none",
                marker="x",
                color=color,
                transform=ax.get_xaxis_transform(),
                clip_on=False,
                label=text,
                gid="missing-marker",
            )
    if baseline is not None:
        ax.axhline(
            float(baseline),
            color=BASELINE_COLOR,
            linestyle="--",
            linewidth=1,
            label="trivial baseline",
            gid="reference",
        )
    if log:
        ax.set_yscale("log")
    ax.set_xticks(depths_array)
    ax.set_xlabel("transition depth q (hidden layers of MLP_h)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{ylabel} vs transition depth")
    ax.legend(fontsize="small")
    return ax


# --------------------------------------------------------------------------- the comparison report


def plot_gradient_norm_maps(named_grad_norms, columns: int = 3):
    """One :func:`plot_gradient_norms` heat map per architecture, side by side.

    Parameters
    ----------
    named_grad_norms : dict of str to array_like of shape (L, T)
        Architecture (panel title) to its gradient-norm map.
    columns : int, default 3
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per entry, titled with its name (and L, T), each with a
        colour bar of its own: the maps are compared by their gradient from
        right to left, not by their absolute colours.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it.
    """
    _check_named(named_grad_norms, "named_grad_norms", "(L, T) gradient norms", "panel titles")
    if isinstance(columns, bool) or not isinstance(columns, (int, np.integer)) or columns < 1:
        raise ValueError(f"columns must be an integer >= 1; got {columns!r}")
    count = len(named_grad_norms)
    columns = min(int(columns), count)
    rows = -(-count // columns)
    figure, axes = _pyplot().subplots(
        rows, columns, figsize=(4.6 * columns, 2.6 * rows), layout="constrained", squeeze=False
    )
    flat = list(axes.ravel())
    for ax, (label, norms) in zip(flat, named_grad_norms.items(), strict=False):  # spare panels
        L, T = _as_2d(_as_norms(norms, f"named_grad_norms[{label!r}]")).shape
        plot_gradient_norms(norms, ax=ax, title=f"{label} (L={L}, T={T})")
    for ax in flat[count:]:
        ax.set_visible(False)
    figure.suptitle("‖∂loss/∂h_t‖ per layer and step at initialisation, loss on step T only")
    return figure


def save_figure(figure, path, close: bool = True) -> None:
    """Write ``figure`` to ``path`` atomically (temporary file, then ``os.replace``).

    Parameters
    ----------
    figure : matplotlib.figure.Figure
    path : str or Path
        Its suffix (``.png``, ``.svg``, ...) is the format.
    close : bool, default True
        Close the figure afterwards (free its memory in pyplot).
    """
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    if not path.suffix:
        raise ValueError(
            f"path must end in a format suffix such as .png or .svg; got {str(path)!r}"
        )
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            tight = None if figure.get_layout_engine() is not None else "tight"  # one draw, not two
            figure.savefig(stream, format=path.suffix[1:], bbox_inches=tight, dpi=110)
        mask = os.umask(0o022)  # mkstemp makes a private (0600) file: give it the usual mode
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if close:
        _pyplot().close(figure)
