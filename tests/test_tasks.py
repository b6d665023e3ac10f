"""Tasks: shapes and dtypes, the structure each generator promises, and each stated baseline."""

import math
import re

import numpy as np
import pytest

from numrnn.training import tasks
from numrnn.training.tasks import (
    AddingTask,
    CharLMTask,
    CopyTask,
    ReberTask,
    SineTask,
    TemporalOrderTask,
    Vocabulary,
)


def _small(name: str, tmp_path) -> dict:
    """Settings that keep a data-set task small: the chorales read 10 pieces, not the corpus."""
    if name != "chorales":
        return {}
    pytest.importorskip("music21")
    return dict(max_pieces=10, cache_dir=tmp_path, progress=False)


@pytest.mark.parametrize("name", list(tasks.TASKS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_task_gives_batches_that_fit_its_sizes(name, dtype, tmp_path):
    task = tasks.make_task(
        name, dtype=dtype, seq_len=12 if name != "copy" else 13, **_small(name, tmp_path)
    )
    batch = task.train_batch(0, 5, np.random.default_rng(0))
    T, B = task.seq_len, 5
    assert batch.x.shape == (T, B, task.input_size) and batch.x.dtype == dtype
    if task.loss == "xent":
        assert batch.targets.shape == (T, B) and np.issubdtype(batch.targets.dtype, np.integer)
        assert ((batch.targets >= -1) & (batch.targets < task.output_size)).all()
        assert (batch.targets >= 0).any()
    else:
        assert batch.targets.shape == (T, B, task.output_size) and batch.targets.dtype == dtype
    assert batch.mask is None or (batch.mask.shape == (T, B) and batch.mask.dtype == dtype)
    validation = task.validation_batches(5)
    assert validation and validation is task.validation_batches(5)  # fixed, built once
    assert math.isfinite(task.baseline.value) and task.baseline.description
    rebuilt = tasks.make_task(dtype=dtype, **task.to_dict())
    assert rebuilt.to_dict() == task.to_dict()


@pytest.mark.parametrize(
    "name", [name for name in tasks.TASKS if name not in ("charlm", "chorales")]
)
def test_synthetic_tasks_are_reproducible_from_the_rng(name):
    task = tasks.make_task(name)
    first = task.train_batch(0, 4, np.random.default_rng(7))
    again = task.train_batch(0, 4, np.random.default_rng(7))
    other = task.train_batch(0, 4, np.random.default_rng(8))
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_array_equal(first.targets, again.targets)
    assert not np.array_equal(first.x, other.x)
    assert not np.array_equal(
        task.validation_batches()[0].x[:, :4], first.x
    )  # validation is another stream


def test_adding_problem_structure():
    batch = AddingTask(seq_len=20).generate(64, np.random.default_rng(0))
    values, markers = batch.x[:, :, 0], batch.x[:, :, 1]
    assert ((values >= 0) & (values < 1)).all()
    assert (markers.sum(axis=0) == 2).all()
    assert (markers[:10].sum(axis=0) == 1).all() and (
        markers[10:].sum(axis=0) == 1
    ).all()  # one per half
    np.testing.assert_allclose(batch.targets[-1, :, 0], (values * markers).sum(axis=0), rtol=1e-15)
    np.testing.assert_array_equal(batch.mask[:-1], 0)
    np.testing.assert_array_equal(batch.mask[-1], 1)  # scored on the last step only


def test_adding_baseline_predict_one_scores_one_sixth():
    task = AddingTask(seq_len=10)
    batch = task.generate(200_000, np.random.default_rng(1))
    mse = float(((batch.targets[-1, :, 0] - 1.0) ** 2).mean())
    assert task.baseline.value == pytest.approx(1 / 6, rel=1e-15)
    assert mse == pytest.approx(1 / 6, abs=3e-3)  # Var(u1 + u2) = 2/12, sampled


def test_copy_task_structure_and_baseline():
    task = CopyTask(seq_len=15, length=4, num_symbols=5)
    batch = task.generate(32, np.random.default_rng(0))
    ids = batch.x.argmax(axis=-1)  # (T, B)
    assert task.input_size == 7 and task.output_size == 5
    np.testing.assert_array_equal(batch.x.sum(axis=-1), 1)  # one-hot
    np.testing.assert_array_equal(
        batch.targets[-4:], ids[:4]
    )  # the last K steps recall the first K
    np.testing.assert_array_equal(batch.targets[:-4], -1)
    assert (ids[15 - 4 - 1] == 6).all()  # the go marker
    assert (ids[4 : 15 - 4 - 1] == 5).all() and (ids[-4:] == 5).all()  # blanks
    assert task.baseline.value == pytest.approx(math.log(5))


def test_temporal_order_structure():
    task = TemporalOrderTask(seq_len=40)
    batch = task.generate(256, np.random.default_rng(0))
    ids = batch.x.argmax(axis=-1)
    assert (ids[0] == 6).all() and (ids[-1] == 7).all()  # B ... E
    for b in range(256):
        positions = np.flatnonzero((ids[:, b] == 4) | (ids[:, b] == 5))
        assert len(positions) == 2
        first, second = positions
        assert 4 <= first <= 8 and 20 <= second <= 24  # [T/10, T/5] and [T/2, 6T/10]
        expected = 2 * (ids[first, b] == 5) + (ids[second, b] == 5)
        assert batch.targets[-1, b] == expected
    np.testing.assert_array_equal(batch.targets[:-1], -1)
    assert np.bincount(batch.targets[-1], minlength=4).min() > 40  # the four orders all occur
    assert task.baseline.value == pytest.approx(math.log(4))


def test_sine_targets_are_the_next_input_and_the_persistence_baseline_holds():
    task = SineTask(seq_len=50, periods=(5.0, 17.0), amplitudes=(0.7, 0.4))
    batch = task.generate(20_000, np.random.default_rng(0))
    np.testing.assert_array_equal(batch.targets[:-1], batch.x[1:])  # target_t = s_{t+1} = x_{t+1}
    persistence = float(((batch.targets - batch.x) ** 2).mean())
    formula = 0.49 * (1 - math.cos(2 * math.pi / 5)) + 0.16 * (1 - math.cos(2 * math.pi / 17))
    assert task.baseline.value == pytest.approx(formula, rel=1e-14)
    assert persistence == pytest.approx(formula, rel=0.02)


# The Reber language written as a regular expression, independently of the generator's graph.
_TAIL = "(?:XT*VP)*(?:S|XT*VV)"
REBER = re.compile(f"B(?:TS*X{_TAIL}|PT*V(?:V|P{_TAIL}))E")
EMBEDDED = re.compile(f"B(?:T{REBER.pattern}T|P{REBER.pattern}P)E")


def test_reber_strings_belong_to_the_grammar():
    rng = np.random.default_rng(0)
    for _ in range(300):
        assert EMBEDDED.fullmatch(tasks.reber.embedded_reber_string(rng)[0])
        assert REBER.fullmatch(tasks.reber.reber_string(rng)[0])
    assert not EMBEDDED.fullmatch("BTBTXSEPE")  # the wrapping symbols must agree


def test_reber_batches_encode_strings_and_pad_with_uncounted_steps():
    task = ReberTask(seq_len=25)
    strings, _ = task.strings(16, np.random.default_rng(3))
    batch = task._batch(strings)
    for b, string in enumerate(strings):
        n = len(string)
        assert n <= 26
        decoded = "".join(tasks.reber.SYMBOLS[i] for i in batch.x[: n - 1, b].argmax(axis=-1))
        assert decoded == string[:-1]
        assert "".join(tasks.reber.SYMBOLS[i] for i in batch.targets[: n - 1, b]) == string[1:]
        np.testing.assert_array_equal(batch.targets[n - 1 :, b], -1)  # nothing to predict after E
        np.testing.assert_array_equal(batch.x[n:, b], 0)  # no input past the string


def test_reber_baseline_is_the_unigram_entropy_and_above_the_grammar_floor():
    task = ReberTask(seq_len=30, validation_size=512)
    targets = task.validation_batches()[0].targets
    counts = np.bincount(targets[targets >= 0], minlength=7)
    p = counts[counts > 0] / counts.sum()
    assert task.baseline.value == pytest.approx(float(-(p * np.log(p)).sum()), rel=1e-12)
    assert 0 < task.optimal_loss < task.baseline.value


# -------------------------------------------------------------------- charlm

TEXT = "abcab cabba\n" * 40


def test_vocabulary_round_trip_and_errors():
    vocab = Vocabulary.from_text("hello world")
    assert vocab.chars == " dehlorw"
    assert vocab.decode(vocab.encode("world")) == "world"
    with pytest.raises(ValueError, match=r"characters \['z'\] are not in the vocabulary"):
        vocab.encode("zoo")
    with pytest.raises(ValueError, match=r"chars must not repeat a character"):
        Vocabulary("aba")


def test_charlm_vocab_one_hot_and_contiguous_streams():
    task = CharLMTask(text=TEXT, seq_len=8, validation_fraction=0.25)
    assert task.vocab.chars == "\n abc" and task.input_size == task.output_size == 5
    B = 3
    windows = task.windows_per_epoch(B)
    first, second = task.train_batch(0, B), task.train_batch(1, B)
    assert not first.continues and second.continues
    np.testing.assert_array_equal(first.x.sum(axis=-1), 1)
    np.testing.assert_array_equal(
        first.x.argmax(axis=-1)[1:], first.targets[:-1]
    )  # targets are the next chars
    np.testing.assert_array_equal(
        second.x.argmax(axis=-1)[0], first.targets[-1]
    )  # batch k + 1 continues batch k
    streams = task.train_ids[: len(task.train_ids) // B * B].reshape(B, -1)
    np.testing.assert_array_equal(first.x.argmax(axis=-1).T, streams[:, :8])
    again = task.train_batch(windows, B)  # a new epoch starts over, state reset
    assert not again.continues
    np.testing.assert_array_equal(again.x, first.x)


def test_charlm_validation_is_the_end_of_the_text():
    task = CharLMTask(text=TEXT, seq_len=8, validation_fraction=0.25)
    split = int(round(len(TEXT) * 0.75))
    np.testing.assert_array_equal(task.validation_ids, task.vocab.encode(TEXT[split:]))
    batches = task.validation_batches()
    assert not batches[0].continues and all(batch.continues for batch in batches[1:])


def test_charlm_bpc_and_unigram_baseline():
    task = CharLMTask(text=TEXT, seq_len=8, validation_fraction=0.25)
    assert task.metric(math.log(2) * 3.0) == pytest.approx(3.0)  # BPC = loss / ln 2
    counts = (
        np.array([TEXT[: int(round(len(TEXT) * 0.75))].count(c) for c in task.vocab.chars]) + 1.0
    )
    scored = np.concatenate([b.targets.ravel() for b in task.validation_batches()])
    expected = -np.log2(counts / counts.sum())[scored].mean()
    assert task.baseline.value == pytest.approx(expected, rel=1e-12)


def test_charlm_builtin_text_and_file(tmp_path):
    builtin = CharLMTask()
    assert len(builtin.vocab) > 30 and len(builtin.train_ids) > 3000
    path = tmp_path / "tiny.txt"
    path.write_text(TEXT, encoding="utf-8")
    from_file = CharLMTask(path, seq_len=8)
    assert from_file.vocab.chars == "\n abc" and from_file.to_dict()["path"] == str(path)


def test_charlm_errors(tmp_path):
    with pytest.raises(ValueError, match=r"text from the built-in text is too short|too short"):
        CharLMTask(text="abc", seq_len=8)
    task = CharLMTask(text=TEXT, seq_len=8)
    with pytest.raises(
        ValueError, match=r"too short for batch_size=100 streams of seq_len=8: it needs at least"
    ):
        task.train_batch(0, 100)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00abc" * 100)
    with pytest.raises(ValueError, match=r"is not UTF-8 text"):
        CharLMTask(bad)
    with pytest.raises(ValueError, match=r"give path or text, not both"):
        CharLMTask(bad, text=TEXT)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (
            lambda: tasks.make_task("mnist"),
            ValueError,
            r"task must be one of \['adding', .*'charlm', 'chorales'\]; got 'mnist'",
        ),
        (
            lambda: CopyTask(seq_len=10, length=5),
            ValueError,
            r"seq_len must be >= 2 \* length \+ 1 = 11",
        ),
        (lambda: AddingTask(seq_len=1), ValueError, r"seq_len must be >= 2; got 1"),
        (lambda: TemporalOrderTask(seq_len=5), ValueError, r"seq_len must be >= 10; got 5"),
        (
            lambda: ReberTask(seq_len=6),
            ValueError,
            r"seq_len must be >= 8 to hold the shortest embedded Reber string",
        ),
        (
            lambda: SineTask(periods=(1.0, 2.0), amplitudes=(1.0,)),
            ValueError,
            r"periods and amplitudes must be",
        ),
        (
            lambda: SineTask(periods=(0.0,), amplitudes=(1.0,)),
            ValueError,
            r"periods must be positive",
        ),
        (
            lambda: AddingTask(dtype=np.int32),
            ValueError,
            r"dtype must be np.float32 or np.float64; got int32",
        ),
        (lambda: AddingTask(seed=-1), ValueError, r"seed must be >= 0; got -1"),
    ],
)
def test_bad_task_settings_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()
