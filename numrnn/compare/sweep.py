"""Run the comparison's jobs: plan them, send them to an executor, keep every finished one.

The sweep runs in rounds. The tuning rounds are a successive halving: every
configuration (architecture × task, and transition depth q of the depth
sweeps) trains every point of its tuning grid
(:meth:`numrnn.compare.Protocol.tuning_grid`, the same number of points for
every architecture) on the tuning seeds for the first rung's steps; the best
``1 / halving_rate`` of the points by mean *validation* metric go on to the
next rung, and the best point of the last rung (the full step budget) is
chosen. The last round trains the chosen point on the reporting seeds, which
no tuning run used, and computes each architecture's gradient-flow picture
at the initialisation it chose. So every architecture is tuned with as many
points, by the same rule, on held-out data, and measured on fresh seeds.

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

from .budget import count_parameters, preset_depth, solve_width
from .jobs import build_task, flow_settings, job_key, job_label, run_job, train_settings
from .protocol import Protocol

__all__ = [
    "InlineExecutor",
    "Configuration",
    "halving_schedule",
    "rank_tuning",
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
    roles : tuple of str
        Where the report uses it: ``"main"`` (the table, the preset's q),
        ``"budget sweep"`` (q swept at the parameter budget), ``"width sweep"``
        (q swept at one fixed width).
    """

    arch: str
    task: object
    transition_depth: int
    hidden: int
    parameters: dict
    relative_error: float
    input_size: int
    output_size: int
    roles: tuple = ("main",)


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
        ``(index, rung, k) -> [result of each tuning seed]``: point ``k`` of
        its tuning grid at rung ``rung`` of the successive halving (only the
        points that reached that rung).
    chosen : dict
        ``index -> k``, the point chosen on validation.
    seed_results : dict
        ``index -> [result of each reporting seed]`` at the chosen point.
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
    """Every configuration of the main table and of the depth sweeps, widths solved.

    Parameters
    ----------
    protocol : Protocol

    Returns
    -------
    list of Configuration
        Task-major for the main table (each architecture at its preset's q),
        then the budget-matched sweep (each swept architecture at each q, on
        ``protocol.sweep_task``, H solved for the budget), then, if
        ``protocol.fixed_width_sweep``, the fixed-width sweep (each q at the
        width the preset's q has at the budget). A configuration planned
        twice (same architecture, task, q and H) is listed once, with every role.

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
    planned = {}  # (arch, task label, q, H) -> Configuration

    def add(arch, task, q, role, hidden=None):
        D, O = sizes[task.label]
        if hidden is None:
            width = solve_width(
                arch, D, O, protocol.budget, tolerance=protocol.tolerance, transition_depth=q
            )
            hidden, counts = width.hidden, width.parameters
        else:
            counts = count_parameters(arch, D, O, hidden, q)
        key = (arch, task.label, q, hidden)
        if key in planned:
            planned[key] = planned[key]._replace(roles=planned[key].roles + (role,))
            return
        error = (counts["total"] - protocol.budget) / protocol.budget
        planned[key] = Configuration(arch, task, q, hidden, counts, error, D, O, (role,))

    for task in protocol.tasks:
        for arch in protocol.architectures:
            add(arch, task, preset_depth(arch), "main")
    for arch in protocol.sweep_architectures:
        for q in protocol.depths:
            add(arch, protocol.sweep_task, q, "budget sweep")
    if protocol.fixed_width_sweep:
        for arch in protocol.sweep_architectures:
            D, O = sizes[protocol.sweep_task.label]
            hidden = solve_width(
                arch,
                D,
                O,
                protocol.budget,
                tolerance=protocol.tolerance,
                transition_depth=preset_depth(arch),
            ).hidden
            for q in protocol.depths:
                add(arch, protocol.sweep_task, q, "width sweep", hidden)
    return list(planned.values())


def rank_tuning(grid: list, results: list) -> list:
    """The points of a tuning grid, best first, by mean final validation metric over their seeds.

    Parameters
    ----------
    grid : list of dict
        Points of :meth:`numrnn.compare.Protocol.tuning_grid` of one architecture.
    results : list of list of dict
        Per point (in the order of ``grid``), the train jobs' results of the
        tuning seeds. A point where any run diverged (or has no finite
        metric) counts as +inf. Ties go to the smaller learning rate, then
        to the smaller residual scale.

    Returns
    -------
    list of int
        Indices into ``grid``, best first.
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

    return sorted(range(len(grid)), key=score)


def choose_tuning(grid: list, results: list) -> int:
    """The point of a tuning grid with the lowest mean final validation metric over its seeds.

    Parameters
    ----------
    grid, results
        As for :func:`rank_tuning`, whose first point this is.

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
    return rank_tuning(grid, results)[0]


def _settings_of(protocol, configuration, seed, tuning, steps=None, reporting=True):
    return train_settings(
        protocol,
        configuration.arch,
        configuration.task,
        configuration.hidden,
        configuration.transition_depth,
        seed,
        tuning,
        steps=steps,
        reporting=reporting,
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
        ""
        if flow is None
        else f", worst layer {flow['worst']['layer']} at init: log10 gradient ratio "
        f"{'' if flow['worst']['bound'] is None else flow['worst']['bound'] + ' '}"
        f"{flow['worst']['log10_ratio']:.3g} ({flow['verdict']})"
    )
    if settings["kind"] == "flow":
        return f"{label}{ratio}"
    if result["diverged"] is not None:
        outcome = f"diverged at step {result['diverged']['step']}"
    else:
        outcome = (
            f"val {result['metric_name']} {result['final_val_metric']:.4g} "
            f"(baseline {result['baseline']:.4g})"
        )
    seconds = result["timing"]["seconds_per_step"]
    speed = "" if seconds is None else f", {seconds * 1e3:.2f} ms/step"
    return f"{label}: {outcome}{ratio}{speed}"


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


def halving_schedule(protocol: Protocol, points: int) -> list:
    """How many points of a tuning grid train at each rung of the successive halving.

    Parameters
    ----------
    protocol : Protocol
    points : int
        Points of the grid.

    Returns
    -------
    list of int
        One count per rung: ``points`` at the first, then each count the
        previous one divided by ``protocol.halving_rate``, rounded up.

    Examples
    --------
    >>> from numrnn.compare import DEFAULT
    >>> halving_schedule(DEFAULT, 6)
    [6, 2]
    """
    counts = [points]
    for _ in protocol.tuning_rungs[1:]:
        counts.append(max(1, math.ceil(counts[-1] / protocol.halving_rate)))
    return counts


def count_jobs(protocol: Protocol, configurations: list) -> int:
    """How many jobs the sweep runs (before any is found done): for the progress bar."""
    flows = len(protocol.architectures)
    tuning = sum(
        sum(halving_schedule(protocol, len(protocol.tuning_grid(c.arch)))) * protocol.tuning_seeds
        for c in configurations
    )
    return flows + tuning + len(configurations) * protocol.seeds


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
        tuning_seeds = protocol.tuning_seed_list
        alive = {index: list(range(len(grid))) for index, grid in grids.items()}
        tuning_results = {}
        for rung, steps in enumerate(protocol.rung_steps):
            if rung:  # successive halving: the best of the last rung go on
                for index, grid in grids.items():
                    ranked = rank_tuning(
                        [grid[k] for k in alive[index]],
                        [tuning_results[(index, rung - 1, k)] for k in alive[index]],
                    )
                    keep = halving_schedule(protocol, len(grid))[rung]
                    alive[index] = sorted(alive[index][r] for r in ranked[:keep])
            jobs = {
                (index, k, seed): _settings_of(
                    protocol, configurations[index], seed, grids[index][k], steps, False
                )
                for index in grids
                for k in alive[index]
                for seed in tuning_seeds
            }
            done = _run_round(list(jobs.values()), executor, jobs_dir, bar, counts, in_flight)
            for index in grids:
                for k in alive[index]:
                    tuning_results[(index, rung, k)] = [
                        done[job_key(jobs[(index, k, seed)])]["result"] for seed in tuning_seeds
                    ]
        last = len(protocol.rung_steps) - 1
        chosen = {
            index: alive[index][
                rank_tuning(
                    [grid[k] for k in alive[index]],
                    [tuning_results[(index, last, k)] for k in alive[index]],
                )[0]
            ]
            for index, grid in grids.items()
        }
        seed_jobs = {
            (index, seed): _settings_of(protocol, configuration, seed, grids[index][chosen[index]])
            for index, configuration in enumerate(configurations)
            for seed in protocol.reporting_seed_list
        }
        flow_jobs = {}  # each architecture's picture at the initialisation its tuning chose
        for arch in protocol.architectures:
            index, match = next(
                (i, c)
                for i, c in enumerate(configurations)
                if c.arch == arch and c.task == protocol.sweep_task and "main" in c.roles
            )
            flow_jobs[arch] = flow_settings(
                protocol,
                arch,
                protocol.sweep_task,
                match.hidden,
                match.transition_depth,
                seed=protocol.reporting_seed_list[0],
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
        index: [
            done[job_key(seed_jobs[(index, seed)])]["result"]
            for seed in protocol.reporting_seed_list
        ]
        for index in range(len(configurations))
    }
    flow_results = {arch: done[job_key(settings)]["result"] for arch, settings in flow_jobs.items()}
    return Sweep(
        configurations, grids, tuning_results, chosen, seed_results, flow_results, **counts
    )
