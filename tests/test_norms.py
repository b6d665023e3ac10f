"""Gradient norms never underflow (issue 12): numrnn.norms, the core's ‖∂loss/∂h_t‖, global_norm.

The bug these catch: a norm computed as sqrt(Σ v²) reports 0 once every entry of v is below
sqrt(tiny) (1.5e-154 in float64, 1.1e-19 in float32), and inf above sqrt(max), while the
gradient itself is a perfectly normal float. Vanishing gradients are what the norms exist to show.
"""

import numpy as np
import pytest

from numrnn import presets, reference
from numrnn.losses import compute_loss
from numrnn.norms import norms_from_squares, reliable_squares_floor, scaled_norm
from numrnn.training.clipping import global_norm

RTOL = {np.float64: 1e-12, np.float32: 1e-6}


@pytest.mark.parametrize("exponent", [-1070, -1000, -600, -100, 0, 300, 1000])
def test_scaled_norm_is_exact_under_power_of_two_scaling(exponent):
    """‖2^k v‖ = 2^k ‖v‖ exactly (powers of two scale without rounding), from 1e-322 to 1e301."""
    v = np.random.default_rng(0).standard_normal((7, 5))
    expected = float(np.sqrt(np.dot(v.ravel(), v.ravel())))
    scaled = np.ldexp(v, exponent)
    got = scaled_norm(scaled)
    assert got > 0 and np.isfinite(got)
    tolerance = 1e-12 if exponent >= -1000 else 1e-3  # near 1e-322 the entries are subnormal
    assert got == pytest.approx(np.ldexp(expected, exponent), rel=tolerance)


def test_plain_sum_of_squares_would_have_reported_zero():
    """The precondition that makes the tests above meaningful: the naive formula fails there."""
    v = np.ldexp(np.random.default_rng(0).standard_normal(50), -600)
    assert np.sqrt(np.dot(v, v)) == 0.0
    assert scaled_norm(v) > 0.0


def test_scaled_norm_edge_values():
    assert scaled_norm(np.zeros(4)) == 0.0
    assert scaled_norm(np.array([1.0, np.inf])) == np.inf
    assert np.isnan(scaled_norm(np.array([1.0, np.nan])))
    assert scaled_norm(np.array([3.0]), np.array([[4.0]])) == pytest.approx(5.0, rel=1e-15)
    assert scaled_norm() == 0.0


def test_norms_from_squares_keeps_reliable_sums_and_redoes_the_rest():
    rows = np.stack([np.full(4, 3.0), np.full(4, 1e-200), np.zeros(4), np.full(4, 1e200)])
    squares = np.einsum("ti,ti->t", rows, rows)  # 36, 0 (underflow), 0, inf
    norms = norms_from_squares(squares, rows)
    assert norms[0] == 6.0  # the fast value, untouched
    assert norms[1] == pytest.approx(2e-200, rel=1e-15)
    assert norms[2] == 0.0
    assert norms[3] == pytest.approx(2e200, rel=1e-15)
    assert reliable_squares_floor(4, np.float64) == pytest.approx(
        4 * 2.2250738585072014e-308 / 2.220446049250313e-16
    )


def _halving_linear_rnn(dtype, T):
    """Linear RNN whose recurrent matrix is 0.5 × a permutation: ‖dh_{t-1}‖ = ‖dh_t‖ / 2 exactly."""
    model = presets.vanilla(3, 6, 2, activation="identity", seed=0, dtype=dtype)
    model.params["layer1.W_hh"][...] = (
        0.5 * np.eye(6, dtype=dtype)[np.random.default_rng(1).permutation(6)]
    )
    x = np.random.default_rng(2).standard_normal((T, 4, 3)).astype(dtype)
    targets = np.full((T, 4), -1)
    targets[-1] = 1  # the loss on the last step only
    return model, x, targets


@pytest.mark.parametrize("dtype, T", [(np.float64, 2000), (np.float32, 400)])
def test_core_grad_norms_follow_the_exact_halving_down_to_the_smallest_normal(dtype, T):
    model, x, targets = _halving_linear_rnn(dtype, T)
    _, _, info = model.loss_and_grads(x, targets, loss="xent")
    norms = info.grad_norms[0].astype(np.float64)  # (T,)
    distance = np.arange(T - 1, -1, -1)  # T - t for t = 1..T
    expected = np.ldexp(norms[-1], -distance)  # ‖dh_T‖ · 2^-(T-t), exact
    normal = expected >= np.finfo(dtype).tiny
    assert normal.sum() > 100 and expected[normal].min() < 1e-30  # deep into the old underflow
    np.testing.assert_allclose(norms[normal], expected[normal], rtol=RTOL[dtype], atol=0)


def test_core_grad_norms_equal_the_reference_on_a_vanishing_vanilla_rnn():
    """The repro: vanilla tanh RNN, T = 2000, float64: grad_norms[0, 0] was exactly 0."""
    T = 2000
    model = presets.vanilla(3, 8, 2, seed=0)
    x = np.random.default_rng(1).standard_normal((T, 2, 3))
    targets = np.full((T, 2), -1)
    targets[-1] = 1
    _, _, info = model.loss_and_grads(x, targets, loss="xent")
    assert 0 < np.abs(info.dx[0]).max() < 1e-200  # a gradient far below sqrt(tiny)
    h0 = [np.zeros((2, 8))]
    y, _, cache = reference.model_forward(model.params, model.config, x, h0)
    _, dy = compute_loss("xent", y, targets, None)
    *_, norms_ref = reference.model_backward(dy, cache)
    assert info.grad_norms[0, 0] > 0
    np.testing.assert_allclose(info.grad_norms, norms_ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("exponent", [-140, 0, 120])
def test_global_norm_neither_underflows_nor_overflows(dtype, exponent):
    rng = np.random.default_rng(0)
    base = {"a": rng.standard_normal((5, 3)), "b": rng.standard_normal(4)}
    expected = np.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in base.values()))
    info = np.finfo(dtype)
    k = max(min(exponent, info.maxexp - 4), info.minexp + 4)  # stay inside the normal range
    grads = {name: np.ldexp(g, k).astype(dtype) for name, g in base.items()}
    got = global_norm(grads)
    tol = RTOL[dtype] * 10
    assert got == pytest.approx(np.ldexp(expected, k), rel=tol)
