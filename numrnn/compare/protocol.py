"""The comparison protocol: what is compared, on what, and under which shared rules.

A :class:`Protocol` fixes everything a fair comparison must hold equal: the
parameter budget every architecture's width is solved for, the one learning
rate grid every architecture is tuned on (with, for an architecture whose
layers have a residual branch, the branch's initial scale), the optimizer,
clipping, batch size, step budget and seeds. It is plain data (frozen, JSON-ready), so it can
be written into the report and hashed into each job's settings.

:data:`DEFAULT` is what ``numrnn compare`` runs with no argument (about three
minutes on two cores: 191 s measured); :data:`QUICK` is ``--quick`` (under 30 s, what the
tests use).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, replace

from .._checks import check_int
from ..init import RESIDUAL_SCALE, residual_branch_weights
from ..presets import ARCHITECTURES
from ..training.optim import OPTIMIZERS
from ..training.tasks import TASKS
from .budget import preset_config

__all__ = [
    "TaskSpec",
    "Protocol",
    "DEFAULT",
    "QUICK",
    "SWEEP_ARCHITECTURES",
    "has_residual_branch",
    "parse_task",
    "task_names",
]

SWEEP_ARCHITECTURES = ("deep-transition", "deep-transition-skip")
"""The two architectures of the depth sweep: the chapter's deep transition without and with skip."""

MUSIC_TASK = "chorales"
"""The polyphonic-music task (Pascanu et al. 2014); needs the ``numrnn[music]`` extra."""


def has_residual_branch(arch: str) -> bool:
    """Whether a layer of the preset ``arch`` has a residual branch (``skip="residual"``).

    Those architectures have one more initialisation setting, the scale of the
    affine maps that end the branch (:data:`numrnn.init.RESIDUAL_SCALE`), which
    the comparison tunes with the learning rate (:meth:`Protocol.tuning_grid`).

    Parameters
    ----------
    arch : str
        A key of :data:`numrnn.presets.ARCHITECTURES`.

    Returns
    -------
    bool

    Examples
    --------
    >>> has_residual_branch("deep-transition-skip"), has_residual_branch("deep-transition")
    (True, False)
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {list(ARCHITECTURES)}; got {arch!r}")
    return bool(residual_branch_weights(preset_config(arch)))


def task_names() -> list:
    """Every task ``--task`` accepts: the built-in ones and, always listed, ``chorales``."""
    return list(TASKS) + ([] if MUSIC_TASK in TASKS else [MUSIC_TASK])


@dataclass(frozen=True)
class TaskSpec:
    """One task of the comparison: a task name and its sequence length.

    Attributes
    ----------
    name : str
        A key of :data:`numrnn.training.tasks.TASKS` (``"adding"``,
        ``"charlm"``, ...) or ``"chorales"``.
    seq_len : int or None
        T; None keeps the task's own default.
    """

    name: str
    seq_len: int | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or self.name not in task_names():
            raise ValueError(f"task must be one of {task_names()}; got {self.name!r}")
        if self.seq_len is not None:
            check_int(self.seq_len, "seq_len", minimum=2)

    @property
    def label(self) -> str:
        """``"adding-50"`` (name and T) or ``"charlm"`` (the task's default T)."""
        return self.name if self.seq_len is None else f"{self.name}-{self.seq_len}"

    def settings(self) -> dict:
        """The keywords of :func:`numrnn.training.tasks.make_task` (without dtype), JSON-ready."""
        return (
            {"name": self.name}
            if self.seq_len is None
            else {"name": self.name, "seq_len": self.seq_len}
        )


def parse_task(text: str) -> TaskSpec:
    """``"adding:50"`` -> ``TaskSpec("adding", 50)``; ``"charlm"`` -> ``TaskSpec("charlm")``.

    Parameters
    ----------
    text : str
        ``NAME`` or ``NAME:T``.

    Returns
    -------
    TaskSpec

    Raises
    ------
    ValueError
        If the name is unknown or T is not an integer >= 2.
    """
    if not isinstance(text, str):
        raise TypeError(f"task must be a string NAME or NAME:T; got {text!r}")
    name, _, length = text.partition(":")
    if not length:
        return TaskSpec(name)
    try:
        seq_len = int(length)
    except ValueError:
        raise ValueError(
            f"task must be NAME or NAME:T with an integer T (e.g. adding:50); got {text!r}"
        ) from None
    if seq_len < 2:
        raise ValueError(f"task {text!r}: T must be >= 2; got {seq_len}")
    return TaskSpec(name, seq_len)


def _check_positive_floats(values, name: str) -> tuple:
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} must hold at least one value; got ()")
    for value in values:
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not (math.isfinite(value) and value > 0)
        ):
            raise ValueError(f"{name} must hold positive finite numbers; got {value!r}")
    return tuple(float(v) for v in values)


@dataclass(frozen=True)
class Protocol:
    """Everything the comparison holds equal across architectures.

    Attributes
    ----------
    tasks : tuple of TaskSpec
        The tasks, each trained and scored separately. The last one carries
        the depth sweep, the timing and the trained gradient flow: choose one
        that models of the budget can learn within the step budget, so that
        the sweep separates depths that learn from depths that do not.
    architectures : tuple of str
        Keys of :data:`numrnn.presets.ARCHITECTURES`.
    seeds : int
        Seeds 0..seeds-1 per architecture and task (weights and batches; the
        validation and test sets are fixed).
    budget : int
        Parameter budget: every model's hidden size is solved so that its
        parameter count is within ``tolerance`` of it.
    tolerance : float
        Largest allowed relative distance of a count from ``budget``.
    steps : int
        Updates per run, the same for every architecture.
    lr_grid : tuple of float
        Learning rates tried on seeds 0..tuning_seeds-1 of every architecture
        (and of every depth in the sweep); the one with the best mean final
        validation metric over those seeds is used for all seeds.
    residual_scales : tuple of float
        Initial scales of the residual branch (``residual_scale`` of
        :func:`numrnn.init.init_params`), tried with every learning rate of
        ``lr_grid`` by the architectures that have such a branch
        (:func:`has_residual_branch`): the best pair is used for all seeds.
        The default holds numrnn's own (0.01, which starts the state near the
        identity path: Fixup, ReZero) and the plain draw (1): which one lets
        a residual model learn depends on the optimizer and the step budget,
        and a comparison that fixed either would measure the initialisation
        rather than the architecture. Those architectures get
        ``len(residual_scales)`` times as many tuning runs; the report says so.
    tuning_seeds : int
        Seeds 0..tuning_seeds-1 are trained at every point of the tuning grid,
        and the point is chosen by their mean validation metric (a run that
        diverged makes its point the worst). One seed picks the point that was
        lucky once: measured, a residual model chosen on seed 0 (0.0036 on
        sine-50) ended at 0.31 and 0.46 on seeds 1 and 2. At most ``seeds``.
    optimizer : str
        The update rule (:data:`numrnn.training.optim.OPTIMIZERS`).
    clip : float
        Global gradient-norm clipping threshold, the same for all.
    batch_size : int
        B.
    eval_every : int
        Validation every this many steps (for the training curves).
    depths : tuple of int
        Transition depths q of the sweep (``--depths``); empty: no sweep.
    sweep_architectures : tuple of str
        The architectures swept over q.
    flow_T : int
        Length of the gradient-flow probe (loss on its last step only).
    flow_batch : int
        Sequences of the gradient-flow probe.
    spectra_T : int
        Steps whose step-Jacobian singular values are computed per architecture.
    dtype : str
        ``"float32"`` or ``"float64"``.
    learned_fraction : float
        A run has learnt a task when its metric is below this fraction of
        the task's trivial baseline (0.5: it removed half the baseline's error).
    """

    tasks: tuple = (TaskSpec("sine", 50), TaskSpec("adding", 50), TaskSpec("adding", 20))
    architectures: tuple = tuple(ARCHITECTURES)
    seeds: int = 3
    budget: int = 2000
    tolerance: float = 0.05
    steps: int = 600
    lr_grid: tuple = (1e-3, 3e-3, 1e-2)
    residual_scales: tuple = (RESIDUAL_SCALE, 1.0)
    tuning_seeds: int = 2
    optimizer: str = "adam"
    clip: float = 1.0
    batch_size: int = 32
    eval_every: int = 50
    depths: tuple = (1, 2, 4, 8)
    sweep_architectures: tuple = SWEEP_ARCHITECTURES
    flow_T: int = 100
    flow_batch: int = 8
    spectra_T: int = 20
    dtype: str = "float32"
    learned_fraction: float = 0.5

    def __post_init__(self):
        tasks = tuple(self.tasks)
        if not tasks or not all(isinstance(task, TaskSpec) for task in tasks):
            raise TypeError(f"tasks must be a non-empty sequence of TaskSpec; got {self.tasks!r}")
        if len({task.label for task in tasks}) != len(tasks):
            raise ValueError(f"tasks must not repeat; got {[task.label for task in tasks]}")
        architectures = tuple(self.architectures)
        for name in architectures:
            if name not in ARCHITECTURES:
                raise ValueError(f"architecture must be one of {list(ARCHITECTURES)}; got {name!r}")
        if not architectures or len(set(architectures)) != len(architectures):
            raise ValueError(
                f"architectures must be non-empty and not repeat; got {list(architectures)}"
            )
        check_int(self.seeds, "seeds", minimum=1)
        check_int(self.tuning_seeds, "tuning_seeds", minimum=1)
        if self.tuning_seeds > self.seeds:
            raise ValueError(
                f"tuning_seeds must be at most seeds ({self.seeds}); got {self.tuning_seeds}"
            )
        check_int(self.budget, "budget", minimum=10)
        if not (isinstance(self.tolerance, float) and 0 < self.tolerance < 1):
            raise ValueError(f"tolerance must be a float in (0, 1); got {self.tolerance!r}")
        check_int(self.steps, "steps", minimum=1)
        lr_grid = _check_positive_floats(self.lr_grid, "lr_grid")
        residual_scales = _check_positive_floats(self.residual_scales, "residual_scales")
        for name, grid in (("lr_grid", lr_grid), ("residual_scales", residual_scales)):
            if len(set(grid)) != len(grid):
                raise ValueError(f"{name} must not repeat; got {list(grid)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}; got {self.optimizer!r}")
        _check_positive_floats([self.clip], "clip")
        check_int(self.batch_size, "batch_size", minimum=1)
        check_int(self.eval_every, "eval_every", minimum=1)
        depths = tuple(self.depths)
        for q in depths:
            check_int(q, "depths", minimum=1)
        if len(set(depths)) != len(depths):
            raise ValueError(f"depths must not repeat; got {list(depths)}")
        for name in self.sweep_architectures:
            if name not in SWEEP_ARCHITECTURES:
                raise ValueError(
                    f"sweep_architectures must be among {list(SWEEP_ARCHITECTURES)}; got {name!r}"
                )
        check_int(self.flow_T, "flow_T", minimum=2)
        check_int(self.flow_batch, "flow_batch", minimum=1)
        check_int(self.spectra_T, "spectra_T", minimum=1)
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64'; got {self.dtype!r}")
        if not (isinstance(self.learned_fraction, float) and 0 < self.learned_fraction <= 1):
            raise ValueError(
                f"learned_fraction must be a float in (0, 1]; got {self.learned_fraction!r}"
            )
        object.__setattr__(self, "tasks", tasks)
        object.__setattr__(self, "architectures", architectures)
        object.__setattr__(self, "lr_grid", lr_grid)
        object.__setattr__(self, "residual_scales", residual_scales)
        object.__setattr__(self, "depths", tuple(sorted(int(q) for q in depths)))
        object.__setattr__(self, "sweep_architectures", tuple(self.sweep_architectures))

    @property
    def sweep_task(self) -> TaskSpec:
        """The task of the depth sweep, the timing and the trained-flow columns: the last one."""
        return self.tasks[-1]

    def tuning_grid(self, arch: str) -> list:
        """The settings tried on the tuning seeds of ``arch``; the best is used for all seeds.

        Parameters
        ----------
        arch : str
            A key of :data:`numrnn.presets.ARCHITECTURES`.

        Returns
        -------
        list of dict
            ``{"lr": lr}`` for every lr of :attr:`lr_grid`; for an architecture
            with a residual branch, ``{"lr": lr, "residual_scale": scale}`` for
            every pair of :attr:`lr_grid` × :attr:`residual_scales` (lr-major).

        Examples
        --------
        >>> from numrnn.compare import Protocol
        >>> protocol = Protocol(lr_grid=(1e-3, 1e-2), residual_scales=(0.01, 1.0))
        >>> protocol.tuning_grid("vanilla")
        [{'lr': 0.001}, {'lr': 0.01}]
        >>> len(protocol.tuning_grid("deep-transition-skip"))
        4
        """
        if not has_residual_branch(arch):
            return [{"lr": lr} for lr in self.lr_grid]
        return [
            {"lr": lr, "residual_scale": scale}
            for lr in self.lr_grid
            for scale in self.residual_scales
        ]

    def replace(self, **changes) -> "Protocol":
        """A copy with some fields changed (checked again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-ready, for the report."""
        data = asdict(self)
        data["tasks"] = [task.settings() for task in self.tasks]
        for key in ("architectures", "lr_grid", "residual_scales", "depths", "sweep_architectures"):
            data[key] = list(data[key])
        return data


DEFAULT = Protocol()
"""``numrnn compare`` with no argument (its tasks and the reason are in the report)."""

QUICK = Protocol(
    tasks=(TaskSpec("adding", 10), TaskSpec("adding", 20)),
    seeds=2,
    budget=300,
    tolerance=0.1,
    steps=25,
    lr_grid=(3e-3, 1e-2),
    batch_size=16,
    eval_every=5,
    depths=(1, 2),
    flow_T=30,
    flow_batch=4,
    spectra_T=8,
)
"""``numrnn compare --quick``: the whole pipeline in seconds (what the tests use)."""
