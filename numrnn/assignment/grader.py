"""Grade a batch of submissions against an assignment's reference solution.

For each submission and each graded item, one sandboxed run
(:mod:`numrnn.assignment.sandbox`) executes the submission's cells and the
item's function on the hidden trials; :mod:`numrnn.assignment.checks` scores
what came back. The hidden trials (inputs drawn from the grader's seed, the
reference's outputs) are computed once per batch in this process, and the same
for every submission. Submissions are graded in parallel by worker threads,
each of which only waits on its sandboxed subprocess.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import catalog
from .checks import CHECKERS, ItemResult, cell_errors
from .reference import Reference
from .results import summary_text, write_gradebook, write_results_json
from .sandbox import Sandbox
from .source import Assignment
from .submission import SubmissionError, read_submission, scan_submissions
from .text import printable


@dataclass
class SubmissionResult:
    """Every item's result for one submission."""

    name: str
    path: Path
    assignment: str
    items: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    seconds: float = 0.0
    seed_id: str = ""

    @property
    def score(self) -> float:
        """Points earned."""
        return float(sum(item.score for item in self.items))

    @property
    def max_score(self) -> float:
        """Points available."""
        return float(sum(item.max_score for item in self.items))


@dataclass
class BatchResult:
    """A graded batch."""

    assignment: str
    results: list
    seed: int
    workers: int
    seconds: float
    isolation: str
    skipped: list = field(default_factory=list)

    def summary(self) -> str:
        """The end-of-batch summary (see :func:`numrnn.assignment.results.summary_text`)."""
        return summary_text(self)


SEED_ID_SALT = b"numrnn hidden seed id v1"


def seed_id(seed: int) -> str:
    """A non-reversible id of a hidden seed: 12 hex digits of its scrypt hash.

    The same seed always gives the same id (so a regrade can be recognised), and scrypt's cost
    (16 MiB and about 0.05 s a guess) makes trying every 32-bit seed a matter of CPU-years.

    Parameters
    ----------
    seed : int

    Returns
    -------
    str
    """
    digest = hashlib.scrypt(str(seed).encode(), salt=SEED_ID_SALT, n=1 << 14, r=8, p=1)
    return digest.hex()[:12]


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class Grader:
    """An assignment's reference, hidden trials and sandbox, ready to grade submissions.

    Parameters
    ----------
    source : str or Path or Assignment
        A teacher's source file, or a shipped assignment's name.
    seed : int, optional
        The hidden trials' seed (default: a fresh random one; pass it again to regrade identically).
    limits : dict, optional
        Overrides of every item's limits (``time``, ``memory_mb``, ``output_kb``, ``processes``).
    hide : iterable of path, optional
        More files or folders the sandbox must not see.
    isolate : bool
        Run submissions in bubblewrap sandboxes (default True; see :mod:`.sandbox`).
    allow_unisolated : bool
        As root, grade even where bubblewrap cannot run (default False: refuse with
        :class:`~numrnn.assignment.sandbox.IsolationUnavailable`).
    only : iterable of str, optional
        Grade these items only (e.g. to regrade one function after fixing its declaration).
    """

    def __init__(
        self,
        source,
        *,
        seed: int | None = None,
        limits: dict | None = None,
        hide=(),
        isolate: bool = True,
        allow_unisolated: bool = False,
        only=None,
    ):
        self.assignment: Assignment = (
            source if isinstance(source, Assignment) else catalog.load(source)
        )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f"seed must be a non-negative int; got {seed!r}")
        self.seed = secrets.randbits(64) if seed is None else seed
        self.seed_id = seed_id(self.seed)
        self.reference = Reference(self.assignment)
        self.items = dict(self.assignment.grading.items)
        if only is not None:
            only = [only] if isinstance(only, str) else list(only)
            unknown = [name for name in only if name not in self.items]
            if unknown or not only:
                raise ValueError(
                    f"only must name graded items of {self.assignment.name} "
                    f"({', '.join(self.items)}); got {only!r}"
                )
            self.items = {name: item for name, item in self.items.items() if name in only}
        if limits:
            self.items = {name: _with_limits(item, limits) for name, item in self.items.items()}
        hide = [*hide, self.assignment.path.parent]
        self.sandbox = Sandbox(hide=hide, isolate=isolate, allow_unisolated=allow_unisolated)

    def close(self) -> None:
        """Remove the sandbox's scratch folder."""
        self.sandbox.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def trials_for(self, submission: str) -> dict:
        """Item name to the hidden trials of the submission called ``submission``."""
        return self.reference.hidden_trials(self.seed, submission)

    def task(self, name: str, trials: list):
        """``(task.json dict, input files, expected array names)`` of item ``name`` on
        ``trials`` (one submission's, from :meth:`trials_for`)."""
        item = self.items[name]
        task = {
            "check": item.check,
            "name": name,
            "trials": len(trials),
            "rtol": item.rtol,
            "time": item.limits.time,
            "top_level_time": item.limits.top_level_seconds,
        }
        inputs, expected = {}, []
        if item.check == "value":
            return task, inputs, ["t0_value"]
        forward = self.assignment.grading.items[item.forward] if item.check == "backward" else item
        task.update(
            forward=forward.name,
            args=list(forward.args),
            returns_cache=forward.returns_cache,
            grads=dict(item.grads),
            fd_eps=item.fd_eps,
        )
        for k, trial in enumerate(trials):
            for arg, value in trial.inputs.items():
                inputs[f"t{k}_{arg}.npy"] = _npy_bytes(value)
            if item.check == "forward":
                expected.append(f"t{k}_out")
            else:
                inputs[f"t{k}_dout.npy"] = _npy_bytes(trial.dout)
                expected += [f"t{k}_{grad}" for grad in item.grads] + [
                    f"t{k}_fd_{grad}" for grad in item.grads
                ]
                expected.append(f"t{k}_forward_out")
        return task, inputs, expected

    def grade_file(self, name: str, path, slot: int = 0) -> SubmissionResult:
        """Grade one submission file (``.py`` or ``.ipynb``).

        Parameters
        ----------
        name : str
            The submission's name in the gradebook; with the seed, it draws the
            submission's own hidden trials (:meth:`trials_for`), so pass the same name to
            regrade identically.
        path : str or Path
        slot : int
            The worker's number (each concurrent worker needs its own).

        Returns
        -------
        SubmissionResult
        """
        start = time.perf_counter()
        result = SubmissionResult(
            name=name,
            path=Path(path),
            assignment=self.assignment.name,
            seed_id=self.seed_id,
        )
        try:
            self._grade_into(result, slot)
        except SubmissionError as error:
            self._error_row(
                result, f"could not read the submission: {error}", str(error), "unreadable"
            )
        except KeyboardInterrupt:
            raise
        except Exception as error:  # noqa: BLE001 - one file must never stop the batch
            message = (
                f"could not be graded ({type(error).__name__}: {error}); tell the course staff"
            )
            self._error_row(result, message, message, "not graded")
        result.notes = [printable(note) for note in result.notes]
        for item in result.items:
            item.output = printable(item.output)  # feedback quotes what the student's code said
        result.seconds = time.perf_counter() - start
        return result

    def _error_row(self, result, note, message, failure) -> None:
        """Every item of ``result`` zero, with ``message``; ``note`` for the whole submission."""
        result.notes.append(note)
        result.items = [
            ItemResult(
                item.name,
                item.check,
                0.0,
                item.points,
                f"`{item.name}`: {message}. 0 / {item.points:.4g} points.",
                [failure],
                item.visibility,
            )
            for item in self.items.values()
        ]

    def _grade_into(self, result: SubmissionResult, slot: int) -> None:
        """Read, run and check every item of one submission into ``result``."""
        cells = read_submission(result.path)
        trials = self.trials_for(result.name)
        cell_notes = None
        load_failure = None  # (limits, run) of a run that died before the cells had run
        with self.sandbox.submission(slot) as box:  # one sandbox per submission, never shared
            for item_name, item in self.items.items():
                task, inputs, expected = self.task(item_name, trials[item_name])
                if load_failure is not None and load_failure[0] == item.limits:
                    run = load_failure[1]  # same code, same limits: it would die the same way
                else:
                    run = box.run(task, cells, inputs, expected, run_limits(item.limits))
                    if run.failed_while_loading:
                        load_failure = (item.limits, run)
                result.items.append(self._check(item, run, trials[item_name], result.path.name))
                if cell_notes is None and run.status is not None:
                    cell_notes = [note[:300] for note in cell_errors(run.status)[:5]]
        if cell_notes:
            result.notes.append(
                "Your code raised while it was loaded (each cell still ran): "
                + "; ".join(cell_notes)
            )

    def _check(self, item, run, trials, file_name) -> ItemResult:
        """Score one run; what came back is the student's, so a surprise in it is a zero."""
        context = {"file_name": printable(file_name)}
        if item.check == "backward":
            context["forward_rtol"] = self.assignment.grading.items[item.forward].rtol
        try:
            return CHECKERS[item.check](item, trials, run, **context)
        except Exception as error:  # noqa: BLE001 - a forged status file must not stop the batch
            return ItemResult(
                item.name,
                item.check,
                0.0,
                item.points,
                f"`{item.name}`: what your code left behind could not be read "
                f"({type(error).__name__}). 0 / {item.points:.4g} points.",
                ["unreadable result"],
                item.visibility,
                run.seconds,
            )

    def grade_many(
        self, submissions: list, *, workers: int | None = None, progress: bool = True
    ) -> list:
        """Grade ``(name, path)`` pairs in parallel; results in the order given.

        Parameters
        ----------
        submissions : list of (str, path)
        workers : int, optional
            Concurrent sandboxes (default: the number of CPU cores).
        progress : bool
            Show a tqdm progress bar on stderr.

        Returns
        -------
        list of SubmissionResult
        """
        workers = _workers(workers)
        slots = queue.Queue()
        for slot in range(workers):
            slots.put(slot)

        def one(name, path):
            slot = slots.get()
            try:
                return self.grade_file(name, path, slot)
            finally:
                slots.put(slot)

        results = [None] * len(submissions)
        bar = _progress(len(submissions), progress)
        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            futures = {
                pool.submit(one, name, path): index
                for index, (name, path) in enumerate(submissions)
            }
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update(1)
        except BaseException:  # Ctrl-C: kill the runs going on, start no other
            self.sandbox.stop()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            bar.close()
        pool.shutdown()
        return results


def run_limits(limits):
    """The limits a sandboxed run gets: its wall clock covers the top-level code and the
    function (the harness stops each at its own limit; this is the backstop)."""
    return replace(limits, time=limits.wall_seconds)


def _with_limits(item, overrides):
    return replace(item, limits=item.limits.updated(overrides, "limits"))


def _workers(workers) -> int:
    if workers is None:
        return max(
            1,
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1,
        )
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int; got {workers!r}")
    return workers


class _NoBar:
    def update(self, _):
        pass

    def close(self):
        pass


def _progress(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    tty = sys.stderr.isatty()
    return tqdm(
        total=total,
        unit="submission",
        file=sys.stderr,
        ascii=not tty,
        ncols=None if tty else 70,
        mininterval=0.2 if tty else 5.0,
        desc="grading",
    )


def grade(
    source,
    submissions,
    *,
    json_dir=None,
    csv_path=None,
    workers: int | None = None,
    seed: int | None = None,
    limits: dict | None = None,
    progress: bool = True,
    isolate: bool = True,
    allow_unisolated: bool = False,
) -> BatchResult:
    """Grade submissions; write ``results.json`` files and a gradebook if asked.

    Parameters
    ----------
    source : str or Path
        A teacher's source file, or a shipped assignment's name.
    submissions : list of str or Path
        Files (``.py``, ``.ipynb``) and folders of them.
    json_dir : str or Path, optional
        Folder for one ``<name>.json`` (Gradescope's layout) per submission.
    csv_path : str or Path, optional
        The CSV gradebook to write.
    workers : int, optional
        Submissions graded at once (default: the CPU cores).
    seed : int, optional
        The hidden trials' seed (default: random; it is in the returned batch).
    limits : dict, optional
        Overrides of every item's limits.
    progress : bool
        Show a progress bar.
    isolate : bool
        Run submissions in bubblewrap sandboxes (default True).
    allow_unisolated : bool
        As root, grade even where bubblewrap cannot run (default False: refuse).

    Returns
    -------
    BatchResult
    """
    scan = scan_submissions(submissions)
    found = scan.submissions
    workers = _workers(workers)
    hide = [path for _, path in found] + [Path(path) for path in submissions]
    if json_dir is not None:
        json_dir = Path(json_dir)
        if json_dir.exists() and not json_dir.is_dir():
            raise ValueError(f"json_dir must be a directory; {str(json_dir)!r} is a file")
        json_dir.mkdir(parents=True, exist_ok=True)
        hide.append(json_dir)
    if csv_path is not None:
        csv_path = Path(csv_path)
        if csv_path.is_dir():
            raise ValueError(f"csv_path must be a file; {str(csv_path)!r} is a directory")
        hide.append(csv_path.resolve().parent)
    start = time.perf_counter()
    with Grader(
        source,
        seed=seed,
        limits=limits,
        hide=hide,
        isolate=isolate,
        allow_unisolated=allow_unisolated,
    ) as grader:
        results = grader.grade_many(found, workers=workers, progress=progress)
        isolation = grader.sandbox.isolation.describe()
        name = grader.assignment.name
        items = list(grader.items)
        seed = grader.seed
    if json_dir is not None:
        for result in results:
            write_results_json(json_dir / f"{result.name}.json", result)
    if csv_path is not None:
        write_gradebook(csv_path, results, items)
    return BatchResult(
        assignment=name,
        results=results,
        seed=seed,
        workers=workers,
        seconds=time.perf_counter() - start,
        isolation=isolation,
        skipped=scan.skipped,
    )
