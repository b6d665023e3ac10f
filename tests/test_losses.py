"""Losses against naive formulas, their stability at huge logits, their gradients against
finite differences, ignored targets and mask weights.

Shape legend: T steps, B batch, O output size.
"""

from __future__ import annotations

import numpy as np
import pytest

from numrnn import losses
from numrnn.gradcheck import check_gradients

ATOL = 1e-12


def _logits(rng, T=4, B=3, O=5, scale=2.0):
    return scale * rng.standard_normal((T, B, O))


def _naive_xent(y, targets, mask=None):
    """-log softmax(y)[target], averaged over counted entries, one entry at a time."""
    total, weight = 0.0, 0.0
    for t in range(y.shape[0]):
        for b in range(y.shape[1]):
            w = 1.0 if mask is None else mask[t, b]
            if targets[t, b] < 0:
                continue
            p = np.exp(y[t, b]) / np.sum(np.exp(y[t, b]))
            total += -w * np.log(p[targets[t, b]])
            weight += w
    return total / weight


def test_xent_equals_the_naive_negative_log_softmax(rng):
    """Catches a wrong sign, a mean over all entries instead of the counted ones, or a log-sum-exp
    shift that is not added back."""
    y = _logits(rng)
    targets = rng.integers(-1, 5, size=(4, 3))
    targets[0, 0] = 2
    mask = rng.uniform(0.2, 2.0, size=(4, 3))
    assert abs(losses.softmax_cross_entropy(y, targets)[0] - _naive_xent(y, targets)) <= ATOL
    assert (
        abs(losses.softmax_cross_entropy(y, targets, mask)[0] - _naive_xent(y, targets, mask))
        <= ATOL
    )


def test_xent_ignores_entries_whose_target_is_minus_one(rng):
    """Changing logits where the target is -1 changes neither the loss nor any gradient, and the
    gradient there is exactly 0: catches -1 used as an index (the last class) or counted in the
    mean."""
    y = _logits(rng)
    targets = rng.integers(0, 5, size=(4, 3))
    targets[1, 2] = targets[3, 0] = -1
    loss, dy = losses.softmax_cross_entropy(y, targets)
    y_changed = y.copy()
    y_changed[1, 2] += 7.0
    y_changed[3, 0, 4] -= 3.0
    loss_changed, dy_changed = losses.softmax_cross_entropy(y_changed, targets)
    assert loss == loss_changed
    assert np.all(dy[1, 2] == 0) and np.all(dy[3, 0] == 0)
    assert np.array_equal(dy, dy_changed)
    kept = targets >= 0
    assert (
        abs(loss - losses.softmax_cross_entropy(y[kept][:, None], targets[kept][:, None])[0])
        <= ATOL
    )


def test_xent_is_stable_at_logits_of_1e4():
    """exp(1e4) overflows: catches a softmax computed without the log-sum-exp shift. The loss
    of logits (c, c - 1) with target 1 is 1 + log(1 + e^-1) whatever c is."""
    y = np.array([[[1e4, 1e4 - 1.0], [-1e4, -1e4 - 1.0]]])  # (T, B, O) = (1, 2, 2)
    loss, dy = losses.softmax_cross_entropy(y, np.array([[1, 1]]))
    expected = 1.0 + np.log1p(np.exp(-1.0))
    assert np.isfinite(loss) and np.all(np.isfinite(dy))
    assert abs(loss - expected) <= 1e-12
    np.testing.assert_allclose(dy.sum(axis=-1), 0.0, atol=1e-15)  # softmax - onehot sums to 0


def test_mse_and_its_mask_equal_the_naive_formula(rng):
    """Σ w (y - t)² / (O Σ w): catches a missing factor O, a mask applied to the denominator only,
    or a sum instead of a mean."""
    y, targets = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))
    assert abs(losses.mean_squared_error(y, targets)[0] - np.mean((y - targets) ** 2)) <= ATOL
    mask = rng.uniform(0.0, 2.0, size=(4, 3))
    expected = np.sum(mask[..., None] * (y - targets) ** 2) / (2 * mask.sum())
    assert abs(losses.mean_squared_error(y, targets, mask)[0] - expected) <= ATOL


def test_bce_equals_the_naive_formula_for_moderate_logits(rng):
    """-(t log σ(y) + (1 - t) log(1 - σ(y))), mean: catches softplus(y) - t·y with a sign slip."""
    y = _logits(rng, O=3)
    targets = rng.uniform(0, 1, size=y.shape)
    s = 1 / (1 + np.exp(-y))
    expected = np.mean(-(targets * np.log(s) + (1 - targets) * np.log(1 - s)))
    assert abs(losses.sigmoid_binary_cross_entropy(y, targets)[0] - expected) <= ATOL


def test_bce_is_stable_at_logits_of_plus_minus_1e3():
    """log(σ(-1e3)) is -inf in floats: catches a BCE computed from probabilities. Each confidently
    wrong entry costs exactly |y| = 1e3, each right one 0, and the gradient is σ(y) - t."""
    y = np.array([[[1e3, -1e3, 1e3, -1e3]]])
    targets = np.array([[[1.0, 0.0, 0.0, 1.0]]])
    loss, dy = losses.sigmoid_binary_cross_entropy(y, targets)
    assert np.isfinite(loss) and np.all(np.isfinite(dy))
    assert loss == pytest.approx(2 * 1e3 / 4, rel=1e-15)
    np.testing.assert_allclose(dy, np.array([[[0.0, 0.0, 1.0, -1.0]]]) / 4, rtol=0, atol=1e-15)


@pytest.mark.parametrize("name", ["xent", "mse", "bce"])
@pytest.mark.parametrize("use_mask", [False, True])
def test_each_loss_gradient_matches_finite_differences(rng, name, use_mask):
    """dy against sixth-order central differences at 1e-7: catches a missing 2 in the MSE gradient,
    a gradient normalised by a different total than the loss, a mask applied twice."""
    y = _logits(rng, O=3, scale=1.5)
    if name == "xent":
        targets = rng.integers(-1, 3, size=(4, 3))
        targets[0, 0] = 1
    else:
        targets = rng.standard_normal(y.shape) if name == "mse" else rng.uniform(0, 1, size=y.shape)
    mask = rng.uniform(0.1, 2.0, size=(4, 3)) if use_mask else None
    _, dy = losses.compute_loss(name, y, targets, mask)
    report = check_gradients(
        lambda p: losses.compute_loss(name, p["y"], targets, mask)[0],
        {"y": y},
        {"y": dy},
        method="full",
    )
    assert report.passed, str(report)


@pytest.mark.parametrize("name", ["xent", "mse", "bce"])
def test_a_mask_weight_of_two_counts_a_row_twice(rng, name):
    """A weight is a multiplicity: mask 2 on row 0 equals the batch with row 0 repeated. Catches a
    weighted numerator over an unweighted denominator."""
    y = _logits(rng, T=3, B=2, O=3)
    targets = (
        rng.integers(0, 3, size=(3, 2)) if name == "xent" else rng.uniform(0, 1, size=(3, 2, 3))
    )
    mask = np.array([[2.0, 1.0]] * 3)
    loss, dy = losses.compute_loss(name, y, targets, mask)
    loss_rep, dy_rep = losses.compute_loss(name, y[:, [0, 0, 1]], targets[:, [0, 0, 1]])
    assert abs(loss - loss_rep) <= ATOL
    np.testing.assert_allclose(dy[:, 0], dy_rep[:, 0] + dy_rep[:, 1], rtol=0, atol=ATOL)
    np.testing.assert_allclose(dy[:, 1], dy_rep[:, 2], rtol=0, atol=ATOL)


def test_xent_mask_zero_is_the_same_as_target_minus_one(rng):
    """Two ways to not count an entry must agree exactly."""
    y = _logits(rng)
    targets = rng.integers(0, 5, size=(4, 3))
    mask = np.ones((4, 3))
    mask[2, 1] = 0.0
    ignored = targets.copy()
    ignored[2, 1] = -1
    loss_mask, dy_mask = losses.softmax_cross_entropy(y, targets, mask)
    loss_ignored, dy_ignored = losses.softmax_cross_entropy(y, ignored)
    assert loss_mask == loss_ignored
    assert np.array_equal(dy_mask == 0, dy_ignored == 0)
    np.testing.assert_allclose(dy_mask, dy_ignored, rtol=0, atol=1e-15)


@pytest.mark.parametrize("name", ["xent", "mse", "bce"])
def test_losses_keep_float32(rng, name):
    """Catches a loss or gradient upcast to float64 on a float32 model."""
    y = _logits(rng, O=3).astype(np.float32)
    targets = (
        rng.integers(0, 3, size=(4, 3))
        if name == "xent"
        else rng.uniform(0, 1, size=y.shape).astype(np.float32)
    )
    loss, dy = losses.compute_loss(name, y, targets, np.ones((4, 3)))
    assert np.asarray(loss).dtype == np.float32 and dy.dtype == np.float32


def _is_subnormal(a):
    return (a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny)


@pytest.mark.parametrize("dtype, spread", [(np.float32, 120.0), (np.float64, 800.0)])
@pytest.mark.parametrize("use_mask", [False, True])
def test_xent_dy_holds_no_subnormal_and_stays_exact_when_the_softmax_underflows(
    rng, dtype, spread, use_mask
):
    """Catches subnormal floats in dy (they make the output layer's backward tens of times slower)
    and a cure that costs accuracy: probabilities far below the dtype's precision may move, but the
    loss and dy must equal an exact float64 log-sum-exp (or, at float64, a long-double one)."""
    T, B, O = 3, 4, 50
    y = rng.uniform(-spread, 0.0, size=(T, B, O))
    y[..., 0] = 0.0  # one large logit per row: the rest underflow
    targets = rng.integers(0, O, size=(T, B))
    mask = rng.uniform(1e-3, 2.0, size=(T, B)).astype(dtype) if use_mask else None
    value, dy = losses.softmax_cross_entropy(y.astype(dtype), targets, mask)
    assert not _is_subnormal(dy).any()

    exact = y.astype(np.longdouble)  # the reference: no floor, more precision
    w = np.ones((T, B), np.longdouble) if mask is None else mask.astype(np.longdouble)
    log_norm = np.log(np.exp(exact).sum(axis=-1))  # max is 0 in every row
    picked = np.take_along_axis(exact, targets[..., None], axis=-1)[..., 0]
    expected_loss = float((w * (log_norm - picked)).sum() / w.sum())
    expected_dy = np.exp(exact - log_norm[..., None]) * (w / w.sum())[..., None]
    np.put_along_axis(
        expected_dy,
        targets[..., None],
        np.take_along_axis(expected_dy, targets[..., None], -1) - (w / w.sum())[..., None],
        axis=-1,
    )
    eps = float(np.finfo(dtype).eps)
    assert float(value) == pytest.approx(expected_loss, rel=10 * eps)
    np.testing.assert_allclose(
        dy,
        expected_dy.astype(np.float64),
        rtol=10 * eps,
        atol=10 * eps * float(np.abs(expected_dy).max()),
    )


def test_mse_flushes_subnormal_gradients():
    """Catches an mse gradient that keeps subnormal entries: 2 (y - t) / N of a difference of
    1e-37."""
    y = np.zeros((2, 3, 4), dtype=np.float32)
    targets = np.zeros_like(y)
    targets[1, 1, 1] = np.float32(1e-37)  # normal; 2 · 1e-37 / 24 is not
    _, dy = losses.mean_squared_error(y, targets)
    assert not _is_subnormal(dy).any() and dy[1, 1, 1] == 0
