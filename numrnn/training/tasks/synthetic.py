"""Classic synthetic sequence tasks with known difficulty and stated baselines.

=================  ======  ===========================  ===================================
task               loss    scored on                    trivial baseline
=================  ======  ===========================  ===================================
adding             mse     the last step                predict 1: MSE = Var(u₁ + u₂) = 1/6
copy               xent    the K recall steps           uniform guess: ln A nats
temporal-order     xent    the last step                uniform guess: ln 4 nats
sine               mse     every step after a burn-in   persistence: Σ a_i² (1 − cos(2π / P_i))
count-mod          xent    every step                   no count kept: mean_t H(Bin(t−1, ½) mod k)
=================  ======  ===========================  ===================================

Each generator draws every random number from the ``rng`` it is given, so a
seed fixes the data. Inputs come in the task's dtype; integer targets are
int64.

Shape legend: T steps, B batch, D input size, O output size, K symbols to
copy, A alphabet size.
"""

from __future__ import annotations

import math

import numpy as np

from ..._checks import check_int
from .base import Baseline, Batch, SyntheticTask, one_hot

__all__ = ["AddingTask", "CopyTask", "TemporalOrderTask", "SineTask", "CountModTask"]


class AddingTask(SyntheticTask):
    """The adding problem (Hochreiter & Schmidhuber 1997, in the form of Le et al. 2015).

    Each step carries two inputs: a value ``u_t ~ U(0, 1)`` and a marker that
    is 1 at exactly two steps, one in the first half of the sequence and one
    in the second, and 0 elsewhere. At the last step the model must output the
    sum of the two marked values. The markers can be up to T - 1 steps apart,
    so the network must hold a number for that long.

    Baseline: always predicting 1 (the mean of the sum) scores
    ``E[(u₁ + u₂ − 1)²] = Var(u₁) + Var(u₂) = 2 / 12 = 1/6 ≈ 0.167``.

    Parameters
    ----------
    seq_len : int >= 2, default 50
    seed, validation_size, dtype
        See :class:`numrnn.training.tasks.base.SyntheticTask`.
    """

    name = "adding"
    loss = "mse"
    metric_name = "mse"
    input_size = 2
    output_size = 1

    def __init__(self, seq_len: int = 50, **kwargs):
        super().__init__(check_int(seq_len, "seq_len", minimum=2), **kwargs)

    def generate(self, batch_size, rng):
        T, B = self.seq_len, batch_size
        values = rng.uniform(0.0, 1.0, size=(T, B))
        first = rng.integers(0, T // 2, size=B)  # a marker in the first half
        second = rng.integers(T // 2, T, size=B)  # and one in the second half
        columns = np.arange(B)
        x = np.zeros((T, B, 2), dtype=self.dtype)
        x[:, :, 0] = values
        x[first, columns, 1] = 1.0
        x[second, columns, 1] = 1.0
        targets = np.zeros((T, B, 1), dtype=self.dtype)
        targets[-1, :, 0] = values[first, columns] + values[second, columns]
        mask = np.zeros((T, B), dtype=self.dtype)
        mask[-1] = 1.0  # scored on the last step only
        return Batch(x, targets, mask)

    @property
    def baseline(self):
        return Baseline(1 / 6, "always predict 1 (MSE = 1/6)")


class CopyTask(SyntheticTask):
    """Copy / delayed recall (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016).

    The first K steps show K random symbols from an alphabet of A. Blanks
    follow, then a "go" marker at step T - K - 1, and during the last K steps
    the model must output the K symbols in order. Inputs are one-hot over
    A + 2 channels (A symbols, blank, go); outputs are A classes, scored on
    the last K steps only (every other target is -1).

    Baseline: a model that remembers nothing can only guess uniformly:
    ``ln A`` nats per recalled symbol.

    Parameters
    ----------
    seq_len : int, default 30
        T, at least 2K + 1; the delay between the last symbol and the go
        marker is T - 2K - 1 steps.
    length : int, default 5
        K, the number of symbols to copy.
    num_symbols : int >= 2, default 8
        A.
    seed, validation_size, dtype
        See :class:`numrnn.training.tasks.base.SyntheticTask`.
    """

    name = "copy"
    loss = "xent"
    metric_name = "xent"

    def __init__(self, seq_len: int = 30, *, length: int = 5, num_symbols: int = 8, **kwargs):
        self.length = check_int(length, "length", minimum=1)
        self.num_symbols = check_int(num_symbols, "num_symbols", minimum=2)
        seq_len = check_int(seq_len, "seq_len", minimum=1)
        if seq_len < 2 * self.length + 1:
            raise ValueError(
                f"seq_len must be >= 2 * length + 1 = {2 * self.length + 1} for the copy task "
                f"(K symbols, a go marker, K recall steps); got {seq_len}"
            )
        super().__init__(seq_len, **kwargs)
        self.input_size = self.num_symbols + 2
        self.output_size = self.num_symbols

    def generate(self, batch_size, rng):
        T, B, K, A = self.seq_len, batch_size, self.length, self.num_symbols
        blank, go = A, A + 1
        symbols = rng.integers(0, A, size=(K, B))
        ids = np.full((T, B), blank)
        ids[:K] = symbols  # the symbols to remember
        ids[T - K - 1] = go  # "now repeat them"
        targets = np.full((T, B), -1, dtype=np.int64)
        targets[T - K :] = symbols  # scored on the last K steps
        return Batch(one_hot(ids, A + 2, self.dtype), targets)

    @property
    def baseline(self):
        return Baseline(
            math.log(self.num_symbols), f"uniform guess over A={self.num_symbols} symbols (ln A)"
        )

    def _settings(self):
        return {**super()._settings(), "length": self.length, "num_symbols": self.num_symbols}


class TemporalOrderTask(SyntheticTask):
    """The temporal order problem (Hochreiter & Schmidhuber 1997, experiment 6a).

    A sequence of random distractor symbols ``a b c d`` starts with ``B`` and
    ends with ``E``. Two steps carry a relevant symbol, ``X`` or ``Y``: one at
    a random step in [T/10, T/5], the other in [T/2, 6T/10]. At the last step
    the model must say which of the four orders it saw: XX, XY, YX or YY
    (classes 0..3). Inputs are one-hot over the 8 symbols ``a b c d X Y B E``.

    Baseline: the four classes are equally likely, so guessing scores
    ``ln 4 ≈ 1.386`` nats.

    Parameters
    ----------
    seq_len : int >= 10, default 50
    seed, validation_size, dtype
        See :class:`numrnn.training.tasks.base.SyntheticTask`.
    """

    name = "temporal-order"
    loss = "xent"
    metric_name = "xent"
    input_size = 8
    output_size = 4
    SYMBOLS = "abcdXYBE"

    def __init__(self, seq_len: int = 50, **kwargs):
        super().__init__(check_int(seq_len, "seq_len", minimum=10), **kwargs)

    def generate(self, batch_size, rng):
        T, B = self.seq_len, batch_size
        X, Y, begin, end = 4, 5, 6, 7
        ids = rng.integers(0, 4, size=(T, B))  # distractors a b c d
        ids[0], ids[-1] = begin, end
        first = rng.integers(T // 10, T // 5 + 1, size=B)
        second = rng.integers(T // 2, min(6 * T // 10, T - 2) + 1, size=B)
        first_is_y = rng.integers(0, 2, size=B)
        second_is_y = rng.integers(0, 2, size=B)
        columns = np.arange(B)
        ids[first, columns] = np.where(first_is_y, Y, X)
        ids[second, columns] = np.where(second_is_y, Y, X)
        targets = np.full((T, B), -1, dtype=np.int64)
        targets[-1] = 2 * first_is_y + second_is_y  # XX=0, XY=1, YX=2, YY=3
        return Batch(one_hot(ids, 8, self.dtype), targets)

    @property
    def baseline(self):
        return Baseline(math.log(4), "uniform guess over the 4 orders (ln 4)")


class SineTask(SyntheticTask):
    """Multi-scale sine prediction (regression): predict the next value of a sum of sines.

    ``s_t = Σ_i a_i sin(2π t / P_i + φ_i)`` with a random phase ``φ_i`` per
    sequence and component. The input at step t is ``s_t``, the target
    ``s_{t+1}``; every step from ``burn_in + 1`` on is scored. Fast components
    need a short memory, slow ones a long one.

    The first steps of a sequence measure something else: until the model has
    seen a few values it cannot know the phases, and a linear predictor with
    as many taps as there are sine coefficients is exact from then on. So the
    first ``burn_in`` targets can be left out (mask 0) of the loss, the
    metric and the baseline alike; measured on sine-50 at burn_in = 0, 91-94 %
    of trained models' error was in steps 1-6 (issue 18).

    Baseline: persistence, predicting ``s_{t+1} = s_t``. With independent
    uniform phases its expected MSE is ``Σ_i a_i² (1 − cos(2π / P_i))`` at
    every step (the phases make the process stationary), so it is the same
    whatever ``burn_in`` leaves out (predicting 0 would score ``Σ_i a_i² / 2``,
    worse).

    Parameters
    ----------
    seq_len : int, default 100
    periods : tuple of float, default (6, 20, 70)
        P_i, in steps.
    amplitudes : tuple of float, default (0.3, 0.5, 0.2)
        a_i, one per period.
    burn_in : int, default 0
        Steps at the start whose targets are not scored, ``0 <= burn_in <
        seq_len``. 0 scores every step (and the batches carry no mask).
    seed, validation_size, dtype
        See :class:`numrnn.training.tasks.base.SyntheticTask`.
    """

    name = "sine"
    loss = "mse"
    metric_name = "mse"
    input_size = 1
    output_size = 1

    def __init__(
        self,
        seq_len: int = 100,
        *,
        periods=(6.0, 20.0, 70.0),
        amplitudes=(0.3, 0.5, 0.2),
        burn_in: int = 0,
        **kwargs,
    ):
        super().__init__(seq_len, **kwargs)
        self.burn_in = check_int(burn_in, "burn_in", minimum=0)
        if self.burn_in >= self.seq_len:
            raise ValueError(
                f"burn_in must be below seq_len = {self.seq_len} (at least one step is scored); "
                f"got {self.burn_in}"
            )
        periods, amplitudes = tuple(float(p) for p in periods), tuple(float(a) for a in amplitudes)
        if len(periods) != len(amplitudes) or not periods:
            raise ValueError(
                f"periods and amplitudes must be non-empty and of equal length; "
                f"got {len(periods)} periods and {len(amplitudes)} amplitudes"
            )
        if any(not (math.isfinite(p) and p > 0) for p in periods):
            raise ValueError(f"periods must be positive numbers of steps; got {periods}")
        if any(not math.isfinite(a) for a in amplitudes):
            raise ValueError(f"amplitudes must be finite; got {amplitudes}")
        self.periods, self.amplitudes = periods, amplitudes

    def generate(self, batch_size, rng):
        T, B = self.seq_len, batch_size
        phases = rng.uniform(0.0, 2 * np.pi, size=(len(self.periods), 1, B))
        t = np.arange(T + 1)[None, :, None]  # (1, T + 1, 1)
        omega = (2 * np.pi / np.array(self.periods))[:, None, None]
        amplitude = np.array(self.amplitudes)[:, None, None]
        s = (amplitude * np.sin(omega * t + phases)).sum(axis=0)  # (T + 1, B)
        x = s[:-1, :, None].astype(self.dtype)  # s_t       (T, B, 1)
        targets = s[1:, :, None].astype(self.dtype)  # s_{t+1}   (T, B, 1)
        if self.burn_in == 0:
            return Batch(x, targets)
        mask = np.ones((T, B), dtype=self.dtype)
        mask[: self.burn_in] = 0.0  # the burn-in's targets are not scored
        return Batch(x, targets, mask)

    @property
    def baseline(self):
        value = sum(
            a * a * (1 - math.cos(2 * math.pi / p))
            for p, a in zip(self.periods, self.amplitudes, strict=True)
        )
        scored = "" if self.burn_in == 0 else f", scored after a burn-in of {self.burn_in} steps"
        return Baseline(value, f"persistence: predict s_{{t+1}} = s_t{scored}")

    def _settings(self):
        return {
            **super()._settings(),
            "periods": list(self.periods),
            "amplitudes": list(self.amplitudes),
            "burn_in": self.burn_in,
        }


class CountModTask(SyntheticTask):
    """Counting modulo k: at every step, how many ones the bit stream has shown so far, mod k.

    The input at step t is a fair random bit ``b_t`` (one-hot over 2
    channels); the target is ``c_t = (b_1 + … + b_t) mod k``, one of k
    classes, scored at every step. The state update ``c_t = (c_{t-1} + b_t)
    mod k`` is a hard, nonlinear function of the state and the input (it
    permutes k states cyclically when the bit is 1): the "complex state
    transition" a deep transition is meant for. k = 2 is the parity of the
    stream.

    Baseline: a model that keeps no count can use only the step number and
    the current bit, and ``c_t = (C + b_t) mod k`` with ``C = c_{t-1}`` the
    count mod k of t − 1 fair bits; its best cross-entropy at step t is the
    entropy of ``Binomial(t − 1, ½) mod k``, and the baseline is the mean over
    the T steps (0 at t = 1, where the bit alone decides; ``ln k`` for large t).

    Parameters
    ----------
    seq_len : int >= 1, default 24
    modulus : int >= 2, default 3
        k, the number of classes.
    seed, validation_size, dtype
        See :class:`numrnn.training.tasks.base.SyntheticTask`.
    """

    name = "count-mod"
    loss = "xent"
    metric_name = "xent"
    input_size = 2

    def __init__(self, seq_len: int = 24, *, modulus: int = 3, **kwargs):
        self.modulus = check_int(modulus, "modulus", minimum=2)
        self.output_size = self.modulus
        super().__init__(check_int(seq_len, "seq_len", minimum=1), **kwargs)

    def generate(self, batch_size, rng):
        T, B = self.seq_len, batch_size
        bits = rng.integers(0, 2, size=(T, B))
        targets = np.cumsum(bits, axis=0) % self.modulus  # c_t = (b_1 + ... + b_t) mod k
        return Batch(one_hot(bits, 2, self.dtype), targets.astype(np.int64))

    @property
    def baseline(self):
        k, T = self.modulus, self.seq_len
        residues = np.zeros(k)  # distribution of (count of t - 1 fair bits) mod k, t = 1
        residues[0] = 1.0
        entropies = []
        for _ in range(T):
            nonzero = residues[residues > 0]
            entropies.append(float(-(nonzero * np.log(nonzero)).sum()))
            residues = 0.5 * residues + 0.5 * np.roll(residues, 1)  # one more fair bit
        return Baseline(
            float(np.mean(entropies)),
            f"no count kept: the step number and the current bit alone "
            f"(mean over steps of H(Bin(t-1, 1/2) mod {k}); ln {k} = {math.log(k):.4f})",
        )

    def _settings(self):
        return {**super()._settings(), "modulus": self.modulus}
