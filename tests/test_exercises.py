"""The tutorials' exercise checks: right, wrong, blank and wrong-type answers get the right line.

Every message is checked word for word where it matters, and no message may contain the
expected value: a check that prints its answer defeats the exercise.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numrnn.exercises import CORRECT, NOT_A_NUMBER, NOT_ANSWERED, WRONG, Exercise

EXPECTED = 0.95**49  # tutorial 7's exercise 2: the vanishing boundary over T = 50 steps


def _exercise() -> Exercise:
    return Exercise(
        2,
        expected=EXPECTED,
        hint="the ratio is the per-step rate compounded over the steps",
        mistakes=[(0.95**50, "count the steps between h_1 and h_50"), (0.95, "that is one step")],
    )


@pytest.mark.parametrize(
    "answer, status, message",
    [
        (0.95**49, CORRECT, "exercise 2: correct"),
        (np.float32(0.95) ** 49, WRONG, None),  # float32 rounding is outside rtol = 1e-9
        (np.array(0.95**49), CORRECT, "exercise 2: correct"),
        (0.95**50, WRONG, "exercise 2: not right yet. Hint: count the steps between h_1 and h_50"),
        (0.95, WRONG, "exercise 2: not right yet. Hint: that is one step"),
        (
            0.5,
            WRONG,
            "exercise 2: not right yet. Hint: the ratio is the per-step rate compounded over "
            "the steps",
        ),
        ("abc", NOT_A_NUMBER, "exercise 2: answer must be a number; got 'abc'"),
        (True, NOT_A_NUMBER, "exercise 2: answer must be a number; got True"),
        ([0.08], NOT_A_NUMBER, "exercise 2: answer must be a number; got [0.08]"),
        (float("nan"), NOT_A_NUMBER, "exercise 2: answer must be a finite number; got nan"),
    ],
)
def test_each_kind_of_answer_gets_its_line(answer, status, message, capsys):
    """Catches a check that accepts a near miss (0.95**50), crashes on a string (NumPy's
    UFuncTypeError from np.isclose), takes True for 1, or gives no hint for a known mistake."""
    exercise = _exercise()
    found, line = exercise.verdict(answer)
    assert found == status
    if message is not None:
        assert line == message
    exercise.check(answer)
    assert capsys.readouterr().out == line + "\n"


def test_a_blank_says_not_answered_and_where_the_solution_is(capsys):
    """Catches a check that raises on None and so stops a tutorial run at its first blank."""
    assert _exercise().check(None) is None
    out = capsys.readouterr().out
    assert (
        out
        == "exercise 2: not answered yet (replace None with your answer; solutions at the end)\n"
    )
    assert _exercise().verdict(None)[0] == NOT_ANSWERED


def test_no_message_and_no_repr_gives_the_answer_away():
    """Catches a check that prints ``correct (0.0809...)`` or an exercise whose repr, shown by a
    notebook cell, holds the expected value."""
    exercise = _exercise()
    digits = f"{EXPECTED:.6f}"[2:]  # 080995...
    for answer in (None, "abc", EXPECTED, 0.95**50, 0.95, 0.5, float("inf")):
        assert digits not in exercise.verdict(answer)[1]
    assert digits not in repr(exercise) and "expected" not in repr(exercise)


def test_a_teachers_mistakes_are_refused_with_a_clear_message():
    with pytest.raises(TypeError, match="expected must be a real number; got 'x' of type str"):
        Exercise(1, expected="x")
    with pytest.raises(ValueError, match=r"rtol must be a finite number in \(0, 1\); got 0.0"):
        Exercise(1, expected=1.0, rtol=0)
    with pytest.raises(TypeError, match=r"mistakes must hold \(value, hint\) pairs; got 3"):
        Exercise(1, expected=1.0, mistakes=[3])
    with pytest.raises(TypeError, match="a mistake's hint must be a non-empty str; got ''"):
        Exercise(1, expected=1.0, mistakes=[(2.0, "")])
    with pytest.raises(ValueError, match="mistakes must differ from expected; got 'same'"):
        Exercise(1, expected=1.0, mistakes=[(1.0, "same")])
    with pytest.raises(TypeError, match="name must be a str or an int; got None"):
        Exercise(None, expected=1.0)


@settings(max_examples=100, deadline=None)
@given(
    expected=st.floats(-1e6, 1e6, allow_nan=False).filter(lambda v: abs(v) > 1e-3),
    answer=st.one_of(st.none(), st.floats(allow_nan=True), st.text(max_size=5), st.integers()),
)
def test_the_verdict_is_right_and_never_holds_the_expected_value(expected, answer):
    """For any expected value and any answer: correct exactly when within rtol, and the line
    never contains the expected value's digits (unless the student typed them)."""
    status, line = Exercise("x", expected=expected).verdict(answer)
    number = answer if isinstance(answer, (int, float)) and not isinstance(answer, bool) else None
    right = number is not None and np.isfinite(number) and np.isclose(number, expected, 1e-9, 0)
    assert (status == CORRECT) == bool(right)
    assert repr(expected) not in line.replace(repr(answer), "")
