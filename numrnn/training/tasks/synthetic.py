"""Classic synthetic sequence tasks with known difficulty and stated baselines.

=================  ======  ===========================  ===================================
task               loss    scored on                    trivial baseline
=================  ======  ===========================  ===================================
adding             mse     the last step                predict 1: MSE = Var(u₁ + u₂) = 1/6
copy               xent    the K recall steps           uniform guess: ln A nats
temporal-order     xent    the last step                uniform guess: ln 4 nats
sine               mse     every step after a burn-in   persistence: Σ a_i² (1 − cos(2π / P_i))
count-mod          xent    every step                   no count kept: mean_t H(Bin(t−1, ½) mod k)
two-timescale      xent    every step from lag + 1      no memory: ln A + (1 − 1/P) ln K
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

from ..._checks import check_int, check_number
from .base import Baseline, Batch, SyntheticTask, one_hot

__all__ = [
    "AddingTask",
    "CopyTask",
    "TemporalOrderTask",
    "SineTask",
    "CountModTask",
    "TwoTimescaleTask",
]


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
    of trained models' error was in steps 1-6 (issue 18). What is left after
    the transient is a linear recurrence, which every architecture learns: at
    numrnn compare's budget (about 2000 parameters, 600 Adam steps, lr 1e-2,
    seeds 0-2) sine-50 with burn_in = 10 ended at 2.3e-5 to 9.7e-5 for a
    vanilla RNN and 1.3e-5 to 3.0e-5 for a two-layer stack (baseline 0.057).
    For two memories at once see :class:`TwoTimescaleTask`.

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

    The defaults (T = 60, k = 5) are where the task separates architectures at
    numrnn compare's budget (about 2000 parameters, 600 Adam steps, batch
    32): measured on seeds 0-2 with learning rates 1e-3 to 1e-2, no vanilla
    RNN got below 0.64 nats (baseline 1.54), while a q = 2 deep transition at
    3e-3 reached 0.05-0.36. At T = 20, 24 or 40 the vanilla RNN learns it too
    (below 0.015 at lr 1e-2); at k = 3, T = 60 it learns it on some seeds.
    What T = 60 separates is *learning* the transition from long sequences in
    600 steps, not whether a vanilla RNN can hold it: one trained at T = 24
    scores 0.0023-0.0026 nats on T = 60 sequences (seeds 0-2).

    Parameters
    ----------
    seq_len : int >= 1, default 60
    modulus : int >= 2, default 5
        k, the number of classes.
    seed, validation_size, dtype
        See :class:`numrnn.training.tasks.base.SyntheticTask`.
    """

    name = "count-mod"
    loss = "xent"
    metric_name = "xent"
    input_size = 2

    def __init__(self, seq_len: int = 60, *, modulus: int = 5, **kwargs):
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


class TwoTimescaleTask(SyntheticTask):
    """Two memories at once: a symbol from ``lag`` steps back (fast) and a key shown rarely (slow).

    Every step shows a random symbol ``s_t`` of an alphabet of A. Now and then
    (at step 1, then at each step with probability 1/P, so every P steps on
    average) a step also shows a new key ``k``, one of K, which holds until
    the next key. At every step t > lag the target is the pair
    ``(s_{t-lag}, k_t)``, one class of A·K (class ``s_{t-lag} · K + k_t``).
    The fast half needs the last ``lag`` symbols, the slow half a value held
    for P steps on average and up to T: patterns at two time scales in one
    stream, what a hierarchy of layers is meant to separate. Inputs are
    one-hot: A symbol channels, then K key channels (all 0 on steps without
    a key).

    Baseline: a model with no memory beyond the current step knows the key
    only on the steps that show it (probability 1/P) and never the symbol:
    ``ln A + (1 − 1/P) ln K`` nats per scored step. Forgetting only the key
    costs ``(1 − 1/P) ln K``, forgetting only the symbol ``ln A``, so the
    metric shows which memory a model lacks.

    Measured at numrnn compare's budget (about 2000 parameters, 600 Adam
    steps at lr 1e-2, seeds 0-2, float32), both a vanilla RNN and a two-layer
    stack learn it: test xent 0.0033-0.023 and 0.0028-0.0038 with the
    defaults (baseline 2.70); 0.0074-0.018 and 0.0038-0.012 with lag 4,
    key_period 40, T = 100. At this size it does not separate them; it says
    what the "multi-scale" claim would have to show.

    Parameters
    ----------
    seq_len : int, default 60
        T, at least lag + 1.
    symbols : int >= 2, default 4
        A.
    keys : int >= 2, default 4
        K.
    lag : int >= 1, default 2
        How many steps back the fast half looks.
    key_period : float > 1, default 20
        P, the mean number of steps between keys.
    seed, validation_size, dtype
        See :class:`numrnn.training.tasks.base.SyntheticTask`.
    """

    name = "two-timescale"
    loss = "xent"
    metric_name = "xent"

    def __init__(
        self,
        seq_len: int = 60,
        *,
        symbols: int = 4,
        keys: int = 4,
        lag: int = 2,
        key_period: float = 20.0,
        **kwargs,
    ):
        self.symbols = check_int(symbols, "symbols", minimum=2)
        self.keys = check_int(keys, "keys", minimum=2)
        self.lag = check_int(lag, "lag", minimum=1)
        self.key_period = check_number(key_period, "key_period", low=1.0)
        seq_len = check_int(seq_len, "seq_len", minimum=1)
        if seq_len < self.lag + 1:
            raise ValueError(
                f"seq_len must be >= lag + 1 = {self.lag + 1} (a step to score); got {seq_len}"
            )
        super().__init__(seq_len, **kwargs)
        self.input_size = self.symbols + self.keys
        self.output_size = self.symbols * self.keys

    def generate(self, batch_size, rng):
        T, B, A, K, lag = self.seq_len, batch_size, self.symbols, self.keys, self.lag
        symbols = rng.integers(0, A, size=(T, B))
        shows_key = rng.random((T, B)) < 1 / self.key_period
        shows_key[0] = True  # the first step always shows a key
        drawn_keys = rng.integers(0, K, size=(T, B))
        steps = np.arange(T)[:, None]  # (T, 1)
        last_shown = np.maximum.accumulate(np.where(shows_key, steps, 0), axis=0)  # (T, B)
        key = drawn_keys[last_shown, np.arange(B)]  # k_t: the key of the last step showing one
        x = np.zeros((T, B, A + K), dtype=self.dtype)
        x[:, :, :A] = one_hot(symbols, A, self.dtype)
        x[:, :, A:] = one_hot(drawn_keys, K, self.dtype) * shows_key[:, :, None]
        targets = np.full((T, B), -1, dtype=np.int64)
        targets[lag:] = symbols[:-lag] * K + key[lag:]  # (s_{t-lag}, k_t)
        return Batch(x, targets)

    @property
    def baseline(self):
        shown = 1 / self.key_period
        value = math.log(self.symbols) + (1 - shown) * math.log(self.keys)
        return Baseline(
            value,
            f"no memory beyond the current step: ln {self.symbols} for the symbol {self.lag} "
            f"steps back, ln {self.keys} for the key except on the 1/{self.key_period:g} of "
            f"steps that show it",
        )

    def _settings(self):
        return {
            **super()._settings(),
            "symbols": self.symbols,
            "keys": self.keys,
            "lag": self.lag,
            "key_period": self.key_period,
        }
