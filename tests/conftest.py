"""Shared strategies, problem builders and fixtures of numrnn's engine tests.

The hypothesis strategy :func:`model_settings` spans the whole configuration
space the engine promises (1–3 layers, transition depth 0–3, input and output
depth 0–2, every skip kind, layer-skips, tanh/sigmoid, an MLP width equal to
or different from H), with small sizes so that a full finite-difference check
of every entry stays cheap. :func:`build_problem` turns one setting into a
model with random non-zero biases, random inputs, a random initial state and
random targets.

Shape legend: T steps, B batch, D input size, H hidden size, M MLP width,
O output size, L layers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import strategies as st

import numrnn

SKIPS = ("none", "residual", "shortcut")
LOSSES = ("xent", "mse", "bce")


class Setting(NamedTuple):
    """One point of the configuration space, as drawn by :func:`model_settings`."""

    input_size: int
    output_size: int
    layers: tuple  # one DeepRNN per-layer dict per layer
    output_depth: int
    steps: int  # T
    batch: int  # B
    loss: str
    use_mask: bool
    seed: int


@st.composite
def layer_settings(draw, *, max_depth: int = 3) -> dict:
    """One layer's overrides: H 2–4, q 0–3, p 0–2, any skip kind (shortcut only with q >= 1), ..."""
    hidden = draw(st.integers(2, 4))
    depth = draw(st.integers(0, max_depth))
    skip = draw(st.sampled_from(SKIPS if depth >= 1 else SKIPS[:2]))
    return dict(
        hidden_size=hidden,
        transition_depth=depth,
        input_depth=draw(st.integers(0, 2)),
        mlp_width=draw(st.sampled_from([None, hidden + 1, hidden - 1])),  # None means M = H
        skip=skip,
        layer_skip=draw(st.booleans()),
        activation=draw(st.sampled_from(["tanh", "sigmoid"])),
        mlp_activation=draw(st.sampled_from([None, "tanh", "sigmoid"])),
    )


@st.composite
def model_settings(draw, *, max_layers: int = 3, max_steps: int = 7, max_batch: int = 4) -> Setting:
    """A whole model and problem: layers that may differ from each other, T, B, loss, mask."""
    num_layers = draw(st.integers(1, max_layers))
    return Setting(
        input_size=draw(st.integers(1, 3)),
        output_size=draw(st.integers(2, 3)),
        layers=tuple(draw(layer_settings()) for _ in range(num_layers)),
        output_depth=draw(st.integers(0, 2)),
        steps=draw(st.integers(1, max_steps)),
        batch=draw(st.integers(1, max_batch)),
        loss=draw(st.sampled_from(LOSSES)),
        use_mask=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


class Problem(NamedTuple):
    """A model and one batch to evaluate it on."""

    model: numrnn.DeepRNN
    x: np.ndarray  # (T, B, D)
    h0: list  # (B, H_l) per layer
    targets: np.ndarray  # int (T, B) for xent, float (T, B, O) otherwise
    loss: str
    mask: np.ndarray | None


def randomize_biases(model: numrnn.DeepRNN, rng: np.random.Generator, scale: float = 0.5) -> None:
    """Give every bias of ``model`` random non-zero entries (in place)."""
    for value in model.params.values():
        if value.ndim == 1:
            value[...] = scale * rng.standard_normal(value.shape)


def random_targets(loss: str, T: int, B: int, O: int, rng: np.random.Generator, dtype=np.float64):
    """Targets of ``loss`` for outputs (T, B, O); for xent some are -1, at least one counts."""
    if loss == "xent":
        targets = rng.integers(-1, O, size=(T, B))
        targets[-1, 0] = rng.integers(0, O)
        return targets
    if loss == "mse":
        return rng.standard_normal((T, B, O)).astype(dtype)
    return rng.uniform(0, 1, size=(T, B, O)).astype(dtype)


def build_model(setting: Setting, *, dtype=np.float64) -> numrnn.DeepRNN:
    """The DeepRNN of a setting, with random non-zero biases."""
    first = setting.layers[0]
    model = numrnn.DeepRNN(
        setting.input_size,
        first["hidden_size"],
        setting.output_size,
        layers=[dict(layer) for layer in setting.layers],
        output_depth=setting.output_depth,
        bias=0.1,
        dtype=dtype,
        seed=setting.seed,
    )
    randomize_biases(model, np.random.default_rng(setting.seed + 1))
    return model


def build_problem(setting: Setting, *, dtype=np.float64) -> Problem:
    """A model with random biases, random x, random h0, random targets and maybe a random mask."""
    model = build_model(setting, dtype=dtype)
    rng = np.random.default_rng(setting.seed + 2)
    T, B = setting.steps, setting.batch
    x = rng.standard_normal((T, B, setting.input_size)).astype(dtype)
    h0 = [
        (0.5 * rng.standard_normal((B, layer.hidden_size))).astype(dtype)
        for layer in model.config.layers
    ]
    targets = random_targets(setting.loss, T, B, setting.output_size, rng, dtype)
    mask = None
    if setting.use_mask:
        mask = rng.uniform(0.0, 2.0, size=(T, B)).astype(dtype)
        mask[-1, 0] = 1.0  # the entry xent always counts keeps a positive weight
    return Problem(model, x, h0, targets, setting.loss, mask)


def small_problem(
    loss: str = "xent",
    *,
    T: int = 5,
    B: int = 3,
    D: int = 3,
    H: int = 4,
    O: int = 3,
    seed: int = 0,
    dtype=np.float64,
    **model_kwargs,
) -> Problem:
    """A fixed small problem for the non-hypothesis tests; ``model_kwargs`` go to DeepRNN."""
    model_kwargs.setdefault("bias", 0.1)
    model = numrnn.DeepRNN(D, H, O, dtype=dtype, seed=seed, **model_kwargs)
    rng = np.random.default_rng(seed + 100)
    randomize_biases(model, rng)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = [
        (0.5 * rng.standard_normal((B, layer.hidden_size))).astype(dtype)
        for layer in model.config.layers
    ]
    targets = random_targets(loss, T, B, O, rng, dtype)
    return Problem(model, x, h0, targets, loss, None)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh seeded generator per test."""
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def executed_tutorials(tmp_path_factory):
    """Every ``tutorials/*.py``, executed once per test run as a notebook, when first asked for.

    ``tests/test_tutorials.py`` checks what each printed, and the docs build of
    ``tests/test_docs.py`` renders the same executed notebooks
    (``docs/_ext/tutorial_notebooks.py``).
    """
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "docs" / "_ext" / "tutorial_notebooks.py"
    spec = importlib.util.spec_from_file_location("tutorial_notebooks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TutorialRuns(tmp_path_factory.mktemp("tutorials"))


@pytest.fixture(autouse=True, scope="session")
def _private_data_cache(tmp_path_factory):
    """Data-set caches (the chorales' piano rolls) go to a folder of this session, never
    ~/.cache."""
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("NUMRNN_CACHE", str(tmp_path_factory.mktemp("numrnn-cache")))
    yield
    monkeypatch.undo()
