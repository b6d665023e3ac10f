"""What every numrnn figure shares: a lazy backend, input checks, underflow marks, colours.

matplotlib is imported inside functions only, so that ``import numrnn.plotting`` stays cheap
and works without matplotlib until something is drawn.

Shape legend: L layers, T steps.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import numpy as np

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


def _log_y(ax) -> None:
    """A log y axis whose ticks read as numbers: ``0.7`` and ``1.015``, not ``7×10⁻¹`` and
    ``1.015×10⁰``.

    Over many decades matplotlib labels the decades (10⁻⁵, 10⁻⁴, ...), which stay as they are.
    Over about one decade or less it also labels ticks between decades, in scientific notation
    that a reader must decode; from 10⁻³ to 10⁴ those read as plain numbers (four significant
    digits). Which ticks get a label is still matplotlib's choice.
    """
    from matplotlib.ticker import LogFormatterSciNotation

    class PlainBetweenDecades(LogFormatterSciNotation):
        """matplotlib's log formatter, with plain numbers between decades near 1."""

        def _non_decade_format(self, sign_string, base, fx, usetex):
            value = float(base) ** fx
            if 1e-3 <= value < 1e4:
                return f"{sign_string}{value:.4g}"
            return super()._non_decade_format(sign_string, base, fx, usetex)

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(PlainBetweenDecades())
    ax.yaxis.set_minor_formatter(PlainBetweenDecades(labelOnlyBase=False))


# --------------------------------------------------------------------------- underflow


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


def _edge_markers(ax, x, edge: float, marker: str, color, label, gid: str, **style):
    """Markers at data x on the bottom (``edge`` 0) or top (1) edge of ``ax``, never clipped.

    For values a plot cannot place (0 on a log axis, -inf, a run that diverged): the marker
    says where the value is without pretending it is a number on the axis.
    """
    x = np.atleast_1d(x)
    ax.plot(
        x,
        np.full(x.size, edge),
        linestyle="none",
        marker=marker,
        color=color,
        transform=ax.get_xaxis_transform(),
        clip_on=False,
        label=label,
        gid=gid,
        **style,
    )


def _draw_baseline(ax, baseline) -> None:
    """The task's trivial baseline, a dashed grey line labelled so (nothing when None)."""
    if baseline is not None:
        ax.axhline(
            float(baseline),
            color=BASELINE_COLOR,
            linestyle="--",
            linewidth=1,
            label="trivial baseline",
            gid="reference",
        )


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
        _edge_markers(ax, x[zero], 0.0, "v", color, label, "zero-marker", markeredgecolor="black")
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


# --------------------------------------------------------------------------- saving


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
    _fit_texts(figure)  # a title or label a caller set after drawing is not clipped either
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


# --------------------------------------------------------------------------- one colour scale

MIN_DECADES = 2.0  # a log colour scale spans at least this many decades, centred on the data

COLORBAR_LABEL = (
    r"$\Vert\partial\,\mathrm{loss}/\partial h_t^{(l)}\Vert$"
    ", Frobenius norm over (B, H)"
)


def _log_norm(arrays):
    """One LogNorm for all ``arrays``: their smallest to largest positive entry, >= 2 decades.

    A scale narrower than :data:`MIN_DECADES` is widened about the geometric middle of the
    data, so a map whose norms vary by 20 % is drawn in one middle colour, not as a fade from
    the darkest to the brightest colour (which would read as a vanishing gradient).
    """
    from matplotlib.colors import LogNorm

    positive = np.concatenate([np.ravel(array)[np.ravel(array) > 0] for array in arrays])
    if positive.size == 0:
        return None
    low, high = float(positive.min()), float(positive.max())
    span = np.log10(high) - np.log10(low)
    if span < MIN_DECADES:
        middle = (np.log10(high) + np.log10(low)) / 2
        low, high = 10.0 ** (middle - MIN_DECADES / 2), 10.0 ** (middle + MIN_DECADES / 2)
    return LogNorm(vmin=low, vmax=high)


# --------------------------------------------------------------------------- distinct lines

LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _line_style(index: int, points: int) -> dict:
    """Dash pattern and marker of the ``index``-th line of an Axes: no two of 8 lines alike.

    Colour says which architecture a line is; the dash pattern and the hollow
    markers (about ten per line, each line's shifted) keep a line visible
    where it lies on another one. ``points`` is the line's number of points.
    """
    every = max(1, points // 10)
    return {
        "linestyle": LINE_STYLES[index % len(LINE_STYLES)],
        "marker": MARKERS[index % len(MARKERS)],
        "markerfacecolor": "none",
        "markevery": (index % every, every),
    }


# --------------------------------------------------------------------------- nothing clipped


def _wrap(text: str, width: int) -> str:
    """``text`` in lines of at most ``width`` characters, never breaking inside ``$...$``."""
    import re

    words = re.findall(r"(?:\$[^$]*\$|[^\s$])+", text)
    lines, line = [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(lines)


def _fit_texts(figure, rounds: int = 3) -> int:
    """Wrap every text of ``figure`` that would reach past its edge; return how many were wrapped.

    Draws the figure (without rendering pixels), measures each visible text
    and breaks the ones that do not fit onto more lines, in proportion to how
    far they overflow; the layout engine then makes room for the new lines.
    Texts without a space (a tick label) are left alone.
    """
    from matplotlib.text import Text

    wrapped = 0
    for _ in range(rounds):
        figure.draw_without_rendering()  # layout and text sizes, no pixels
        renderer = figure.canvas.get_renderer()
        box = figure.bbox
        changed = False
        for text in figure.findobj(Text):
            content = text.get_text()
            if not text.get_visible() or " " not in content.strip():
                continue
            extent = text.get_window_extent(renderer)
            if (
                extent.x0 >= box.x0 - 1
                and extent.x1 <= box.x1 + 1
                and extent.y0 >= box.y0 - 1
                and extent.y1 <= box.y1 + 1
            ):
                continue
            vertical = abs(np.sin(np.deg2rad(text.get_rotation()))) > 0.5
            needed = extent.height if vertical else extent.width
            room = 0.9 * (box.height if vertical else box.width)
            longest = max(len(line) for line in content.split("\n"))
            width = max(8, int(longest * room / max(needed, 1.0)))
            new = _wrap(content.replace("\n", " "), width)
            if new != content:
                text.set_text(new)
                wrapped += 1
                changed = True
        if not changed:
            break
    return wrapped
