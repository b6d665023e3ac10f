"""The comparison protocol: what is compared, on what, and under which shared rules.

A :class:`Protocol` fixes everything a fair comparison must hold equal: the
parameter budget every architecture's width is solved for, the number of
tuning points every architecture gets (learning rates, and for an
architecture whose layers have a residual branch, the branch's initial
scale) and the successive halving that chooses among them, the optimizer,
clipping, batch size, step budget, and the tuning and reporting seeds (disjoint). It is plain
data (frozen, JSON-ready), so it can be written into the report and hashed into each job's
settings.

:data:`DEFAULT` is what ``numrnn compare`` runs with no argument (170 s wall, 316 s of CPU on
two idle cores; sized to stay under three minutes there); :data:`QUICK` is ``--quick`` (about
20 s; what the tests use; its numbers decide nothing).
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
    """One task of the comparison: a task name, its sequence length and its other settings.

    Attributes
    ----------
    name : str
        A key of :data:`numrnn.training.tasks.TASKS` (``"adding"``,
        ``"charlm"``, ...) or ``"chorales"``.
    seq_len : int or None
        T; None keeps the task's own default.
    options : tuple of (str, value) pairs
        Further keywords of the task (e.g. ``(("burn_in", 10),)`` for sine), JSON values.
    """

    name: str
    seq_len: int | None = None
    options: tuple = ()

    def __post_init__(self):
        if not isinstance(self.name, str) or self.name not in task_names():
            raise ValueError(f"task must be one of {task_names()}; got {self.name!r}")
        if self.seq_len is not None:
            check_int(self.seq_len, "seq_len", minimum=2)
        options = tuple(tuple(pair) for pair in dict(self.options).items())
        if any(key in ("name", "seq_len", "dtype") for key, _ in options):
            raise ValueError(f"options must not set name, seq_len or dtype; got {dict(options)!r}")
        object.__setattr__(self, "options", options)

    @property
    def label(self) -> str:
        """``"adding-50"`` (name and T) or ``"charlm"`` (the task's default T)."""
        return self.name if self.seq_len is None else f"{self.name}-{self.seq_len}"

    def settings(self) -> dict:
        """The keywords of :func:`numrnn.training.tasks.make_task` (without dtype), JSON-ready."""
        settings = {"name": self.name}
        if self.seq_len is not None:
            settings["seq_len"] = self.seq_len
        settings.update(dict(self.options))
        return settings


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


def _geometric_grid(low: float, high: float, points: int) -> tuple:
    """``points`` values from ``low`` to ``high``, evenly spaced in log, at 2 significant digits."""
    if points == 1:
        return (float(f"{math.sqrt(low * high):.2g}"),)
    return tuple(float(f"{low * (high / low) ** (k / (points - 1)):.2g}") for k in range(points))


@dataclass(frozen=True)
class Protocol:
    """Everything the comparison holds equal across architectures.

    Attributes
    ----------
    tasks : tuple of TaskSpec
        The tasks, each trained and scored separately. The last one carries
        the depth sweeps and the timing: choose one on which the plain q = 1
        transition learns reliably, so that the sweep separates depths that
        learn from depths that do not.
    architectures : tuple of str
        Keys of :data:`numrnn.presets.ARCHITECTURES`.
    tuning_seeds : int
        Seeds ``seed_offset + 0 .. tuning_seeds - 1`` train every point of the
        tuning grid; the point is chosen by their mean validation metric.
    seeds : int
        Reporting seeds, disjoint from the tuning seeds: seeds
        ``seed_offset + tuning_seeds .. + seeds - 1`` train the chosen point
        and are the only runs the table and the verdicts use (a point chosen
        on seeds that also report it wins by the luck that chose it).
    seed_offset : int
        Added to every seed of the run (tuning, reporting, the flow pictures)
        and to the seeds of the held-out sets: ``--seed-offset 1000`` reruns
        the whole protocol on seeds disjoint from the default's.
    budget : int
        Parameter budget: every model's hidden size is solved so that its
        parameter count is within ``tolerance`` of it.
    tolerance : float
        Largest allowed relative distance of a count from ``budget``.
    steps : int
        Updates per reporting run, the same for every architecture.
    lr_range : tuple of float
        ``(lowest, highest)`` learning rate tried.
    tuning_points : int
        Points of every architecture's tuning grid, the same number for all
        (:meth:`tuning_grid`): ``tuning_points`` learning rates spread
        geometrically over ``lr_range``, or, for an architecture with a
        residual branch, ``tuning_points / len(residual_scales)`` learning
        rates × each residual scale.
    residual_scales : tuple of float
        Initial scales of the residual branch (``residual_scale`` of
        :func:`numrnn.init.init_params`) tried by the architectures that have
        such a branch (:func:`has_residual_branch`). The default holds
        numrnn's own (0.01, which starts the state near the identity path:
        Fixup, ReZero) and the plain draw (1).
    tuning_rungs : tuple of float
        Successive halving: the fractions of ``steps`` trained at each rung,
        increasing, the last 1.0. Every point trains the first rung; after
        each rung but the last the best ``1 / halving_rate`` of the points
        (at least one) go on to the next.
    halving_rate : int
        The factor by which each rung cuts the points.
    optimizer : str
        The update rule (:data:`numrnn.training.optim.OPTIMIZERS`).
    clip : float
        Global gradient-norm clipping threshold, the same for all.
    batch_size : int
        B.
    eval_every : int
        Validation (and per-layer gradient flow) every this many steps.
    early_stopping : bool
        Every run ends with the parameters of its evaluation (initialisation
        included) with the lowest validation metric, not with its last step's:
        the tuning choice and the held-out score then use that checkpoint. Off
        by default; on for a data set where a run of ``steps`` updates
        overfits (``--early-stopping``).
    depths : tuple of int
        Transition depths q of the sweeps (``--depths``); empty: no sweep.
    sweep_architectures : tuple of str
        The architectures swept over q.
    fixed_width_sweep : bool
        Besides the budget-matched sweep (H shrinks as q grows), sweep q at
        the one width of the preset's q on the sweep task, so that depth is
        not confounded with width.
    flow_batch : int
        Sequences of the gradient-flow measurements (the task's own inputs).
    spectra_T : int
        Steps whose step-Jacobian singular values are computed per architecture.
    dtype : str
        ``"float32"`` or ``"float64"``: training; gradient flow is always float64.
    """

    tasks: tuple = (
        TaskSpec("sine", 30, (("burn_in", 10),)),
        TaskSpec("count-mod", 20, (("modulus", 3),)),
        TaskSpec("adding", 10),
    )
    architectures: tuple = tuple(ARCHITECTURES)
    tuning_seeds: int = 2
    seeds: int = 6
    seed_offset: int = 0
    budget: int = 2000
    tolerance: float = 0.05
    steps: int = 400
    lr_range: tuple = (1e-3, 3e-2)
    tuning_points: int = 6
    residual_scales: tuple = (RESIDUAL_SCALE, 1.0)
    tuning_rungs: tuple = (0.15, 1.0)
    halving_rate: int = 3
    optimizer: str = "adam"
    clip: float = 1.0
    batch_size: int = 32
    eval_every: int = 50
    early_stopping: bool = False
    depths: tuple = (1, 2, 16)
    sweep_architectures: tuple = SWEEP_ARCHITECTURES
    fixed_width_sweep: bool = True
    flow_batch: int = 8
    spectra_T: int = 20
    dtype: str = "float32"

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
        check_int(self.seed_offset, "seed_offset", minimum=0)
        check_int(self.budget, "budget", minimum=10)
        if not (isinstance(self.tolerance, float) and 0 < self.tolerance < 1):
            raise ValueError(f"tolerance must be a float in (0, 1); got {self.tolerance!r}")
        check_int(self.steps, "steps", minimum=1)
        lr_range = _check_positive_floats(self.lr_range, "lr_range")
        if len(lr_range) != 2 or lr_range[0] > lr_range[1]:
            raise ValueError(f"lr_range must be (lowest, highest); got {self.lr_range!r}")
        check_int(self.tuning_points, "tuning_points", minimum=1)
        residual_scales = _check_positive_floats(self.residual_scales, "residual_scales")
        if len(set(residual_scales)) != len(residual_scales):
            raise ValueError(f"residual_scales must not repeat; got {list(residual_scales)}")
        if self.tuning_points % len(residual_scales):
            raise ValueError(
                f"tuning_points must be a multiple of the number of residual_scales "
                f"({len(residual_scales)}), so that every architecture gets as many tuning "
                f"points; got {self.tuning_points}"
            )
        rungs = _check_positive_floats(self.tuning_rungs, "tuning_rungs")
        if list(rungs) != sorted(set(rungs)) or rungs[-1] != 1.0:
            raise ValueError(
                f"tuning_rungs must be increasing fractions of steps ending at 1.0; got {rungs}"
            )
        check_int(self.halving_rate, "halving_rate", minimum=2)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}; got {self.optimizer!r}")
        _check_positive_floats([self.clip], "clip")
        check_int(self.batch_size, "batch_size", minimum=1)
        check_int(self.eval_every, "eval_every", minimum=1)
        if not isinstance(self.early_stopping, bool):
            raise TypeError(f"early_stopping must be True or False; got {self.early_stopping!r}")
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
        if not isinstance(self.fixed_width_sweep, bool):
            raise TypeError(
                f"fixed_width_sweep must be True or False; got {self.fixed_width_sweep!r}"
            )
        check_int(self.flow_batch, "flow_batch", minimum=1)
        check_int(self.spectra_T, "spectra_T", minimum=1)
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64'; got {self.dtype!r}")
        object.__setattr__(self, "tasks", tasks)
        object.__setattr__(self, "architectures", architectures)
        object.__setattr__(self, "lr_range", lr_range)
        object.__setattr__(self, "residual_scales", residual_scales)
        object.__setattr__(self, "tuning_rungs", rungs)
        object.__setattr__(self, "depths", tuple(sorted(int(q) for q in depths)))
        object.__setattr__(self, "sweep_architectures", tuple(self.sweep_architectures))

    @property
    def sweep_task(self) -> TaskSpec:
        """The task of the depth sweeps and the timing: the last one."""
        return self.tasks[-1]

    @property
    def tuning_seed_list(self) -> list:
        """The seeds that choose each architecture's tuning point."""
        return [self.seed_offset + k for k in range(self.tuning_seeds)]

    @property
    def reporting_seed_list(self) -> list:
        """The seeds that measure the chosen points: disjoint from :attr:`tuning_seed_list`."""
        first = self.seed_offset + self.tuning_seeds
        return [first + k for k in range(self.seeds)]

    @property
    def rung_steps(self) -> list:
        """Training steps of each rung of the successive halving (the last: :attr:`steps`)."""
        return [max(1, round(fraction * self.steps)) for fraction in self.tuning_rungs]

    def tuning_grid(self, arch: str) -> list:
        """The settings tried on the tuning seeds of ``arch``: ``tuning_points`` of them.

        Parameters
        ----------
        arch : str
            A key of :data:`numrnn.presets.ARCHITECTURES`.

        Returns
        -------
        list of dict
            ``{"lr": lr}`` for ``tuning_points`` learning rates spread
            geometrically over :attr:`lr_range` (2 significant digits); for an
            architecture with a residual branch, ``{"lr": lr, "residual_scale":
            scale}`` for ``tuning_points / len(residual_scales)`` learning rates
            × every scale (lr-major). Every architecture gets as many points.

        Examples
        --------
        >>> from numrnn.compare import Protocol
        >>> protocol = Protocol(lr_range=(1e-3, 1e-2), tuning_points=2)
        >>> protocol.tuning_grid("vanilla")
        [{'lr': 0.001}, {'lr': 0.01}]
        >>> protocol.tuning_grid("deep-transition-skip")
        [{'lr': 0.0032, 'residual_scale': 0.01}, {'lr': 0.0032, 'residual_scale': 1.0}]
        """
        if not has_residual_branch(arch):
            return [{"lr": lr} for lr in _geometric_grid(*self.lr_range, self.tuning_points)]
        rates = _geometric_grid(*self.lr_range, self.tuning_points // len(self.residual_scales))
        return [
            {"lr": lr, "residual_scale": scale} for lr in rates for scale in self.residual_scales
        ]

    def replace(self, **changes) -> "Protocol":
        """A copy with some fields changed (checked again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-ready, for the report."""
        data = asdict(self)
        data["tasks"] = [task.settings() for task in self.tasks]
        for key in (
            "architectures",
            "lr_range",
            "residual_scales",
            "tuning_rungs",
            "depths",
            "sweep_architectures",
        ):
            data[key] = list(data[key])
        data["tuning_seeds_used"] = self.tuning_seed_list
        data["reporting_seeds_used"] = self.reporting_seed_list
        data["rung_steps"] = self.rung_steps
        return data


DEFAULT = Protocol()
"""``numrnn compare`` with no argument (its tasks and the reason are in the report)."""

QUICK = Protocol(
    tasks=(TaskSpec("adding", 10), TaskSpec("adding", 20)),
    tuning_seeds=1,
    seeds=2,
    budget=300,
    tolerance=0.1,
    steps=20,
    tuning_points=2,
    batch_size=16,
    eval_every=5,
    depths=(1, 2),
    flow_batch=4,
    spectra_T=8,
)
"""``numrnn compare --quick``: the whole pipeline in seconds; its numbers decide nothing."""
