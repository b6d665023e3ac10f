"""Training numrnn models: optimizers, clipping, tasks, the trainer, checkpoints, sampling.

Nothing here is needed to read the maths; it builds on :class:`numrnn.DeepRNN`
and never the other way round.

* :mod:`numrnn.training.optim`: hand-written optimizers and learning-rate schedules.
* :mod:`numrnn.training.clipping`: gradient clipping by global norm or by value.
* :mod:`numrnn.training.tasks`: the built-in tasks and their trivial baselines.
* :mod:`numrnn.training.trainer`: :class:`Trainer` and :func:`train`.
* :mod:`numrnn.training.checkpoint`: atomic, verified checkpoints.
* :mod:`numrnn.training.recipes`: the settings ``numrnn train`` uses for each task and architecture.
* :mod:`numrnn.training.sampling`: sampling text from a character model.
"""

from . import checkpoint, clipping, optim, recipes, sampling, tasks
from .sampling import sample
from .trainer import Trainer, TrainingDiverged, read_history, train, write_history

__all__ = [
    "Trainer",
    "TrainingDiverged",
    "train",
    "read_history",
    "write_history",
    "sample",
    "checkpoint",
    "clipping",
    "optim",
    "recipes",
    "sampling",
    "tasks",
]
