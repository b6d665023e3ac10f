"""Every user-input error: its type, and a message naming the argument, the rule and the value.

Each case catches a specific regression: a check that disappears (the input then fails deep
inside NumPy with an IndexError or a broadcasting error, or worse, silently computes), or a
message that stops telling the user which argument was wrong and what came instead. Cases
marked xfail are ugly errors found in the library (reported to the lead); they state the
clear error the library should give.
"""

from __future__ import annotations

import numpy as np
import pytest

import numrnn
from numrnn import layers, losses, presets
from numrnn.gradcheck import check_gradients, check_model
from numrnn.params import layer_params


def model(**kwargs):
    return numrnn.DeepRNN(3, 4, 2, seed=0, **kwargs)


X = np.zeros((5, 2, 3))  # (T, B, D) = (5, 2, 3)
TARGETS = np.zeros((5, 2), dtype=int)


def raises(exception, match, call):
    with pytest.raises(exception, match=match):
        call()


# --------------------------------------------------------------------------- x, h0, targets, mask


INPUT_CASES = {
    "x not an array": (
        TypeError,
        r"x must be a numpy array of shape \(T, B, D\); got list",
        lambda: model().forward(X.tolist()),
    ),
    "x wrong ndim": (
        ValueError,
        r"x must have 3 dimensions \(T, B, D\); got 2 \(shape \(5, 3\)\)",
        lambda: model().forward(np.zeros((5, 3))),
    ),
    "x wrong D": (
        ValueError,
        r"x must have shape \(T, B, D\) .*D=3.*got \(5, 2, 4\)",
        lambda: model().forward(np.zeros((5, 2, 4))),
    ),
    "x empty T": (
        ValueError,
        r"x must have shape \(T, B, D\) with T >= 1.*got \(0, 2, 3\)",
        lambda: model().forward(np.zeros((0, 2, 3))),
    ),
    "x wrong dtype": (
        TypeError,
        r"x must have dtype float64 .*got float32",
        lambda: model().forward(X.astype(np.float32)),
    ),
    "x int dtype": (
        TypeError,
        r"x must have dtype float64 .*got int64",
        lambda: model().forward(np.zeros((5, 2, 3), dtype=np.int64)),
    ),
    "x float64 into float32 model": (
        TypeError,
        r"x must have dtype float32 .*never casts silently.*got float64",
        lambda: model(dtype=np.float32).forward(X),
    ),
    "x NaN": (
        ValueError,
        r"x must be finite; got 1 NaN or inf entries",
        lambda: model().forward(np.where(np.arange(30).reshape(5, 2, 3) == 7, np.nan, X)),
    ),
    "x inf in loss_and_grads": (
        ValueError,
        r"x must be finite; got 2 NaN or inf entries",
        lambda: model().loss_and_grads(
            np.where(np.arange(30).reshape(5, 2, 3) < 2, np.inf, X), TARGETS
        ),
    ),
    "h0 wrong shape": (
        ValueError,
        r"h0\[0\] must have shape \(B, H\) = \(2, 4\) for layer 1; got \(2, 5\)",
        lambda: model().forward(X, [np.zeros((2, 5))]),
    ),
    "h0 wrong batch": (
        ValueError,
        r"h0\[0\] must have shape \(B, H\) = \(2, 4\) for layer 1; got \(3, 4\)",
        lambda: model().forward(X, np.zeros((3, 4))),
    ),
    "h0 wrong count": (
        ValueError,
        r"h0 must be None or one \(B, H\) array per layer \(2 layers\); got list of length 1",
        lambda: model(num_layers=2).forward(X, [np.zeros((2, 4))]),
    ),
    "h0 second layer wrong": (
        ValueError,
        r"h0\[1\] must have shape \(B, H\) = \(2, 3\) for layer 2; got \(2, 4\)",
        lambda: model(layers=[{}, {"hidden_size": 3}]).forward(X, [np.zeros((2, 4))] * 2),
    ),
    "h0 wrong dtype": (
        TypeError,
        r"h0\[0\] must have dtype float64.*got float32",
        lambda: model().forward(X, [np.zeros((2, 4), dtype=np.float32)]),
    ),
    "h0 NaN": (
        ValueError,
        r"h0\[0\] must be finite",
        lambda: model().forward(X, [np.full((2, 4), np.nan)]),
    ),
    "xent target == O": (
        ValueError,
        r"targets for loss='xent' must be class indices in \[0, 2\) or -1 .*got 2",
        lambda: model().loss_and_grads(X, np.full((5, 2), 2)),
    ),
    "xent target -2": (
        ValueError,
        r"targets for loss='xent' must be class indices in \[0, 2\) or -1 .*got -2",
        lambda: model().loss_and_grads(X, np.where(np.eye(5, 2) > 0, -2, 0)),
    ),
    "xent float targets": (
        TypeError,
        r"targets for loss='xent' must have an integer dtype .*got float64",
        lambda: model().loss_and_grads(X, np.zeros((5, 2))),
    ),
    "xent targets wrong shape": (
        ValueError,
        r"targets for loss='xent' must have shape \(T, B\) = \(5, 2\); got \(5, 3\)",
        lambda: model().loss_and_grads(X, np.zeros((5, 3), dtype=int)),
    ),
    "xent targets (T, B, O)": (
        ValueError,
        r"targets for loss='xent' must have shape \(T, B\) = \(5, 2\); got \(5, 2, 2\)",
        lambda: model().loss_and_grads(X, np.zeros((5, 2, 2), dtype=int)),
    ),
    "xent nothing counts": (
        ValueError,
        r"targets has no entry that counts",
        lambda: model().loss_and_grads(X, np.full((5, 2), -1)),
    ),
    "mse targets wrong shape": (
        ValueError,
        r"targets for loss='mse' must have shape \(T, B, O\) = \(5, 2, 2\); got \(5, 2, 3\)",
        lambda: model().loss_and_grads(X, np.zeros((5, 2, 3)), loss="mse"),
    ),
    "mse targets wrong dtype": (
        TypeError,
        r"targets must have dtype float64 .*got float32",
        lambda: model().loss_and_grads(X, np.zeros((5, 2, 2), np.float32), loss="mse"),
    ),
    "mse targets NaN": (
        ValueError,
        r"targets must be finite",
        lambda: model().loss_and_grads(X, np.full((5, 2, 2), np.nan), loss="mse"),
    ),
    "bce targets above 1": (
        ValueError,
        r"targets for loss='bce' must lie in \[0, 1\]",
        lambda: model().loss_and_grads(X, np.full((5, 2, 2), 1.5), loss="bce"),
    ),
    "bce targets below 0": (
        ValueError,
        r"targets for loss='bce' must lie in \[0, 1\]",
        lambda: model().loss_and_grads(X, np.full((5, 2, 2), -0.5), loss="bce"),
    ),
    "mask wrong shape": (
        ValueError,
        r"mask must have shape \(T, B\) = \(5, 2\); got \(2, 5\)",
        lambda: model().loss_and_grads(X, TARGETS, mask=np.ones((2, 5))),
    ),
    "mask negative": (
        ValueError,
        r"mask must hold finite weights >= 0",
        lambda: model().loss_and_grads(X, TARGETS, mask=-np.ones((5, 2))),
    ),
    "mask not numeric": (
        TypeError,
        r"mask must be boolean or numeric; got dtype <U1",
        lambda: model().loss_and_grads(X, TARGETS, mask=np.full((5, 2), "a")),
    ),
    "mask all zero": (
        ValueError,
        r"mask has no entry that counts",
        lambda: model().loss_and_grads(X, np.zeros((5, 2, 2)), loss="mse", mask=np.zeros((5, 2))),
    ),
    "unknown loss": (
        ValueError,
        r"loss must be one of \['bce', 'mse', 'xent'\]; got 'nll'",
        lambda: model().loss_and_grads(X, TARGETS, loss="nll"),
    ),
    "bptt_window 0": (
        ValueError,
        r"bptt_window must be >= 1; got 0",
        lambda: model().loss_and_grads(X, TARGETS, bptt_window=0),
    ),
    "bptt_window float": (
        TypeError,
        r"bptt_window must be an integer; got 2.0",
        lambda: model().loss_and_grads(X, TARGETS, bptt_window=2.0),
    ),
    "need_dx not bool": (
        TypeError,
        r"need_dx must be True or False; got 1",
        lambda: model().loss_and_grads(X, TARGETS, need_dx=1),
    ),
}


@pytest.mark.parametrize("case", list(INPUT_CASES))
def test_inputs_are_checked_at_the_public_edge(case):
    raises(*INPUT_CASES[case])


# ------------------------------------------------------------------------ params edited by the user


def _edited(edit):
    m = model(transition_depth=1)
    edit(m.params)
    return m


PARAMS_CASES = {
    "missing key": (
        ValueError,
        r"model.params is missing \['layer1.W_hh'\]",
        lambda p: p.pop("layer1.W_hh"),
    ),
    "unexpected key": (
        ValueError,
        r"model.params has unexpected keys \['layer1.W_hx'\]",
        lambda p: p.__setitem__("layer1.W_hx", np.zeros((4, 4))),
    ),
    "misshapen key": (
        ValueError,
        r"model.params\['layer1.W_h1'\] must have shape \(4, 4\); got \(4, 5\)",
        lambda p: p.__setitem__("layer1.W_h1", np.zeros((4, 5))),
    ),
    "wrong dtype": (
        TypeError,
        r"model.params\['output.b_y'\] must have dtype float64; got float32",
        lambda p: p.__setitem__("output.b_y", np.zeros(2, np.float32)),
    ),
    "not an array": (
        TypeError,
        r"model.params\['layer1.b_h'\] must be a numpy array; got list",
        lambda p: p.__setitem__("layer1.b_h", [0.0] * 4),
    ),
    "NaN": (
        ValueError,
        r"model.params\['layer1.W_xh'\] must be finite",
        lambda p: p["layer1.W_xh"].__setitem__((0, 0), np.nan),
    ),
    "inf": (
        ValueError,
        r"model.params\['layer1.b_h1'\] must be finite",
        lambda p: p["layer1.b_h1"].__setitem__(1, np.inf),
    ),
}


@pytest.mark.parametrize("case", list(PARAMS_CASES))
@pytest.mark.parametrize("call", ["forward", "loss_and_grads"])
def test_edited_params_are_checked_at_every_call(case, call):
    exception, match, edit = PARAMS_CASES[case]
    m = _edited(edit)
    run = (lambda: m.forward(X)) if call == "forward" else (lambda: m.loss_and_grads(X, TARGETS))
    raises(exception, match, run)


# --------------------------------------------------------------------------- building a model


BUILD_CASES = {
    "unknown architecture": (
        ValueError,
        r"name must be an architecture, one of \['vanilla', .*\]; got 'lstm'",
        lambda: presets.build("lstm", 3, 4, 2),
    ),
    "unknown activation": (
        ValueError,
        r"activation must be one of \['identity', 'relu', 'sigmoid', 'tanh'\]; got 'gelu'",
        lambda: model(activation="gelu"),
    ),
    "unknown mlp_activation": (
        ValueError,
        r"mlp_activation must be one of .*; got 'gelu'",
        lambda: model(mlp_activation="gelu"),
    ),
    "unknown init": (
        ValueError,
        r"init must be one of \['identity', 'orthogonal', 'xavier'\]; got 'he'",
        lambda: model(init="he"),
    ),
    "unknown skip": (
        ValueError,
        r"skip must be one of \['none', 'residual', 'shortcut'\]; got 'dense'",
        lambda: model(skip="dense"),
    ),
    "skip not a string": (TypeError, r"skip must be a string.*got None", lambda: model(skip=None)),
    "transition_depth < 0": (
        ValueError,
        r"transition_depth must be >= 0; got -1",
        lambda: model(transition_depth=-1),
    ),
    "input_depth < 0": (
        ValueError,
        r"input_depth must be >= 0; got -2",
        lambda: model(input_depth=-2),
    ),
    "output_depth < 0": (
        ValueError,
        r"output_depth must be >= 0; got -1",
        lambda: model(output_depth=-1),
    ),
    "hidden_size 0": (
        ValueError,
        r"hidden_size must be >= 1; got 0",
        lambda: numrnn.DeepRNN(3, 0, 2),
    ),
    "hidden_size -3": (
        ValueError,
        r"hidden_size must be >= 1; got -3",
        lambda: numrnn.DeepRNN(3, -3, 2),
    ),
    "hidden_size 2.5": (
        TypeError,
        r"hidden_size must be an integer; got 2.5 of type float",
        lambda: numrnn.DeepRNN(3, 2.5, 2),
    ),
    "hidden_size True": (
        TypeError,
        r"hidden_size must be an integer; got True of type bool",
        lambda: numrnn.DeepRNN(3, True, 2),
    ),
    "input_size 0": (
        ValueError,
        r"input_size must be >= 1; got 0",
        lambda: numrnn.DeepRNN(0, 4, 2),
    ),
    "output_size 0": (
        ValueError,
        r"output_size must be >= 1; got 0",
        lambda: numrnn.DeepRNN(3, 4, 0),
    ),
    "num_layers 0": (ValueError, r"num_layers must be >= 1; got 0", lambda: model(num_layers=0)),
    "mlp_width 0": (
        ValueError,
        r"mlp_width must be >= 1; got 0",
        lambda: model(transition_depth=1, mlp_width=0),
    ),
    "layer_skip not bool": (
        TypeError,
        r"layer_skip must be True or False; got 1",
        lambda: model(layer_skip=1),
    ),
    "layers unknown key": (
        ValueError,
        r"layers\[1\] has unknown keys \['hiden_size'\]; allowed: \['hidden_size'",
        lambda: model(layers=[{}, {"hiden_size": 3}]),
    ),
    "layers input_size key": (
        ValueError,
        r"layers\[0\] has unknown keys \['input_size'\]",
        lambda: model(layers=[{"input_size": 3}]),
    ),
    "num_layers != len(layers)": (
        ValueError,
        r"num_layers must equal len\(layers\) = 2 when both are given; got 3",
        lambda: model(num_layers=3, layers=[{}, {}]),
    ),
    "layers empty": (
        TypeError,
        r"layers must be a non-empty list of dicts or LayerConfig; got \[\]",
        lambda: model(layers=[]),
    ),
    "layers entry not a dict": (
        TypeError,
        r"layers\[0\] must be a dict or LayerConfig; got int",
        lambda: model(layers=[4]),
    ),
    "LayerConfig with wrong input_size": (
        ValueError,
        r"layers\[1\].input_size must be 4; got 3",
        lambda: model(layers=[{}, numrnn.LayerConfig(3, 4)]),
    ),
    "shortcut with q=0": (
        ValueError,
        r"skip='shortcut' .*needs transition_depth >= 1; got transition_depth=0",
        lambda: model(skip="shortcut"),
    ),
    "shortcut with q=0 in one layer": (
        ValueError,
        r"needs transition_depth >= 1; got transition_depth=0",
        lambda: model(transition_depth=1, skip="shortcut", layers=[{}, {"transition_depth": 0}]),
    ),
    "spectral_radius with q>=1": (
        ValueError,
        r"spectral_radius rescales .*W_hh of a vanilla layer; layers \[2\] have "
        r"transition_depth > 0",
        lambda: model(spectral_radius=0.9, layers=[{}, {"transition_depth": 1}]),
    ),
    "spectral_radius negative": (
        ValueError,
        r"spectral_radius must be a positive finite number; got -1",
        lambda: model(spectral_radius=-1),
    ),
    "identity init with M != H": (
        ValueError,
        r"init='identity' needs square transition matrices; layer1.W_h1 has "
        r"shape \(4, 5\)",
        lambda: model(transition_depth=1, mlp_width=5, init="identity"),
    ),
    "dtype int32": (
        ValueError,
        r"dtype must be np.float32 or np.float64; got int32",
        lambda: model(dtype=np.int32),
    ),
    "dtype float16": (
        ValueError,
        r"dtype must be np.float32 or np.float64; got float16",
        lambda: model(dtype=np.float16),
    ),
    "dtype nonsense": (
        TypeError,
        r"dtype must be np.float32 or np.float64; got 'real'",
        lambda: model(dtype="real"),
    ),
    "bias NaN": (
        ValueError,
        r"bias must be a finite number; got nan",
        lambda: model(bias=float("nan")),
    ),
    "seed negative": (
        ValueError,
        r"seed must be >= 0; got -1",
        lambda: numrnn.DeepRNN(3, 4, 2, seed=-1),
    ),
    "rng not a Generator": (
        TypeError,
        r"rng must be a numpy.random.Generator; got int",
        lambda: numrnn.DeepRNN(3, 4, 2, rng=0),
    ),
    "initial_state 0": (
        ValueError,
        r"batch_size must be >= 1; got 0",
        lambda: model().initial_state(0),
    ),
    "from_config with a dict": (
        TypeError,
        r"config must be a ModelConfig; got dict",
        lambda: numrnn.DeepRNN.from_config({}, model().params),
    ),
    "from_config with wrong shapes": (
        ValueError,
        r"params\['layer1.W_hh'\] must have shape \(4, 4\); got \(3, 3\)",
        lambda: numrnn.DeepRNN.from_config(
            model().config, {**model().params, "layer1.W_hh": np.zeros((3, 3))}
        ),
    ),
    "config unknown key": (
        ValueError,
        r"unknown model config keys \['colour'\]",
        lambda: numrnn.ModelConfig.from_dict({**model().config.to_dict(), "colour": "red"}),
    ),
    "stacked layer sizes disagree": (
        ValueError,
        r"layer 2's input_size must equal layer 1's hidden_size \(4\); got 3",
        lambda: numrnn.ModelConfig((numrnn.LayerConfig(3, 4), numrnn.LayerConfig(3, 4)), 2),
    ),
}


@pytest.mark.parametrize("case", list(BUILD_CASES))
def test_model_settings_are_checked_when_building(case):
    raises(*BUILD_CASES[case])


# --------------------------------------------------------------- functional layers, losses, checker


def _vanilla_layer():
    return {name: value.copy() for name, value in layer_params(model(bias=0.1).params, 1).items()}


def _cache():
    return layers.rnn_forward(X, None, _vanilla_layer())[1]


FUNCTIONAL_CASES = {
    "rnn_forward without W_hh": (
        ValueError,
        r"params must hold a 2-D array 'W_hh'; got keys \['W_xh', 'b_h'\]",
        lambda: layers.rnn_forward(
            X, None, {k: v for k, v in _vanilla_layer().items() if k != "W_hh"}
        ),
    ),
    "rnn_forward without b_h": (
        ValueError,
        r"params is missing \['b_h'\]",
        lambda: layers.rnn_forward(
            X, None, {k: v for k, v in _vanilla_layer().items() if k != "b_h"}
        ),
    ),
    "rnn_forward with a gap in W_h*": (
        ValueError,
        r"params must number its MLP layers 1, 2, ... without gaps; got \[2\]",
        lambda: layers.rnn_forward(X, None, {**_vanilla_layer(), "W_h2": np.eye(4)}),
    ),
    "rnn_forward with wrong D": (
        ValueError,
        r"x must have shape \(T, B, D\) with .*D=3; got \(5, 2, 2\)",
        lambda: layers.rnn_forward(np.zeros((5, 2, 2)), None, _vanilla_layer()),
    ),
    "rnn_forward with wrong h0": (
        ValueError,
        r"h0 must have shape \(B, H\) = \(2, 4\); got \(2, 3\)",
        lambda: layers.rnn_forward(X, np.zeros((2, 3)), _vanilla_layer()),
    ),
    "rnn_forward with int params": (
        TypeError,
        r"params must be float32 or float64; got int64",
        lambda: layers.rnn_forward(
            X, None, {k: v.astype(np.int64) for k, v in _vanilla_layer().items()}
        ),
    ),
    "deep_transition_forward without W_h1": (
        ValueError,
        r"deep_transition_forward needs a deep transition \(params "
        r"with W_h1\); got keys \['W_hh', 'W_xh', 'b_h'\]",
        lambda: layers.deep_transition_forward(X, None, _vanilla_layer()),
    ),
    "shortcut_forward without W_h1": (
        ValueError,
        r"skip='shortcut' .*needs transition_depth >= 1",
        lambda: layers.shortcut_forward(X, None, _vanilla_layer()),
    ),
    "layer_forward with a dict config": (
        TypeError,
        r"config must be a LayerConfig; got dict",
        lambda: layers.layer_forward(X, None, _vanilla_layer(), {}),
    ),
    "layer_backward with wrong dh shape": (
        ValueError,
        r"dh must have the shape of the forward's h, \(T, B, H\) = "
        r"\(5, 2, 4\); got \(5, 2, 3\)",
        lambda: layers.layer_backward(np.zeros((5, 2, 3)), _cache()),
    ),
    "layer_backward with wrong dh dtype": (
        TypeError,
        r"dh must have dtype float64 .*got float32",
        lambda: layers.layer_backward(np.zeros((5, 2, 4), np.float32), _cache()),
    ),
    "layer_backward with a tuple cache": (
        TypeError,
        r"cache must be the LayerCache a \*_forward returned; got tuple",
        lambda: layers.layer_backward(np.zeros((5, 2, 4)), (1, 2)),
    ),
    "layer_backward window 0": (
        ValueError,
        r"window must be >= 1; got 0",
        lambda: layers.layer_backward(np.zeros((5, 2, 4)), _cache(), window=0),
    ),
    "loss on 2-D logits": (
        ValueError,
        r"y must have 3 dimensions \(T, B, O\); got 2",
        lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.zeros(2, dtype=int)),
    ),
    "loss on int logits": (
        TypeError,
        r"y must be a float32 or float64 numpy array .*got int64",
        lambda: losses.mean_squared_error(np.zeros((2, 2, 2), int), np.zeros((2, 2, 2))),
    ),
    "compute_loss unknown loss": (
        ValueError,
        r"loss must be one of \['bce', 'mse', 'xent'\]; got 'hinge'",
        lambda: losses.compute_loss("hinge", np.zeros((2, 2, 2)), None),
    ),
    "check_gradients unknown method": (
        ValueError,
        r"method must be one of .*; got 'exact'",
        lambda: check_gradients(
            lambda p: 0.0, {"a": np.zeros(2)}, {"a": np.zeros(2)}, method="exact"
        ),
    ),
    "check_gradients key mismatch": (
        ValueError,
        r"grads must have the keys of params; missing \['a'\], extra \['b'\]",
        lambda: check_gradients(lambda p: 0.0, {"a": np.zeros(2)}, {"b": np.zeros(2)}),
    ),
    "check_gradients grads misshapen": (
        ValueError,
        r"grads\['a'\] must have shape \(2,\); got \(3,\)",
        lambda: check_gradients(lambda p: 0.0, {"a": np.zeros(2)}, {"a": np.zeros(3)}),
    ),
    "check_model with a truncation window": (
        ValueError,
        r"bptt_window must be None or >= T=5 for a gradient check.*got 2",
        lambda: check_model(model(), X, TARGETS, bptt_window=2),
    ),
}


@pytest.mark.parametrize("case", list(FUNCTIONAL_CASES))
def test_functional_api_losses_and_checker_check_their_inputs(case):
    raises(*FUNCTIONAL_CASES[case])


# ------------------------------------------------------------- inputs that used to fail deep inside
# Each of these once gave an AttributeError, a comparison TypeError, a ZeroDivisionError or a silent
# cast from deep inside the library (found while writing this suite); they are regression tests now.


def _with_list_first_param():
    params = dict(model().params)
    params["layer1.W_xh"] = params["layer1.W_xh"].tolist()
    return params


REGRESSION_CASES = {
    "check_model x list with a window": (
        TypeError,
        r"x must be a numpy array of shape \(T, B, D\); got list",
        lambda: check_model(model(), X.tolist(), TARGETS, bptt_window=2),
    ),
    "check_model bptt_window str": (
        TypeError,
        r"bptt_window must be an integer; got '5' of type str",
        lambda: check_model(model(), X, TARGETS, bptt_window="5"),
    ),
    "from_config with a list parameter": (
        TypeError,
        r"params must hold float32 or float64 numpy arrays; got list",
        lambda: numrnn.DeepRNN.from_config(model().config, _with_list_first_param()),
    ),
    "from_config with int parameters": (
        TypeError,
        r"params must hold float32 or float64 numpy arrays; got int64",
        lambda: numrnn.DeepRNN.from_config(
            model().config, {k: v.astype(np.int64) for k, v in model().params.items()}
        ),
    ),
    "layer_forward with a list W_hh": (
        ValueError,
        r"params must be a dict holding .*numpy arrays .*'W_hh'",
        lambda: layers.layer_forward(
            X, None, {**_vanilla_layer(), "W_hh": np.eye(4).tolist()}, model().config.layers[0]
        ),
    ),
    "mask negative names the value": (
        ValueError,
        r"mask must hold finite weights >= 0; got (np\.float64\()?-1",
        lambda: model().loss_and_grads(X, TARGETS, mask=-np.ones((5, 2))),
    ),
    "mask NaN names the value": (
        ValueError,
        r"mask must hold finite weights >= 0; got (np\.float64\()?nan",
        lambda: model().loss_and_grads(X, TARGETS, mask=np.full((5, 2), np.nan)),
    ),
    "bce targets name the value": (
        ValueError,
        r"targets for loss='bce' must lie in \[0, 1\]; got (np\.float64\()?1\.5",
        lambda: model().loss_and_grads(X, np.full((5, 2, 2), 1.5), loss="bce"),
    ),
    "complex mask": (
        TypeError,
        r"mask must be boolean or numeric; got dtype complex128",
        lambda: model().loss_and_grads(X, TARGETS, mask=np.ones((5, 2), dtype=complex)),
    ),
    "check_gradients eps 0": (
        ValueError,
        r"eps must be a positive finite number; got 0.0",
        lambda: check_gradients(
            lambda p: float(np.sum(p["a"] ** 2)), {"a": np.ones(2)}, {"a": 2 * np.ones(2)}, eps=0.0
        ),
    ),
    "check_gradients eps negative": (
        ValueError,
        r"eps must be a positive finite number; got -0.001",
        lambda: check_gradients(
            lambda p: float(np.sum(p["a"] ** 2)),
            {"a": np.ones(2)},
            {"a": 2 * np.ones(2)},
            eps=-1e-3,
        ),
    ),
    "check_gradients tiny 0": (
        ValueError,
        r"tiny must be a positive finite number; got 0.0",
        lambda: check_gradients(lambda p: 0.0, {"a": np.ones(2)}, {"a": np.zeros(2)}, tiny=0.0),
    ),
    "config from_dict with layers not a list": (
        ValueError,
        r"a model config's 'layers' must be a list of dicts; got 3",
        lambda: numrnn.ModelConfig.from_dict({"layers": 3, "output_size": 2}),
    ),
    "bias not a number": (
        TypeError,
        r"bias must be a real number; got 'a' of type str",
        lambda: model(bias="a"),
    ),
}


@pytest.mark.parametrize("case", list(REGRESSION_CASES))
def test_inputs_that_once_failed_deep_inside_now_get_a_clear_error(case):
    raises(*REGRESSION_CASES[case])


@pytest.mark.parametrize(
    "kwargs",
    [dict(bias=np.float32(0.25)), dict(spectral_radius=np.float32(0.5))],
    ids=["bias", "spectral_radius"],
)
def test_numpy_scalars_are_numbers_for_bias_and_spectral_radius(kwargs):
    """Once rejected by isinstance(value, (int, float)) ('bias must be a finite number; got
    np.float32(0.25)')."""
    m = model(**kwargs)
    if "bias" in kwargs:
        assert np.all(m.params["layer1.b_h"] == 0.25)
    else:
        assert np.max(np.abs(np.linalg.eigvals(m.params["layer1.W_hh"]))) == pytest.approx(
            0.5, abs=1e-6
        )


def test_numpy_scalar_tolerance_is_a_number():
    report = check_gradients(
        lambda p: float(np.sum(p["a"] ** 2)),
        {"a": np.ones(2)},
        {"a": 2 * np.ones(2)},
        tolerance=np.float32(1e-7),
    )
    assert report.passed and report.tolerance == pytest.approx(1e-7)


def test_check_model_takes_one_h0_array_like_the_model_does():
    """check_model once zipped a (B, H) h0 row by row: "grads['h0[0]'] must have shape (4,);
    got (2, 4)"."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 2, 3))
    report = check_model(model(bias=0.1), x, TARGETS, h0=0.5 * rng.standard_normal((2, 4)))
    assert report.passed and "h0[0]" in [row.name for row in report.rows]
    assert [row.shape for row in report.rows if row.name == "h0[0]"] == [(2, 4)]
