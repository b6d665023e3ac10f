"""Compare the chapter's architectures at a matched parameter budget, and write the measured table.

Trains every architecture (vanilla, hierarchical, deep transition, deep
transition + skip, DT(S) shortcut, stacked residual deep transition) on each
task, at a parameter budget they all meet within a few percent, each with its
learning rate chosen from one grid on validation data, over several seeds;
sweeps the transition depth q of the deep transition with and without skip;
measures gradient flow at initialisation and after training; and writes
DIR/report.md, DIR/report.html (self-contained), DIR/results.json and the
figures (PNG and SVG). Jobs run in worker processes (--workers) or on a Dask
cluster (--scheduler); each finished job is kept in DIR/jobs/, so rerunning the
same command resumes an interrupted sweep.
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
from ..compare.report import write_figures, write_report
from ..compare.results import collect_results
from ..compare.sweep import InlineExecutor, plan_configurations, run_sweep
from ..presets import ARCHITECTURES

DEFAULT_TASK_REASON = (
    "Why these tasks: the adding problem's answer depends on two values up to T − 1 steps back "
    "(a long-range component whose difficulty grows with T: two lengths show the growth) and its "
    "trivial baseline, 1/6, is exact; the sine task mixes periods of 6, 20 and 70 steps (the "
    "multi-scale test of the hierarchical claim; the 70-step period is longer than T = 50). The "
    "depth sweep, timing and trained-flow columns use adding-20, the length at which models of "
    "this budget can learn the task within the step budget, so that the sweep separates depths "
    "that learn from depths that fail. Everything fits in about three minutes on two cores."
)
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Environment variables that set BLAS threads; the report's command line shows those set."""

CUSTOM_TASK_REASON = "Tasks chosen on the command line (--task)."


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
        "--seeds", default=None, metavar="N", help=f"seeds per run (default {DEFAULT.seeds})"
    )
    parser.add_argument(
        "--budget", default=None, metavar="N", help=f"parameter budget (default {DEFAULT.budget})"
    )
    parser.add_argument(
        "--steps",
        default=None,
        metavar="N",
        help=f"training steps per run (default {DEFAULT.steps})",
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
        + ": numrnn's own and the plain draw)",
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
    ):
        value = getattr(args, field)
        if value is not None:
            changes[field] = _whole(value, flag, minimum)
    if "seeds" in changes:  # the tuning seeds are among the seeds
        changes["tuning_seeds"] = min(base.tuning_seeds, changes["seeds"])
    if args.depths is not None:
        changes["depths"] = _depths(args.depths)
    if args.residual_scales is not None:
        changes["residual_scales"] = _scales(args.residual_scales)
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

    return ProcessPoolExecutor(max_workers=workers), "local worker processes", None


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
    for flag in ("seeds", "budget", "steps", "depths", "workers", "scheduler"):
        if getattr(args, flag) is not None:
            words += [f"--{flag}", str(getattr(args, flag))]
    if args.no_progress:
        words.append("--no-progress")
    threads = [  # read, never set: they change the times per step, so the report shows them
        f"{name}={shlex.quote(os.environ[name])}" for name in THREAD_VARIABLES if name in os.environ
    ]
    return " ".join(threads + [shlex.quote(word) for word in words])


def run(args: argparse.Namespace) -> int:
    """Run the comparison and write the report; 0 on success, 2 for a bad flag."""
    started = time.perf_counter()
    protocol = make_protocol(args)
    workers = (
        (os.cpu_count() or 1) if args.workers is None else _whole(args.workers, "--workers", 1)
    )
    out = Path(args.out)
    _check_out(out)
    configurations = plan_configurations(protocol)  # a budget no width meets fails here, first
    executor, where, client = _executor(args, workers)
    if (
        args.scheduler is None
        and workers > 1
        and not any(v in os.environ for v in THREAD_VARIABLES)
    ):
        print(
            f"numrnn compare: note: {workers} worker processes share {os.cpu_count()} cores and "
            "NumPy's BLAS may start threads in each; if the jobs run slowly, rerun as "
            "OPENBLAS_NUM_THREADS=1 numrnn compare ... (finished jobs are kept; docs/compare.md)",
            file=sys.stderr,
        )
    resume = f"rerun the same command to resume: finished jobs are kept in {out / 'jobs'}"
    try:
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
        "task_reason": CUSTOM_TASK_REASON if args.task else DEFAULT_TASK_REASON,
    }
    figures = write_figures(results, sweep, out)
    wall = time.perf_counter() - started
    results["run"]["wall_time_seconds"] = wall
    results["run"]["cpu_seconds"] = _cpu_seconds()
    paths = write_report(results, figures, out)
    verdicts = [c for c in results["claims"] if c["verdict"] != "not measured"]
    supported = sum(c["verdict"] == "supported" for c in verdicts)
    print(
        f"numrnn compare: {len(results['table'])} architectures × {len(results['tasks'])} tasks × "
        f"{protocol.seeds} seeds in {wall:.1f} s; {supported} of {len(verdicts)} measured claims "
        f"supported; wrote {paths['markdown']}, {paths['html'].name}, {paths['json'].name}"
    )
    return 0
