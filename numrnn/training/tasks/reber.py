"""The embedded Reber grammar (Reber 1967; Hochreiter & Schmidhuber 1997, experiment 1).

A Reber string walks this graph from node 0, choosing each outgoing edge with
probability 1/2, between a ``B`` and an ``E``::

    node 0: T -> 1, P -> 2        node 3: X -> 2, S -> end
    node 1: S -> 1, X -> 3        node 4: P -> 3, V -> end
    node 2: T -> 2, V -> 4

The *embedded* grammar wraps one such string as ``B T <reber> T E`` or
``B P <reber> P E``: predicting the second-to-last symbol needs the second
symbol, remembered across the whole inner string. The task is next-symbol
prediction over the 7 symbols ``B T S X P V E`` (one-hot inputs, xent
targets); strings are padded to T + 1 symbols with uncounted steps.

Baseline: the best constant prediction, the symbol frequencies of the
validation set (a unigram model), scored on that same set. The floor no
model can beat is the grammar's own entropy, ``ln 2`` per binary choice:
:attr:`ReberTask.optimal_loss`.

Shape legend: T steps, B batch.
"""

from __future__ import annotations

import math

import numpy as np

from ..._checks import check_int
from .base import Baseline, Batch, SyntheticTask, one_hot

__all__ = ["SYMBOLS", "REBER_GRAPH", "reber_string", "embedded_reber_string", "ReberTask"]

SYMBOLS = "BTSXPVE"

# node -> the two (symbol, next node) edges; None is the end of the inner string.
REBER_GRAPH = {
    0: (("T", 1), ("P", 2)),
    1: (("S", 1), ("X", 3)),
    2: (("T", 2), ("V", 4)),
    3: (("X", 2), ("S", None)),
    4: (("P", 3), ("V", None)),
}


def reber_string(rng: np.random.Generator) -> tuple[str, int]:
    """One Reber string ``B...E`` and the number of binary choices made to draw it."""
    symbols, node, choices = ["B"], 0, 0
    while node is not None:
        symbol, node = REBER_GRAPH[node][int(rng.integers(0, 2))]
        symbols.append(symbol)
        choices += 1
    symbols.append("E")
    return "".join(symbols), choices


def embedded_reber_string(rng: np.random.Generator) -> tuple[str, int]:
    """One embedded Reber string ``B T <reber> T E`` or ``B P <reber> P E``, and its binary
    choices."""
    wrap = "TP"[int(rng.integers(0, 2))]
    inner, choices = reber_string(rng)
    return f"B{wrap}{inner}{wrap}E", choices + 1


class ReberTask(SyntheticTask):
    """Next-symbol prediction on (embedded) Reber strings.

    Parameters
    ----------
    seq_len : int, default 30
        T, the longest string is T + 1 symbols (T predictions); longer draws
        are rejected and drawn again.
    embedded : bool, default True
        The embedded grammar (long-range) or the plain one.
    seed, validation_size, dtype
        See :class:`numrnn.training.tasks.base.SyntheticTask`.
    """

    name = "reber"
    loss = "xent"
    metric_name = "xent"
    input_size = len(SYMBOLS)
    output_size = len(SYMBOLS)

    def __init__(self, seq_len: int = 30, *, embedded: bool = True, **kwargs):
        shortest = 8 if embedded else 4  # B T B T X S E T E and B T X S E, minus one
        seq_len = check_int(seq_len, "seq_len", minimum=1)
        if seq_len < shortest:
            raise ValueError(
                f"seq_len must be >= {shortest} to hold the shortest "
                f"{'embedded ' if embedded else ''}Reber string; got {seq_len}"
            )
        if not isinstance(embedded, bool):
            raise TypeError(f"embedded must be True or False; got {embedded!r}")
        super().__init__(seq_len, **kwargs)
        self.embedded = embedded
        self._choices = None

    def strings(self, batch_size: int, rng: np.random.Generator) -> tuple[list, list]:
        """``batch_size`` strings of at most T + 1 symbols, and each one's number of binary
        choices."""
        draw = embedded_reber_string if self.embedded else reber_string
        strings, choices = [], []
        while len(strings) < batch_size:
            string, count = draw(rng)
            if len(string) <= self.seq_len + 1:
                strings.append(string)
                choices.append(count)
        return strings, choices

    def _batch(self, strings: list) -> Batch:
        T, B = self.seq_len, len(strings)
        index = {symbol: i for i, symbol in enumerate(SYMBOLS)}
        ids = np.full((T + 1, B), -1, dtype=np.int64)  # -1 = past the end of the string
        for b, string in enumerate(strings):
            ids[: len(string), b] = [index[symbol] for symbol in string]
        x = one_hot(np.maximum(ids[:-1], 0), len(SYMBOLS), self.dtype)
        x[ids[:-1] < 0] = 0.0  # no input after the end
        targets = ids[1:].copy()  # next symbol; -1 after the end
        targets[ids[:-1] < 0] = -1
        return Batch(x, targets)

    def generate(self, batch_size, rng):
        return self._batch(self.strings(batch_size, rng)[0])

    def validation_batches(self, batch_size=None):
        if self._validation is None:
            strings, choices = self.strings(self.validation_size, np.random.default_rng(self.seed))
            self._validation = [self._batch(strings)]
            self._choices = choices
        return self._validation

    @property
    def baseline(self):
        targets = self.validation_batches()[0].targets
        counted = targets[targets >= 0]
        frequencies = np.bincount(counted, minlength=len(SYMBOLS)) / counted.size
        present = frequencies[frequencies > 0]
        entropy = float(-(present * np.log(present)).sum())  # xent of the best constant prediction
        return Baseline(entropy, "unigram: the validation set's symbol frequencies")

    @property
    def optimal_loss(self) -> float:
        """The grammar's entropy on the validation set: ``ln 2 × choices / predictions`` nats."""
        targets = self.validation_batches()[0].targets
        return math.log(2) * sum(self._choices) / int((targets >= 0).sum())

    def _settings(self):
        return {**super()._settings(), "embedded": self.embedded}
