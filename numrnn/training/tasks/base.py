"""What every task gives the trainer: batches, a validation set, a metric and a baseline.

A task knows its sizes (D inputs, O outputs, T steps), its loss, and the
trivial baseline a model must beat to have learnt anything. The trainer asks
it for training batches (``train_batch``) and for a fixed validation set
(``validation_batches``) and never looks inside.

Shape legend: T steps, B batch, D input size, O output size.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..._checks import check_dtype, check_int

__all__ = ["Batch", "Baseline", "Task", "SyntheticTask", "one_hot"]


class Batch(NamedTuple):
    """One batch of sequences, time-major, ready for ``model.loss_and_grads``.

    Attributes
    ----------
    x : ndarray of shape (T, B, D)
        Inputs in the task's dtype.
    targets : ndarray
        int (T, B) for "xent" (-1 = not counted); float (T, B, O) for "mse".
    mask : ndarray of shape (T, B) or None
        Weight of each (step, sequence); None counts every step.
    continues : bool
        True when these sequences continue those of the previous batch, so
        the trainer carries the final state over (character streams).
    """

    x: np.ndarray
    targets: np.ndarray
    mask: np.ndarray | None = None
    continues: bool = False


class Baseline(NamedTuple):
    """A trivial predictor's score on the validation set, in the task's metric.

    Attributes
    ----------
    value : float
    description : str
        What the predictor is, e.g. ``"always predict 1"``.
    """

    value: float
    description: str


def one_hot(ids: np.ndarray, size: int, dtype) -> np.ndarray:
    """``ids`` of shape (...) as one-hot float vectors of shape (..., size)."""
    return np.eye(size, dtype=dtype)[ids]


class Task:
    """Interface of a task (see the module docstring).

    Attributes
    ----------
    name : str
        The command-line name, e.g. ``"adding"``.
    loss : {"xent", "mse"}
    metric_name : str
        What :meth:`metric` reports: ``"mse"``, ``"xent"`` (nats) or ``"bpc"``.
    input_size, output_size, seq_len : int
        D, O and T.
    dtype : numpy.dtype
        Of the inputs (and float targets); must be the model's.
    """

    name = "task"
    loss = "mse"
    metric_name = "mse"

    def __init__(self, seq_len: int, *, dtype=np.float64):
        self.seq_len = check_int(seq_len, "seq_len", minimum=1)
        self.dtype = check_dtype(dtype)

    def train_batch(self, step: int, batch_size: int, rng: np.random.Generator) -> Batch:
        """The training batch of 0-based ``step``, drawn with ``rng``."""
        raise NotImplementedError

    def validation_batches(self, batch_size: int) -> list:
        """The fixed validation set, as a list of :class:`Batch` (the same on every call)."""
        raise NotImplementedError

    @property
    def baseline(self) -> Baseline:
        """The trivial predictor's validation score, in :attr:`metric_name` units."""
        raise NotImplementedError

    def metric(self, loss: float) -> float:
        """The validation metric from the mean loss (identity except for BPC)."""
        return float(loss)

    def to_dict(self) -> dict:
        """The keywords that rebuild this task with :func:`numrnn.training.tasks.make_task`
        (JSON-ready)."""
        raise NotImplementedError

    def describe(self) -> str:
        """A one-line human description."""
        return (
            f"{self.name} (T={self.seq_len}, D={self.input_size}, O={self.output_size}, "
            f"loss={self.loss})"
        )


class SyntheticTask(Task):
    """A task whose sequences are independent draws from a generator.

    Subclasses implement :meth:`generate`. Training batches are fresh draws
    from the trainer's ``rng``; the validation set is ``validation_size``
    sequences drawn once from ``np.random.default_rng(seed)``, a different
    stream, so train and validation never share a sequence except by chance.

    Parameters
    ----------
    seq_len : int
        T.
    seed : int, default 0
        Seed of the validation set.
    validation_size : int, default 256
        Number of validation sequences.
    dtype : np.float32 or np.float64
    """

    def __init__(
        self, seq_len: int, *, seed: int = 0, validation_size: int = 256, dtype=np.float64
    ):
        super().__init__(seq_len, dtype=dtype)
        self.seed = check_int(seed, "seed", minimum=0)
        self.validation_size = check_int(validation_size, "validation_size", minimum=1)
        self._validation = None

    def generate(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """``batch_size`` fresh sequences drawn with ``rng``."""
        raise NotImplementedError

    def train_batch(self, step: int, batch_size: int, rng: np.random.Generator) -> Batch:
        return self.generate(check_int(batch_size, "batch_size", minimum=1), rng)

    def validation_batches(self, batch_size: int | None = None) -> list:
        if self._validation is None:
            self._validation = [
                self.generate(self.validation_size, np.random.default_rng(self.seed))
            ]
        return self._validation

    def _settings(self) -> dict:
        return {"seq_len": self.seq_len, "seed": self.seed, "validation_size": self.validation_size}

    def to_dict(self) -> dict:
        return {"name": self.name, **self._settings()}
