"""Sampling characters: deterministic with a seed, the state carried step to step, temperature."""

import numpy as np
import pytest

from numrnn import presets
from numrnn.training.sampling import sample
from numrnn.training.tasks import Vocabulary

VOCAB = Vocabulary("abcdefgh ")


def char_model(arch="hierarchical", seed=0, dtype=np.float64):
    return presets.build(arch, len(VOCAB), 12, len(VOCAB), seed=seed, dtype=dtype, bias=0.1)


def test_same_seed_same_text_other_seed_other_text():
    model = char_model()
    first = sample(model, VOCAB, 60, seed=5)
    assert first == sample(model, VOCAB, 60, seed=5)
    assert first != sample(model, VOCAB, 60, seed=6)
    assert len(first) == 61 and set(first) <= set(
        VOCAB.chars
    )  # a random first character + 60 sampled


def test_model_sample_delegates_and_keeps_the_prime():
    model = char_model("deep-transition-skip")
    text = sample(model, VOCAB, 25, temperature=0.7, seed=3, prime="bad cafe")
    assert text.startswith("bad cafe") and len(text) == len("bad cafe") + 25
    assert text == sample(
        model, VOCAB.chars, 25, temperature=0.7, seed=3, prime="bad cafe"
    )  # vocab as a string


@pytest.mark.parametrize("arch", ["vanilla", "hierarchical-deep-transition-skip"])
def test_near_zero_temperature_is_greedy_decoding_of_one_continuous_sequence(arch):
    # At temperature 1e-4 every draw is the argmax. Re-running the model over the whole text in one
    # forward pass must then predict each sampled character: this checks that the sampler carries
    # the state from step to step (a sampler that restarted the state would disagree).
    model = char_model(arch, seed=2)
    prime = "hag"
    text = sample(model, VOCAB, 30, temperature=1e-4, seed=0, prime=prime)
    ids = VOCAB.encode(text)
    x = np.eye(len(VOCAB))[ids[:-1]][:, None, :]  # (T, 1, V)
    y, _ = model.forward(x)
    predicted = y[:, 0].argmax(axis=-1)
    np.testing.assert_array_equal(predicted[len(prime) - 1 :], ids[len(prime) :])


def test_high_temperature_spreads_the_choices():
    model = char_model(seed=4)
    cold = sample(model, VOCAB, 300, temperature=0.05, seed=1, prime="a")
    hot = sample(model, VOCAB, 300, temperature=5.0, seed=1, prime="a")
    assert len(set(hot)) > len(set(cold))
    assert len(set(hot)) == len(VOCAB)  # nearly uniform: every character shows up


def test_float32_model():
    text = sample(char_model(dtype=np.float32), VOCAB, 20, seed=0, prime="ab")
    assert len(text) == 22


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            dict(temperature=0.0),
            ValueError,
            r"temperature must be a positive finite number; got 0.0",
        ),
        (
            dict(temperature=float("inf")),
            ValueError,
            r"temperature must be a positive finite number; got inf",
        ),
        (dict(length=-1), ValueError, r"length must be >= 0; got -1"),
        (dict(prime="xyz"), ValueError, r"characters \['x', 'y', 'z'\] are not in the vocabulary"),
        (dict(seed=-3), ValueError, r"seed must be >= 0; got -3"),
        (dict(prime=5), TypeError, r"prime must be a string; got int"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    arguments = dict(length=5, temperature=1.0, seed=0, prime="")
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        sample(char_model(), VOCAB, **arguments)


def test_model_and_vocabulary_must_agree():
    model = presets.build("vanilla", 4, 5, 4, seed=0)
    with pytest.raises(
        ValueError,
        match=r"model must have input_size = output_size = len\(vocab\) = 9 to sample "
        r"characters; got input_size=4, output_size=4",
    ):
        sample(model, VOCAB, 5)
    with pytest.raises(
        TypeError,
        match=r"vocab must be a numrnn.training.tasks.Vocabulary "
        r"or a string of its characters; got list",
    ):
        sample(model, list("abcd"), 5)
