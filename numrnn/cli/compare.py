"""Compare the chapter's architectures at a matched parameter budget, and write the measured table.

Trains every architecture (vanilla, hierarchical, deep transition, deep
transition + skip, DT(S) shortcut, stacked residual deep transition) on each
task, at a parameter budget they all meet within a few percent; gives every
architecture the same number of tuning points, chosen by successive halving on
the tuning seeds; measures the chosen settings on fresh reporting seeds;
sweeps the transition depth q of the deep transition with and without skip, at
the budget and at one fixed width; measures the gradient flow of every layer in
float64 at initialisation and during training; decides each of the chapter's
claims with a stated one-sided test (supported, contradicted or inconclusive);
and writes DIR/report.md, DIR/report.html (self-contained), DIR/results.json and
the figures (PNG and SVG). Jobs run in worker processes (--workers), each
limited to one BLAS thread, or on a Dask cluster (--scheduler); each finished
job is kept in DIR/jobs/, so rerunning the same command resumes an interrupted
sweep. Needs the ``compare`` extra (scipy, threadpoolctl).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from concurrent.futures import BrokenExecutor
from pathlib import Path

import numpy as np

from .._version import __version__
from ..compare.protocol import DEFAULT, QUICK, parse_task, task_names
from ..compare.report import QUICK_BANNER, write_figures, write_report
from ..compare.results import collect_results
from ..compare.sweep import InlineExecutor, plan_configurations, run_sweep
from ..presets import ARCHITECTURES

DEFAULT_TASK_REASON = (
    "Why these tasks, one per claim: the sine task mixes periods of 6, 20 and 70 steps and is "
    "scored only after a burn-in of 10 steps, so that inferring the phase in the first steps "
    "(which a short linear predictor does exactly) does not decide it: what is left is the "
    "multi-scale test of the hierarchical claim. count-mod asks at every step for the running "
    "count of ones mod 3 of a bit stream, a state update that is a hard nonlinear function of "
    "state and input: the test of 'complex state transitions'. adding-10 carries the depth "
    "sweeps (q up to 16, budget-matched and at fixed width) and the timing: at this length the "
    "plain q = 1 transition learns the task within the step budget (4 of 4 probe seeds; at T = 20 "
    "it learnt on 2 of 4 tuning runs), so a deep transition that fails fails by its depth. "
    "adding-50 was dropped: no model of this budget learnt it in the step budget."
)
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Environment variables that set BLAS threads; the report's command line shows those set."""

EXTRA_HINT = (
    "the 'compare' extra (scipy, threadpoolctl) is not installed: "
    "python -m pip install 'numrnn[compare]'"
)
"""The one line printed when scipy or threadpoolctl is missing."""

CUSTOM_TASK_REASON = "Tasks chosen on the command line (--task)."

QUICK_TASK_REASON = "The --quick tasks: two short adding problems that exercise every step."


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    def _get_help_string(self, action):
        if action.default in (None, False, ""):
            return action.help
        return super()._get_help_string(action)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``numrnn compare``."""
    parser.formatter_class = _HelpFormatter
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="report folder (created; reruns resume from DIR/jobs)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny protocol that runs the whole pipeline in seconds (numbers without meaning)",
    )
    parser.add_argument(
        "--seed-offset",
        default=None,
        metavar="N",
        help="add N to every seed (tuning, reporting, held-out sets): --seed-offset 1000 reruns "
        "the protocol on seeds disjoint from the default's (default 0)",
    )
    parser.add_argument(
        "--task",
        action="append",
        default=None,
        metavar="NAME[:T]",
        help=f"a task, repeatable (one of {task_names()}, e.g. adding:50); the last carries the "
        "depth sweep; default: " + ", ".join(t.label for t in DEFAULT.tasks),
    )
    parser.add_argument(
        "--arch",
        action="append",
        default=None,
        metavar="NAME",
        help=f"an architecture, repeatable (default: all of {list(ARCHITECTURES)})",
    )
    parser.add_argument(
        "--seeds",
        default=None,
        metavar="N",
        help=f"reporting seeds per configuration, besides the {DEFAULT.tuning_seeds} tuning seeds "
        f"(default {DEFAULT.seeds})",
    )
    parser.add_argument(
        "--budget", default=None, metavar="N", help=f"parameter budget (default {DEFAULT.budget})"
    )
    parser.add_argument(
        "--steps",
        default=None,
        metavar="N",
        help=f"training steps of a reporting run; the tuning rungs are fractions of it "
        f"(default {DEFAULT.steps})",
    )
    parser.add_argument(
        "--eval-every",
        default=None,
        metavar="N",
        help=f"validation (and gradient flow) every N steps (default {DEFAULT.eval_every})",
    )
    parser.add_argument(
        "--early-stopping",
        action="store_true",
        help="every run keeps the parameters of its evaluation with the lowest validation metric "
        "(initialisation included), not its last step's; tuning and held-out scores use them",
    )
    parser.add_argument(
        "--depths",
        default=None,
        metavar="Q,Q,...",
        help="transition depths q of the sweep, comma-separated, or 'none' (default "
        + ",".join(str(q) for q in DEFAULT.depths)
        + ")",
    )
    parser.add_argument(
        "--residual-scales",
        default=None,
        metavar="S,S,...",
        help="initial scales of the residual branch tried with every learning rate by the "
        "architectures that have one, comma-separated (default "
        + ",".join(f"{s:g}" for s in DEFAULT.residual_scales)
        + ": numrnn's own and the plain draw); their number must divide the tuning points "
        f"({DEFAULT.tuning_points}), so every architecture gets as many",
    )
    parser.add_argument(
        "--workers",
        default=None,
        metavar="N",
        help=f"worker processes (default: the CPU count, {os.cpu_count()}); 1 runs in this process",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="send the jobs to this Dask scheduler (tcp://host:8786) instead of local processes; "
        "needs python -m pip install 'numrnn[dask]'",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _whole(text: str, flag: str, minimum: int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"{flag} must be a whole number >= {minimum}; got {text!r}") from None
    if value < minimum:
        raise ValueError(f"{flag} must be a whole number >= {minimum}; got {value}")
    return value


def _depths(text: str) -> tuple:
    if text.strip().lower() == "none":
        return ()
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise ValueError(
            f"--depths must be comma-separated whole numbers >= 1 or 'none'; got {text!r}"
        )
    depths = tuple(_whole(part.strip(), "--depths", 1) for part in parts)
    if len(set(depths)) != len(depths):
        raise ValueError(f"--depths must not repeat a depth; got {text!r}")
    return depths


def _scales(text: str) -> tuple:
    rule = "--residual-scales must be comma-separated positive numbers that do not repeat"
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        scales = tuple(float(part) for part in parts)
    except ValueError:
        raise ValueError(f"{rule}; got {text!r}") from None
    if (
        not scales
        or not all(0 < s < float("inf") for s in scales)
        or len(set(scales)) != len(scales)
    ):
        raise ValueError(f"{rule}; got {text!r}")
    return scales


def make_protocol(args: argparse.Namespace):
    """The protocol the flags ask for: DEFAULT (or QUICK) with the given fields replaced.

    Raises
    ------
    ValueError
        For a bad flag, naming it.
    """
    base = QUICK if args.quick else DEFAULT
    changes = {}
    if args.task:
        changes["tasks"] = tuple(parse_task(text) for text in args.task)
    if args.arch:
        for name in args.arch:
            if name not in ARCHITECTURES:
                raise ValueError(f"--arch must be one of {list(ARCHITECTURES)}; got {name!r}")
        if len(set(args.arch)) != len(args.arch):
            raise ValueError(f"--arch must not repeat an architecture; got {args.arch}")
        changes["architectures"] = tuple(args.arch)
    for flag, field, minimum in (
        ("--seeds", "seeds", 1),
        ("--budget", "budget", 10),
        ("--steps", "steps", 1),
        ("--eval-every", "eval_every", 1),
    ):
        value = getattr(args, field)
        if value is not None:
            changes[field] = _whole(value, flag, minimum)
    if args.early_stopping:
        changes["early_stopping"] = True
    if args.seed_offset is not None:
        changes["seed_offset"] = _whole(args.seed_offset, "--seed-offset", 0)
    if args.depths is not None:
        changes["depths"] = _depths(args.depths)
    if args.residual_scales is not None:
        changes["residual_scales"] = _scales(args.residual_scales)
        if base.tuning_points % len(changes["residual_scales"]):
            raise ValueError(
                f"--residual-scales must hold a number of scales that divides the "
                f"{base.tuning_points} tuning points, so that every architecture gets as many; "
                f"got {len(changes['residual_scales'])} ({args.residual_scales!r})"
            )
    architectures = changes.get("architectures", base.architectures)
    changes["sweep_architectures"] = tuple(  # sweep only what was asked for; none: no sweep
        name for name in base.sweep_architectures if name in architectures
    )
    return base.replace(**changes)


def _executor(args: argparse.Namespace, workers: int):
    """The concurrent.futures executor and a description of it."""
    if args.scheduler is not None:
        try:
            from dask.distributed import Client
        except ImportError:
            raise ValueError(
                "--scheduler needs Dask: python -m pip install 'numrnn[dask]'"
            ) from None
        try:
            client = Client(args.scheduler, timeout=10)
        except (OSError, TimeoutError) as error:
            raise ValueError(f"--scheduler {args.scheduler!r}: cannot connect ({error})") from None
        return client.get_executor(), f"Dask scheduler {args.scheduler}", client
    if workers == 1:
        return InlineExecutor(), "this process", None
    from concurrent.futures import ProcessPoolExecutor

    return (
        ProcessPoolExecutor(max_workers=workers, initializer=limit_blas_threads),
        "local worker processes",
        None,
    )


def limit_blas_threads() -> None:
    """A worker's initializer: one BLAS thread in this worker process (as scikit-learn's workers).

    The models are small, so a multi-threaded BLAS in each of several workers spends its time
    synchronising threads. Only compare's worker processes call this; the core never does.
    """
    from threadpoolctl import threadpool_limits

    global _WORKER_LIMITS  # kept alive for the worker's lifetime
    _WORKER_LIMITS = threadpool_limits(limits=1)


_WORKER_LIMITS = None


def _stop_workers(executor) -> None:
    """End the worker processes this command started (on Ctrl-C), so that it exits at once."""
    if hasattr(executor, "terminate_workers"):  # Python >= 3.14
        executor.terminate_workers()
        return
    processes = getattr(executor, "_processes", None) or {}  # ProcessPoolExecutor: pid -> Process
    for process in list(processes.values()):
        process.terminate()


def _cpu_seconds() -> float | None:
    """CPU time (user + system) of this process and its finished workers (None: no `resource`)."""
    try:
        import resource
    except ImportError:
        return None
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a folder; {str(out)!r} is a file")
    try:
        (out / "jobs").mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"--out {str(out)!r} cannot be written: {error.strerror or error}"
        ) from None
    if not os.access(out, os.W_OK):
        raise ValueError(f"--out {str(out)!r} cannot be written")


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (flags in a fixed order)."""
    words = ["numrnn", "compare", "--out", str(args.out)]
    if args.quick:
        words.append("--quick")
    for task in args.task or []:
        words += ["--task", task]
    for arch in args.arch or []:
        words += ["--arch", arch]
    for flag in (
        "seed_offset",
        "seeds",
        "budget",
        "steps",
        "eval_every",
        "depths",
        "workers",
        "scheduler",
    ):
        if getattr(args, flag) is not None:
            words += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    if args.early_stopping:
        words.append("--early-stopping")
    if args.no_progress:
        words.append("--no-progress")
    threads = [  # read, never set: they change the times per step, so the report shows them
        f"{name}={shlex.quote(os.environ[name])}" for name in THREAD_VARIABLES if name in os.environ
    ]
    return " ".join(threads + [shlex.quote(word) for word in words])


def _inline_limits(executor):
    """One BLAS thread while jobs run in this process (``--workers 1``), restored after."""
    import contextlib

    if not isinstance(executor, InlineExecutor):
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def run(args: argparse.Namespace) -> int:
    """Run the comparison and write the report; 0 on success, 2 for a bad flag."""
    started = time.perf_counter()
    try:
        import scipy  # noqa: F401
        import threadpoolctl  # noqa: F401
    except ImportError:
        raise ValueError(EXTRA_HINT) from None
    protocol = make_protocol(args)
    workers = (
        (os.cpu_count() or 1) if args.workers is None else _whole(args.workers, "--workers", 1)
    )
    out = Path(args.out)
    _check_out(out)
    configurations = plan_configurations(protocol)  # a budget no width meets fails here, first
    executor, where, client = _executor(args, workers)
    resume = f"rerun the same command to resume: finished jobs are kept in {out / 'jobs'}"
    try:
        with _inline_limits(executor):
            sweep = run_sweep(
                protocol,
                out,
                executor=executor,
                progress=not args.no_progress,
                configurations=configurations,
            )
    except KeyboardInterrupt:
        _stop_workers(executor)
        print(f"numrnn compare: {resume}", file=sys.stderr)
        raise
    except BrokenExecutor as error:
        print(f"numrnn compare: a worker stopped ({error}); {resume}", file=sys.stderr)
        return 1
    finally:
        try:
            executor.shutdown(wait=True, cancel_futures=True)
        except TypeError:  # Dask's ClientExecutor has no cancel_futures
            executor.shutdown(wait=True)
        if client is not None:
            client.close()
    results = collect_results(protocol, sweep)
    command = _command(args)
    results["run"] = {
        "command": command,
        "numrnn": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "workers": "Dask cluster" if args.scheduler else workers,
        "executor": where,
        "jobs_run": sweep.ran,
        "jobs_cached": sweep.cached,
        "task_reason": CUSTOM_TASK_REASON
        if args.task
        else (QUICK_TASK_REASON if args.quick else DEFAULT_TASK_REASON),
        "quick": bool(args.quick),
    }
    figures = write_figures(results, sweep, out)
    wall = time.perf_counter() - started
    results["run"]["wall_time_seconds"] = wall
    results["run"]["cpu_seconds"] = _cpu_seconds()
    paths = write_report(results, figures, out)
    verdicts = [c for c in results["claims"] if c["verdict"] != "not measured"]
    counts = ", ".join(
        f"{sum(c['verdict'] == v for c in verdicts)} {v}"
        for v in ("supported", "contradicted", "inconclusive")
    )
    if args.quick:
        print(f"numrnn compare: {QUICK_BANNER}")
    print(
        f"numrnn compare: {len(results['table'])} architectures × {len(results['tasks'])} tasks × "
        f"{protocol.seeds} reporting seeds in {wall:.1f} s; {len(verdicts)} measured claims: "
        f"{counts}; wrote {paths['markdown']}, {paths['html'].name}, {paths['json'].name}"
    )
    return 0
