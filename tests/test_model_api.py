"""DeepRNN's public API: summary, parameter counts, presets, per-layer settings, configs,
float32 end to end, and a class that holds no hidden state between calls.

Shape legend: T steps, B batch, D input size, H hidden size, M MLP width,
O output size, L layers, q transition depth.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from conftest import random_targets, small_problem

import numrnn
from numrnn import presets

# --------------------------------------------------------------------------- summary and counts


def _rich_model():
    return numrnn.DeepRNN(
        3,
        4,
        2,
        layers=[
            dict(transition_depth=2, skip="residual", layer_skip=True),
            dict(transition_depth=2, skip="shortcut", mlp_width=5),
            dict(hidden_size=3, input_depth=1),
        ],
        output_depth=1,
        seed=0,
    )


def test_summary_lists_every_parameter_with_its_shape_count_and_equation():
    """Catches a summary that leaves out parameters (e.g. the S_h* shortcuts), prints wrong shapes,
    or attaches a parameter to an equation it does not appear in."""
    model = _rich_model()
    lines = model.summary().splitlines()
    for name, value in model.params.items():
        row = [line for line in lines if line.split()[:1] == [name]]
        assert len(row) == 1, name
        assert str(value.shape) in row[0]
        count, equation = row[0].split(str(value.shape), 1)[1].split(maxsplit=1)
        assert count == str(value.size)
        assert "=" in equation
        assert name.split(".")[1] in equation, (
            name,
            equation,
        )  # the parameter appears in its equation
    text = model.summary()
    assert f"total parameters: {model.num_params()}" in text
    assert "h_t = h_(t-1) + φ(a_t)" in text  # layer 1 is residual ...
    assert "g_1 = h_(t-1) + ψ(" in text  # ... with a layer-skip at level 1
    assert "h_(t-1) S_hh" in text  # layer 2 is DT(S)
    assert str(model) == text


def test_print_model_names_what_each_layer_reads_and_each_bias_once():
    """Catches a summary that writes x_t for layer 2's input (it reads h_t^(1)), or that adds a
    level's bias twice (in u_t and again in a_t, the split the derivation does not make)."""
    rows = re.findall(  # parameter, shape, count, equation
        r"^(layer\d\.\S+) +\(.*?\) +\d+ +(.*)$",
        str(numrnn.DeepRNN(3, 4, 2, num_layers=3, seed=0)),
        re.MULTILINE,
    )
    equations = dict(rows)
    assert equations["layer1.W_xh"] == "u_t = x_t W_xh + b_h   (a_t = u_t + z_t)"
    assert equations["layer2.W_xh"] == "u_t = h_t^(1) W_xh + b_h   (a_t = u_t + z_t)"
    assert equations["layer3.W_xh"] == "u_t = h_t^(2) W_xh + b_h   (a_t = u_t + z_t)"
    assert equations["layer2.W_hh"] == "a_t = h_(t-1) W_hh + u_t;  h_t = φ(a_t)"
    assert equations["layer2.b_h"] == equations["layer2.W_xh"]  # b_h travels with u_t (R.1)
    dts = str(numrnn.DeepRNN(3, 4, 2, transition_depth=2, skip="shortcut", seed=0))
    for level in ("g_1 = ψ(h_(t-1) W_h1 + u_t)", "u_t = x_t W_xh + b_h1   (joins g_1)"):
        assert level in dts  # DT(S): the input, with b_h1, joins level 1
    assert "W_hh + h_(t-1) S_hh + b_h;" in dts and "b_h1)" not in dts


def test_num_params_is_the_sum_of_sizes_and_the_vanilla_closed_form():
    """D·H + H·H + H + H·O + O for the vanilla RNN: catches an extra or missing bias."""
    D, H, O = 3, 5, 2
    model = numrnn.DeepRNN(D, H, O, seed=0)
    assert model.num_params() == D * H + H * H + H + H * O + O
    assert list(model.params) == [
        "layer1.W_xh",
        "layer1.W_hh",
        "layer1.b_h",
        "output.W_hy",
        "output.b_y",
    ]
    rich = _rich_model()
    assert rich.num_params() == sum(value.size for value in rich.params.values())


def test_parameter_counts_of_deep_transition_and_dts_in_closed_form():
    """q = 2, M != H: one bias per transition level and none on MLP_h's last affine; DT(S) adds
    S_h2 (H, M) and S_hh (H, H) and moves the input into level 1 (W_xh is (D, M), its bias b_h1)."""
    D, H, M, O, q = 3, 4, 6, 2, 2
    deep = numrnn.DeepRNN(D, H, O, transition_depth=q, mlp_width=M, seed=0)
    transition = (H * M + M) + (M * M + M) + (M * H + H)
    assert deep.num_params() == D * H + transition + H * O + O
    residual = numrnn.DeepRNN(D, H, O, transition_depth=q, mlp_width=M, skip="residual", seed=0)
    assert residual.num_params() == deep.num_params()
    dts = numrnn.DeepRNN(D, H, O, transition_depth=q, mlp_width=M, skip="shortcut", seed=0)
    assert dts.num_params() == D * M + transition + H * M + H * H + H * O + O
    assert dts.params["layer1.W_xh"].shape == (D, M)
    assert dts.params["layer1.S_h2"].shape == (H, M) and dts.params["layer1.S_hh"].shape == (H, H)


# ------------------------------------------------------------------- presets and per-layer settings


PRESETS = {
    "vanilla": dict(num_layers=1, transition_depth=0, skip="none"),
    "hierarchical": dict(num_layers=2, transition_depth=0, skip="none"),
    "deep-transition": dict(num_layers=1, transition_depth=2, skip="none"),
    "deep-transition-skip": dict(num_layers=1, transition_depth=2, skip="residual"),
    "deep-transition-shortcut": dict(num_layers=1, transition_depth=2, skip="shortcut"),
    "hierarchical-deep-transition-skip": dict(num_layers=2, transition_depth=2, skip="residual"),
}


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_build_the_documented_configurations(name):
    """Catches a preset wired to the wrong settings (e.g. deep-transition-skip without the skip)."""
    assert set(PRESETS) == set(presets.ARCHITECTURES)
    model = presets.build(name, 3, 4, 2, seed=0)
    expected = PRESETS[name]
    assert model.config.num_layers == expected["num_layers"]
    for layer in model.config.layers:
        assert (layer.transition_depth, layer.skip, layer.hidden_size) == (
            expected["transition_depth"],
            expected["skip"],
            4,
        )
    assert model.config.input_size == 3 and model.config.output_size == 2


def test_preset_keywords_override_the_presets_own():
    """Catches presets that swallow or ignore the user's keywords."""
    deep = presets.build("deep-transition", 3, 4, 2, transition_depth=3, dtype=np.float32, seed=0)
    assert deep.config.layers[0].transition_depth == 3 and deep.dtype == np.float32
    stack = presets.build("hierarchical", 3, 4, 2, num_layers=4, seed=0)
    assert stack.config.num_layers == 4
    assert presets.deep_transition_skip(3, 4, 2, seed=0).config.layers[0].skip == "residual"


def test_layers_list_builds_differing_layers_that_chain_their_sizes():
    """Catches per-layer overrides that are ignored, or layer l's input size not set to H_{l-1}."""
    model = numrnn.DeepRNN(
        3,
        8,
        2,
        layers=[
            dict(hidden_size=5, transition_depth=1, skip="residual"),
            dict(
                hidden_size=4,
                transition_depth=2,
                skip="shortcut",
                mlp_width=6,
                activation="sigmoid",
            ),
            numrnn.LayerConfig(input_size=4, hidden_size=3),
        ],
        seed=0,
    )
    first, second, third = model.config.layers
    assert (first.input_size, first.hidden_size, first.transition_depth, first.skip) == (
        3,
        5,
        1,
        "residual",
    )
    assert (second.input_size, second.hidden_size, second.transition_depth, second.skip) == (
        5,
        4,
        2,
        "shortcut",
    )
    assert (second.width, second.activation, third.input_size, third.hidden_size) == (
        6,
        "sigmoid",
        4,
        3,
    )
    assert model.params["layer2.W_xh"].shape == (5, 6)  # DT(S): the input joins level 1, width M
    assert model.params["layer3.W_xh"].shape == (4, 3)
    assert model.params["output.W_hy"].shape == (3, 2)
    y, state = model.forward(np.zeros((4, 2, 3)))
    assert y.shape == (4, 2, 2) and [s.shape for s in state] == [(2, 5), (2, 4), (2, 3)]


# --------------------------------------------------------------------------- configs


def test_model_config_round_trips_through_a_dict_and_json():
    """Catches a to_dict that drops a field (then from_dict builds a different model)."""
    config = _rich_model().config
    data = config.to_dict()
    assert numrnn.ModelConfig.from_dict(data) == config
    assert numrnn.ModelConfig.from_dict(json.loads(json.dumps(data))) == config


def test_from_config_rebuilds_the_same_model_around_the_same_arrays():
    """Catches from_config copying or re-initialising the params, or building another config."""
    model = _rich_model()
    clone = numrnn.DeepRNN.from_config(
        numrnn.ModelConfig.from_dict(model.config.to_dict()), model.params
    )
    assert clone.params is model.params and clone.dtype == model.dtype
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    assert np.array_equal(model.forward(x)[0], clone.forward(x)[0])


# --------------------------------------------------------------------------- float32


@pytest.mark.parametrize("loss", ["xent", "mse", "bce"])
def test_a_float32_model_computes_in_float32_end_to_end(loss):
    """y, states, loss, every gradient, dx, dh0 and grad_norms stay float32: catches a float64
    constant or buffer that silently upcasts (then memory and speed double)."""
    rng = np.random.default_rng(1)
    model = numrnn.DeepRNN(
        3,
        4,
        2,
        num_layers=2,
        transition_depth=2,
        skip="residual",
        input_depth=1,
        output_depth=1,
        layer_skip=True,
        dtype=np.float32,
        seed=0,
        bias=0.1,
    )
    x = rng.standard_normal((5, 3, 3)).astype(np.float32)
    targets = random_targets(loss, 5, 3, 2, rng, np.float32)
    mask = rng.uniform(0.5, 1.5, size=(5, 3))  # a float64 mask is weights, cast once
    y, state = model.forward(x)
    assert y.dtype == np.float32 and all(s.dtype == np.float32 for s in state)
    value, grads, info = model.loss_and_grads(x, targets, loss=loss, mask=mask, bptt_window=2)
    assert np.asarray(value).dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    assert info.y.dtype == info.dx.dtype == info.grad_norms.dtype == np.float32
    assert all(d.dtype == np.float32 for d in info.dh0) and all(
        s.dtype == np.float32 for s in info.final_state
    )


def test_a_float32_model_agrees_with_its_float64_twin():
    """The same parameters in float32 and float64 agree to float32 precision: catches a float32
    path that differs in maths, not just rounding."""
    problem = small_problem("xent", num_layers=2, transition_depth=1, skip="residual")
    model64 = problem.model
    model32 = numrnn.DeepRNN.from_config(
        model64.config, {k: v.astype(np.float32) for k, v in model64.params.items()}
    )
    loss64, grads64, _ = model64.loss_and_grads(problem.x, problem.targets, h0=problem.h0)
    loss32, grads32, _ = model32.loss_and_grads(
        problem.x.astype(np.float32), problem.targets, h0=[h.astype(np.float32) for h in problem.h0]
    )
    assert abs(float(loss32) - loss64) <= 1e-5 * abs(loss64)
    for name in grads64:
        np.testing.assert_allclose(grads32[name], grads64[name], rtol=0, atol=1e-5, err_msg=name)


# --------------------------------------------------------------------------- no hidden state


def test_calls_have_no_side_effects_and_do_not_depend_on_order():
    """The class keeps no state between calls: catches a forward that mutates x, h0 or params, or
    a backward that depends on the last forward (a cache kept on the instance)."""
    problem = small_problem("mse", num_layers=2, transition_depth=2, skip="shortcut")
    model, x, h0, targets = problem.model, problem.x, problem.h0, problem.targets
    saved = (x.copy(), [h.copy() for h in h0], {k: v.copy() for k, v in model.params.items()})
    loss1, grads1, info1 = model.loss_and_grads(x, targets, loss="mse", h0=h0)
    model.forward(2 * x)  # an unrelated call in between
    model.loss_and_grads(x[:2], targets[:2], loss="mse")
    loss2, grads2, info2 = model.loss_and_grads(x, targets, loss="mse", h0=h0)
    assert loss1 == loss2
    assert all(np.array_equal(grads1[k], grads2[k]) for k in grads1)
    assert np.array_equal(info1.dx, info2.dx)
    assert np.array_equal(x, saved[0]) and all(
        np.array_equal(a, b) for a, b in zip(h0, saved[1], strict=True)
    )
    assert all(np.array_equal(model.params[k], saved[2][k]) for k in saved[2])


def test_grads_are_fresh_arrays_not_views_of_params_or_each_other():
    """Catches a gradient dict that aliases params (an optimizer step would then corrupt it)."""
    problem = small_problem("xent", transition_depth=2, skip="shortcut")
    _, grads, _ = problem.model.loss_and_grads(problem.x, problem.targets, h0=problem.h0)
    arrays = list(grads.values()) + list(problem.model.params.values())
    for i, a in enumerate(arrays):
        for b in arrays[i + 1 :]:
            assert not np.shares_memory(a, b)


def test_need_dx_false_skips_dx_and_changes_nothing_else():
    """Catches need_dx=False also skipping (or changing) a parameter's gradient."""
    problem = small_problem("xent", num_layers=2, input_depth=1, transition_depth=1)
    args = (problem.x, problem.targets)
    loss_a, grads_a, info_a = problem.model.loss_and_grads(*args, h0=problem.h0)
    loss_b, grads_b, info_b = problem.model.loss_and_grads(*args, h0=problem.h0, need_dx=False)
    assert info_b.dx is None and info_a.dx.shape == problem.x.shape
    assert loss_a == loss_b
    assert all(np.array_equal(grads_a[k], grads_b[k]) for k in grads_a)
    assert all(np.array_equal(a, b) for a, b in zip(info_a.dh0, info_b.dh0, strict=True))


def test_h0_none_means_zeros_and_the_final_state_continues_a_sequence():
    """forward(x[:k]) then forward(x[k:], h0=state) equals forward(x): catches a final state taken
    from the wrong step or layer, and h0=None that is not zeros."""
    problem = small_problem("xent", T=7, num_layers=2, transition_depth=1, skip="residual")
    model, x = problem.model, problem.x
    y_full, state_full = model.forward(x)
    y_zero, _ = model.forward(x, model.initial_state(x.shape[1]))
    assert np.array_equal(y_full, y_zero)
    y_a, state_a = model.forward(x[:3])
    y_b, state_b = model.forward(x[3:], state_a)
    np.testing.assert_allclose(np.concatenate([y_a, y_b]), y_full, rtol=0, atol=1e-12)
    for a, b in zip(state_b, state_full, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_a_one_layer_model_takes_a_single_h0_array():
    problem = small_problem("xent")
    y_list, _ = problem.model.forward(problem.x, problem.h0)
    y_array, _ = problem.model.forward(problem.x, problem.h0[0])
    assert np.array_equal(y_list, y_array)


def test_initial_state_is_zeros_of_each_layers_size_and_dtype():
    model = numrnn.DeepRNN(3, 4, 2, layers=[{}, {"hidden_size": 6}], dtype=np.float32, seed=0)
    state = model.initial_state(3)
    assert [s.shape for s in state] == [(3, 4), (3, 6)]
    assert all(s.dtype == np.float32 and not s.any() for s in state)


def test_repr_names_the_architecture_of_every_layer():
    text = repr(_rich_model())
    assert "deep transition + skip" in text and "DT(S) shortcut" in text and "vanilla" in text


def test_strided_fortran_and_read_only_inputs_give_the_same_results():
    """Catches a core that assumes C-contiguous inputs (np.dot with out=, reshape views) or writes
    into x or h0: a strided, read-only x and a transposed h0 must give bitwise the same results."""
    rng = np.random.default_rng(3)
    model = numrnn.DeepRNN(
        3, 4, 2, num_layers=2, transition_depth=1, skip="shortcut", input_depth=1, seed=0
    )
    x = rng.standard_normal((10, 4, 6))[::2, ::2, ::2]  # (5, 2, 3), no axis contiguous
    x.flags.writeable = False
    x_c = np.ascontiguousarray(x)
    h0 = [np.asfortranarray(rng.standard_normal((2, 4))), rng.standard_normal((4, 2)).T]
    h0_c = [np.ascontiguousarray(h) for h in h0]
    targets = rng.integers(0, 2, size=(5, 2))
    for x_variant in (x, np.asfortranarray(x_c)):
        loss_a, grads_a, info_a = model.loss_and_grads(x_variant, targets, h0=h0)
        loss_b, grads_b, info_b = model.loss_and_grads(x_c, targets, h0=h0_c)
        assert (
            loss_a == loss_b
            and np.array_equal(info_a.y, info_b.y)
            and np.array_equal(info_a.dx, info_b.dx)
        )
        assert all(np.array_equal(grads_a[k], grads_b[k]) for k in grads_a)
