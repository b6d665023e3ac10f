"""Checkpoints: round trip, bit-identical resume, clear errors for every kind of bad file,
atomic saves."""

import io
import os

import numpy as np
import pytest

import numrnn
from numrnn import presets
from numrnn.training import checkpoint, optim
from numrnn.training.checkpoint import load_checkpoint, save_checkpoint
from numrnn.training.tasks import AddingTask, CharLMTask
from numrnn.training.trainer import Trainer

TEXT = "a stitch in time saves nine; a bird in the hand is worth two in the bush.\n" * 10


def adding_trainer(seed=0, **kw):
    task = AddingTask(seq_len=12, validation_size=16)
    model = presets.build("deep-transition-skip", 2, 8, 1, seed=seed)
    return Trainer(
        model,
        task,
        optimizer=optim.Adam(lr=3e-3),
        batch_size=4,
        eval_every=5,
        progress=False,
        schedule=optim.make_schedule("cosine", 3e-3, 20, warmup=3),
        seed=seed,
        **kw,
    )


def charlm_trainer():
    task = CharLMTask(text=TEXT, seq_len=8)
    model = presets.build("hierarchical", len(task.vocab), 8, len(task.vocab), seed=1)
    return Trainer(
        model,
        task,
        optimizer=optim.RMSProp(lr=3e-3),
        batch_size=3,
        bptt_window=4,
        eval_every=5,
        progress=False,
        seed=1,
    )


@pytest.fixture
def saved(tmp_path):
    """A valid checkpoint after 4 steps of training, and its path."""
    trainer = adding_trainer()
    trainer.run(4)
    path = tmp_path / "run.npz"
    trainer.save(path)
    return trainer, path


def test_round_trip_restores_everything(saved):
    trainer, path = saved
    loaded = load_checkpoint(path)
    assert loaded.step == 4 and loaded.numrnn_version == numrnn.__version__
    assert loaded.config == trainer.model.config
    assert list(loaded.params) == list(trainer.model.params)  # the canonical order
    for name, value in trainer.model.params.items():
        np.testing.assert_array_equal(loaded.params[name], value)
        assert loaded.params[name].dtype == value.dtype
    assert loaded.optimizer == trainer.optimizer
    assert loaded.optimizer_state.keys() == trainer.optimizer_state.keys()
    for key, value in trainer.optimizer_state.items():
        np.testing.assert_array_equal(loaded.optimizer_state[key], value)
    np.testing.assert_array_equal(
        loaded.rng().random(5), trainer.rng.random(5)
    )  # the same generator state
    for mine, theirs in zip(loaded.carry, trainer.carry, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(loaded.history["loss"], trainer.history.loss)
    assert loaded.meta["task"] == {
        "name": "adding",
        "seq_len": 12,
        "seed": 0,
        "validation_size": 16,
    }
    assert loaded.meta["trainer"]["schedule"]["kind"] == "warmup"
    model = loaded.model()
    x = np.random.default_rng(0).standard_normal((3, 2, 2))
    np.testing.assert_array_equal(model.forward(x)[0], trainer.model.forward(x)[0])


def test_round_trip_of_a_bare_model_float32(tmp_path):
    model = presets.build(
        "deep-transition-shortcut", 3, 5, 2, seed=0, dtype=np.float32, output_depth=1
    )
    save_checkpoint(tmp_path / "m.npz", model)
    loaded = load_checkpoint(tmp_path / "m.npz")
    assert loaded.optimizer is None and loaded.optimizer_state is None and loaded.rng() is None
    assert loaded.carry is None and loaded.history == {} and loaded.meta == {}
    for name, value in model.params.items():
        assert loaded.params[name].dtype == np.float32
        np.testing.assert_array_equal(loaded.params[name], value)


@pytest.mark.parametrize("make", [adding_trainer, charlm_trainer], ids=["adding", "charlm-streams"])
def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path, make):
    straight = make()
    straight.run(20)
    interrupted = make()
    interrupted.run(10)
    interrupted.save(tmp_path / "half.npz")
    del interrupted
    resumed = Trainer.from_checkpoint(tmp_path / "half.npz", progress=False)
    assert resumed.step == 10
    resumed.run(20)
    for name, value in straight.model.params.items():
        assert np.array_equal(resumed.model.params[name], value), name
    for key, value in straight.optimizer_state.items():
        assert np.array_equal(resumed.optimizer_state[key], value), key
    for field in ("loss", "grad_norm", "lr", "eval_step", "val_loss"):
        assert np.array_equal(getattr(resumed.history, field), getattr(straight.history, field)), (
            field
        )


def test_resume_checks_the_text_vocabulary(tmp_path):
    trainer = charlm_trainer()
    trainer.run(2)
    trainer.save(tmp_path / "c.npz")
    other = CharLMTask(text=TEXT.upper(), seq_len=8)
    with pytest.raises(
        ValueError, match=r"the text's vocabulary differs from the one .*c.npz' was trained on"
    ):
        Trainer.from_checkpoint(tmp_path / "c.npz", task=other)


# -------------------------------------------------------------- bad files


def entries(path):
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def test_truncated_file(saved, tmp_path):
    _, path = saved
    data = path.read_bytes()
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ValueError,
        match=r"truncated\.npz' is not a numrnn checkpoint: it is not a readable \.npz "
        r"archive \(truncated, corrupt",
    ):
        load_checkpoint(bad)


def test_corrupt_file(saved, tmp_path):
    _, path = saved
    data = bytearray(path.read_bytes())
    start = data.index(b"params/layer1.W_hh") + 200  # inside that entry's array data
    data[start : start + 16] = bytes(16)
    bad = tmp_path / "corrupt.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(
        ValueError,
        match=r"corrupt\.npz' is a corrupt or truncated checkpoint: entry "
        r"'params/layer1\.W_hh' cannot be read \(.*CRC",
    ):
        load_checkpoint(bad)


def test_foreign_npz_without_the_marker(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, W=np.ones((2, 2)))
    with pytest.raises(
        ValueError,
        match=r"weights\.npz' is an \.npz archive but not a numrnn checkpoint: it has "
        r"no 'format' marker \(entries: \['W'\]\)",
    ):
        load_checkpoint(path)


def test_npz_with_another_marker(saved, tmp_path):
    _, path = saved
    data = entries(path)
    data["format"] = np.array("someone-elses-format")
    np.savez(tmp_path / "other.npz", **data)
    with pytest.raises(
        ValueError,
        match=r"other\.npz' is not a numrnn checkpoint: its format marker is "
        r"'someone-elses-format'",
    ):
        load_checkpoint(tmp_path / "other.npz")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(
        ValueError, match=r"noise\.npz' is not a numrnn checkpoint: it is not an \.npz archive"
    ) as error:
        load_checkpoint(path)
    assert "pickle" not in str(error.value)  # NumPy's hint to load it unsafely is never passed on


def test_text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are not the weights you are looking for\n" * 20)
    with pytest.raises(
        ValueError, match=r"notes\.txt' is not a numrnn checkpoint: it is not an \.npz archive"
    ) as error:
        load_checkpoint(path)
    assert "pickle" not in str(error.value)


def test_single_npy_array(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.arange(3))
    with pytest.raises(
        ValueError, match=r"array\.npy' is not a numrnn checkpoint: it holds a single \.npy array"
    ):
        load_checkpoint(path)


def test_format_version_mismatch(saved, tmp_path):
    _, path = saved
    data = entries(path)
    data["format_version"] = np.array(2, dtype=np.int64)
    data["numrnn_version"] = np.array("9.0.0")
    np.savez(tmp_path / "future.npz", **data)
    with pytest.raises(
        ValueError,
        match=r"future\.npz' has checkpoint format version 2 \(written by numrnn 9\.0\.0\); "
        r"this numrnn .* reads version 1",
    ):
        load_checkpoint(tmp_path / "future.npz")


def test_numrnn_version_mismatch(saved, tmp_path):
    _, path = saved
    data = entries(path)
    data["numrnn_version"] = np.array("0.0.1")
    np.savez(tmp_path / "old.npz", **data)
    with pytest.raises(
        ValueError,
        match=r"old\.npz' was written by numrnn 0\.0\.1, but this is numrnn .*; "
        r"pass check_version=False",
    ):
        load_checkpoint(tmp_path / "old.npz")
    assert load_checkpoint(tmp_path / "old.npz", check_version=False).numrnn_version == "0.0.1"


def test_inconsistent_content(saved, tmp_path):
    _, path = saved
    data = entries(path)
    data["params/layer1.W_hh"] = np.zeros((3, 3))
    np.savez(tmp_path / "shapes.npz", **data)
    with pytest.raises(
        ValueError,
        match=r"shapes\.npz' is a damaged numrnn checkpoint: params\['layer1.W_hh'\] must "
        r"have shape \(8, 8\); got \(3, 3\)",
    ):
        load_checkpoint(tmp_path / "shapes.npz")
    data = entries(path)
    data["config"] = np.array("{not json")
    np.savez(tmp_path / "json.npz", **data)
    with pytest.raises(
        ValueError,
        match=r"json\.npz' is a damaged numrnn checkpoint: entry 'config' is not valid JSON",
    ):
        load_checkpoint(tmp_path / "json.npz")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.npz")


def test_a_failed_save_leaves_the_last_good_checkpoint_intact(saved, monkeypatch):
    trainer, path = saved
    good = path.read_bytes()
    trainer.run(6)  # new parameters to save

    def fail_half_way(handle, arrays):
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        handle.write(buffer.getvalue()[:1000])  # part of the archive reaches the disk
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "_write_npz", fail_half_way)
    with pytest.raises(OSError, match="disk full"):
        trainer.save(path)
    assert path.read_bytes() == good  # byte for byte the old file
    assert load_checkpoint(path).step == 4
    assert os.listdir(path.parent) == [path.name]  # no temporary file left behind


def test_save_rejects_bad_arguments(tmp_path):
    model = presets.build("vanilla", 2, 3, 1, seed=0)
    with pytest.raises(TypeError, match=r"model must be a DeepRNN; got dict"):
        save_checkpoint(tmp_path / "x.npz", model.params)
    with pytest.raises(ValueError, match=r"optimizer_state needs the optimizer it belongs to"):
        save_checkpoint(tmp_path / "x.npz", model, optimizer_state={"step": np.array(0)})
    assert not (tmp_path / "x.npz").exists()


def test_an_object_array_is_refused_as_a_pickle(saved, tmp_path):
    """A checkpoint holding an object array is named for what it is, not 'corrupt or truncated'."""
    _, path = saved
    data = entries(path)
    data["params/layer1.W_hh"] = np.array([{"payload": 1}], dtype=object)
    np.savez(tmp_path / "pickled.npz", **data)
    with pytest.raises(
        ValueError,
        match=r"pickled\.npz' holds a pickled object, refused: entry "
        r"'params/layer1\.W_hh' is an object array",
    ) as error:
        load_checkpoint(tmp_path / "pickled.npz")
    assert "allow_pickle" not in str(error.value)
