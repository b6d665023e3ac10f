"""The CS231n-style functional layer API: ``<kind>_forward(x, h0, params) -> (h, cache)`` and
``<kind>_backward(dh, cache) -> (dx, dh0, grads)``, depths read from the parameter names.

Shape legend: T steps, B batch, D input size, H hidden size, M MLP width.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import randomize_biases

import numrnn
from numrnn import layers, reference
from numrnn.params import layer_params

KINDS = {
    "rnn": (layers.rnn_forward, dict()),
    "rnn with a deep input": (layers.rnn_forward, dict(input_depth=2, mlp_width=5)),
    "deep_transition": (layers.deep_transition_forward, dict(transition_depth=3, mlp_width=5)),
    "residual": (layers.residual_forward, dict(transition_depth=2, skip="residual")),
    "shortcut": (
        layers.shortcut_forward,
        dict(transition_depth=2, skip="shortcut", mlp_width=3, input_depth=1),
    ),
}


def _layer(kwargs, seed=0, dtype=np.float64):
    model = numrnn.DeepRNN(3, 4, 2, seed=seed, dtype=dtype, **kwargs)
    randomize_biases(model, np.random.default_rng(seed))
    params = {name: value.copy() for name, value in layer_params(model.params, 1).items()}
    return params, model.config.layers[0]


@pytest.mark.parametrize("kind", list(KINDS))
def test_infer_layer_config_reads_depths_and_sizes_from_the_names(kind):
    """Catches a layer function that guesses q, p or M wrong from the params (it would then
    build different levels than the params describe)."""
    forward, kwargs = KINDS[kind]
    params, config = _layer(kwargs)
    inferred = layers.infer_layer_config(params, skip=config.skip)
    assert (
        inferred.input_size,
        inferred.hidden_size,
        inferred.transition_depth,
        inferred.input_depth,
    ) == (config.input_size, config.hidden_size, config.transition_depth, config.input_depth)
    assert inferred.width == config.width


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_equals_the_generic_layer_and_the_reference(kind):
    """<kind>_forward / layer_backward equal layers.layer_forward with the model's config and the
    naive per-step reference: catches a kind wired to the wrong skip or activation."""
    forward, kwargs = KINDS[kind]
    params, config = _layer(kwargs, seed=1)
    rng = np.random.default_rng(2)
    x, h0 = rng.standard_normal((5, 2, 3)), rng.standard_normal((2, 4))
    dh_up = rng.standard_normal((5, 2, 4))
    h, cache = forward(x, h0, params)
    h_generic, cache_generic = layers.layer_forward(x, h0, params, config)
    assert np.array_equal(h, h_generic)
    dx, dh0, grads = layers.layer_backward(dh_up, cache)
    h_ref, caches_ref = reference.layer_forward(x, h0, params, config)
    dx_ref, dh0_ref, grads_ref = reference.layer_backward(dh_up, caches_ref)
    np.testing.assert_allclose(h, h_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dx, dx_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dh0, dh0_ref, rtol=0, atol=1e-12)
    assert list(grads) == list(params)
    for name in grads:
        np.testing.assert_allclose(grads[name], grads_ref[name], rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("window", [1, 2, 4])
def test_layer_backward_window_equals_the_reference_window(window):
    """Truncated BPTT at the layer level: catches a cut at the wrong step (t % k == 0, t > 0)."""
    params, config = _layer(dict(transition_depth=1, skip="residual"), seed=3)
    rng = np.random.default_rng(4)
    x, h0, dh_up = (
        rng.standard_normal((7, 2, 3)),
        rng.standard_normal((2, 4)),
        rng.standard_normal((7, 2, 4)),
    )
    _, cache = layers.residual_forward(x, h0, params)
    dx, dh0, grads = layers.layer_backward(dh_up, cache, window=window)
    _, caches_ref = reference.layer_forward(x, h0, params, config)
    dx_ref, dh0_ref, grads_ref = reference.layer_backward(dh_up, caches_ref, window=window)
    np.testing.assert_allclose(dx, dx_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dh0, dh0_ref, rtol=0, atol=1e-12)
    for name in grads:
        np.testing.assert_allclose(grads[name], grads_ref[name], rtol=0, atol=1e-12, err_msg=name)


def test_backward_leaves_the_callers_dh_and_cache_alone():
    """layer_backward may not accumulate into the user's dh (the core can, for its own arrays):
    catches dh overwritten in place, and a cache changed so that a second backward differs."""
    params, _ = _layer(dict(transition_depth=2, skip="shortcut"), seed=5)
    rng = np.random.default_rng(6)
    x, dh_up = rng.standard_normal((6, 3, 3)), rng.standard_normal((6, 3, 4))
    saved = dh_up.copy()
    _, cache = layers.shortcut_forward(x, None, params)
    first = layers.shortcut_backward(dh_up, cache)
    second = layers.shortcut_backward(dh_up, cache)
    assert np.array_equal(dh_up, saved)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert all(np.array_equal(first[2][k], second[2][k]) for k in first[2])


def test_forward_leaves_params_and_inputs_alone_and_h0_none_is_zeros():
    params, _ = _layer(dict(transition_depth=1, input_depth=1), seed=7)
    saved = {k: v.copy() for k, v in params.items()}
    x = np.random.default_rng(8).standard_normal((4, 2, 3))
    x_saved = x.copy()
    h_none, _ = layers.deep_transition_forward(x, None, params)
    h_zero, _ = layers.deep_transition_forward(x, np.zeros((2, 4)), params)
    assert np.array_equal(h_none, h_zero)
    assert np.array_equal(x, x_saved) and all(np.array_equal(params[k], saved[k]) for k in saved)


def test_every_kind_has_one_backward():
    """The cache knows its config, so one backward serves every kind."""
    assert (
        layers.rnn_backward
        is layers.deep_transition_backward
        is layers.residual_backward
        is layers.shortcut_backward
        is layers.layer_backward
    )


def test_a_float32_layer_stays_float32():
    params, _ = _layer(dict(transition_depth=1, skip="residual"), dtype=np.float32)
    x = np.ones((3, 2, 3), dtype=np.float32)
    h, cache = layers.residual_forward(x, None, params)
    dx, dh0, grads = layers.residual_backward(np.ones((3, 2, 4), dtype=np.float32), cache)
    assert h.dtype == dx.dtype == dh0.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
