"""``numrnn gradcheck``: exit codes, the printed table, and a planted bug turning it red."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import numrnn
from numrnn import cli, network

REPO = Path(__file__).resolve().parents[1]


def test_gradcheck_of_one_architecture_passes_and_prints_its_table(capsys):
    """Catches a command that exits 0 without checking, or prints no per-parameter table."""
    assert cli.main(["gradcheck", "--arch", "vanilla"]) == 0
    out = capsys.readouterr().out
    for name in (
        "layer1.W_xh",
        "layer1.W_hh",
        "layer1.b_h",
        "output.W_hy",
        "output.b_y",
        "x",
        "h0[0]",
    ):
        assert name in out
    assert "PASS" in out and "FAIL" not in out
    assert "1 passed, 0 failed" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--arch", "deep-transition-shortcut", "--loss", "bce", "--method", "directional"],
        [
            "--arch",
            "hierarchical",
            "--layers",
            "3",
            "--input-depth",
            "1",
            "--output-depth",
            "1",
            "--loss",
            "mse",
        ],
        [
            "--arch",
            "deep-transition-skip",
            "--depth",
            "3",
            "--layer-skip",
            "--steps",
            "3",
            "--batch",
            "1",
        ],
    ],
)
def test_gradcheck_flags_reach_the_model(capsys, argv):
    """Catches flags that are parsed but not passed on (the table would show other parameters)."""
    assert cli.main(["gradcheck", *argv]) == 0
    out = capsys.readouterr().out
    if "--layers" in argv:
        assert "layer3.W_hh" in out and "output.W_y1" in out and "layer1.W_x1" in out
    if "--depth" in argv:
        assert "layer1.W_h3" in out and "(3, 1, 3)" in out  # x of shape (T, B, D) = (3, 1, 3)
    if "--method" in argv:
        assert "directional check" in out and "layer1.S_hh" in out


def test_gradcheck_fails_with_exit_code_1_on_a_planted_bug(capsys, monkeypatch):
    """A wrong dW_hh must make the command print FAIL and exit 1 (CI relies on the exit code)."""
    original = network.layer_backward

    def planted(dh, cache, **kwargs):
        result = original(dh, cache, **kwargs)
        result.grads["W_hh"] = result.grads["W_hh"].T.copy()
        return result

    monkeypatch.setattr(network, "layer_backward", planted)
    assert cli.main(["gradcheck", "--arch", "vanilla"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out
    assert "0 passed, 1 failed: vanilla" in out


def test_gradcheck_reports_settings_an_architecture_cannot_take(capsys):
    """DT(S) with --depth 0 is a contradiction: one error line and exit 2, not a failed check."""
    assert cli.main(["gradcheck", "--arch", "deep-transition-shortcut", "--depth", "0"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (
        "numrnn gradcheck: error: --depth 0 contradicts --arch "
        "deep-transition-shortcut, which has q >= 1"
    )


def test_an_unknown_architecture_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["gradcheck", "--arch", "no-such-rnn"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err and "no-such-rnn" in err


def test_no_command_prints_help_and_returns_2(capsys):
    assert cli.main([]) == 2
    assert "gradcheck" in capsys.readouterr().out


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert numrnn.__version__ in capsys.readouterr().out


def test_python_dash_m_numrnn_gradcheck_runs_in_a_fresh_interpreter():
    """The real entry point (``python -m numrnn``), as a user runs it: exit status 0 and a PASS."""
    result = subprocess.run(
        [sys.executable, "-m", "numrnn", "gradcheck", "--arch", "deep-transition-skip"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout and "1 passed, 0 failed" in result.stdout


@pytest.mark.parametrize(
    "flag, value, rule",
    [
        ("--tolerance", "0", "must be a finite number > 0; got 0"),
        ("--tolerance", "inf", "must be a finite number > 0; got inf"),
        ("--steps", "two", "must be a whole number >= 1; got 'two'"),
        ("--steps", "0", "must be a whole number >= 1; got 0"),
        ("--batch", "0", "must be a whole number >= 1; got 0"),
        ("--hidden", "0", "must be a whole number >= 1; got 0"),
        ("--layers", "0", "must be a whole number >= 1; got 0"),
        ("--seed", "-1", "must be a whole number >= 0; got -1"),
        ("--depth", "-1", "must be a whole number >= 0; got -1"),
    ],
)
def test_bad_sizes_are_usage_errors_not_failed_checks(capsys, flag, value, rule):
    """Before the fix these gave tracebacks, or '0 passed, 6 failed' as if gradients were wrong."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["gradcheck", flag, value])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert "passed" not in captured.out
    assert f"argument {flag}: {rule}" in captured.err


def test_a_depth_that_changes_the_architecture_is_refused(capsys):
    """--arch vanilla --depth 2 used to check a deep transition and label it 'vanilla'."""
    assert cli.main(["gradcheck", "--arch", "vanilla", "--depth", "2"]) == 2
    captured = capsys.readouterr()
    assert "vanilla" not in captured.out
    assert "--depth 2 contradicts --arch vanilla, which has q = 0" in captured.err
