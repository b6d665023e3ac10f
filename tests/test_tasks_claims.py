"""The tasks added for the chapter's claims: count-mod (complex state transitions) and sine's
burn-in (multi-scale patterns after the phase transient).

Each test's docstring names the wrong implementation it catches.
"""

import math

import numpy as np
import pytest

from numrnn.presets import build
from numrnn.training.tasks import CountModTask, SineTask, make_task
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


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: SineTask(seq_len=10, burn_in=10), ValueError, r"burn_in must be below seq_len"),
        (lambda: SineTask(burn_in=-1), ValueError, r"burn_in must be >= 0; got -1"),
        (lambda: SineTask(burn_in=2.5), TypeError, r"burn_in must be an int"),
        (lambda: CountModTask(modulus=1), ValueError, r"modulus must be >= 2; got 1"),
        (lambda: CountModTask(modulus="3"), TypeError, r"modulus must be an int"),
        (lambda: CountModTask(seq_len=0), ValueError, r"seq_len must be >= 1; got 0"),
    ],
)
def test_bad_settings_are_named(make, error, match):
    """Catches a setting accepted and failing later (or never)."""
    with pytest.raises(error, match=match):
        make()
