"""An interactive gradient-flow explorer for the classroom: ``numrnn.explore()`` in Jupyter.

Sliders and menus choose an architecture and its settings; every change rebuilds a small
model at initialisation and redraws four panels: the unrolled diagram
(:func:`~numrnn.plotting.plot_architecture`), the (L, T) gradient-norm heat map, the norm
against the distance T − t (this setting beside the previous one), and the singular values of
the step Jacobians. The model is kept small (H = 16, a batch of 4) so a redraw stays under a
second at teaching sizes.

The heat map's colour scale is shared across redraws: it starts at the first map's range and
only ever widens to cover every map drawn since (``Explorer.reset_scale()`` starts over), so a
colour means the same norm before and after you move a slider.

ipywidgets is imported only here, and only when :func:`explore` is called; without it the call
raises an ImportError that names the extra to install (``pip install "numrnn[notebook]"``).

Shape legend: L layers, T steps, H hidden size.
"""

from __future__ import annotations

import numpy as np

from ._common import _log_norm, _pyplot

__all__ = ["Explorer", "explore"]

EXPLORER_HIDDEN = 16  # H of the explored models: small, so a redraw takes well under a second
EXPLORER_BATCH = 4  # sequences averaged over
INPUT_SIZE = 4
SPECTRUM_STEPS = 50  # the spectrum's steps: an SVD per step, sequence and layer is the slow part
NOTEBOOK_HINT = 'numrnn.explore() needs ipywidgets: pip install "numrnn[notebook]"'


def _takes_depth(name: str) -> bool:
    """Whether preset ``name`` has a transition depth q to choose."""
    return "deep-transition" in name


def _takes_layers(name: str) -> bool:
    """Whether preset ``name`` stacks layers (L to choose)."""
    return name.startswith("hierarchical")


def _takes_residual(name: str) -> bool:
    """Whether preset ``name`` has a residual branch whose initial scale can be chosen."""
    return name.endswith("-skip")


class Explorer:
    """The state of one explorer: its controls, its settings and the figure it last drew.

    Build it with :func:`explore`. Setting a control's ``value`` (from the notebook, or from
    Python: ``explorer.controls["T"].value = 80``) redraws.

    Attributes
    ----------
    controls : dict of str to ipywidgets widget
        ``"architecture"``, ``"transition_depth"``, ``"num_layers"``, ``"T"``,
        ``"residual_scale"``, ``"weight_scale"``, ``"activation"``.
    figure : matplotlib.figure.Figure
        The figure of the last redraw (a new one each time; the old one is closed).
    axes : dict of str to matplotlib.axes.Axes
        Its panels: ``"diagram"``, ``"heat_map"``, ``"norm_vs_distance"``, ``"spectrum"``.
    grad_norms : ndarray of shape (L, T)
        The gradient norms the heat map shows.
    redraws : int
        How many times it has drawn.
    widget : ipywidgets.VBox
        The controls above the output area; a notebook displays it.
    """

    def __init__(self, widgets, settings: dict):
        from ..presets import ARCHITECTURES

        self._widgets = widgets
        self.redraws = 0
        self.figure = None
        self.axes = {}
        self.grad_norms = None
        self._previous = None  # (label, grad_norms) of the setting before the last change
        self._scale = None  # (low, high) of the shared heat-map scale
        slider = {"continuous_update": False, "style": {"description_width": "initial"}}
        self.controls = {
            "architecture": widgets.Dropdown(
                options=list(ARCHITECTURES),
                value=settings["architecture"],
                description="architecture",
            ),
            "transition_depth": widgets.IntSlider(
                value=settings["transition_depth"],
                min=1,
                max=8,
                description="transition depth q",
                **slider,
            ),
            "num_layers": widgets.IntSlider(
                value=settings["num_layers"], min=1, max=4, description="layers L", **slider
            ),
            "T": widgets.IntSlider(
                value=settings["T"], min=5, max=200, description="steps T", **slider
            ),
            "residual_scale": widgets.FloatLogSlider(
                value=settings["residual_scale"],
                base=10,
                min=-3,
                max=0,
                description="residual start scale",
                **slider,
            ),
            "weight_scale": widgets.FloatSlider(
                value=settings["weight_scale"],
                min=0.25,
                max=3.0,
                step=0.05,
                description="recurrent weight scale",
                **slider,
            ),
            "activation": widgets.Dropdown(
                options=["tanh", "sigmoid", "relu", "identity"],
                value=settings["activation"],
                description="activation",
            ),
        }
        self.output = widgets.Output()
        self.widget = widgets.VBox(
            [
                widgets.HBox(list(self.controls.values())[:4]),
                widgets.HBox(list(self.controls.values())[4:]),
                self.output,
            ]
        )
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.redraw()

    # ------------------------------------------------------------------ settings

    @property
    def settings(self) -> dict:
        """The current value of every control."""
        return {name: control.value for name, control in self.controls.items()}

    def model(self):
        """The model of the current settings, at initialisation (seed 0)."""
        from ..params import layer_prefix
        from ..presets import build

        settings = self.settings
        name = settings["architecture"]
        overrides = {"activation": settings["activation"], "seed": 0}
        if _takes_depth(name):
            overrides["transition_depth"] = settings["transition_depth"]
        if _takes_layers(name):
            overrides["num_layers"] = settings["num_layers"]
        if _takes_residual(name):
            overrides["residual_scale"] = settings["residual_scale"]
        model = build(name, INPUT_SIZE, EXPLORER_HIDDEN, 1, **overrides)
        for l, layer in enumerate(model.config.layers, start=1):  # every recurrent-path weight
            for j in range(1, layer.transition_depth + 2):
                names = layer.level_names(j)
                for weight in (names.weight, names.shortcut):
                    if weight is not None:
                        model.params[layer_prefix(l) + weight] *= settings["weight_scale"]
        return model

    def label(self) -> str:
        """The current setting in a few words, e.g. ``"deep-transition q=4, T=50"``."""
        s = self.settings
        parts = [s["architecture"]]
        if _takes_depth(s["architecture"]):
            parts.append(f"q={s['transition_depth']}")
        if _takes_layers(s["architecture"]):
            parts.append(f"L={s['num_layers']}")
        return " ".join(parts) + f", T={s['T']}, ×{s['weight_scale']:g}, {s['activation']}"

    # ------------------------------------------------------------------ drawing

    def reset_scale(self) -> None:
        """Forget the shared heat-map scale: the next redraw starts it from its own map."""
        self._scale = None

    def _shared_norm(self, grad_norms):
        """The heat map's LogNorm: the union of every range drawn since the last reset."""
        from matplotlib.colors import LogNorm

        own = _log_norm([grad_norms])
        if own is None:
            return None
        low, high = own.vmin, own.vmax
        if self._scale is not None:
            low, high = min(low, self._scale[0]), max(high, self._scale[1])
        self._scale = (low, high)
        return LogNorm(vmin=low, vmax=high)

    def redraw(self) -> None:
        """Rebuild the model of the current settings and draw the four panels on a new figure."""
        from .. import diagnostics
        from .architecture import plot_architecture
        from .flow import plot_gradient_norms, plot_jacobian_spectra, plot_norm_vs_distance

        settings = self.settings
        name = settings["architecture"]
        self.controls["transition_depth"].disabled = not _takes_depth(name)
        self.controls["num_layers"].disabled = not _takes_layers(name)
        self.controls["residual_scale"].disabled = not _takes_residual(name)
        model = self.model()
        T = settings["T"]
        flow = diagnostics.gradient_flow(model, T, batch_size=EXPLORER_BATCH, seed=0)
        x, _, _ = diagnostics.last_step_problem(model, T, batch_size=EXPLORER_BATCH, seed=0)
        spectra = diagnostics.jacobian_spectra(model, x[:SPECTRUM_STEPS])  # (T', B, H) per layer
        plt = _pyplot()
        if self.figure is not None:
            plt.close(self.figure)
        # Fixed margins, not constrained layout: measuring the diagram's hundreds of texts for a
        # layout would double the time of a redraw.
        figure = plt.figure(figsize=(13, 8.5))
        grid = figure.add_gridspec(
            2,
            3,
            height_ratios=(1.1, 1),
            left=0.05,
            right=0.98,
            bottom=0.07,
            top=0.91,
            hspace=0.3,
            wspace=0.38,
        )
        # The diagram's legend goes beside it (plot_architecture on a given Axes): leave it the
        # right quarter of the row, or it is cut off at the figure's edge.
        diagram_row = grid[0, :].subgridspec(1, 2, width_ratios=(2.6, 1), wspace=0.0)
        axes = {
            "diagram": figure.add_subplot(diagram_row[0]),
            "heat_map": figure.add_subplot(grid[1, 0]),
            "norm_vs_distance": figure.add_subplot(grid[1, 1]),
            "spectrum": figure.add_subplot(grid[1, 2]),
        }
        plot_architecture(model, steps=3, ax=axes["diagram"])
        label = self.label()
        norm = self._shared_norm(flow.grad_norms)
        plot_gradient_norms(
            flow.grad_norms,
            ax=axes["heat_map"],
            norm=norm,
            log=norm is not None,
            title=f"‖∂loss/∂hₜ‖: {flow.verdict} ({flow.rate:.3f} per step)",
        )
        curves = {f"{name} (now)": flow.grad_norms}
        if self._previous is not None and self._previous[0] != label:
            curves[f"{self._previous[0]} (before)"] = self._previous[1]
        plot_norm_vs_distance(curves, ax=axes["norm_vs_distance"])
        # The legend takes the title's place above the panel: inside, a vanishing curve and a
        # flat one leave it no corner, and it covered the curve it names.
        axes["norm_vs_distance"].set_title("")
        axes["norm_vs_distance"].legend(
            loc="lower center",
            bbox_to_anchor=(0.5, 1.0),
            fontsize="small",
            frameon=False,
            title="top layer, now and before the last change",
            title_fontsize="large",
        )
        plot_jacobian_spectra({name: spectra}, ax=axes["spectrum"])
        steps = min(T, SPECTRUM_STEPS)
        axes["spectrum"].set_title(f"singular values of ∂hₜ/∂hₜ₋₁, steps 1–{steps}")
        figure.suptitle(label)
        self.figure, self.axes, self.grad_norms = figure, axes, flow.grad_norms
        self._current = (label, flow.grad_norms)
        self.redraws += 1
        self._show()

    def _on_change(self, change) -> None:
        """A control changed: remember what was drawn, then redraw."""
        self._previous = self._current
        self.redraw()

    def _show(self) -> None:
        """Put the figure into the output area, when a notebook kernel is there to show it."""
        try:
            from IPython import get_ipython
        except ImportError:  # no IPython: the figure stays in self.figure
            return
        if get_ipython() is None:
            return
        import io

        from IPython.display import Image, display

        png = io.BytesIO()
        self.figure.savefig(
            png, format="png"
        )  # one draw (the inline backend's "tight" box makes two)
        with self.output:
            self.output.clear_output(wait=True)
            display(Image(data=png.getvalue()))

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def explore(
    architecture: str = "deep-transition-skip",
    transition_depth: int = 2,
    num_layers: int = 2,
    T: int = 50,
    residual_scale: float = 0.01,
    weight_scale: float = 1.0,
    activation: str = "tanh",
) -> Explorer:
    """Open the gradient-flow explorer: controls, and four panels redrawn on every change.

    In Jupyter, ``numrnn.explore()`` as the last line of a cell shows it. Each change of a
    control rebuilds a small model (H = 16) at initialisation and redraws its diagram, its
    gradient-norm heat map (one colour scale across redraws), its norm against distance beside
    the previous setting's, and its step-Jacobian spectrum.

    Parameters
    ----------
    architecture : str, default "deep-transition-skip"
        A preset of :data:`numrnn.presets.ARCHITECTURES`.
    transition_depth : int, default 2
        q, for the deep-transition presets (1..8).
    num_layers : int, default 2
        L, for the hierarchical presets (1..4).
    T : int, default 50
        Steps; the loss is on the last one only (5..200).
    residual_scale : float, default 0.01
        The residual branch's initial scale, for the ``-skip`` presets (0.001..1).
    weight_scale : float, default 1.0
        Multiplies every weight on the recurrent path (``W_h1 .. W_hh`` and DT(S)'s ``S_j``)
        after initialisation (0.25..3).
    activation : {"tanh", "sigmoid", "relu", "identity"}, default "tanh"
        φ (and ψ) of every layer.

    Returns
    -------
    Explorer
        Its ``controls`` can be set from Python too; ``figure`` is the last drawing.

    Raises
    ------
    ImportError
        Without ipywidgets, naming ``pip install "numrnn[notebook]"``.
    ValueError
        If a setting is outside its control's range or choices.
    """
    try:
        import ipywidgets as widgets
    except ImportError:
        raise ImportError(NOTEBOOK_HINT) from None
    from ..presets import ARCHITECTURES

    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {list(ARCHITECTURES)}; got {architecture!r}")
    if activation not in ("tanh", "sigmoid", "relu", "identity"):
        raise ValueError(
            f"activation must be one of 'tanh', 'sigmoid', 'relu', 'identity'; got {activation!r}"
        )
    for name, value, low, high in (
        ("transition_depth", transition_depth, 1, 8),
        ("num_layers", num_layers, 1, 4),
        ("T", T, 5, 200),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, np.integer))
            or not low <= value <= high
        ):
            raise ValueError(f"{name} must be an integer in [{low}, {high}]; got {value!r}")
    for name, value, low, high in (
        ("residual_scale", residual_scale, 1e-3, 1.0),
        ("weight_scale", weight_scale, 0.25, 3.0),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not low <= value <= high
        ):
            raise ValueError(f"{name} must be a number in [{low:g}, {high:g}]; got {value!r}")
    settings = {
        "architecture": architecture,
        "transition_depth": int(transition_depth),
        "num_layers": int(num_layers),
        "T": int(T),
        "residual_scale": float(residual_scale),
        "weight_scale": float(weight_scale),
        "activation": activation,
    }
    return Explorer(widgets, settings)
