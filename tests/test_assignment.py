"""Assignments: the declaration, the student version, reading submissions, grading correctness.

The sandbox's hostile cases are in ``test_assignment_sandbox.py``, the command line and the
Gradescope bundle in ``test_assignment_cli.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from numrnn.assignment import (
    Grader,
    Reference,
    kit,
    list_assignments,
    load,
    parse_grading,
    read_source,
    read_submission,
    validate_gradescope,
    write_student_version,
)
from numrnn.assignment.declaration import find_grading_literal
from numrnn.assignment.results import gradebook_csv, gradescope_results
from numrnn.assignment.source import parse_percent
from numrnn.assignment.student import notebook_json
from numrnn.assignment.submission import SubmissionError, find_submissions

SHIPPED = ("vanilla_rnn", "deep_transition", "residual_flow")
SEED = 1234


def variant(name: str, old: str, new: str) -> str:
    """A shipped source's text with one planted change (which must apply exactly once)."""
    text = load(name).text
    assert text.count(old) == 1, f"the planted change must match once in {name}: {old!r}"
    return text.replace(old, new)


@pytest.fixture(scope="module")
def graders():
    """One grader per shipped assignment, fixed seed (the reference loads once per module)."""
    made = {name: Grader(name, seed=SEED, limits={"time": 20}) for name in SHIPPED}
    yield made
    for grader in made.values():
        grader.close()


def scores(result) -> dict:
    return {item.name: item.score for item in result.items}


# ---------------------------------------------------------------- the catalog and the sources


def test_list_names_three_assignments_in_course_order_with_their_sources():
    listed = list_assignments()
    assert [name for name, _ in listed] == list(SHIPPED)
    for name, path in listed:
        assert path.name == "source.py" and path.is_file()
        assert (path.parent / "README.md").is_file(), f"{name} needs an instructor README"


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_assignment_states_goals_and_points_that_match_its_declaration(name):
    assignment = load(name)
    assert "Learning goals" in assignment.text
    points_line = next(line for line in assignment.text.splitlines() if "**Points (" in line)
    assert f"**Points ({assignment.grading.max_score:g})" in points_line
    for item_name, item in assignment.grading.items.items():
        assert item_name in assignment.text.split("**Points (")[1][:600], item_name
        assert item.points > 0


def test_shipped_references_compute_numrnns_own_layers():
    """Assignments 2 and 3 are numrnn's deep-transition and residual layers, to 1e-12."""
    from numrnn import layers

    rng = np.random.default_rng(0)
    T, B, D, H, M = 3, 2, 3, 4, 5
    params = {
        "W_xh": rng.standard_normal((D, H)),
        "W_h1": rng.standard_normal((H, M)),
        "b_h1": rng.standard_normal(M),
        "W_hh": rng.standard_normal((M, H)),
        "b_h": rng.standard_normal(H),
    }
    x, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    dh = rng.standard_normal((T, B, H))
    for name, forward, ours, backward, back_ours in (
        (
            "deep_transition",
            layers.deep_transition_forward,
            "dt_forward",
            layers.deep_transition_backward,
            "dt_backward",
        ),
        (
            "residual_flow",
            layers.residual_forward,
            "res_forward",
            layers.residual_backward,
            "res_backward",
        ),
    ):
        namespace = Reference(load(name)).namespace
        h_numrnn, cache_numrnn = forward(x, h0, params)
        h_ours, cache_ours = namespace[ours](x, h0, **params)
        np.testing.assert_allclose(h_ours, h_numrnn, rtol=1e-12, atol=1e-14)
        dx, dh0, grads = backward(dh, cache_numrnn)
        got = namespace[back_ours](dh, cache_ours)
        np.testing.assert_allclose(got[0], dx, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(got[1], dh0, rtol=1e-10, atol=1e-13)
        for grad, key in zip(got[2:], ("W_xh", "W_h1", "b_h1", "W_hh", "b_h"), strict=True):
            np.testing.assert_allclose(grad, grads[key], rtol=1e-10, atol=1e-13)


def test_residual_flow_answers_show_the_vanishing_and_the_identity_jacobian():
    namespace = Reference(load("residual_flow")).namespace
    assert namespace["ratio_plain"] < 1e-4 < 1.0 < namespace["ratio_residual"]
    assert namespace["jacobian_norm_at_zero"] == pytest.approx(1.0, abs=1e-12)


def test_parse_percent_splits_cells_and_tags():
    text = '# %% [markdown]\n# Hello\n\n# %% tags=["instructor"]\nx = 1\n\n# %%\ny = 2\n'
    _, cells = parse_percent(text)
    assert [cell.kind for cell in cells] == ["markdown", "code", "code"]
    assert cells[1].tags == ("instructor",) and cells[2].text == "y = 2"


# ---------------------------------------------------------------- the declaration's errors


def _grading(**changes):
    raw = {
        "dims": {"B": (2, 3), "D": 2},
        "items": {
            "f": {"check": "forward", "points": 1, "args": {"x": ("B", "D")}},
            "f_back": {"check": "backward", "points": 2, "forward": "f", "grads": {"dx": "x"}},
        },
    }
    raw.update(changes)
    return raw


def test_parse_grading_fills_defaults():
    grading = parse_grading(_grading())
    assert grading.max_score == 3.0
    assert grading.public_dims == {"B": 2, "D": 2}
    assert grading.items["f"].limits.time == 10.0
    assert grading.items["f"].limits.memory_mb == 1024


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"extra": 1}, r"unknown key 'extra'"),
        ({"dims": {"B": (3, 2)}}, r"\['dims'\]\['B'\] must be an int or a \(low, high\) pair"),
        ({"trials": 0}, r"\['trials'\] must be a positive int; got 0"),
        ({"limits": {"time": -1}}, r"\['limits'\]\['time'\] must be a positive number; got -1"),
        ({"limits": {"cpu": 1}}, r"\['limits'\] has unknown key 'cpu'"),
        (
            {"items": {"f": {"check": "magic", "points": 1}}},
            r"\['check'\] must be one of forward, backward, value; got 'magic'",
        ),
        (
            {"items": {"f": {"check": "forward", "points": 1, "args": {"x": ("B", "Q")}}}},
            r"uses the size 'Q', which GRADING\['dims'\] does not define",
        ),
        (
            {"items": {"g": {"check": "backward", "points": 1, "forward": "f", "grads": {}}}},
            r"\['forward'\] must name a forward item declared above; got 'f'",
        ),
        (
            {"items": {"v": {"check": "value", "points": "two"}}},
            r"\['points'\] must be a number; got 'two'",
        ),
    ],
)
def test_parse_grading_names_the_field_the_rule_and_the_value(changes, message):
    with pytest.raises(ValueError, match=message):
        parse_grading(_grading(**changes))


def test_grading_must_be_a_literal_assigned_once():
    with pytest.raises(ValueError, match=r"must assign GRADING = \{\.\.\.\} once at top level"):
        find_grading_literal("x = 1\n")
    with pytest.raises(ValueError, match=r"must be a plain literal"):
        find_grading_literal("GRADING = dict(a=1)\n")
    with pytest.raises(ValueError, match=r"is not valid Python"):
        find_grading_literal("GRADING = {\n")


def test_unclosed_solution_region_is_refused(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(
        variant(
            "vanilla_rnn",
            '    cache = {"x": x, "h_prev": h_prev, "W_xh": W_xh, "W_hh": W_hh, "h": h}\n'
            "    ### END SOLUTION\n",
            "    cache = {}\n",
        )
    )
    with pytest.raises(ValueError, match=r"### BEGIN SOLUTION is never closed by ### END SOLUTION"):
        read_source(path)


# ---------------------------------------------------------------- the student version


@pytest.mark.parametrize("name", SHIPPED)
def test_student_version_holds_no_solution_line_and_keeps_signatures(name, tmp_path):
    assignment = load(name)
    py_path, nb_path = write_student_version(assignment, tmp_path)
    student_py = py_path.read_text()
    notebook = json.loads(nb_path.read_text())
    notebook_text = "".join("".join(cell["source"]) for cell in notebook["cells"])
    solution = [line.strip() for line in assignment.solution_lines() if line.strip()]
    assert len(solution) > 10
    for line in solution:
        if not any(char.isalnum() for char in line):
            continue  # a lone ")" or "#" is in any file
        assert line not in student_py, f"solution line leaked into {py_path.name}: {line!r}"
        assert line not in notebook_text, f"solution line leaked into {nb_path.name}: {line!r}"
    for item_name, item in assignment.grading.items.items():
        if item.check != "value":
            assert f"def {item_name}(" in student_py
    assert "### BEGIN SOLUTION" not in student_py
    assert student_py.count("raise NotImplementedError") >= len(
        [i for i in assignment.grading.items.values() if i.check != "value"]
    )
    # indentation kept: every raise inside a function is indented by four spaces
    assert "\n    raise NotImplementedError" in student_py
    assert notebook["nbformat"] == 4 and notebook["cells"][0]["cell_type"] == "markdown"
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.reads(nb_path.read_text(), as_version=4))


def test_student_version_public_tests_fail_cleanly_then_pass_with_the_solution(tmp_path, capsys):
    assignment = load("vanilla_rnn")
    py_path, _ = write_student_version(assignment, tmp_path)
    namespace = {"__name__": "student"}
    _, cells = parse_percent(py_path.read_text())
    for cell in cells:
        if cell.kind == "code":
            exec(compile(cell.text, str(py_path), "exec"), namespace)
    printed = capsys.readouterr().out
    assert "FAIL  rnn_step_forward: not implemented yet" in printed
    assert "0 of 4 public checks passed" in printed
    # the same public cases pass with the reference's functions
    reference = Reference(assignment).namespace
    passed = kit.run_public_tests(namespace["PUBLIC_CASES"], reference)
    assert passed == 4
    assert "4 of 4 public checks passed" in capsys.readouterr().out


def test_public_tests_name_the_wrong_gradient():
    assignment = load("vanilla_rnn")
    reference = Reference(assignment)
    from numrnn.assignment.student import public_cases

    cases = public_cases(assignment, reference)
    namespace = dict(reference.namespace)
    correct = namespace["rnn_step_backward"]

    def buggy(dh, cache):
        dx, dh_prev, dW_xh, dW_hh, db_h = correct(dh, cache)
        return dx, dh_prev, dW_xh, 2 * dW_hh, db_h

    namespace["rnn_step_backward"] = buggy
    ok, message = __import__("numrnn.assignment.kit", fromlist=["_public_case"])._public_case(
        "rnn_step_backward", cases["rnn_step_backward"], namespace
    )
    assert not ok and message.startswith("dW_hh wrong (max relative error")
    assert "disagree with differences of your rnn_step_forward" in message


def test_make_refuses_an_outdir_that_is_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ValueError, match=r"outdir must be a directory; .* is a file"):
        write_student_version(load("vanilla_rnn"), target)


# ---------------------------------------------------------------- submissions


def test_notebook_and_percent_submission_read_the_same_code_cells(tmp_path):
    assignment = load("vanilla_rnn")
    _, cells = parse_percent(assignment.text)
    notebook = notebook_json(cells)
    # as nbgrader's autograded notebooks look: nbgrader metadata, outputs, execution counts
    for cell in notebook["cells"]:
        cell["metadata"]["nbgrader"] = {"grade": False, "solution": True, "locked": False}
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]
            cell["execution_count"] = 3
    notebook["cells"].insert(1, {"cell_type": "code", "source": "%matplotlib inline\n"})
    nb_path = tmp_path / "s.ipynb"
    nb_path.write_text(json.dumps(notebook))
    py_path = tmp_path / "s.py"
    py_path.write_text(assignment.text)
    from_notebook = read_submission(nb_path)
    assert from_notebook[0].startswith("pass  # IPython line removed by the grader")
    assert from_notebook[1:] == read_submission(py_path)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("a.txt", "x", r"must be a \.py or an \.ipynb file; got 'a\.txt'"),
        ("a.ipynb", "{not json", r"a\.ipynb is not a valid notebook: not JSON"),
        ("a.ipynb", '{"cells": 3}', r"a\.ipynb is not a valid notebook: no list of cells"),
        ("alice.py", "", r"^alice\.py is empty$"),
        ("alice.py", " \n\n", r"^alice\.py is empty$"),
        ("alice.ipynb", '{"cells": []}', r"^alice\.ipynb has no code$"),
        pytest.param(
            "deep.ipynb",
            "[" * 100_000 + "]" * 100_000,
            r"deep\.ipynb .*: its JSON nests too deeply",
            id="deeply-nested-notebook",
        ),
    ],
)
def test_unreadable_submissions_are_named(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(SubmissionError, match=message):
        read_submission(path)


def test_a_utf8_bom_is_read_as_python_reads_it(tmp_path):
    """``python file.py`` runs a file that starts with a BOM; reading it as UTF-8 kept U+FEFF
    in the first cell (a SyntaxError, 0 / 10), and json.loads refuses a notebook with one."""
    text = "# %%\nimport numpy as np\n\n# %%\nanswer = 42\n"
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbf" + text.encode())
    (tmp_path / "plain.py").write_text(text)
    assert read_submission(tmp_path / "bom.py") == read_submission(tmp_path / "plain.py")
    notebook = notebook_json(parse_percent(text)[1])
    (tmp_path / "bom.ipynb").write_bytes(b"\xef\xbb\xbf" + json.dumps(notebook).encode())
    assert read_submission(tmp_path / "bom.ipynb") == read_submission(tmp_path / "plain.py")


def test_a_symlinked_submission_is_an_error_and_its_target_is_never_read(tmp_path):
    """A link to the teacher's source (or another student's file) is refused by O_NOFOLLOW:
    following it would grade, or echo in the feedback, a file the student cannot read."""
    secret = tmp_path / "secret.py"
    secret.write_text("SOLUTION = 1\n")
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "mallory.py").symlink_to(secret)
    (folder / "mallory_dir").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(SubmissionError, match=r"^mallory\.py is a symbolic link; submit the file"):
        read_submission(folder / "mallory.py")
    assert [name for name, _ in find_submissions([folder])] == ["mallory", "mallory_dir"]
    with Grader("vanilla_rnn", seed=1) as grader:
        for name, path in find_submissions([folder]):
            result = grader.grade_file(name, path)
            assert result.score == 0.0
            assert f"{path.name} is a symbolic link" in result.items[0].output
            assert "SOLUTION" not in json.dumps(gradescope_results(result))


def test_files_that_look_like_submissions_but_are_not_taken_are_listed(tmp_path):
    """bob.py.txt, hw1.PY, x.ipynb.bak, .hidden.py and a second script in a student's folder
    were skipped without a word ("graded 1 submission")."""
    from numrnn.assignment.submission import scan_submissions

    for name in ("alice.py", "bob.py.txt", "hw1.PY", "x.ipynb.bak", ".hidden.py", "notes.txt"):
        (tmp_path / name).write_text("x = 1")
    (tmp_path / "carol").mkdir()
    (tmp_path / "carol" / "a.ipynb").write_text("{}")
    (tmp_path / "carol" / "b.py").write_text("x = 1")
    found = scan_submissions([tmp_path])
    assert [name for name, _ in found.submissions] == ["alice", "carol"]
    assert found.skipped == [
        ".hidden.py (a hidden file)",
        "bob.py.txt (not .py or .ipynb)",
        "carol/b.py (one file per folder: graded a.ipynb)",
        "hw1.PY (not .py or .ipynb)",
        "x.ipynb.bak (not .py or .ipynb)",
    ]


def test_names_are_unique_even_against_a_file_called_like_a_duplicate(tmp_path):
    """dave.py, dave.ipynb and dave-2.py made two rows called dave-2 (one JSON overwrote the
    other, and dave got the other file's score); names differing in case only clash on
    macOS's file system, and a name that is not UTF-8 cannot be written to the CSV."""
    from numrnn.assignment.submission import unique_names

    for name in ("dave.py", "dave-2.py", "Dave.py"):
        (tmp_path / name).write_text("x = 1")
    (tmp_path / "dave.ipynb").write_text("{}")
    found = find_submissions([tmp_path])
    names = [name for name, _ in found]
    assert len({name.casefold() for name in names}) == 4
    assert dict((path.name, name) for name, path in found)["dave-2.py"] == "dave-2"
    weird = unique_names([("\udcff=1\n\x1b[31m", tmp_path), ("a/b", tmp_path)])
    assert [name for name, _ in weird] == ["\ufffd=1\\n", "a_b"]


def test_find_submissions_takes_files_and_nbgrader_style_folders(tmp_path):
    (tmp_path / "alice.py").write_text("x = 1")
    (tmp_path / "bob" / "vanilla_rnn").mkdir(parents=True)
    (tmp_path / "bob" / "vanilla_rnn" / "vanilla_rnn.ipynb").write_text("{}")
    (tmp_path / "notes.txt").write_text("ignored")
    found = find_submissions([tmp_path])
    assert [(name, path.name) for name, path in found] == [
        ("alice", "alice.py"),
        ("bob", "vanilla_rnn.ipynb"),
    ]
    with pytest.raises(FileNotFoundError, match=r"submission '.*nowhere' does not exist"):
        find_submissions([tmp_path / "nowhere"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no \.py or \.ipynb submissions found"):
        find_submissions([tmp_path / "empty"])


# ---------------------------------------------------------------- grading correctness


def grade_text(grader, tmp_path, text, name="submission", suffix=".py"):
    path = tmp_path / f"{name}{suffix}"
    path.write_text(text)
    return grader.grade_file(name, path)


@pytest.mark.parametrize("name", SHIPPED)
def test_reference_gets_full_marks_and_student_version_zero(name, graders, tmp_path):
    grader = graders[name]
    (tmp_path / "reference.py").write_text(load(name).text)
    py_path, _ = write_student_version(load(name), tmp_path / "student")
    full, empty = grader.grade_many(
        [("reference", tmp_path / "reference.py"), ("student", py_path)], workers=2, progress=False
    )
    assert full.score == full.max_score == grader.assignment.grading.max_score
    assert empty.score == 0.0
    assert all(
        "not implemented yet" in item.output or "is not defined" in item.output
        for item in empty.items
    ), [item.output for item in empty.items]


PLANTED = {
    # assignment: (the change, the function that must lose points, the points it keeps)
    "vanilla_rnn": (
        ("        dW_hh += dW_hh_t\n", "        dW_hh = dW_hh_t\n"),
        "rnn_backward",
        3 * 4 / 5,
    ),
    "deep_transition": (
        ("        db_h1 += db_h1_t\n", "        db_h1 -= db_h1_t\n"),
        "dt_backward",
        3 * 6 / 7,
    ),
    "residual_flow": (
        (
            "ratio_plain = np.linalg.norm(plain_backward_dh0(flow_dh, _cache)) / "
            "np.linalg.norm(flow_dh[-1])",
            "ratio_plain = np.linalg.norm(plain_backward_dh0(flow_dh, _cache))",
        ),
        "ratio_plain",
        0.0,
    ),
}


@pytest.mark.parametrize("name", SHIPPED)
def test_one_planted_bug_loses_exactly_that_functions_points(name, graders, tmp_path):
    (old, new), function, kept = PLANTED[name]
    result = grade_text(graders[name], tmp_path, variant(name, old, new))
    expected = {item: spec.points for item, spec in graders[name].items.items()}
    expected[function] = kept
    assert scores(result) == pytest.approx(expected)


def test_feedback_names_each_wrong_gradient_and_where_the_bug_is(graders, tmp_path):
    text = variant(
        "vanilla_rnn",
        "    db_h = delta.sum(axis=0)  # db_h = Σ_rows δ_t\n",
        "    db_h = delta.sum(axis=0) + 1.0  # wrong\n",
    ).replace(
        '    dW_hh = cache["h_prev"].T @ delta', '    dW_hh = 1.3 * cache["h_prev"].T @ delta'
    )
    result = grade_text(graders["vanilla_rnn"], tmp_path, text)
    step = next(item for item in result.items if item.name == "rnn_step_backward")
    assert step.score == pytest.approx(3 * 3 / 5)
    assert step.output.startswith("`rnn_step_backward`: dW_hh wrong (max relative error 1.3e-01)")
    assert "db_h wrong (max relative error" in step.output
    assert "dx, dh_prev and dW_xh correct" in step.output
    assert "dW_hh and db_h also disagree with finite differences of your own rnn_step_forward" in (
        step.output
    )
    assert set(step.failures) == {"dW_hh wrong", "db_h wrong"}


def test_a_wrong_forward_with_a_consistent_backward_is_blamed_on_the_forward(graders, tmp_path):
    """Backward consistent with a wrong forward: the feedback says to fix the forward first
    (a checker that trusted the finite differences alone would pass the backward's blame on)."""
    text = variant(
        "vanilla_rnn",
        "    a = x @ W_xh + h_prev @ W_hh + b_h  # (B, H) pre-activation a_t\n",
        "    a = x @ W_xh + h_prev @ W_hh + 2 * b_h  # (B, H) pre-activation a_t\n",
    ).replace("    db_h = delta.sum(axis=0)", "    db_h = 2 * delta.sum(axis=0)")
    result = grade_text(graders["vanilla_rnn"], tmp_path, text)
    forward = next(item for item in result.items if item.name == "rnn_step_forward")
    assert forward.score == 0 and "output wrong (max relative error" in forward.output
    step = next(item for item in result.items if item.name == "rnn_step_backward")
    assert "Your rnn_step_forward does not match the reference on these inputs (max" in (
        step.output
    )
    assert "the likely cause is rnn_step_forward, so fix it first" in step.output


def test_a_wrong_forward_with_a_right_backward_blames_the_forward_not_the_backward(
    graders, tmp_path
):
    """The issue's case: the reference's backward after a wrong forward disagrees with finite
    differences of that forward, so a checker that trusts them says "the bug is in
    rnn_step_backward". Comparing the forward's own output with the reference's tells."""
    text = variant(
        "vanilla_rnn",
        "    a = x @ W_xh + h_prev @ W_hh + b_h  # (B, H) pre-activation a_t\n",
        "    a = x @ W_xh + h_prev @ W_hh + 2 * b_h  # (B, H) pre-activation a_t\n",
    )
    result = grade_text(graders["vanilla_rnn"], tmp_path, text)
    step = next(item for item in result.items if item.name == "rnn_step_backward")
    assert "the likely cause is rnn_step_forward, so fix it first" in step.output
    assert "the bug is in rnn_step_backward" not in step.output
    sequence = next(item for item in result.items if item.name == "rnn_backward")
    assert "the likely cause is rnn_forward, so fix it first" in sequence.output


def test_notebook_and_py_of_the_same_code_score_the_same(graders, tmp_path):
    (old, new), _, _ = PLANTED["vanilla_rnn"]
    text = variant("vanilla_rnn", old, new)
    _, cells = parse_percent(text)
    (tmp_path / "py").mkdir()
    (tmp_path / "nb").mkdir()
    (tmp_path / "py" / "same.py").write_text(text)
    (tmp_path / "nb" / "same.ipynb").write_text(json.dumps(notebook_json(cells)))
    grader = graders["vanilla_rnn"]  # one name: the same hidden trials
    from_py = grader.grade_file("same", tmp_path / "py" / "same.py")
    from_nb = grader.grade_file("same", tmp_path / "nb" / "same.ipynb")
    assert from_py.score == from_nb.score == pytest.approx(10 - 3 / 5)
    assert [item.output for item in from_py.items] == [item.output for item in from_nb.items]


def test_numeric_answer_outside_the_tolerance_is_wrong_inside_is_right(tmp_path):
    reference = Reference(load("residual_flow")).namespace["ratio_residual"]
    base = load("residual_flow").text
    (tmp_path / "near.py").write_text(base + f"\n# %%\nratio_residual = {reference * 1.005!r}\n")
    (tmp_path / "far.py").write_text(base + f"\n# %%\nratio_residual = {reference * 1.05!r}\n")
    with Grader("residual_flow", seed=SEED, only="ratio_residual", limits={"time": 20}) as grader:
        near, far = grader.grade_many(
            [("near", tmp_path / "near.py"), ("far", tmp_path / "far.py")], progress=False
        )
    assert [item.name for item in near.items] == ["ratio_residual"]
    assert near.score == 1.0
    assert far.score == 0.0
    assert "is not the answer (tolerance: rtol 0.01)" in far.items[0].output


def test_grading_only_some_items_refuses_unknown_names():
    with pytest.raises(ValueError, match=r"only must name graded items of vanilla_rnn .*'nope'"):
        Grader("vanilla_rnn", only=["nope"])


def test_hidden_trials_depend_on_the_seed_and_the_submission_only():
    """A regrade (same seed, same name) draws the same trials; another student draws others
    (one draw for the whole batch would miss a bug for every student at once)."""
    reference = Reference(load("vanilla_rnn"))
    first = reference.hidden_trials(7, "alice")["rnn_backward"]
    again = Reference(load("vanilla_rnn")).hidden_trials(7, "alice")["rnn_backward"]
    for one, other in zip(first, again, strict=True):
        np.testing.assert_array_equal(one.inputs["x"], other.inputs["x"])
        np.testing.assert_array_equal(one.dout, other.dout)
    for changed in (reference.hidden_trials(8, "alice"), reference.hidden_trials(7, "bob")):
        x = changed["rnn_backward"][0].inputs["x"]
        assert x.shape != first[0].inputs["x"].shape or not np.array_equal(x, first[0].inputs["x"])


@pytest.mark.parametrize("name", SHIPPED)
def test_every_item_has_a_hidden_trial_whose_sizes_all_differ_from_the_public_ones(name):
    """Over 50 seeds (and names): the first trial of every function differs from the public
    case in each of B, T, D, H, M and has D != H, M != H, so a size written as a number fails
    on every seed. Drawing each size from its whole range (today's grader) keeps B = 2 on a
    quarter of the seeds."""
    reference = Reference(load(name))
    grading = reference.assignment.grading
    public = grading.public_dims
    for seed in range(50):
        trials = reference.hidden_trials(seed, f"student{seed}")
        for item, spec in grading.items.items():
            if spec.check == "value":
                continue
            dims = trials[item][0].dims
            assert all(dims[size] != public[size] for size in dims), (seed, item, dims)
            assert len(set(dims.values())) == len(dims), (seed, item, dims)
            shapes = [value.shape for value in trials[item][0].inputs.values()]
            assert all(low <= dims[s] <= high for s, (low, high) in grading.dims.items())
            assert shapes, item


def test_distinct_sizes_keeps_a_size_that_cannot_differ_and_falls_back_when_it_must():
    """A one-value range keeps its value; ranges too narrow for all-distinct sizes still give
    sizes that differ from the public ones (a search that demanded both would loop)."""
    from numrnn.assignment.reference import distinct_sizes

    rng = np.random.default_rng(0)
    assert distinct_sizes({"B": (2, 2), "D": (2, 3)}, {"B": 2, "D": 2}, rng) == {"B": 2, "D": 3}
    drawn = distinct_sizes({"B": (2, 3), "D": (2, 3)}, {"B": 2, "D": 2}, rng)
    assert drawn == {"B": 3, "D": 3}


@pytest.mark.parametrize(
    "old, new, function",
    [
        (
            "    h = np.tanh(a)\n",
            "    h = np.tanh(a)[:2]  # B = 2 hard-coded\n",
            "rnn_step_forward",
        ),
        (
            "    for t in range(T):\n        h[t], step_cache",
            "    for t in range(3):\n        h[t], step_cache",
            "rnn_forward",
        ),
    ],
    ids=["B=2 hard-coded", "T=3 hard-coded"],
)
def test_a_hard_coded_size_fails_on_every_seed(old, new, function, tmp_path):
    """B = 2 and T = 3 written into the code: zero for that function on three seeds and
    three names (today's grader misses B = 2 on 25 % of seeds and T = 3 on 11 %)."""
    (tmp_path / "hard.py").write_text(variant("vanilla_rnn", old, new))
    for seed in (0, 1, 2):
        with Grader("vanilla_rnn", seed=seed, only=function, limits={"time": 20}) as grader:
            for student in ("ann", "ben", "cy"):
                result = grader.grade_file(student, tmp_path / "hard.py")
                assert result.score == 0.0, (seed, student, result.items[0].output)


# ---------------------------------------------------------------- results


def test_results_json_has_gradescopes_layout_and_the_gradebook_its_columns(graders, tmp_path):
    (old, new), _, _ = PLANTED["vanilla_rnn"]
    result = grade_text(graders["vanilla_rnn"], tmp_path, variant("vanilla_rnn", old, new), "ann")
    results = gradescope_results(result)
    validate_gradescope(results)
    assert results["score"] == pytest.approx(9.4)
    assert [test["name"] for test in results["tests"]] == list(graders["vanilla_rnn"].items)
    assert all(
        set(test) >= {"name", "score", "max_score", "output", "visibility", "status"}
        for test in results["tests"]
    )
    assert results["tests"][3]["status"] == "failed" and results["tests"][0]["status"] == "passed"
    csv_text = gradebook_csv([result], list(graders["vanilla_rnn"].items))
    header, row = csv_text.splitlines()
    assert header.startswith("submission,score,max_score,rnn_step_forward,")
    assert row.startswith("ann,9.4,10,2,3,2,2.4,rnn_backward: dW_hh wrong,")


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"tests": [{"score": "1"}]}, r"\['tests'\]\[0\]\['score'\] must be a number; got '1'"),
        ({"score": 1, "visibility": "secret"}, r"\['visibility'\] must be one of"),
        ({"score": 1, "grade": 2}, r"unknown top-level keys \['grade'\]"),
        ({"tests": [{"name": "a"}]}, r"needs a top-level score, or a score on every test"),
        ({"score": 1, "tests": [{"score": 1, "status": "ok"}]}, r"must be 'passed' or 'failed'"),
    ],
)
def test_validate_gradescope_rejects_what_gradescope_would(bad, message):
    with pytest.raises(ValueError, match=message):
        validate_gradescope(bad)


MINI_SOURCE = '''# %% [markdown]
# # A one-cell assignment

# %%
import numpy as np

GRADING = {
    "dims": {"B": (2, 3), "D": 3},
    "limits": {"time": 20},
    "items": {
        "double": {
            "check": "forward",
            "points": 1,
            "returns_cache": False,
            "args": {"x": ("B", "D")},
            "limits": {"time": 1.5},
        },
        "answer": {"check": "value", "points": 2, "atol": 0.05, "visibility": "after_due_date"},
    },
}


# %%
def double(x):
    """Twice x."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION


# %% tags=["instructor"]
assert np.allclose(double(np.ones(2)), 2)

# %%
### BEGIN SOLUTION
answer = 42.0
### END SOLUTION
'''


def test_a_teachers_own_source_with_a_per_item_limit_and_visibility(tmp_path):
    source = tmp_path / "mini.py"
    source.write_text(MINI_SOURCE)
    assignment = read_source(source)
    assert assignment.name == "mini"
    assert assignment.grading.items["double"].limits.time == 1.5
    assert assignment.grading.items["answer"].limits.time == 20
    py_path, _ = write_student_version(assignment, tmp_path / "out")
    assert "assert np.allclose" not in py_path.read_text()  # the instructor cell is left out
    submitted = MINI_SOURCE.replace("assert np.allclose(double(np.ones(2)), 2)", "pass")
    slow = submitted.replace("    return 2 * x\n", "    while True:\n        pass\n")
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "slow.py").write_text(slow.replace("answer = 42.0", "answer = 42.04"))
    (tmp_path / "subs" / "off.py").write_text(submitted.replace("answer = 42.0", "answer = 42.1"))
    with Grader(assignment, seed=1) as grader:
        slow_result, off_result = grader.grade_many(
            [(p.stem, p) for p in sorted((tmp_path / "subs").iterdir(), reverse=True)],
            progress=False,
        )
    assert scores(slow_result) == {"double": 0.0, "answer": 2.0}
    assert "time limit of 1.5 s" in slow_result.items[0].output
    assert scores(off_result) == {"double": 1.0, "answer": 0.0}
    assert "tolerance: rtol 1e-06, atol 0.05" in off_result.items[1].output
    results = gradescope_results(off_result)
    validate_gradescope(results)
    assert results["tests"][1]["visibility"] == "after_due_date"


# ---------------------------------------------------------------- side effects


def wrapped(name: str, function: str, body: str) -> str:
    """A shipped source with ``function`` wrapped, as seen by the grader only: calls from the
    submission's own cells (a sequence calling its step, the answers' cells) stay pure."""
    return load(name).text + (
        "\n\n# %%\nimport copy as _copy\nimport functools as _functools\nimport sys as _sys\n\n"
        f"_pure = {function}\n\n\n@_functools.wraps(_pure)\ndef {function}(*args):\n"
        "    if _sys._getframe(1).f_code.co_filename.startswith('<cell'):\n"
        "        return _pure(*args)\n"
        f"{body}"
    )


def writes_into(index: int) -> str:
    """A forward that works on a copy of argument ``index``, then adds 0.5 to the caller's."""
    return (
        "    args = list(args)\n"
        f"    given = args[{index}]\n"
        f"    args[{index}] = given.copy()\n"
        "    result = _pure(*args)\n"
        "    given += 0.5  # the planted side effect\n"
        "    return result\n"
    )


def squares_cache(path: str) -> str:
    """A backward that works on a deep copy of the cache, then squares ``cache<path>``."""
    return (
        "    dout, cache = args\n"
        "    grads = _pure(dout, _copy.deepcopy(cache))\n"
        f"    target = cache{path}\n"
        "    target **= 2  # the planted side effect\n"
        "    return grads\n"
    )


SCALES_DOUT = (
    "    dout, cache = args\n"
    "    grads = _pure(dout.copy(), cache)\n"
    "    dout *= 2.0  # the planted side effect\n"
    "    return grads\n"
)

MUTATING = {
    # assignment: [(function, its wrapper's body, what the message names)]
    "vanilla_rnn": [
        ("rnn_step_forward", writes_into(1), "h_prev"),
        ("rnn_step_backward", squares_cache('["h"]'), "cache['h']"),
        ("rnn_forward", writes_into(1), "h0"),
        ("rnn_backward", SCALES_DOUT, "dh"),
    ],
    "deep_transition": [
        ("dt_step_forward", writes_into(0), "x"),
        ("dt_step_backward", squares_cache('["g"]'), "cache['g']"),
        ("dt_forward", writes_into(1), "h0"),
        ("dt_backward", squares_cache('["steps"][1]["h"]'), "cache['steps'][1]['h']"),
    ],
    "residual_flow": [
        ("res_forward", writes_into(5), "W_hh"),
        ("res_backward", squares_cache('["h"]'), "cache['h']"),
    ],
}


@pytest.mark.parametrize("name", SHIPPED)
def test_a_side_effect_costs_exactly_that_functions_points_with_what_it_mutated(
    name, graders, tmp_path
):
    """Each graded function, mutating one of its inputs (an argument, dout, an array in the
    cache) but computing the right values: a grader that checks values only gives full marks.
    The reference (the correct variant) keeps full marks."""
    grader = graders[name]
    cases = MUTATING[name]
    assert {function for function, _, _ in cases} == {
        item for item, spec in grader.items.items() if spec.check != "value"
    }, "every graded function needs a mutating variant"
    for function, body, _ in cases:
        (tmp_path / f"{function}.py").write_text(wrapped(name, function, body))
    (tmp_path / "correct.py").write_text(load(name).text)
    results = grader.grade_many(
        [(path.stem, path) for path in sorted(tmp_path.glob("*.py"))], workers=2, progress=False
    )
    by_name = {result.name: result for result in results}
    full = {item: spec.points for item, spec in grader.items.items()}
    assert scores(by_name["correct"]) == full
    for function, _, target in cases:
        result = by_name[function]
        assert scores(result) == {**full, function: 0.0}, function
        output = next(item.output for item in result.items if item.name == function)
        assert output.startswith(f"`{function}` modified its argument {target} in place (max "), (
            output
        )
        assert "work on copies. 0 / " in output
        assert next(item.failures for item in result.items if item.name == function) == [
            "side effect"
        ]


def test_the_side_effect_message_says_how_much_changed(graders, tmp_path):
    """h_prev += 0.5: the message's max change is that 0.5 (not a flag, not another array)."""
    result = grade_text(
        graders["vanilla_rnn"], tmp_path, wrapped("vanilla_rnn", "rnn_step_forward", writes_into(1))
    )
    assert result.items[0].output == (
        "`rnn_step_forward` modified its argument h_prev in place (max change 0.5); "
        "work on copies. 0 / 2 points."
    )


def test_a_function_that_keeps_state_between_calls_fails_the_second_call(graders, tmp_path):
    """A forward that adds a counter it keeps: right on the first call, wrong on the second,
    which a grader calling each function once never sees."""
    body = (
        "    _calls.append(1)\n"
        "    h, cache = _pure(*args)\n"
        "    return h + (len(_calls) % 2 == 0), cache\n"
    )
    text = wrapped("vanilla_rnn", "rnn_step_forward", body).replace(
        "_pure = rnn_step_forward", "_pure = rnn_step_forward\n_calls = []"
    )
    result = grade_text(graders["vanilla_rnn"], tmp_path, text)
    assert result.items[0].score == 0
    assert result.items[0].output.startswith(
        "`rnn_step_forward` returned a different output when called a second time on equal inputs"
    )
    assert result.items[0].failures == ["not repeatable"]


# ---------------------------------------------------------------- the precision contract

FLOAT32_CELL = """
# %%
def _to(value, dtype):
    if isinstance(value, np.ndarray):
        return value.astype(dtype)
    if isinstance(value, dict):
        return {key: _to(inner, dtype) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to(inner, dtype) for inner in value)
    return value


def _in_float32(function, is_forward):
    def computed_in_float32(*args):
        result = function(*_to(args, np.float32))
        if is_forward:
            return result[0].astype(np.float64), result[1]
        return _to(result, np.float64)

    return computed_in_float32


rnn_step_forward = _in_float32(rnn_step_forward, True)
rnn_step_backward = _in_float32(rnn_step_backward, False)
rnn_forward = _in_float32(rnn_forward, True)
rnn_backward = _in_float32(rnn_backward, False)
"""


def test_float32_arithmetic_fails_the_public_checks_and_the_grader_alike(graders, tmp_path):
    """The issue's case: float32 arithmetic cast back to float64. The grader took points for
    it while the public checks passed 3 of the same 4 functions (two verdicts near one
    threshold); now one function (kit.compare) decides both, and both name the precision."""
    from numrnn.assignment.student import public_cases

    assignment = load("vanilla_rnn")
    text = assignment.text + FLOAT32_CELL
    namespace = {"__name__": "submission"}
    exec(compile(text, "float32", "exec"), namespace)
    cases = public_cases(assignment, Reference(assignment))
    result = grade_text(graders["vanilla_rnn"], tmp_path, text)
    assert result.score == 0.0, [item.output for item in result.items]
    for item in result.items:
        ok, message = kit._public_case(item.name, cases[item.name], namespace)
        assert not ok and "float32 rounding (precision); compute in float64" in message, message
        assert "float32 rounding (precision); compute in float64" in item.output, item.output


def test_the_handout_states_the_precision_contract_the_grader_enforces(tmp_path):
    """The student version's prose and each shipped source state the tolerance the
    declaration gives the grader (a changed default would make them disagree)."""
    import re

    for name in SHIPPED:
        assignment = load(name)
        tolerances = {
            item.rtol for item in assignment.grading.items.values() if item.check != "value"
        }
        assert tolerances == {kit.DEFAULT_RTOL}
        stated = re.search(r"must be at most ([0-9.e-]+)\.", assignment.text)
        assert stated and float(stated.group(1)) == kit.DEFAULT_RTOL, name
        py_path, _ = write_student_version(assignment, tmp_path / name)
        student = py_path.read_text()
        assert "Work in float64" in student
        assert kit.precision_contract(kit.DEFAULT_RTOL).split(": ")[0] in student.replace(
            "\n# ", " "
        )


def test_float64_rounding_differences_pass_and_float32_sized_ones_do_not():
    """kit.compare on the arrays' scale: an entry near zero by cancellation, off by 1e-17,
    passes (an entrywise relative error would call it 2e-9 and fail it); 1e-8 of each entry is
    float32's size and fails with the precision message; 1e-2 is a wrong formula."""
    expected = np.array([1.0, -2.0, 3e-9])
    assert kit.compare("dW", expected + [0, 0, 1e-17], expected, 1e-9) == (
        pytest.approx(2e-18, abs=1e-17),
        None,
    )
    error, message = kit.compare("dW", expected * (1 + 1e-8), expected, 1e-9)
    assert "dW is off by a relative error of 5.0e-09: the size of float32 rounding" in message
    error, message = kit.compare("dW", expected * 1.02, expected, 1e-9)
    assert message == "dW wrong (max relative error 9.9e-03)"
    error, message = kit.compare("dW", expected.astype(np.float32), expected, 1e-9)
    assert error == np.inf and message == "dW has dtype float32, expected float64"


# ---------------------------------------------------------------- the top-level code's own limit


def test_slow_top_level_code_has_its_own_limit_and_message(tmp_path):
    """Top-level code slower than its limit: every function says so, naming the file (today
    each function said it hit the function's own time limit)."""
    (tmp_path / "slow.py").write_text(load("vanilla_rnn").text + "\n# %%\nwhile True:\n    pass\n")
    limits = {"top_level_time": 0.5, "time": 20}
    with Grader("vanilla_rnn", seed=1, limits=limits) as grader:
        result = grader.grade_file("slow", tmp_path / "slow.py")
    assert result.score == 0.0
    for item in result.items:
        assert item.output == (
            f"`{item.name}`: not graded: the top-level code of slow.py did not finish within the "
            f"time limit of 0.5 s; move slow work into functions. 0 / {item.max_score:g} points."
        )
        assert item.failures == ["top-level time limit"]
    assert result.seconds < 5  # one run, reused: the same code would stop the same way


def test_top_level_code_does_not_use_up_the_functions_time(tmp_path):
    """The issue's case scaled down: top-level code of 1.2 s, a function limit of 1 s. The
    function's clock starts when the top-level code is done, so full marks (today: zero,
    with the function time limit's message)."""
    text = load("vanilla_rnn").text + "\n# %%\nimport time\n\ntime.sleep(1.2)\n"
    (tmp_path / "patient.py").write_text(text)
    limits = {"time": 1, "top_level_time": 10}
    with Grader("vanilla_rnn", seed=1, limits=limits, only="rnn_step_forward") as grader:
        result = grader.grade_file("patient", tmp_path / "patient.py")
    assert result.score == 2.0, result.items[0].output


def test_a_slow_function_after_quick_top_level_code_gets_the_function_limit(tmp_path):
    """The harness's own clock for the function: an endless loop in it is stopped at the
    function's limit, with the function's message."""
    text = variant("vanilla_rnn", "    h = np.tanh(a)\n", "    while True:\n        pass\n")
    (tmp_path / "loop.py").write_text(text)
    with Grader("vanilla_rnn", seed=1, limits={"time": 0.5}, only="rnn_step_forward") as grader:
        result = grader.grade_file("loop", tmp_path / "loop.py")
    assert result.items[0].output.startswith(
        "`rnn_step_forward`: stopped after the time limit of 0.5 s (an infinite loop, or too slow)"
    )
    assert result.items[0].seconds < 3


def test_the_top_level_message_names_the_file_and_the_limit():
    """The harness's parent stopped the top-level code (exit code EXIT_TOP_LEVEL_TIME, the
    one top-level clock: the sandbox's own was merged away): one message, naming the file
    and the limit."""
    from numrnn.assignment.checks import run_failure
    from numrnn.assignment.harness import EXIT_TOP_LEVEL_TIME
    from numrnn.assignment.sandbox import RunResult

    item = load("vanilla_rnn").grading.items["rnn_forward"]
    by_harness = RunResult("no-status", EXIT_TOP_LEVEL_TIME, None, 10.0, None, {}, {}, "")
    assert run_failure(item, by_harness, "alice.py") == (
        "not graded: the top-level code of alice.py did not finish within the time limit "
        "of 10 s; move slow work into functions",
        "top-level time limit",
    )


def test_a_fifo_named_like_a_submission_is_refused_without_blocking(tmp_path):
    """A FIFO would block a plain read forever (the batch would hang): opened non-blocking,
    it is named for what it is."""
    import os

    os.mkfifo(tmp_path / "pipe.py")
    with pytest.raises(SubmissionError, match=r"^pipe\.py is not a regular file$"):
        read_submission(tmp_path / "pipe.py")


def test_printable_shows_control_characters_and_drops_escapes():
    """What a student can put in a name or a message: ANSI CSI and OSC sequences (colours,
    clear screen, a terminal title), newlines, a bidi override, undecodable file-name bytes."""
    from numrnn.assignment.text import csv_cell, printable

    assert printable("a\x1b[2J\x1b[31mb\x1b]0;title\x07c") == "abc"
    assert printable("x\ny\rz\tw") == "x\\ny\\rz\\tw"
    assert printable("evil\u202eexe.py") == "evil\\u202eexe.py"
    assert printable("\udcff.py") == "\ufffd.py"
    assert [csv_cell(text) for text in ("=1+2", "+1", "-1", "@x", "\tx", "ok")] == [
        "'=1+2",
        "'+1",
        "'-1",
        "'@x",
        "\\tx",
        "ok",
    ]
