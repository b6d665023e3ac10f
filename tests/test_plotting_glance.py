"""Figures that tell the truth at a glance: one colour scale, no clipped text, marked underflow.

Every test reads the artists a figure draws (images and their Normalize, lines and their styles,
text extents after a draw), never pixels. Each docstring names the wrong picture it catches.

Shape legend: L layers, T steps.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from numrnn import diagnostics, plotting, presets  # noqa: E402
from numrnn.plotting._common import MIN_DECADES  # noqa: E402

CLI_TITLE = "deep-transition-skip on adding, step 1000: ‖∂loss/∂hₜ‖ on a validation batch"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def clipped_texts(figure) -> list:
    """The visible texts of ``figure`` whose drawn extent leaves the figure.

    Tick labels are judged through their Axes' tight box (a tick outside the view limits keeps
    a Text that is never drawn); every other text (titles, axis labels, legend entries,
    annotations) one by one.
    """
    figure.draw_without_rendering()
    renderer = figure.canvas.get_renderer()
    box = figure.bbox

    def outside(extent) -> bool:
        return (
            extent.x0 < box.x0 - 1
            or extent.x1 > box.x1 + 1
            or extent.y0 < box.y0 - 1
            or extent.y1 > box.y1 + 1
        )

    ticks, clipped = set(), []
    for ax in figure.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            ticks |= {id(t) for t in axis.get_ticklabels(which="both")}
        if outside(ax.get_tightbbox(renderer)):
            clipped.append(f"an Axes titled {ax.get_title()!r} or its tick labels")
    for text in figure.findobj(Text):
        if id(text) in ticks or not text.get_visible() or not text.get_text().strip():
            continue
        if outside(text.get_window_extent(renderer)):
            clipped.append(text.get_text())
    return clipped


def saved(figure, tmp_path):
    """``figure`` after :func:`numrnn.plotting.save_figure` (which fits its texts), still open."""
    plotting.save_figure(figure, tmp_path / "figure.png", close=False)
    return figure


def _maps():
    """Three maps that differ by twenty decades, one with an exact zero and one subnormal."""
    steps = np.arange(1, 31)
    vanishing = 10.0 ** (-0.7 * (30 - steps))[None, :]  # 1e-21 .. 1
    stable = np.full((2, 30), 0.86) + 0.01 * np.sin(steps)  # 3 % variation
    vanishing_zero = vanishing.copy()
    vanishing_zero[0, 0] = 0.0
    vanishing_zero[0, 1] = 1e-310  # subnormal in float64
    return {"deep-transition": vanishing_zero, "deep-transition-skip": stable, "vanilla": stable}


def test_every_panel_of_the_map_grid_shares_one_colour_scale_and_one_colour_bar():
    """Catches a colour bar per panel, where yellow is 0.875 in one panel and 0.1 in the next."""
    maps = _maps()
    figure = plotting.plot_gradient_norm_maps(maps)
    panels = [ax for ax in figure.axes if ax.get_visible() and ax.images]
    images = [ax.images[0] for ax in panels]
    assert len(images) == 3
    assert all(image.norm is images[0].norm for image in images)
    positive = np.concatenate([m[m > 0] for m in maps.values()])
    assert images[0].norm.vmin == pytest.approx(positive.min())
    assert images[0].norm.vmax == pytest.approx(positive.max())
    colour_bars = [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]
    assert len(colour_bars) == 1
    assert "one scale for every panel" in colour_bars[0].get_ylabel()
    # the zero and the subnormal cell of the first panel are hatched and named in its legend
    legend = [t.get_text() for t in panels[0].get_legend().get_texts()]
    assert any(text.startswith(plotting.flow.ZERO_LABEL) for text in legend)
    assert any(text.startswith(plotting.flow.SUBNORMAL_LABEL) for text in legend)
    hatches = sorted(patch.get_hatch() for patch in panels[0].patches)
    assert hatches == ["///", "xx"]


def test_a_nearly_flat_map_is_drawn_in_one_middle_colour_not_as_a_fade():
    """Catches a 4.7e-4 to 5.7e-4 map stretched over the whole colour map, reading as vanishing."""
    norms = np.linspace(4.7e-4, 5.7e-4, 50)
    ax = plotting.plot_gradient_norms(norms, title=CLI_TITLE)
    image = ax.images[0]
    assert np.log10(image.norm.vmax / image.norm.vmin) >= MIN_DECADES - 1e-9
    positions = image.norm(norms)  # where on the colour map each norm lands, 0..1
    assert positions.min() > 0.4 and positions.max() < 0.6


def test_the_colour_bar_says_what_it_shows():
    """Catches a colour-bar label such as '(batch, units)' that reads like a unit."""
    ax = plotting.plot_gradient_norms(np.array([[1e-3, 1e-2, 1.0]]))
    (colour_bar,) = [a for a in ax.figure.axes if a.get_label() == "<colorbar>"]
    label = colour_bar.get_ylabel()
    assert "(batch, units)" not in label and "Frobenius norm" in label


def test_no_text_of_a_figure_reaches_past_its_edge(tmp_path):
    """Catches the title of numrnn plot's heat map cut to 'eep-transition-skip on adding…'."""
    steps = np.arange(1, 41)
    figures = {
        "heat map, numrnn plot's title": plotting.plot_gradient_norms(
            np.exp(-0.1 * (40 - steps)), title=CLI_TITLE
        ).figure,
        "map grid": plotting.plot_gradient_norm_maps(_maps(), columns=3),
        "depth sweep with a bound": plotting.plot_depth_sweep(
            [1, 2, 4, 8],
            {"deep-transition": [-5.0, -20.0, -27.0, -np.inf]},
            "log10 gradient ratio ‖∂loss/∂h_1‖ / ‖∂loss/∂h_T‖ at initialisation, T = 100",
        ).figure,
    }
    assert clipped_texts(figures["heat map, numrnn plot's title"])  # it did not fit as drawn
    for name, figure in figures.items():
        assert clipped_texts(saved(figure, tmp_path)) == [], name


def test_the_depth_sweep_draws_minus_infinity_as_a_bound_on_the_bottom_edge():
    """Catches q = 8's -inf drawn as a normal point at the mean of the finite seeds (-34), or
    dropped."""
    depths = [1, 2, 4, 8]
    values = {"deep-transition": [[-6.0, -6.2], [-21.0, -22.0], [-27.0, -28.0], [-34.0, -np.inf]]}
    ax = plotting.plot_depth_sweep(depths, values, "log10 gradient ratio")
    (mean_line,) = [line for line in ax.get_lines() if line.get_label() == "deep-transition"]
    y = np.asarray(mean_line.get_ydata(), dtype=float)
    np.testing.assert_allclose(y[:3], [-6.1, -21.5, -27.5])
    assert np.isnan(y[3])  # not a point at -34
    (bound,) = [line for line in ax.get_lines() if line.get_gid() == "below-marker"]
    assert list(bound.get_xdata()) == [8.0] and list(bound.get_ydata()) == [0.0]  # bottom edge
    assert "−∞" in bound.get_label()
    (label,) = [t for t in ax.texts if t.get_gid() == "bound-label"]
    bottom = ax.get_ylim()[0]
    assert label.get_text() == f"< {bottom:.3g}" and bottom <= -27.5


def test_a_log_depth_sweep_labels_its_bound_as_a_power_of_ten():
    """Catches a bound label in the axis' raw units on a log axis (or none at all)."""
    ax = plotting.plot_depth_sweep(
        [1, 2], {"vanilla": [[1e-3, 2e-3], [-np.inf, 1e-4]]}, "held-out MSE", log=True
    )
    (label,) = [t for t in ax.texts if t.get_gid() == "bound-label"]
    k = int(np.floor(np.log10(ax.get_ylim()[0])))
    assert label.get_text() == f"$<10^{{{k}}}$"


def test_norm_vs_distance_gives_every_line_its_own_dash_and_marker():
    """Catches lines drawn alike, where a line lying on another (two stable architectures near
    1) is hidden under it."""
    model_norms = {}
    for name in presets.ARCHITECTURES:
        model = presets.build(name, 3, 6, 1, seed=0)
        model_norms[name] = diagnostics.gradient_flow(model, 12, batch_size=2, seed=0).grad_norms
    ax = plotting.plot_norm_vs_distance(model_norms)
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    styles = {(line.get_linestyle(), line.get_marker()) for line in lines}
    assert len(styles) == len(lines) == len(model_norms)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == list(model_norms)


def test_plot_gradient_norms_takes_a_shared_norm_and_refuses_another_object():
    """Catches a norm= keyword that is ignored (each map rescaled to its own data)."""
    from matplotlib.colors import LogNorm

    shared = LogNorm(vmin=1e-9, vmax=1.0)
    ax = plotting.plot_gradient_norms(np.array([1e-3, 1e-2]), norm=shared, colorbar=False)
    assert ax.images[0].norm is shared
    assert len(ax.figure.axes) == 1  # no colour bar
    with pytest.raises(TypeError, match=r"norm must be a matplotlib Normalize .* got str"):
        plotting.plot_gradient_norms(np.array([1.0]), norm="log")
    with pytest.raises(TypeError, match=r"colorbar must be True or False; got 1"):
        plotting.plot_gradient_norms(np.array([1.0]), colorbar=1)
    with pytest.raises(ValueError, match=r"named_grad_norms has no entry > 0 in any map"):
        plotting.plot_gradient_norm_maps({"a": np.zeros((1, 3))})
    with pytest.raises(TypeError, match=r"title must be a string or None; got int"):
        plotting.plot_gradient_norm_maps({"a": np.ones((1, 3))}, title=3)


def test_matplotlib_is_imported_only_in_plotting_and_ipywidgets_only_in_the_explorer():
    """Catches a module outside numrnn/plotting/ that imports matplotlib (a server or grader
    without a display would pay for it), or ipywidgets imported outside the explorer."""
    import re
    from pathlib import Path

    package = Path(plotting.__file__).resolve().parents[1]
    imports = re.compile(r"^\s*(?:import|from)\s+(matplotlib|ipywidgets)\b", re.MULTILINE)
    found = {}
    for path in package.rglob("*.py"):
        for name in imports.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, set()).add(path.relative_to(package).as_posix())
    assert found["matplotlib"] and all(p.startswith("plotting/") for p in found["matplotlib"])
    assert found["ipywidgets"] == {"plotting/explorer.py"}


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text("abcdefgh", min_size=1, max_size=9),
            st.builds(lambda s: f"$\\partial {s}$", st.text("xyz", min_size=1, max_size=4)),
        ),
        min_size=1,
        max_size=12,
    ),
    st.integers(8, 30),
)
def test_wrapping_a_label_keeps_its_words_and_never_breaks_inside_mathtext(words, width):
    """Catches a wrap that splits '$\\partial x$' over two lines (matplotlib cannot typeset half
    a formula) or drops or reorders words."""
    from numrnn.plotting._common import _wrap

    text = " ".join(words)
    lines = _wrap(text, width).split("\n")
    assert " ".join(lines) == text
    assert all(line.count("$") % 2 == 0 for line in lines)
    for line in lines:  # a line is too long only when it is one unbreakable word
        assert len(line) <= width or line in words
