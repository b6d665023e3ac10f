"""The gradient-flow explorer: setting its widgets from Python redraws what they control.

Each test sets a control's value (as a student moving a slider would) and reads the new figure's
artists: the diagram's node markers, the heat map's image and colour scale, the norm-vs-distance
lines. Each docstring names the wrong explorer it catches.

Shape legend: L layers, T steps.
"""

from __future__ import annotations

import re
import sys

import matplotlib
import numpy as np
import pytest

pytest.importorskip("ipywidgets")  # in the test extra; the ImportError path is tested below
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import numrnn  # noqa: E402
from numrnn import presets  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def transition_nodes(explorer) -> int:
    (line,) = [
        line
        for line in explorer.axes["diagram"].get_lines()
        if line.get_gid() == "node:transition_level"
    ]
    return len(line.get_xdata())


def test_a_new_transition_depth_redraws_the_diagram_on_a_new_figure():
    """Catches a slider that changes nothing drawn, or draws over the old figure."""
    explorer = numrnn.explore(architecture="deep-transition", transition_depth=2, T=20)
    first = explorer.figure
    assert transition_nodes(explorer) == 3 * 2  # three steps drawn, q = 2 levels each
    explorer.controls["transition_depth"].value = 4
    assert explorer.figure is not first and len(plt.get_fignums()) == 1  # the old one closed
    assert transition_nodes(explorer) == 3 * 4
    assert explorer.redraws == 2
    assert explorer.figure._suptitle.get_text().startswith("deep-transition q=4, T=20")


@pytest.mark.parametrize("architecture", list(presets.ARCHITECTURES))
def test_the_diagrams_legend_fits_inside_the_figure(architecture):
    """Catches the legend placed beside a diagram that spans the figure's whole width: its
    right half (the edge kinds) was cut off at the figure's edge."""
    explorer = numrnn.explore()
    explorer.controls["architecture"].value = architecture
    figure = explorer.figure
    renderer = figure.canvas.get_renderer()
    legend = explorer.axes["diagram"].get_legend().get_window_extent(renderer)
    page = figure.bbox
    assert page.x0 <= legend.x0 and legend.x1 <= page.x1, (legend, page)
    for name in ("heat_map", "norm_vs_distance", "spectrum"):  # and it covers no panel
        assert not legend.overlaps(explorer.axes[name].get_window_extent(renderer))
    for ax in explorer.axes.values():  # no panel's title runs off the figure either
        title = ax.title.get_window_extent(renderer)
        assert page.x0 <= title.x0 and title.x1 <= page.x1 - 2, (ax.get_title(), title)


def test_the_norm_vs_distance_legend_sits_above_its_curves():
    """Catches the legend drawn inside the panel, where after a change from the deep transition
    (vanishing, 12 decades over T = 50) to the one with skip (flat) it covered the dashed curve."""
    explorer = numrnn.explore(architecture="deep-transition", transition_depth=2, T=50)
    explorer.controls["architecture"].value = "deep-transition-skip"
    ax = explorer.axes["norm_vs_distance"]
    renderer = explorer.figure.canvas.get_renderer()
    legend = ax.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [
        "deep-transition-skip (now)",
        "deep-transition q=2, T=50, ×1, tanh (before)",
    ]
    box = legend.get_window_extent(renderer)
    assert box.y0 >= ax.get_window_extent(renderer).y1 - 1  # above the panel, over no data
    assert box.y1 <= explorer.axes["diagram"].get_window_extent(renderer).y0  # below the diagram
    assert explorer.figure.bbox.x0 <= box.x0 and box.x1 <= explorer.figure.bbox.x1


def test_the_heat_map_follows_T_and_the_layers():
    """Catches a heat map left at the first setting's shape."""
    explorer = numrnn.explore(architecture="hierarchical", num_layers=2, T=20)
    assert explorer.axes["heat_map"].images[0].get_array().shape == (2, 20)
    explorer.controls["T"].value = 35
    assert explorer.axes["heat_map"].images[0].get_array().shape == (2, 35)
    explorer.controls["num_layers"].value = 3
    np.testing.assert_array_equal(
        explorer.axes["heat_map"].images[0].get_array(), explorer.grad_norms
    )
    assert explorer.grad_norms.shape == (3, 35)


def test_controls_an_architecture_does_not_have_are_disabled():
    """Catches a depth slider that seems to act on the vanilla RNN (it would be ignored)."""
    explorer = numrnn.explore(architecture="vanilla", T=10)
    disabled = {name for name, control in explorer.controls.items() if control.disabled}
    assert disabled == {"transition_depth", "num_layers", "residual_scale"}
    explorer.controls["architecture"].value = "hierarchical-deep-transition-skip"
    disabled = {name for name, control in explorer.controls.items() if control.disabled}
    assert disabled == set()


def test_the_heat_map_scale_is_shared_across_redraws():
    """Catches a scale refitted to each map, where a stable and a vanishing map look alike."""
    explorer = numrnn.explore(architecture="deep-transition-skip", T=30)
    stable = explorer.grad_norms
    explorer.controls["architecture"].value = "deep-transition"
    vanishing = explorer.grad_norms
    norm = explorer.axes["heat_map"].images[0].norm
    both = np.concatenate([stable.ravel(), vanishing.ravel()])
    assert norm.vmin <= both[both > 0].min() * (1 + 1e-9) and norm.vmax >= both.max()
    explorer.reset_scale()
    explorer.redraw()
    norm = explorer.axes["heat_map"].images[0].norm
    assert norm.vmax == pytest.approx(vanishing.max())


def test_norm_vs_distance_shows_the_setting_before_the_last_change():
    """Catches a comparison curve that is the current one again (or missing)."""
    explorer = numrnn.explore(architecture="deep-transition", transition_depth=1, T=20)
    explorer.controls["transition_depth"].value = 3
    labels = [
        line.get_label()
        for line in explorer.axes["norm_vs_distance"].get_lines()
        if not line.get_label().startswith("_")
    ]
    assert labels == ["deep-transition (now)", "deep-transition q=1, T=20, ×1, tanh (before)"]


def test_the_weight_scale_multiplies_every_weight_on_the_recurrent_path():
    """Catches a scale applied to the input weights, or to W_hh only and not the levels."""
    explorer = numrnn.explore(architecture="deep-transition-shortcut", T=10)
    explorer.controls["weight_scale"].value = 2.0
    scaled = explorer.model().params
    plain = presets.build("deep-transition-shortcut", 4, 16, 1, seed=0).params
    for name in plain:
        recurrent = re.fullmatch(r"layer\d+\.(W_h\d+|W_hh|S_h\d+|S_hh)", name)
        factor = 2.0 if recurrent else 1.0
        np.testing.assert_allclose(scaled[name], factor * plain[name], err_msg=name)


def test_explore_refuses_settings_outside_its_controls():
    with pytest.raises(ValueError, match=r"architecture must be one of .* got 'lstm'"):
        numrnn.explore(architecture="lstm")
    with pytest.raises(ValueError, match=r"T must be an integer in \[5, 200\]; got 2"):
        numrnn.explore(T=2)
    with pytest.raises(ValueError, match=r"weight_scale must be a number in \[0.25, 3\]; got 9"):
        numrnn.explore(weight_scale=9)
    with pytest.raises(ValueError, match=r"activation must be one of .* got 'gelu'"):
        numrnn.explore(activation="gelu")


def test_without_ipywidgets_explore_names_the_extra(monkeypatch):
    """Catches a bare ModuleNotFoundError that leaves the student guessing what to install."""
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets now fails
    with pytest.raises(ImportError, match=r'pip install "numrnn\[notebook\]"'):
        numrnn.explore()
