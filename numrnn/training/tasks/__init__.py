"""Learning tasks with known difficulty and stated baselines, by name.

==================  ================================================  ======  ======================
name (``--task``)   what the model must do                            metric  trivial baseline
==================  ================================================  ======  ======================
``adding``          output the sum of the two marked values at the    mse     predict 1: 1/6 ≈ 0.167
                    end
``copy``            repeat K symbols after a delay                    xent    ln A
``temporal-order``  classify the order of two far-apart symbols X/Y   xent    ln 4 ≈ 1.386
``sine``            predict the next value of a sum of sines          mse     persistence
                    (optionally scored after a burn-in)
``count-mod``       the running count of ones in a bit stream, mod k  xent    no count kept
                    (k = 2: parity)                                           (≈ ln k)
``two-timescale``   a symbol from 2 steps back and a key shown every  xent    no memory
                    20 steps on average, at once
``reber``           predict the next symbol of embedded Reber         xent    unigram frequencies
                    strings
``charlm``          predict the next character of a text              bpc     unigram frequencies
``chorales``        predict the next piano-roll frame of a Bach       nll     pitch frequencies
                    chorale
==================  ================================================  ======  ======================

Every task gives the trainer ``train_batch(step, batch_size, rng)``, a fixed
``validation_batches(batch_size)``, a ``metric`` and a ``baseline``
(:class:`numrnn.training.tasks.base.Task`).
"""

from __future__ import annotations

import numpy as np

from .base import Baseline, Batch, SyntheticTask, Task, one_hot
from .charlm import CharLMTask, Vocabulary, builtin_text
from .chorales import ChoralesTask
from .reber import ReberTask
from .synthetic import (
    AddingTask,
    CopyTask,
    CountModTask,
    SineTask,
    TemporalOrderTask,
    TwoTimescaleTask,
)

__all__ = [
    "TASKS",
    "make_task",
    "Task",
    "SyntheticTask",
    "Batch",
    "Baseline",
    "one_hot",
    "AddingTask",
    "CopyTask",
    "TemporalOrderTask",
    "SineTask",
    "CountModTask",
    "TwoTimescaleTask",
    "ReberTask",
    "CharLMTask",
    "Vocabulary",
    "builtin_text",
    "ChoralesTask",
]

TASKS = {
    "adding": AddingTask,
    "copy": CopyTask,
    "temporal-order": TemporalOrderTask,
    "sine": SineTask,
    "count-mod": CountModTask,
    "two-timescale": TwoTimescaleTask,
    "reber": ReberTask,
    "charlm": CharLMTask,
    "chorales": ChoralesTask,
}


def make_task(name: str, *, dtype=np.float64, **settings) -> Task:
    """A task by name with its settings; ``None`` settings take the task's default.

    Parameters
    ----------
    name : str
        A key of :data:`TASKS`.
    dtype : np.float32 or np.float64
        The model's dtype.
    **settings
        The task's own keywords (``seq_len``, ``seed``, ``path`` ...), as
        :meth:`Task.to_dict` writes them.

    Returns
    -------
    Task
    """
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}; got {name!r}")
    settings = {key: value for key, value in settings.items() if value is not None}
    if name == "charlm":
        return CharLMTask(settings.pop("path", None), dtype=dtype, **settings)
    return TASKS[name](dtype=dtype, **settings)
