"""Pictures of gradient flow, training and architectures: the one package that imports matplotlib.

Its modules follow what they draw: :mod:`numrnn.plotting.flow` (heat maps,
norm against distance, spectra, depth sweeps), :mod:`numrnn.plotting.training`
(training curves), :mod:`numrnn.plotting.architecture` (the unrolled graph
of any model), :mod:`numrnn.plotting.explorer` (``numrnn.explore()``, the
interactive explorer; the only module that imports ipywidgets); ``_common``
holds what they share (the lazy backend, input checks, underflow marks,
colours, saving). Every public name is re-exported
here, so ``from numrnn.plotting import plot_gradient_norms`` is the way to
import it.

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
:func:`plot_gradient_norm_maps`     one gradient-norm heat map per architecture, one scale
:func:`plot_architecture`           the unrolled computation graph of a model (the diagram)
:func:`architecture_graph`          that graph's nodes and edges, without matplotlib
:func:`explore`                     the interactive explorer for Jupyter (ipywidgets)
==================================  ==============================================

Every architecture has one colour in every figure (:data:`ARCHITECTURE_COLORS`,
Okabe & Ito's colour-blind-safe palette; :func:`color_for`). A gradient norm
that is exactly 0 or below the smallest normal float is never dropped: the
heat map hatches its cell and the curves mark it on the bottom edge, each with
a legend entry.

Shape legend: L layers, T steps, N logged points of a training history.
"""

from __future__ import annotations

from ._common import ARCHITECTURE_COLORS, color_for, save_figure
from ._common import _pyplot as _pyplot  # numrnn.compare closes its figures with it
from .architecture import architecture_graph, plot_architecture
from .explorer import explore
from .flow import (
    compare_gradient_flow,
    plot_depth_sweep,
    plot_gradient_norm_curves,
    plot_gradient_norm_maps,
    plot_gradient_norms,
    plot_jacobian_spectra,
    plot_norm_vs_distance,
)
from .training import plot_history, plot_training_curves

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
    "architecture_graph",
    "plot_architecture",
    "explore",
]
