"""The house style holds without review: ruff's lint and format checks over the whole tree.

The rules live in ``pyproject.toml`` (pycodestyle, pyflakes, import order, bugbear; 100
columns). Running them as a test keeps the README's one test command the whole check, in CI
and on a laptop alike. ruff is in the ``test`` extra; without it these tests are skipped.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _ruff() -> list:
    """The command that runs ruff: the module in this interpreter, else one on PATH."""
    try:
        import ruff  # noqa: F401
    except ImportError:
        if shutil.which("ruff") is None:
            pytest.skip("ruff is not installed (pip install '.[test]')")
        return ["ruff"]
    return [sys.executable, "-m", "ruff"]


@pytest.mark.parametrize(
    "check", [["check", "--no-cache"], ["format", "--check", "--no-cache"]], ids=["lint", "format"]
)
def test_ruff_passes_on_the_whole_tree(check):
    result = subprocess.run(
        [*_ruff(), *check, "."], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
