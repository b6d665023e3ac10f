"""The trainer: one step is exactly clip + update, state carried across batches, history,
NaN stop, overfitting."""

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest

import numrnn
from numrnn import presets
from numrnn.training import optim
from numrnn.training.clipping import clip_by_global_norm
from numrnn.training.tasks import AddingTask, Batch, CharLMTask, Task
from numrnn.training.trainer import History, Trainer, TrainingDiverged, train

TEXT = "the cat sat on the mat. the dog sat on the log.\n" * 12


class FixedBatchTask(Task):
    """The same small classification batch every step (for overfitting)."""

    name = "fixed"
    loss = "xent"
    metric_name = "xent"

    def __init__(self, T=6, B=4, D=3, O=3, seed=0):
        super().__init__(T)
        rng = np.random.default_rng(seed)
        self.input_size, self.output_size = D, O
        self.batch = Batch(rng.standard_normal((T, B, D)), rng.integers(0, O, size=(T, B)))

    def train_batch(self, step, batch_size, rng):
        return self.batch

    def validation_batches(self, batch_size=None):
        return [self.batch]

    @property
    def baseline(self):
        return numrnn.training.tasks.Baseline(math.log(self.output_size), "uniform")

    def to_dict(self):
        return {"name": self.name}


def small_model(arch="deep-transition-skip", D=2, O=1, dtype=np.float64, **kw):
    return presets.build(arch, D, 8, O, seed=0, dtype=dtype, **kw)


def test_one_step_is_clip_then_the_optimizer_update():
    task = AddingTask(seq_len=10)
    model, twin = small_model(), small_model()
    trainer = Trainer(
        model, task, optimizer=optim.SGD(lr=0.1), batch_size=4, clip=0.5, progress=False, seed=3
    )
    result = trainer.train_step()
    # The same step by hand: the batch the trainer's generator draws first, full BPTT, clip at
    # 0.5, SGD.
    batch = task.train_batch(0, 4, np.random.default_rng(3))
    loss, grads, _ = twin.loss_and_grads(batch.x, batch.targets, loss="mse", mask=batch.mask)
    norm = clip_by_global_norm(grads, 0.5)
    for name in twin.params:
        np.testing.assert_array_equal(model.params[name], twin.params[name] - 0.1 * grads[name])
    assert result.loss == float(loss) and result.grad_norm == norm and result.lr == 0.1
    assert norm > 0.5  # clipping really happened here


def test_state_is_carried_across_stream_batches_and_bptt_window_is_passed(monkeypatch):
    task = CharLMTask(text=TEXT, seq_len=8)
    model = presets.build("hierarchical", len(task.vocab), 8, len(task.vocab), seed=0)
    calls = []
    original = model.loss_and_grads

    def spy(x, targets, loss="xent", h0=None, mask=None, bptt_window=None):
        result = original(x, targets, loss=loss, h0=h0, mask=mask, bptt_window=bptt_window)
        calls.append((h0, bptt_window, result[2].final_state))
        return result

    monkeypatch.setattr(model, "loss_and_grads", spy)
    trainer = Trainer(model, task, batch_size=2, bptt_window=3, progress=False, eval_every=0)
    windows = task.windows_per_epoch(2)
    trainer.run(windows + 2)
    assert calls[0][0] is None  # the first window starts from zeros
    for k in range(1, windows):
        assert calls[k][0] is calls[k - 1][2]  # h0 = the previous batch's final state
    assert calls[windows][0] is None  # a new pass over the text starts from zeros
    assert calls[windows + 1][0] is calls[windows][2]
    assert all(window == 3 for _, window, _ in calls)


def test_history_arrays_and_evaluation_schedule():
    task = AddingTask(seq_len=8, validation_size=16)
    history = train(
        small_model(),
        task,
        steps=7,
        batch_size=4,
        eval_every=3,
        progress=False,
        schedule=optim.Warmup(optim.Constant(1e-2), 4),
    )
    np.testing.assert_array_equal(history.step, np.arange(1, 8))
    np.testing.assert_allclose(history.lr, [0.0025, 0.005, 0.0075, 0.01, 0.01, 0.01, 0.01])
    assert history.loss.shape == history.grad_norm.shape == (7,) and np.isfinite(history.loss).all()
    assert (history.grad_norm > 0).all()
    np.testing.assert_array_equal(history.eval_step, [3, 6, 7])  # every 3 steps and at the end
    np.testing.assert_array_equal(
        history.val_metric, history.val_loss
    )  # mse: the metric is the loss


def test_evaluate_is_the_mean_over_counted_entries():
    task = FixedBatchTask()
    model = small_model(D=3, O=3)
    trainer = Trainer(model, task, progress=False)
    y, _ = model.forward(task.batch.x)
    expected, _ = numrnn.losses.softmax_cross_entropy(y, task.batch.targets)
    assert trainer.evaluate().loss == pytest.approx(float(expected), rel=1e-14)


def test_charlm_evaluation_reports_bits_per_character():
    task = CharLMTask(text=TEXT, seq_len=8)
    model = presets.build("vanilla", len(task.vocab), 8, len(task.vocab), seed=0)
    evaluation = Trainer(model, task, progress=False).evaluate()
    assert evaluation.metric == pytest.approx(evaluation.loss / math.log(2), rel=1e-15)


def test_history_csv_and_json(tmp_path):
    task = AddingTask(seq_len=8, validation_size=16)
    history = train(
        small_model(), task, steps=5, batch_size=4, eval_every=2, progress=False, out=tmp_path
    )
    with open(tmp_path / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["step"]) for row in rows] == [1, 2, 3, 4, 5]
    assert [float(row["loss"]) for row in rows] == history.loss.tolist()  # repr round-trips floats
    assert [row["val_loss"] != "" for row in rows] == [False, True, False, True, True]
    data = json.loads((tmp_path / "history.json").read_text())
    assert data["steps"]["grad_norm"] == history.grad_norm.tolist()
    assert data["evaluations"]["step"] == [2, 4, 5]
    assert data["baseline"]["value"] == pytest.approx(1 / 6) and data["metric"] == "mse"
    assert numrnn.ModelConfig.from_dict(data["model"]).input_size == 2
    assert (tmp_path / "checkpoint.npz").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint-best.npz",
        "checkpoint.npz",
        "history.csv",
        "history.json",
    ]  # no temp files


def test_nan_stop_names_the_step_and_the_last_good_loss(tmp_path):
    task = AddingTask(seq_len=10, validation_size=8)
    model = small_model("vanilla")
    with pytest.raises(
        TrainingDiverged,
        match=r"training diverged at step (\d+): the (loss|gradient norm) is "
        r"(nan|inf) \(last finite loss [0-9.e+]+ at step \d+;",
    ) as caught:
        train(
            model,
            task,
            steps=50,
            optimizer=optim.SGD(lr=1e6),
            clip=None,
            batch_size=4,
            progress=False,
            eval_every=0,
            out=tmp_path,
        )
    error = caught.value
    assert isinstance(error, FloatingPointError)
    assert 1 < error.step <= 50 and error.last_good_step == error.step - 1
    assert math.isfinite(error.last_good_loss)
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["steps"]["step"][-1] == error.step - 1  # written up to the last good step
    assert history["steps"]["loss"][-1] == error.last_good_loss
    assert not (tmp_path / "checkpoint.npz").exists()  # a diverged model is never saved


def test_progress_bar_shows_loss_gradient_norm_and_speed(capsys):
    train(
        small_model(),
        AddingTask(seq_len=6, validation_size=4),
        steps=3,
        batch_size=2,
        progress=True,
    )
    err = capsys.readouterr().err
    assert (
        "3/3" in err and "loss=" in err and "|g|=" in err and "steps/s" in err and "val_mse=" in err
    )


def test_quiet_mode_prints_nothing(capsys):
    train(
        small_model(),
        AddingTask(seq_len=6, validation_size=4),
        steps=3,
        batch_size=2,
        progress=False,
    )
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_importing_numrnn_does_not_import_tqdm_or_matplotlib():
    code = "import sys, numrnn; print('tqdm' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


def test_trainer_rejects_mismatched_models_and_settings():
    task = AddingTask()
    with pytest.raises(
        ValueError,
        match=r"the model must have input_size=2 and output_size=1 for task 'adding'; "
        r"got 3 and 1",
    ):
        Trainer(small_model(D=3), task)
    with pytest.raises(
        TypeError, match=r"the task's dtype must be the model's \(float32\); got float64"
    ):
        Trainer(small_model(dtype=np.float32), task)
    with pytest.raises(ValueError, match=r"clip must be a number >= 0 \(0 = off\) or None; got -1"):
        Trainer(small_model(), task, clip=-1)
    with pytest.raises(
        ValueError, match=r"divergence_factor must be > 1 \(a growth\), 0 or None; got 0.5"
    ):
        Trainer(small_model(), task, divergence_factor=0.5)
    for name in ("clip", "clip_value", "divergence_factor"):  # one rule for the three switches
        for bad in ("1", True, float("inf"), float("nan")):
            with pytest.raises(ValueError, match=rf"{name} must be a number >= 0 \(0 = off\)"):
                Trainer(small_model(), task, **{name: bad})
        assert getattr(Trainer(small_model(), task, **{name: 0}), name) is None  # 0 = off
    with pytest.raises(ValueError, match=r"batch_size must be >= 1; got 0"):
        Trainer(small_model(), task, batch_size=0)
    with pytest.raises(
        TypeError, match=r"optimizer must be a numrnn.training.optim.Optimizer; got str"
    ):
        Trainer(small_model(), task, optimizer="adam")
    with pytest.raises(TypeError, match=r"task must be a numrnn.training.tasks.Task"):
        Trainer(small_model(), "adding")


def test_run_continues_to_a_total_and_history_round_trips():
    trainer = Trainer(
        small_model(),
        AddingTask(seq_len=6, validation_size=4),
        batch_size=2,
        progress=False,
        eval_every=0,
    )
    trainer.run(3)
    history = trainer.run(5)
    assert trainer.step == 5 and history.step.tolist() == [1, 2, 3, 4, 5]
    again = History.from_arrays(history.to_arrays())
    for name in History.FIELDS:
        np.testing.assert_array_equal(getattr(again, name), getattr(history, name))


@pytest.mark.parametrize("arch", list(presets.ARCHITECTURES))
def test_every_architecture_overfits_a_tiny_fixed_batch(arch):
    # A batch of 4 sequences of 6 steps, 3 classes: from ln 3 ≈ 1.1 nats down to below 0.02.
    threshold = 0.02
    task = FixedBatchTask()
    model = presets.build(arch, 3, 16, 3, seed=0)
    history = train(
        model,
        task,
        steps=400,
        optimizer=optim.Adam(lr=0.02),
        batch_size=4,
        clip=None,
        eval_every=0,
        progress=False,
    )
    assert history.loss[0] > 0.5
    assert history.val_loss[-1] < threshold, (
        f"{arch}: loss {history.val_loss[-1]:.4f} after 400 steps"
    )


def test_clip_zero_means_no_clipping_as_on_the_command_line():
    """clip=0 used to be refused in Python while --clip 0 meant "off" on the command line."""
    task = AddingTask(seq_len=8, validation_size=4)
    unclipped = Trainer(small_model(), task, clip=None, batch_size=4, progress=False, seed=1)
    zero = Trainer(small_model(), task, clip=0, clip_value=0, batch_size=4, progress=False, seed=1)
    assert zero.clip is None and zero.clip_value is None
    tiny = Trainer(small_model(), task, clip=1e-3, batch_size=4, progress=False, seed=1)
    for _ in range(3):
        unclipped.train_step(), zero.train_step(), tiny.train_step()
    for name, value in unclipped.model.params.items():
        np.testing.assert_array_equal(zero.model.params[name], value)
    assert any(
        not np.array_equal(tiny.model.params[n], v) for n, v in unclipped.model.params.items()
    )


def test_progress_into_a_file_or_pipe_is_a_line_every_5_percent_not_a_flood(capsys):
    """The repro: a run with stderr redirected wrote hundreds of carriage returns on one line."""
    task = AddingTask(seq_len=4, validation_size=4)
    train(small_model(), task, steps=200, batch_size=2, eval_every=50, progress=True)
    err = capsys.readouterr().err  # capsys's stderr is not a terminal
    assert "\r" not in err
    lines = err.splitlines()
    assert len(lines) == 20
    assert lines[0].startswith("adding: step 10/200 (5%) loss=")
    assert lines[-1].startswith("adding: step 200/200 (100%) loss=") and "val_mse=" in lines[-1]


def test_check_model_shows_a_progress_bar_when_asked_and_stays_quiet_in_logs(capsys):
    model = presets.build("vanilla", 3, 4, 2, seed=0)
    x = np.random.default_rng(0).standard_normal((3, 2, 3))
    targets = np.ones((3, 2), dtype=int)
    assert numrnn.gradcheck.check_model(model, x, targets, progress=True).passed
    err = capsys.readouterr().err
    assert "gradient check:" in err and "/68 [" in err and "entry/s" in err
    # progress=None (the default): a long check draws a bar only on a terminal; capsys is not one.
    assert numrnn.gradcheck.check_model(model, x, targets).passed
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match=r"progress must be True, False or None; got 'yes'"):
        numrnn.gradcheck.check_model(model, x, targets, progress="yes")
