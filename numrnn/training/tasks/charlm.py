"""Character-level language modelling on a text file, trained with truncated BPTT.

The vocabulary is the set of characters in the file. The text is split into
a training part (the first ``1 − validation_fraction``) and a validation part
(the rest). Each part is cut into B contiguous *streams* (the rows of a (B, N)
array), and batch k holds the k-th window of T characters of every stream,
so the final state of batch k is exactly the state batch k + 1 starts from:
the trainer carries it over (``Batch.continues``), the gradient stops at the
batch edge. That is truncated BPTT across batches; ``bptt_window`` cuts
inside a batch too.

Inputs are one-hot vectors in the model's dtype; targets are the next
character's index. The metric is bits per character, ``BPC = loss / ln 2``
(the loss is the mean cross-entropy in nats). Baseline: a unigram model, the
training text's character frequencies with add-one smoothing, scored on the
validation characters.

With no file, numrnn's own short story (``numrnn/data/lighthouse.txt``) is used,
so ``numrnn train --task charlm`` works out of the box.

Shape legend: T steps, B batch (streams), V vocabulary size, N characters per stream.
"""

from __future__ import annotations

import math
import os
from importlib import resources

import numpy as np

from ..._checks import check_int
from .base import Baseline, Batch, Task, one_hot

__all__ = ["Vocabulary", "BUILTIN_TEXT", "builtin_text", "read_text", "CharLMTask"]

BUILTIN_TEXT = "lighthouse.txt"


def builtin_text() -> str:
    """numrnn's built-in text: a short story of about 4,000 characters."""
    return resources.files("numrnn").joinpath("data", BUILTIN_TEXT).read_text(encoding="utf-8")


def read_text(path) -> str:
    """The UTF-8 text of the file at ``path``, with a clear error if it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError as error:
        raise ValueError(f"text file {os.fspath(path)!r} is not UTF-8 text: {error}") from None


class Vocabulary:
    """The characters of a text, each with an index.

    Parameters
    ----------
    chars : str
        Every character once, in index order (``sorted(set(text))`` for a new one).
    """

    def __init__(self, chars: str):
        if not isinstance(chars, str) or not chars:
            raise ValueError(
                f"chars must be a non-empty string of distinct characters; got {chars!r}"
            )
        if len(set(chars)) != len(chars):
            raise ValueError("chars must not repeat a character")
        self.chars = chars
        self.index = {char: i for i, char in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> "Vocabulary":
        """The sorted set of the characters in ``text``."""
        if not isinstance(text, str) or not text:
            raise ValueError("text must be a non-empty string")
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and other.chars == self.chars

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} characters: {self.chars!r})"

    def encode(self, text: str) -> np.ndarray:
        """Indices of shape (len(text),), int64; a ValueError names any unknown character."""
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"characters {unknown} are not in the vocabulary {self.chars!r}")
        return np.array([self.index[char] for char in text], dtype=np.int64)

    def decode(self, ids) -> str:
        """The text of a sequence of indices."""
        return "".join(self.chars[int(i)] for i in ids)


def _streams(ids: np.ndarray, batch_size: int, seq_len: int) -> tuple:
    """Cut ``ids`` into B streams: the (B, N) array, and the number W = (N − 1) // T of whole
    windows."""
    N = len(ids) // batch_size
    streams = ids[: N * batch_size].reshape(
        batch_size, N
    )  # (B, N), stream b is one contiguous piece
    return streams, (N - 1) // seq_len


def _window(streams: np.ndarray, k: int, seq_len: int, vocab_size: int, dtype) -> Batch:
    """Batch k: characters [kT, kT + T) of every stream and the ones after them."""
    start = k * seq_len
    inputs = streams[:, start : start + seq_len].T  # (T, B)
    targets = streams[:, start + 1 : start + seq_len + 1].T  # (T, B), the next characters
    return Batch(one_hot(inputs, vocab_size, dtype), np.ascontiguousarray(targets), None, k > 0)


class CharLMTask(Task):
    """Next-character prediction over a text, in contiguous streams.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A UTF-8 text file; None means the built-in story.
    text : str, optional
        The text itself, instead of ``path``.
    seq_len : int, default 64
        T, characters per batch window (the TBPTT length across batches).
    validation_fraction : float in (0, 1), default 0.1
        The share of the text, at its end, kept for validation.
    dtype : np.float32 or np.float64
    """

    name = "charlm"
    loss = "xent"
    metric_name = "bpc"

    def __init__(
        self,
        path=None,
        *,
        text: str | None = None,
        seq_len: int = 64,
        validation_fraction: float = 0.1,
        dtype=np.float64,
    ):
        super().__init__(seq_len, dtype=dtype)
        if path is not None and text is not None:
            raise ValueError("give path or text, not both")
        self.path = None if path is None else os.fspath(path)
        self.text_given = text  # kept so that to_dict can rebuild the task
        if text is None:
            text = builtin_text() if path is None else read_text(path)
        if not isinstance(text, str):
            raise TypeError(f"text must be a string; got {type(text).__name__}")
        if not (isinstance(validation_fraction, float) and 0 < validation_fraction < 1):
            raise ValueError(
                f"validation_fraction must be a float in (0, 1); got {validation_fraction!r}"
            )
        self.validation_fraction = validation_fraction
        source = self.path or "the built-in text"
        split = int(round(len(text) * (1 - validation_fraction)))
        if len(text) - split < self.seq_len + 1 or split < self.seq_len + 1:
            raise ValueError(
                f"text from {source} is too short: {len(text)} characters, "
                f"but seq_len={self.seq_len} needs at least {self.seq_len + 1} in both the "
                f"training and the validation part (validation_fraction={validation_fraction})"
            )
        self.vocab = Vocabulary.from_text(text)
        self.input_size = self.output_size = len(self.vocab)
        ids = self.vocab.encode(text)
        self.train_ids, self.validation_ids = ids[:split], ids[split:]
        self._layouts = {}
        self._validation = None

    def _layout(self, batch_size: int) -> tuple:
        """The (B, N) training streams for this batch size, and the windows W per epoch (cached)."""
        if batch_size not in self._layouts:
            streams, windows = _streams(self.train_ids, batch_size, self.seq_len)
            if windows < 1:
                raise ValueError(
                    f"the training text ({len(self.train_ids)} characters) is too short "
                    f"for batch_size={batch_size} streams of seq_len={self.seq_len}: "
                    f"it needs at least batch_size * (seq_len + 1) = "
                    f"{batch_size * (self.seq_len + 1)} characters; lower --batch or --seq-len"
                )
            self._layouts[batch_size] = (streams, windows)
        return self._layouts[batch_size]

    def windows_per_epoch(self, batch_size: int) -> int:
        """W, the number of batches in one pass over the training text."""
        return self._layout(check_int(batch_size, "batch_size", minimum=1))[1]

    def train_batch(self, step, batch_size, rng=None):
        """Window ``step mod W`` of the streams; ``rng`` is not used (the order is the text's)."""
        streams, windows = self._layout(check_int(batch_size, "batch_size", minimum=1))
        return _window(streams, step % windows, self.seq_len, len(self.vocab), self.dtype)

    def validation_batches(self, batch_size=None):
        """The validation text as up to 8 streams, window after window (state carried across
        them)."""
        if self._validation is None:
            streams_count = max(1, min(8, len(self.validation_ids) // (self.seq_len + 1)))
            streams, windows = _streams(self.validation_ids, streams_count, self.seq_len)
            self._validation = [
                _window(streams, k, self.seq_len, len(self.vocab), self.dtype)
                for k in range(windows)
            ]
        return self._validation

    def metric(self, loss):
        """Bits per character: ``loss / ln 2``."""
        return float(loss) / math.log(2)

    @property
    def baseline(self):
        counts = np.bincount(self.train_ids, minlength=len(self.vocab)) + 1.0  # add-one smoothing
        log2_p = np.log2(counts / counts.sum())
        scored = np.concatenate([batch.targets.ravel() for batch in self.validation_batches()])
        return Baseline(
            float(-log2_p[scored].mean()), "unigram character frequencies of the training text"
        )

    def describe(self):
        source = self.path or "built-in text"
        return (
            f"charlm on {source} ({len(self.train_ids)} training / "
            f"{len(self.validation_ids)} validation characters, "
            f"V={len(self.vocab)}, T={self.seq_len})"
        )

    def to_dict(self):
        """The settings, with the text itself only when it was given as ``text=`` (not as a
        file)."""
        source = {"path": self.path} if self.text_given is None else {"text": self.text_given}
        return {
            "name": self.name,
            **source,
            "seq_len": self.seq_len,
            "validation_fraction": self.validation_fraction,
        }
