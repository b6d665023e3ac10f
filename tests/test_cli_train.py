"""``numrnn train`` and ``numrnn sample`` end to end, on tiny runs."""

import csv
import json
import re

import numpy as np
import pytest

from numrnn import cli
from numrnn.training.checkpoint import load_checkpoint
from numrnn.cli import train as train_command
from numrnn.presets import ARCHITECTURES
from numrnn.training.tasks import TASKS

TINY = ["--hidden", "6", "--batch", "4", "--eval-every", "3", "--quiet"]


def run_cli(capsys, *argv):
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_train_writes_checkpoint_and_history_and_prints_the_baseline(tmp_path, capsys):
    out = tmp_path / "run"
    status, stdout, stderr = run_cli(capsys, "train", "--task", "adding", "--arch", "deep-transition-skip",
                                     "--steps", "7", "--seq-len", "10", "--out", str(out), *TINY)
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz", "history.csv", "history.json"]
    summary = stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"adding: validation mse [0-9.e+-]+ after 7 steps, (NOT )?below the baseline 0\.1667 "
                        r"\(always predict 1 \(MSE = 1/6\)\); wrote .*run", summary), summary
    saved = load_checkpoint(out / "checkpoint.npz")
    assert saved.step == 7 and saved.meta["arch"] == "deep-transition-skip"
    assert saved.config.layers[0].hidden_size == 6 and saved.config.layers[0].skip == "residual"
    assert saved.params["layer1.W_hh"].dtype == np.float32                     # the CLI's default dtype
    with open(out / "history.csv", newline="") as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == list(range(1, 8))
    history = json.loads((out / "history.json").read_text())
    assert history["evaluations"]["step"] == [3, 6, 7]
    assert f"{history['evaluations']['val_metric'][-1]:.4g}" in summary
    assert "deep-transition-skip:" in stderr and "parameters" in stderr


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_architecture_by_name(tmp_path, capsys, arch):
    status, stdout, _ = run_cli(capsys, "train", "--task", "sine", "--arch", arch, "--steps", "2", "--seq-len", "6",
                                "--out", str(tmp_path), "--dtype", "float64", *TINY)
    assert status == 0 and "sine: validation mse" in stdout


@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_by_name(tmp_path, capsys, task):
    seq_len = {"copy": "11", "reber": "12", "charlm": "16"}.get(task, "10")
    status, stdout, _ = run_cli(capsys, "train", "--task", task, "--arch", "vanilla", "--steps", "2",
                                "--seq-len", seq_len, "--optimizer", "adagrad", "--clip-value", "5",
                                "--out", str(tmp_path), *TINY)
    assert status == 0 and f"{task}: validation" in stdout


def test_resume_continues_the_run_to_the_new_total(tmp_path, capsys):
    args = ["train", "--task", "charlm", "--arch", "hierarchical", "--seq-len", "16", "--out", str(tmp_path),
            "--bptt-window", "8", "--schedule", "cosine", "--warmup", "2", *TINY]
    assert run_cli(capsys, *args, "--steps", "4")[0] == 0
    status, stdout, stderr = run_cli(capsys, "train", "--out", str(tmp_path), "--steps", "6", "--resume", "--quiet")
    assert status == 0 and "resuming at step 4 to step 6" in stderr and "after 6 steps" in stdout
    saved = load_checkpoint(tmp_path / "checkpoint.npz")
    assert saved.step == 6 and saved.meta["arch"] == "hierarchical"
    assert saved.meta["trainer"]["bptt_window"] == 8
    assert saved.history["step"].tolist() == [1, 2, 3, 4, 5, 6]


def test_divergence_exits_1_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    status, _, stderr = run_cli(capsys, "train", "--task", "adding", "--arch", "vanilla", "--steps", "40",
                                "--optimizer", "sgd", "--lr", "1e7", "--clip", "0", "--checkpoint-every", "1",
                                "--out", str(tmp_path), *TINY)
    assert status == 1
    match = re.search(r"training diverged at step (\d+): the (loss|gradient norm) is (nan|inf) \(last finite "
                      r"loss \S+ at step (\d+);", stderr)
    assert match, stderr
    step = int(match.group(1))
    assert "The last good checkpoint is kept in" in stderr
    saved = load_checkpoint(tmp_path / "checkpoint.npz")
    assert saved.step == step - 1                                  # saved after the last finite step
    assert all(np.isfinite(value).all() for value in saved.params.values())
    assert json.loads((tmp_path / "history.json").read_text())["steps"]["step"][-1] == step - 1


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    parser = cli.build_parser()
    train_parser = parser._subparsers._group_actions[0].choices["train"]
    flags = [option for action in train_parser._actions for option in action.option_strings]
    assert len(flags) > 25
    for flag in flags:
        assert flag in text, flag
    for action in train_parser._actions:
        assert action.help, action.option_strings                   # every flag says what it does


@pytest.mark.parametrize("argv, match", [
    (["--hidden", "0"], r"--hidden must be >= 1; got 0"),
    (["--steps", "-5"], r"--steps must be >= 0; got -5"),
    (["--clip", "-1"], r"--clip must be >= 0 \(0 = off\); got -1.0"),
    (["--text", "x.txt"], r"--text is only for --task charlm; got --task adding"),
    (["--lr", "-0.1"], r"lr must be a finite number in \(0.0, inf\); got -0.1"),
    (["--task", "copy", "--seq-len", "5"], r"seq_len must be >= 2 \* length \+ 1 = 11"),
    (["--resume"], r"--resume needs a checkpoint, and .*checkpoint.npz' does not exist"),
])
def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys, argv, match):
    status, _, stderr = run_cli(capsys, "train", "--out", str(tmp_path / "x"), "--quiet", *argv)
    assert status == 2
    assert re.search(match, stderr), stderr


def test_sample_is_deterministic_with_a_seed(tmp_path, capsys):
    assert run_cli(capsys, "train", "--task", "charlm", "--arch", "vanilla", "--steps", "2", "--seq-len", "16",
                   "--out", str(tmp_path), *TINY)[0] == 0
    argv = ["sample", "--checkpoint", str(tmp_path / "checkpoint.npz"), "--length", "40", "--temperature", "0.9",
            "--seed", "7", "--prime", "The "]
    status, first, _ = run_cli(capsys, *argv)
    assert status == 0
    assert first.startswith("The ") and len(first.rstrip("\n")) == 44
    assert run_cli(capsys, *argv)[1] == first
    assert run_cli(capsys, *argv[:-3], "8", "--prime", "The ")[1] != first


def test_sample_refuses_a_non_character_checkpoint(tmp_path, capsys):
    run_cli(capsys, "train", "--task", "adding", "--arch", "vanilla", "--steps", "1", "--seq-len", "6",
            "--out", str(tmp_path), *TINY)
    status, _, stderr = run_cli(capsys, "sample", "--checkpoint", str(tmp_path / "checkpoint.npz"))
    assert status == 2 and "is not a character model: its metadata has no vocabulary" in stderr
    (tmp_path / "junk.npz").write_text("junk")
    status, _, stderr = run_cli(capsys, "sample", "--checkpoint", str(tmp_path / "junk.npz"))
    assert status == 2 and "is not a numrnn checkpoint" in stderr


def test_module_docstrings_describe_the_commands():
    assert train_command.__doc__.strip().startswith("Train any architecture on a task")
