"""One job of the sweep: a pure function from plain settings to plain results.

A job is a dict of JSON values (its *settings*) and :func:`run_job` turns it
into a dict of JSON values (its *result*), with no other input: the weights,
the batches and the probes are all seeded from the settings. So a job gives
the same numbers in any process, on any machine of the same NumPy build, in
any order, which is what lets the executor run jobs in parallel, on a Dask
cluster or across an interruption, and what :func:`job_key` hashes.

Two kinds:

``"train"`` (:func:`train_settings`)
    One architecture × task × seed × tuning point (the learning rate, and
    the residual branch's initial scale where there is one) × step count (a
    rung of the successive halving, or the full budget): a training run with
    the protocol's optimizer and clipping, the final validation (and test)
    metric, the time per step and, for a reporting run, the per-layer
    gradient flow at initialisation and at every evaluation.
``"flow"`` (:func:`flow_settings`)
    One architecture at initialisation: its (L, T) gradient-norm map, the
    singular values of its step Jacobians and the norms of their products,
    for the figures.

Gradient flow is always :func:`numrnn.diagnostics.flow_by_layer`: float64,
on the first ``flow_batch`` sequences of the task's own validation inputs,
at the task's own length, every layer, with underflow kept as a bound.

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
    "VALIDATION_SEED",
    "TEST_SEED",
    "train_settings",
    "flow_settings",
    "job_key",
    "job_label",
    "run_job",
    "build_task",
    "build_model",
]

FORMAT_VERSION = 3
"""Version of the settings/result layout; part of every key: a new layout never reuses a job."""

VALIDATION_SEED = 0
"""Seed of the validation set of synthetic tasks (it picks the tuning point), plus the offset."""

TEST_SEED = 1
"""Seed of the test set of synthetic tasks (it scores the reporting runs), plus the run's offset."""

HISTORY_POINTS = 200
"""At most this many steps of each run's loss and gradient norm are kept (evenly spaced)."""


def train_settings(
    protocol,
    arch: str,
    task,
    hidden: int,
    transition_depth: int,
    seed: int,
    tuning: dict,
    *,
    steps: int | None = None,
    reporting: bool = True,
) -> dict:
    """The settings of a training job.

    Parameters
    ----------
    protocol : numrnn.compare.Protocol
        Supplies the shared rules (steps, optimizer, clip, batch, dtype, probes, seed offset).
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
    steps : int or None, default None
        Training steps (a rung of the successive halving); None: ``protocol.steps``.
    reporting : bool, default True
        A reporting run also measures the per-layer gradient flow at
        initialisation and at every evaluation; a tuning run does not.

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
        "steps": protocol.steps if steps is None else int(steps),
        "optimizer": protocol.optimizer,
        "clip": protocol.clip,
        "batch_size": protocol.batch_size,
        "eval_every": protocol.eval_every,
        "dtype": protocol.dtype,
        "flow_batch": protocol.flow_batch,
        "measure_flow": bool(reporting),
        "validation_seed": VALIDATION_SEED + protocol.seed_offset,
        "test_seed": TEST_SEED + protocol.seed_offset,
    }
    if "residual_scale" in tuning:  # absent for the others: their jobs keep their keys
        settings["residual_scale"] = float(tuning["residual_scale"])
    if protocol.early_stopping:  # absent when off: the jobs of other runs keep their keys
        settings["early_stopping"] = True
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
        Gives D, O, T and the inputs.
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
        "dtype": "float64",
        "flow_batch": protocol.flow_batch,
        "spectra_T": protocol.spectra_T,
        "validation_seed": VALIDATION_SEED + protocol.seed_offset,
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
        if not settings.get("measure_flow", True):
            label += f" (tuning, {settings['steps']} steps)"
    if "residual_scale" in settings:
        label += f" residual scale {settings['residual_scale']:g}"
    return label if settings["kind"] == "train" else label + " flow"


def build_task(settings: dict, *, seed: int | None = None):
    """The task of a job's settings, its held-out set drawn with ``settings["validation_seed"]``.

    Parameters
    ----------
    settings : dict
    seed : int or None
        For synthetic tasks: the seed of the held-out set (None: the settings'
        ``validation_seed``, else the task's default, 0).

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
    if seed is None:
        seed = settings.get("validation_seed")
    if seed is not None and _seeded(name):
        task["seed"] = seed
    return make_task(name, dtype=dtype, **task)


def _seeded(name: str) -> bool:
    """Whether task ``name`` draws its held-out set from a ``seed`` (the synthetic ones)."""
    return isinstance(TASKS.get(name), type) and issubclass(TASKS[name], SyntheticTask)


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


def flow_inputs(task, flow_batch: int) -> np.ndarray:
    """The task's own inputs for the gradient flow: the first sequences of its validation set.

    Parameters
    ----------
    task : numrnn.training.tasks.Task
    flow_batch : int
        B, at most the validation set's first batch.

    Returns
    -------
    ndarray of shape (T, B, D), float64
    """
    x = task.validation_batches(flow_batch)[0].x
    return np.asarray(x[:, :flow_batch], dtype=np.float64)  # (T, B, D)


def _flow(model, x: np.ndarray, seed: int) -> dict | None:
    """The per-layer gradient flow of ``model`` on ``x`` as JSON (None: none could be measured)."""
    try:
        flow = diagnostics.flow_by_layer(model, x, seed=seed)
    except (ValueError, FloatingPointError):
        return None
    return _json_ready(flow.to_dict())


def _json_ready(value):
    """NaN and inf as None, all the way down (results.json is strict JSON)."""
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, (float, np.floating)):
        return _finite(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _thin(values: np.ndarray, every: int) -> list:
    kept = list(range(0, len(values), every))
    if kept and kept[-1] != len(values) - 1:
        kept.append(len(values) - 1)
    return [_finite(values[i]) for i in kept]


class _Checkpoint:
    """A copy of a model's parameters at one evaluation, with the step and validation metric."""

    def __init__(self, model, step: int, metric: float):
        self.params = {name: value.copy() for name, value in model.params.items()}
        self.step, self.metric = int(step), float(metric)

    def restore(self, model) -> None:
        """Write the copied values back into the model's own arrays (in place)."""
        for name, value in self.params.items():
            model.params[name][...] = value


def _train(settings: dict) -> dict:
    task = build_task(settings)
    model = build_model(settings, task.input_size, task.output_size)
    measure_flow = settings["measure_flow"]
    x_flow = flow_inputs(task, settings["flow_batch"]) if measure_flow else None
    result = {
        "parameters": diagnostics.parameter_counts(model),
        "sequential_depth": diagnostics.sequential_depth(model.config)._asdict(),
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
    flows = [_flow(model, x_flow, settings["seed"])] if measure_flow else []
    early_stopping = settings.get("early_stopping", False)
    best = _Checkpoint(model, 0, val_metric[0]) if early_stopping else None
    train_seconds = 0.0
    try:
        while trainer.step < steps:
            start = time.perf_counter()
            trainer.train_step()
            train_seconds += time.perf_counter() - start
            if trainer.step % every == 0 or trainer.step == steps:
                eval_step.append(trainer.step)
                val_metric.append(trainer.evaluate().metric)
                if measure_flow:
                    flows.append(_flow(model, x_flow, settings["seed"]))
                if early_stopping and val_metric[-1] < best.metric:
                    best = _Checkpoint(model, trainer.step, val_metric[-1])
    except TrainingDiverged as error:
        diverged = {"step": error.step, "quantity": error.quantity}
    history = trainer.history
    done = int(trainer.step)
    thin = max(1, math.ceil(max(done, 1) / HISTORY_POINTS))
    final = val_metric[-1] if diverged is None else float("nan")
    if best is not None and diverged is None:
        best.restore(model)  # the held-out score below is the best checkpoint's
        final = best.metric
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
            "stopped_at": None if best is None or diverged is not None else best.step,
            "test_metric": None if test is None else _finite(test),
            "test_baseline": None if test_baseline is None else _finite(test_baseline),
            "held_out": "test" if test_baseline is not None else "validation",
            "flow_init": flows[0] if flows else None,
            "flow_during_training": {"eval_step": eval_step[: len(flows)], "flow": flows},
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


def _spectra(model, x: np.ndarray) -> list:
    """Singular values of every step Jacobian on the first ``spectra_T`` steps of ``x``."""
    return [
        [[[float(f"{v:.6g}") for v in sigma] for sigma in step] for step in layer]
        for layer in diagnostics.jacobian_spectra(model, x)
    ]  # per layer (T, B, H)


def _span_log10(model, x: np.ndarray) -> list:
    """log10 ‖∂h_T/∂h_t‖₂ of the top layer for distance T - t = 0..T-1 (None: exactly 0)."""
    log_norms = diagnostics.span_norms(model, x, log=True) / math.log(10)  # (T,), by distance
    return [float(f"{v:.6g}") if math.isfinite(v) else None for v in log_norms]


def _flow_job(settings: dict) -> dict:
    task = build_task(settings)  # float64, as the settings say
    model = build_model(settings, task.input_size, task.output_size)
    x = flow_inputs(task, settings["flow_batch"])  # (T, B, D)
    return {
        "parameters": diagnostics.parameter_counts(model),
        "flow_init": _flow(model, x, settings["seed"]),
        "spectra": _spectra(model, x[: settings["spectra_T"], : min(settings["flow_batch"], 4)]),
        "span_log10": _span_log10(model, x[:, : min(settings["flow_batch"], 4)]),
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
        holds ``parameters``, ``sequential_depth``, ``flow_init`` and
        ``flow_during_training`` (per-layer flow, ``FlowByLayer.to_dict()``,
        for a reporting run; None and empty for a tuning run),
        ``final_val_metric`` (with ``settings["early_stopping"]``, the best
        evaluation's, whose step is ``stopped_at``, else the last one's),
        ``test_metric`` (of the same parameters), ``baseline``, ``diverged``,
        ``timing`` and a thinned ``history``; that of a ``"flow"`` job
        ``parameters``, ``flow_init``, ``spectra`` (per layer, (T, B, H)
        singular values) and ``span_log10`` (log10 of ``‖∂h_T/∂h_t‖₂`` by
        distance T - t, top layer). NaN and inf become None.

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
