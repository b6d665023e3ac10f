"""diagnostics.flow_by_layer: every layer's flow, in float64, on given inputs.

Each test's docstring names the wrong implementation it catches.
"""

import json

import numpy as np
import pytest

import numrnn
from numrnn import diagnostics
from numrnn.presets import build


def linear_stack(rho_by_layer, H=6, T=30, seed=0):
    """A linear (identity) stack with orthogonal weights; layer l's W_hh scaled to rho_l."""
    model = numrnn.DeepRNN(
        3,
        H,
        2,
        num_layers=len(rho_by_layer),
        activation="identity",
        init="orthogonal",
        spectral_radius=1.0,
        dtype=np.float64,
        seed=seed,
    )
    for l, rho in enumerate(rho_by_layer, start=1):
        model.params[f"layer{l}.W_hh"] *= rho
    x = np.random.default_rng(seed).standard_normal((T, 4, 3))
    return model, x


def shrunken_deep_transition(scale, dtype=np.float32, q=8, H=14, seed=0):
    """A tanh deep transition with every transition weight W_h1..W_hq, W_hh times ``scale``."""
    model = build("deep-transition", 1, H, 1, transition_depth=q, dtype=dtype, seed=seed)
    for name, value in model.params.items():
        if name.startswith("layer1.W_h"):
            value *= scale
    return model


def test_an_exploding_lower_layer_decides_the_verdict():
    """Layer 1's recurrence grows (rho = 1.3), layer 2's is an exact rotation (rho = 1):
    the model is "exploding", named by layer 1, while the old top-layer-only measure
    says "stable".

    Catches a verdict read from the top layer only, or from the mean over layers."""
    model, x = linear_stack([1.3, 1.0])
    flow = diagnostics.flow_by_layer(model, x)
    assert [layer.layer for layer in flow.layers] == [1, 2]
    assert flow.layers[0].verdict == "exploding" and flow.layers[1].verdict == "stable"
    assert flow.layers[1].log10_ratio == pytest.approx(0.0, abs=1e-9)  # a rotation keeps norms
    assert flow.worst == flow.layers[0] and flow.verdict == "exploding"
    assert diagnostics.gradient_flow(model, T=30).verdict == "stable"  # what compare showed


def test_the_worst_layer_is_the_one_furthest_outside_the_band():
    """Top layer vanishing (rho = 0.5), lower layer near stable: the worst is layer 2.

    Catches "worst" fixed to layer 1 or to the largest ratio."""
    model, x = linear_stack([1.0, 0.5])
    flow = diagnostics.flow_by_layer(model, x)
    assert flow.layers[1].verdict == "vanishing"
    assert flow.worst.layer == 2 and flow.verdict == "vanishing"
    assert flow.layers[1].log10_ratio == pytest.approx(29 * np.log10(0.5), rel=1e-9)


def test_float32_underflow_becomes_a_finite_float64_ratio():
    """A q = 8 deep transition whose float32 gradient at t = 1 is exactly 0 (ratio 0,
    log -inf): in float64 the ratio is finite, near 1e-80, and not a bound.

    Catches the measurement run in the model's dtype, or an underflow dropped."""
    model = shrunken_deep_transition(0.6)
    x = np.random.default_rng(0).standard_normal((40, 4, 1)).astype(np.float32)
    float32_flow = diagnostics.gradient_flow(model, T=40)
    assert float32_flow.grad_norms[-1][0] == 0 and float32_flow.ratio == 0
    flow = diagnostics.flow_by_layer(model, x)
    (layer,) = flow.layers
    assert layer.bound is None and np.isfinite(layer.log10_ratio)
    assert -200 < layer.log10_ratio < -45  # below float32's range, inside float64's
    assert layer.verdict == "vanishing"
    assert flow.grad_norms.dtype == np.float64 and flow.grad_norms.shape == (1, 40)
    assert flow.grad_norms[0, 0] > 0


def test_a_float64_underflow_is_reported_as_a_bound():
    """Weights shrunk further, so even float64's ‖dh_1‖ is 0: the ratio is a bound "<" at
    log10(2.2e-308 / ‖dh_T‖), never -inf, and it survives strict JSON.

    Catches -inf stored (json.dumps(allow_nan=False) fails) or the layer dropped."""
    model = shrunken_deep_transition(0.3, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((100, 4, 1))
    flow = diagnostics.flow_by_layer(model, x)
    (layer,) = flow.layers
    assert flow.grad_norms[0, 0] == 0
    assert layer.bound == "<" and layer.verdict == "vanishing"
    expected = np.log10(np.finfo(np.float64).tiny) - np.log10(flow.grad_norms[0, -1])
    assert layer.log10_ratio == pytest.approx(expected)
    text = json.dumps(flow.to_dict(), allow_nan=False)
    assert json.loads(text)["worst"]["bound"] == "<"


@pytest.mark.parametrize(
    "first, last, bound, verdict",
    [
        (0.0, 1.0, "<", "vanishing"),
        (np.inf, 1.0, ">", "exploding"),
        (1.0, 0.0, ">", "exploding"),
        (1.0, np.inf, "<", "vanishing"),
        (0.0, np.inf, "<", "vanishing"),
    ],
)
def test_a_zero_or_inf_norm_at_either_end_gives_a_bound_on_its_side(first, last, bound, verdict):
    """0 at step 1 or inf at step T: the ratio is below the one computed with float64's
    extreme in its place ("<"); inf at step 1 or 0 at step T: above (">").

    Catches a bound on the wrong side, or a zero at step T turned into an error or -inf."""
    tiny, huge = np.finfo(np.float64).tiny, np.finfo(np.float64).max
    norms = np.array([first, 0.5, 0.7, last])
    flow = diagnostics._layer_flow(2, norms)
    used = [tiny if v == 0 else huge if np.isinf(v) else v for v in (first, last)]
    assert flow == (2, pytest.approx(np.log10(used[0]) - np.log10(used[1])), bound, verdict)
    with pytest.raises(ValueError, match=r"layer 2 has ‖dh_1‖ = inf and ‖dh_T‖ = inf"):
        diagnostics._layer_flow(2, np.array([np.inf, 1.0, np.inf]))


def test_the_model_is_left_untouched():
    """A float32 model stays float32 with the same weights; x is not changed.

    Catches params cast in place (model.params[name] = value.astype(float64)) or x
    overwritten."""
    model = build("hierarchical", 2, 8, 3, dtype=np.float32, seed=1)
    before = {name: value.copy() for name, value in model.params.items()}
    x = np.random.default_rng(1).standard_normal((10, 3, 2)).astype(np.float32)
    x_before = x.copy()
    diagnostics.flow_by_layer(model, x)
    assert model.dtype == np.float32
    for name, value in model.params.items():
        assert value.dtype == np.float32 and np.array_equal(value, before[name]), name
    assert np.array_equal(x, x_before)


def test_one_layer_norms_equal_the_cores_on_the_same_inputs():
    """A one-layer tanh model in float64: the norms equal those of model.loss_and_grads
    (the engine gradient_flow uses) with an mse loss on step T whose gradient points along
    the documented unit direction, up to the loss's scale; the ratio and verdict follow.

    Catches norms read off the wrong step order, the upstream gradient put on every
    step, or a second chain rule that disagrees with the core's."""
    T, B, seed = 15, 5, 3
    model = build("vanilla", 3, 7, 2, dtype=np.float64, seed=0)
    x = np.random.default_rng(7).standard_normal((T, B, 3))
    direction = np.random.default_rng(seed).standard_normal((B, 2))
    y, _ = model.forward(x)
    targets = y.copy()
    targets[-1] -= direction  # mse gradient at step T is proportional to the direction
    mask = np.zeros((T, B))
    mask[-1] = 1
    _, _, info = model.loss_and_grads(x, targets, loss="mse", mask=mask, need_dx=False)
    flow = diagnostics.flow_by_layer(model, x, seed=seed)
    expected = info.grad_norms[0]
    np.testing.assert_allclose(
        flow.grad_norms[0] / flow.grad_norms[0, -1], expected / expected[-1], rtol=1e-12
    )
    assert flow.grad_norms[0, -1] == pytest.approx(
        np.linalg.norm(direction @ model.params["output.W_hy"].T) / np.linalg.norm(direction)
    )
    ratio = diagnostics.gradient_ratio(expected)
    assert flow.layers[0].log10_ratio == pytest.approx(np.log10(ratio), rel=1e-12)
    assert flow.verdict == diagnostics.flow_verdict(ratio, T)


def test_integer_inputs_and_h0_are_cast_not_refused():
    """One-hot inputs as bool, and an int h0, give the float64 result of the same values.

    Catches x or h0 required in the model's dtype (the task's batch need not be)."""
    model = build("hierarchical", 4, 5, 4, dtype=np.float32, seed=2)
    rng = np.random.default_rng(2)
    one_hot = np.eye(4, dtype=bool)[rng.integers(0, 4, (12, 3))]  # (T, B, D)
    h0 = np.ones((2, 3, 5), dtype=np.int64)
    as_bool = diagnostics.flow_by_layer(model, one_hot, h0)
    as_float = diagnostics.flow_by_layer(model, one_hot.astype(np.float64), h0.astype(float))
    np.testing.assert_array_equal(as_bool.grad_norms, as_float.grad_norms)
    listed = diagnostics.flow_by_layer(model, one_hot, [h0[0], h0[1]])
    np.testing.assert_array_equal(listed.grad_norms, as_float.grad_norms)
    assert diagnostics.flow_by_layer(model, one_hot, seed=4) != diagnostics.flow_by_layer(
        model, one_hot, seed=5
    )


def test_to_dict_is_json_ready():
    """Catches ndarrays or numpy scalars left in the dict."""
    model, x = linear_stack([1.3, 1.0], T=8)
    data = json.loads(json.dumps(diagnostics.flow_by_layer(model, x).to_dict(), allow_nan=False))
    assert [row["layer"] for row in data["layers"]] == [1, 2]
    assert data["worst"]["layer"] == 1 and data["verdict"] == "exploding"
    assert len(data["grad_norms"]) == 2 and len(data["grad_norms"][0]) == 8


def _zero_output(model):
    model.params["output.W_hy"][...] = 0
    return model


def _huge_weights(model):
    model.params["layer1.W_hh"] *= 1e200  # h overflows to inf, and inf - inf is NaN
    model.params["layer1.W_hh"][0] *= -1
    return model


def _nan_weights(model):
    model.params["layer1.W_hh"][0, 0] = np.nan
    return model


@pytest.mark.parametrize(
    "make_model, x, kwargs, error, match",
    [
        (lambda m: "model", np.zeros((5, 2, 3)), {}, TypeError, "model must be a numrnn.DeepRNN"),
        (lambda m: m, [[[0.0] * 3]] * 5, {}, TypeError, "x must be a numpy array; got list"),
        (lambda m: m, np.zeros((5, 2, 3), complex), {}, TypeError, "x must hold real numbers"),
        (
            lambda m: m,
            np.zeros((5, 3)),
            {},
            ValueError,
            r"x must have shape \(T, B, D\) with T >= 2",
        ),
        (lambda m: m, np.zeros((1, 2, 3)), {}, ValueError, r"T >= 2 .*got \(1, 2, 3\)"),
        (lambda m: m, np.zeros((5, 2, 4)), {}, ValueError, r"D=3 \(input_size\); got \(5, 2, 4\)"),
        (lambda m: m, np.full((5, 2, 3), np.nan), {}, ValueError, "x must be finite"),
        (lambda m: m, np.zeros((5, 2, 3)), {"seed": -1}, ValueError, "seed must be"),
        (
            lambda m: m,
            np.zeros((5, 2, 3)),
            {"h0": np.zeros((2, 7))},
            ValueError,
            r"h0\[0\] must have shape \(B, H\) = \(2, 6\)",
        ),
        (lambda m: m, np.zeros((5, 2, 3)), {"h0": ["a"]}, TypeError, "h0.0. must be a numpy array"),
        (_nan_weights, np.ones((5, 2, 3)), {}, ValueError, r"params\['layer1.W_hh'\] must be fin"),
        (_huge_weights, np.ones((5, 2, 3)), {}, ValueError, "norms of layer 1 hold NaN"),
        (
            _zero_output,
            np.ones((5, 2, 3)),
            {},
            ValueError,
            r"layer 1 has ‖dh_1‖ = 0.0 and ‖dh_T‖ = 0.0",
        ),
    ],
)
def test_errors_name_the_argument_the_rule_and_the_value(make_model, x, kwargs, error, match):
    """Catches a missing check (the error would come from deep inside the core, or not at all)."""
    model, _ = linear_stack([1.0], T=5)
    with pytest.raises(error, match=match):
        diagnostics.flow_by_layer(make_model(model), x, **kwargs)
