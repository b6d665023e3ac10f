"""Argument types shared by the ``numrnn`` commands (argparse ``type=``).

Each rejects a bad value while the command line is parsed, before any work, with one line that
states the rule and the value received; argparse prefixes the flag and exits 2::

    numrnn gradcheck: error: argument --steps: must be a whole number >= 1; got 0
"""

from __future__ import annotations

import argparse
import math

__all__ = ["WholeNumber", "positive_number"]


class WholeNumber:
    """An integer >= ``minimum``: sizes, lengths and counts (>= 1), depths and seeds (>= 0).

    Parameters
    ----------
    minimum : int
        The smallest value accepted.
    """

    def __init__(self, minimum: int):
        self.minimum = minimum
        self.__name__ = f"int >= {minimum}"  # what argparse names the type

    def __call__(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a whole number >= {self.minimum}; got {text!r}"
            ) from None
        if value < self.minimum:
            raise argparse.ArgumentTypeError(
                f"must be a whole number >= {self.minimum}; got {value}"
            )
        return value

    def __repr__(self) -> str:
        return f"WholeNumber(minimum={self.minimum})"


def positive_number(text: str) -> float:
    """A finite number > 0: tolerances, time limits."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0; got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0; got {text}")
    return value
