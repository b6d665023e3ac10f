"""The chorales task: piano rolls, the split, the baseline, the cache, the optional music21 extra.

Everything above the music21 section runs without music21 (the piano-roll
maths is pure NumPy); the last section needs ``numrnn[music]`` and is skipped
without it.
"""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

import numrnn
from numrnn.training import Trainer
from numrnn.training.tasks import TASKS, make_task
from numrnn.training.tasks.chorales import MissingExtraError, PianoRollTask, cache_folder
from numrnn.training.tasks.pianoroll import (
    CacheError,
    key_signature_shift,
    load_rolls,
    piano_roll,
    pitch_frequencies,
    save_rolls,
    split_of,
)

# Two bars of 4/4 in D major (2 sharps), soprano and bass, as (MIDI pitch, onset, duration) in
# quarter notes. The eighth notes E4 D4 on beat 2 test the sampling rule, the low D2 the range.
D_MAJOR_BARS = [
    (66, 0.0, 1.0),  # F#4 quarter
    (64, 1.0, 0.5),  # E4 eighth
    (62, 1.5, 0.5),  # D4 eighth: starts between two quarter-note frames
    (64, 2.0, 2.0),  # E4 half
    (62, 4.0, 4.0),  # D4 whole
    (50, 0.0, 2.0),  # D3 half
    (45, 2.0, 2.0),  # A2 half
    (38, 4.0, 4.0),  # D2 whole: C2 = 36 after the shift, below low = 40
]


def roll_of(active: list, low: int, high: int) -> np.ndarray:
    """The (N, P) 0/1 roll whose frame k holds the MIDI pitches active[k]."""
    roll = np.zeros((len(active), high - low + 1), dtype=np.uint8)
    for k, pitches in enumerate(active):
        roll[k, [p - low for p in pitches]] = 1
    return roll


# ------------------------------------------------------- piano rolls, by hand


def test_key_signature_shift_lands_on_c_major_by_the_shorter_way():
    for sharps in range(-7, 8):
        shift = key_signature_shift(sharps)
        assert (7 * sharps + shift) % 12 == 0, sharps  # the major tonic moves to C
        assert -6 <= shift <= 5, sharps
    assert [key_signature_shift(s) for s in (0, 1, 2, 3, -1, -2, -3, 5)] == [
        0,
        5,
        -2,
        3,
        -5,
        2,
        -3,
        1,
    ]


def test_key_signature_shift_rejects_impossible_signatures():
    with pytest.raises(ValueError, match=r"sharps must be in -7\.\.7 \(negative = flats\); got 8"):
        key_signature_shift(8)


def test_piano_roll_of_two_bars_equals_the_hand_computed_roll():
    shift = key_signature_shift(2)  # D major -> C major: two semitones down
    assert shift == -2
    roll = piano_roll(D_MAJOR_BARS, quantum=1.0, low=40, high=72, shift=shift)
    # Quarter-note frames sample the pitches sounding at beats 0..7, two semitones lower:
    # the eighth D4 (-> C4 = 60) on beat 1.5 sounds at no frame start, the D2 (-> 36) is dropped.
    expected = roll_of([[64, 48], [62, 48], [62, 43], [62, 43], [60], [60], [60], [60]], 40, 72)
    np.testing.assert_array_equal(roll.frames, expected)
    assert roll.frames.dtype == np.uint8
    assert roll.dropped == 1


def test_eighth_note_frames_see_the_passing_note():
    roll = piano_roll(D_MAJOR_BARS, quantum=0.5, low=40, high=72, shift=-2)
    active = [[64, 48]] * 2 + [[62, 48], [60, 48]] + [[62, 43]] * 4 + [[60]] * 8
    np.testing.assert_array_equal(roll.frames, roll_of(active, 40, 72))


def test_piano_roll_length_adds_trailing_silent_frames_and_grace_notes_sound_nowhere():
    roll = piano_roll([(60, 0.0, 1.0), (62, 1.0, 0.0)], quantum=1.0, low=60, high=62, length=3.0)
    np.testing.assert_array_equal(roll.frames, [[1, 0, 0], [0, 0, 0], [0, 0, 0]])


def test_piano_roll_triplet_offsets_are_sampled_despite_float_rounding():
    third = 1 / 3
    # music21 offsets as floats: 5/3 / (1/3) = 5.000000000000001 and 7/3 / (1/3) = 7.000000000000001
    notes = [(60, 0.0, 5 / 3), (62, 5 / 3, 2 / 3), (64, 7 / 3, 2 / 3)]
    roll = piano_roll(notes, quantum=third, low=60, high=64)
    expected = roll_of([[60]] * 5 + [[62]] * 2 + [[64]] * 2, 60, 64)
    np.testing.assert_array_equal(roll.frames, expected)


def test_piano_roll_rejects_bad_input():
    with pytest.raises(ValueError, match=r"high must be >= low; got low=60, high=50"):
        piano_roll([], low=60, high=50)
    with pytest.raises(
        ValueError,
        match=r"notes need a finite onset >= 0 and duration >= 0; got \(60, -1\.0, 1\.0\)",
    ):
        piano_roll([(60, -1.0, 1.0)])
    with pytest.raises(ValueError, match=r"quantum must be a positive finite number; got 0"):
        piano_roll([], quantum=0)


# ------------------------------------------------------------- split, baseline


def test_split_is_by_position_in_the_sorted_list_80_10_10():
    splits = [split_of(i) for i in range(30)]
    assert splits == (["train"] * 8 + ["valid", "test"]) * 3
    assert [split_of(i) for i in range(30)] == splits  # deterministic


def test_pitch_frequencies_and_baseline_equal_the_hand_computation():
    # 3 training frames: pitch 0 on twice, pitch 1 once; add-one smoothing
    train = [np.array([[1, 0], [1, 1]]), np.array([[0, 0]])]
    frequencies = pitch_frequencies(train)
    np.testing.assert_allclose(frequencies, [(2 + 1) / (3 + 2), (1 + 1) / (3 + 2)])
    task = PianoRollTask(
        {"train": train, "valid": [np.array([[1, 0]])], "test": [np.array([[0, 1], [1, 1]])]}
    )
    # valid frame (1, 0): -log 0.6 - log(1 - 0.4) = -2 log 0.6
    assert task.baseline.value == pytest.approx(-2 * math.log(0.6), rel=1e-12)
    test_nll = (-(math.log(0.4) + math.log(0.4)) - (math.log(0.6) + math.log(0.4))) / 2
    assert task.baseline_on("test") == pytest.approx(test_nll, rel=1e-12)
    assert task.loss == "bce" and task.metric_name == "nll"
    assert task.to_dict() == {
        "name": "pianoroll",
        "seq_len": 32,
        "seed": 0,
        "pieces": {"train": 2, "valid": 1, "test": 1},
    }


def small_rolls(seed=0, P=5):
    """Random rolls of uneven lengths (1 to 12 frames) for the three splits."""
    rng = np.random.default_rng(seed)

    def pieces(lengths):
        return [(rng.random((n, P)) < 0.3).astype(np.uint8) for n in lengths]

    return {"train": pieces([12, 7, 2, 9]), "valid": pieces([1, 11, 4]), "test": pieces([6])}


def test_a_model_that_predicts_the_training_frequencies_scores_the_baseline():
    """The trainer's evaluation (padding, mask, NLL = P × loss) must give the baseline's number."""
    task = PianoRollTask(small_rolls(), seq_len=4)
    model = numrnn.DeepRNN(task.input_size, 3, task.output_size)
    frequencies = pitch_frequencies(task.rolls["train"])
    model.params["output.W_hy"][...] = 0.0
    # sigmoid(b_y) = frequencies, whatever the input
    model.params["output.b_y"][...] = np.log(frequencies / (1 - frequencies))
    evaluation = Trainer(model, task, progress=False).evaluate()
    assert evaluation.metric == pytest.approx(task.baseline.value, rel=1e-12)
    assert evaluation.metric == pytest.approx(task.output_size * evaluation.loss, rel=1e-12)


def test_held_out_scores_the_test_pieces_with_the_training_frequencies():
    rolls = small_rolls()
    task = PianoRollTask(rolls, seq_len=4)
    test = task.held_out()
    assert test.baseline.value == pytest.approx(task.baseline_on("test"), rel=1e-12)
    (batch,) = test.validation_batches()
    np.testing.assert_array_equal(batch.targets[:, 0], rolls["test"][0])
    without_test = PianoRollTask({"train": rolls["train"], "valid": rolls["valid"]})
    with pytest.raises(ValueError, match="this task has no test pieces"):
        without_test.held_out()


def test_validation_batches_hold_every_piece_whole_shifted_by_one_frame():
    rolls = small_rolls()
    task = PianoRollTask(rolls, seq_len=4)
    (batch,) = task.validation_batches(8)
    assert batch.x.shape == (11, 3, 5) and batch.targets.shape == (11, 3, 5)
    for b, piece in enumerate(sorted(rolls["valid"], key=len, reverse=True)):  # longest first
        N = len(piece)
        np.testing.assert_array_equal(batch.targets[:N, b], piece)
        np.testing.assert_array_equal(batch.x[0, b], 0)  # the silent frame before the first
        np.testing.assert_array_equal(batch.x[1:N, b], piece[:-1])
        np.testing.assert_array_equal(batch.mask[:, b], np.arange(11) < N)
    assert task.validation_batches(8) is task.validation_batches(3)  # fixed


def test_training_windows_are_consecutive_frames_of_one_piece_with_padding_masked():
    piece = (np.arange(5)[:, None] == np.arange(5)).astype(np.uint8)  # frame k has pitch k on
    short = np.array([[1, 1, 0, 0, 0], [0, 0, 1, 1, 0]], dtype=np.uint8)
    task = PianoRollTask({"train": [piece, short], "valid": [piece]}, seq_len=3)
    silent = np.zeros((1, 5))
    padded = np.vstack([silent, piece])
    allowed = {(padded[s : s + 3].tobytes(), padded[s + 1 : s + 4].tobytes()) for s in range(3)}
    seen_short = seen_long = 0
    batch = task.train_batch(0, 64, np.random.default_rng(1))
    assert batch.x.shape == batch.targets.shape == (3, 64, 5) and batch.mask.shape == (3, 64)
    for b in range(64):
        if batch.mask[2, b] == 0:  # the two-frame piece: one window, its last step padded
            np.testing.assert_array_equal(batch.x[:, b], np.vstack([silent, short[:1], silent]))
            np.testing.assert_array_equal(batch.targets[:, b], np.vstack([short, silent]))
            np.testing.assert_array_equal(batch.mask[:, b], [1, 1, 0])
            seen_short += 1
        else:
            assert (batch.x[:, b].tobytes(), batch.targets[:, b].tobytes()) in allowed
            seen_long += 1
    assert seen_short > 0 and seen_long > 0  # 1 of 4 windows is the short piece's
    again = task.train_batch(0, 64, np.random.default_rng(1))
    np.testing.assert_array_equal(again.x, batch.x)  # the rng decides


def test_piano_roll_task_rejects_empty_or_ragged_rolls():
    with pytest.raises(
        ValueError, match=r"rolls\['valid'\] must hold at least one piece; got none"
    ):
        PianoRollTask({"train": [np.ones((3, 2))]})
    with pytest.raises(ValueError, match=r"every roll must have shape \(N, P\) with one P for all"):
        PianoRollTask({"train": [np.ones((3, 2))], "valid": [np.ones((3, 4))]})
    with pytest.raises(ValueError, match=r"rolls must hold 0/1 values"):
        PianoRollTask({"train": [np.full((3, 2), 2)], "valid": [np.ones((3, 2))]})
    with pytest.raises(ValueError, match=r"split must be 'valid' or 'test'; got 'train'"):
        PianoRollTask({"train": [np.ones((3, 2))], "valid": [np.ones((3, 2))]}).batches("train")


# --------------------------------------------------------------------- cache


SETTINGS = {"task": "test", "quantum": 1.0}


def write_example_cache(path):
    rolls = [np.eye(3, dtype=np.uint8), np.ones((2, 3), dtype=np.uint8)]
    save_rolls(
        path, rolls, ["a.mxl", "b.mxl"], ["train", "valid"], SETTINGS, info={"parse_seconds": 1.5}
    )
    return rolls


def test_cache_round_trip(tmp_path):
    path = tmp_path / "rolls.npz"
    rolls = write_example_cache(path)
    loaded, names, splits, info = load_rolls(path, SETTINGS)
    assert [r.tolist() for r in loaded] == [r.tolist() for r in rolls]
    assert (names, splits, info) == (["a.mxl", "b.mxl"], ["train", "valid"], {"parse_seconds": 1.5})
    assert os.listdir(tmp_path) == ["rolls.npz"]  # no temporary file left


def test_cache_refuses_other_settings_and_corrupt_or_pickled_files(tmp_path):
    path = tmp_path / "rolls.npz"
    write_example_cache(path)
    with pytest.raises(
        CacheError, match=r"was built with settings .*\"quantum\": 1\.0.*, not .*0\.5"
    ):
        load_rolls(path, {**SETTINGS, "quantum": 0.5})
    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.raises(CacheError, match=r"is not a readable piano-roll cache: BadZipFile"):
        load_rolls(path, SETTINGS)
    np.savez(path, format=np.array(1), settings=np.array([{"a": 1}], dtype=object))  # needs pickle
    with pytest.raises(CacheError, match=r"is not a readable piano-roll cache: ValueError"):
        load_rolls(path, SETTINGS)
    with pytest.raises(FileNotFoundError):
        load_rolls(tmp_path / "missing.npz", SETTINGS)


def test_a_failed_write_keeps_the_previous_good_cache(tmp_path, monkeypatch):
    path = tmp_path / "rolls.npz"
    rolls = write_example_cache(path)

    def crash(stream, **arrays):
        stream.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", crash)
    with pytest.raises(OSError, match="disk full"):
        save_rolls(path, [np.zeros((1, 3), np.uint8)], ["c.mxl"], ["test"], SETTINGS)
    loaded = load_rolls(path, SETTINGS)[0]
    assert [r.tolist() for r in loaded] == [r.tolist() for r in rolls]
    assert os.listdir(tmp_path) == ["rolls.npz"]


def test_cache_folder_order(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMRNN_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "b"))
    assert cache_folder(tmp_path / "c") == str(tmp_path / "c")
    assert cache_folder() == str(tmp_path / "a")
    monkeypatch.delenv("NUMRNN_CACHE")
    assert cache_folder() == os.path.join(str(tmp_path / "b"), "numrnn")


# ------------------------------------------------------ without the extra


def test_the_core_never_imports_music21():
    code = (
        "import sys, numrnn, numrnn.cli, numrnn.training.tasks as t; "
        "print('chorales' in t.TASKS, 'music21' in sys.modules)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.split() == ["True", "False"]


def test_without_music21_the_task_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "music21", None)  # `import music21` now raises ImportError
    with pytest.raises(
        MissingExtraError,
        match=r'music21 is not installed .*install it with: pip install "numrnn\[music\]"',
    ):
        TASKS["chorales"](seed=0, cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r'pip install "numrnn\[music\]"'):  # what the CLI catches
        make_task("chorales", seq_len=16, seed=0, cache_dir=str(tmp_path))


def test_without_music21_numrnn_train_prints_one_line_and_exits_2(monkeypatch, tmp_path, capsys):
    from numrnn.cli import main

    monkeypatch.setitem(sys.modules, "music21", None)
    code = main(["train", "--task", "chorales", "--steps", "1", "--out", str(tmp_path / "run")])
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith("numrnn train: error:") and 'pip install "numrnn[music]"' in error
    assert error.count("\n") == 1


def test_chorales_settings_are_checked_before_music21_is_needed(monkeypatch):
    monkeypatch.setitem(sys.modules, "music21", None)
    with pytest.raises(ValueError, match=r"max_pieces must be >= 10; got 3"):
        TASKS["chorales"](seed=0, max_pieces=3)


# ------------------------------------------------------------ with music21


@pytest.fixture(scope="module")
def chorales_cache(tmp_path_factory):
    pytest.importorskip("music21")
    folder = tmp_path_factory.mktemp("chorales-cache")
    task = TASKS["chorales"](seed=0, seq_len=16, max_pieces=20, cache_dir=folder, progress=False)
    return folder, task


def test_chorales_from_music21(chorales_cache):
    import music21

    folder, task = chorales_cache
    assert task.from_cache is False
    assert (task.input_size, task.output_size, task.loss, task.metric_name) == (
        54,
        54,
        "bce",
        "nll",
    )
    assert task.info["files"] == 20 and task.info["dropped_notes"] == 0
    assert len(task.names) == 20 - task.info["skipped"]
    # split by the place in the sorted list of corpus files, whatever pieces were skipped
    root = os.fspath(music21.common.getCorpusFilePath())
    listing = sorted(
        os.path.relpath(os.fspath(p), root).replace(os.sep, "/")
        for p in music21.corpus.getComposer("bach")
        if not os.fspath(p).endswith(".rntxt")
    )
    assert task.names == sorted(task.names)
    assert task.splits == [split_of(listing.index(name)) for name in task.names]
    every = [roll for pieces in task.rolls.values() for roll in pieces]
    # four voices, sampled at frame starts: never more than four pitches at once
    assert max(int(roll.sum(axis=1).max()) for roll in every) <= 4
    # transposed to C major / A minor: nearly every sounding pitch is a white key
    counts = np.concatenate(every).sum(axis=0)
    white = np.isin((np.arange(31, 85)) % 12, [0, 2, 4, 5, 7, 9, 11])
    assert counts[white].sum() / counts.sum() > 0.9
    assert 8 < task.baseline.value < 14
    assert task.to_dict()["max_pieces"] == 20


def test_chorales_second_build_reads_the_cache_and_a_corrupt_cache_is_rebuilt(chorales_cache):
    folder, first = chorales_cache
    again = TASKS["chorales"](seed=0, seq_len=16, max_pieces=20, cache_dir=folder, progress=False)
    assert again.from_cache is True and again.names == first.names
    assert again.baseline.value == first.baseline.value
    with open(first.cache_path, "wb") as handle:
        handle.write(b"not a zip file")
    with pytest.warns(RuntimeWarning, match=r"is not a readable piano-roll cache.*; rebuilding it"):
        rebuilt = TASKS["chorales"](
            seed=0, seq_len=16, max_pieces=20, cache_dir=folder, progress=False
        )
    assert rebuilt.from_cache is False and rebuilt.names == first.names
    assert load_rolls(first.cache_path, first.cache_settings)[1] == first.names  # a good file again
    assert first.cache_settings["music21"] and first.cache_settings["max_pieces"] == 20


def test_chorales_rebuilt_by_name_from_to_dict(chorales_cache):
    folder, first = chorales_cache
    rebuilt = make_task(**first.to_dict(), dtype=np.float32)
    assert rebuilt.from_cache is True and rebuilt.dtype == np.float32
    batch = rebuilt.train_batch(0, 4, np.random.default_rng(0))
    assert batch.x.dtype == np.float32 and batch.x.shape == (16, 4, 54)


def test_chorales_unwritable_cache_warns_and_still_builds(chorales_cache, monkeypatch, tmp_path):
    from numrnn.training.tasks import chorales

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(chorales, "save_rolls", refuse)
    with pytest.warns(RuntimeWarning, match=r"could not write the piano-roll cache .*read-only"):
        task = TASKS["chorales"](seed=0, max_pieces=10, cache_dir=tmp_path, progress=False)
    assert task.from_cache is False and task.input_size == 54
    assert os.listdir(tmp_path) == []
