"""Tests of numrnn.plotting: what each function draws, its input checks, and its backend policy.

Every drawing test looks at the artists a function returns (image data, line data, scales,
labels), so a function that draws the wrong array, the wrong row or the wrong number of curves
fails. The backend tests run in a subprocess with a clean environment, because the backend is a
process-wide choice.

Shape legend: L layers, T steps, N logged points.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

matplotlib.use("Agg")  # these tests draw into files only; the backend policy is tested below

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

import numrnn  # noqa: E402
import numrnn.plotting as plotting  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def close_figures():
    """Close every figure a test made."""
    yield
    plt.close("all")


@pytest.fixture
def norms() -> np.ndarray:
    """A (L, T) = (3, 7) map of positive gradient norms."""
    return np.random.default_rng(0).uniform(1e-6, 1.0, size=(3, 7))


# --------------------------------------------------------------------------- plot_gradient_norms


def test_heat_map_shows_the_array_with_layers_on_y_and_steps_on_x(norms):
    ax = plotting.plot_gradient_norms(norms)
    (image,) = ax.get_images()
    np.testing.assert_array_equal(np.asarray(image.get_array()), norms)
    assert image.get_extent() == [0.5, 7.5, 0.5, 3.5]  # pixel centres at steps 1..7, layers 1..3
    assert list(ax.get_yticks()) == [1, 2, 3]
    assert isinstance(image.norm, LogNorm)
    assert image.norm.vmin == pytest.approx(norms.min()) and image.norm.vmax == pytest.approx(
        norms.max()
    )
    assert len(ax.figure.axes) == 2  # the heat map and its colour bar
    assert "L=3" in ax.get_title() and "T=7" in ax.get_title()


def test_heat_map_linear_scale_title_and_given_axes(norms):
    fig, given_ax = plt.subplots()
    ax = plotting.plot_gradient_norms(norms, ax=given_ax, log=False, title="my title")
    assert ax is given_ax
    (image,) = ax.get_images()
    assert not isinstance(image.norm, LogNorm)
    assert image.norm.vmin == 0.0 and image.norm.vmax == pytest.approx(norms.max())
    assert ax.get_title() == "my title"


def test_heat_map_of_one_layer_and_of_zeros_on_a_log_scale():
    row = np.array([0.0, 1e-3, 1e-2, 1.0])  # (T,): a zero gradient at step 1
    ax = plotting.plot_gradient_norms(row)
    (image,) = ax.get_images()
    np.testing.assert_array_equal(np.asarray(image.get_array()), row[None, :])
    assert image.norm.vmin == pytest.approx(1e-3)  # the smallest positive entry, not 0


def test_heat_map_of_the_models_own_grad_norms():
    model = numrnn.presets.build("hierarchical", 2, 5, 3, seed=0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 2, 2))
    targets = np.full((6, 2), -1)
    targets[-1] = [0, 2]
    _, _, info = model.loss_and_grads(x, targets)
    ax = plotting.plot_gradient_norms(info.grad_norms)
    np.testing.assert_array_equal(np.asarray(ax.get_images()[0].get_array()), info.grad_norms)


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ({"a": 1}, TypeError, r"grad_norms must be an array of gradient norms .* got dict"),
        ("norms", TypeError, r"grad_norms must be an array .* got str"),
        (3.0, TypeError, r"grad_norms must be an array .* got float"),
        (np.array([["a", "b"]]), TypeError, r"grad_norms must hold real numbers; got dtype <U1"),
        (
            np.ones((2, 3, 4)),
            ValueError,
            r"grad_norms must have shape \(T,\) or \(L, T\); got shape \(2, 3, 4\)",
        ),
        (np.ones((2, 0)), ValueError, r"grad_norms must not be empty; got shape \(2, 0\)"),
        (np.array([[1.0, np.nan]]), ValueError, r"grad_norms must be finite; it has NaN or inf"),
        (
            np.array([[1.0, -2.0]]),
            ValueError,
            r"grad_norms must be >= 0 \(they are norms\); got -2.0",
        ),
        (
            np.zeros((2, 3)),
            ValueError,
            r"grad_norms has no entry > 0, so it has no log colour scale; pass log=False",
        ),
    ],
)
def test_heat_map_rejects_bad_norms(bad, error, match):
    with pytest.raises(error, match=match):
        plotting.plot_gradient_norms(bad)


def test_heat_map_rejects_bad_options(norms):
    with pytest.raises(TypeError, match=r"ax must be a matplotlib Axes or None; got Figure"):
        plotting.plot_gradient_norms(norms, ax=plt.figure())
    with pytest.raises(TypeError, match=r"log must be True or False; got 'yes'"):
        plotting.plot_gradient_norms(norms, log="yes")
    with pytest.raises(TypeError, match=r"title must be a string or None; got int"):
        plotting.plot_gradient_norms(norms, title=3)


def test_all_zero_norms_draw_on_a_linear_scale():
    ax = plotting.plot_gradient_norms(np.zeros((2, 3)), log=False)
    np.testing.assert_array_equal(np.asarray(ax.get_images()[0].get_array()), np.zeros((2, 3)))


# ------------------------------------------------------------------------ plot_gradient_norm_curves


@settings(max_examples=15, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(1, 30)),
        elements=st.floats(1e-12, 1e3, allow_nan=False),
    )
)
def test_curves_one_line_per_layer_holding_its_row(grad_norms):
    L, T = grad_norms.shape
    ax = plotting.plot_gradient_norm_curves(grad_norms)
    lines = ax.get_lines()
    assert len(lines) == L
    for row, line in zip(grad_norms, lines, strict=True):
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, T + 1))
        np.testing.assert_array_equal(line.get_ydata(), row)
    assert ax.get_yscale() == "log"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [
        f"layer {l}" for l in range(1, L + 1)
    ]
    plt.close(ax.figure)


def test_curves_custom_labels_and_one_layer(norms):
    ax = plotting.plot_gradient_norm_curves(norms, labels=["bottom", "middle", "top"])
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["bottom", "middle", "top"]
    ax = plotting.plot_gradient_norm_curves(norms[0])
    assert len(ax.get_lines()) == 1


def test_curves_reject_bad_labels(norms):
    with pytest.raises(ValueError, match=r"labels must have one entry per layer \(L=3\); got 2"):
        plotting.plot_gradient_norm_curves(norms, labels=["a", "b"])
    with pytest.raises(TypeError, match=r"labels must be strings; got \['a', 2, 'c'\]"):
        plotting.plot_gradient_norm_curves(norms, labels=["a", 2, "c"])
    with pytest.raises(
        TypeError, match=r"labels must be a sequence of 3 strings \(one per layer\); got 'abc'"
    ):
        plotting.plot_gradient_norm_curves(norms, labels="abc")
    with pytest.raises(ValueError, match=r"grad_norms must be >= 0"):
        plotting.plot_gradient_norm_curves(-norms)


# --------------------------------------------------------------------------- compare_gradient_flow


def test_compare_draws_the_chosen_layer_of_each_entry(norms):
    single = np.array([4.0, 2.0, 1.0])  # (T,) with another T
    ax = plotting.compare_gradient_flow({"stack": norms, "one layer": single})
    top, other = ax.get_lines()
    np.testing.assert_array_equal(top.get_ydata(), norms[-1])  # default: the top layer
    np.testing.assert_array_equal(other.get_ydata(), single)
    np.testing.assert_array_equal(other.get_xdata(), [1, 2, 3])
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["stack", "one layer"]
    assert ax.get_yscale() == "log"

    ax = plotting.compare_gradient_flow({"stack": norms}, layer=0)
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), norms[0])


def test_compare_normalize_ends_every_curve_at_one(norms):
    ax = plotting.compare_gradient_flow({"a": norms, "b": 3 * norms[1]}, normalize=True)
    a, b = ax.get_lines()
    np.testing.assert_allclose(a.get_ydata(), norms[-1] / norms[-1, -1], rtol=1e-15)
    np.testing.assert_allclose(b.get_ydata(), norms[1] / norms[1, -1], rtol=1e-15)
    assert a.get_ydata()[-1] == b.get_ydata()[-1] == 1.0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            dict(named_grad_norms=[np.ones(3)]),
            TypeError,
            r"named_grad_norms must be a dict of label to grad_norms .* got list",
        ),
        (
            dict(named_grad_norms={}),
            ValueError,
            r"named_grad_norms must hold at least one entry; got an empty dict",
        ),
        (
            dict(named_grad_norms={1: np.ones(3)}),
            TypeError,
            r"named_grad_norms keys must be strings \(legend labels\); got 1",
        ),
        (
            dict(named_grad_norms={"a": np.ones((2, 3))}, layer=2),
            ValueError,
            r"layer must be in \[-2, 2\) for named_grad_norms\['a'\] with L=2 layers; got 2",
        ),
        (
            dict(named_grad_norms={"a": np.ones(3)}, layer=1.0),
            TypeError,
            r"layer must be an integer row index",
        ),
        (
            dict(named_grad_norms={"a": np.array([1.0, 0.0])}, normalize=True),
            ValueError,
            r"normalize=True divides by the norm at the last step, "
            r"which is 0 for named_grad_norms\['a'\]",
        ),
        (
            dict(named_grad_norms={"a": np.array([1.0, np.inf])}),
            ValueError,
            r"named_grad_norms\['a'\] must be finite",
        ),
        (
            dict(named_grad_norms={"a": np.ones(3)}, normalize=1),
            TypeError,
            r"normalize must be True or False; got 1",
        ),
    ],
)
def test_compare_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        plotting.compare_gradient_flow(**kwargs)


# --------------------------------------------------------------------------- plot_history


def test_history_against_its_steps_leaving_out_nan():
    history = {
        "step": np.array([10, 20, 30, 40]),
        "loss": np.array([2.0, 1.5, 1.2, 1.0]),
        "val_loss": np.array([np.nan, 1.7, np.nan, 1.3]),  # measured every other step
    }
    ax = plotting.plot_history(history, keys=("loss", "val_loss"), log=True)
    loss, val = ax.get_lines()
    np.testing.assert_array_equal(loss.get_xdata(), [10, 20, 30, 40])
    np.testing.assert_array_equal(loss.get_ydata(), history["loss"])
    np.testing.assert_array_equal(val.get_xdata(), [20, 40])
    np.testing.assert_array_equal(val.get_ydata(), [1.7, 1.3])
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["loss", "val_loss"]
    assert ax.get_yscale() == "log"


def test_history_without_steps_counts_from_zero_and_takes_one_key():
    ax = plotting.plot_history({"lr": [0.1, 0.05, 0.025]}, keys="lr")
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(line.get_ydata(), [0.1, 0.05, 0.025])
    assert ax.get_ylabel() == "lr" and ax.get_yscale() == "linear"


class _History:
    """A stand-in for the trainer's History: validation logged at its own steps."""

    def to_arrays(self):
        return {
            "step": np.arange(1, 7),
            "loss": np.linspace(2.0, 1.0, 6),
            "eval_step": np.array([3, 6]),
            "val_loss": np.array([1.8, 1.4]),
        }


def test_history_object_with_validation_at_eval_steps():
    ax = plotting.plot_history(_History(), keys=["loss", "val_loss"])
    loss, val = ax.get_lines()
    np.testing.assert_array_equal(loss.get_xdata(), np.arange(1, 7))
    np.testing.assert_array_equal(val.get_xdata(), [3, 6])  # against eval_step, not step
    np.testing.assert_array_equal(val.get_ydata(), [1.8, 1.4])


def test_history_of_a_real_training_run():
    trainer = pytest.importorskip("numrnn.training.trainer")
    history = trainer.History(
        step=np.array([1, 2, 3]),
        loss=np.array([3.0, 2.0, 1.5]),
        eval_step=np.array([3]),
        val_loss=np.array([1.7]),
    )
    ax = plotting.plot_history(history, keys=("loss", "val_loss"))
    np.testing.assert_array_equal(ax.get_lines()[1].get_xdata(), [3])


@pytest.mark.parametrize(
    "history, keys, error, match",
    [
        (
            [1, 2],
            ("loss",),
            TypeError,
            r"history must be a dict of str to 1-D arrays \(or have to_arrays\(\)\); got list",
        ),
        ({"loss": [1.0]}, 3, TypeError, r"keys must be a string or a sequence of strings; got 3"),
        ({"loss": [1.0]}, (), TypeError, r"keys must be a non-empty sequence of strings; got \[\]"),
        (
            {"loss": [1.0]},
            ("val_loss",),
            ValueError,
            r"history has no key 'val_loss'; it has \['loss'\]",
        ),
        (
            {"loss": [[1.0, 2.0]]},
            ("loss",),
            ValueError,
            r"history\['loss'\] must be a 1-D array of numbers; got shape \(1, 2\)",
        ),
        (
            {"step": [1, 2, 3], "loss": [1.0, 2.0]},
            ("loss",),
            ValueError,
            r"history\['loss'\] must have one entry per step \(3\); got 2",
        ),
        (
            {"step": [1, 2, 3], "eval_step": [3], "val_loss": [1.0, 2.0]},
            ("val_loss",),
            ValueError,
            r"history\['val_loss'\] must have one entry per eval_step \(1\) "
            r"or one entry per step \(3\); got 2",
        ),
    ],
)
def test_history_rejects_bad_input(history, keys, error, match):
    with pytest.raises(error, match=match):
        plotting.plot_history(history, keys=keys)


# --------------------------------------------------------------------------- backend policy


def _run_clean(code: str, tmp_path: Path, **extra_env) -> str:
    """Run ``code`` in a fresh interpreter with no backend chosen (unless ``extra_env`` chooses
    one)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("MPLBACKEND", "DISPLAY", "WAYLAND_DISPLAY", "MATPLOTLIBRC")
    }
    env.update(PYTHONPATH=str(REPO), MPLCONFIGDIR=str(tmp_path / "mplconfig"), **extra_env)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_numrnn_and_plotting_import_without_matplotlib(tmp_path):
    out = _run_clean(
        "import sys, numrnn, numrnn.plotting; print('matplotlib' in sys.modules)", tmp_path
    )
    assert out == "False"


BACKEND_PROBE = """
import matplotlib
calls = []
use = matplotlib.use
matplotlib.use = lambda backend, *args, **kwargs: (
    calls.append(backend),
    use(backend, *args, **kwargs),
)
import numrnn.plotting
numrnn.plotting.plot_history({"loss": [1.0, 0.5]})
print(calls, matplotlib.get_backend().lower())
"""


def test_plotting_selects_agg_when_no_backend_was_chosen(tmp_path):
    assert _run_clean(BACKEND_PROBE, tmp_path) == "['Agg'] agg"


def test_plotting_keeps_the_backend_the_user_chose(tmp_path):
    assert _run_clean(BACKEND_PROBE, tmp_path, MPLBACKEND="svg") == "[] svg"


def test_plotting_keeps_the_backend_pyplot_already_has(tmp_path):
    code = "import matplotlib; matplotlib.use('pdf'); import matplotlib.pyplot\n" + BACKEND_PROBE
    assert _run_clean(code, tmp_path) == "[] pdf"


@pytest.mark.parametrize(
    "call, name, role",
    [
        (lambda named: plotting.compare_gradient_flow(named), "named_grad_norms", "legend labels"),
        (lambda named: plotting.plot_norm_vs_distance(named), "named_norms", "legend labels"),
        (lambda named: plotting.plot_jacobian_spectra(named), "named_spectra", "legend labels"),
        (
            lambda named: plotting.plot_training_curves(named, metric_name="mse"),
            "named_histories",
            "legend labels",
        ),
        (
            lambda named: plotting.plot_depth_sweep([1, 2], named, ylabel="mse"),
            "named_values",
            "legend labels",
        ),
        (lambda named: plotting.plot_gradient_norm_maps(named), "named_grad_norms", "panel titles"),
    ],
)
def test_every_named_plot_refuses_a_non_dict_an_empty_dict_and_a_non_string_label(call, name, role):
    """One rule for every function that takes {label: data}: the argument, the rule, the value."""
    with pytest.raises(TypeError, match=rf"{name} must be a dict of label to .*; got list"):
        call([np.ones(3)])
    with pytest.raises(
        ValueError, match=rf"{name} must hold at least one entry; got an empty dict"
    ):
        call({})
    with pytest.raises(TypeError, match=rf"{name} keys must be strings \({role}\); got 1"):
        call({1: np.ones(3)})
