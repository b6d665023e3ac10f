"""The tasks added for the chapter's claims: count-mod (complex state transitions), sine's
burn-in and two-timescale (multi-scale patterns).

Each test's docstring names the wrong implementation it catches.
"""

import math

import numpy as np
import pytest

from numrnn.presets import build
from numrnn.training.tasks import CountModTask, SineTask, TwoTimescaleTask, make_task
from numrnn.training.trainer import Trainer


def test_count_mod_labels_are_the_running_count_of_ones_mod_k():
    """Targets against a naive per-sequence loop over the bits read back from the one-hot x.

    Catches the count taken before adding the current bit (c_{t-1}), a count of zeros,
    or the channels of the one-hot swapped."""
    for modulus in (2, 3, 5):
        task = CountModTask(seq_len=30, modulus=modulus)
        batch = task.generate(16, np.random.default_rng(modulus))
        T, B = 30, 16
        assert batch.x.shape == (T, B, 2) and batch.targets.shape == (T, B)
        assert batch.mask is None  # every step is scored
        np.testing.assert_array_equal(batch.x.sum(axis=2), 1.0)  # one-hot
        for b in range(B):
            count = 0
            for t in range(T):
                bit = int(batch.x[t, b, 1])  # channel 1 is a one
                count = (count + bit) % modulus
                assert batch.targets[t, b] == count, (modulus, b, t)
        assert task.output_size == modulus


def binomial_mod_entropy(n, k):
    """Entropy (nats) of Binomial(n, 1/2) mod k, from binomial coefficients."""
    probabilities = [sum(math.comb(n, j) for j in range(r, n + 1, k)) / 2**n for r in range(k)]
    return -sum(p * math.log(p) for p in probabilities if p > 0)


@pytest.mark.parametrize("modulus, seq_len", [(2, 10), (3, 24), (5, 7)])
def test_count_mod_baseline_is_what_no_count_can_reach(modulus, seq_len):
    """The baseline is the mean over steps of H(Bin(t-1, 1/2) mod k), from binomial
    coefficients here; for k = 2 it is (T-1)/T ln 2; and the Bayes predictor that knows
    only the step and the current bit scores it on 20000 sequences.

    Catches ln k (too lenient at small T: at t = 1 the bit alone gives the answer) or
    the entropy of the count itself rather than of the count mod k."""
    task = CountModTask(seq_len=seq_len, modulus=modulus)
    expected = np.mean([binomial_mod_entropy(t - 1, modulus) for t in range(1, seq_len + 1)])
    assert task.baseline.value == pytest.approx(expected, rel=1e-12)
    assert task.baseline.value < math.log(modulus)
    if modulus == 2:
        assert task.baseline.value == pytest.approx((seq_len - 1) / seq_len * math.log(2))
    batch = task.generate(20_000, np.random.default_rng(0))
    bits = batch.x[:, :, 1].astype(int)
    losses = []
    for t in range(seq_len):
        previous = np.zeros(modulus)  # P(count of t fair bits mod k), from the binomial
        for j in range(t + 1):
            previous[j % modulus] += math.comb(t, j) / 2**t
        predicted = np.stack([np.roll(previous, bit) for bit in (0, 1)])[bits[t]]  # (B, k)
        chosen = predicted[np.arange(len(bits[t])), batch.targets[t]]
        losses.append(-np.log(chosen).mean())
    assert np.mean(losses) == pytest.approx(task.baseline.value, rel=0.02)


def test_count_mod_is_drawn_from_the_rng_and_rebuilt_from_its_dict():
    """Catches a generator with its own fixed seed, or a modulus lost in to_dict."""
    task = make_task("count-mod", seq_len=12, modulus=4)
    assert task.to_dict() == {
        "name": "count-mod",
        "seq_len": 12,
        "seed": 0,
        "validation_size": 256,
        "modulus": 4,
    }
    rebuilt = make_task(**task.to_dict())
    np.testing.assert_array_equal(
        rebuilt.validation_batches()[0].targets, task.validation_batches()[0].targets
    )
    first = task.generate(8, np.random.default_rng(3))
    again = task.generate(8, np.random.default_rng(3))
    other = task.generate(8, np.random.default_rng(4))
    np.testing.assert_array_equal(first.targets, again.targets)
    assert not np.array_equal(first.targets, other.targets)


def test_a_burn_in_target_never_counts():
    """A huge error planted in the burn-in's targets changes neither the loss nor the
    validation metric; one planted just after it does.

    Catches a mask shifted by one step, or a mask the loss or the trainer ignores."""
    task = SineTask(seq_len=30, burn_in=8, validation_size=16)
    model = build("vanilla", 1, 6, 1, dtype=np.float64, seed=0)
    batch = task.validation_batches()[0]
    assert batch.mask is not None
    np.testing.assert_array_equal(batch.mask[:8], 0)
    np.testing.assert_array_equal(batch.mask[8:], 1)
    planted = batch.targets.copy()
    planted[:8] += 1e6

    def loss(targets):
        return model.loss_and_grads(batch.x, targets, loss="mse", mask=batch.mask)[0]

    assert loss(planted) == loss(batch.targets)
    trainer = Trainer(model, task, eval_every=0, progress=False)
    honest = trainer.evaluate().metric
    task._validation = [batch._replace(targets=planted)]
    assert trainer.evaluate().metric == honest
    after = batch.targets.copy()
    after[8] += 1e3
    task._validation = [batch._replace(targets=after)]
    assert trainer.evaluate().metric > 1e3


def test_burn_in_zero_is_the_old_task_and_the_baseline_holds_after_the_burn_in():
    """burn_in = 0 draws the same sequences with no mask (numrnn train's runs unchanged);
    persistence over the scored steps of 20000 sequences matches the stated baseline.

    Catches a burn-in that draws other sequences, or a baseline computed over the
    wrong steps."""
    old = SineTask(seq_len=40).generate(6, np.random.default_rng(5))
    burned = SineTask(seq_len=40, burn_in=10).generate(6, np.random.default_rng(5))
    assert old.mask is None
    np.testing.assert_array_equal(old.x, burned.x)
    np.testing.assert_array_equal(old.targets, burned.targets)
    task = SineTask(seq_len=40, burn_in=10)
    batch = task.generate(20_000, np.random.default_rng(0))
    errors = ((batch.targets - batch.x)[:, :, 0] ** 2 * batch.mask).sum() / batch.mask.sum()
    assert errors == pytest.approx(task.baseline.value, rel=0.02)
    assert "burn-in of 10 steps" in task.baseline.description
    assert task.to_dict()["burn_in"] == 10
    assert make_task(**task.to_dict()).burn_in == 10


def test_two_timescale_labels_against_a_naive_loop():
    """Targets against a per-sequence loop that reads the symbols and keys back from x.

    Catches the symbol taken lag - 1 or lag + 1 steps back, a key that does not hold
    until the next one, or class ids packed as key * A + symbol."""
    task = TwoTimescaleTask(seq_len=40, symbols=3, keys=5, lag=3, key_period=6.0)
    batch = task.generate(12, np.random.default_rng(0))
    A, K = 3, 5
    assert batch.x.shape == (40, 12, A + K) and task.output_size == A * K
    for b in range(12):
        key = None
        for t in range(40):
            symbol_channels, key_channels = batch.x[t, b, :A], batch.x[t, b, A:]
            assert symbol_channels.sum() == 1 and key_channels.sum() in (0, 1)
            if key_channels.sum():
                key = int(np.argmax(key_channels))
            assert key is not None  # step 1 always shows a key
            if t < 3:
                assert batch.targets[t, b] == -1
            else:
                fast = int(np.argmax(batch.x[t - 3, b, :A]))
                assert batch.targets[t, b] == fast * K + key, (b, t)


def test_two_timescale_baseline_is_what_the_current_step_alone_gives():
    """The Bayes predictor that sees only x_t (the key when shown, else uniform) scores the
    stated baseline on 4000 sequences, and keys appear every key_period steps on average.

    Catches ln(A K) (which ignores the steps that show the key) or a key shown at a
    rate other than 1/P."""
    task = TwoTimescaleTask(seq_len=50, key_period=5.0)
    batch = task.generate(4000, np.random.default_rng(1))
    shown = batch.x[:, :, 4:].sum(axis=2)[2:]  # key shown at the scored steps
    assert shown.mean() == pytest.approx(1 / 5, rel=0.02)
    per_step = math.log(4) + np.where(shown == 1, 0.0, math.log(4))
    assert per_step.mean() == pytest.approx(task.baseline.value, rel=0.01)
    assert task.baseline.value == pytest.approx(math.log(4) + 0.8 * math.log(4))


def test_two_timescale_is_rebuilt_from_its_dict():
    """Catches a setting lost in to_dict (the checkpoint would rebuild another task)."""
    task = make_task("two-timescale", seq_len=20, symbols=3, keys=2, lag=1, key_period=4.0)
    rebuilt = make_task(**task.to_dict())
    assert rebuilt.to_dict() == task.to_dict()
    np.testing.assert_array_equal(
        rebuilt.validation_batches()[0].targets, task.validation_batches()[0].targets
    )


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: SineTask(seq_len=10, burn_in=10), ValueError, r"burn_in must be below seq_len"),
        (lambda: SineTask(burn_in=-1), ValueError, r"burn_in must be >= 0; got -1"),
        (lambda: SineTask(burn_in=2.5), TypeError, r"burn_in must be an int"),
        (lambda: CountModTask(modulus=1), ValueError, r"modulus must be >= 2; got 1"),
        (lambda: CountModTask(modulus="3"), TypeError, r"modulus must be an int"),
        (lambda: CountModTask(seq_len=0), ValueError, r"seq_len must be >= 1; got 0"),
        (lambda: TwoTimescaleTask(seq_len=2, lag=2), ValueError, r"seq_len must be >= lag \+ 1"),
        (lambda: TwoTimescaleTask(symbols=1), ValueError, r"symbols must be >= 2; got 1"),
        (lambda: TwoTimescaleTask(keys=1), ValueError, r"keys must be >= 2; got 1"),
        (lambda: TwoTimescaleTask(lag=0), ValueError, r"lag must be >= 1; got 0"),
        (lambda: TwoTimescaleTask(key_period=1), ValueError, r"key_period must be a finite num"),
        (lambda: TwoTimescaleTask(key_period="20"), TypeError, r"key_period must be a real num"),
    ],
)
def test_bad_settings_are_named(make, error, match):
    """Catches a setting accepted and failing later (or never)."""
    with pytest.raises(error, match=match):
        make()
