"""One job of the sweep: a pure function from plain settings to plain results.

A job is a dict of JSON values (its *settings*) and :func:`run_job` turns it
into a dict of JSON values (its *result*), with no other input: the weights,
the batches and the probes are all seeded from the settings. So a job gives
the same numbers in any process, on any machine of the same NumPy build, in
any order, which is what lets the executor run jobs in parallel, on a Dask
cluster or across an interruption, and what :func:`job_key` hashes.

Two kinds:

``"train"`` (:func:`train_settings`)
    One architecture × task × seed × tuned settings (the learning rate, and
    the residual branch's initial scale where there is one): the gradient flow at
    initialisation, a training run with the protocol's optimizer, clipping
    and step budget, the final validation (and test) metric, the time per
    step, and the gradient flow after training.
``"flow"`` (:func:`flow_settings`)
    One architecture at initialisation: its (L, T) gradient-norm map and the
    singular values of its step Jacobians, for the figures.

Gradient flow is always :func:`numrnn.diagnostics.gradient_flow`: standard
normal inputs, an mse loss on the last of ``flow_T`` steps, the core's own
backward pass.

Shape legend: L layers, T steps, B batch, H hidden size.
"""

from __future__ import annotations

import hashlib
import json
import math
import time

import numpy as np

from .. import diagnostics
from .._version import __version__
from ..presets import build
from ..training import optim
from ..training.tasks import TASKS, SyntheticTask, make_task
from ..training.trainer import Trainer, TrainingDiverged

__all__ = [
    "FORMAT_VERSION",
    "TEST_SEED",
    "train_settings",
    "flow_settings",
    "job_key",
    "job_label",
    "run_job",
    "build_task",
    "build_model",
]

FORMAT_VERSION = 2
"""Version of the settings/result layout; part of every key: a new layout never reuses a job."""

TEST_SEED = 1
"""Seed of the test set of synthetic tasks (their validation set, which picks lr, is seed 0)."""

HISTORY_POINTS = 200
"""At most this many steps of each run's loss and gradient norm are kept (evenly spaced)."""


def train_settings(
    protocol, arch: str, task, hidden: int, transition_depth: int, seed: int, tuning: dict
) -> dict:
    """The settings of a training job.

    Parameters
    ----------
    protocol : numrnn.compare.Protocol
        Supplies the shared rules (steps, optimizer, clip, batch, dtype, probes).
    arch : str
        A key of :data:`numrnn.presets.ARCHITECTURES`.
    task : numrnn.compare.TaskSpec
    hidden : int
        H, solved for the budget.
    transition_depth : int
        q (the preset's, or the sweep's).
    seed : int
        Seed of the weights and of the training batches.
    tuning : dict
        One point of :meth:`numrnn.compare.Protocol.tuning_grid`: ``{"lr": lr}``,
        plus ``"residual_scale"`` for an architecture with a residual branch.

    Returns
    -------
    dict
        JSON-ready; every field changes the result, so every field is hashed.
    """
    if not isinstance(tuning, dict) or set(tuning) - {"lr", "residual_scale"} or "lr" not in tuning:
        raise ValueError(
            "tuning must be a dict with 'lr' and optionally 'residual_scale' "
            f"(a point of Protocol.tuning_grid); got {tuning!r}"
        )
    settings = {
        "kind": "train",
        "format": FORMAT_VERSION,
        "numrnn": __version__,
        "arch": arch,
        "task": task.settings(),
        "hidden": int(hidden),
        "transition_depth": int(transition_depth),
        "seed": int(seed),
        "lr": float(tuning["lr"]),
        "steps": protocol.steps,
        "optimizer": protocol.optimizer,
        "clip": protocol.clip,
        "batch_size": protocol.batch_size,
        "eval_every": protocol.eval_every,
        "dtype": protocol.dtype,
        "flow_T": protocol.flow_T,
        "flow_batch": protocol.flow_batch,
        "test_seed": TEST_SEED,
    }
    if "residual_scale" in tuning:  # absent for the others: their jobs keep their keys
        settings["residual_scale"] = float(tuning["residual_scale"])
    return settings


def flow_settings(
    protocol,
    arch: str,
    task,
    hidden: int,
    transition_depth: int,
    seed: int = 0,
    residual_scale: float | None = None,
) -> dict:
    """The settings of a gradient-flow job (one model at initialisation, for the figures).

    Parameters
    ----------
    protocol : numrnn.compare.Protocol
    arch : str
    task : numrnn.compare.TaskSpec
        Gives D and O.
    hidden, transition_depth, seed : int
        As for :func:`train_settings`.
    residual_scale : float or None, default None
        The residual branch's initial scale (None: numrnn's default; give it
        only for an architecture that has such a branch).

    Returns
    -------
    dict
    """
    settings = {
        "kind": "flow",
        "format": FORMAT_VERSION,
        "numrnn": __version__,
        "arch": arch,
        "task": task.settings(),
        "hidden": int(hidden),
        "transition_depth": int(transition_depth),
        "seed": int(seed),
        "dtype": protocol.dtype,
        "flow_T": protocol.flow_T,
        "flow_batch": protocol.flow_batch,
        "spectra_T": protocol.spectra_T,
    }
    if residual_scale is not None:
        settings["residual_scale"] = float(residual_scale)
    return settings


def job_key(settings: dict) -> str:
    """A 20-hex-digit SHA-256 of the settings' canonical JSON: equal settings, equal key.

    Parameters
    ----------
    settings : dict
        From :func:`train_settings` or :func:`flow_settings`.

    Returns
    -------
    str
    """
    if not isinstance(settings, dict) or "kind" not in settings:
        raise TypeError(
            f"settings must be a job's settings dict (from train_settings or flow_settings); "
            f"got {settings!r:.80}"
        )
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:20]


def job_label(settings: dict) -> str:
    """A short human name, the job's line in the progress log.

    ``"deep-transition-skip q=2 adding-50 seed 0 lr 0.003 residual scale 1"`` (a train job; the
    scale only where the architecture has a residual branch) or ``"vanilla q=0 adding-20 seed 0
    flow"``.
    """
    task = settings["task"]
    task_label = task["name"] + (f"-{task['seq_len']}" if "seq_len" in task else "")
    label = (
        f"{settings['arch']} q={settings['transition_depth']} {task_label} seed {settings['seed']}"
    )
    if settings["kind"] == "train":
        label += f" lr {settings['lr']:g}"
    if "residual_scale" in settings:
        label += f" residual scale {settings['residual_scale']:g}"
    return label if settings["kind"] == "train" else label + " flow"


def build_task(settings: dict, *, seed: int | None = None):
    """The task of a job's settings (validation set seed 0, or ``seed``).

    Parameters
    ----------
    settings : dict
    seed : int or None
        For synthetic tasks: the seed of the held-out set (None: the task's default, 0).

    Returns
    -------
    numrnn.training.tasks.Task
    """
    dtype = np.dtype(settings["dtype"]).type
    task = dict(settings["task"])
    name = task.pop("name")
    if name not in TASKS:  # "chorales" registers itself when present
        raise ValueError(
            f"task {name!r} is not available in this installation (tasks: {list(TASKS)}); the "
            f"polyphonic-music task needs the optional extra: python -m pip install 'numrnn[music]'"
        )
    if seed is not None:
        task["seed"] = seed
    return make_task(name, dtype=dtype, **task)


def build_model(settings: dict, input_size: int, output_size: int):
    """The job's model at initialisation (weights seeded by ``settings["seed"]``; the residual
    branch scaled by ``settings["residual_scale"]`` if given, else numrnn's default)."""
    scale = {"residual_scale": settings["residual_scale"]} if "residual_scale" in settings else {}
    return build(
        settings["arch"],
        input_size,
        settings["hidden"],
        output_size,
        transition_depth=settings["transition_depth"],
        dtype=np.dtype(settings["dtype"]).type,
        seed=settings["seed"],
        **scale,
    )


def _finite(value):
    """A float for JSON: None for NaN and inf."""
    value = float(value)
    return value if math.isfinite(value) else None


def _flow(model, settings: dict) -> dict | None:
    """The gradient-flow summary of ``model`` as JSON (None: no finite gradient at step T)."""
    try:
        flow = diagnostics.gradient_flow(
            model, settings["flow_T"], batch_size=settings["flow_batch"], seed=settings["seed"]
        )
        log_ratio = diagnostics.log_gradient_ratio(flow.grad_norms[-1])
    except (ValueError, FloatingPointError):
        return None
    return {
        "ratio": _finite(flow.ratio),
        "log10_ratio": _finite(log_ratio / math.log(10)),
        "rate": _finite(flow.rate),
        "verdict": flow.verdict,
        "grad_norms": [[_finite(v) for v in row] for row in flow.grad_norms],
    }


def _thin(values: np.ndarray, every: int) -> list:
    kept = list(range(0, len(values), every))
    if kept and kept[-1] != len(values) - 1:
        kept.append(len(values) - 1)
    return [_finite(values[i]) for i in kept]


def _train(settings: dict) -> dict:
    task = build_task(settings)
    model = build_model(settings, task.input_size, task.output_size)
    result = {
        "parameters": diagnostics.parameter_counts(model),
        "sequential_depth": diagnostics.sequential_depth(model.config)._asdict(),
        "flow_init": _flow(model, settings),
        "baseline": _finite(task.baseline.value),
        "baseline_description": task.baseline.description,
        "metric_name": task.metric_name,
    }
    optimizer = optim.make_optimizer(settings["optimizer"], lr=settings["lr"])
    trainer = Trainer(
        model,
        task,
        optimizer=optimizer,
        batch_size=settings["batch_size"],
        clip=settings["clip"],
        eval_every=0,
        seed=settings["seed"],
        progress=False,
    )
    steps, every = settings["steps"], settings["eval_every"]
    eval_step, val_metric, diverged = [0], [trainer.evaluate().metric], None
    train_seconds = 0.0
    try:
        while trainer.step < steps:
            start = time.perf_counter()
            trainer.train_step()
            train_seconds += time.perf_counter() - start
            if trainer.step % every == 0 or trainer.step == steps:
                eval_step.append(trainer.step)
                val_metric.append(trainer.evaluate().metric)
    except TrainingDiverged as error:
        diverged = {"step": error.step, "quantity": error.quantity}
    history = trainer.history
    done = int(trainer.step)
    thin = max(1, math.ceil(max(done, 1) / HISTORY_POINTS))
    final = val_metric[-1] if diverged is None else float("nan")
    test = test_baseline = test_task = None
    if isinstance(task, SyntheticTask):  # a fresh draw: the test set
        test_task = build_task(settings, seed=settings["test_seed"])
    elif callable(getattr(task, "held_out", None)):  # a data set's test split (e.g. chorales)
        test_task = task.held_out()
    if test_task is not None:
        test_baseline = test_task.baseline.value
        if diverged is None:
            test = Trainer(model, test_task, eval_every=0, progress=False).evaluate().metric
    result.update(
        {
            "diverged": diverged,
            "steps_done": done,
            "final_val_metric": _finite(final),
            "test_metric": None if test is None else _finite(test),
            "test_baseline": None if test_baseline is None else _finite(test_baseline),
            "held_out": "test" if test_baseline is not None else "validation",
            "flow_trained": None if diverged is not None else _flow(model, settings),
            "timing": {
                "seconds_per_step": train_seconds / done if done else None,
                "steps_per_second": done / train_seconds if train_seconds > 0 else None,
            },
            "history": {
                "step": list(range(1, done + 1))[::thin]
                + ([done] if done and (done - 1) % thin else []),
                "loss": _thin(history.loss, thin),
                "grad_norm": _thin(history.grad_norm, thin),
                "eval_step": eval_step,
                "val_metric": [_finite(v) for v in val_metric],
            },
        }
    )
    return result


def _spectra(model, settings: dict) -> list:
    x, _, _ = diagnostics.last_step_problem(
        model,
        settings["spectra_T"],
        batch_size=min(settings["flow_batch"], 4),
        seed=settings["seed"],
    )
    return [
        [[[float(f"{v:.6g}") for v in sigma] for sigma in step] for step in layer]
        for layer in diagnostics.jacobian_spectra(model, x)
    ]  # per layer (T, B, H)


def _span_log10(model, settings: dict) -> list:
    """log10 ‖∂h_T/∂h_t‖₂ of the top layer for distance T - t = 0..flow_T-1 (None: exactly 0)."""
    x, _, _ = diagnostics.last_step_problem(
        model, settings["flow_T"], batch_size=min(settings["flow_batch"], 4), seed=settings["seed"]
    )
    log_norms = diagnostics.span_norms(model, x, log=True) / math.log(10)  # (T,), by distance
    return [float(f"{v:.6g}") if math.isfinite(v) else None for v in log_norms]


def _flow_job(settings: dict) -> dict:
    task = build_task(settings)
    model = build_model(settings, task.input_size, task.output_size)
    return {
        "parameters": diagnostics.parameter_counts(model),
        "flow_init": _flow(model, settings),
        "spectra": _spectra(model, settings),
        "span_log10": _span_log10(model, settings),
    }


def run_job(settings: dict) -> dict:
    """Run one job: its settings in, its result out, both plain JSON data.

    Parameters
    ----------
    settings : dict
        From :func:`train_settings` or :func:`flow_settings`.

    Returns
    -------
    dict
        ``{"key", "settings", "result"}``; the result of a ``"train"`` job
        holds ``parameters``, ``sequential_depth``, ``flow_init``,
        ``flow_trained``, ``final_val_metric``, ``test_metric``, ``baseline``,
        ``diverged``, ``timing`` and a thinned ``history``; that of a
        ``"flow"`` job ``parameters``, ``flow_init``, ``spectra`` (per
        layer, (T, B, H) singular values) and ``span_log10`` (log10 of
        ``‖∂h_T/∂h_t‖₂`` by distance T - t, top layer). NaN and inf become None.

    Raises
    ------
    ValueError
        If ``settings["kind"]`` is neither "train" nor "flow".
    """
    key = job_key(settings)
    kinds = {"train": _train, "flow": _flow_job}
    if settings["kind"] not in kinds:
        raise ValueError(f"settings['kind'] must be 'train' or 'flow'; got {settings['kind']!r}")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = kinds[settings["kind"]](settings)
    return {"key": key, "settings": settings, "result": result}
