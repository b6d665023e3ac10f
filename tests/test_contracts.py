"""One name, one contract: the records the reading path returns, and two errors that named the
wrong thing (issue 9, and the two messages of issue 12 that live in model.py and layers.py).

Shape legend: T steps, B batch, D input size, H hidden size, L layers.
"""

from __future__ import annotations

import numpy as np
import pytest

import numrnn
from numrnn import core, layers, network, reference
from numrnn._checks import check_number
from numrnn.config import LayerConfig, LevelNames
from numrnn.params import layer_params
from numrnn.records import LayerGradients, ModelGradients
from numrnn.workspace import Workspace, scratch


def _stack(seed=0):
    model = numrnn.DeepRNN(3, 4, 2, num_layers=2, transition_depth=1, skip="shortcut", seed=seed)
    rng = np.random.default_rng(seed)
    return model, rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 2, 2))


def test_a_stacked_model_given_one_2d_h0_says_it_needs_one_state_per_layer():
    """Catches the old message, which blamed h0[0]'s shape when B happened to equal L: the user
    passed one (B, H) array to a 2-layer model and was told about the first row of it."""
    model, x, _ = _stack()
    with pytest.raises(
        ValueError,
        match=r"h0 must be None, a list of 2 arrays of shape \(B, H_l\) "
        r"\(one per layer\), or one \(L, B, H\) array with L=2; "
        r"got one array of shape \(2, 4\)",
    ):
        model.forward(x, np.zeros((2, 4)))


def test_a_stacked_model_takes_h0_as_one_l_b_h_array():
    """Catches an (L, B, H) h0 that is refused, or read in another order than the list."""
    model, x, _ = _stack()
    h0 = np.random.default_rng(1).standard_normal((2, 2, 4))
    y_array, _ = model.forward(x, h0)
    y_list, _ = model.forward(x, [h0[0], h0[1]])
    np.testing.assert_array_equal(y_array, y_list)


def test_a_misshapen_w_hh_is_named_not_w_xh():
    """Catches the old message: H was read from W_hh's columns, so a wrong W_hh made W_xh look
    wrong ("params['W_xh'] must have shape (2, 3); got (2, 4)")."""
    params = {"W_xh": np.zeros((2, 4)), "W_hh": np.zeros((4, 3)), "b_h": np.zeros(4)}
    with pytest.raises(
        ValueError,
        match=r"params\['W_hh'\] must have shape \(4, 4\) \(H=4 from b_h\); "
        r"got \(4, 3\)",
    ):
        layers.rnn_forward(np.zeros((3, 1, 2)), None, params)


def test_layer_backward_returns_one_type_from_core_layers_and_reference():
    """Catches the three contracts of before (a NamedTuple, a 3-tuple and a 4-tuple): the same
    operation now returns the same record, with the same values, from all three modules."""
    model, x, _ = _stack()
    config, params = model.config.layers[0], layer_params(model.params, 1)
    h0 = np.zeros((2, 4))
    dh = np.random.default_rng(2).standard_normal((5, 2, 4))
    _, cache = layers.layer_forward(x, h0, params, config)
    _, cache_ref = reference.layer_forward(x, h0, params, config)
    results = [
        core.layer_backward(dh, cache),
        layers.layer_backward(dh, cache),
        reference.layer_backward(dh, cache_ref),
    ]
    assert all(type(result) is LayerGradients for result in results)
    for result in results[1:]:
        dx, dh0, grads = result  # the CS231n triple
        np.testing.assert_allclose(dx, results[0].dx, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(dh0, results[0].dh0, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(result.dh_norms, results[0].dh_norms, rtol=1e-12)
        assert list(grads) == list(params)


def test_model_backward_returns_one_type_from_network_and_reference():
    model, x, targets = _stack()
    h0 = model.initial_state(2)
    y, _, cache = network.forward(model.params, model.config, x, h0)
    y_ref, _, cache_ref = reference.model_forward(model.params, model.config, x, h0)
    engine = network.backward(y - targets, cache)
    oracle = reference.model_backward(y_ref - targets, cache_ref)
    assert type(engine) is type(oracle) is ModelGradients
    for name in engine.grads:
        np.testing.assert_allclose(engine.grads[name], oracle.grads[name], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(engine.grad_norms, oracle.grad_norms, rtol=1e-12)


def test_level_names_is_one_record():
    config = LayerConfig(input_size=3, hidden_size=4, transition_depth=2, skip="shortcut")
    assert config.level_names(1) == LevelNames(weight="W_h1", bias="b_h1", shortcut=None)
    assert config.level_names(2) == LevelNames(weight="W_h2", bias="b_h2", shortcut="S_h2")
    assert config.level_names(3) == LevelNames(weight="W_hh", bias="b_h", shortcut="S_hh")
    plain = LayerConfig(input_size=3, hidden_size=4, transition_depth=2)
    assert plain.level_names(3) == LevelNames(weight="W_hh", bias="b_h", shortcut=None)


def test_network_functions_are_pure_outside_a_workspace():
    """Catches scratch memory leaking into the functions a user calls directly: a second
    forward would overwrite the first one's cache and outputs."""
    model, x, _ = _stack()
    h0 = model.initial_state(2)
    y1, _, cache1 = network.forward(model.params, model.config, x, h0)
    kept_y, kept_states = y1.copy(), cache1.layer_caches[0].states.copy()
    network.forward(model.params, model.config, -x, h0)
    np.testing.assert_array_equal(y1, kept_y)
    np.testing.assert_array_equal(cache1.layer_caches[0].states, kept_states)


def test_scratch_reuses_memory_only_inside_in_use_and_gives_each_request_its_own():
    ws = Workspace()
    with ws.in_use():
        first = scratch("core/states", (3, 2), np.float64)
        second = scratch("core/states", (3, 2), np.float64)  # layer 2's: its own memory
        temp = scratch("core/dh", (3, 2), np.float64, temporary=True)
        temp_again = scratch("core/dh", (3, 2), np.float64, temporary=True)
    assert not np.shares_memory(first, second) and np.shares_memory(temp, temp_again)
    with ws.in_use():
        assert np.shares_memory(first, scratch("core/states", (3, 2), np.float64))
    assert not np.shares_memory(first, scratch("core/states", (3, 2), np.float64))


def test_the_model_copies_dx_out_of_its_workspace():
    """Catches info.dx left in the workspace: the next step would overwrite it."""
    model, x, targets = _stack()
    _, _, info = model.loss_and_grads(x, targets, loss="mse")
    kept = info.dx.copy()
    model.loss_and_grads(-x, targets, loss="mse")
    np.testing.assert_array_equal(info.dx, kept)


@pytest.mark.parametrize(
    "kwargs, value, match",
    [
        (dict(low=0.0), 0, r"lr must be a finite number in \(0.0, inf\); got 0.0"),
        (
            dict(low=0.0, high=1.0, low_open=False),
            1.0,
            r"lr must be a finite number in \[0.0, 1.0\); got 1.0",
        ),
        (dict(positive=True), -2, r"lr must be a positive finite number; got -2"),
    ],
)
def test_check_number_names_the_interval(kwargs, value, match):
    with pytest.raises(ValueError, match=match):
        check_number(value, "lr", **kwargs)
