"""The training loop: batches, truncated BPTT, clipping, an optimizer, evaluation, history.

One step (``docs/training.md``, section "The trainer")::

    batch = task.train_batch(step, B, rng)              # fresh sequences, or the next stream window
    h0 = carried state if batch.continues else zeros    # TBPTT across batches
    loss, grads, info = model.loss_and_grads(x, targets, h0=h0, mask=mask, bptt_window=k)
    norm = clip_by_global_norm(grads, c)                # the pre-clip norm is logged
    stop if loss or norm is NaN/inf                     # TrainingDiverged names the step
    optimizer.step(params, grads, state, lr=schedule(step))
    carried state = info.final_state

Every ``eval_every`` steps (and at the end) the model is scored on the
task's fixed validation set. The history (loss, pre-clip gradient norm and
learning rate of every step; validation loss and metric of every
evaluation) comes back as arrays and can be written as CSV and JSON. A
:class:`Trainer` saves and restores everything a run needs to continue bit
for bit (:mod:`numrnn.training.checkpoint`).

``numrnn.train(model, task, steps=...)`` is the one-call form.

Shape legend: T steps, B batch, D input size, H hidden size, O output size,
L layers, N steps trained, E evaluations.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .._checks import check_int, check_switch
from ..losses import compute_loss
from ..model import DeepRNN
from . import optim
from .checkpoint import atomic_write, load_checkpoint, save_checkpoint
from .clipping import clip_by_global_norm, clip_by_value, global_norm
from .tasks import CharLMTask, Task, make_task

__all__ = [
    "TrainingDiverged",
    "StepResult",
    "Evaluation",
    "History",
    "Trainer",
    "train",
    "read_history",
    "write_history",
    "CHECKPOINT",
    "BEST_CHECKPOINT",
    "DIVERGENCE_FACTOR",
]

# Overflow inside a diverging step is expected and is reported by TrainingDiverged, not by warnings.
_QUIET_FLOATS = dict(over="ignore", invalid="ignore", divide="ignore")


CHECKPOINT = "checkpoint.npz"
"""The run's last checkpoint, in its output folder."""
BEST_CHECKPOINT = "checkpoint-best.npz"
"""The checkpoint of the run's best validation metric, beside the last one."""
DIVERGENCE_FACTOR = 10.0
"""The growth that counts as divergence: 10 times the larger of the baseline and the start."""


class TrainingDiverged(FloatingPointError):
    """Training diverged: a loss, gradient norm or validation metric is NaN, inf, or grew too far.

    A run diverges when the training loss or the gradient norm is not finite
    (checked every step), or when the validation metric is not finite or,
    with a ``divergence_factor`` f, exceeds f times the larger of the task's
    trivial baseline and the metric before the first update (checked at every
    evaluation: the validation set is fixed, so a noisy batch cannot trigger it).

    Attributes
    ----------
    step : int
        The 1-based step at which the divergence was seen.
    quantity : str
        ``"loss"``, ``"gradient norm"`` or ``"validation <metric>"``.
    value : float
        Its value at ``step``.
    limit : float or None
        The bound it crossed (None when the value is NaN or infinite).
    last_good_value : float or None
        The same quantity's last value within bounds (None if there was none).
    last_good_step : int or None
        The step of ``last_good_value`` (0 = before the first update).
    lr : float
        The learning rate at ``step``.
    """

    def __init__(
        self,
        step: int,
        quantity: str,
        value: float,
        last_good_value,
        last_good_step,
        lr: float,
        limit: float | None = None,
        reason: str = "",
    ):
        self.step, self.quantity, self.value, self.limit = step, quantity, value, limit
        self.last_good_value, self.last_good_step, self.lr = last_good_value, last_good_step, lr
        kind = "finite" if limit is None else "good"
        last = (
            f"no earlier {quantity}"
            if last_good_value is None
            else f"last {kind} {quantity} {last_good_value:.6g} at step {last_good_step}"
        )
        what = (
            f"the {quantity} is {value}"
            if limit is None
            else f"the {quantity} {value:.6g} exceeds {reason}"
        )
        super().__init__(
            f"training diverged at step {step}: {what} ({last}; learning rate {lr:.3g}). "
            "Lower the learning rate or clip the gradients (clip=1.0, or --clip 1)."
        )

    @property
    def last_good_loss(self):
        """The last good value (the name of earlier versions, when only the loss was checked)."""
        return self.last_good_value


class StepResult(NamedTuple):
    """What one training step measured.

    Attributes
    ----------
    loss : float
        The batch loss before the update.
    grad_norm : float
        The global gradient norm before clipping.
    lr : float
        The learning rate the update used.
    """

    loss: float
    grad_norm: float
    lr: float


class Evaluation(NamedTuple):
    """A validation score.

    Attributes
    ----------
    loss : float
        Mean loss over every counted validation entry.
    metric : float
        The task's metric (the loss, or BPC for character models).
    """

    loss: float
    metric: float


@dataclass
class History:
    """Everything a run logged, as arrays.

    Attributes
    ----------
    step : ndarray of shape (N,), int
        1-based step numbers.
    loss : ndarray of shape (N,)
        Training loss of each step's batch, before its update.
    grad_norm : ndarray of shape (N,)
        Global gradient norm before clipping.
    lr : ndarray of shape (N,)
        Learning rate of each update.
    eval_step : ndarray of shape (E,), int
        The steps after which the model was evaluated.
    val_loss, val_metric : ndarray of shape (E,)
        Validation loss and metric at those steps.
    """

    step: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    grad_norm: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lr: np.ndarray = field(default_factory=lambda: np.zeros(0))
    eval_step: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    val_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    val_metric: np.ndarray = field(default_factory=lambda: np.zeros(0))

    FIELDS = ("step", "loss", "grad_norm", "lr", "eval_step", "val_loss", "val_metric")

    def to_arrays(self) -> dict:
        """The fields as a dict of arrays (what a checkpoint stores)."""
        return {name: getattr(self, name) for name in self.FIELDS}

    @classmethod
    def from_arrays(cls, arrays: dict) -> "History":
        """Rebuild from :meth:`to_arrays` (missing fields are empty)."""
        return cls(**{name: np.asarray(arrays[name]) for name in cls.FIELDS if name in arrays})

    def rows(self) -> list:
        """One dict per step: step, loss, grad_norm, lr, and val_loss/val_metric where evaluated
        (else None)."""
        evaluations = {
            int(s): (float(l), float(m))
            for s, l, m in zip(self.eval_step, self.val_loss, self.val_metric, strict=True)
        }
        rows = []
        for s, loss, norm, lr in zip(self.step, self.loss, self.grad_norm, self.lr, strict=True):
            val_loss, val_metric = evaluations.get(int(s), (None, None))
            rows.append(
                {
                    "step": int(s),
                    "loss": float(loss),
                    "grad_norm": float(norm),
                    "lr": float(lr),
                    "val_loss": val_loss,
                    "val_metric": val_metric,
                }
            )
        return rows

    def write_csv(self, path) -> None:
        """Write one row per step (empty validation cells between evaluations), atomically."""
        columns = ["step", "loss", "grad_norm", "lr", "val_loss", "val_metric"]

        def write(handle):
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in self.rows():
                writer.writerow(["" if row[c] is None else repr(row[c]) for c in columns])

        atomic_write(path, write)

    def write_json(self, path, **extra) -> None:
        """Write ``{"steps": {...}, "evaluations": {...}, **extra}`` as JSON, atomically (NaN
        becomes null)."""

        def numbers(values):
            """The values as floats, NaN and inf as None (JSON has no NaN)."""
            return [float(v) if math.isfinite(v) else None for v in values]

        data = {
            "steps": {
                "step": self.step.tolist(),
                "loss": numbers(self.loss),
                "grad_norm": numbers(self.grad_norm),
                "lr": numbers(self.lr),
            },
            "evaluations": {
                "step": self.eval_step.tolist(),
                "val_loss": numbers(self.val_loss),
                "val_metric": numbers(self.val_metric),
            },
            **extra,
        }
        atomic_write(path, lambda handle: json.dump(data, handle, indent=1, allow_nan=False))


def read_history(path) -> History:
    """Read a ``history.json`` or ``history.csv`` of :func:`write_history` (and ``numrnn train``).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.json`` or ``.csv`` file, or a run folder (its ``history.json`` is read).

    Returns
    -------
    History
        The arrays as logged; a JSON null (a NaN that was logged) comes back as NaN.

    Raises
    ------
    ValueError
        If the file is not a numrnn history (with the file's name and what is missing).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "history.json")

    def floats(values):
        return np.array([np.nan if v in (None, "") else float(v) for v in values], dtype=np.float64)

    def ints(values):
        return np.array([int(v) for v in values], dtype=np.int64)

    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        columns = ["step", "loss", "grad_norm", "lr", "val_loss", "val_metric"]
        if rows and not set(columns) <= set(rows[0]):
            raise ValueError(
                f"{path!r} is not a numrnn history.csv: it needs the columns {columns}; "
                f"got {sorted(rows[0])}"
            )
        evaluated = [row for row in rows if row["val_metric"] != ""]
        return History(
            step=ints(r["step"] for r in rows),
            loss=floats(r["loss"] for r in rows),
            grad_norm=floats(r["grad_norm"] for r in rows),
            lr=floats(r["lr"] for r in rows),
            eval_step=ints(r["step"] for r in evaluated),
            val_loss=floats(r["val_loss"] for r in evaluated),
            val_metric=floats(r["val_metric"] for r in evaluated),
        )
    with open(path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path!r} is not a numrnn history.json: {error}") from None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("steps"), dict)
        and isinstance(data.get("evaluations"), dict)
    ):
        raise ValueError(
            f"{path!r} is not a numrnn history.json: it needs 'steps' and 'evaluations' objects"
        )
    steps, evaluations = data["steps"], data["evaluations"]
    try:
        return History(
            step=ints(steps["step"]),
            loss=floats(steps["loss"]),
            grad_norm=floats(steps["grad_norm"]),
            lr=floats(steps["lr"]),
            eval_step=ints(evaluations["step"]),
            val_loss=floats(evaluations["val_loss"]),
            val_metric=floats(evaluations["val_metric"]),
        )
    except KeyError as error:
        raise ValueError(
            f"{path!r} is not a numrnn history.json: it has no {error.args[0]!r} column"
        ) from None


def _counted_weight(batch, loss: str) -> float:
    """Σ of the weights of the entries the loss averages over (for means across batches)."""
    if loss == "xent":
        counted = batch.targets >= 0
        return float(counted.sum() if batch.mask is None else (batch.mask * counted).sum())
    return float(
        batch.targets.shape[0] * batch.targets.shape[1] if batch.mask is None else batch.mask.sum()
    )


class _Progress:
    """Progress of a run on stderr: a tqdm bar on a terminal, else a short line every 5 %.

    A bar redraws itself with carriage returns, which a file or a pipe (a CI log,
    ``2> log``) keeps as hundreds of updates on one line; there each line is
    written once, 20 lines for a whole run.
    """

    LINES = 20  # lines written to a file or a pipe over a whole run

    def __init__(self, trainer: "Trainer", steps: int):
        self.trainer, self.steps = trainer, steps
        self.started, self.start_step = time.perf_counter(), trainer.step
        self.shown_at, self.shown_step = self.started, trainer.step
        self.every = max(1, -(-steps // self.LINES))
        self.evaluation = None
        self.stream = sys.stderr
        self.bar = None
        if _is_terminal(self.stream):
            from tqdm import tqdm  # imported only when a bar is wanted

            self.bar = tqdm(
                total=steps,
                initial=trainer.step,
                desc=trainer.task.name,
                unit="step",
                dynamic_ncols=True,
                file=self.stream,
            )

    def _postfix(self, result: StepResult, rate: float) -> str:
        text = f"loss={result.loss:.4g} |g|={result.grad_norm:.3g} {rate:.1f} steps/s"
        if self.evaluation is not None:
            text += f" val_{self.trainer.task.metric_name}={self.evaluation.metric:.4g}"
        return text

    def update(self, result: StepResult, evaluation: Evaluation | None) -> None:
        """Account for the step just done (and its evaluation, if any)."""
        if evaluation is not None:
            self.evaluation = evaluation
        step, now = self.trainer.step, time.perf_counter()
        if self.bar is not None:
            self.bar.update(1)
            if (
                now - self.shown_at > 0.25 or step == self.steps
            ):  # the postfix costs; 4 times a second
                rate = (step - self.shown_step) / max(now - self.shown_at, 1e-9)
                self.bar.set_postfix_str(self._postfix(result, rate), refresh=False)
                self.shown_at, self.shown_step = now, step
        elif step % self.every == 0 or step == self.steps:
            rate = (step - self.start_step) / max(now - self.started, 1e-9)
            print(
                f"{self.trainer.task.name}: step {step}/{self.steps} ({100 * step // self.steps}%) "
                f"{self._postfix(result, rate)}",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _is_terminal(stream) -> bool:
    """Whether ``stream`` is an interactive terminal (a bar can redraw itself there)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Trainer:
    """Train a model on a task, step by step, with everything needed to resume.

    Parameters
    ----------
    model : DeepRNN
        Trained in place: ``model.params`` holds the current weights.
    task : numrnn.training.tasks.Task
        Its sizes and dtype must match the model's.
    optimizer : numrnn.training.optim.Optimizer, optional
        Default ``Adam(lr=1e-3)``.
    schedule : numrnn.training.optim.Schedule, optional
        Learning rate per 0-based step; default the optimizer's constant ``lr``.
    batch_size : int, default 32
        B.
    clip : float or None, default 1.0
        Clip the global gradient norm at this value (Pascanu et al. 2013); 0 or None = no
        clipping (the same as ``--clip 0`` on the command line).
    clip_value : float or None, default None
        Clip every gradient entry to [-clip_value, clip_value] (min-char-rnn's 5), after
        ``clip``; 0 or None = no clipping.
    bptt_window : int or None, default None
        Truncated BPTT window k inside each batch (state carried, gradient cut every k steps).
    eval_every : int, default 100
        Evaluate every this many steps (0 = only at the end of :meth:`run`).
    seed : int, default 0
        Seed of the generator that draws the training batches.
    progress : bool, default True
        Show progress (loss, gradient norm, steps/s): a tqdm bar on a terminal, a short line
        every 5 % of the run when stderr is a file or a pipe; False for silence.
    divergence_factor : float or None, default 10.0
        Stop with :class:`TrainingDiverged` when the validation metric exceeds this many times
        the larger of the task's baseline and the metric before the first update. NaN or
        infinite values always stop the run; 0 or None turns only the growth check off.

    Attributes
    ----------
    step : int
        Updates done so far.
    carry : list of ndarray of shape (B, H_l) or None
        The final state of the last batch, the next batch's ``h0`` when it continues it.
    optimizer_state : dict of str to ndarray
    rng : numpy.random.Generator
        Draws the training batches.
    meta : dict
        Extra JSON metadata saved with every checkpoint (e.g. the architecture's name).
    initial_metric : float or None
        The validation metric before the first update (the divergence check's reference).
    best : tuple of (int, float) or None
        The step and value of the lowest validation metric so far.
    saved : dict of str to int
        ``{"last": step, "best": step}`` of the checkpoints that this run has on disk (set by
        :meth:`run` and :meth:`from_checkpoint`): what a divergence message may point at.
    """

    def __init__(
        self,
        model: DeepRNN,
        task: Task,
        *,
        optimizer: optim.Optimizer | None = None,
        schedule: optim.Schedule | None = None,
        batch_size: int = 32,
        clip: float | None = 1.0,
        clip_value: float | None = None,
        bptt_window: int | None = None,
        eval_every: int = 100,
        seed: int = 0,
        progress: bool = True,
        divergence_factor: float | None = DIVERGENCE_FACTOR,
    ):
        if not isinstance(model, DeepRNN):
            raise TypeError(f"model must be a numrnn.DeepRNN; got {type(model).__name__}")
        if not isinstance(task, Task):
            raise TypeError(
                f"task must be a numrnn.training.tasks.Task "
                f"(e.g. numrnn.training.tasks.AddingTask()); got {type(task).__name__}"
            )
        config = model.config
        if (config.input_size, config.output_size) != (task.input_size, task.output_size):
            raise ValueError(
                f"the model must have input_size={task.input_size} and "
                f"output_size={task.output_size} for task {task.name!r}; "
                f"got {config.input_size} and {config.output_size}"
            )
        if model.dtype != task.dtype:
            raise TypeError(
                f"the task's dtype must be the model's ({model.dtype}); got {task.dtype}. "
                f"Build the task with dtype=np.{model.dtype}"
            )
        self.optimizer = optim.Adam() if optimizer is None else optimizer
        if not isinstance(self.optimizer, optim.Optimizer):
            raise TypeError(
                f"optimizer must be a numrnn.training.optim.Optimizer; "
                f"got {type(self.optimizer).__name__}"
            )
        if schedule is not None and not isinstance(schedule, optim.Schedule):
            raise TypeError(
                f"schedule must be a numrnn.training.optim.Schedule or None; "
                f"got {type(schedule).__name__}"
            )
        clip = check_switch(clip, "clip")  # 0 = off, as on the command line
        clip_value = check_switch(clip_value, "clip_value")
        divergence_factor = check_switch(
            divergence_factor, "divergence_factor", above=1, meaning=" (a growth)"
        )
        if bptt_window is not None:
            check_int(bptt_window, "bptt_window", minimum=1)
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be True or False; got {progress!r}")
        self.model, self.task, self.schedule = model, task, schedule
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.clip, self.clip_value = clip, clip_value
        self.bptt_window = bptt_window
        self.divergence_factor = divergence_factor
        self.eval_every = check_int(eval_every, "eval_every", minimum=0)
        self.seed = check_int(seed, "seed", minimum=0)
        self.progress = progress
        self.rng = np.random.default_rng(self.seed)
        self.optimizer_state = self.optimizer.init(model.params)
        self.step = 0  # updates done so far
        self.carry = None  # final state of the last batch, (B, H_l) per layer
        self.meta = {}
        self.initial_metric = None
        self.best = None
        self.saved = {}
        self._log = {name: [] for name in History.FIELDS}

    # ------------------------------------------------------------- one step

    def learning_rate(self, step: int) -> float:
        """The learning rate of 0-based ``step``."""
        return self.optimizer.lr if self.schedule is None else self.schedule(step)

    def train_step(self) -> StepResult:
        """One update on the next batch; raises :class:`TrainingDiverged` on a NaN/inf loss or
        gradient."""
        batch = self.task.train_batch(self.step, self.batch_size, self.rng)
        h0 = self.carry if batch.continues else None
        lr = self.learning_rate(self.step)
        with np.errstate(**_QUIET_FLOATS):
            loss, grads, info = self.model.loss_and_grads(
                batch.x,
                batch.targets,
                loss=self.task.loss,
                h0=h0,
                mask=batch.mask,
                bptt_window=self.bptt_window,
            )
            loss = float(loss)
            norm = (
                global_norm(grads) if self.clip is None else clip_by_global_norm(grads, self.clip)
            )
            if self.clip_value is not None:
                clip_by_value(grads, self.clip_value)
        for quantity, value in (("loss", loss), ("gradient norm", norm)):
            if not math.isfinite(value):
                last = self._log["loss" if quantity == "loss" else "grad_norm"]
                raise TrainingDiverged(
                    self.step + 1,
                    quantity,
                    value,
                    last[-1] if last else None,
                    self.step if last else None,
                    lr,
                )
        with np.errstate(**_QUIET_FLOATS):
            self.optimizer.step(self.model.params, grads, self.optimizer_state, lr=lr)
        self.carry = info.final_state
        self.step += 1
        for name, value in (("step", self.step), ("loss", loss), ("grad_norm", norm), ("lr", lr)):
            self._log[name].append(value)
        return StepResult(loss, norm, lr)

    def evaluate(self) -> Evaluation:
        """The mean loss and metric over the task's validation set (no update, no randomness)."""
        total = weight = 0.0
        state = None
        with np.errstate(**_QUIET_FLOATS):
            for batch in self.task.validation_batches(self.batch_size):
                y, state = self.model.forward(batch.x, state if batch.continues else None)
                loss, _ = compute_loss(self.task.loss, y, batch.targets, batch.mask)
                w = _counted_weight(batch, self.task.loss)
                total += float(loss) * w
                weight += w
        mean = total / weight
        return Evaluation(mean, self.task.metric(mean))

    def _record_evaluation(self) -> Evaluation:
        """Evaluate, log, and raise :class:`TrainingDiverged` if the metric diverged."""
        evaluation = self.evaluate()
        metrics = self._log["val_metric"]
        last_good = (
            (metrics[-1], self._log["eval_step"][-1]) if metrics else (self.initial_metric, 0)
        )
        self._log["eval_step"].append(self.step)
        self._log["val_loss"].append(evaluation.loss)
        self._log["val_metric"].append(evaluation.metric)
        quantity = f"validation {self.task.metric_name}"
        if last_good[0] is None:
            last_good = (None, None)
        if not math.isfinite(evaluation.metric):
            raise TrainingDiverged(
                self.step,
                quantity,
                evaluation.metric,
                *last_good,
                self.learning_rate(self.step - 1),
            )
        limit = self.divergence_limit()
        if limit is not None and evaluation.metric > limit:
            baseline = self.task.baseline.value
            reference = (
                f"the baseline {baseline:.4g}"
                if self.initial_metric is None or baseline >= self.initial_metric
                else f"its value before training {self.initial_metric:.4g}"
            )
            raise TrainingDiverged(
                self.step,
                quantity,
                evaluation.metric,
                *last_good,
                self.learning_rate(self.step - 1),
                limit=limit,
                reason=f"{self.divergence_factor:g} × {reference}",
            )
        return evaluation

    def divergence_limit(self) -> float | None:
        """The validation metric above which the run counts as diverged (None: growth not checked).

        ``divergence_factor`` times the larger of the task's trivial baseline and
        :attr:`initial_metric`.
        """
        if not self.divergence_factor:
            return None
        references = [self.task.baseline.value]
        if self.initial_metric is not None and math.isfinite(self.initial_metric):
            references.append(self.initial_metric)
        return self.divergence_factor * max(references)

    # --------------------------------------------------------------- a run

    def run(
        self, steps: int, *, checkpoint=None, checkpoint_every: int = 0, best_checkpoint=None
    ) -> History:
        """Train until :attr:`step` reaches ``steps`` (a total, so a resumed run continues to it).

        Parameters
        ----------
        steps : int
            The total number of updates when this returns.
        checkpoint : str or os.PathLike, optional
            Save a checkpoint here every ``checkpoint_every`` steps and at the end.
        checkpoint_every : int, default 0
            0 = only at the end.
        best_checkpoint : str or os.PathLike, optional
            Save a checkpoint here after every evaluation that lowers the best validation
            metric so far (early stopping without stopping: the best model is kept).

        Returns
        -------
        History
            The whole history, including steps from before a resume.

        Raises
        ------
        TrainingDiverged
            When the run diverges (see the class); the checkpoints already saved are kept, and
            :attr:`saved` says which steps they hold.
        """
        steps = check_int(steps, "steps", minimum=0)
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every", minimum=0)
        if self.step == 0 and self.initial_metric is None and self.step < steps:
            self.initial_metric = self.evaluate().metric  # the reference of the divergence check
        progress = _Progress(self, steps) if self.progress and self.step < steps else None
        try:
            while self.step < steps:
                result = self.train_step()
                evaluation = None
                if (self.eval_every and self.step % self.eval_every == 0) or self.step == steps:
                    evaluation = self._record_evaluation()
                    if self.best is None or evaluation.metric < self.best[1]:
                        self.best = (self.step, evaluation.metric)
                        if best_checkpoint is not None:
                            self.save(best_checkpoint)
                            self.saved["best"] = self.step
                if checkpoint is not None and (
                    self.step == steps or (checkpoint_every and self.step % checkpoint_every == 0)
                ):
                    self.save(checkpoint)
                    self.saved["last"] = self.step
                if progress is not None:
                    progress.update(result, evaluation)
        finally:
            if progress is not None:
                progress.close()
        return self.history

    @property
    def history(self) -> History:
        """The history so far, as arrays."""
        ints = {"step", "eval_step"}
        return History(
            **{
                name: np.array(values, dtype=np.int64 if name in ints else np.float64)
                for name, values in self._log.items()
            }
        )

    # --------------------------------------------------------- checkpoints

    def settings(self) -> dict:
        """The trainer's settings, JSON-ready (stored in checkpoints)."""
        return {
            "batch_size": self.batch_size,
            "clip": self.clip,
            "clip_value": self.clip_value,
            "bptt_window": self.bptt_window,
            "eval_every": self.eval_every,
            "seed": self.seed,
            "divergence_factor": self.divergence_factor,
            "schedule": None if self.schedule is None else self.schedule.to_dict(),
        }

    _OWN_META = ("task", "trainer", "vocab", "run")

    def save(self, path) -> str:
        """Save everything needed to resume bit for bit, atomically, with :attr:`meta` as
        metadata."""
        run = {
            "initial_metric": self.initial_metric,
            "best": None if self.best is None else list(self.best),
        }
        meta = {**self.meta, "task": self.task.to_dict(), "trainer": self.settings(), "run": run}
        if isinstance(self.task, CharLMTask):
            meta["vocab"] = self.task.vocab.chars
        return save_checkpoint(
            path,
            self.model,
            step=self.step,
            optimizer=self.optimizer,
            optimizer_state=self.optimizer_state,
            rng=self.rng,
            carry=self.carry,
            history=self.history.to_arrays(),
            meta=meta,
        )

    @classmethod
    def from_checkpoint(cls, path, task: Task | None = None, **overrides) -> "Trainer":
        """A trainer that continues the run saved at ``path`` exactly where it stopped.

        Parameters
        ----------
        path : str or os.PathLike
        task : Task, optional
            Default: rebuilt from the checkpoint's metadata (re-reading a text file).
        **overrides
            Trainer keywords that replace the saved ones (e.g. ``progress=False``,
            ``eval_every=50``); the optimizer, its state, the generator, the step,
            the carried state and the history always come from the file.

        Returns
        -------
        Trainer
        """
        saved = load_checkpoint(path)
        model = saved.model()
        if task is None:
            if "task" not in saved.meta:
                raise ValueError(
                    f"{os.fspath(path)!r} does not say which task it was trained on; pass task=..."
                )
            task = make_task(**saved.meta["task"], dtype=model.dtype)
        if (
            isinstance(task, CharLMTask)
            and saved.meta.get("vocab", task.vocab.chars) != task.vocab.chars
        ):
            raise ValueError(
                f"the text's vocabulary differs from the one {os.fspath(path)!r} was trained on "
                f"({len(task.vocab)} vs {len(saved.meta['vocab'])} characters); "
                f"use the same text file"
            )
        settings = dict(saved.meta.get("trainer", {}))
        schedule = settings.pop("schedule", None)
        settings["schedule"] = None if schedule is None else optim.schedule_from_dict(schedule)
        settings.update(overrides)
        trainer = cls(model, task, optimizer=saved.optimizer, **settings)
        if saved.optimizer_state is not None:
            trainer.optimizer_state = saved.optimizer_state
        if saved.rng_state is not None:
            trainer.rng = saved.rng()
        trainer.step, trainer.carry = saved.step, saved.carry
        trainer.meta = {key: value for key, value in saved.meta.items() if key not in cls._OWN_META}
        run = saved.meta.get("run", {})
        trainer.initial_metric = run.get("initial_metric")
        trainer.best = (
            None if run.get("best") is None else (int(run["best"][0]), float(run["best"][1]))
        )
        trainer.saved = {"last": saved.step}
        history = History.from_arrays(saved.history)
        trainer._log = {name: getattr(history, name).tolist() for name in History.FIELDS}
        return trainer


def train(
    model: DeepRNN,
    task: Task,
    *,
    steps: int,
    optimizer: optim.Optimizer | None = None,
    schedule: optim.Schedule | None = None,
    batch_size: int = 32,
    clip: float | None = 1.0,
    clip_value: float | None = None,
    bptt_window: int | None = None,
    eval_every: int = 100,
    seed: int = 0,
    progress: bool = True,
    out=None,
    checkpoint_every: int = 0,
    divergence_factor: float | None = DIVERGENCE_FACTOR,
) -> History:
    """Train ``model`` on ``task`` for ``steps`` updates; the one-call form of :class:`Trainer`.

    Parameters
    ----------
    model : DeepRNN
        Trained in place.
    task : numrnn.training.tasks.Task
    steps : int
        Number of updates.
    optimizer, schedule, batch_size, clip, clip_value, bptt_window, eval_every, seed, progress
        As for :class:`Trainer`.
    divergence_factor : float or None, default 10.0
        As for :class:`Trainer`.
    out : str or os.PathLike, optional
        A directory (created if needed) that receives ``checkpoint.npz`` (the last
        step), ``checkpoint-best.npz`` (the best validation metric so far),
        ``history.csv`` and ``history.json``.
    checkpoint_every : int, default 0
        With ``out``: also save the checkpoint every this many steps.

    Returns
    -------
    History

    Raises
    ------
    TrainingDiverged
        If the run diverges (:class:`TrainingDiverged`); with ``out``, the
        history up to that step is written first, and the checkpoints saved
        before it are kept.

    Examples
    --------
    >>> import numrnn
    >>> task = numrnn.training.tasks.AddingTask(seq_len=20)
    >>> model = numrnn.presets.build("deep-transition-skip", 2, 16, 1, seed=0)
    >>> history = numrnn.train(model, task, steps=5, eval_every=5, progress=False)
    >>> history.loss.shape, history.eval_step.tolist()
    ((5,), [5])
    """
    trainer = Trainer(
        model,
        task,
        optimizer=optimizer,
        schedule=schedule,
        batch_size=batch_size,
        clip=clip,
        clip_value=clip_value,
        bptt_window=bptt_window,
        eval_every=eval_every,
        seed=seed,
        progress=progress,
        divergence_factor=divergence_factor,
    )
    if out is None:
        return trainer.run(steps)
    os.makedirs(out, exist_ok=True)
    try:
        return trainer.run(
            steps,
            checkpoint=os.path.join(out, CHECKPOINT),
            checkpoint_every=checkpoint_every,
            best_checkpoint=os.path.join(out, BEST_CHECKPOINT),
        )
    finally:
        write_history(trainer, out)


def write_history(trainer: Trainer, out) -> None:
    """Write ``history.csv`` and ``history.json`` (with the task, its baseline and the model)
    into ``out``."""
    history = trainer.history
    baseline = trainer.task.baseline
    history.write_csv(os.path.join(out, "history.csv"))
    history.write_json(
        os.path.join(out, "history.json"),
        task=trainer.task.to_dict(),
        metric=trainer.task.metric_name,
        baseline={"value": baseline.value, "description": baseline.description},
        model=trainer.model.config.to_dict(),
        optimizer=trainer.optimizer.to_dict(),
        trainer=trainer.settings(),
    )
