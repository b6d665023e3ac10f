"""Sampling text from a character-level model, one character at a time.

At each step the model reads the previous character (one-hot), its state
moves on, and the next character is drawn from
``softmax(y_t / temperature)``: temperature 1 samples the model's own
distribution, lower values sharpen it towards the most likely character
(greedy as the temperature goes to 0), higher values flatten it. The state
is carried from step to step, so the sample is one continuous sequence, as
in min-char-rnn.

Shape legend: V vocabulary size (the model's D and O), H_l hidden size of layer l.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_int, check_number
from .tasks.charlm import Vocabulary

__all__ = ["sample"]


def _vocabulary(vocab) -> Vocabulary:
    if isinstance(vocab, Vocabulary):
        return vocab
    if isinstance(vocab, str):
        return Vocabulary(vocab)
    raise TypeError(
        f"vocab must be a numrnn.training.tasks.Vocabulary or a string of its characters; "
        f"got {type(vocab).__name__}"
    )


def sample(
    model,
    vocab,
    length: int,
    temperature: float = 1.0,
    seed: int | None = None,
    prime: str = "",
    rng: np.random.Generator | None = None,
) -> str:
    """Generate ``length`` characters from a character model.

    Parameters
    ----------
    model : DeepRNN
        A character model: ``input_size == output_size == len(vocab)``.
    vocab : numrnn.training.tasks.Vocabulary or str
        The characters, in the model's index order.
    length : int >= 0
        Number of characters to generate after ``prime``.
    temperature : float > 0, default 1.0
    seed : int, optional
        Seed of the generator; the same seed gives the same text.
    prime : str, default ""
        Text fed to the model first (its state warms up on it); it starts the
        result. With no prime, the first input is a character drawn uniformly
        from the vocabulary (it is part of the result).
    rng : numpy.random.Generator, optional
        Use this generator instead of ``seed``.

    Returns
    -------
    str
        ``prime`` (or the random first character) followed by ``length`` sampled characters.
    """
    vocab = _vocabulary(vocab)
    V = len(vocab)
    if (model.config.input_size, model.config.output_size) != (V, V):
        raise ValueError(
            f"model must have input_size = output_size = len(vocab) = {V} to sample characters; "
            f"got input_size={model.config.input_size}, output_size={model.config.output_size}"
        )
    length = check_int(length, "length", minimum=0)
    check_number(temperature, "temperature", positive=True)
    if not isinstance(prime, str):
        raise TypeError(f"prime must be a string; got {type(prime).__name__}")
    if rng is None:
        rng = np.random.default_rng(None if seed is None else check_int(seed, "seed", minimum=0))
    elif not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")

    ids = list(vocab.encode(prime)) if prime else [int(rng.integers(0, V))]
    eye = np.eye(V, dtype=model.dtype)
    x = eye[np.array(ids)][:, None, :]  # (len(ids), 1, V): the prime, batch of one
    y, state = model.forward(x)  # warm the state up on the prime
    logits = y[-1, 0]  # (V,) scores of the next character
    generated = []
    for _ in range(length):
        scaled = logits.astype(np.float64) / temperature
        p = np.exp(scaled - scaled.max())  # softmax(y / temperature), stable
        p /= p.sum()
        next_id = int(rng.choice(V, p=p))
        generated.append(next_id)
        y, state = model.forward(eye[next_id][None, None, :], state)  # one step, state carried
        logits = y[0, 0]
    return vocab.decode(ids) + vocab.decode(generated)
