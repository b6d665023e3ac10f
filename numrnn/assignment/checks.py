"""Turn what a sandboxed run returned into points and feedback a student can act on.

Every value that came back is checked before it is compared (an ndarray,
float64, the reference's shape, finite; :func:`kit.array_problem`), then
compared with the reference on each hidden trial. A backward item earns its
points gradient by gradient; each gradient is also compared with central
differences of the student's own forward, which says whether a wrong gradient
comes from the backward or from the forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import kit
from .declaration import Item
from .sandbox import CANNOT_START, RunResult

SIGNAL_MESSAGES = {
    "SIGSEGV": "crashed with a segmentation fault (SIGSEGV)",
    "SIGBUS": "crashed with a bus error (SIGBUS)",
    "SIGABRT": "aborted (SIGABRT)",
    "SIGFPE": "crashed with a floating-point exception (SIGFPE)",
    "SIGILL": "crashed with an illegal instruction (SIGILL)",
    "SIGKILL": "was killed (SIGKILL): it killed its own process, or the machine ran out of memory",
}


@dataclass
class ItemResult:
    """One graded item of one submission.

    Attributes
    ----------
    name : str
    check : str
    score, max_score : float
    output : str
        The feedback shown to the student.
    failures : list of str
        Short labels for the batch summary (``"dW_hh wrong"``, ``"time limit"``).
    visibility : str
        Gradescope's visibility of the test.
    seconds : float
        Wall time of the sandboxed run.
    """

    name: str
    check: str
    score: float
    max_score: float
    output: str
    failures: list = field(default_factory=list)
    visibility: str = "visible"
    seconds: float = 0.0


def _points(value: float) -> str:
    return f"{value:.4g}"


def _zero(item: Item, message: str, failure: str, seconds: float = 0.0) -> ItemResult:
    return ItemResult(
        item.name,
        item.check,
        0.0,
        item.points,
        f"`{item.name}`: {message}. 0 / {_points(item.points)} points.",
        [failure],
        item.visibility,
        seconds,
    )


def cell_errors(status: dict) -> list:
    """The errors the submission's cells raised while loading, as the harness reported them
    (anything else in that field, which the student's process could have written, is ignored)."""
    notes = status.get("cells") if isinstance(status, dict) else None
    return [note for note in notes if isinstance(note, str)] if isinstance(notes, list) else []


def run_failure(item: Item, run: RunResult):
    """``(message, failure label)`` when the run itself failed, else None."""
    limits = item.limits
    if run.outcome == "top-level-timeout":
        return (
            "stopped before the function was called: the file's top-level code (everything "
            f"outside functions) ran past its own time limit of {run.top_level_timeout:g} s",
            "top-level time limit",
        )
    if run.outcome == "out-of-memory":
        return (
            "ran out of memory: its processes together used more than the run's "
            f"{limits.memory_mb} MiB, and one was killed",
            "out of memory",
        )
    if run.outcome == "timeout":
        return (
            f"stopped after the time limit of {limits.time:g} s (an infinite loop, or too slow)",
            "time limit",
        )
    if run.outcome == "signal":
        if run.signal_name == "SIGXFSZ":
            return (
                f"printed or wrote more than the output limit of {limits.output_kb} KiB",
                "output limit",
            )
        if run.signal_name == "SIGXCPU":
            return "used more CPU time than the time limit allows", "time limit"
        message = SIGNAL_MESSAGES.get(run.signal_name, f"died of {run.signal_name}")
        return message, f"crashed ({run.signal_name})"
    if run.outcome == "no-status" and run.returncode in CANNOT_START:
        return (
            "could not be run: the sandbox could not start a process for it (exit code "
            f"{run.returncode}; tell the course staff, this is not your code's fault)",
            "sandbox could not start",
        )
    if run.outcome == "no-status":
        return (
            f"ended the process (exit code {run.returncode}) before any result came back "
            "(os._exit, or a crash of the interpreter)",
            "ended the process",
        )
    status = run.status
    if status.get("missing"):
        cells = cell_errors(status)[:3]
        hint = f" (errors while running your code: {'; '.join(cells)})" if cells else ""
        return f"`{str(status['missing'])[:80]}` is not defined{hint}", "missing"
    return None


def _trial_error(run: RunResult, k: int):
    trials = run.status.get("trials")
    if not isinstance(trials, list) or k >= len(trials) or not isinstance(trials[k], dict):
        return "no result came back"
    error = trials[k].get("error")
    return str(error)[:600] if error else None


def _returned(run: RunResult, key: str, label: str, shape):
    """``(array, problem)`` for one returned array."""
    problems = run.status.get("problems") if isinstance(run.status.get("problems"), dict) else {}
    if key in problems:
        return None, str(problems[key])[:300]
    if key not in run.arrays:
        return None, f"{label} did not come back ({run.array_errors.get(key, 'missing')})"
    got = run.arrays[key]
    problem = kit.array_problem(label, got, shape)
    return (None, problem) if problem else (got, None)


def _failure_label(message: str) -> str:
    """A short label for the batch summary from a harness error message."""
    if message.startswith("not implemented"):
        return "not implemented"
    if "MemoryError" in message or "out of memory" in message:
        return "out of memory"
    if message.startswith("printed or wrote more than the output limit"):
        return "output limit"
    if message.startswith("called sys.exit"):
        return "called sys.exit"
    head = message.split(":", 1)[0]
    return f"raised {head}" if head.isidentifier() else "wrong return value"


def check_forward(item: Item, trials: list, run: RunResult) -> ItemResult:
    """Score a forward item: its output on every hidden trial within ``rtol`` of the reference."""
    failed = run_failure(item, run)
    if failed:
        return _zero(item, *failed, run.seconds)
    worst = 0.0
    for k, trial in enumerate(trials):
        error = _trial_error(run, k)
        if error:
            return _zero(item, error, _failure_label(error), run.seconds)
        got, problem = _returned(run, f"t{k}_out", "the output", trial.expected["out"].shape)
        if problem:
            return _zero(item, problem, "wrong shape/dtype/NaN", run.seconds)
        worst = max(worst, kit.max_relative_error(got, trial.expected["out"]))
    if worst > item.rtol:
        return _zero(
            item,
            f"output wrong (max relative error {worst:.1e} over {len(trials)} hidden trials)",
            "wrong output",
            run.seconds,
        )
    return ItemResult(
        item.name,
        item.check,
        item.points,
        item.points,
        f"`{item.name}`: correct on {len(trials)} hidden trials. "
        f"{_points(item.points)} / {_points(item.points)} points.",
        [],
        item.visibility,
        run.seconds,
    )


def check_backward(item: Item, trials: list, run: RunResult) -> ItemResult:
    """Score a backward item gradient by gradient, with a finite-difference diagnosis."""
    failed = run_failure(item, run)
    if failed:
        return _zero(item, *failed, run.seconds)
    for k in range(len(trials)):
        error = _trial_error(run, k)
        if error:
            return _zero(item, error, _failure_label(error), run.seconds)
    verdicts = {}  # grad -> (correct, message, agrees with FD)
    for grad in item.grads:
        worst, worst_fd, problem = 0.0, 0.0, None
        for k, trial in enumerate(trials):
            got, problem = _returned(run, f"t{k}_{grad}", grad, trial.expected[grad].shape)
            if problem:
                break
            worst = max(worst, kit.max_relative_error(got, trial.expected[grad]))
            fd = run.arrays.get(f"t{k}_fd_{grad}")
            if isinstance(fd, np.ndarray) and fd.shape == got.shape and fd.dtype == np.float64:
                worst_fd = max(worst_fd, kit.max_relative_error(got, fd, floor=1e-6))
            else:
                worst_fd = np.inf
        if problem:
            verdicts[grad] = (False, problem, None)
        elif worst > item.rtol:
            verdicts[grad] = (
                False,
                f"{grad} wrong (max relative error {worst:.1e})",
                worst_fd <= item.fd_tol,
            )
        else:
            verdicts[grad] = (True, grad, worst_fd <= item.fd_tol)
    correct = [grad for grad, verdict in verdicts.items() if verdict[0]]
    wrong = [verdict[1] for verdict in verdicts.values() if not verdict[0]]
    score = round(item.points * len(correct) / len(item.grads), 6)
    if not wrong:
        summary = f"all {len(item.grads)} gradients correct ({kit.join_names(correct)})"
    else:
        summary = ", ".join(wrong)
        if correct:
            summary += f"; {kit.join_names(correct)} correct"
    lines = [f"`{item.name}`: {summary}. {_points(score)} / {_points(item.points)} points."]
    disagree = [g for g, v in verdicts.items() if not v[0] and v[2] is False]
    agree = [g for g, v in verdicts.items() if not v[0] and v[2] is True]
    if disagree:
        verb = "disagrees" if len(disagree) == 1 else "disagree"
        lines.append(
            f"{kit.join_names(disagree)} also {verb} with finite differences of your own "
            f"{item.forward}, so the bug is in {item.name} (or in a function it calls)."
        )
    if agree:
        verb = "agrees" if len(agree) == 1 else "agree"
        lines.append(
            f"{kit.join_names(agree)} {verb} with finite differences of your own {item.forward}: "
            f"{item.name} is consistent with it, so check {item.forward} first."
        )
    failures = [f"{grad} wrong" for grad, verdict in verdicts.items() if not verdict[0]]
    return ItemResult(
        item.name,
        item.check,
        score,
        item.points,
        " ".join(lines),
        failures,
        item.visibility,
        run.seconds,
    )


def check_value(item: Item, trials: list, run: RunResult) -> ItemResult:
    """Score a numeric answer: within ``atol + rtol * |reference|`` of the reference's value."""
    failed = run_failure(item, run)
    if failed:
        return _zero(item, *failed, run.seconds)
    expected = trials[0].expected["value"]
    problems = run.status.get("problems") if isinstance(run.status.get("problems"), dict) else {}
    if "t0_value" in problems:
        return _zero(item, str(problems["t0_value"])[:300], "wrong type", run.seconds)
    got = run.arrays.get("t0_value")
    if (
        not isinstance(got, np.ndarray)
        or got.dtype.kind not in "biuf"
        or got.shape != expected.shape
    ):
        return _zero(
            item,
            f"{item.name} must be a number"
            + (f" array of shape {expected.shape}" if expected.shape else ""),
            "wrong type",
            run.seconds,
        )
    got = got.astype(np.float64)
    if not np.all(np.isfinite(got)):
        return _zero(item, f"{item.name} is NaN or inf", "wrong type", run.seconds)
    tolerance = f"rtol {item.rtol:g}" + (f", atol {item.atol:g}" if item.atol else "")
    if not np.all(np.abs(got - expected) <= item.atol + item.rtol * np.abs(expected)):
        shown = np.array2string(got, precision=6) if got.shape else f"{float(got):.6g}"
        return _zero(
            item,
            f"{item.name} = {shown} is not the answer (tolerance: {tolerance})",
            "wrong answer",
            run.seconds,
        )
    return ItemResult(
        item.name,
        item.check,
        item.points,
        item.points,
        f"`{item.name}`: correct (tolerance: {tolerance}). {_points(item.points)} / "
        f"{_points(item.points)} points.",
        [],
        item.visibility,
        run.seconds,
    )


CHECKERS = {"forward": check_forward, "backward": check_backward, "value": check_value}
