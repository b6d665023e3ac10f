"""Pictures of gradient flow: heat maps, curves, norm against distance, spectra, depth sweeps.

Shape legend: L layers, T steps, H hidden size.
"""

from __future__ import annotations

import numpy as np

from ._common import (
    BASELINE_COLOR,
    COLORBAR_LABEL,
    NORM_LABEL,
    SUBNORMAL_LABEL,
    ZERO_LABEL,
    _as_2d,
    _as_norms,
    _check_bool,
    _check_named,
    _draw_baseline,
    _edge_markers,
    _fit_texts,
    _hatch_cells,
    _line_style,
    _log_norm,
    _log_y,
    _mark_underflow,
    _named_rows,
    _new_axes,
    _pyplot,
    _tiny,
    _zero_and_subnormal,
    color_for,
)

__all__ = [
    "plot_gradient_norms",
    "plot_gradient_norm_curves",
    "compare_gradient_flow",
    "plot_norm_vs_distance",
    "plot_jacobian_spectra",
    "plot_gradient_norm_maps",
    "plot_depth_sweep",
]


def plot_gradient_norms(
    grad_norms,
    ax=None,
    log: bool = True,
    title: str | None = None,
    norm=None,
    colorbar: bool = True,
):
    """Heat map of ‖∂loss/∂h_t^(l)‖: layers on the y axis, steps on the x axis.

    With the loss on the last step only, this is the vanishing/exploding
    gradient picture: a colour that fades from right (step T) to left
    (step 1) is a vanishing gradient; one that grows is an exploding one.

    The log colour scale runs from the smallest to the largest positive
    norm, and spans at least two decades (``MIN_DECADES``) centred on
    the data: norms that vary by a few per cent are drawn in one middle
    colour, not as a fade that would read as vanishing. Maps that are
    compared share one scale: pass the same ``norm`` to each (as
    :func:`plot_gradient_norm_maps` does).

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
    norm : matplotlib.colors.Normalize or None, default None
        The colour scale, shared with other maps; None makes one from
        ``grad_norms`` (and ``log``).
    colorbar : bool, default True
        Draw a colour bar beside the map (off when a figure has one for all its maps).

    Returns
    -------
    matplotlib.axes.Axes
        Its one image holds ``grad_norms`` as (L, T) data; the figure has a
        colour bar; zero and subnormal cells are hatched patches.

    Raises
    ------
    TypeError
        If ``grad_norms`` is not an array of numbers, ``norm`` not a
        matplotlib Normalize, or ``ax`` not an Axes.
    ValueError
        If ``grad_norms`` is not 1-D or 2-D, is empty, has NaN, inf or
        negative entries, or (with ``log``) has no positive entry.
    """
    tiny = _tiny(grad_norms)
    norms = _as_2d(_as_norms(grad_norms, "grad_norms"))
    log = _check_bool(log, "log")
    colorbar = _check_bool(colorbar, "colorbar")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string or None; got {type(title).__name__}")
    L, T = norms.shape
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.patches import Patch

    if norm is not None and not isinstance(norm, Normalize):
        raise TypeError(
            f"norm must be a matplotlib Normalize (such as a LogNorm shared by several maps) "
            f"or None; got {type(norm).__name__}"
        )
    if norm is None and log:
        norm = _log_norm([norms])
        if norm is None:
            raise ValueError(
                "grad_norms has no entry > 0, so it has no log colour scale; pass log=False"
            )
    elif norm is None:
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
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label=COLORBAR_LABEL)
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
    _log_y(ax)
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
    for index, (label, (norms, tiny)) in enumerate(curves.items()):
        steps = np.arange(1, norms.size + 1)
        style = _line_style(index, norms.size)
        (line,) = ax.plot(steps, norms, label=label, color=color_for(label), **style)
        line.set_ydata(_mark_underflow(ax, steps, norms, tiny, line.get_color(), marked))
    _log_y(ax)
    ax.set_xlabel("step t")
    ax.set_ylabel(NORM_LABEL + (" / value at step T" if normalize else ""))
    ax.set_title("gradient norm per architecture, loss on the last step")
    ax.legend()
    return ax


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
    for index, (label, (norms, tiny)) in enumerate(curves.items()):
        by_distance = norms[::-1] if order == "step" else norms
        if normalize:
            if by_distance[0] == 0:
                raise ValueError(
                    f"normalize=True divides by the norm at distance 0, which is 0 for "
                    f"named_norms[{label!r}]"
                )
            by_distance = by_distance / by_distance[0]
        distance = np.arange(by_distance.size)
        style = _line_style(index, distance.size)
        (line,) = ax.plot(distance, by_distance, label=label, color=color_for(label), **style)
        line.set_ydata(_mark_underflow(ax, distance, by_distance, tiny, line.get_color(), marked))
    _log_y(ax)
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
    for index, (label, values) in enumerate(spectra.items()):
        k = np.arange(1, values.shape[1] + 1)
        color = color_for(label)
        ax.plot(k, values.mean(axis=0), label=label, color=color, **_line_style(index, k.size))
        low, high = np.percentile(values, [10, 90], axis=0)
        ax.fill_between(k, np.maximum(low, 1e-300), high, color=color, alpha=0.15, linewidth=0)
    ax.axhline(1.0, color=BASELINE_COLOR, linestyle="--", linewidth=1, gid="reference")
    _log_y(ax)
    ax.set_xlabel("index k of the singular value (largest first)")
    ax.set_ylabel(r"$\sigma_k(\partial h_t/\partial h_{t-1})$ (dimensionless)")
    ax.set_title("step-Jacobian singular values: mean over steps and sequences, 10–90 % band")
    ax.legend(fontsize="small")
    return ax


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
        the mean and a band shows ± one standard deviation. NaN entries (a
        run that diverged) are left out of the mean; a depth with no finite
        value is marked with an ``x`` on the top edge ("not finite"). A -inf
        entry (the log of a norm that underflowed to 0) makes the mean -inf:
        it is drawn as a triangle on the bottom edge labelled ``< bottom``
        (``< 10^k`` on a log axis), never as a point at some finite value and
        never dropped; +inf likewise on the top edge.
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
    bounds = []  # (x, color, +1 above / -1 below): drawn once the y limits are known
    for index, (label, array) in enumerate(series.items()):
        color = color_for(label)
        finite = np.isfinite(array)
        below = (array == -np.inf).any(axis=1) & ~(array == np.inf).any(axis=1)
        above = (array == np.inf).any(axis=1) & ~(array == -np.inf).any(axis=1)
        counts = finite.sum(axis=1)
        safe = np.where(finite, array, 0.0)
        mean = np.where(
            (counts > 0) & ~below & ~above, safe.sum(axis=1) / np.maximum(counts, 1), np.nan
        )
        spread = np.sqrt(
            np.where(finite, (safe - mean[:, None]) ** 2, 0.0).sum(axis=1) / np.maximum(counts, 1)
        )
        style = _line_style(index, n)
        (line,) = ax.plot(x, mean, label=label, color=color, **{**style, "markevery": None})
        if array.shape[1] > 1:
            ax.fill_between(x, mean - spread, mean + spread, color=color, alpha=0.2, linewidth=0)
        if log:  # a log axis cannot show a mean of 0: mark it
            line.set_ydata(_mark_underflow(ax, x, mean, 0.0, color, marked))
        bounds += [(x[i], color, -1) for i in np.flatnonzero(below)]
        bounds += [(x[i], color, +1) for i in np.flatnonzero(above)]
        missing = (counts == 0) & ~below & ~above
        if missing.any():
            text = None if marked.get("missing") else "not finite (diverged)"
            marked["missing"] = True
            _edge_markers(ax, x[missing], 1.0, "x", color, text, "missing-marker")
    _draw_baseline(ax, baseline)
    if log:
        _log_y(ax)
    _mark_bounds(ax, bounds, log)
    ax.set_xticks(depths_array)
    ax.set_xlabel("transition depth q (hidden layers of MLPₕ)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{ylabel} vs transition depth")
    ax.legend(fontsize="small")
    return ax


def _mark_bounds(ax, bounds, log: bool) -> None:
    """Draw each ``(x, color, side)`` of ``bounds`` as a triangle on the bottom (side -1,
    a value of -inf) or top (side +1, +inf) edge of ``ax``, labelled with the bound it is beyond.

    The y limits are fixed first, so the label states the number the value lies beyond: on a
    log axis ``< 10^k`` with 10^k at or below the axis' bottom, on a linear one ``< bottom``.
    """
    if not bounds:
        return
    low, high = ax.get_ylim()
    ax.set_ylim(low, high)
    for side, edge, marker, word in ((-1, low, "v", "<"), (+1, high, "^", ">")):
        if log:
            k = int(np.floor(np.log10(edge))) if side < 0 else int(np.ceil(np.log10(edge)))
            text = f"${word}10^{{{k}}}$"
        else:
            text = f"{word} {edge:.3g}"
        first = True
        for x, color, s in bounds:
            if s != side:
                continue
            name = "−∞" if side < 0 else "+∞"
            label = (
                f"{name} ({'underflow' if side < 0 else 'overflow'}): beyond the axis, on its edge"
            )
            _edge_markers(
                ax,
                x,
                0.0 if side < 0 else 1.0,
                marker,
                color,
                label if first else None,
                "below-marker" if side < 0 else "above-marker",
                markersize=9,
                markeredgecolor="black",
            )
            ax.annotate(
                text,
                xy=(x, 0.0 if side < 0 else 1.0),
                xycoords=ax.get_xaxis_transform(),
                xytext=(0, 9 if side < 0 else -9),
                textcoords="offset points",
                horizontalalignment="center",
                verticalalignment="bottom" if side < 0 else "top",
                fontsize="small",
                color=color,
                gid="bound-label",
            )
            first = False


def plot_gradient_norm_maps(named_grad_norms, columns: int = 2, title: str | None = None):
    """One :func:`plot_gradient_norms` heat map per architecture, on ONE shared colour scale.

    Every panel draws with the same LogNorm (from the smallest positive norm
    of all panels to the largest, at least two decades wide) and the
    figure has one colour bar, so a colour means the same norm in every
    panel: a map that is one flat colour really is flat, and two maps that
    look alike really hold alike norms. Zero and subnormal cells are hatched
    in every panel, each kind with its own legend entry.

    Parameters
    ----------
    named_grad_norms : dict of str to array_like of shape (L, T)
        Architecture (panel title) to its gradient-norm map.
    columns : int, default 2
        Panels per row.
    title : str or None, default None
        The figure's title; None says it shows the norms at initialisation
        with the loss on step T only, as ``numrnn compare`` draws them.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per entry, titled with its name (and L, T), and one colour
        bar for all of them.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it.
    """
    _check_named(named_grad_norms, "named_grad_norms", "(L, T) gradient norms", "panel titles")
    if isinstance(columns, bool) or not isinstance(columns, (int, np.integer)) or columns < 1:
        raise ValueError(f"columns must be an integer >= 1; got {columns!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string or None; got {type(title).__name__}")
    maps = {
        label: _as_2d(_as_norms(norms, f"named_grad_norms[{label!r}]"))
        for label, norms in named_grad_norms.items()
    }
    shared = _log_norm(list(maps.values()))
    if shared is None:
        raise ValueError(
            "named_grad_norms has no entry > 0 in any map, so the maps have no log colour scale"
        )
    count = len(maps)
    columns = min(int(columns), count)
    rows = -(-count // columns)
    figure, axes = _pyplot().subplots(
        rows,
        columns,
        figsize=(4.2 * columns + 1.2, 2.4 * rows + 0.6),
        layout="constrained",
        squeeze=False,
    )
    flat = list(axes.ravel())
    for ax, (label, norms) in zip(flat, named_grad_norms.items(), strict=False):  # spare panels
        L, T = maps[label].shape
        plot_gradient_norms(
            norms, ax=ax, title=f"{label} (L={L}, T={T})", norm=shared, colorbar=False
        )
    for ax in flat[count:]:
        ax.set_visible(False)
    figure.colorbar(
        flat[0].images[0], ax=flat[:count], label=COLORBAR_LABEL + ", one scale for every panel"
    )
    figure.suptitle(
        "‖∂loss/∂hₜ‖ per layer and step at initialisation, loss on step T only"
        if title is None
        else title
    )
    _fit_texts(figure)
    return figure
