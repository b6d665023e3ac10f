"""Special cases that must equal each other: the core and the naive reference, the
vanilla RNN written out by hand, a layer and a stack, residual identity paths,
layer-skips, DT(S) with zero shortcuts, truncated BPTT, causality and batch
independence.

Each test names the bug it catches. Tolerances are float64: 1e-12 absolute
where the two sides do the same arithmetic in a different order, bitwise
(``np.array_equal``) where they must do exactly the same arithmetic.

Shape legend: T steps, B batch, D input size, H hidden size, M MLP width,
O output size, L layers.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import build_problem, model_settings, randomize_biases, small_problem
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import numrnn
from numrnn import layers, network, reference
from numrnn.losses import compute_loss
from numrnn.params import layer_params, output_params

ATOL = 1e-12


def assert_close(actual, expected, atol=ATOL, what=""):
    """Element-wise |actual - expected| <= atol, same shape."""
    np.testing.assert_allclose(actual, expected, rtol=0, atol=atol, err_msg=what)


# --------------------------------------------------------------------------- core == reference


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setting=model_settings(), window=st.one_of(st.none(), st.integers(1, 8)))
def test_vectorized_core_equals_the_naive_per_step_reference(setting, window):
    """Catches any divergence of the vectorized core (fused products, buffers reused across steps,
    weight gradients after the loop, the window cut) from the step-by-step maths: y, final states,
    loss, every gradient, dx, dh0 and the (L, T) gradient-norm map, with and without truncation."""
    problem = build_problem(setting)
    model, x, h0 = problem.model, problem.x, problem.h0
    loss, grads, info = model.loss_and_grads(
        x, problem.targets, loss=problem.loss, h0=h0, mask=problem.mask, bptt_window=window
    )

    y_ref, final_ref, cache_ref = reference.model_forward(model.params, model.config, x, h0)
    loss_ref, dy_ref = compute_loss(problem.loss, y_ref, problem.targets, problem.mask)
    grads_ref, dx_ref, dh0_ref, norms_ref = reference.model_backward(dy_ref, cache_ref, window)

    assert_close(info.y, y_ref, what="y")
    for l, (state, state_ref) in enumerate(zip(info.final_state, final_ref, strict=True)):
        assert_close(state, state_ref, what=f"final_state[{l}]")
    assert abs(loss - loss_ref) <= ATOL
    assert list(grads) == list(model.params) == list(grads_ref)
    for name in grads:
        assert grads[name].shape == model.params[name].shape
        assert_close(grads[name], grads_ref[name], what=name)
    assert_close(info.dx, dx_ref, what="dx")
    for l, (dh0, dh0_ref_l) in enumerate(zip(info.dh0, dh0_ref, strict=True)):
        assert_close(dh0, dh0_ref_l, what=f"dh0[{l}]")
    assert info.grad_norms.shape == (len(h0), x.shape[0])
    assert_close(info.grad_norms, norms_ref, what="grad_norms")


# --------------------------------------------------------------------------- vanilla by hand


def test_transition_depth_zero_is_the_vanilla_rnn_written_out_by_hand():
    """Catches a q = 0 layer that is not h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h): a missing bias,
    W_hh applied on the wrong side, the output read from h_{t-1}; and any wrong vanilla BPTT term
    (compared against a min-char-rnn style backward written here)."""
    problem = small_problem("mse", T=6, B=3, D=2, H=4, O=3)
    model, x, h0, targets = problem.model, problem.x, problem.h0[0], problem.targets
    p = model.params
    W_xh, W_hh, b_h = p["layer1.W_xh"], p["layer1.W_hh"], p["layer1.b_h"]
    W_hy, b_y = p["output.W_hy"], p["output.b_y"]
    T, B, _ = x.shape

    hs, ys, h = [h0], [], h0
    for t in range(T):
        h = np.tanh(x[t] @ W_xh + h @ W_hh + b_h)
        hs.append(h)
        ys.append(h @ W_hy + b_y)
    y_hand = np.stack(ys)
    loss_hand = np.mean((y_hand - targets) ** 2)

    dy = 2 * (y_hand - targets) / y_hand.size  # d mean((y - t)^2) / dy
    g = {
        name: np.zeros_like(value)
        for name, value in (
            ("W_xh", W_xh),
            ("W_hh", W_hh),
            ("b_h", b_h),
            ("W_hy", W_hy),
            ("b_y", b_y),
        )
    }
    dx_hand = np.zeros_like(x)
    dh_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        g["W_hy"] += hs[t + 1].T @ dy[t]
        g["b_y"] += dy[t].sum(axis=0)
        dh = dy[t] @ W_hy.T + dh_next  # backprop into h_t
        da = dh * (1 - hs[t + 1] ** 2)  # backprop through tanh
        g["W_xh"] += x[t].T @ da
        g["W_hh"] += hs[t].T @ da
        g["b_h"] += da.sum(axis=0)
        dx_hand[t] = da @ W_xh.T
        dh_next = da @ W_hh.T  # backprop into h_{t-1}

    y, state = model.forward(x, [h0])
    assert_close(y, y_hand, what="y")
    assert_close(state[0], hs[-1], what="h_T")
    loss, grads, info = model.loss_and_grads(x, targets, loss="mse", h0=[h0])
    assert abs(loss - loss_hand) <= ATOL
    for name in ("W_xh", "W_hh", "b_h"):
        assert_close(grads[f"layer1.{name}"], g[name], what=name)
    for name in ("W_hy", "b_y"):
        assert_close(grads[f"output.{name}"], g[name], what=name)
    assert_close(info.dx, dx_hand, what="dx")
    assert_close(info.dh0[0], dh_next, what="dh0")


# --------------------------------------------------------------------------- layers and stacks


def test_a_one_layer_model_equals_its_layer_run_alone():
    """Catches a model that does anything to a layer's states besides the output MLP (a stray
    activation, a transposed reshape of (T, B, H) to T·B rows)."""
    problem = small_problem(
        "xent", transition_depth=2, skip="residual", input_depth=1, layer_skip=True
    )
    model, x, h0 = problem.model, problem.x, problem.h0
    h, _ = layers.layer_forward(x, h0[0], layer_params(model.params, 1), model.config.layers[0])
    y, state = model.forward(x, h0)
    out = output_params(model.params)
    assert_close(y, h @ out["W_hy"] + out["b_y"], what="y")
    assert np.array_equal(state[0], h[-1])


def _mixed_stack(seed=0):
    """A 3-layer stack whose layers all differ (kind, depths, widths, activations)."""
    model = numrnn.DeepRNN(
        3,
        4,
        2,
        layers=[
            dict(hidden_size=4, transition_depth=2, skip="residual", layer_skip=True),
            dict(
                hidden_size=4, transition_depth=0, input_depth=1, mlp_width=3, activation="sigmoid"
            ),
            dict(hidden_size=3, transition_depth=2, skip="shortcut", mlp_width=5),
        ],
        output_depth=1,
        bias=0.1,
        seed=seed,
    )
    rng = np.random.default_rng(seed + 1)
    randomize_biases(model, rng)
    T, B = 6, 3
    x = rng.standard_normal((T, B, 3))
    h0 = [0.5 * rng.standard_normal((B, layer.hidden_size)) for layer in model.config.layers]
    return model, x, h0, rng


def test_each_layer_of_a_stack_equals_that_layer_run_on_the_states_below():
    """Catches a stack that feeds layer l anything but layer l-1's states (x again, the wrong
    layer's h0, the states shifted by one step) — bitwise, since it is the same computation."""
    model, x, h0, _ = _mixed_stack()
    _, final_state, cache = network.forward(model.params, model.config, x, h0)
    below = x
    for l, config in enumerate(model.config.layers, start=1):
        h, _ = layers.layer_forward(below, h0[l - 1], layer_params(model.params, l), config)
        assert np.array_equal(cache.layer_caches[l - 1].states[1:], h), f"layer {l}"
        assert np.array_equal(final_state[l - 1], h[-1])
        below = h


def test_the_bottom_of_a_stack_equals_a_one_layer_model_with_the_same_parameters():
    """Catches a stack whose layer 1 depends on the layers above it in the forward pass."""
    model, x, h0, _ = _mixed_stack()
    first = model.config.layers[0]
    config = numrnn.ModelConfig((first,), model.config.output_size)
    params = {name: value for name, value in model.params.items() if name.startswith("layer1.")}
    params["output.W_hy"] = np.ones((first.hidden_size, model.config.output_size))
    params["output.b_y"] = np.zeros(model.config.output_size)
    alone = numrnn.DeepRNN.from_config(config, params)
    _, state_stack = model.forward(x, h0)
    _, state_alone = alone.forward(x, h0[:1])
    assert np.array_equal(state_stack[0], state_alone[0])


def test_a_stack_backward_is_the_layers_backward_composed_by_hand():
    """Catches (S.2) bugs: layer l-1 receiving the wrong gradient (its own dh instead of layer
    l's dx, dx not summed over the input MLP), or a layer's gradients filed under another layer's
    names."""
    model, x, h0, rng = _mixed_stack(seed=3)
    targets = rng.standard_normal((x.shape[0], x.shape[1], 2))
    _, grads, info = model.loss_and_grads(x, targets, loss="mse", h0=h0)

    below, caches = x, []
    for l, config in enumerate(model.config.layers, start=1):
        below, cache = layers.layer_forward(below, h0[l - 1], layer_params(model.params, l), config)
        caches.append(cache)
    out = output_params(model.params)
    pre = below @ out["W_y1"] + out["b_y1"]
    g1 = np.tanh(pre)  # output MLP, r = 1, ψ = tanh
    y = g1 @ out["W_hy"] + out["b_y"]
    _, dy = compute_loss("mse", y, targets)
    dg1 = dy @ out["W_hy"].T
    dh = (dg1 * (1 - g1**2)) @ out["W_y1"].T  # ∂loss/∂h^(3) from the output
    for l in range(3, 0, -1):
        dh, dh0, layer_grads = layers.layer_backward(dh, caches[l - 1])
        for name, value in layer_grads.items():
            assert_close(grads[f"layer{l}.{name}"], value, what=f"layer{l}.{name}")
        assert_close(info.dh0[l - 1], dh0, what=f"dh0[{l - 1}]")
    assert_close(info.dx, dh, what="dx")


# --------------------------------------------------------------------------- residual identity path


@pytest.mark.parametrize("depth, input_depth", [(0, 0), (2, 0), (1, 2)])
def test_residual_layer_with_zero_transition_and_input_weights_carries_h_unchanged(
    depth, input_depth
):
    """Catches a residual path that is not the identity: h_t = h_{t-1} + φ(0) must be h_0 exactly
    (a stray scale on h_{t-1}, φ applied to the sum, the skip added twice)."""
    rng = np.random.default_rng(depth)
    model = numrnn.DeepRNN(
        3, 4, 2, transition_depth=depth, input_depth=input_depth, skip="residual", seed=1
    )
    randomize_biases(model, rng)
    params = {name: value.copy() for name, value in layer_params(model.params, 1).items()}
    for name in params:
        if name.startswith("W_h") or name == "W_xh" or name == "b_h":
            params[name][...] = 0.0  # every transition weight, the input map, a_t's bias
    x = rng.standard_normal((5, 2, 3))
    h0 = rng.standard_normal((2, 4))
    h, _ = layers.residual_forward(x, h0, params)
    assert np.array_equal(h, np.broadcast_to(h0, h.shape))


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_residual_layer_with_zero_transition_weights_adds_phi_of_the_input(activation):
    """With W_h*, W_hh = 0 the residual layer is h_t = h_{t-1} + φ(x_t W_xh + b_h): catches a
    residual update that reads φ(a_t) from the wrong step or forgets the input's bias."""
    rng = np.random.default_rng(5)
    model = numrnn.DeepRNN(
        3, 4, 2, transition_depth=2, skip="residual", activation=activation, seed=2
    )
    randomize_biases(model, rng)
    params = {name: value.copy() for name, value in layer_params(model.params, 1).items()}
    for name in params:
        if name.startswith("W_h"):
            params[name][...] = 0.0
    x = rng.standard_normal((6, 3, 3))
    h0 = rng.standard_normal((3, 4))
    phi = np.tanh if activation == "tanh" else (lambda a: 1 / (1 + np.exp(-a)))
    expected, h = [], h0
    for t in range(x.shape[0]):
        h = h + phi(x[t] @ params["W_xh"] + params["b_h"])
        expected.append(h)
    h_layer, _ = layers.residual_forward(x, h0, params, activation=activation)
    assert_close(h_layer, np.stack(expected))


# --------------------------------------------------------------------------- layer-skips


def test_layer_skip_with_identity_width_adds_g_prev_inside_the_transition():
    """q = 1, M = H, layer_skip: g_1 = h_{t-1} + tanh(h_{t-1} W_h1 + b_h1),
    a_t = g_1 W_hh + x_t W_xh + b_h.
    Catches a layer-skip that is missing, added after the activation of the next level, or added
    at the state level instead of inside MLP_h."""
    rng = np.random.default_rng(11)
    model = numrnn.DeepRNN(3, 4, 2, transition_depth=1, layer_skip=True, seed=4)
    randomize_biases(model, rng)
    p = layer_params(model.params, 1)
    x = rng.standard_normal((5, 2, 3))
    h0 = rng.standard_normal((2, 4))
    expected, h = [], h0
    for t in range(x.shape[0]):
        g1 = h + np.tanh(h @ p["W_h1"] + p["b_h1"])
        h = np.tanh(g1 @ p["W_hh"] + x[t] @ p["W_xh"] + p["b_h"])
        expected.append(h)
    h_layer, _ = layers.deep_transition_forward(x, h0, p, layer_skip=True)
    assert_close(h_layer, np.stack(expected))


def test_layer_skip_with_a_zeroed_first_level_is_the_vanilla_rnn():
    """g_1 = h_{t-1} + tanh(0) = h_{t-1} exactly, so the layer is vanilla with W_hh: catches a
    layer-skip that scales or drops the identity path."""
    rng = np.random.default_rng(12)
    deep = numrnn.DeepRNN(3, 4, 2, transition_depth=1, layer_skip=True, seed=5)
    randomize_biases(deep, rng)
    p = {name: value.copy() for name, value in layer_params(deep.params, 1).items()}
    p["W_h1"][...] = 0.0
    p["b_h1"][...] = 0.0
    x = rng.standard_normal((6, 3, 3))
    h0 = rng.standard_normal((3, 4))
    h_deep, _ = layers.deep_transition_forward(x, h0, p, layer_skip=True)
    h_vanilla, _ = layers.rnn_forward(x, h0, {name: p[name] for name in ("W_xh", "W_hh", "b_h")})
    assert_close(h_deep, h_vanilla)


def test_layer_skip_changes_nothing_where_no_widths_match():
    """D=3, H=4, M=5: no hidden layer of MLP_x, MLP_h or MLP_o is square, so layer_skip=True must
    give bitwise the same model: catches a skip applied across a width change (or broadcast)."""
    kwargs = dict(transition_depth=1, input_depth=1, output_depth=1, mlp_width=5, bias=0.1, seed=6)
    with_skip = numrnn.DeepRNN(3, 4, 2, layer_skip=True, **kwargs)
    without = numrnn.DeepRNN(3, 4, 2, layer_skip=False, **kwargs)
    for name in with_skip.params:
        assert np.array_equal(with_skip.params[name], without.params[name])
    rng = np.random.default_rng(13)
    x = rng.standard_normal((5, 2, 3))
    targets = rng.integers(0, 2, size=(5, 2))
    loss_a, grads_a, info_a = with_skip.loss_and_grads(x, targets)
    loss_b, grads_b, info_b = without.loss_and_grads(x, targets)
    assert loss_a == loss_b
    assert np.array_equal(info_a.y, info_b.y)
    for name in grads_a:
        assert np.array_equal(grads_a[name], grads_b[name]), name
    assert np.array_equal(info_a.dx, info_b.dx)


# --------------------------------------------------------------------------- DT(S) shortcut


@pytest.mark.parametrize("depth", [1, 3])
def test_shortcut_with_zero_shortcut_matrices_is_a_deep_transition_with_the_input_at_level_one(
    depth,
):
    """DT(S) with S_h* = 0: g_1 = ψ(h_{t-1} W_h1 + x_t W_xh + b_h1), g_j = ψ(g_{j-1} W_hj + b_hj),
    h_t = φ(g_q W_hh + b_h). Catches the input joining the wrong level, a bias added twice at
    level 1, or a shortcut that leaks in when S = 0."""
    rng = np.random.default_rng(20 + depth)
    model = numrnn.DeepRNN(3, 4, 2, transition_depth=depth, skip="shortcut", mlp_width=5, seed=7)
    randomize_biases(model, rng)
    p = {name: value.copy() for name, value in layer_params(model.params, 1).items()}
    for name in p:
        if name.startswith("S_h"):
            p[name][...] = 0.0
    x = rng.standard_normal((5, 2, 3))
    h0 = rng.standard_normal((2, 4))
    expected, h = [], h0
    for t in range(x.shape[0]):
        g = np.tanh(h @ p["W_h1"] + x[t] @ p["W_xh"] + p["b_h1"])
        for j in range(2, depth + 1):
            g = np.tanh(g @ p[f"W_h{j}"] + p[f"b_h{j}"])
        h = np.tanh(g @ p["W_hh"] + p["b_h"])
        expected.append(h)
    h_layer, _ = layers.shortcut_forward(x, h0, p)
    assert_close(h_layer, np.stack(expected))


def test_shortcut_matrices_enter_every_level_above_the_first():
    """DT(S) by hand with non-zero S: catches a shortcut S_hj read from g_{j-1} instead of h_{t-1},
    or one of the shortcuts dropped."""
    rng = np.random.default_rng(30)
    model = numrnn.DeepRNN(3, 4, 2, transition_depth=2, skip="shortcut", mlp_width=3, seed=8)
    randomize_biases(model, rng)
    p = layer_params(model.params, 1)
    x = rng.standard_normal((4, 2, 3))
    h0 = rng.standard_normal((2, 4))
    expected, h = [], h0
    for t in range(x.shape[0]):
        g1 = np.tanh(h @ p["W_h1"] + x[t] @ p["W_xh"] + p["b_h1"])
        g2 = np.tanh(g1 @ p["W_h2"] + h @ p["S_h2"] + p["b_h2"])
        h = np.tanh(g2 @ p["W_hh"] + h @ p["S_hh"] + p["b_h"])
        expected.append(h)
    h_layer, _ = layers.shortcut_forward(x, h0, p)
    assert_close(h_layer, np.stack(expected))


# --------------------------------------------------------------------------- truncated BPTT


def _truncation_problem():
    return small_problem(
        "mse",
        T=7,
        B=3,
        num_layers=2,
        transition_depth=2,
        skip="residual",
        input_depth=1,
        output_depth=1,
        seed=9,
    )


@pytest.mark.parametrize("window", [7, 8, 1000])
def test_a_window_at_least_as_long_as_the_sequence_is_full_bptt_exactly(window):
    """Catches a cut at t = 0 or t = T (dh0 zeroed, the last step detached) when k >= T."""
    problem = _truncation_problem()
    args = (problem.x, problem.targets)
    kw = dict(loss="mse", h0=problem.h0)
    loss_full, grads_full, info_full = problem.model.loss_and_grads(*args, **kw)
    loss_k, grads_k, info_k = problem.model.loss_and_grads(*args, bptt_window=window, **kw)
    assert loss_full == loss_k
    for name in grads_full:
        assert np.array_equal(grads_full[name], grads_k[name]), name
    assert np.array_equal(info_full.dx, info_k.dx)
    assert all(np.array_equal(a, b) for a, b in zip(info_full.dh0, info_k.dh0, strict=True))
    assert np.array_equal(info_full.grad_norms, info_k.grad_norms)


@pytest.mark.parametrize("window", [1, 2, 3, 6])
def test_truncated_bptt_equals_running_the_windows_one_after_another(window):
    """Truncated BPTT over T steps = loss_and_grads on each window with the state carried and
    the gradient not, summed. MSE is a mean over T·B·O entries and a window's over k·B·O, so
    window w's share is weighted by k_w / T. Catches a cut one step off, a cut that also stops
    the forward state, or dh0 taken from the last window instead of the first."""
    problem = _truncation_problem()
    model, x, targets = problem.model, problem.x, problem.targets
    T = x.shape[0]
    loss, grads, info = model.loss_and_grads(
        x, targets, loss="mse", h0=problem.h0, bptt_window=window
    )

    total_loss, total = 0.0, {name: np.zeros_like(value) for name, value in model.params.items()}
    dx, norms, ys, h0, dh0_first = [], [], [], problem.h0, None
    for start in range(0, T, window):
        stop = min(start + window, T)
        share = (stop - start) / T
        loss_w, grads_w, info_w = model.loss_and_grads(
            x[start:stop], targets[start:stop], loss="mse", h0=h0
        )
        total_loss += share * loss_w
        for name in total:
            total[name] += share * grads_w[name]
        dx.append(share * info_w.dx)
        norms.append(share * info_w.grad_norms)
        ys.append(info_w.y)
        if dh0_first is None:
            dh0_first = [share * d for d in info_w.dh0]
        h0 = info_w.final_state  # the state is carried across windows
    assert abs(loss - total_loss) <= ATOL
    for name in grads:
        assert_close(grads[name], total[name], what=name)
    assert_close(info.dx, np.concatenate(dx), what="dx")
    assert_close(info.grad_norms, np.concatenate(norms, axis=1), what="grad_norms")
    assert_close(info.y, np.concatenate(ys), what="y")
    for dh0, expected in zip(info.dh0, dh0_first, strict=True):
        assert_close(dh0, expected, what="dh0")
    for state, expected in zip(info.final_state, h0, strict=True):
        assert_close(state, expected, what="final_state")


@pytest.mark.parametrize("window", [1, 2, 3])
def test_truncated_gradient_norms_vanish_exactly_before_the_last_window(window):
    """With the loss on the last step only, ∂loss/∂h_t is exactly 0 before the last window and
    non-zero inside it, in every layer: catches a window cut that leaks (or cuts too much)."""
    problem = _truncation_problem()
    T = problem.x.shape[0]
    targets = np.full((T, 3), -1)
    targets[-1] = [0, 1, 0]
    _, _, info = problem.model.loss_and_grads(problem.x, targets, h0=problem.h0, bptt_window=window)
    last_start = ((T - 1) // window) * window
    assert np.all(info.grad_norms[:, :last_start] == 0)
    assert np.all(info.grad_norms[:, last_start:] > 0)
    assert np.all(info.dh0[0] == 0) == (last_start > 0)


# -------------------------------------------------------------------- causality, batch independence


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setting=model_settings(), data=st.data())
def test_changing_x_at_one_step_leaves_every_earlier_output_and_state_bitwise_unchanged(
    setting, data
):
    """Causality: catches a vectorized input side or a time loop that reads x_{t'} (or h_{t'})
    before step t' (an off-by-one in the time index, a reversed sequence, a shared buffer)."""
    problem = build_problem(setting)
    model, x, h0 = problem.model, problem.x, problem.h0
    T = x.shape[0]
    t_changed = data.draw(st.integers(0, T - 1), label="t_changed")
    x_changed = x.copy()
    x_changed[t_changed] += 1.0
    y, _, cache = network.forward(model.params, model.config, x, h0)
    y2, _, cache2 = network.forward(model.params, model.config, x_changed, h0)
    assert np.array_equal(y[:t_changed], y2[:t_changed])
    for a, b in zip(cache.layer_caches, cache2.layer_caches, strict=True):
        assert np.array_equal(
            a.states[: t_changed + 1], b.states[: t_changed + 1]
        )  # h_0 .. h_{t'-1}
    assert not np.array_equal(y[t_changed:], y2[t_changed:])  # and it does reach t'


def _row_weight(loss, targets, mask, b):
    """The total weight row b contributes to a mean loss's denominator."""
    T = targets.shape[0]
    w = np.ones(T) if mask is None else mask[:, b]
    return float(np.sum(w * (targets[:, b] >= 0))) if loss == "xent" else float(np.sum(w))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setting=model_settings(max_batch=4))
def test_each_batch_row_is_computed_independently(setting):
    """Each row alone gives the same y, final state, dx and dh0; the batch's gradients are the
    per-row gradients weighted by each row's share of the mean's denominator. Catches sums over
    the wrong axis, states shared across rows, and a loss normalised per row instead of overall."""
    problem = build_problem(setting)
    model, x, h0, targets, mask, loss = (
        problem.model,
        problem.x,
        problem.h0,
        problem.targets,
        problem.mask,
        problem.loss,
    )
    _, grads, info = model.loss_and_grads(x, targets, loss=loss, h0=h0, mask=mask)
    B = x.shape[1]
    weights = [_row_weight(loss, targets, mask, b) for b in range(B)]
    total = sum(weights)
    summed = {name: np.zeros_like(value) for name, value in grads.items()}
    for b in range(B):
        rows = slice(b, b + 1)
        y_b, state_b = model.forward(x[:, rows], [h[rows] for h in h0])
        assert_close(info.y[:, rows], y_b, what=f"y row {b}")
        for l, state in enumerate(state_b):
            assert_close(info.final_state[l][rows], state, what=f"state row {b}")
        if weights[b] == 0:
            assert np.all(info.dx[:, rows] == 0)  # a row that counts nowhere gets no gradient
            continue
        share = weights[b] / total
        _, grads_b, info_b = model.loss_and_grads(
            x[:, rows],
            targets[:, rows],
            loss=loss,
            h0=[h[rows] for h in h0],
            mask=None if mask is None else mask[:, rows],
        )
        for name in summed:
            summed[name] += share * grads_b[name]
        assert_close(info.dx[:, rows], share * info_b.dx, what=f"dx row {b}")
        for l, dh0 in enumerate(info_b.dh0):
            assert_close(info.dh0[l][rows], share * dh0, what=f"dh0[{l}] row {b}")
    for name in grads:
        assert_close(grads[name], summed[name], what=name)
