"""Gradient-flow summaries: a linear RNN's closed form, finite differences, verdicts."""

import numpy as np
import pytest

import numrnn
from numrnn import core, diagnostics
from numrnn.params import layer_params


def linear_rnn(rho, H=6, seed=0):
    """h_t = x_t W_xh + h_{t-1} W_hh + b_h, W_hh = rho · orthogonal: all singular values rho."""
    return numrnn.DeepRNN(
        3, H, 2, activation="identity", init="orthogonal", spectral_radius=rho, seed=seed
    )


@pytest.mark.parametrize("rho", [0.8, 1.0, 1.5])
def test_linear_rnn_gradient_decays_like_rho_to_the_distance(rho):
    # Catches a ratio taken the wrong way round, a fit against t instead of T - t,
    # or norms off by one step.
    T = 60
    flow = diagnostics.gradient_flow(linear_rnn(rho), T)
    row = flow.grad_norms[-1]
    np.testing.assert_allclose(row / row[-1], rho ** np.arange(T - 1, -1, -1.0), rtol=1e-11)
    assert flow.ratio == pytest.approx(rho ** (T - 1), rel=1e-11)
    assert flow.rate == pytest.approx(rho, rel=1e-12)


@pytest.mark.parametrize("rho", [0.7, 1.3])
def test_span_norms_follow_rho_to_the_distance(rho):
    x = np.random.default_rng(1).standard_normal((25, 3, 3))
    norms = diagnostics.span_norms(linear_rnn(rho), x)
    np.testing.assert_allclose(norms, rho ** np.arange(25.0), rtol=1e-12)
    logs = diagnostics.span_norms(linear_rnn(rho), x, log=True)
    np.testing.assert_allclose(logs, np.arange(25.0) * np.log(rho), rtol=1e-12, atol=1e-13)


def test_span_jacobian_against_finite_differences_of_h_T():
    # A tanh deep transition: ‖∂h_T/∂h_t‖₂ from the product of step Jacobians equals the spectral
    # norm of the finite-difference Jacobian of h_T with respect to a perturbed h_t.
    model = numrnn.DeepRNN(3, 4, 2, transition_depth=2, skip="residual", seed=2, bias=0.1)
    rng = np.random.default_rng(3)
    T, B = 6, 2
    x = rng.standard_normal((T, B, 3))
    params, config = layer_params(model.params, 1), model.config.layers[0]
    _, cache = core.layer_forward(x, np.zeros((B, 4)), params, config)
    states = cache.states  # (T + 1, B, H): h_0 .. h_T
    expected = np.empty(T)
    eps = 1e-5
    for d in range(T):
        t = T - d  # perturb h_t, run steps t+1..T
        columns = []
        for k in range(4):
            plus, minus = states[t].copy(), states[t].copy()
            plus[:, k] += eps
            minus[:, k] -= eps
            if d == 0:
                columns.append((plus - minus) / (2 * eps))
                continue
            h_plus = core.layer_forward(x[t:], plus, params, config)[0][-1]
            h_minus = core.layer_forward(x[t:], minus, params, config)[0][-1]
            columns.append((h_plus - h_minus) / (2 * eps))  # (B, H): column k of ∂h_T/∂h_t
        jac = np.stack(columns, axis=-1)  # (B, H, H)
        expected[d] = np.linalg.norm(jac, ord=2, axis=(-2, -1)).mean()
    np.testing.assert_allclose(diagnostics.span_norms(model, x), expected, rtol=1e-8)


def test_vanishing_and_exploding_cases_get_their_verdicts():
    small = numrnn.DeepRNN(3, 8, 2, spectral_radius=0.5, seed=0)  # vanilla tanh, small W_hh
    assert diagnostics.gradient_flow(small, 100).verdict == "vanishing"
    assert diagnostics.gradient_flow(linear_rnn(1.5), 100).verdict == "exploding"
    assert diagnostics.gradient_flow(linear_rnn(1.0), 100).verdict == "stable"


def test_verdict_thresholds_are_per_step_rates():
    T = 101
    assert diagnostics.flow_verdict(0.94**100, T) == "vanishing"
    assert diagnostics.flow_verdict(0.96**100, T) == "stable"
    assert diagnostics.flow_verdict(1.06**100, T) == "exploding"
    assert diagnostics.flow_verdict(0.0, T) == "vanishing"
    assert diagnostics.flow_verdict(float("inf"), T) == "exploding"
    with pytest.raises(ValueError, match=r"ratio must be >= 0 \(a ratio of norms\); got -1.0"):
        diagnostics.flow_verdict(-1.0, T)
    with pytest.raises(ValueError, match=r"T must be >= 2; got 1"):
        diagnostics.flow_verdict(0.5, 1)


def test_ratio_in_the_log_domain_handles_zero_inf_and_extremes():
    assert diagnostics.gradient_ratio([1e-200, 1e200]) == 0.0  # below the float range
    assert diagnostics.log_gradient_ratio([1e-200, 1e200]) == pytest.approx(-400 * np.log(10))
    assert diagnostics.gradient_ratio([0.0, 1.0]) == 0.0
    assert diagnostics.gradient_ratio([np.inf, 1.0]) == np.inf
    assert diagnostics.gradient_ratio([3.0, 1.0, 1.5]) == pytest.approx(2.0)
    with pytest.raises(
        ValueError, match=r"norms\[-1\] \(the gradient at step T\) must be finite and > 0"
    ):
        diagnostics.gradient_ratio([1.0, 0.0])
    with pytest.raises(ValueError, match=r"norms must have shape \(T,\) with T >= 2"):
        diagnostics.gradient_ratio([1.0])


def test_decay_rate_skips_exact_zeros_and_rejects_inf():
    norms = 0.5 ** np.arange(9, -1, -1.0)
    norms[0] = 0.0
    assert diagnostics.decay_rate(norms) == pytest.approx(0.5, rel=1e-12)
    assert diagnostics.decay_rate([0.0, 0.0, 1.0]) == 0.0
    with pytest.raises(ValueError, match=r"norms must be finite for a fit; got 1 inf entries"):
        diagnostics.decay_rate([np.inf, 1.0])


def test_parameter_counts_add_up_and_split_by_name():
    model = numrnn.presets.build(
        "deep-transition-shortcut", 3, 5, 2, input_depth=1, output_depth=1, seed=0
    )
    counts = diagnostics.parameter_counts(model)
    assert counts["total"] == model.num_params()
    assert counts["input"] == 3 * 5 + 5 + 5 * 5  # W_x1, b_x1, W_xh
    assert counts["output"] == 5 * 5 + 5 + 5 * 2 + 2  # W_y1, b_y1, W_hy, b_y
    assert diagnostics.parameter_counts(model.config) == counts
    with pytest.raises(
        TypeError, match=r"model must be a numrnn.DeepRNN \(or a ModelConfig\); got int"
    ):
        diagnostics.parameter_counts(3)


def test_sequential_depth_counts_nonlinearities():
    build = numrnn.presets.build
    assert diagnostics.sequential_depth(build("vanilla", 3, 4, 2).config) == (1, 1)
    assert diagnostics.sequential_depth(build("hierarchical", 3, 4, 2).config) == (1, 2)
    assert diagnostics.sequential_depth(
        build("deep-transition", 3, 4, 2, transition_depth=4).config
    ) == (5, 1)
    assert diagnostics.sequential_depth(build("deep-transition-shortcut", 3, 4, 2).config) == (3, 3)
    assert diagnostics.sequential_depth(
        build("vanilla", 3, 4, 2, input_depth=2, output_depth=1)
    ) == (1, 4)


def test_summary_to_dict_is_strict_json():
    import json

    summary = diagnostics.summarize(linear_rnn(1.5), 40)
    data = summary.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["verdict"] == "exploding" and data["rate"] == pytest.approx(1.5)
    assert data["log10_ratio"] == pytest.approx(39 * np.log10(1.5))
    assert data["thresholds"] == {"vanishing_below": 0.95, "exploding_above": 1.05}


def test_jacobian_spectra_top_value_is_the_spectral_norm():
    model = numrnn.presets.build("deep-transition", 3, 4, 2, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    (spectra,) = diagnostics.jacobian_spectra(model, x)
    assert spectra.shape == (5, 2, 4)
    np.testing.assert_allclose(
        spectra[..., 0].mean(axis=1), diagnostics.jacobian_norms(model, x)[0], rtol=1e-12
    )
    assert (np.diff(spectra, axis=-1) <= 0).all()
