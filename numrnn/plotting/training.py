"""Pictures of training: the curves of one history, and several runs side by side.

Shape legend: N logged points of a training history, E evaluations.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._common import (
    _check_bool,
    _check_named,
    _draw_baseline,
    _log_y,
    _new_axes,
    _pyplot,
    color_for,
)

__all__ = ["plot_history", "plot_training_curves"]


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
    history = _history_mapping(
        history, "history must be a dict of str to 1-D arrays (or have to_arrays())"
    )
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
        _log_y(ax)
    ax.set_xlabel("step")
    ax.set_ylabel(keys[0] if len(keys) == 1 else "value")
    if len(keys) > 1:
        ax.legend()
    return ax


def _history_mapping(history, rule: str) -> Mapping:
    """``history`` as a dict of columns: a History's ``to_arrays()``, a ``history.json`` layout
    flattened (:func:`_flat_history_json`), or the dict itself; a TypeError states ``rule``."""
    if not isinstance(history, Mapping) and callable(getattr(history, "to_arrays", None)):
        history = history.to_arrays()
    if not isinstance(history, Mapping):
        raise TypeError(f"{rule}; got {type(history).__name__}")
    if isinstance(history.get("steps"), Mapping) and isinstance(
        history.get("evaluations"), Mapping
    ):
        return _flat_history_json(history)
    return history


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


def _history_columns(history, label: str) -> dict:
    """``step, loss, grad_norm, eval_step, val_metric`` arrays from a History, its dict, or
    history.json."""
    history = _history_mapping(
        history,
        f"named_histories[{label!r}] must be a History, a dict of arrays or the dict of a "
        f"history.json",
    )
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


FEW_POINTS = 25  # a curve with at most this many points also gets a marker on each


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
        gradient norm before clipping (log y), one line per run, with a marker on
        each point of a curve of at most 25 points (a run evaluated once is a dot).
        A new figure's panels share one step axis.

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
        # One step axis for all three: a validation metric evaluated once, at step 60, is then
        # seen at the end of a 60-step run, not alone on an axis from 57 to 63.
        figure, axes = _pyplot().subplots(
            1, 3, figsize=(13, 3.8), layout="constrained", sharex=True
        )
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
                    # a line alone draws nothing for a single point: mark sparse curves' points
                    marker="o" if kept.sum() <= FEW_POINTS else None,
                    markersize=3.5,
                    color=color_for(label),
                    linewidth=1.5 if len(columns_list) == 1 else 0.9,
                    alpha=1.0 if len(columns_list) == 1 else 0.7,
                    label=label if seed == 0 else None,
                )
        _log_y(ax)
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
    _draw_baseline(axes[1], baseline)
    axes[1].legend(fontsize="small")
    return figure
