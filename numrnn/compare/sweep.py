"""Run the comparison's jobs: plan them, send them to an executor, keep every finished one.

The sweep has two rounds. Round one trains the tuning seeds (0 and 1 by
default) of every configuration (architecture × task, and transition depth q
of the depth sweep) at every point of its tuning grid
(:meth:`numrnn.compare.Protocol.tuning_grid`: every learning rate of the
protocol's grid, times every initial scale of the residual branch for an
architecture that has one). The point with the best mean final *validation*
metric over those seeds is then chosen per configuration, and round two
trains the other seeds with it and computes each architecture's
gradient-flow picture at the initialisation it chose. So every architecture
is tuned on the same learning rates, by the same rule, on held-out data.

Jobs are pure (:func:`numrnn.compare.jobs.run_job`) and go through any
:class:`concurrent.futures.Executor`: worker processes on this machine, this
process itself (:class:`InlineExecutor`, one worker), or a Dask cluster's
``client.get_executor()``. Each finished job is written atomically to
``DIR/jobs/<key>.json``, where ``key`` hashes the job's settings: a rerun with
the same arguments finds it and skips it, and a job whose settings differ
has another key, so it is never reused. The results are collected in plan
order, so they do not depend on which worker finished first.
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from .budget import preset_depth, solve_width
from .jobs import build_task, flow_settings, job_key, job_label, run_job, train_settings
from .protocol import Protocol

__all__ = [
    "InlineExecutor",
    "Configuration",
    "Sweep",
    "plan_configurations",
    "choose_tuning",
    "run_sweep",
    "write_json_atomically",
    "write_text_atomically",
]


class InlineExecutor(concurrent.futures.Executor):
    """An executor that runs each job in this process when it is submitted (``--workers 1``)."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to the caller through the future
            if isinstance(error, KeyboardInterrupt):
                raise
            future.set_exception(error)
        return future


class Configuration(NamedTuple):
    """One model of the comparison: an architecture on a task at a transition depth.

    Attributes
    ----------
    arch : str
    task : numrnn.compare.TaskSpec
    transition_depth : int
        q: the preset's for the main table, the swept one for the depth sweep.
    hidden : int
        H, solved for the parameter budget.
    parameters : dict of str to int
        Counts at that width (input, transition, output, total).
    relative_error : float
        ``(total - budget) / budget``.
    input_size, output_size : int
        D and O of the task.
    """

    arch: str
    task: object
    transition_depth: int
    hidden: int
    parameters: dict
    relative_error: float
    input_size: int
    output_size: int


class Sweep(NamedTuple):
    """Every job's result, by the role it plays in the report.

    Attributes
    ----------
    configurations : list of Configuration
        In plan order: the main table (task-major), then the depth sweep.
    tuning_grids : dict
        ``index of configuration -> list of dict``, its
        :meth:`~numrnn.compare.Protocol.tuning_grid`.
    tuning_results : dict
        ``(index, k) -> [result of seed 0, 1, ...]``: the tuning seeds at point
        ``k`` of its tuning grid.
    chosen : dict
        ``index -> k``, the point chosen on validation.
    seed_results : dict
        ``index -> [result of seed 0, 1, ...]`` at the chosen point.
    flow_results : dict
        ``arch -> result`` of the flow job (gradient map and Jacobian spectra), at the
        residual scale chosen for ``arch`` on the sweep task.
    cached : int
        Jobs found in ``DIR/jobs`` instead of run.
    ran : int
        Jobs run now.
    """

    configurations: list
    tuning_grids: dict
    tuning_results: dict
    chosen: dict
    seed_results: dict
    flow_results: dict
    cached: int
    ran: int


def write_text_atomically(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, then ``os.replace``.

    The file gets the usual permissions (0666 minus the umask), not the private 0600 of a
    temporary file, so a report can be served or shared like any file the user writes.

    Parameters
    ----------
    path : str or Path
    text : str
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json_atomically(path, data) -> None:
    """Write ``data`` as JSON to ``path`` atomically (:func:`write_text_atomically`).

    Parameters
    ----------
    path : str or Path
    data : JSON-ready object (no NaN: write None)
    """
    write_text_atomically(path, json.dumps(data, indent=1, allow_nan=False) + "\n")


def plan_configurations(protocol: Protocol) -> list:
    """Every configuration of the main table and of the depth sweep, widths solved.

    Parameters
    ----------
    protocol : Protocol

    Returns
    -------
    list of Configuration
        Task-major for the main table (each architecture at its preset's q),
        then the sweep (each swept architecture at each q, on
        ``protocol.sweep_task``). A sweep configuration equal to a main one
        (same architecture and q) is listed once.

    Raises
    ------
    ValueError
        If the budget cannot be met within the tolerance for some
        configuration (the message says which and what budget works).
    """
    sizes = {}
    for task in protocol.tasks:
        built = build_task({"task": task.settings(), "dtype": protocol.dtype})
        sizes[task.label] = (built.input_size, built.output_size)
    wanted = [
        (arch, task, preset_depth(arch))
        for task in protocol.tasks
        for arch in protocol.architectures
    ]
    wanted += [
        (arch, protocol.sweep_task, q)
        for arch in protocol.sweep_architectures
        for q in protocol.depths
    ]
    configurations, seen = [], set()
    for arch, task, q in wanted:
        if (arch, task.label, q) in seen:
            continue
        seen.add((arch, task.label, q))
        D, O = sizes[task.label]
        width = solve_width(
            arch, D, O, protocol.budget, tolerance=protocol.tolerance, transition_depth=q
        )
        configurations.append(
            Configuration(arch, task, q, width.hidden, width.parameters, width.relative_error, D, O)
        )
    return configurations


def choose_tuning(grid: list, results: list) -> int:
    """The point of a tuning grid with the lowest mean final validation metric over its seeds.

    Parameters
    ----------
    grid : list of dict
        :meth:`numrnn.compare.Protocol.tuning_grid` of one architecture.
    results : list of list of dict
        Per point (in the order of ``grid``), the train jobs' results of the
        tuning seeds. A point where any run diverged (or has no finite
        metric) counts as +inf. Ties go to the smaller learning rate, then
        to the smaller residual scale.

    Returns
    -------
    int
        The index of the chosen point.

    Examples
    --------
    >>> grid = [{"lr": 0.01}, {"lr": 0.001}, {"lr": 0.1}]
    >>> def runs(*values):
    ...     return [{"final_val_metric": value} for value in values]
    >>> choose_tuning(grid, [runs(1.0, 3.0), runs(2.0, 2.0), runs(0.1, None)])
    1
    """
    if len(grid) != len(results) or not grid or not all(results):
        raise ValueError(
            "grid and results must be non-empty and of one length, with at least one result "
            f"per point; got {len(grid)} points and {[len(r) for r in results]} results"
        )

    def score(k):
        values = [run["final_val_metric"] for run in results[k]]
        mean = math.inf if None in values else sum(values) / len(values)
        return (mean, grid[k]["lr"], grid[k].get("residual_scale", 0.0))

    return min(range(len(grid)), key=score)


def _settings_of(protocol, configuration, seed, tuning):
    return train_settings(
        protocol,
        configuration.arch,
        configuration.task,
        configuration.hidden,
        configuration.transition_depth,
        seed,
        tuning,
    )


def _load_finished(path: Path, settings: dict):
    """The stored job at ``path`` if it holds exactly these settings, else None."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # absent or a torn/corrupt file: run the job again
    if not isinstance(stored, dict) or stored.get("settings") != settings or "result" not in stored:
        return None
    return stored


def summary_line(job: dict) -> str:
    """A one-line summary of a finished job, for the progress bar."""
    settings, result = job["settings"], job["result"]
    label = job_label(settings)
    flow = result.get("flow_init")
    ratio = (
        "no finite gradient" if flow is None or flow["ratio"] is None else f"{flow['ratio']:.2g}"
    )
    if settings["kind"] == "flow":
        return f"{label}: gradient ratio at init {ratio}"
    if result["diverged"] is not None:
        outcome = f"diverged at step {result['diverged']['step']}"
    else:
        outcome = (
            f"val {result['metric_name']} {result['final_val_metric']:.4g} "
            f"(baseline {result['baseline']:.4g})"
        )
    seconds = result["timing"]["seconds_per_step"]
    speed = "" if seconds is None else f", {seconds * 1e3:.2f} ms/step"
    return f"{label}: {outcome}, gradient ratio at init {ratio}{speed}"


def _run_round(jobs, executor, jobs_dir: Path, bar, counts, in_flight: int) -> dict:
    """Run (or load) ``jobs`` (a list of settings); return ``key -> job`` for all of them.

    At most ``in_flight`` jobs are submitted at a time, and each is written to
    ``jobs_dir`` as soon as it finishes: an interruption loses only the jobs
    still running.
    """
    finished, waiting = {}, []
    for settings in jobs:
        key = job_key(settings)
        if key in finished or any(key == other for other, _ in waiting):
            continue
        stored = _load_finished(jobs_dir / f"{key}.json", settings)
        if stored is None:
            waiting.append((key, settings))
            continue
        finished[key] = stored
        counts["cached"] += 1
        bar.update(1)
        bar.write(summary_line(stored) + " [done before]")
    running = set()
    waiting.reverse()  # pop() from the end: plan order
    while waiting or running:
        while waiting and len(running) < in_flight:
            running.add(executor.submit(run_job, waiting.pop()[1]))
        done, running = concurrent.futures.wait(
            running, return_when=concurrent.futures.FIRST_COMPLETED
        )
        for future in done:
            job = future.result()
            write_json_atomically(jobs_dir / f"{job['key']}.json", job)
            finished[job["key"]] = job
            counts["ran"] += 1
            bar.update(1)
            bar.write(summary_line(job))
    return finished


def count_jobs(protocol: Protocol, configurations: list) -> int:
    """How many jobs the sweep runs (before any is found done): for the progress bar."""
    flows = len(protocol.architectures)
    return flows + sum(
        len(protocol.tuning_grid(c.arch)) * protocol.tuning_seeds
        + protocol.seeds
        - protocol.tuning_seeds
        for c in configurations
    )


def run_sweep(
    protocol: Protocol,
    out,
    executor=None,
    progress: bool = True,
    in_flight: int | None = None,
    configurations: list | None = None,
) -> Sweep:
    """Plan, run (or resume) and collect every job of ``protocol``.

    Parameters
    ----------
    protocol : Protocol
    out : str or Path
        The report folder; finished jobs go to ``out/jobs/``.
    executor : concurrent.futures.Executor or None, default None
        Where jobs run; None runs them in this process.
    progress : bool, default True
        Show progress: a bar over jobs on a terminal (stderr), and one line per finished job.
    in_flight : int or None, default None
        Most jobs submitted at once; None: 1 for :class:`InlineExecutor`
        (which runs a job when it is submitted), else twice the executor's
        workers (64 if it does not say).
    configurations : list of Configuration or None, default None
        :func:`plan_configurations` of ``protocol``, if the caller has it already.

    Returns
    -------
    Sweep
    """
    from tqdm.auto import tqdm

    jobs_dir = Path(out) / "jobs"
    jobs_dir.mkdir(parents=True, exist_ok=True)
    executor = InlineExecutor() if executor is None else executor
    if in_flight is None:
        workers = getattr(executor, "_max_workers", 32)
        in_flight = 1 if isinstance(executor, InlineExecutor) else 2 * workers
    if configurations is None:
        configurations = plan_configurations(protocol)
    counts = {"cached": 0, "ran": 0}
    bar = tqdm(
        total=count_jobs(protocol, configurations),
        unit="job",
        desc="numrnn compare",
        # None: a bar only on a terminal; in a log or a pipe only the one line per finished job
        # (tqdm.write), never hundreds of carriage-return redraws.
        disable=None if progress else True,
        dynamic_ncols=True,
    )
    if not progress:
        bar.write = lambda *args, **kwargs: None
    try:
        grids = {
            index: protocol.tuning_grid(configuration.arch)
            for index, configuration in enumerate(configurations)
        }
        tuning_seeds = range(protocol.tuning_seeds)
        tuning_jobs = {
            (index, k, seed): _settings_of(protocol, configuration, seed, point)
            for index, configuration in enumerate(configurations)
            for k, point in enumerate(grids[index])
            for seed in tuning_seeds
        }
        first = _run_round(list(tuning_jobs.values()), executor, jobs_dir, bar, counts, in_flight)
        tuning_results = {
            (index, k): [
                first[job_key(tuning_jobs[(index, k, seed)])]["result"] for seed in tuning_seeds
            ]
            for index, grid in grids.items()
            for k in range(len(grid))
        }
        chosen = {
            index: choose_tuning(grid, [tuning_results[(index, k)] for k in range(len(grid))])
            for index, grid in grids.items()
        }
        seed_jobs = {
            (index, seed): _settings_of(protocol, configuration, seed, grids[index][chosen[index]])
            for index, configuration in enumerate(configurations)
            for seed in range(protocol.tuning_seeds, protocol.seeds)
        }
        flow_jobs = {}  # each architecture's picture at the initialisation its tuning chose
        for arch in protocol.architectures:
            index, match = next(
                (i, c)
                for i, c in enumerate(configurations)
                if c.arch == arch and c.task == protocol.sweep_task
            )
            flow_jobs[arch] = flow_settings(
                protocol,
                arch,
                protocol.sweep_task,
                match.hidden,
                match.transition_depth,
                residual_scale=grids[index][chosen[index]].get("residual_scale"),
            )
        done = _run_round(
            list(flow_jobs.values()) + list(seed_jobs.values()),
            executor,
            jobs_dir,
            bar,
            counts,
            in_flight,
        )
    finally:
        bar.close()
    seed_results = {
        index: tuning_results[(index, chosen[index])]
        + [
            done[job_key(seed_jobs[(index, seed)])]["result"]
            for seed in range(protocol.tuning_seeds, protocol.seeds)
        ]
        for index in range(len(configurations))
    }
    flow_results = {arch: done[job_key(settings)]["result"] for arch, settings in flow_jobs.items()}
    return Sweep(
        configurations, grids, tuning_results, chosen, seed_results, flow_results, **counts
    )
