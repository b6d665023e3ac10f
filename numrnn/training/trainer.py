"""The training loop: batches, truncated BPTT, clipping, an optimizer, evaluation, history.

One step (``docs/training.md``, section "The trainer")::

    batch = task.train_batch(step, B, rng)                 # fresh sequences, or the next stream window
    h0 = carried state if batch.continues else zeros       # TBPTT across batches
    loss, grads, info = model.loss_and_grads(x, targets, h0=h0, mask=mask, bptt_window=k)
    norm = clip_by_global_norm(grads, c)                   # the pre-clip norm is logged
    stop if loss or norm is NaN/inf                        # TrainingDiverged names the step
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
import numbers
import os
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from . import optim
from .._checks import check_int
from .checkpoint import atomic_write, load_checkpoint, save_checkpoint
from .clipping import clip_by_global_norm, clip_by_value, global_norm
from ..losses import compute_loss
from ..model import DeepRNN
from .tasks import CharLMTask, Task, make_task

__all__ = ["TrainingDiverged", "StepResult", "Evaluation", "History", "Trainer", "train"]

# Overflow inside a diverging step is expected and is reported by TrainingDiverged, not by warnings.
_QUIET_FLOATS = dict(over="ignore", invalid="ignore", divide="ignore")


class TrainingDiverged(FloatingPointError):
    """The loss or the gradient norm became NaN or infinite.

    Attributes
    ----------
    step : int
        The 1-based step whose loss or gradient was not finite.
    quantity : str
        ``"loss"`` or ``"gradient norm"``.
    value : float
    last_good_loss : float or None
        The loss of the last finite step (None if there was none).
    last_good_step : int or None
    """

    def __init__(self, step: int, quantity: str, value: float, last_good_loss, last_good_step, lr: float):
        self.step, self.quantity, self.value = step, quantity, value
        self.last_good_loss, self.last_good_step = last_good_loss, last_good_step
        last = ("no step had finished yet" if last_good_loss is None
                else f"last finite loss {last_good_loss:.6g} at step {last_good_step}")
        super().__init__(
            f"training diverged at step {step}: the {quantity} is {value} ({last}; learning rate {lr:.3g}). "
            "Lower the learning rate or clip the gradients (clip=1.0, or --clip 1)."
        )


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
        """One dict per step: step, loss, grad_norm, lr, and val_loss/val_metric where evaluated (else None)."""
        evaluations = {int(s): (float(l), float(m)) for s, l, m in zip(self.eval_step, self.val_loss, self.val_metric)}
        rows = []
        for s, loss, norm, lr in zip(self.step, self.loss, self.grad_norm, self.lr):
            val_loss, val_metric = evaluations.get(int(s), (None, None))
            rows.append({"step": int(s), "loss": float(loss), "grad_norm": float(norm), "lr": float(lr),
                         "val_loss": val_loss, "val_metric": val_metric})
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
        """Write ``{"steps": {...}, "evaluations": {...}, **extra}`` as JSON, atomically (NaN becomes null)."""
        numbers = lambda values: [float(v) if math.isfinite(v) else None for v in values]  # JSON has no NaN
        data = {
            "steps": {"step": self.step.tolist(), "loss": numbers(self.loss),
                      "grad_norm": numbers(self.grad_norm), "lr": numbers(self.lr)},
            "evaluations": {"step": self.eval_step.tolist(), "val_loss": numbers(self.val_loss),
                            "val_metric": numbers(self.val_metric)},
            **extra,
        }
        atomic_write(path, lambda handle: json.dump(data, handle, indent=1, allow_nan=False))


def _counted_weight(batch, loss: str) -> float:
    """Σ of the weights of the entries the loss averages over (for means across batches)."""
    if loss == "xent":
        counted = batch.targets >= 0
        return float(counted.sum() if batch.mask is None else (batch.mask * counted).sum())
    return float(batch.targets.shape[0] * batch.targets.shape[1] if batch.mask is None else batch.mask.sum())


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
        Clip the global gradient norm at this value (Pascanu et al. 2013); None = no clipping.
    clip_value : float or None, default None
        Clip every gradient entry to [-clip_value, clip_value] (min-char-rnn's 5), after ``clip``.
    bptt_window : int or None, default None
        Truncated BPTT window k inside each batch (state carried, gradient cut every k steps).
    eval_every : int, default 100
        Evaluate every this many steps (0 = only at the end of :meth:`run`).
    seed : int, default 0
        Seed of the generator that draws the training batches.
    progress : bool, default True
        Show a tqdm progress bar (loss, gradient norm, steps/s); False for scripts and tests.

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
    """

    def __init__(self, model: DeepRNN, task: Task, *, optimizer: optim.Optimizer | None = None,
                 schedule: optim.Schedule | None = None, batch_size: int = 32, clip: float | None = 1.0,
                 clip_value: float | None = None, bptt_window: int | None = None, eval_every: int = 100,
                 seed: int = 0, progress: bool = True):
        if not isinstance(model, DeepRNN):
            raise TypeError(f"model must be a numrnn.DeepRNN; got {type(model).__name__}")
        if not isinstance(task, Task):
            raise TypeError(f"task must be a numrnn.training.tasks.Task (e.g. numrnn.training.tasks.AddingTask()); got {type(task).__name__}")
        config = model.config
        if (config.input_size, config.output_size) != (task.input_size, task.output_size):
            raise ValueError(f"the model must have input_size={task.input_size} and output_size={task.output_size} "
                             f"for task {task.name!r}; got {config.input_size} and {config.output_size}")
        if model.dtype != task.dtype:
            raise TypeError(f"the task's dtype must be the model's ({model.dtype}); got {task.dtype}. "
                            f"Build the task with dtype=np.{model.dtype}")
        self.optimizer = optim.Adam() if optimizer is None else optimizer
        if not isinstance(self.optimizer, optim.Optimizer):
            raise TypeError(f"optimizer must be a numrnn.training.optim.Optimizer; got {type(self.optimizer).__name__}")
        if schedule is not None and not isinstance(schedule, optim.Schedule):
            raise TypeError(f"schedule must be a numrnn.training.optim.Schedule or None; got {type(schedule).__name__}")
        for name, value in (("clip", clip), ("clip_value", clip_value)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                      or not (math.isfinite(value) and value > 0)):
                raise ValueError(f"{name} must be a positive number or None; got {value!r}")
        if bptt_window is not None:
            check_int(bptt_window, "bptt_window", minimum=1)
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be True or False; got {progress!r}")
        self.model, self.task, self.schedule = model, task, schedule
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.clip, self.clip_value, self.bptt_window = clip, clip_value, bptt_window
        self.eval_every = check_int(eval_every, "eval_every", minimum=0)
        self.seed = check_int(seed, "seed", minimum=0)
        self.progress = progress
        self.rng = np.random.default_rng(self.seed)
        self.optimizer_state = self.optimizer.init(model.params)
        self.step = 0                                    # updates done so far
        self.carry = None                                # final state of the last batch, (B, H_l) per layer
        self.meta = {}
        self._log = {name: [] for name in History.FIELDS}

    # ------------------------------------------------------------- one step

    def learning_rate(self, step: int) -> float:
        """The learning rate of 0-based ``step``."""
        return self.optimizer.lr if self.schedule is None else self.schedule(step)

    def train_step(self) -> StepResult:
        """One update on the next batch; raises :class:`TrainingDiverged` on a NaN/inf loss or gradient."""
        batch = self.task.train_batch(self.step, self.batch_size, self.rng)
        h0 = self.carry if batch.continues else None
        lr = self.learning_rate(self.step)
        with np.errstate(**_QUIET_FLOATS):
            loss, grads, info = self.model.loss_and_grads(batch.x, batch.targets, loss=self.task.loss, h0=h0,
                                                          mask=batch.mask, bptt_window=self.bptt_window)
            loss = float(loss)
            norm = global_norm(grads) if self.clip is None else clip_by_global_norm(grads, self.clip)
            if self.clip_value is not None:
                clip_by_value(grads, self.clip_value)
        for quantity, value in (("loss", loss), ("gradient norm", norm)):
            if not math.isfinite(value):
                losses = self._log["loss"]
                raise TrainingDiverged(self.step + 1, quantity, value, losses[-1] if losses else None,
                                       self.step if losses else None, lr)
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
        evaluation = self.evaluate()
        self._log["eval_step"].append(self.step)
        self._log["val_loss"].append(evaluation.loss)
        self._log["val_metric"].append(evaluation.metric)
        return evaluation

    # --------------------------------------------------------------- a run

    def run(self, steps: int, *, checkpoint=None, checkpoint_every: int = 0) -> History:
        """Train until :attr:`step` reaches ``steps`` (a total, so a resumed run continues to it).

        Parameters
        ----------
        steps : int
            The total number of updates when this returns.
        checkpoint : str or os.PathLike, optional
            Save a checkpoint here every ``checkpoint_every`` steps and at the end.
        checkpoint_every : int, default 0
            0 = only at the end.

        Returns
        -------
        History
            The whole history, including steps from before a resume.
        """
        steps = check_int(steps, "steps", minimum=0)
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every", minimum=0)
        bar = None
        if self.progress and self.step < steps:
            from tqdm import tqdm                          # imported only when a bar is wanted
            bar = tqdm(total=steps, initial=self.step, desc=self.task.name, unit="step", dynamic_ncols=True)
        shown_at, shown_step = time.perf_counter(), self.step
        evaluation = None
        try:
            while self.step < steps:
                result = self.train_step()
                if (self.eval_every and self.step % self.eval_every == 0) or self.step == steps:
                    evaluation = self._record_evaluation()
                if checkpoint is not None and (self.step == steps or
                                               (checkpoint_every and self.step % checkpoint_every == 0)):
                    self.save(checkpoint)
                if bar is not None:
                    bar.update(1)
                    now = time.perf_counter()
                    if now - shown_at > 0.25 or self.step == steps:   # the postfix costs; refresh it 4 times a second
                        rate = (self.step - shown_step) / (now - shown_at)
                        postfix = f"loss={result.loss:.4g} |g|={result.grad_norm:.3g} {rate:.1f} steps/s"
                        if evaluation is not None:
                            postfix += f" val_{self.task.metric_name}={evaluation.metric:.4g}"
                        bar.set_postfix_str(postfix, refresh=False)
                        shown_at, shown_step = now, self.step
        finally:
            if bar is not None:
                bar.close()
        return self.history

    @property
    def history(self) -> History:
        """The history so far, as arrays."""
        ints = {"step", "eval_step"}
        return History(**{name: np.array(values, dtype=np.int64 if name in ints else np.float64)
                          for name, values in self._log.items()})

    # --------------------------------------------------------- checkpoints

    def settings(self) -> dict:
        """The trainer's settings, JSON-ready (stored in checkpoints)."""
        return {"batch_size": self.batch_size, "clip": self.clip, "clip_value": self.clip_value,
                "bptt_window": self.bptt_window, "eval_every": self.eval_every, "seed": self.seed,
                "schedule": None if self.schedule is None else self.schedule.to_dict()}

    _OWN_META = ("task", "trainer", "vocab")

    def save(self, path) -> str:
        """Save everything needed to resume bit for bit, atomically, with :attr:`meta` as metadata."""
        meta = {**self.meta, "task": self.task.to_dict(), "trainer": self.settings()}
        if isinstance(self.task, CharLMTask):
            meta["vocab"] = self.task.vocab.chars
        return save_checkpoint(path, self.model, step=self.step, optimizer=self.optimizer,
                               optimizer_state=self.optimizer_state, rng=self.rng, carry=self.carry,
                               history=self.history.to_arrays(), meta=meta)

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
                raise ValueError(f"{os.fspath(path)!r} does not say which task it was trained on; pass task=...")
            task = make_task(**saved.meta["task"], dtype=model.dtype)
        if isinstance(task, CharLMTask) and saved.meta.get("vocab", task.vocab.chars) != task.vocab.chars:
            raise ValueError(f"the text's vocabulary differs from the one {os.fspath(path)!r} was trained on "
                             f"({len(task.vocab)} vs {len(saved.meta['vocab'])} characters); use the same text file")
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
        history = History.from_arrays(saved.history)
        trainer._log = {name: getattr(history, name).tolist() for name in History.FIELDS}
        return trainer


def train(model: DeepRNN, task: Task, *, steps: int, optimizer: optim.Optimizer | None = None,
          schedule: optim.Schedule | None = None, batch_size: int = 32, clip: float | None = 1.0,
          clip_value: float | None = None, bptt_window: int | None = None, eval_every: int = 100, seed: int = 0,
          progress: bool = True, out=None, checkpoint_every: int = 0) -> History:
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
    out : str or os.PathLike, optional
        A directory (created if needed) that receives ``checkpoint.npz``,
        ``history.csv`` and ``history.json``.
    checkpoint_every : int, default 0
        With ``out``: also save the checkpoint every this many steps.

    Returns
    -------
    History

    Raises
    ------
    TrainingDiverged
        If the loss or gradient norm becomes NaN or infinite; with ``out``,
        the history up to that step is written first, and the last good
        checkpoint is kept.

    Examples
    --------
    >>> import numrnn
    >>> task = numrnn.training.tasks.AddingTask(seq_len=20)
    >>> model = numrnn.presets.build("deep-transition-skip", 2, 16, 1, seed=0)
    >>> history = numrnn.train(model, task, steps=5, eval_every=5, progress=False)
    >>> history.loss.shape, history.eval_step.tolist()
    ((5,), [5])
    """
    trainer = Trainer(model, task, optimizer=optimizer, schedule=schedule, batch_size=batch_size, clip=clip,
                      clip_value=clip_value, bptt_window=bptt_window, eval_every=eval_every, seed=seed,
                      progress=progress)
    if out is None:
        return trainer.run(steps)
    os.makedirs(out, exist_ok=True)
    try:
        return trainer.run(steps, checkpoint=os.path.join(out, "checkpoint.npz"), checkpoint_every=checkpoint_every)
    finally:
        write_history(trainer, out)


def write_history(trainer: Trainer, out) -> None:
    """Write ``history.csv`` and ``history.json`` (with the task, its baseline and the model) into ``out``."""
    history = trainer.history
    baseline = trainer.task.baseline
    history.write_csv(os.path.join(out, "history.csv"))
    history.write_json(os.path.join(out, "history.json"), task=trainer.task.to_dict(),
                       metric=trainer.task.metric_name,
                       baseline={"value": baseline.value, "description": baseline.description},
                       model=trainer.model.config.to_dict(), optimizer=trainer.optimizer.to_dict(),
                       trainer=trainer.settings())
