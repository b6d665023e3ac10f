"""Optimizers and schedules: each update against numbers worked out by hand from its equation.

The 2-parameter example used throughout: θ₀ = (1, -2), first gradient
g₁ = (0.5, -1), second gradient g₂ = (-0.25, 2), learning rate η = 0.1. The
expected values are written out step by step in each test from the update
equation in ``docs/training.md``, not taken from the implementation.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from numrnn.training import optim

THETA0 = (1.0, -2.0)
G1 = (0.5, -1.0)
G2 = (-0.25, 2.0)
EPS = 1e-8


def two_steps(optimizer, dtype=np.float64):
    """θ after one and after two updates of the 2-parameter example."""
    params = {"w": np.array(THETA0, dtype=dtype)}
    state = optimizer.init(params)
    optimizer.step(params, {"w": np.array(G1, dtype=dtype)}, state, lr=0.1)
    after_one = params["w"].copy()
    optimizer.step(params, {"w": np.array(G2, dtype=dtype)}, state, lr=0.1)
    return after_one, params["w"].copy(), state


def test_sgd_by_hand():
    one, two, _ = two_steps(optim.SGD())
    # θ₁ = θ₀ − 0.1 g₁ = (1 − 0.05, −2 + 0.1);  θ₂ = θ₁ − 0.1 g₂ = (0.95 + 0.025, −1.9 − 0.2)
    np.testing.assert_allclose(one, [0.95, -1.9], rtol=1e-15)
    np.testing.assert_allclose(two, [0.975, -2.1], rtol=1e-15)


def test_momentum_by_hand():
    one, two, state = two_steps(optim.Momentum(momentum=0.9))
    # v₁ = g₁ = (0.5, −1);  θ₁ = θ₀ − 0.1 v₁ = (0.95, −1.9)
    # v₂ = 0.9 v₁ + g₂ = (0.45 − 0.25, −0.9 + 2) = (0.2, 1.1);  θ₂ = θ₁ − 0.1 v₂ = (0.93, −2.01)
    np.testing.assert_allclose(one, [0.95, -1.9], rtol=1e-15)
    np.testing.assert_allclose(two, [0.93, -2.01], rtol=1e-14)
    np.testing.assert_allclose(state["v/w"], [0.2, 1.1], rtol=1e-14)


def test_nesterov_by_hand():
    one, two, _ = two_steps(optim.Nesterov(momentum=0.9))
    # v₁ = (0.5, −1);  θ₁ = θ₀ − 0.1 (g₁ + 0.9 v₁) = θ₀ − 0.1 (0.95, −1.9) = (0.905, −1.81)
    # v₂ = (0.2, 1.1); θ₂ = θ₁ − 0.1 (g₂ + 0.9 v₂) = θ₁ − 0.1 (−0.07, 2.99) = (0.912, −2.109)
    np.testing.assert_allclose(one, [0.905, -1.81], rtol=1e-14)
    np.testing.assert_allclose(two, [0.912, -2.109], rtol=1e-14)


def test_adagrad_by_hand():
    one, two, state = two_steps(optim.Adagrad(lr=0.1, eps=EPS))
    # G₁ = g₁² = (0.25, 1);  θ₁ = θ₀ − 0.1 g₁ / (√G₁ + ε) = (1 − 0.1·0.5/0.5, −2 + 0.1·1/1)
    expected_one = [1 - 0.1 * 0.5 / (0.5 + EPS), -2 + 0.1 * 1 / (1 + EPS)]
    # G₂ = G₁ + g₂² = (0.3125, 5);  θ₂ = θ₁ − 0.1 g₂ / (√G₂ + ε)
    expected_two = [
        expected_one[0] + 0.1 * 0.25 / (math.sqrt(0.3125) + EPS),
        expected_one[1] - 0.1 * 2 / (math.sqrt(5) + EPS),
    ]
    np.testing.assert_allclose(one, expected_one, rtol=1e-15)
    np.testing.assert_allclose(two, expected_two, rtol=1e-14)
    np.testing.assert_allclose(state["G/w"], [0.3125, 5.0], rtol=1e-15)


def test_rmsprop_by_hand():
    one, two, state = two_steps(optim.RMSProp(lr=0.1, rho=0.9, eps=EPS))
    # s₁ = 0.1 g₁² = (0.025, 0.1);  θ₁ = θ₀ − 0.1 g₁ / (√s₁ + ε)
    expected_one = [1 - 0.1 * 0.5 / (math.sqrt(0.025) + EPS), -2 + 0.1 * 1 / (math.sqrt(0.1) + EPS)]
    # s₂ = 0.9 s₁ + 0.1 g₂² = (0.0225 + 0.00625, 0.09 + 0.4) = (0.02875, 0.49)
    expected_two = [
        expected_one[0] + 0.1 * 0.25 / (math.sqrt(0.02875) + EPS),
        expected_one[1] - 0.1 * 2 / (0.7 + EPS),
    ]
    np.testing.assert_allclose(one, expected_one, rtol=1e-14)
    np.testing.assert_allclose(two, expected_two, rtol=1e-14)
    np.testing.assert_allclose(state["s/w"], [0.02875, 0.49], rtol=1e-14)


def test_adam_by_hand():
    one, two, state = two_steps(optim.Adam(lr=0.1, beta1=0.9, beta2=0.999, eps=EPS))
    # t = 1: m₁ = 0.1 g₁, v₁ = 0.001 g₁²; m̂ = m₁ / 0.1 = g₁, v̂ = v₁ / 0.001 = g₁²
    #        θ₁ = θ₀ − 0.1 g₁ / (|g₁| + ε): a step of 0.1 against the sign of g₁
    expected_one = [1 - 0.1 * 0.5 / (0.5 + EPS), -2 + 0.1 * 1 / (1 + EPS)]
    # t = 2: m₂ = 0.9 m₁ + 0.1 g₂ = (0.045 − 0.025, −0.09 + 0.2) = (0.02, 0.11)
    #        v₂ = 0.999 v₁ + 0.001 g₂² = (0.00024975 + 0.0000625, 0.000999 + 0.004)
    #           = (0.00031225, 0.004999)
    #        m̂ = m₂ / (1 − 0.9²) = m₂ / 0.19,  v̂ = v₂ / (1 − 0.999²) = v₂ / 0.001999
    m_hat = np.array([0.02, 0.11]) / 0.19
    v_hat = np.array([0.00031225, 0.004999]) / 0.001999
    expected_two = np.array(expected_one) - 0.1 * m_hat / (np.sqrt(v_hat) + EPS)
    np.testing.assert_allclose(one, expected_one, rtol=1e-15)
    np.testing.assert_allclose(two, expected_two, rtol=1e-12)
    np.testing.assert_allclose(state["m/w"], [0.02, 0.11], rtol=1e-14)
    np.testing.assert_allclose(state["v/w"], [0.00031225, 0.004999], rtol=1e-12)
    assert int(state["step"]) == 2


def test_adamw_by_hand():
    one, _, _ = two_steps(optim.AdamW(lr=0.1, weight_decay=0.1, eps=EPS))
    # θ₁ = θ₀ − η λ θ₀ − η m̂/(√v̂ + ε) = 0.99 θ₀ − 0.1 sign(g₁) = (0.99 − 0.1, −1.98 + 0.1)
    np.testing.assert_allclose(
        one, [0.99 - 0.1 * 0.5 / (0.5 + EPS), -1.98 + 0.1 * 1 / (1 + EPS)], rtol=1e-15
    )


def test_adamw_with_zero_decay_is_adam():
    _, adam, _ = two_steps(optim.Adam(lr=0.1))
    _, adamw, _ = two_steps(optim.AdamW(lr=0.1, weight_decay=0.0))
    np.testing.assert_array_equal(adam, adamw)


def test_adamw_decays_a_parameter_with_zero_gradient():
    params = {"w": np.array([2.0, -4.0])}
    opt = optim.AdamW(lr=0.1, weight_decay=0.5)
    state = opt.init(params)
    opt.step(params, {"w": np.zeros(2)}, state)
    # m = v = 0 so the Adam part is 0; θ ← θ − 0.1·0.5·θ = 0.95 θ
    np.testing.assert_allclose(params["w"], [1.9, -3.8], rtol=1e-15)


@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_updates_in_place_and_keeps_float32(name):
    params = {"a": np.ones((2, 3), dtype=np.float32), "b": np.zeros(3, dtype=np.float32)}
    arrays = {key: value for key, value in params.items()}
    opt = optim.make_optimizer(name, lr=0.01)
    state = opt.init(params)
    grads = {"a": np.full((2, 3), 0.5, dtype=np.float32), "b": np.full(3, -0.5, dtype=np.float32)}
    opt.step(params, grads, state)
    for key in params:
        assert params[key] is arrays[key]  # same array, new values
        assert params[key].dtype == np.float32
    for key, value in state.items():
        if key != "step":
            assert value.dtype == np.float32
    assert not np.array_equal(params["a"], np.ones((2, 3)))


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_zero_gradient_leaves_params_unchanged(name):
    params = {"w": np.array([0.3, -0.7])}
    opt = optim.make_optimizer(name)
    state = opt.init(params)
    opt.step(params, {"w": np.zeros(2)}, state)
    np.testing.assert_array_equal(params["w"], [0.3, -0.7])


@settings(max_examples=30, deadline=None)
@given(
    arrays(
        np.float64,
        array_shapes(max_dims=2, max_side=5),
        elements=st.floats(1e-3, 1e3).flatmap(lambda v: st.sampled_from([v, -v])),
    ),
    st.floats(1e-4, 1.0),
)
def test_first_adam_step_has_length_lr_per_entry(g, lr):
    # m̂₁ = g and v̂₁ = g², so every entry moves by lr·|g|/(|g| + ε) ≈ lr against the sign of g.
    params = {"w": np.zeros_like(g)}
    opt = optim.Adam(lr=lr)
    state = opt.init(params)
    opt.step(params, {"w": g}, state)
    np.testing.assert_allclose(params["w"], -lr * g / (np.abs(g) + 1e-8), rtol=1e-12)
    np.testing.assert_allclose(np.abs(params["w"]), lr, rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    arrays(np.float64, array_shapes(max_dims=3, max_side=4), elements=st.floats(-10, 10)),
    arrays(np.float64, 1, elements=st.floats(-10, 10)),
    st.floats(1e-4, 1.0),
)
def test_sgd_is_theta_minus_lr_g(theta, g_scalar, lr):
    g = np.full_like(theta, g_scalar[0])
    params = {"w": theta.copy()}
    opt = optim.SGD(lr=lr)
    opt.step(params, {"w": g}, opt.init(params))
    np.testing.assert_array_equal(params["w"], theta - lr * g)


def test_step_lr_overrides_the_default():
    params = {"w": np.array([1.0])}
    opt = optim.SGD(lr=0.5)
    opt.step(params, {"w": np.array([1.0])}, opt.init(params), lr=0.25)
    np.testing.assert_array_equal(params["w"], [0.75])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: optim.SGD(lr=0.0), r"lr must be a finite number in \(0.0, inf\); got 0.0"),
        (lambda: optim.Adam(lr=-1e-3), r"lr must be a finite number in \(0.0, inf\); got -0.001"),
        (lambda: optim.Adam(lr=float("nan")), r"lr must be a finite number .* got nan"),
        (
            lambda: optim.Momentum(momentum=1.0),
            r"momentum must be a finite number in \[0.0, 1.0\); got 1.0",
        ),
        (lambda: optim.Adam(beta1=1.5), r"beta1 must be a finite number in \[0.0, 1.0\); got 1.5"),
        (lambda: optim.Adam(beta2=-0.1), r"beta2 must be .* got -0.1"),
        (lambda: optim.RMSProp(rho=1.0), r"rho must be .* got 1.0"),
        (lambda: optim.Adagrad(eps=0.0), r"eps must be a finite number in \(0.0, inf\); got 0.0"),
        (
            lambda: optim.AdamW(weight_decay=-0.01),
            r"weight_decay must be a finite number in \[0.0, inf\); got -0.01",
        ),
    ],
)
def test_bad_hyperparameters_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_non_number_hyperparameter_is_a_type_error():
    with pytest.raises(TypeError, match=r"lr must be a real number; got '0.1' of type str"):
        optim.SGD(lr="0.1")
    with pytest.raises(TypeError, match=r"momentum must be a real number; got True"):
        optim.Momentum(momentum=True)


def test_step_checks_grads_and_state():
    params = {"a": np.zeros(2), "b": np.zeros(3)}
    opt = optim.Adam()
    state = opt.init(params)
    with pytest.raises(ValueError, match=r"grads must have the keys of params; missing \['b'\]"):
        opt.step(params, {"a": np.zeros(2)}, state)
    with pytest.raises(
        ValueError, match=r"grads\['b'\] must have shape \(3,\) \(the parameter's\); got \(2,\)"
    ):
        opt.step(params, {"a": np.zeros(2), "b": np.zeros(2)}, state)
    with pytest.raises(ValueError, match=r"state does not belong to Adam over these params"):
        opt.step(params, {"a": np.zeros(2), "b": np.zeros(3)}, optim.Momentum().init(params))
    with pytest.raises(ValueError, match=r"lr must be a finite number in \[0.0, inf\); got -1.0"):
        opt.step(params, {"a": np.zeros(2), "b": np.zeros(3)}, state, lr=-1.0)


def test_check_state_catches_a_wrong_shape():
    params = {"a": np.zeros(2)}
    opt = optim.Momentum()
    state = opt.init(params)
    state["v/a"] = np.zeros(3)
    with pytest.raises(
        ValueError,
        match=r"state\['v/a'\] must be an array of shape \(2,\) and dtype float64; got \(3,\)",
    ):
        opt.check_state(params, state)


def test_make_optimizer_and_round_trip():
    opt = optim.make_optimizer("adamw", lr=3e-4, weight_decay=0.2, momentum=None, unused=1)
    assert opt == optim.AdamW(lr=3e-4, weight_decay=0.2)
    assert optim.optimizer_from_dict(opt.to_dict()) == opt
    for cls in optim.OPTIMIZERS.values():
        assert optim.optimizer_from_dict(cls().to_dict()) == cls()
    with pytest.raises(
        ValueError, match=r"optimizer must be one of \['sgd', .*'adamw'\]; got 'lbfgs'"
    ):
        optim.make_optimizer("lbfgs")
    with pytest.raises(
        ValueError, match=r"unknown hyperparameters \['beta1'\] for optimizer 'sgd'"
    ):
        optim.optimizer_from_dict({"name": "sgd", "lr": 0.1, "beta1": 0.9})


# ------------------------------------------------------------------ schedules


def test_constant_and_step_decay():
    assert optim.Constant(0.5)(0) == optim.Constant(0.5)(10_000) == 0.5
    decay = optim.StepDecay(1.0, every=10, factor=0.5)
    # η_t = 1 · 0.5^⌊t/10⌋
    assert [decay(t) for t in (0, 9, 10, 19, 20, 35)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.125]


def test_cosine_by_hand():
    cosine = optim.Cosine(1.0, total_steps=4, min_lr=0.2)
    # η_t = 0.2 + 0.8 (1 + cos(π t / 4)) / 2
    expected = [
        1.0,
        0.2 + 0.4 * (1 + math.cos(math.pi / 4)),
        0.6,
        0.2 + 0.4 * (1 + math.cos(3 * math.pi / 4)),
        0.2,
        0.2,
    ]
    np.testing.assert_allclose(cosine.values(6), expected, rtol=1e-15)


def test_warmup_ramps_linearly_then_follows():
    schedule = optim.Warmup(optim.Constant(1.0), steps=4)
    # η_t = (t + 1)/4 for t < 4, then 1
    np.testing.assert_allclose(schedule.values(6), [0.25, 0.5, 0.75, 1.0, 1.0, 1.0], rtol=1e-15)
    composed = optim.Warmup(optim.Cosine(1.0, total_steps=8), steps=2)
    assert composed(0) == pytest.approx(0.5 * 1.0)  # half of cos(0)
    assert composed(4) == pytest.approx(optim.Cosine(1.0, total_steps=8)(4))  # warm-up over


def test_make_schedule_and_round_trip():
    schedule = optim.make_schedule("cosine", 1e-3, 100, warmup=10)
    assert schedule == optim.Warmup(optim.Cosine(1e-3, 100), 10)
    assert optim.schedule_from_dict(schedule.to_dict()) == schedule
    assert optim.make_schedule("step", 1.0, 90) == optim.StepDecay(1.0, every=30, factor=0.1)
    assert optim.make_schedule("constant", 0.1, 5) == optim.Constant(0.1)
    with pytest.raises(
        ValueError, match=r"schedule must be one of \['constant', 'step', 'cosine'\]; got 'exp'"
    ):
        optim.make_schedule("exp", 0.1, 5)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: optim.StepDecay(0.1, every=0), ValueError, r"every must be >= 1; got 0"),
        (
            lambda: optim.StepDecay(0.1, every=5, factor=1.5),
            ValueError,
            r"factor must be .* got 1.5",
        ),
        (
            lambda: optim.Cosine(0.1, total_steps=10, min_lr=0.2),
            ValueError,
            r"min_lr must be .*\[0.0, 0.1\]; got 0.2",
        ),
        (lambda: optim.Warmup(0.1, steps=3), TypeError, r"after must be a Schedule .*; got float"),
        (
            lambda: optim.Warmup(optim.Constant(0.1), steps=0),
            ValueError,
            r"steps must be >= 1; got 0",
        ),
    ],
)
def test_bad_schedules_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()
