"""The comparison figures: a line per architecture, labelled axes, consistent colours.

Catches: a plot that drops an architecture or a seed, an unlabelled axis, a colour that differs
between figures, a zero norm silently dropped from a log heat-map.
"""

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from numrnn import diagnostics, plotting, presets  # noqa: E402

NAMES = ["vanilla", "deep-transition", "deep-transition-skip"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _data_lines(ax):
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


def _assert_labelled(ax):
    assert ax.get_xlabel().strip() and ax.get_ylabel().strip() and ax.get_title().strip()


def test_palette_has_a_distinct_colour_per_architecture():
    colours = [plotting.color_for(name) for name in presets.ARCHITECTURES]
    assert len(set(colours)) == len(presets.ARCHITECTURES)
    assert plotting.color_for("deep-transition-skip q=4") == plotting.color_for(
        "deep-transition-skip"
    )


def test_norm_vs_distance_one_line_per_architecture_in_its_colour():
    rng = np.random.default_rng(0)
    named = {name: np.exp(-rng.uniform(0.01, 0.2) * np.arange(30))[::-1] for name in NAMES}
    ax = plotting.plot_norm_vs_distance(named)
    lines = _data_lines(ax)
    assert [line.get_label() for line in lines] == NAMES
    for line, name in zip(lines, NAMES, strict=True):
        assert to_hex(line.get_color()) == to_hex(plotting.color_for(name))
    assert ax.get_yscale() == "log"
    _assert_labelled(ax)


def test_jacobian_spectra_from_the_diagnostics_output():
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    named = {}
    for name in NAMES:
        model = presets.build(name, 3, 5, 2, seed=0)
        named[name] = diagnostics.jacobian_spectra(model, x)
    ax = plotting.plot_jacobian_spectra(named)
    lines = _data_lines(ax)
    assert len(lines) == len(NAMES)
    assert all(len(line.get_xdata()) == 5 for line in lines)  # k = 1..H
    _assert_labelled(ax)


def test_training_curves_have_three_labelled_panels_and_every_seed():
    histories = {}
    for i, name in enumerate(NAMES):
        steps = np.arange(1, 11)
        runs = [
            {
                "step": steps,
                "loss": 1.0 / (steps + i + s),
                "grad_norm": np.full(10, 0.5 + s),
                "eval_step": steps[::5],
                "val_metric": 1.0 / (steps[::5] + i),
            }
            for s in range(2)
        ]
        histories[name] = runs
    figure = plotting.plot_training_curves(histories, baseline=0.167)
    axes = [ax for ax in figure.axes if ax.get_xlabel()]
    assert len(axes) == 3
    for ax in axes:
        _assert_labelled(ax)
    assert len([line for line in axes[0].get_lines()]) >= 2 * len(NAMES)  # every seed drawn


def test_a_run_evaluated_once_shows_its_validation_point_on_the_runs_step_axis():
    """Catches the `numrnn train --steps 60` then `numrnn plot` picture: one validation value,
    drawn as a line with no marker (so nothing at all), on an axis from 57 to 63 of its own."""
    steps = np.arange(1, 61)
    history = {
        "step": steps,
        "loss": 1.0 / steps,
        "grad_norm": np.ones(60),
        "eval_step": [60],
        "val_metric": [0.08],
    }
    figure = plotting.plot_training_curves({"deep-transition-skip": history}, baseline=0.167)
    loss_ax, val_ax, _ = [ax for ax in figure.axes if ax.get_xlabel()]
    (point,) = [line for line in _data_lines(val_ax) if line.get_label() == "deep-transition-skip"]
    assert point.get_marker() == "o" and list(point.get_ydata()) == [0.08]
    assert val_ax.get_xlim() == loss_ax.get_xlim() and val_ax.get_xlim()[0] < 2
    (loss_line,) = _data_lines(loss_ax)
    assert loss_line.get_marker() in (None, "None", "")  # 60 points: a line reads better


def _visible_tick_texts(ax) -> list:
    ax.figure.canvas.draw()
    low, high = ax.get_ylim()
    ticks = ax.yaxis.get_major_ticks() + ax.yaxis.get_minor_ticks()
    return [
        tick.label1.get_text()
        for tick in ticks
        if tick.label1.get_text() and low <= tick.get_loc() <= high
    ]


def test_a_log_axis_within_one_decade_reads_as_plain_numbers():
    """Catches the `numrnn diagnose` spectra whose ticks read 1.015×10⁰ and 9.95×10⁻¹, and the
    norm-vs-distance ticks 6×10⁻¹, 7×10⁻¹: every visible label is a plain number."""
    spectra = plotting.plot_jacobian_spectra({"a": np.linspace(1.018, 0.983, 32)[None, :]})
    texts = _visible_tick_texts(spectra)
    assert "1.015" in texts and "0.99" in texts
    near = plotting.plot_norm_vs_distance({"a": np.linspace(0.5, 0.75, 100)})
    texts = _visible_tick_texts(near) + texts
    assert "0.7" in texts and not [text for text in texts if "times" in text]


def test_a_log_axis_over_many_decades_keeps_powers_of_ten():
    """Catches a formatter that writes 1e-08 or 0.00000001 for the decades of a vanishing
    gradient."""
    texts = _visible_tick_texts(plotting.plot_norm_vs_distance({"a": np.logspace(-8, 0, 100)}))
    assert r"$\mathdefault{10^{-8}}$" in texts and all("10^" in text for text in texts)


def test_depth_sweep_mean_line_per_architecture_and_baseline():
    depths = [1, 2, 4, 8]
    values = {
        "deep-transition": np.array([[0.1, 0.12], [0.2, 0.22], [0.3, 0.31], [np.nan, np.nan]]),
        "deep-transition-skip": np.array([0.05, 0.04, 0.04, 0.03]),
    }
    ax = plotting.plot_depth_sweep(depths, values, "validation MSE", baseline=0.167)
    labels = [line.get_label() for line in _data_lines(ax)]
    assert "deep-transition" in labels and "deep-transition-skip" in labels
    assert any("baseline" in label for label in labels)
    _assert_labelled(ax)


TEX_SOURCE = re.compile(r"[A-Za-z]_(\{|\(|[A-Za-z0-9](?![A-Za-z0-9]))")  # h_t, h_{t-1}, MLP_h


def _tex_source_outside_maths(figure) -> list:
    """Every drawn text of ``figure`` that shows TeX source such as ``h_t`` outside ``$...$``."""
    found = []
    for text in figure.findobj(Text):
        plain = re.sub(r"\$[^$]*\$", "", text.get_text())
        if text.get_visible() and TEX_SOURCE.search(plain):
            found.append(text.get_text())
    return found


def test_figure_texts_show_maths_not_tex_source():
    """Catches "MLP_h" on the depth sweep's axis and "‖∂loss/∂h_t‖" in the title of the
    heat-map grid: a reader sees the TeX source, while the colour-bar label beside it is
    typeset."""
    sweep = plotting.plot_depth_sweep([1, 2], {"deep-transition": [0.1, 0.2]}, "ratio").figure
    norms = {name: np.exp(-0.1 * np.arange(12))[None, ::-1] for name in NAMES}
    grid = plotting.plot_gradient_norm_maps(norms)
    for figure in (sweep, grid):
        assert not _tex_source_outside_maths(figure)
    assert _tex_source_outside_maths(  # the check sees what it is meant to
        plotting.plot_gradient_norms(norms["vanilla"], title="‖∂loss/∂h_t‖").figure
    )


def test_heat_map_shows_zero_norms_in_the_legend():
    norms = np.array([[0.0, 1e-3, 1e-1, 1.0], [1e-2, 1e-1, 1.0, 1.0]])
    ax = plotting.plot_gradient_norms(norms)
    legend = ax.get_legend()
    assert legend is not None
    assert any(
        "0" in text.get_text() or "zero" in text.get_text().lower() for text in legend.get_texts()
    )


@pytest.mark.parametrize(
    "function, argument",
    [
        (plotting.plot_norm_vs_distance, {}),
        (plotting.plot_jacobian_spectra, {}),
        (plotting.plot_training_curves, {}),
    ],
)
def test_empty_input_is_refused_by_name(function, argument):
    with pytest.raises((TypeError, ValueError), match=r"named_"):
        function(argument)


def test_gradient_norm_maps_have_a_titled_panel_per_architecture():
    maps = {
        name: np.full((1 + i % 2, 6), 10.0**-i) * np.arange(1, 7) for i, name in enumerate(NAMES)
    }
    figure = plotting.plot_gradient_norm_maps(maps, columns=2)
    panels = [ax for ax in figure.axes if ax.get_visible() and ax.images]
    assert [ax.get_title().split(" (")[0] for ax in panels] == NAMES
    for ax, norms in zip(panels, maps.values(), strict=True):
        np.testing.assert_array_equal(ax.images[0].get_array(), norms)
        _assert_labelled(ax)
    assert sum(not ax.get_visible() for ax in figure.axes) == 1  # 3 maps on a 2 x 2 grid
    with pytest.raises(ValueError, match=r"columns must be an integer >= 1; got 0"):
        plotting.plot_gradient_norm_maps(maps, columns=0)


def test_save_figure_writes_atomically_and_refuses_a_path_without_format(tmp_path):
    ax = plotting.plot_norm_vs_distance({"vanilla": np.array([0.1, 0.5, 1.0])})
    plotting.save_figure(ax.figure, tmp_path / "flow.svg", close=False)
    assert b"<svg" in (tmp_path / "flow.svg").read_bytes()[:500]
    assert [path.name for path in tmp_path.iterdir()] == ["flow.svg"]  # no temporary file left
    with pytest.raises(ValueError, match=r"path must end in a format suffix"):
        plotting.save_figure(ax.figure, tmp_path / "flow")
