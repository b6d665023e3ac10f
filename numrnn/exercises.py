"""Checks for the tutorials' exercises: say whether an answer is right, never what the answer is.

An exercise cell in a tutorial holds a blank for the student and a check::

    exercise_2 = Exercise(2, expected=..., hint="count the steps between h_1 and h_50")
    answer_2 = None  # your answer
    exercise_2.check(answer_2)

and the worked solution sits in a folded "Solutions" cell at the end of the tutorial, which
calls ``exercise_2.check`` on it. :meth:`Exercise.check` prints one line (:meth:`Exercise.verdict`
returns it with a status instead); it never raises on a student's answer, so a tutorial with
blanks still runs top to bottom:

* ``None`` (not answered yet): ``exercise 2: not answered yet ...``;
* not a number (a string, a list, ``True``): ``exercise 2: answer must be a number; got 'abc'``;
* a known mistake: ``exercise 2: not right yet. Hint: <that mistake's hint>``;
* any other wrong number: ``exercise 2: not right yet. Hint: <the exercise's hint>``;
* right (within ``rtol`` of the expected value): ``exercise 2: correct``.

No message contains the expected value, and neither does the exercise's repr, so displaying
the exercise object in a notebook does not give the answer away either.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from ._checks import check_number

__all__ = ["Exercise"]

CORRECT, NOT_ANSWERED, NOT_A_NUMBER, WRONG = "correct", "not answered", "not a number", "wrong"


def _as_number(answer) -> float | None:
    """``answer`` as a float if it is a real number (NumPy scalars, 0-d arrays too), else None."""
    if isinstance(answer, np.ndarray) and answer.ndim == 0:
        answer = answer[()]
    if isinstance(answer, (bool, np.bool_)) or not isinstance(answer, numbers.Real):
        return None
    return float(answer)


def _shown(answer) -> str:
    """A short repr of a student's answer, for the wrong-type message."""
    text = repr(answer)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Exercise:
    """A numeric exercise: its expected value, a hint, and hints for known mistakes.

    Parameters
    ----------
    name : str or int
        How the tutorial numbers it ("2", "2a"); every message starts with ``exercise <name>:``.
    expected : float
        The right answer, usually what numrnn computes. Never printed.
    hint : str, default ""
        What to think about when an answer is wrong and is no known mistake.
    mistakes : tuple of (float, str), default ()
        Wrong answers students are likely to give, each with the hint it calls for
        (``(0.95 ** 50, "count the steps between h_1 and h_50")``).
    rtol : float, default 1e-9
        Relative tolerance of the comparison, for the expected value and the mistakes.
    """

    name: str | int
    expected: float = field(repr=False)
    hint: str = ""
    mistakes: tuple = field(default=(), repr=False)
    rtol: float = 1e-9

    def __post_init__(self):
        if not isinstance(self.name, (str, int)) or isinstance(self.name, bool):
            raise TypeError(f"name must be a str or an int; got {self.name!r}")
        object.__setattr__(self, "expected", check_number(self.expected, "expected"))
        check_number(self.rtol, "rtol", low=0, high=1)
        pairs = []
        for entry in self.mistakes:
            if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
                raise TypeError(f"mistakes must hold (value, hint) pairs; got {entry!r}")
            value = check_number(entry[0], "a mistake's value")
            if not isinstance(entry[1], str) or not entry[1]:
                raise TypeError(f"a mistake's hint must be a non-empty str; got {entry[1]!r}")
            if self._matches(value, self.expected):
                raise ValueError(
                    f"mistakes must differ from expected; got {entry[1]!r} for a value within "
                    f"rtol={self.rtol} of it"
                )
            pairs.append((value, entry[1]))
        object.__setattr__(self, "mistakes", tuple(pairs))

    def _matches(self, value: float, target: float) -> bool:
        return math.isclose(value, target, rel_tol=self.rtol, abs_tol=0.0)

    def verdict(self, answer) -> tuple[str, str]:
        """What :meth:`check` would print, without printing it.

        Parameters
        ----------
        answer : float, int, NumPy scalar, 0-d array or None

        Returns
        -------
        status : str
            One of ``"correct"``, ``"not answered"``, ``"not a number"``, ``"wrong"`` (the
            module's ``CORRECT``, ``NOT_ANSWERED``, ``NOT_A_NUMBER``, ``WRONG``).
        message : str
            One line, starting with ``exercise <name>:``.
        """
        start = f"exercise {self.name}:"
        if answer is None:
            return NOT_ANSWERED, (
                f"{start} not answered yet (replace None with your answer; solutions at the end)"
            )
        number = _as_number(answer)
        if number is None:
            return NOT_A_NUMBER, f"{start} answer must be a number; got {_shown(answer)}"
        if not math.isfinite(number):
            return NOT_A_NUMBER, f"{start} answer must be a finite number; got {number!r}"
        if self._matches(number, self.expected):
            return CORRECT, f"{start} correct"
        hint = next((h for value, h in self.mistakes if self._matches(number, value)), self.hint)
        return WRONG, f"{start} not right yet." + (f" Hint: {hint}" if hint else " Try again.")

    def check(self, answer) -> None:
        """Print whether ``answer`` is right: one line, never the expected value.

        Returns nothing, so a notebook cell that ends with the check shows only that line; use
        :meth:`verdict` for the status.

        Parameters
        ----------
        answer : float, int, NumPy scalar, 0-d array or None
            ``None`` means not answered yet.
        """
        print(self.verdict(answer)[1])
