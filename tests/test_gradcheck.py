"""The gradient checker itself: it must pass right gradients and catch planted wrong ones.

A checker that always says PASS would make every other gradient test in this
suite worthless, so each test here plants a specific bug (a transposed weight
gradient, a dropped residual term, a bias gradient off by a factor, a wrong dx
or dh0) and asserts that the report fails on exactly that array.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import small_problem

import numrnn
from numrnn import network
from numrnn.gradcheck import GradcheckPrecisionWarning, check_gradients, check_model, relative_error


def plant_in_layer_backward(monkeypatch, mutate):
    """Make the model's backward pass return ``mutate(result)`` for every layer (forward
    untouched)."""
    original = network.layer_backward

    def planted(dh, cache, **kwargs):
        return mutate(original(dh, cache, **kwargs))

    monkeypatch.setattr(network, "layer_backward", planted)


def plant_in_output_backward(monkeypatch, mutate):
    """Make the output MLP's backward return gradients passed through ``mutate``."""
    original = network.mlp_backward

    def planted(dout, cache, **kwargs):
        dv, grads = original(dout, cache, **kwargs)
        return dv, mutate(grads)

    monkeypatch.setattr(network, "mlp_backward", planted)


def failing_names(report):
    return [row.name for row in report.failures()]


# --------------------------------------------------------------------------- known functions


def test_check_gradients_passes_the_exact_gradient_of_a_known_function():
    """f = Σ W³ has ∂f/∂W = 3 W²: catches a checker whose finite difference is wrong (bad stencil
    coefficients, a step not divided out, entries perturbed but not restored)."""
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 4))
    v = rng.standard_normal(5)

    def f(p):
        return np.sum(p["W"] ** 3) + np.sum(np.sin(p["v"]))

    report = check_gradients(f, {"W": W, "v": v}, {"W": 3 * W**2, "v": np.cos(v)}, method="full")
    assert report.passed, str(report)
    assert [row.checked for row in report.rows] == [12, 5]
    assert report.max_relative_error < 1e-9


@pytest.mark.parametrize(
    "method, wrong",
    [
        (method, wrong)
        for method in ("full", "sampled", "directional")
        for wrong in ("2 W^2", "transposed")
    ]
    + [("full", "one entry off by 1e-5")],
)
def test_check_gradients_fails_a_wrong_gradient_of_a_known_function(method, wrong):
    """Catches a checker that passes wrong gradients, for every method: a wrong formula, a
    transposed matrix, a single entry off by 1e-5 relative (the full check must see it)."""
    rng = np.random.default_rng(1)
    W = rng.standard_normal((4, 4))
    right = 3 * W**2
    if wrong == "2 W^2":
        grad = 2 * W**2
    elif wrong == "transposed":
        grad = right.T.copy()
    else:  # only the full method is sure to see one entry
        grad = right.copy()
        grad[2, 1] *= 1 + 1e-5

    def f(p):
        return np.sum(p["W"] ** 3)

    report = check_gradients(f, {"W": W}, {"W": grad}, method=method, num_samples=8, seed=3)
    assert not report.passed
    assert failing_names(report) == ["W"]
    assert "FAIL" in str(report)


def test_check_gradients_never_changes_the_callers_arrays():
    """Catches a checker that perturbs the user's own arrays and leaves them moved."""
    rng = np.random.default_rng(2)
    W = rng.standard_normal((3, 3))
    before = W.copy()
    seen = []

    def f(p):
        seen.append(p["W"] is W)
        return np.sum(p["W"] ** 2)

    check_gradients(f, {"W": W}, {"W": 2 * W}, method="full")
    check_gradients(f, {"W": W}, {"W": 2 * W}, method="directional")
    assert np.array_equal(W, before)
    assert not any(seen)  # f was given copies, never the caller's array


def test_relative_error_uses_the_tiny_floor_for_entries_that_are_zero_up_to_rounding():
    """|a - n| / max(|a| + |n|, tiny): catches a denominator without the floor (0/0 for exact
    zeros, huge errors for 1e-13 noise) or with the floor applied to large entries too."""
    errors = relative_error(
        np.array([0.0, 1e-13, 2.0, 1.0]), np.array([0.0, 0.0, 1.0, 1.0 + 1e-9]), 1e-4
    )
    assert errors[0] == 0.0
    assert errors[1] == pytest.approx(1e-13 / 1e-4, rel=1e-12)
    assert errors[2] == pytest.approx(1.0 / 3.0, rel=1e-12)
    assert errors[3] == pytest.approx(1e-9 / (2.0 + 1e-9), rel=1e-6)


def test_a_gradient_that_is_exactly_zero_passes():
    """An array f does not depend on has gradient 0 and numeric derivative 0: catches a 0/0 NaN."""
    report = check_gradients(
        lambda p: np.sum(p["a"] ** 2),
        {"a": np.ones(3), "unused": np.ones(2)},
        {"a": 2 * np.ones(3), "unused": np.zeros(2)},
    )
    assert report.passed, str(report)


# ------------------------------------------------------------------------ planted bugs in the model


@pytest.fixture
def vanilla_problem():
    return small_problem("xent", T=5, B=2, H=4)


def test_check_model_passes_the_correct_model(vanilla_problem):
    """The control for the planted bugs below: the same problem without a bug passes."""
    p = vanilla_problem
    report = check_model(p.model, p.x, p.targets, h0=p.h0)
    assert report.passed, str(report)


def test_check_model_catches_a_transposed_recurrent_weight_gradient(vanilla_problem, monkeypatch):
    """dW_hh (H, H) returned transposed: shapes still fit, so only the values can tell."""

    def transpose_W_hh(result):
        result.grads["W_hh"] = result.grads["W_hh"].T.copy()
        return result

    plant_in_layer_backward(monkeypatch, transpose_W_hh)
    p = vanilla_problem
    report = check_model(p.model, p.x, p.targets, h0=p.h0)
    assert not report.passed
    assert failing_names(report) == ["layer1.W_hh"]


@pytest.mark.parametrize("name", ["output.b_y", "output.W_hy"])
def test_check_model_catches_an_output_gradient_off_by_one_percent(
    vanilla_problem, monkeypatch, name
):
    """An output gradient scaled by 1.01 fails on that array and no other."""
    short = name.split(".")[1]

    def scale(grads):
        grads[short] = grads[short] * 1.01
        return grads

    plant_in_output_backward(monkeypatch, scale)
    p = vanilla_problem
    report = check_model(p.model, p.x, p.targets, h0=p.h0)
    assert failing_names(report) == [name]


def test_check_model_catches_a_bias_gradient_off_by_1e_minus_5(vanilla_problem, monkeypatch):
    """The checker's resolution: a relative error of 1e-5 in db_h is 50 times its 1e-7 tolerance."""

    def scale(result):
        result.grads["b_h"] = result.grads["b_h"] * (1 + 1e-5)
        return result

    plant_in_layer_backward(monkeypatch, scale)
    p = vanilla_problem
    report = check_model(p.model, p.x, p.targets, h0=p.h0)
    assert failing_names(report) == ["layer1.b_h"]


def test_check_model_catches_a_dropped_residual_term(monkeypatch):
    """The residual layer's backward without its dh_{t-1} += dh_t term: every gradient that flows
    back through time is wrong, including dh0, so the report must fail on them."""
    original = network.layer_backward

    def drop_residual(dh, cache, **kwargs):
        no_skip = cache._replace(config=dataclasses.replace(cache.config, skip="none"))
        return original(dh, no_skip, **kwargs)

    p = small_problem("mse", T=5, B=2, transition_depth=2, skip="residual")
    assert check_model(p.model, p.x, p.targets, loss="mse", h0=p.h0).passed  # control
    monkeypatch.setattr(network, "layer_backward", drop_residual)
    report = check_model(p.model, p.x, p.targets, loss="mse", h0=p.h0)
    failed = failing_names(report)
    assert "h0[0]" in failed and "layer1.W_hh" in failed and "layer1.W_h1" in failed
    assert not any(
        name.startswith("output.") for name in failed
    )  # the output MLP is not in the loop


@pytest.mark.parametrize("target", ["dx", "dh0"])
def test_check_model_catches_a_wrong_dx_or_dh0(vanilla_problem, monkeypatch, target):
    """dx and dh0 are checked too (rows "x" and "h0[0]"): catches a wrong input gradient."""

    def scale(result):
        return result._replace(**{target: getattr(result, target) * 1.01})

    plant_in_layer_backward(monkeypatch, scale)
    p = vanilla_problem
    report = check_model(p.model, p.x, p.targets, h0=p.h0)
    assert failing_names(report) == (["x"] if target == "dx" else ["h0[0]"])


def test_directional_and_sampled_checks_catch_planted_bugs(monkeypatch):
    """The cheap methods for large models: directional sees a transposed dW_hh through ⟨grad, v⟩,
    sampled sees a scaled bias gradient in whichever entries it draws."""
    p = small_problem("xent", T=5, B=2, H=6, num_layers=2)

    def plant(result):
        if result.grads["W_hh"].shape == (6, 6):
            result.grads["W_hh"] = result.grads["W_hh"].T.copy()
            result.grads["b_h"] = result.grads["b_h"] * 1.01
        return result

    for method in ("directional", "sampled"):
        assert check_model(
            p.model, p.x, p.targets, h0=p.h0, method=method, num_samples=5
        ).passed  # control
    plant_in_layer_backward(monkeypatch, plant)
    directional = check_model(p.model, p.x, p.targets, h0=p.h0, method="directional")
    assert directional.method == "directional"
    assert all(row.checked == 1 for row in directional.rows)
    assert failing_names(directional) == ["layer1.W_hh", "layer1.b_h", "layer2.W_hh", "layer2.b_h"]
    sampled = check_model(p.model, p.x, p.targets, h0=p.h0, method="sampled", num_samples=5)
    assert {"layer1.b_h", "layer2.b_h"} <= set(failing_names(sampled))
    assert sampled.rows[0].checked == 5


def test_check_model_restores_the_models_parameters():
    """Catches a check that leaves model.params swapped for its perturbed copies."""
    p = small_problem("xent", transition_depth=1)
    params = p.model.params
    before = {name: value.copy() for name, value in params.items()}
    check_model(p.model, p.x, p.targets, h0=p.h0)
    assert p.model.params is params
    assert all(np.array_equal(params[name], before[name]) for name in before)


def test_report_lists_every_array_with_its_verdict(vanilla_problem):
    """The printed table names every parameter, x and h0, and ends with the verdict."""
    p = vanilla_problem
    report = check_model(p.model, p.x, p.targets, h0=p.h0)
    text = str(report)
    for name in list(p.model.params) + ["x", "h0[0]"]:
        assert name in text
    assert text.splitlines()[-1].startswith("PASS")


def test_a_correct_gradient_of_a_strongly_curved_loss_passes():
    """A false alarm is a checker bug too: hierarchical-deep-transition-skip with weights 1.41 times
    their Glorot scale is correct but curved (|dh0| ~ 40, f' changing by 25% within 6e-3): at the
    fixed step eps=2e-3 alone the sixth-order stencil was off by 1.5e-5 relative; the checker must
    refine."""
    p = small_problem("xent", T=4, B=2, H=3)
    model = numrnn.presets.build("hierarchical-deep-transition-skip", 3, 3, 3, bias=0.1, seed=1)
    for value in model.params.values():
        if value.ndim == 2:
            value *= 1.41
    h0 = [0.5 * np.random.default_rng(2).standard_normal((2, 3)) for _ in range(2)]
    report = check_model(model, p.x, p.targets, h0=h0)
    assert report.passed, str(report)


# --------------------------------------------------------------------------- float32


def test_a_float32_gradient_check_warns_that_it_cannot_be_trusted():
    """Catches a float32 check that runs silently (its finite differences are good to ~1e-3)."""
    p = small_problem("xent", dtype=np.float32)
    with pytest.warns(GradcheckPrecisionWarning, match="float32"):
        report = check_model(p.model, p.x, p.targets, h0=p.h0)
    assert report.dtype == np.float32


def test_a_float64_gradient_check_does_not_warn(vanilla_problem, recwarn):
    p = vanilla_problem
    check_model(p.model, p.x, p.targets, h0=p.h0)
    assert not [w for w in recwarn if issubclass(w.category, GradcheckPrecisionWarning)]
