"""Text a student controls, made safe to print, to put in a CSV cell or a JSON file.

A submission's file name, its exception messages and its output reach the
teacher's terminal, the gradebook and Gradescope. :func:`printable` shows them as
one line of visible characters (so a student cannot print a fake
``== alice: 0 / 10`` line or colour the terminal), :func:`csv_cell` keeps a
spreadsheet from reading a cell as a formula (OWASP's CSV injection), and both
turn a file name that is not UTF-8 into valid Unicode.
"""

from __future__ import annotations

import os
import re
import unicodedata

# ESC [ ... final byte (CSI), ESC ] ... BEL or ESC \\ (OSC), and any other ESC + one character
ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|.?)", re.S)
SHOWN_AS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def unicode_name(text: str) -> str:
    """``text`` with undecodable bytes of a file name (``surrogateescape``) as U+FFFD."""
    return os.fsencode(text).decode("utf-8", errors="replace") if _has_surrogates(text) else text


def _has_surrogates(text: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in text)


def printable(text) -> str:
    """One line of visible text: escapes removed, newlines, CRs and tabs shown as ``\\n``,
    ``\\r`` and ``\\t``, other control and format characters (bidi overrides) as ``\\uXXXX``.

    Parameters
    ----------
    text : object
        Turned into a str first.

    Returns
    -------
    str
    """
    text = ANSI_ESCAPE.sub("", unicode_name(str(text)))
    return "".join(
        SHOWN_AS.get(char)
        or (f"\\u{ord(char):04x}" if unicodedata.category(char) in ("Cc", "Cf") else char)
        for char in text
    )


def csv_cell(text) -> str:
    """:func:`printable` text that a spreadsheet will not run: a cell that starts with
    ``= + - @``, a tab or a CR gets a leading ``'``."""
    text = printable(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
