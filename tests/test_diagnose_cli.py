"""``numrnn diagnose``: the printed gradient-flow summary, its figures, and one-line usage errors.

Catches: a summary that disagrees with numrnn.diagnostics, a verdict printed without its
thresholds, a figure not written (or written in only one format), a contradiction such as
``--arch vanilla --depth 2`` silently building a deep transition, a traceback on bad input.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from numrnn import cli, diagnostics, presets


def _run(capsys, *argv):
    code = cli.main(["diagnose", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_summary_matches_the_library_and_states_the_thresholds(capsys):
    code, out, _ = _run(
        capsys,
        "--arch",
        "deep-transition",
        "--depth",
        "3",
        "--T",
        "40",
        "--hidden",
        "8",
        "--batch",
        "4",
        "--seed",
        "1",
    )
    assert code == 0
    model = presets.build("deep-transition", 4, 8, 1, seed=1, transition_depth=3)
    summary = diagnostics.summarize(model, T=40, batch_size=4, seed=1)
    assert f"total {summary.parameters['total']:,}" in out
    assert f"{summary.sequential_depth.recurrent} nonlinearities from h_(t-1) to h_t" in out
    ratio = float(re.search(r"= ([0-9.e+-]+) \(log10", out).group(1))
    assert ratio == pytest.approx(summary.ratio, rel=1e-2)
    assert f"-> {summary.verdict}" in out
    assert (
        f"below {diagnostics.VANISHING_BELOW}" in out
        and f"above {diagnostics.EXPLODING_ABOVE}" in out
    )
    assert "layer 1: largest singular value" in out


def test_vanishing_and_stable_architectures_get_different_verdicts(capsys):
    _, vanishing, _ = _run(capsys, "--arch", "deep-transition", "--depth", "4", "--T", "60")
    _, residual, _ = _run(capsys, "--arch", "deep-transition-skip", "--depth", "4", "--T", "60")
    assert "-> vanishing" in vanishing
    assert "-> vanishing" not in residual


def test_out_writes_every_figure_as_png_and_svg(tmp_path, capsys):
    out = tmp_path / "figures"
    code, text, _ = _run(
        capsys,
        "--arch",
        "hierarchical",
        "--layers",
        "2",
        "--T",
        "20",
        "--hidden",
        "6",
        "--out",
        str(out),
    )
    assert code == 0
    for name in ("architecture", "grad_norms", "norm_vs_distance", "jacobian_spectra"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (out / f"{name}.svg").read_bytes()[:2000]
    diagram = (out / "architecture.svg").read_bytes()  # the stack's diagram: its kinds of edge
    assert b'id="stacking"' in diagram and b'id="recurrent"' in diagram
    assert b'id="residual"' not in diagram and b'id="shortcut"' not in diagram
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left over
    assert str(out) in text


def test_a_stacks_figures_show_every_layer_by_name_in_its_architectures_colour(
    tmp_path, capsys, monkeypatch
):
    """Catches norm-vs-distance and spectra figures of a stack that draw only the top layer under
    the bare architecture name (the lower layer, which fades 100x over T = 100 in the hierarchical
    residual deep transition, was not in them), or that name layers in a label color_for does not
    know (the spare sky blue instead of the architecture's colour)."""
    from numrnn import plotting

    legends = {}
    save = plotting.save_figure

    def record(figure, path, close=True):
        for ax in figure.axes:
            if ax.get_legend() is not None:
                legends[Path(path).stem] = {
                    text.get_text(): line.get_color()
                    for text, line in zip(
                        ax.get_legend().get_texts(), ax.get_legend().get_lines(), strict=True
                    )
                }
        save(figure, path, close=close)

    monkeypatch.setattr(plotting, "save_figure", record)
    code, _, _ = _run(
        capsys, "--arch", "hierarchical", "--T", "12", "--hidden", "5", "--out", str(tmp_path)
    )
    assert code == 0
    colour = plotting.color_for("hierarchical")
    for name in ("norm_vs_distance", "jacobian_spectra"):
        assert legends[name] == {"hierarchical (layer 1)": colour, "hierarchical (layer 2)": colour}


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--arch", "vanilla", "--depth", "2"],
            r"--depth applies to .*vanilla has transition depth 0",
        ),
        (["--arch", "deep-transition", "--layers", "2"], r"--layers applies to .*one layer"),
        (["--arch", "vanilla", "--T", "1"], r"argument --T: must be a whole number >= 2; got 1"),
        (
            ["--arch", "vanilla", "--hidden", "0"],
            r"argument --hidden: must be a whole number >= 1; got 0",
        ),
        (
            ["--arch", "vanilla", "--seed", "-1"],
            r"argument --seed: must be a whole number >= 0; got -1",
        ),
        (["--arch", "lstm"], r"argument --arch: invalid choice: 'lstm'"),
    ],
)
def test_bad_arguments_are_one_line_usage_errors(argv, message):
    result = subprocess.run(
        [sys.executable, "-m", "numrnn", "diagnose", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert re.search(message, result.stderr.strip().splitlines()[-1])
    assert result.stdout == ""


def test_out_that_is_a_file_is_refused_before_any_work(tmp_path, capsys):
    target = tmp_path / "a_file"
    target.write_text("keep me")
    code, out, err = _run(capsys, "--arch", "vanilla", "--out", str(target))
    assert code == 2
    assert "--out must be a folder" in err and out == ""
    assert target.read_text() == "keep me"


def test_figures_replace_old_ones_atomically(tmp_path, capsys):
    out = tmp_path / "f"
    out.mkdir()
    (out / "grad_norms.png").write_bytes(b"old")
    code, _, _ = _run(capsys, "--arch", "vanilla", "--T", "10", "--hidden", "4", "--out", str(out))
    assert code == 0
    assert np.frombuffer((out / "grad_norms.png").read_bytes()[:4], dtype=np.uint8).tolist() == [
        137,
        80,
        78,
        71,
    ]
