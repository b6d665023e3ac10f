"""Run every tutorial as a user would, and check what it prints.

Each ``tutorials/*.py`` is executed once per test run, as a notebook: jupytext converts it and
nbclient runs its cells in order in one fresh kernel (fixture ``executed_tutorials`` in
``conftest.py``, machinery in ``docs/_ext/tutorial_notebooks.py``), from an empty working
folder, with ``NUMRNN_TUTORIAL_OUTPUT`` pointing at a temporary folder for its figures and
RuntimeWarnings (overflow, invalid values) turned into errors. The docs build of
``tests/test_docs.py`` renders the same executed notebooks, so nothing runs twice.

A tutorial passes when every cell runs *and* it prints the results it teaches (its stdout
streams, in order, are what ``python tutorials/X.py`` prints): a tutorial that silently computes
something else fails. A new tutorial must add its expectations to ``EXPECTED``.

That is also the script run: the cells of a percent script, run in order in one namespace, are
the script. What could still differ is checked cheaply: no cell holds IPython-only syntax
(a magic or shell escape that jupytext uncomments), and every script compiles and its imports
run under plain ``python``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import numrnn

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((REPO / "tutorials").glob("*.py"))
FLOAT = r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def _check_01(out: str, figures: Path) -> None:
    for what in ("step forward", "step backward"):
        difference = float(
            re.search(rf"{what}: +max \|by hand - reference\| = ({FLOAT})", out).group(1)
        )
        assert difference < 1e-13
    agreement = re.search(
        rf"vectorized core agrees with the step-by-step loop: max \|difference\| = ({FLOAT})", out
    )
    assert agreement and float(agreement.group(1)) < 1e-12
    assert re.search(r"my vanilla RNN: full check in float64", out)
    assert re.search(r"^PASS: max relative error", out, re.MULTILINE)
    assert (figures / "vanilla_unrolled.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _check_02(out: str, figures: Path) -> None:
    for name in numrnn.presets.ARCHITECTURES:  # every preset in the table, with a parameter count
        assert re.search(
            rf"^{re.escape(name)} +\d+ +\d+ +\w+ +\d+  \(20, 4, 5\)$", out, re.MULTILINE
        ), name
    formula, model = re.search(r"vanilla by the formula: (\d+), by the model: (\d+)", out).groups()
    assert formula == model
    assert out.count("total parameters:") == 2  # two summaries
    assert "deep transition with q = 0 equals vanilla: max |difference| = 0.0e+00" in out
    assert "hierarchical with L = 1 equals vanilla: max |difference| = 0.0e+00" in out
    assert "layers: ['vanilla', 'deep transition + skip', 'DT(S) shortcut']" in out
    for name in ("hierarchical", "deep-transition", "deep-transition-skip"):  # the diagrams
        assert (figures / f"diagram_{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def _check_03(out: str, figures: Path) -> None:
    ratios = dict(re.findall(rf"ratio ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ for (\S+) += ({FLOAT})", out))
    assert set(ratios) == {"vanilla", "deep-transition", "deep-transition-skip", "hierarchical"}
    ratios = {name: float(value) for name, value in ratios.items()}
    # The chapter's claims, as this tutorial measures them at T = 50.
    assert ratios["vanilla"] < 1e-2  # vanilla: the gradient vanishes
    assert ratios["deep-transition"] < ratios["vanilla"]  # deep transition: "challenging"
    assert ratios["deep-transition-skip"] > 1e3 * ratios["vanilla"]  # with skip: "improved"
    for name in ("gradient_norm_map.png", "gradient_flow_compare.png"):
        assert (figures / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert f"figures saved to {figures}" in out


def _check_04(out: str, figures: Path) -> None:
    assert re.search(
        r"^leaky RNN: full check in float64.*?^PASS: max relative error",
        out,
        re.MULTILINE | re.DOTALL,
    )
    assert re.search(
        r"^leaky RNN with a planted bug: full check.*?^FAIL \(\d+ of 5 arrays\)",
        out,
        re.MULTILINE | re.DOTALL,
    )
    caught = re.search(r"arrays caught: (.+)", out).group(1).split(", ")
    assert "W_hh" in caught and "h0" in caught  # the bug is on the path through time
    agreement = re.search(
        rf"α = 1 equals numrnn's vanilla layer: max \|difference\| = ({FLOAT})", out
    )
    assert agreement and float(agreement.group(1)) < 1e-12
    assert re.search(
        r"^leaky RNN, directional: directional check.*?^PASS", out, re.MULTILINE | re.DOTALL
    )
    for skip in ("none", "residual"):  # the leaky layer's two neighbours, drawn
        assert (figures / f"neighbour_{skip}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", skip


def _exercises_pass(out: str, names: list) -> None:
    """Each exercise is asked with a blank, whose check says so and lets the run go on, and its
    worked solution, run at the end, is correct; no check prints a value after "correct"."""
    for name in names:
        blank = re.search(rf"^exercise {name}: not answered yet", out, re.MULTILINE)
        solved = re.search(rf"^exercise {name}: correct$", out, re.MULTILINE)
        assert blank and solved and blank.start() < solved.start(), f"exercise {name}"
    assert "not right yet" not in out and "must be a" not in out  # no solution is wrong


def _check_05(out: str, figures: Path) -> None:
    formula, model = re.search(r"stack by the formula: (\d+), by the model: (\d+)", out).groups()
    assert formula == model
    rows = {
        name: tuple(int(v) for v in values.split())
        for name, values in re.findall(
            r"^(stack L=3, H=16|vanilla H=\d+) +(\d+ +\d+ +\d+ +\d+ +\d+ +\d+)$", out, re.MULTILINE
        )
    }
    assert len(rows) == 3, rows
    stack, same_units = rows["stack L=3, H=16"], rows["vanilla H=48"]
    budget = next(
        row for name, row in rows.items() if name not in ("stack L=3, H=16", "vanilla H=48")
    )
    assert same_units[3] > stack[3] >= budget[3]  # same units cost more; budget fits
    assert stack[4:] == (1, 3) and same_units[4:] == budget[4:] == (1, 1)  # depth h->h 1, x->y L
    baseline = float(re.search(rf"validation MSE ({FLOAT})", out).group(1))
    finals = [float(v) for v in re.findall(rf"validation MSE after 200 steps: ({FLOAT})", out)]
    assert len(finals) == 2 and all(
        final < baseline / 10 for final in finals
    )  # both learn the task
    assert float(re.search(rf"final states = ({FLOAT})", out).group(1)) < 1e-12
    periods = [float(v) for v in re.findall(rf"mean period +({FLOAT}) steps", out)]
    assert len(periods) == 4 and all(6 < period < 70 for period in periods)
    ratios = [float(v) for v in re.findall(rf"^layer \d: .*ratio ({FLOAT})$", out, re.MULTILINE)]
    assert len(ratios) == 3 and all(ratio < 1 for ratio in ratios)  # fades in every layer ...
    assert ratios[-1] < min(ratios[:-1])  # ... fastest in the top layer
    assert float(re.search(rf"layer 1 holds ({FLOAT}) times", out).group(1)) > 100
    for name in ("stack_training.png", "stack_states.png", "stack_grad_norms.png"):
        assert (figures / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    _exercises_pass(out, ["1", "2a", "2b"])


def _check_06(out: str, figures: Path) -> None:
    depths = [
        (int(q), int(recurrent), int(io))
        for q, recurrent, io in re.findall(
            r"q = (\d+): sequential depth h_\(t-1\) -> h_t = (\d+), x_t -> y_t = (\d+)", out
        )
    ]
    assert [q for q, _, _ in depths] == [0, 1, 2, 4, 8]
    assert all(recurrent == q + 1 and io == 1 for q, recurrent, io in depths)
    for what in ("h_t by hand equals the layer's", "J_t by hand equals diagnostics.step_jacobians"):
        assert (
            float(re.search(rf"{re.escape(what)}: max \|difference\| = ({FLOAT})", out).group(1))
            < 1e-12
        )
    log_dets = [float(v) for v in re.findall(rf"log\|det W\| = ({FLOAT}), term", out)]
    assert len(log_dets) == 3 and all(value < 0 for value in log_dets)  # Xavier: log|det W| < 0
    total, log_det = (
        float(v)
        for v in re.search(
            rf"sum of the level terms = ({FLOAT}), log\|det J_t\| = ({FLOAT})", out
        ).groups()
    )
    assert abs(total - log_det) < 1e-5 and log_det < 0
    spectra = [
        (int(q), float(mean_log), float(largest), int(share))
        for q, mean_log, largest, share in re.findall(
            rf"q = (\d+): mean log σ\(J_t\) = ({FLOAT}), largest σ mean ({FLOAT}), "
            r"share of σ below 1: (\d+)%",
            out,
        )
    ]
    assert [q for q, *_ in spectra] == [0, 1, 2, 4, 8]
    assert all(largest > 0.9 for _, _, largest, _ in spectra)
    for (q0, log0, _, share0), (q1, log1, _, share1) in zip(spectra, spectra[1:], strict=False):
        assert 0.3 <= (log0 - log1) / (q1 - q0) <= 1.0  # roughly the same per level
        assert share1 >= share0  # the bulk sinks
    rates = dict(
        (int(q), float(rate))
        for q, rate in re.findall(rf"q = (\d+): decay per step ({FLOAT})", out)
    )
    assert list(rates) == [0, 1, 2, 4, 8]
    assert all(
        rates[a] > rates[b] for a, b in zip(list(rates), list(rates)[1:], strict=False)
    )  # deeper decays faster
    assert rates[8] < 0.5 * rates[0]
    spans = dict(
        (int(q), float(v))
        for q, v in re.findall(rf"q = (\d+): .*log10 ‖∂h_T/∂h_1‖ = ({FLOAT})", out)
    )
    assert spans[0] - spans[8] > 20
    for name in ("deep_transition_spectra.png", "deep_transition_span_norms.png"):
        assert (figures / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    _exercises_pass(out, ["1a", "1b", "2", "3"])


def _check_07(out: str, figures: Path) -> None:
    sweep = re.findall(
        rf"^ ?(\d) +({FLOAT}) +({FLOAT}) +({FLOAT}) +({FLOAT}) +({FLOAT}) +({FLOAT})$",
        out,
        re.MULTILINE,
    )
    assert [int(row[0]) for row in sweep] == list(range(1, 9))  # q = 1..8, 3 seeds each
    without = [[float(v) for v in row[1:4]] for row in sweep]
    with_skip = [[float(v) for v in row[4:7]] for row in sweep]
    assert min(map(min, with_skip)) > 1  # above 1 at every depth and seed
    assert min(map(min, with_skip)) > 1e6 * max(map(max, without))
    assert max(without[-1]) < min(without[0])  # q = 8 far below q = 1
    verdicts = dict(re.findall(r"verdicts for (\S+): (\{.*\})", out))
    assert verdicts["deep-transition"] == "{'vanishing': 24}"
    assert "vanishing" not in verdicts["deep-transition-skip"]
    table = re.findall(
        rf"^ ?(\d) +({FLOAT}) +(\d+)% +({FLOAT}) +({FLOAT}) +({FLOAT}) +({FLOAT})$",
        out,
        re.MULTILINE,
    )
    assert [int(row[0]) for row in table] == list(range(1, 9))
    mean_logs_without = []
    for _, norm_K, share, smallest_skip, smallest_none, mean_log_skip, mean_log_none in table:
        assert 0.25 < float(norm_K) < 0.75 and int(share) > 50  # "about a half", "at most steps"
        assert float(smallest_skip) > 0.5 and float(smallest_none) < 0.01
        assert abs(float(mean_log_skip)) < 0.05
        mean_logs_without.append(float(mean_log_none))
    assert all(a > b for a, b in zip(mean_logs_without, mean_logs_without[1:], strict=False))
    runs = {
        name: [float(v) for v in values]
        for name, *values in re.findall(
            rf"^(\S+) +validation MSE: first {FLOAT}, final ({FLOAT}) "
            rf"\((\d+)% of the baseline ({FLOAT})\); "
            rf"gradient norm before clipping: first step ({FLOAT}), median ({FLOAT})$",
            out,
            re.MULTILINE,
        )
    }
    assert set(runs) == {"deep-transition", "deep-transition-skip"}
    assert runs["deep-transition"][0] > 0.8 * runs["deep-transition"][2]  # stays at the baseline
    assert (
        runs["deep-transition-skip"][0] < 0.5 * runs["deep-transition-skip"][2]
    )  # below half of it
    assert runs["deep-transition-skip"][3] > 50 * runs["deep-transition"][3]
    scaled = {
        (int(q), float(scale)): (float(norm), float(log10))
        for q, scale, norm, log10 in re.findall(
            rf"^q = (\d), branch scale ({FLOAT}): "
            rf"mean ‖K_t‖ = ({FLOAT}), mean log10 ratio = ({FLOAT})$",
            out,
            re.MULTILINE,
        )
    }
    assert set(scaled) == {(1, 1.0), (1, 0.1), (8, 1.0), (8, 0.1)}
    for q in (1, 8):  # a small branch: nearer the identity
        assert scaled[q, 1.0][0] > 2 * scaled[q, 0.1][0]
        assert abs(scaled[q, 0.1][1]) < abs(scaled[q, 1.0][1])
    for name in ("depth_sweep_ratios.png", "skip_training_curves.png"):
        assert (figures / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    _exercises_pass(out, ["1", "2"])


def _check_08(out: str, figures: Path) -> None:
    rows = {
        name: [float(v) for v in values]
        for name, *values in re.findall(
            r"^(vanilla|hierarchical|deep-transition-skip|hierarchical-deep-transition-skip)"
            rf" +(\d+) +(\d+) +(\d+) +(\d+) +({FLOAT})  (?:vanishing|stable|exploding)$",
            out,
            re.MULTILINE,
        )
    }
    verdicts = dict(
        re.findall(
            r"^(hierarchical|hierarchical-deep-transition-skip) +\d+ +\d+ +\d+ +\d+ +\S+  (\w+)$",
            out,
            re.MULTILINE,
        )
    )
    assert len(rows) == 4, rows
    combined, stack, residual = (
        rows[n]
        for n in ("hierarchical-deep-transition-skip", "hierarchical", "deep-transition-skip")
    )
    assert combined[1:4] == [3, 2, 6]  # h->h from q, x->y from L, L(q + 1)
    assert residual[1] == 3 and stack[2] == 2
    assert combined[0] > max(stack[0], residual[0])  # more parameters than either parent
    assert combined[3] == max(row[3] for row in rows.values())  # the most state nonlinearities
    assert (
        verdicts["hierarchical"] == "vanishing"
        and verdicts["hierarchical-deep-transition-skip"] != "vanishing"
    )
    assert re.search(r"^numrnn compare: .* wrote .*results\.json$", out, re.MULTILINE)
    budget, tolerance = (
        float(v) for v in re.search(r"protocol: budget (\d+) parameters \(± (\d+)%\)", out).groups()
    )
    table = {
        name: (int(H), int(total), [float(v) for v in metrics.split()])
        for name, H, total, metrics in re.findall(
            rf"^(\S+) +(\d+) +(\d+) +\d +\d +{FLOAT} +"
            rf"(?:vanishing|stable|exploding|mixed) +((?:{FLOAT} *)+)$",
            out,
            re.MULTILINE,
        )
    }
    assert set(table) == set(numrnn.presets.ARCHITECTURES), table
    widths = {name: H for name, (H, _, _) in table.items()}
    assert widths["vanilla"] == max(widths.values()) and widths[
        "hierarchical-deep-transition-skip"
    ] == min(widths.values())
    assert all(abs(total - budget) <= tolerance / 100 * budget for _, total, _ in table.values())
    baselines = [
        float(v) for v in re.findall(rf"^\S+: trivial baseline ({FLOAT})", out, re.MULTILINE)
    ]
    assert baselines and all(
        metric > 0.5 * min(baselines) for _, _, metrics in table.values() for metric in metrics
    )
    verdict_words = "supported|contradicted|inconclusive|not measured"
    claims = re.findall(rf"^claim +(\d+) \[({verdict_words})\] ", out, re.MULTILINE)
    assert claims and [int(n) for n, _ in claims] == list(range(1, len(claims) + 1))
    counts = {
        verdict: [v for _, v in claims].count(verdict)
        for verdict in ("supported", "contradicted", "inconclusive", "not measured")
    }
    assert f"verdicts: {counts}" in out
    assert counts["contradicted"] == 0 or "contradicted" in out  # 2 vs 2 seeds: tests cannot pass
    assert "report.md opens with: **QUICK RUN: these numbers decide nothing." in out
    assert "parameter counts of all 6 rows rebuilt: equal" in out
    difference = re.search(rf"recomputed per seed: max \|difference\| = ({FLOAT})", out)
    assert float(difference.group(1)) < 1e-9
    recomputed = re.findall(
        r"^claim +\d+ .*: report (supported|contradicted), recomputed (supported|contradicted): "
        r"(agrees|DISAGREES)$",
        out,
        re.MULTILINE,
    )
    assert len(recomputed) >= 4 and all(
        a == b and agrees == "agrees" for a, b, agrees in recomputed
    )
    assert (
        f"{len(recomputed)} exact-count claims recomputed from the public API; all agree with the "
        "report" in out
    )
    assert (figures / "combined_gradient_flow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (figures / "compare_quick" / "results.json").is_file() and (
        figures / "compare_quick" / "report.md"
    ).is_file()
    _exercises_pass(out, ["1", "2"])


EXPECTED = {
    "01_vanilla_rnn_by_hand.py": _check_01,
    "02_three_ways_to_go_deep.py": _check_02,
    "03_vanishing_gradients.py": _check_03,
    "04_check_your_own_layer.py": _check_04,
    "05_going_deep_in_layers.py": _check_05,
    "06_going_deep_in_time.py": _check_06,
    "07_skip_connections_make_depth_trainable.py": _check_07,
    "08_combining_patterns_and_the_report.py": _check_08,
}


def test_every_tutorial_has_expectations():
    assert TUTORIALS, "no tutorials found"
    assert sorted(path.name for path in TUTORIALS) == sorted(EXPECTED)


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=[path.stem for path in TUTORIALS])
def test_tutorial_runs_and_prints_its_results(tutorial: Path, executed_tutorials):
    run = executed_tutorials[tutorial.name]
    assert run.error is None, f"{tutorial.name} failed as a notebook:\n{run.error}"
    EXPECTED[tutorial.name](run.stdout, run.figures)
    assert os.listdir(run.workdir) == [], "a tutorial must write only into NUMRNN_TUTORIAL_OUTPUT"


# --------------------------------------------------------------------------- the exercises

WITH_EXERCISES = [path for path in TUTORIALS if path.name[:2] in ("05", "06", "07", "08")]
FOLDED = "hide-input"  # myst-nb folds the cell's code on the page; Jupyter reads source_hidden


def exercise_layout_problems(script: str) -> list:
    """Why a tutorial's exercises would show a student their answers (empty: they do not).

    A student edits a cell holding a blank, ``answer_<name> = None  # your answer``, that is
    not folded; each check is built (``Exercise(...)``, with its hints) in a folded cell; a
    "## Solutions" section at the end holds, in folded cells, a ``solution_<name>`` checked by
    ``exercise_<name>.check`` for every blank; and no cell before it gives ``answer_<name>`` a
    value.
    """
    import jupytext

    cells = jupytext.reads(script, fmt="py:percent").cells
    heading = next(
        (i for i, cell in enumerate(cells) if cell.source.startswith("## Solutions")), None
    )
    if heading is None:
        return ["no '## Solutions' section"]
    problems, blanks, solved = [], [], []
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        folded = FOLDED in cell.metadata.get("tags", []) and cell.metadata.get("jupyter", {}).get(
            "source_hidden"
        )
        names = re.findall(r"^answer_(\w+) = None  # your answer", cell.source, re.MULTILINE)
        filled = re.findall(r"^answer_(\w+)(?:, answer_\w+)* = (?!None\b)", cell.source, re.M)
        if index < heading:
            blanks += names
            if names and folded:
                problems.append(f"the blank for {names} is folded: a student cannot see it")
            if filled:
                problems.append(f"answer_{filled[0]} is given a value before the solutions")
            if "Exercise(" in cell.source and not folded:
                problems.append(f"code cell {index} builds a check with its hints, unfolded")
        else:
            solved += re.findall(r"^exercise_(\w+)\.check\(solution_\1\)", cell.source, re.M)
            if not folded:
                problems.append(f"solution cell {index} is not folded")
    if not blanks:
        problems.append("no blank 'answer_<name> = None  # your answer'")
    if sorted(solved) != sorted(blanks):
        problems.append(f"blanks {sorted(blanks)} but checked solutions {sorted(solved)}")
    return problems


@pytest.mark.parametrize("tutorial", WITH_EXERCISES, ids=[path.stem for path in WITH_EXERCISES])
def test_the_exercises_hold_blanks_and_fold_checks_and_solutions(tutorial: Path):
    assert exercise_layout_problems(tutorial.read_text(encoding="utf-8")) == [], tutorial.name


def test_the_exercise_layout_check_catches_a_printed_answer():
    """Catches the layout before issue 19: the solution in the cell the student edits."""
    fold = '# %% tags=["hide-input"] jupyter={"source_hidden": true}\n'
    good = (
        f"# %%\nx = 1\n\n{fold}exercise_1 = Exercise(1, expected=2)\n\n"
        "# %%\nanswer_1 = None  # your answer\nexercise_1.check(answer_1)\n\n"
        f"# %% [markdown]\n# ## Solutions\n\n{fold}solution_1 = 2\n"
        "exercise_1.check(solution_1)\n"
    )
    assert exercise_layout_problems(good) == []
    filled = good.replace("answer_1 = None  # your answer", "answer_1 = 2  # solution")
    assert exercise_layout_problems(filled) == [
        "answer_1 is given a value before the solutions",
        "no blank 'answer_<name> = None  # your answer'",
        "blanks [] but checked solutions ['1']",
    ]
    unfolded = good.replace(f"{fold}solution_1", "# %%\nsolution_1")
    assert exercise_layout_problems(unfolded) == ["solution cell 4 is not folded"]
    hints_shown = good.replace(f"{fold}exercise_1 =", "# %%\nexercise_1 =")
    assert exercise_layout_problems(hints_shown) == [
        "code cell 1 builds a check with its hints, unfolded"
    ]


# --------------------------------------------------------------------------- the script run

IPYTHON_ONLY = re.compile(r"\b(get_ipython|display)\(")


def notebook_script_differences(script: str) -> list:
    """Why the notebook jupytext makes of ``script`` would not run exactly the script (empty: it
    does).

    jupytext uncomments ``# %magic`` and ``# !command`` lines, which would make the notebook run
    something the script does not (a cell that is not Python); ``get_ipython()`` and ``display()``
    exist only in a kernel. Otherwise the code cells, in order, have the script's syntax tree.
    """
    import ast

    import jupytext

    cells = [
        cell.source
        for cell in jupytext.reads(script, fmt="py:percent").cells
        if cell.cell_type == "code"
    ]
    if not cells:
        return ["no code cell"]
    problems = []
    for index, source in enumerate(cells):
        try:
            ast.parse(source)
        except SyntaxError as error:
            problems.append(f"code cell {index} is not Python (an IPython magic?): {error.text!r}")
        if IPYTHON_ONLY.search(source):
            problems.append(f"code cell {index} calls a kernel-only function")
    if not problems and ast.dump(ast.parse("\n\n".join(cells))) != ast.dump(ast.parse(script)):
        problems.append("the code cells are not the script's code")
    return problems


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=[path.stem for path in TUTORIALS])
def test_the_notebook_runs_exactly_the_script(tutorial: Path):
    assert notebook_script_differences(tutorial.read_text(encoding="utf-8")) == [], tutorial.name


def test_the_script_check_catches_code_only_a_kernel_runs():
    assert notebook_script_differences("# %%\nimport numpy as np\n\n# %%\nx = 1\n") == []
    magic = notebook_script_differences("# %%\nimport numpy as np\n# %matplotlib inline\nx = 1\n")
    assert magic == ["code cell 0 is not Python (an IPython magic?): '%matplotlib inline\\n'"]
    assert notebook_script_differences("# %%\ndisplay(1)\n") == [
        "code cell 0 calls a kernel-only function"
    ]


def test_every_script_compiles_and_its_imports_run_in_plain_python(tmp_path: Path):
    """``python tutorials/X.py`` gets past its imports, without IPython, in one interpreter."""
    import ast

    imports = []
    for tutorial in TUTORIALS:
        tree = ast.parse(
            tutorial.read_text(encoding="utf-8"), str(tutorial)
        )  # a SyntaxError fails here
        imports += [
            ast.unparse(node)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
        ]
    assert imports
    code = "\n".join(sorted(set(imports))) + "\nimport sys\nassert 'IPython' not in sys.modules\n"
    env = {
        key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")
    }
    env.update(MPLBACKEND="Agg", PYTHONPATH=str(REPO), MPLCONFIGDIR=str(tmp_path / "mplconfig"))
    result = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- the runner itself

PLANTED = """\
# %% [markdown]
# # A planted tutorial

# %%
import os
from pathlib import Path

import numpy as np

import numrnn.plotting

print("hello from cell 1")

# %%
ax = numrnn.plotting.plot_gradient_norms(np.ones((2, 5)), title="planted")
ax.figure.savefig(Path(os.environ["NUMRNN_TUTORIAL_OUTPUT"]) / "planted.png", dpi=40)
import matplotlib.pyplot as plt

plt.close("all")
print("working folder:", os.getcwd())

# %%
np.exp(np.array(1000.0))
print("never printed")
"""


def test_runner_records_stdout_figures_and_the_first_error(tmp_path: Path):
    """A saved figure becomes its cell's image; an overflow stops the run, as ``-W error`` would."""
    tutorial_notebooks = _load_runner()
    script = tmp_path / "planted.py"
    script.write_text(PLANTED, encoding="utf-8")
    run = tutorial_notebooks.execute_tutorial(script, tmp_path / "runs")
    assert run.stdout.startswith("hello from cell 1\nworking folder: ")
    assert Path(run.stdout.split("working folder: ")[1].strip()) == run.workdir.resolve()
    assert "never printed" not in run.stdout
    assert run.error is not None and "overflow" in run.error  # a RuntimeWarning made an error
    images = [
        index
        for index, cell in enumerate(run.notebook.cells)
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert images == [2]  # the cell that saved the figure
    assert (run.figures / "planted.png").is_file() and os.listdir(run.workdir) == []
    written = tutorial_notebooks._read_notebook(tmp_path / "runs" / "planted.ipynb")
    assert written.metadata["numrnn_tutorial"]["error"] == run.error


def _load_runner():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "tutorial_notebooks", REPO / "docs" / "_ext" / "tutorial_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
