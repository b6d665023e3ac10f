"""Every gradient of the engine against central finite differences (numrnn.gradcheck), in float64.

The hypothesis test spans the whole configuration space (conftest.model_settings):
any wrong term in any backward function — a missing skip path, a transposed
weight gradient, a bias summed over the wrong axis, a dropped shortcut, a
layer-skip applied where widths differ, a wrong mask normalisation — makes
at least one entry of some parameter, of ``dx`` or of ``dh0`` miss the
1e-7 relative tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Setting, build_problem, model_settings, small_problem
from hypothesis import HealthCheck, example, given, settings

import numrnn
from numrnn import layers
from numrnn.gradcheck import check_gradients, check_model


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setting=model_settings())
@example(
    setting=Setting(  # a curved loss: 2.9e-6 at eps=2e-3 without the checker's eps/4 refinement
        input_size=1,
        output_size=3,
        layers=(
            dict(
                hidden_size=2,
                transition_depth=3,
                input_depth=0,
                mlp_width=None,
                skip="none",
                layer_skip=True,
                activation="tanh",
                mlp_activation="tanh",
            ),
        ),
        output_depth=1,
        steps=7,
        batch=4,
        loss="xent",
        use_mask=True,
        seed=461,
    )
)
def test_every_gradient_of_every_configuration_matches_finite_differences(setting):
    """Catches any wrong backward term of core, mlp, network or losses, and wrong dx / dh0.

    check_model with its default eps and tiny; over 800 random settings its worst error was 4.8e-8.
    """
    problem = build_problem(setting)
    report = check_model(
        problem.model,
        problem.x,
        problem.targets,
        loss=problem.loss,
        h0=problem.h0,
        mask=problem.mask,
        method="full",
    )
    names = [row.name for row in report.rows]
    expected = list(problem.model.params) + ["x"] + [f"h0[{l}]" for l in range(len(problem.h0))]
    assert names == expected  # every parameter, dx and every dh0 was checked ...
    assert all(row.checked == np.prod(row.shape) for row in report.rows)  # ... entry by entry
    assert report.passed, str(report)
    assert report.max_relative_error <= 1e-7


@pytest.mark.parametrize("name", list(numrnn.presets.ARCHITECTURES))
@pytest.mark.parametrize("loss", ["xent", "mse", "bce"])
def test_every_preset_and_loss_passes_the_gradient_check(name, loss):
    """Catches a gradient bug specific to one named architecture or loss (the CLI's own table)."""
    problem = small_problem(loss, T=4, B=2, H=3)
    model = numrnn.presets.build(name, 3, 3, 3, bias=0.1, seed=1)
    x = problem.x
    h0 = [
        0.5 * np.random.default_rng(2).standard_normal((2, layer.hidden_size))
        for layer in model.config.layers
    ]
    report = check_model(model, x, problem.targets, loss=loss, h0=h0)
    assert report.passed, str(report)


def test_gradient_check_passes_with_a_window_that_covers_the_sequence():
    """bptt_window >= T must be full BPTT: catches a window cut at t == 0 or at t == T."""
    problem = small_problem("mse", T=5, B=2, num_layers=2, transition_depth=1, skip="residual")
    for window in (5, 6, 100):
        report = check_model(
            problem.model, problem.x, problem.targets, loss="mse", h0=problem.h0, bptt_window=window
        )
        assert report.passed, str(report)


@pytest.mark.parametrize(
    "forward, kwargs, settings_",
    [
        (layers.rnn_forward, dict(transition_depth=0, skip="none"), {}),
        (
            layers.rnn_forward,
            dict(transition_depth=0, input_depth=2, skip="none", layer_skip=True, mlp_width=4),
            dict(layer_skip=True),
        ),
        (layers.deep_transition_forward, dict(transition_depth=2, skip="none", mlp_width=5), {}),
        (
            layers.residual_forward,
            dict(transition_depth=2, skip="residual", layer_skip=True),
            dict(layer_skip=True),
        ),
        (layers.residual_forward, dict(transition_depth=0, skip="residual"), {}),
        (
            layers.shortcut_forward,
            dict(transition_depth=3, skip="shortcut", input_depth=1, mlp_width=3),
            dict(activation="sigmoid"),
        ),
    ],
)
def test_functional_layer_backward_matches_finite_differences(forward, kwargs, settings_):
    """The CS231n-style layer API: catches a wrong dx, dh0 or weight grad for a random upstream
    dh."""
    rng = np.random.default_rng(7)
    activation = settings_.get("activation", "tanh")
    model = numrnn.DeepRNN(3, 4, 2, bias=0.1, seed=3, activation=activation, **kwargs)
    params = {
        name: value.copy() for name, value in numrnn.params.layer_params(model.params, 1).items()
    }
    for value in params.values():
        if value.ndim == 1:
            value[...] = 0.5 * rng.standard_normal(value.shape)
    T, B = 5, 2
    x = rng.standard_normal((T, B, 3))
    h0 = 0.5 * rng.standard_normal((B, 4))
    dh_up = rng.standard_normal((T, B, 4))  # random upstream gradient: f = Σ h ⊙ dh_up

    h, cache = forward(x, h0, params, **settings_)
    dx, dh0, grads = layers.layer_backward(dh_up, cache)

    def f(point):
        h_new, _ = forward(
            point["x"], point["h0"], {name: point[name] for name in params}, **settings_
        )
        return float(np.sum(h_new * dh_up))

    point = {**params, "x": x, "h0": h0}
    analytic = {**grads, "x": dx, "h0": dh0}
    report = check_gradients(f, point, analytic, method="full")
    assert report.passed, str(report)
    assert list(grads) == list(params)
