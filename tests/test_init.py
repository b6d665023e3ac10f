"""Weight initialisation: orthogonal, identity, spectral radius, Glorot bounds, biases, seeds.

Shape legend: D input size, H hidden size, M MLP width, O output size.
"""

from __future__ import annotations

import numpy as np
import pytest

import numrnn
from numrnn.params import model_parameter_shapes


def transition_matrices(model):
    """Every matrix that reads a state or a transition level: W_h{j}, W_hh, S_h{j}, S_hh of every
    layer."""
    return {
        name: value
        for name, value in model.params.items()
        if not name.startswith("output.") and name.split(".")[1].startswith(("W_h", "S_h"))
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(transition_depth=2, mlp_width=4),
        dict(transition_depth=2, mlp_width=6),  # (H, M) and (M, H): semi-orthogonal
        dict(transition_depth=2, mlp_width=3, skip="shortcut", num_layers=2),
    ],
)
def test_orthogonal_init_gives_orthonormal_transition_matrices(kwargs):
    """W.T @ W = I (or W @ W.T = I when wide): catches a QR factor taken from the wrong side,
    a missing transpose for wide matrices, or a rescaling after the QR."""
    model = numrnn.DeepRNN(3, 4, 2, init="orthogonal", seed=0, **kwargs)
    matrices = transition_matrices(model)
    assert matrices
    for name, W in matrices.items():
        n, m = W.shape
        gram = W.T @ W if n >= m else W @ W.T
        np.testing.assert_allclose(gram, np.eye(min(n, m)), rtol=0, atol=1e-12, err_msg=name)


def test_xavier_transition_matrices_are_not_orthogonal():
    """The control for the test above: the default init is not orthogonal, so that test can fail."""
    W = numrnn.DeepRNN(3, 4, 2, seed=0).params["layer1.W_hh"]
    assert not np.allclose(W.T @ W, np.eye(4), atol=1e-3)


def test_identity_init_gives_identity_transition_matrices():
    """IRNN: W_h{j} and W_hh are exactly I when M = H; the input and output maps stay Glorot."""
    model = numrnn.DeepRNN(3, 4, 2, transition_depth=2, num_layers=2, init="identity", seed=0)
    for l in (1, 2):
        for name in ("W_h1", "W_h2", "W_hh"):
            assert np.array_equal(model.params[f"layer{l}.{name}"], np.eye(4)), (l, name)
    assert not np.array_equal(model.params["layer2.W_xh"], np.eye(4))


@pytest.mark.parametrize("init", ["xavier", "orthogonal", "identity"])
@pytest.mark.parametrize("radius", [0.5, 1.3])
def test_spectral_radius_sets_the_largest_absolute_eigenvalue_of_every_vanilla_W_hh(init, radius):
    """Catches a rescaling by the largest singular value or by the largest real eigenvalue."""
    model = numrnn.DeepRNN(3, 5, 2, num_layers=3, init=init, spectral_radius=radius, seed=1)
    for l in (1, 2, 3):
        eigenvalues = np.linalg.eigvals(model.params[f"layer{l}.W_hh"])
        assert np.max(np.abs(eigenvalues)) == pytest.approx(radius, rel=1e-12, abs=0)


@pytest.mark.parametrize("bias", [0.0, 0.3, -1.5])
def test_bias_sets_every_bias_and_only_the_biases(bias):
    """Catches a bias value that misses the input level's bias (b_h1 in DT(S)) or the output
    MLP's."""
    model = numrnn.DeepRNN(
        3,
        4,
        2,
        transition_depth=2,
        input_depth=1,
        output_depth=1,
        skip="shortcut",
        num_layers=2,
        bias=bias,
        seed=0,
    )
    biases = {name: value for name, value in model.params.items() if value.ndim == 1}
    assert {name.split(".")[1] for name in biases} == {"b_x1", "b_h1", "b_h2", "b_h", "b_y1", "b_y"}
    assert all(np.all(value == bias) for value in biases.values())
    assert all(np.any(value != bias) for value in model.params.values() if value.ndim == 2)


def test_glorot_weights_lie_within_their_limit_and_fill_it():
    """U(-a, a) with a = sqrt(6 / (fan_in + fan_out)): catches a limit computed from the wrong fans
    (entries beyond a) or a scale that is far too small (entries nowhere near a)."""
    model = numrnn.DeepRNN(
        5, 7, 3, transition_depth=1, input_depth=1, output_depth=1, mlp_width=9, seed=2
    )
    for name, W in model.params.items():
        if W.ndim == 2:
            limit = np.sqrt(6.0 / sum(W.shape))
            assert np.max(np.abs(W)) <= limit, name
            assert np.max(np.abs(W)) > 0.5 * limit, name


def test_the_same_seed_gives_the_same_params_and_another_seed_other_params():
    """Catches randomness that ignores the seed (global state) or a seed that is ignored."""
    kwargs = dict(num_layers=2, transition_depth=1, skip="shortcut")
    a, b = numrnn.DeepRNN(3, 4, 2, seed=7, **kwargs), numrnn.DeepRNN(3, 4, 2, seed=7, **kwargs)
    c = numrnn.DeepRNN(3, 4, 2, seed=8, **kwargs)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert all(
        not np.array_equal(a.params[k], c.params[k]) for k in a.params if a.params[k].ndim == 2
    )


def test_an_rng_is_used_as_given_and_global_numpy_state_is_never_touched():
    """rng=default_rng(s) equals seed=s; two models drawn from one generator differ; and building
    models leaves np.random's global state alone (catches np.random.seed / np.random.rand)."""
    before = np.random.get_state()[1].copy()
    from_seed = numrnn.DeepRNN(3, 4, 2, seed=11)
    generator = np.random.default_rng(11)
    first = numrnn.DeepRNN(3, 4, 2, rng=generator)
    second = numrnn.DeepRNN(3, 4, 2, rng=generator)
    assert all(np.array_equal(from_seed.params[k], first.params[k]) for k in first.params)
    assert not np.array_equal(first.params["layer1.W_hh"], second.params["layer1.W_hh"])
    assert np.array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize("init", ["xavier", "orthogonal", "identity"])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(transition_depth=2, skip="shortcut", input_depth=1, output_depth=1),
        dict(transition_depth=2, mlp_width=6, num_layers=2),
        dict(transition_depth=1, mlp_width=3, skip="shortcut"),
    ],
)
def test_every_init_gives_every_parameter_its_documented_shape(init, kwargs):
    """Catches an init that returns a transposed (M, H) for an (H, M) matrix: a square-only test of
    orthogonality cannot see it, a forward pass can."""
    if init == "identity" and kwargs.get("mlp_width", 4) != 4:
        kwargs = {**kwargs, "mlp_width": 4}
    model = numrnn.DeepRNN(3, 4, 2, init=init, seed=0, **kwargs)
    shapes = model_parameter_shapes(model.config)
    assert list(model.params) == list(shapes)
    assert all(model.params[name].shape == shape for name, shape in shapes.items())
    y, _ = model.forward(np.ones((2, 1, 3)))
    assert y.shape == (2, 1, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_params_have_the_model_dtype(dtype):
    model = numrnn.DeepRNN(
        3, 4, 2, transition_depth=1, init="orthogonal", spectral_radius=None, dtype=dtype, seed=0
    )
    assert model.dtype == dtype
    assert all(value.dtype == dtype for value in model.params.values())
