"""Matched parameter budgets: solve each architecture's hidden size H for a parameter count.

Comparing a vanilla RNN with a deep transition of the same width H compares
a model with ~H² transition weights against one with ~(q + 1)H²: the deeper
one wins or loses by its size, not by its shape. A fair comparison holds the
parameter count fixed instead, and lets H differ. The count of every preset
grows strictly with H, so a bisection finds the H whose count is nearest to
the budget; :func:`solve_width` refuses a budget that no integer H meets within
the tolerance (a budget too small for the architecture, or one whose nearest
counts straddle it too widely).

Counts come from :func:`numrnn.diagnostics.parameter_counts` of the preset's
configuration at that width (no weights are drawn, so a bisection up to
H = 4096 costs nothing), never from a formula written again here.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from .._checks import check_int
from ..diagnostics import parameter_counts
from ..presets import ARCHITECTURES, build

__all__ = ["Width", "preset_config", "preset_depth", "count_parameters", "solve_width"]

MAX_WIDTH = 4096
"""Largest hidden size the solver tries."""


class Width(NamedTuple):
    """The solved width of one architecture.

    Attributes
    ----------
    hidden : int
        H, the hidden (and MLP) width of every layer.
    parameters : dict of str to int
        :func:`numrnn.diagnostics.parameter_counts` at that width.
    relative_error : float
        ``(parameters["total"] - budget) / budget``.
    """

    hidden: int
    parameters: dict
    relative_error: float


@functools.lru_cache(maxsize=None)
def preset_config(arch: str):
    """The preset's :class:`numrnn.config.ModelConfig` at D = H = O = 1 (what it is, not its size).

    Parameters
    ----------
    arch : str
        A key of :data:`numrnn.presets.ARCHITECTURES`.

    Returns
    -------
    ModelConfig
    """
    return build(arch, 1, 1, 1, seed=0).config


def preset_depth(arch: str) -> int:
    """The transition depth q of a preset (0 for vanilla and hierarchical).

    Parameters
    ----------
    arch : str
        A key of :data:`numrnn.presets.ARCHITECTURES`.

    Returns
    -------
    int
    """
    return preset_config(arch).layers[0].transition_depth


def count_parameters(
    arch: str, input_size: int, output_size: int, hidden: int, transition_depth: int | None = None
) -> dict:
    """Parameter counts by component of a preset at width ``hidden``.

    Parameters
    ----------
    arch : str
        A key of :data:`numrnn.presets.ARCHITECTURES`.
    input_size, output_size : int
        D and O of the task.
    hidden : int
        H.
    transition_depth : int or None, default None
        q; None keeps the preset's.

    Returns
    -------
    dict of str to int
        ``input``, ``transition``, ``output``, ``total``.
    """
    template = _template(arch, transition_depth)  # the preset's shape at H = 1, without weights
    layers = [
        replace(layer, input_size=input_size if l == 0 else hidden, hidden_size=hidden)
        for l, layer in enumerate(template.layers)
    ]
    config = replace(template.with_layers(layers), output_size=output_size)
    return parameter_counts(config)


@functools.lru_cache(maxsize=None)
def _template(arch: str, transition_depth: int | None):
    """The preset's ModelConfig at D = H = O = 1 (building it is cheap at that size)."""
    kwargs = {} if transition_depth is None else {"transition_depth": transition_depth}
    config = build(arch, 1, 1, 1, seed=0, **kwargs).config
    if (
        any(layer.mlp_width is not None for layer in config.layers)
        or config.output_width is not None
    ):
        raise ValueError(f"{arch}: a preset with its own MLP width cannot be scaled by H alone")
    return config


def solve_width(
    arch: str,
    input_size: int,
    output_size: int,
    budget: int,
    *,
    tolerance: float = 0.05,
    transition_depth: int | None = None,
) -> Width:
    """The hidden size H whose parameter count is nearest to ``budget``.

    Parameters
    ----------
    arch : str
        A key of :data:`numrnn.presets.ARCHITECTURES`.
    input_size, output_size : int
        D and O of the task.
    budget : int
        The target number of parameters.
    tolerance : float, default 0.05
        Largest allowed ``|count - budget| / budget``.
    transition_depth : int or None, default None
        q; None keeps the preset's.

    Returns
    -------
    Width

    Raises
    ------
    ValueError
        If ``arch`` is unknown, or no H gives a count within ``tolerance`` of
        ``budget`` (the message gives the nearest counts and a budget that works).
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {list(ARCHITECTURES)}; got {arch!r}")
    budget = check_int(budget, "budget", minimum=1)
    if not (isinstance(tolerance, float) and 0 < tolerance < 1):
        raise ValueError(f"tolerance must be a float in (0, 1); got {tolerance!r}")

    def total(hidden: int) -> int:
        return count_parameters(arch, input_size, output_size, hidden, transition_depth)["total"]

    low, high = 1, MAX_WIDTH  # invariant: total(low) <= budget or low == 1
    if total(low) >= budget:
        high = low
    while high - low > 1:  # counts grow strictly with H: bisect
        middle = (low + high) // 2
        if total(middle) <= budget:
            low = middle
        else:
            high = middle
    best = min({low, high}, key=lambda hidden: (abs(total(hidden) - budget), hidden))
    counts = count_parameters(arch, input_size, output_size, best, transition_depth)
    error = (counts["total"] - budget) / budget
    if abs(error) > tolerance:
        depth = "" if transition_depth is None else f" at transition depth {transition_depth}"
        smallest = total(1)
        hint = (
            f"the smallest {arch} (H=1) already has {smallest}"
            if smallest > budget * (1 + tolerance)
            else f"H={low} gives {total(low)} and H={low + 1} gives {total(low + 1)}"
        )
        step = max(total(low + 1) - total(low), 1)
        raise ValueError(
            f"budget: no hidden size puts {arch}{depth} (D={input_size}, O={output_size}) within "
            f"{tolerance:.0%} of {budget} parameters ({hint}); raise --budget to about "
            f"{int(np.ceil(max(smallest, step / (2 * tolerance)) * 1.2))} or more"
        )
    return Width(best, counts, float(error))
