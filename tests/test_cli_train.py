"""``numrnn train`` and ``numrnn sample`` end to end, on tiny runs."""

import csv
import json
import re

import numpy as np
import pytest

from numrnn import cli
from numrnn.cli import train as train_command
from numrnn.presets import ARCHITECTURES
from numrnn.training.checkpoint import load_checkpoint
from numrnn.training.tasks import TASKS

TINY = ["--hidden", "6", "--batch", "4", "--eval-every", "3", "--quiet"]


def run_cli(capsys, *argv):
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_train_writes_checkpoint_and_history_and_prints_the_baseline(tmp_path, capsys):
    out = tmp_path / "run"
    status, stdout, stderr = run_cli(
        capsys,
        "train",
        "--task",
        "adding",
        "--arch",
        "deep-transition-skip",
        "--steps",
        "7",
        "--seq-len",
        "10",
        "--out",
        str(out),
        *TINY,
    )
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint-best.npz",
        "checkpoint.npz",
        "history.csv",
        "history.json",
    ]
    lines = stdout.strip().splitlines()
    assert re.fullmatch(
        r"adding: validation mse [0-9.e+-]+ after 7 steps \(\d+ s\), (NOT )?below the baseline "
        r"0\.1667 \(always predict 1 \(MSE = 1/6\)\)",
        lines[0],
    ), lines
    assert re.fullmatch(r"best validation mse [0-9.e+-]+ at step [367]", lines[1]), lines
    assert lines[2] == (
        f"wrote {out}/checkpoint.npz (last), {out}/checkpoint-best.npz (best validation), "
        f"{out}/history.csv and {out}/history.json"
    )
    assert (
        lines[3] == f"next: numrnn plot {out}    (training curves and gradient-norm heat-map, PNG)"
    )
    assert lines[4] == f"      numrnn train --out {out} --resume --steps 14    (train on)"
    summary = lines[0]
    saved = load_checkpoint(out / "checkpoint.npz")
    assert saved.step == 7 and saved.meta["arch"] == "deep-transition-skip"
    assert saved.config.layers[0].hidden_size == 6 and saved.config.layers[0].skip == "residual"
    assert saved.params["layer1.W_hh"].dtype == np.float32  # the CLI's default dtype
    with open(out / "history.csv", newline="") as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == list(range(1, 8))
    history = json.loads((out / "history.json").read_text())
    assert history["evaluations"]["step"] == [3, 6, 7]
    assert f"{history['evaluations']['val_metric'][-1]:.4g}" in summary
    assert "deep-transition-skip:" in stderr and "parameters" in stderr


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_architecture_by_name(tmp_path, capsys, arch):
    status, stdout, _ = run_cli(
        capsys,
        "train",
        "--task",
        "sine",
        "--arch",
        arch,
        "--steps",
        "2",
        "--seq-len",
        "6",
        "--out",
        str(tmp_path),
        "--dtype",
        "float64",
        *TINY,
    )
    assert status == 0 and "sine: validation mse" in stdout


# The chorales need music21's corpus parsed (about a minute): tests/test_chorales.py covers them.
@pytest.mark.parametrize("task", [name for name in TASKS if name != "chorales"])
def test_every_task_by_name(tmp_path, capsys, task):
    seq_len = {"copy": "11", "reber": "12", "charlm": "16"}.get(task, "10")
    status, stdout, _ = run_cli(
        capsys,
        "train",
        "--task",
        task,
        "--arch",
        "vanilla",
        "--steps",
        "2",
        "--seq-len",
        seq_len,
        "--optimizer",
        "adagrad",
        "--clip-value",
        "5",
        "--out",
        str(tmp_path),
        *TINY,
    )
    assert status == 0 and f"{task}: validation" in stdout


def test_resume_continues_the_run_to_the_new_total(tmp_path, capsys):
    args = [
        "train",
        "--task",
        "charlm",
        "--arch",
        "hierarchical",
        "--seq-len",
        "16",
        "--out",
        str(tmp_path),
        "--bptt-window",
        "8",
        "--schedule",
        "cosine",
        "--warmup",
        "2",
        *TINY,
    ]
    assert run_cli(capsys, *args, "--steps", "4")[0] == 0
    status, stdout, stderr = run_cli(
        capsys, "train", "--out", str(tmp_path), "--steps", "6", "--resume", "--quiet"
    )
    assert status == 0 and "resuming at step 4 to step 6" in stderr and "after 6 steps" in stdout
    saved = load_checkpoint(tmp_path / "checkpoint.npz")
    assert saved.step == 6 and saved.meta["arch"] == "hierarchical"
    assert saved.meta["trainer"]["bptt_window"] == 8
    assert saved.history["step"].tolist() == [1, 2, 3, 4, 5, 6]


def test_divergence_exits_1_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    status, _, stderr = run_cli(
        capsys,
        "train",
        "--task",
        "adding",
        "--arch",
        "vanilla",
        "--steps",
        "40",
        "--optimizer",
        "sgd",
        "--lr",
        "1e7",
        "--clip",
        "0",
        "--checkpoint-every",
        "1",
        "--out",
        str(tmp_path),
        *TINY,
    )
    assert status == 1
    match = re.search(
        r"training diverged at step (\d+): the (loss|gradient norm|validation mse) is (nan|inf) "
        r"\(last finite \2 \S+ at step (\d+);",
        stderr,
    )
    assert match, stderr
    step = int(match.group(1))
    kept = re.search(r"This run's checkpoints before the divergence: '(.*)' \(step (\d+)\)", stderr)
    assert kept, stderr
    saved = load_checkpoint(kept.group(1))
    assert saved.step == int(kept.group(2)) == step - 1  # saved after the last finite step
    assert all(np.isfinite(value).all() for value in saved.params.values())
    assert json.loads((tmp_path / "history.json").read_text())["steps"]["step"][-1] in (
        step - 1,
        step,
    )


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
        assert action.help, action.option_strings  # every flag says what it does


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--hidden", "0"], r"--hidden must be >= 1; got 0"),
        (["--steps", "-5"], r"--steps must be >= 0; got -5"),
        (["--clip", "-1"], r"--clip must be >= 0 \(0 = off\); got -1.0"),
        (
            ["--task", "adding", "--text", "x.txt"],
            r"--text is only for --task charlm; got --task adding",
        ),
        (
            ["--text", "missing.txt"],
            r"No such file or directory: .missing.txt.",
        ),  # --text means charlm
        (
            ["--divergence-factor", "1"],
            r"--divergence-factor must be a number > 1, or 0 = off; got 1.0",
        ),
        (["--seed", "-1"], r"--seed must be >= 0; got -1"),
        (["--lr", "-0.1"], r"lr must be a finite number in \(0.0, inf\); got -0.1"),
        (["--task", "copy", "--seq-len", "5"], r"seq_len must be >= 2 \* length \+ 1 = 11"),
        (["--resume"], r"--resume needs a checkpoint, and .*checkpoint.npz' does not exist"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys, argv, match):
    status, _, stderr = run_cli(capsys, "train", "--out", str(tmp_path / "x"), "--quiet", *argv)
    assert status == 2
    assert re.search(match, stderr), stderr


def test_sample_is_deterministic_with_a_seed(tmp_path, capsys):
    assert (
        run_cli(
            capsys,
            "train",
            "--task",
            "charlm",
            "--arch",
            "vanilla",
            "--steps",
            "2",
            "--seq-len",
            "16",
            "--out",
            str(tmp_path),
            *TINY,
        )[0]
        == 0
    )
    argv = [
        "sample",
        "--checkpoint",
        str(tmp_path / "checkpoint.npz"),
        "--length",
        "40",
        "--temperature",
        "0.9",
        "--seed",
        "7",
        "--prime",
        "The ",
    ]
    status, first, _ = run_cli(capsys, *argv)
    assert status == 0
    assert first.startswith("The ") and len(first.rstrip("\n")) == 44
    assert run_cli(capsys, *argv)[1] == first
    assert run_cli(capsys, *argv[:-3], "8", "--prime", "The ")[1] != first


def test_sample_refuses_a_non_character_checkpoint(tmp_path, capsys):
    run_cli(
        capsys,
        "train",
        "--task",
        "adding",
        "--arch",
        "vanilla",
        "--steps",
        "1",
        "--seq-len",
        "6",
        "--out",
        str(tmp_path),
        *TINY,
    )
    status, _, stderr = run_cli(capsys, "sample", "--checkpoint", str(tmp_path / "checkpoint.npz"))
    assert status == 2 and "is not a character model: its metadata has no vocabulary" in stderr
    (tmp_path / "junk.npz").write_text("junk")
    status, _, stderr = run_cli(capsys, "sample", "--checkpoint", str(tmp_path / "junk.npz"))
    assert status == 2 and "is not a numrnn checkpoint" in stderr


def test_module_docstrings_describe_the_commands():
    assert train_command.__doc__.strip().startswith("Train any architecture on a task")


# ------------------------------------------------ runs are never lost or mixed up (issue 12)

import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

ADDING = ["train", "--task", "adding", "--arch", "vanilla", "--seq-len", "6", *TINY]


def one_error_line(stderr, command="train"):
    """The single stderr line of a refused command (no traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"numrnn {command}: error: "), stderr
    return lines[0]


def test_a_folder_that_holds_a_run_is_refused_without_resume_or_overwrite(tmp_path, capsys):
    assert run_cli(capsys, *ADDING, "--steps", "5", "--out", str(tmp_path))[0] == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    status, _, stderr = run_cli(capsys, *ADDING, "--steps", "2", "--out", str(tmp_path))
    assert status == 2
    assert re.search(
        r"already holds a run \(checkpoint.npz, checkpoint-best.npz, history.csv, history.json\); "
        r"continue it with "
        r"--resume, replace it with --overwrite",
        one_error_line(stderr),
    )
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing overwritten
    assert load_checkpoint(tmp_path / "checkpoint.npz").step == 5


def test_a_history_alone_also_marks_a_run(tmp_path, capsys):
    (tmp_path / "history.json").write_text("{}")
    status, _, stderr = run_cli(capsys, *ADDING, "--steps", "2", "--out", str(tmp_path))
    assert status == 2 and "already holds a run (history.json)" in one_error_line(stderr)
    assert (tmp_path / "history.json").read_text() == "{}"


def test_overwrite_replaces_the_run_and_contradicts_resume(tmp_path, capsys):
    assert run_cli(capsys, *ADDING, "--steps", "5", "--out", str(tmp_path))[0] == 0
    assert run_cli(capsys, *ADDING, "--steps", "2", "--out", str(tmp_path), "--overwrite")[0] == 0
    assert load_checkpoint(tmp_path / "checkpoint.npz").step == 2
    status, _, stderr = run_cli(
        capsys, *ADDING, "--steps", "9", "--out", str(tmp_path), "--overwrite", "--resume"
    )
    assert status == 2 and "give one of them" in one_error_line(stderr)
    assert load_checkpoint(tmp_path / "checkpoint.npz").step == 2


def test_out_that_is_a_file_is_a_one_line_error(tmp_path, capsys):
    target = tmp_path / "f"
    target.write_text("x\n")
    status, _, stderr = run_cli(capsys, *ADDING, "--steps", "2", "--out", str(target))
    assert status == 2
    assert re.search(r"--out must be a folder; '.*f' is a file$", one_error_line(stderr))
    assert target.read_text() == "x\n"


# Runs the CLI as user nobody: a one-step run as root into argv[1] imports all that training needs
# (numrnn and numpy may sit under /root), then the process gives up root for good, so that file
# permissions apply to it, and runs argv[2:].
AS_NOBODY = """
import contextlib, io, os, sys
from numrnn import cli
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    assert cli.main([*sys.argv[2:], "--steps", "1", "--out", sys.argv[1]]) == 0
os.setgroups([]); os.setgid(65534); os.setuid(65534)
sys.exit(cli.main(sys.argv[2:]))
"""


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root, to run the command as the unprivileged user nobody",
)
def test_an_unwritable_out_is_refused_before_the_first_step():
    with tempfile.TemporaryDirectory() as parent:
        os.chmod(parent, 0o755)
        locked = os.path.join(parent, "locked")
        os.mkdir(locked, 0o755)  # owned by root: nobody cannot write here
        for out in (locked, os.path.join(locked, "run")):
            started = time.perf_counter()
            warm = tempfile.mkdtemp(dir=parent)
            done = subprocess.run(
                [sys.executable, "-c", AS_NOBODY, warm, *ADDING, "--steps", "100000", "--out", out],
                capture_output=True,
                text=True,
                cwd=parent,
                timeout=60,
            )
            assert done.returncode == 2, done.stderr
            line = one_error_line(done.stderr)
            assert re.search(r"cannot write into --out '.*locked.*': Permission denied$", line), (
                line
            )
            assert time.perf_counter() - started < 30  # refused before 100000 steps
        assert os.listdir(locked) == []


def test_library_input_errors_exit_2_with_one_line(tmp_path, capsys):
    (tmp_path / "checkpoint.npz").write_text("not a checkpoint")
    status, _, stderr = run_cli(capsys, "train", "--out", str(tmp_path), "--resume", "--quiet")
    assert status == 2 and "is not a numrnn checkpoint" in one_error_line(stderr)


def test_keyboard_interrupt_exits_130_with_one_line(monkeypatch, tmp_path, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_command, "run", interrupted)
    status, _, stderr = run_cli(capsys, "train", "--out", str(tmp_path))
    assert status == 130 and stderr == "numrnn train: interrupted\n"


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(tmp_path):
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "numrnn",
        *ADDING,
        "--steps",
        "100000",
        "--checkpoint-every",
        "1",
        "--out",
        str(out),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "checkpoint.npz").exists():  # the first step is done and saved
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    match = re.fullmatch(
        r"numrnn train: interrupted at step (\d+); saved '(.*)'; resume with: "
        r"(numrnn train --out \S+ --resume)",
        last,
    )
    assert match, stderr
    step = int(match.group(1))
    assert 1 <= step < 100000 and match.group(2) == str(out / "checkpoint.npz")
    saved = load_checkpoint(out / "checkpoint.npz")
    assert saved.step == step and saved.history["step"].tolist() == list(range(1, step + 1))
    assert json.loads((out / "history.json").read_text())["steps"]["step"][-1] == step
    resume = match.group(3).split()[1:]  # continues to the run's own total, 100000 steps
    status = cli.main(resume + ["--steps", str(step + 2), "--quiet"])
    assert status == 0
    assert load_checkpoint(out / "checkpoint.npz").step == step + 2


# ------------------------------------------- resume keeps the run's settings (issue 12)


def test_resume_refuses_flags_that_contradict_the_run(tmp_path, capsys):
    """The repro: --resume --arch vanilla --task copy --lr 0.5 on another run used to exit 0."""
    out = str(tmp_path)
    assert run_cli(capsys, *ADDING, "--steps", "2", "--out", out)[0] == 0
    before = (tmp_path / "checkpoint.npz").read_bytes()
    for argv, conflict in [
        (
            ["--arch", "deep-transition"],
            r"--arch deep-transition contradicts the run being resumed, "
            r"which has --arch vanilla",
        ),
        (["--task", "copy"], r"--task copy contradicts .* which has --task adding"),
        (["--lr", "0.5"], r"--lr 0.5 contradicts .* which has --lr 0.002"),  # the adding recipe
        (["--hidden", "7"], r"--hidden 7 contradicts .* which has --hidden 6"),
        (["--optimizer", "sgd"], r"--optimizer sgd contradicts .* which has --optimizer rmsprop"),
    ]:
        status, _, stderr = run_cli(
            capsys, "train", "--out", out, "--resume", "--steps", "4", *argv
        )
        assert status == 2
        assert re.search(
            conflict + r"; a run keeps its task, model and optimisation settings "
            r"\(only --steps, --eval-every, --checkpoint-every, --divergence-factor, "
            r"--quiet may change\)",
            one_error_line(stderr),
        ), stderr
    assert (tmp_path / "checkpoint.npz").read_bytes() == before  # refused before any step


def test_resume_takes_the_same_flags_again_and_the_documented_changes(tmp_path, capsys):
    out = str(tmp_path)
    assert run_cli(capsys, *ADDING, "--steps", "2", "--out", out)[0] == 0
    # The first command again, with --resume and a larger total: nothing contradicts the run.
    status, stdout, _ = run_cli(
        capsys, *ADDING, "--steps", "4", "--eval-every", "2", "--out", out, "--resume"
    )
    assert status == 0 and "after 4 steps" in stdout
    assert load_checkpoint(tmp_path / "checkpoint.npz").step == 4
    assert json.loads((tmp_path / "history.json").read_text())["evaluations"]["step"] == [2, 4]
    # Without --steps, a resumed run continues to its own total (here already reached).
    status, _, stderr = run_cli(capsys, "train", "--out", out, "--resume", "--quiet")
    assert status == 2 and re.search(
        r"is already at step 4, so its own total leaves nothing to do; --steps is the total to "
        r"reach: give more than 4",
        one_error_line(stderr),
    )


def test_resume_below_the_checkpoints_step_is_an_error_not_a_no_op(tmp_path, capsys):
    out = str(tmp_path)
    assert run_cli(capsys, *ADDING, "--steps", "5", "--out", out)[0] == 0
    for steps in ("3", "5"):
        status, _, stderr = run_cli(capsys, "train", "--out", out, "--resume", "--steps", steps)
        assert status == 2 and re.search(
            rf"the run in '.*' is already at step 5, so --steps {steps} leaves nothing to do",
            one_error_line(stderr),
        )
    assert load_checkpoint(tmp_path / "checkpoint.npz").step == 5


def test_help_says_which_flags_a_resumed_run_may_change(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # no line breaks inside a flag's name
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "Only --steps, --eval-every, --checkpoint-every, --divergence-factor, --quiet may change"
        in text
    )
    assert "giving one of those flags with a different value is an error" in text


# ------------------------------------------------------ divergence is always reported (issue 12)


def test_lr_10_with_default_clipping_is_reported_as_diverged(tmp_path, capsys):
    """The repro: numrnn train --lr 10 ran all its steps to validation MSE 1.5e8 and exited 0."""
    small = ["--hidden", "16", "--seq-len", "20", "--eval-every", "20"]  # the default clipping
    status, stdout, stderr = run_cli(
        capsys, "train", "--lr", "10", *small, "--out", str(tmp_path), "--quiet"
    )
    assert status == 1 and stdout == ""
    match = re.search(
        r"training diverged at step (\d+): the validation mse (\S+) exceeds 10 × (the baseline "
        r"0.1667|its value before training \S+) \(last good validation mse (\S+) at step (\d+); "
        r"learning rate (\S+)\)",  # the adding recipe decays it (cosine)
        stderr,
    )
    assert match, stderr
    step, value, last_good = int(match.group(1)), float(match.group(2)), float(match.group(4))
    assert step < 2000 and value > 10 * 0.1667 and last_good <= value / 10
    assert 9.9 <= float(match.group(6)) <= 10
    history = json.loads((tmp_path / "history.json").read_text())["evaluations"]
    assert history["step"][-1] == step and history["val_metric"][-1] == pytest.approx(value, 1e-5)


def test_divergence_factor_0_turns_the_growth_check_off(tmp_path, capsys):
    status, stdout, _ = run_cli(
        capsys,
        "train",
        "--lr",
        "10",
        "--hidden",
        "16",
        "--seq-len",
        "20",
        "--steps",
        "40",
        "--eval-every",
        "20",
        "--divergence-factor",
        "0",
        "--out",
        str(tmp_path),
        "--quiet",
    )
    assert status == 0 and "NOT below the baseline" in stdout


def test_divergence_before_any_checkpoint_points_at_none(tmp_path, capsys):
    """The message used to name 'the last good checkpoint' in a folder that had none."""
    out = tmp_path / "run"
    status, _, stderr = run_cli(
        capsys,
        *ADDING,
        "--optimizer",
        "sgd",
        "--lr",
        "1e7",
        "--clip",
        "0",
        "--steps",
        "40",
        "--checkpoint-every",
        "0",
        "--out",
        str(out),
    )
    assert status == 1
    assert stderr.strip().splitlines()[-1] == (
        "No checkpoint of this run was saved before it diverged; start again with a lower --lr "
        f"(and --overwrite, to reuse '{out}')."
    )
    assert not (out / "checkpoint.npz").exists()


def test_divergence_after_overwrite_never_points_at_the_old_run(tmp_path, capsys):
    """An older run's checkpoint in the folder used to be called 'the last good checkpoint'."""
    out = str(tmp_path)
    assert run_cli(capsys, *ADDING, "--steps", "3", "--out", out)[0] == 0
    status, _, stderr = run_cli(
        capsys,
        *ADDING,
        "--optimizer",
        "sgd",
        "--lr",
        "1e7",
        "--clip",
        "0",
        "--steps",
        "40",
        "--checkpoint-every",
        "0",
        "--out",
        out,
        "--overwrite",
    )
    assert status == 1 and "No checkpoint of this run was saved" in stderr
    assert not (tmp_path / "checkpoint.npz").exists()  # the old run's, removed by --overwrite


# ------------------------------------- every file the CLI writes plugs into the library (issue 12)


def test_every_file_train_writes_loads_with_the_librarys_own_functions(tmp_path, capsys):
    """The repro: plot_history(json.load(history.json)) said "history has no key 'loss'"."""
    from numrnn import plotting
    from numrnn.training import read_history

    assert run_cli(capsys, *ADDING, "--steps", "6", "--out", str(tmp_path))[0] == 0
    data = json.loads((tmp_path / "history.json").read_text())
    ax = plotting.plot_history(data, keys=("loss", "val_metric"))
    (loss_line, val_line) = ax.get_lines()
    assert loss_line.get_xdata().tolist() == [1, 2, 3, 4, 5, 6]
    assert val_line.get_xdata().tolist() == [3, 6]
    assert val_line.get_ydata().tolist() == data["evaluations"]["val_metric"]
    from_json, from_csv = (
        read_history(tmp_path / "history.json"),
        read_history(tmp_path / "history.csv"),
    )
    saved = load_checkpoint(tmp_path / "checkpoint.npz")
    for name in from_json.FIELDS:
        np.testing.assert_array_equal(getattr(from_json, name), saved.history[name])
        np.testing.assert_array_equal(getattr(from_csv, name), saved.history[name])
    assert read_history(tmp_path).step.tolist() == [1, 2, 3, 4, 5, 6]  # a run folder
    best = load_checkpoint(tmp_path / "checkpoint-best.npz")
    best_step = int(from_json.eval_step[np.argmin(from_json.val_metric)])
    assert best.step == best_step and best.meta["arch"] == "vanilla"
    (tmp_path / "other.json").write_text('{"loss": [1]}')
    with pytest.raises(ValueError, match=r"other.json' is not a numrnn history.json: it needs "):
        read_history(tmp_path / "other.json")


def test_numrnn_plot_writes_the_curves_and_the_heat_map(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(capsys, *ADDING, "--steps", "4", "--out", str(out))[0] == 0
    status, stdout, _ = run_cli(capsys, "plot", str(out))
    assert status == 0
    curves, heat_map = out / "training-curves.png", out / "gradient-norms.png"
    assert stdout == f"wrote {curves} and {heat_map}\n"
    for path in (curves, heat_map):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    status, _, stderr = run_cli(capsys, "plot", str(tmp_path))
    assert status == 2
    assert re.search(
        r"holds no history.json: is it a numrnn train --out folder\?$",
        one_error_line(stderr, "plot"),
    )


def test_a_text_too_short_for_its_batches_gets_a_note(tmp_path, capsys):
    """Why the old char-LM recipe learnt its text by heart: 32 streams of 64 characters made one
    window of the built-in story per epoch, the same batch at every step."""
    argv = ["train", "--task", "charlm", "--arch", "vanilla", "--hidden", "4", "--steps", "1"]
    status, _, stderr = run_cli(
        capsys, *argv, "--batch", "32", "--seq-len", "64", "--quiet", "--out", str(tmp_path / "a")
    )
    assert status == 0
    assert (
        "numrnn train: note: the training text makes only 1 batch(es) of 32 streams x 64 "
        "characters per epoch, so the model sees the same text at almost every step"
    ) in stderr
    status, _, stderr = run_cli(capsys, *argv, "--quiet", "--out", str(tmp_path / "b"))
    assert status == 0 and "note:" not in stderr  # the recipe's 8 x 32: 14 windows per epoch


def test_training_diverged_is_exported_at_the_top_level():
    import numrnn
    from numrnn.training import TrainingDiverged

    assert numrnn.TrainingDiverged is TrainingDiverged and "TrainingDiverged" in numrnn.__all__


def test_resume_accepts_the_values_a_default_stood_for(tmp_path, capsys):
    """--seq-len 6, --layers 1, --depth 0 are what the first run's defaults meant: no conflict."""
    out = str(tmp_path)
    assert run_cli(capsys, *ADDING, "--steps", "2", "--out", out)[0] == 0
    again = ["--layers", "1", "--depth", "0", "--lr", "0.002", "--steps", "3"]
    assert run_cli(capsys, *ADDING, *again, "--out", out, "--resume")[0] == 0
    status, _, stderr = run_cli(
        capsys, "train", "--out", out, "--resume", "--depth", "2", "--steps", "4"
    )
    assert (
        status == 2 and "--depth 2 contradicts the run being resumed, which has --depth 0" in stderr
    )
