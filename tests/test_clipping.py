"""Gradient clipping: direction kept, norm exactly at the threshold, pre-clip norm always
reported."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numrnn.training.clipping import clip_by_global_norm, clip_by_value, global_norm


def random_grads(rng, scale=1.0, dtype=np.float64):
    return {
        "layer1.W_hh": (scale * rng.standard_normal((4, 4))).astype(dtype),
        "layer1.b_h": (scale * rng.standard_normal(4)).astype(dtype),
        "output.W_hy": (scale * rng.standard_normal((4, 3))).astype(dtype),
    }


def flat(grads):
    return np.concatenate([g.ravel() for g in grads.values()])


def test_global_norm_is_the_norm_of_all_entries():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert global_norm(grads) == 5.0  # sqrt(9 + 16)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(1e-3, 1e3), st.floats(1e-3, 1e2))
def test_clip_by_global_norm_keeps_direction_and_hits_the_threshold(seed, scale, max_norm):
    grads = random_grads(np.random.default_rng(seed), scale)
    before = flat(grads)
    norm_before = float(np.linalg.norm(before))
    returned = clip_by_global_norm(grads, max_norm)
    after = flat(grads)
    assert returned == pytest.approx(norm_before, rel=1e-12)  # the pre-clip norm is reported
    if norm_before > max_norm:
        assert np.linalg.norm(after) == pytest.approx(
            max_norm, rel=1e-14, abs=0
        )  # exactly c, up to rounding
        np.testing.assert_allclose(
            after, before * (max_norm / norm_before), rtol=1e-15
        )  # the same direction
        cosine = after @ before / (np.linalg.norm(after) * norm_before)
        assert cosine == pytest.approx(1.0, abs=1e-14)
    else:
        np.testing.assert_array_equal(after, before)  # below the threshold: untouched


def test_clip_by_global_norm_scales_in_place_float32():
    grads = random_grads(np.random.default_rng(0), scale=10.0, dtype=np.float32)
    arrays = dict(grads)
    norm = clip_by_global_norm(grads, 1.0)
    assert norm > 1.0
    for name in grads:
        assert grads[name] is arrays[name] and grads[name].dtype == np.float32
    assert global_norm(grads) == pytest.approx(1.0, rel=1e-6)


def test_clip_by_value_bounds_every_entry_and_reports_the_pre_clip_norm():
    grads = {"a": np.array([-7.0, -5.0, 0.5, 4.0, 9.0]), "b": np.array([[6.0, -1.0]])}
    expected_norm = math.sqrt(49 + 25 + 0.25 + 16 + 81 + 36 + 1)
    assert clip_by_value(grads, 5.0) == pytest.approx(expected_norm, rel=1e-15)
    np.testing.assert_array_equal(grads["a"], [-5.0, -5.0, 0.5, 4.0, 5.0])
    np.testing.assert_array_equal(grads["b"], [[5.0, -1.0]])


def test_non_finite_gradients_are_reported_not_scaled():
    grads = {"a": np.array([np.inf, 1.0]), "b": np.array([2.0])}
    assert clip_by_global_norm(grads, 1.0) == math.inf
    np.testing.assert_array_equal(grads["b"], [2.0])
    grads = {"a": np.array([np.nan, 1.0])}
    assert math.isnan(clip_by_global_norm(grads, 1.0))
    assert grads["a"][1] == 1.0


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_bad_thresholds_are_named(bad):
    grads = {"a": np.ones(2)}
    with pytest.raises(
        ValueError, match=rf"max_norm must be a positive finite number; got {bad!r}"
    ):
        clip_by_global_norm(grads, bad)
    with pytest.raises(ValueError, match=rf"limit must be a positive finite number; got {bad!r}"):
        clip_by_value(grads, bad)


def test_bad_arguments_are_type_errors():
    with pytest.raises(TypeError, match=r"max_norm must be a real number; got '1' of type str"):
        clip_by_global_norm({"a": np.ones(2)}, "1")
    with pytest.raises(
        TypeError, match=r"grads must be a non-empty dict of str to ndarray; got list"
    ):
        global_norm([np.ones(2)])
    with pytest.raises(
        TypeError, match=r"grads must be a non-empty dict of str to ndarray; got dict"
    ):
        clip_by_value({}, 5.0)
