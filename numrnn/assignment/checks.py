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
from .harness import EXIT_FUNCTION_TIME, EXIT_TOP_LEVEL_TIME
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


def _zero(
    item: Item, message: str, failure: str, seconds: float = 0.0, *, subject: bool = False
) -> ItemResult:
    """Zero points; ``subject``: ``message`` reads on from the function's name, with no colon."""
    return ItemResult(
        item.name,
        item.check,
        0.0,
        item.points,
        f"`{item.name}`{' ' if subject else ': '}{message}. 0 / {_points(item.points)} points.",
        [failure],
        item.visibility,
        seconds,
    )


def cell_errors(status: dict) -> list:
    """The errors the submission's cells raised while loading, as the harness reported them
    (anything else in that field, which the student's process could have written, is ignored)."""
    notes = status.get("cells") if isinstance(status, dict) else None
    return [note for note in notes if isinstance(note, str)] if isinstance(notes, list) else []


def run_failure(item: Item, run: RunResult, file_name: str = "your file"):
    """``(message, failure label)`` when the run itself failed, else None."""
    limits = item.limits
    # the harness's waiting parent stopped the run: whatever the student's code wrote before
    # does not count
    if run.returncode == EXIT_TOP_LEVEL_TIME:
        return (
            f"not graded: the top-level code of {file_name} did not finish within the time "
            f"limit of {limits.top_level_seconds:g} s; move slow work into functions",
            "top-level time limit",
        )
    if run.outcome == "out-of-memory":
        return (
            "ran out of memory: its processes together used more than the run's "
            f"{limits.memory_mb} MiB, and one was killed",
            "out of memory",
        )
    if run.outcome == "timeout" or run.returncode == EXIT_FUNCTION_TIME:
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


def _compared(run: RunResult, key: str, label: str, expected: np.ndarray, rtol: float):
    """``(error, problem)`` of one returned array against the reference's (:func:`kit.compare`,
    the public checks' verdict too); ``error`` is inf when the array cannot be compared."""
    problems = run.status.get("problems") if isinstance(run.status.get("problems"), dict) else {}
    if key in problems:
        return np.inf, str(problems[key])[:300]
    if key not in run.arrays:
        return np.inf, f"{label} did not come back ({run.array_errors.get(key, 'missing')})"
    return kit.compare(label, run.arrays[key], expected, rtol)


def _worst(run: RunResult, trials: list, key: str, label: str, rtol: float):
    """``(error, problem)`` of the trial where the returned ``key`` is furthest from the
    reference's (``trial.expected[key]``)."""
    verdicts = [
        _compared(run, f"t{k}_{key}", label, trial.expected[key], rtol)
        for k, trial in enumerate(trials)
    ]
    return max(verdicts, key=lambda verdict: verdict[0])


def side_effect(item: Item, run: RunResult):
    """The message on the first side effect the harness saw ``item``'s function have, or None.

    The harness reports facts (:mod:`.harness`): an argument or an array in the cache changed
    (``change`` its largest change, ``"removed"`` or ``"reshaped"``), or a second call on equal
    inputs gave another result (``"repeat"``, with the relative ``error``).
    """
    facts = run.status.get("side_effects")
    for fact in facts if isinstance(facts, list) else []:
        if not isinstance(fact, dict) or fact.get("function") != item.name:
            continue
        target, change = str(fact.get("target", "?"))[:80], fact.get("change")
        if change == "repeat":
            error = fact.get("error")
            size = f" (relative difference {error:.1e})" if isinstance(error, float) else ""
            return (
                f"returned a different {target} when called a second time on equal inputs{size}: "
                "it must not keep or change state between calls"
            ), "not repeatable"
        if change == "removed":
            what = f"removed {target} from an argument"
        elif change == "reshaped":
            what = f"changed the shape of its argument {target} in place"
        else:
            size = f" (max change {change:.2g})" if isinstance(change, float) else ""
            what = f"modified its argument {target} in place{size}"
        return f"{what}; work on copies", "side effect"
    return None


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


def check_forward(
    item: Item, trials: list, run: RunResult, *, file_name: str = "your file"
) -> ItemResult:
    """Score a forward item: its output on every hidden trial within ``rtol`` of the reference."""
    failed = run_failure(item, run, file_name)
    if failed:
        return _zero(item, *failed, run.seconds)
    for k in range(len(trials)):
        error = _trial_error(run, k)
        if error:
            return _zero(item, error, _failure_label(error), run.seconds)
    effect = side_effect(item, run)
    if effect:
        return _zero(item, effect[0], effect[1], run.seconds, subject=True)
    error, problem = _worst(run, trials, "out", "the output", item.rtol)
    if problem and not np.isfinite(error):
        return _zero(item, problem, "wrong shape/dtype/NaN", run.seconds)
    if problem:  # kit.compare's verdict, worded for the worst of the trials
        over = f"the worst of {len(trials)} hidden trials"
        if kit.is_rounding(error, item.rtol):
            message = f"output off by a relative error of {error:.1e} ({over}): "
            message += kit.rounding_advice(item.rtol)
            return _zero(item, message, "float32 precision", run.seconds)
        message = f"output wrong (max relative error {error:.1e}, {over})"
        return _zero(item, message, "wrong output", run.seconds)
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


def check_backward(
    item: Item,
    trials: list,
    run: RunResult,
    *,
    file_name: str = "your file",
    forward_rtol: float | None = None,
) -> ItemResult:
    """Score a backward item gradient by gradient, and say where a wrong gradient comes from.

    When the student's own forward (called in the same run) disagrees with the reference's,
    the feedback blames the forward: the backward works from that forward's cache. Otherwise
    each wrong gradient is compared with central differences of the student's forward: a
    disagreement puts the bug in the backward. ``forward_rtol`` is the forward item's
    tolerance (default: this item's).
    """
    failed = run_failure(item, run, file_name)
    if failed:
        return _zero(item, *failed, run.seconds)
    for k in range(len(trials)):
        error = _trial_error(run, k)
        if error:
            return _zero(item, error, _failure_label(error), run.seconds)
    effect = side_effect(item, run)
    if effect:
        return _zero(item, effect[0], effect[1], run.seconds, subject=True)
    verdicts, errors = {}, {}  # grad -> (correct, message, agrees with FD); grad -> error
    for grad in item.grads:
        error, problem = _worst(run, trials, grad, grad, item.rtol)
        worst_fd = 0.0
        for k in range(len(trials)):
            got, fd = run.arrays.get(f"t{k}_{grad}"), run.arrays.get(f"t{k}_fd_{grad}")
            if (
                isinstance(got, np.ndarray)
                and isinstance(fd, np.ndarray)
                and fd.shape == got.shape
                and fd.dtype == np.float64
            ):
                worst_fd = max(worst_fd, kit.max_relative_error(got, fd, floor=1e-6))
            else:
                worst_fd = np.inf
        if problem is None:
            verdicts[grad] = (True, grad, worst_fd <= item.fd_tol)
        else:
            verdicts[grad] = (
                False,
                problem,
                worst_fd <= item.fd_tol if np.isfinite(error) else None,
            )
        errors[grad] = error
    correct = [grad for grad, verdict in verdicts.items() if verdict[0]]
    rounded = [  # float32-sized errors: one clause for all of them
        grad
        for grad, verdict in verdicts.items()
        if not verdict[0] and kit.is_rounding(errors[grad], item.rtol)
    ]
    wrong = [v[1] for g, v in verdicts.items() if not v[0] and g not in rounded]
    if rounded:
        verb = "is" if len(rounded) == 1 else "are"
        wrong.append(
            f"{kit.join_names(rounded)} {verb} off by a relative error of up to "
            f"{max(errors[grad] for grad in rounded):.1e}: {kit.rounding_advice(item.rtol)}"
        )
    score = round(item.points * len(correct) / len(item.grads), 6)
    if not wrong:
        summary = f"all {len(item.grads)} gradients correct ({kit.join_names(correct)})"
    else:
        summary = ", ".join(wrong)
        if correct:
            summary += f"; {kit.join_names(correct)} correct"
    lines = [f"`{item.name}`: {summary}. {_points(score)} / {_points(item.points)} points."]
    forward_error, forward_problem = _worst(
        run,
        trials,
        "forward_out",
        "its output",
        item.rtol if forward_rtol is None else forward_rtol,
    )
    disagree = [g for g, v in verdicts.items() if not v[0] and v[2] is False]
    agree = [g for g, v in verdicts.items() if not v[0] and v[2] is True]
    if wrong and forward_problem:
        # the cache came from a wrong forward: the backward cannot be judged on its own
        lines.append(
            f"Your {item.forward} does not match the reference on these inputs ("
            + (
                f"max relative error {forward_error:.1e}"
                if np.isfinite(forward_error)
                else forward_problem
            )
            + f"), and {item.name} works from its cache: the likely cause is {item.forward}, "
            "so fix it first."
        )
    elif disagree:
        verb = "disagrees" if len(disagree) == 1 else "disagree"
        lines.append(
            f"{kit.join_names(disagree)} also {verb} with finite differences of your own "
            f"{item.forward}, so the bug is in {item.name} (or in a function it calls)."
        )
    if agree and not (wrong and forward_problem):
        verb = "agrees" if len(agree) == 1 else "agree"
        lines.append(
            f"{kit.join_names(agree)} {verb} with finite differences of your own {item.forward}: "
            f"{item.name} is consistent with it, so check {item.forward} first."
        )
    failures = [
        f"{grad} wrong"
        for grad, verdict in verdicts.items()
        if not verdict[0] and grad not in rounded
    ] + (["float32 precision"] if rounded else [])
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


def check_value(
    item: Item, trials: list, run: RunResult, *, file_name: str = "your file"
) -> ItemResult:
    """Score a numeric answer: within ``atol + rtol * |reference|`` of the reference's value."""
    failed = run_failure(item, run, file_name)
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
