"""Step Jacobians ∂h_t/∂h_{t-1}: against finite differences, closed forms and special cases."""

import numpy as np
import pytest

import numrnn
from numrnn import core, diagnostics
from numrnn.params import layer_params

CONFIGS = [
    dict(),
    dict(transition_depth=2),
    dict(transition_depth=2, skip="residual", layer_skip=True),
    dict(transition_depth=2, skip="shortcut", mlp_width=3),
    dict(transition_depth=1, skip="shortcut", layer_skip=True, activation="sigmoid"),
    dict(input_depth=1, transition_depth=3, mlp_width=5, mlp_activation="sigmoid"),
]


@pytest.mark.parametrize("settings", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_step_jacobians_match_finite_differences(settings):
    # Catches any wrong term in the level-by-level chain rule (a missing skip,
    # a shortcut left out, a transposed weight): each column is a derivative.
    rng = np.random.default_rng(0)
    model = numrnn.DeepRNN(3, 4, 2, seed=1, bias=0.1, **settings)
    T, B = 3, 2
    x = rng.standard_normal((T, B, 3))
    h0 = [rng.standard_normal((B, 4))]
    jacobian = diagnostics.step_jacobians(model, x, h0)[0]
    assert jacobian.shape == (T, B, 4, 4)
    params, config = layer_params(model.params, 1), model.config.layers[0]
    _, cache = core.layer_forward(x, h0[0], params, config)
    eps = 1e-6
    for t in range(T):
        for k in range(4):
            plus, minus = cache.states[t].copy(), cache.states[t].copy()
            plus[:, k] += eps
            minus[:, k] -= eps
            h_plus = core.layer_forward(x[t : t + 1], plus, params, config)[0][0]
            h_minus = core.layer_forward(x[t : t + 1], minus, params, config)[0][0]
            numeric = (h_plus - h_minus) / (2 * eps)  # (B, H): ∂h_t[:, i]/∂h_{t-1}[:, k]
            np.testing.assert_allclose(jacobian[t, :, :, k], numeric, rtol=1e-7, atol=1e-9)


def test_vanilla_jacobian_is_diag_tanh_derivative_times_w_hh_transposed():
    # The textbook closed form J_t = diag(1 - h_t²) W_hhᵀ.
    rng = np.random.default_rng(2)
    model = numrnn.DeepRNN(3, 5, 2, seed=3, bias=0.2)
    x = rng.standard_normal((4, 2, 3))
    jacobian = diagnostics.step_jacobians(model, x)[0]
    _, cache = core.layer_forward(
        x, np.zeros((2, 5)), layer_params(model.params, 1), model.config.layers[0]
    )
    h = cache.states[1:]
    expected = (1 - h**2)[..., :, None] * model.params["layer1.W_hh"].T[None, None]
    np.testing.assert_allclose(jacobian, expected, rtol=1e-13, atol=1e-15)


def test_residual_layer_with_zero_transition_has_identity_jacobian():
    # h_t = h_{t-1} + φ(u_t) when W_hh = 0 and q = 0: ∂h_t/∂h_{t-1} = I exactly.
    model = numrnn.DeepRNN(3, 4, 2, skip="residual", seed=0)
    model.params["layer1.W_hh"][...] = 0
    x = np.random.default_rng(0).standard_normal((3, 2, 3))
    jacobian = diagnostics.step_jacobians(model, x)[0]
    assert np.array_equal(jacobian, np.broadcast_to(np.eye(4), jacobian.shape))
    np.testing.assert_allclose(diagnostics.jacobian_norms(model, x), 1.0, rtol=1e-12)


def test_jacobian_norms_shape_dtype_and_a_stack():
    model = numrnn.DeepRNN(3, 6, 2, num_layers=3, transition_depth=1, dtype=np.float32, seed=0)
    x = np.random.default_rng(0).standard_normal((7, 2, 3)).astype(np.float32)
    norms = diagnostics.jacobian_norms(model, x)
    assert norms.shape == (3, 7)
    assert norms.dtype == np.float32
    assert (norms > 0).all()


def test_step_jacobians_check_their_input():
    model = numrnn.DeepRNN(3, 4, 2, seed=0)
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, D\).*D=3.*got \(2, 2, 5\)"):
        diagnostics.step_jacobians(model, np.zeros((2, 2, 5)))
