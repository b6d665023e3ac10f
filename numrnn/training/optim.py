"""Optimizers and learning-rate schedules, written by hand over the params dict.

An optimizer is a small frozen object holding only its hyperparameters. Its
state lives outside it, in a plain ``dict`` of arrays that a checkpoint can
store as it is::

    opt = optim.Adam(lr=1e-3)
    state = opt.init(model.params)                  # {"step": 0, "m/layer1.W_xh": zeros, ...}
    loss, grads, info = model.loss_and_grads(x, targets)
    opt.step(model.params, grads, state)            # updates params and state IN PLACE

``step`` writes into the parameter arrays themselves (``θ -= ...``), so a model
holding the same dict sees the new values and no array is reallocated. Every
update is a few lines that read like its equation (``docs/training.md``,
section "Optimizers"). Notation: θ a parameter, g its gradient, η the
learning rate, t = 1, 2, ... the step, ⊙ and the square root element-wise.

=============  =====================================================================
name           update (per parameter)
=============  =====================================================================
"sgd"          θ ← θ − η g
"momentum"     v ← μ v + g;  θ ← θ − η v
"nesterov"     v ← μ v + g;  θ ← θ − η (g + μ v)
"adagrad"      G ← G + g⊙g;  θ ← θ − η g / (√G + ε)
"rmsprop"      s ← ρ s + (1 − ρ) g⊙g;  θ ← θ − η g / (√s + ε)
"adam"         m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g⊙g;
               θ ← θ − η m̂ / (√v̂ + ε),  m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
"adamw"        Adam, plus decoupled weight decay  θ ← θ − η λ θ
=============  =====================================================================

A schedule maps the 0-based step index to a learning rate: :class:`Constant`,
:class:`StepDecay`, :class:`Cosine`, and :class:`Warmup`, which puts a linear
warm-up in front of any of them.

Shape legend: every state array has the shape and dtype of its parameter.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from .._checks import check_int, check_number

__all__ = [
    "Optimizer",
    "SGD",
    "Momentum",
    "Nesterov",
    "Adagrad",
    "RMSProp",
    "Adam",
    "AdamW",
    "OPTIMIZERS",
    "make_optimizer",
    "optimizer_from_dict",
    "Schedule",
    "Constant",
    "StepDecay",
    "Cosine",
    "Warmup",
    "SCHEDULES",
    "make_schedule",
    "schedule_from_dict",
]


# ---------------------------------------------------------------- optimizers


@dataclass(frozen=True)
class Optimizer:
    """Base class: hyperparameters only; the state is the dict :meth:`init` returns.

    Subclasses name their per-parameter buffers in ``slots`` (e.g. ``("m", "v")``)
    and implement :meth:`update`. The state dict holds ``"step"`` (a 0-d int64
    array, the number of updates done) and one array ``f"{slot}/{name}"`` per
    slot and parameter, zero at the start.

    Parameters
    ----------
    lr : float
        η, the learning rate when :meth:`step` gets no ``lr`` (e.g. from a schedule).
    """

    lr: float = 1e-2
    name = "base"
    slots = ()

    def __post_init__(self):
        check_number(self.lr, "lr", low=0.0)

    def init(self, params: dict) -> dict:
        """A fresh state for ``params``: ``"step"`` = 0 and zeroed buffers.

        Parameters
        ----------
        params : dict of str to ndarray

        Returns
        -------
        dict of str to ndarray
            ``"step"`` (0-d int64) and ``f"{slot}/{name}"``, each with the
            shape and dtype of ``params[name]``.
        """
        if not isinstance(params, dict) or not params:
            raise TypeError(
                f"params must be a non-empty dict of str to ndarray; got {type(params).__name__}"
            )
        state = {"step": np.array(0, dtype=np.int64)}
        for slot in self.slots:
            for name, value in params.items():
                state[f"{slot}/{name}"] = np.zeros_like(value)
        return state

    def check_state(self, params: dict, state: dict) -> None:
        """Raise ValueError unless ``state`` is this optimizer's state for ``params``."""
        if not isinstance(state, dict):
            raise TypeError(
                f"state must be the dict returned by {type(self).__name__}.init; "
                f"got {type(state).__name__}"
            )
        expected = {"step"} | {f"{slot}/{name}" for slot in self.slots for name in params}
        if set(state) != expected:
            missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
            raise ValueError(
                f"state does not belong to {type(self).__name__} over these params: "
                f"missing {missing[:4]}{'...' if len(missing) > 4 else ''}, "
                f"unexpected {extra[:4]}{'...' if len(extra) > 4 else ''}"
            )
        for key, value in state.items():
            if key != "step":
                param = params[key.split("/", 1)[1]]
                if (
                    not isinstance(value, np.ndarray)
                    or value.shape != param.shape
                    or value.dtype != param.dtype
                ):
                    raise ValueError(
                        f"state[{key!r}] must be an array of shape {param.shape} and dtype "
                        f"{param.dtype}; got {getattr(value, 'shape', type(value).__name__)}"
                    )

    def step(self, params: dict, grads: dict, state: dict, lr: float | None = None) -> None:
        """One update of every parameter, in place (``params`` and ``state`` are modified).

        Parameters
        ----------
        params : dict of str to ndarray
            Updated in place: the same arrays hold the new values.
        grads : dict of str to ndarray
            Same keys and shapes as ``params`` (e.g. after clipping).
        state : dict of str to ndarray
            From :meth:`init`; updated in place.
        lr : float >= 0, optional
            η for this step (a schedule's value, which may reach 0); default ``self.lr``.
        """
        lr = (
            self.lr if lr is None else check_number(lr, "lr", low=0.0, low_open=False)
        )  # a schedule may end at 0
        if grads.keys() != params.keys():
            raise ValueError(
                f"grads must have the keys of params; "
                f"missing {sorted(params.keys() - grads.keys())}, "
                f"unexpected {sorted(grads.keys() - params.keys())}"
            )
        if len(state) != 1 + len(self.slots) * len(params) or "step" not in state:
            self.check_state(params, state)  # raises with the details
        t = int(state["step"]) + 1
        state["step"] = np.array(t, dtype=np.int64)
        for name, theta in params.items():
            g = grads[name]
            if g.shape != theta.shape:
                raise ValueError(
                    f"grads[{name!r}] must have shape {theta.shape} (the parameter's); "
                    f"got {g.shape}"
                )
            self.update(theta, g, [state[f"{slot}/{name}"] for slot in self.slots], lr, t)

    def update(self, theta: np.ndarray, g: np.ndarray, buffers: list, lr: float, t: int) -> None:
        """Update one parameter ``theta`` in place from its gradient ``g`` and its slot
        ``buffers``."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        """``{"name": ..., **hyperparameters}``, JSON-ready; :func:`optimizer_from_dict` inverts
        it."""
        return {"name": self.name, **asdict(self)}


@dataclass(frozen=True)
class SGD(Optimizer):
    """Plain stochastic gradient descent.

    ``θ ← θ − η g``
    """

    name = "sgd"

    def update(self, theta, g, buffers, lr, t):
        theta -= lr * g  # θ ← θ − η g


@dataclass(frozen=True)
class Momentum(Optimizer):
    """SGD with (heavy-ball) momentum μ.

    ``v ← μ v + g``;  ``θ ← θ − η v``

    Parameters
    ----------
    lr : float, default 1e-2
    momentum : float in [0, 1), default 0.9
    """

    momentum: float = 0.9
    name = "momentum"
    slots = ("v",)

    def __post_init__(self):
        super().__post_init__()
        check_number(self.momentum, "momentum", low=0.0, high=1.0, low_open=False)

    def update(self, theta, g, buffers, lr, t):
        (v,) = buffers
        v *= self.momentum
        v += g  # v ← μ v + g
        theta -= lr * v  # θ ← θ − η v


@dataclass(frozen=True)
class Nesterov(Momentum):
    """SGD with Nesterov momentum (Sutskever et al. 2013), in its look-ahead-free form.

    ``v ← μ v + g``;  ``θ ← θ − η (g + μ v)``

    The gradient of the point the momentum is about to carry θ to, rewritten
    so that only the current gradient is needed (as in PyTorch's SGD with
    ``nesterov=True``).

    Parameters
    ----------
    lr : float, default 1e-2
    momentum : float in [0, 1), default 0.9
    """

    name = "nesterov"

    def update(self, theta, g, buffers, lr, t):
        (v,) = buffers
        v *= self.momentum
        v += g  # v ← μ v + g
        theta -= lr * (g + self.momentum * v)  # θ ← θ − η (g + μ v)


@dataclass(frozen=True)
class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011), min-char-rnn's optimizer.

    ``G ← G + g⊙g``;  ``θ ← θ − η g / (√G + ε)``

    Each parameter's step shrinks with the squared gradients it has seen.

    Parameters
    ----------
    lr : float, default 1e-1
    eps : float > 0, default 1e-8
    """

    lr: float = 1e-1
    eps: float = 1e-8
    name = "adagrad"
    slots = ("G",)

    def __post_init__(self):
        super().__post_init__()
        check_number(self.eps, "eps", low=0.0)

    def update(self, theta, g, buffers, lr, t):
        (G,) = buffers
        G += g * g  # G ← G + g⊙g
        theta -= lr * g / (np.sqrt(G) + self.eps)  # θ ← θ − η g / (√G + ε)


@dataclass(frozen=True)
class RMSProp(Optimizer):
    """RMSProp (Tieleman & Hinton 2012): Adagrad with a moving average.

    ``s ← ρ s + (1 − ρ) g⊙g``;  ``θ ← θ − η g / (√s + ε)``

    Parameters
    ----------
    lr : float, default 1e-3
    rho : float in [0, 1), default 0.9
    eps : float > 0, default 1e-8
    """

    lr: float = 1e-3
    rho: float = 0.9
    eps: float = 1e-8
    name = "rmsprop"
    slots = ("s",)

    def __post_init__(self):
        super().__post_init__()
        check_number(self.rho, "rho", low=0.0, high=1.0, low_open=False)
        check_number(self.eps, "eps", low=0.0)

    def update(self, theta, g, buffers, lr, t):
        (s,) = buffers
        s *= self.rho
        s += (1 - self.rho) * g * g  # s ← ρ s + (1 − ρ) g⊙g
        theta -= lr * g / (np.sqrt(s) + self.eps)  # θ ← θ − η g / (√s + ε)


@dataclass(frozen=True)
class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): momentum and RMSProp with bias correction.

    ``m ← β₁ m + (1 − β₁) g``;  ``v ← β₂ v + (1 − β₂) g⊙g``;
    ``θ ← θ − η m̂ / (√v̂ + ε)`` with ``m̂ = m / (1 − β₁ᵗ)``, ``v̂ = v / (1 − β₂ᵗ)``

    Parameters
    ----------
    lr : float, default 1e-3
    beta1, beta2 : float in [0, 1), default 0.9 and 0.999
    eps : float > 0, default 1e-8
    """

    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    name = "adam"
    slots = ("m", "v")

    def __post_init__(self):
        super().__post_init__()
        check_number(self.beta1, "beta1", low=0.0, high=1.0, low_open=False)
        check_number(self.beta2, "beta2", low=0.0, high=1.0, low_open=False)
        check_number(self.eps, "eps", low=0.0)

    def update(self, theta, g, buffers, lr, t):
        m, v = buffers
        m *= self.beta1
        m += (1 - self.beta1) * g  # m ← β₁ m + (1 − β₁) g
        v *= self.beta2
        v += (1 - self.beta2) * g * g  # v ← β₂ v + (1 − β₂) g⊙g
        m_hat = m / (1 - self.beta1**t)  # bias corrections
        v_hat = v / (1 - self.beta2**t)
        theta -= lr * m_hat / (np.sqrt(v_hat) + self.eps)  # θ ← θ − η m̂ / (√v̂ + ε)


@dataclass(frozen=True)
class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay λ.

    ``θ ← θ − η λ θ``, then the Adam update. The decay acts on θ directly
    instead of being added to g, so Adam's per-parameter scaling does not
    weaken it. It applies to every parameter, biases included.

    Parameters
    ----------
    lr : float, default 1e-3
    beta1, beta2 : float in [0, 1), default 0.9 and 0.999
    eps : float > 0, default 1e-8
    weight_decay : float >= 0, default 1e-2
    """

    weight_decay: float = 1e-2
    name = "adamw"

    def __post_init__(self):
        super().__post_init__()
        check_number(self.weight_decay, "weight_decay", low=0.0, low_open=False)

    def update(self, theta, g, buffers, lr, t):
        theta -= lr * self.weight_decay * theta  # θ ← θ − η λ θ   (decoupled)
        super().update(theta, g, buffers, lr, t)


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, Nesterov, Adagrad, RMSProp, Adam, AdamW)}


def make_optimizer(name: str, **hyperparameters) -> Optimizer:
    """An optimizer by name (the keys of :data:`OPTIMIZERS`); unknown or ``None`` values are
    dropped.

    Parameters
    ----------
    name : str
        ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``, ``"adam"``,
        ``"adamw"``.
    **hyperparameters
        E.g. ``lr=1e-3``. Keywords the optimizer does not have, or whose
        value is None, are ignored, so a command line can pass all of its flags.

    Returns
    -------
    Optimizer
    """
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}; got {name!r}")
    cls = OPTIMIZERS[name]
    known = {f.name for f in fields(cls)}
    return cls(
        **{
            key: value
            for key, value in hyperparameters.items()
            if key in known and value is not None
        }
    )


def optimizer_from_dict(data: dict) -> Optimizer:
    """Rebuild an optimizer written by :meth:`Optimizer.to_dict`."""
    if not isinstance(data, dict) or data.get("name") not in OPTIMIZERS:
        raise ValueError(
            f"an optimizer spec must be a dict with 'name' one of {list(OPTIMIZERS)}; got {data!r}"
        )
    cls = OPTIMIZERS[data["name"]]
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known - {"name"}
    if unknown:
        raise ValueError(
            f"unknown hyperparameters {sorted(unknown)} for optimizer {data['name']!r}"
        )
    return cls(**{key: value for key, value in data.items() if key != "name"})


# ----------------------------------------------------------------- schedules


class Schedule:
    """A learning-rate schedule: ``schedule(step) -> lr`` for the 0-based step index."""

    kind = "schedule"

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def to_dict(self) -> dict:
        """``{"kind": ..., **settings}``, JSON-ready; :func:`schedule_from_dict` inverts it."""
        return {"kind": self.kind, **{f.name: getattr(self, f.name) for f in fields(self)}}

    def values(self, num_steps: int) -> np.ndarray:
        """The learning rates of steps 0 .. num_steps - 1, shape (num_steps,)."""
        return np.array([self(step) for step in range(num_steps)])


@dataclass(frozen=True)
class Constant(Schedule):
    """``η_t = η``."""

    lr: float
    kind = "constant"

    def __post_init__(self):
        check_number(self.lr, "lr", low=0.0)

    def __call__(self, step: int) -> float:
        return self.lr


@dataclass(frozen=True)
class StepDecay(Schedule):
    """Multiply by ``factor`` every ``every`` steps: ``η_t = η · factor^⌊t / every⌋``."""

    lr: float
    every: int
    factor: float = 0.1
    kind = "step"

    def __post_init__(self):
        check_number(self.lr, "lr", low=0.0)
        check_int(self.every, "every", minimum=1)
        check_number(self.factor, "factor", low=0.0, high=1.0, high_open=False)

    def __call__(self, step: int) -> float:
        return self.lr * self.factor ** (step // self.every)


@dataclass(frozen=True)
class Cosine(Schedule):
    """Cosine decay from ``lr`` to ``min_lr`` over ``total_steps`` (Loshchilov & Hutter 2017).

    ``η_t = η_min + (η − η_min) (1 + cos(π t / total_steps)) / 2``, and ``η_min`` after
    ``total_steps``.
    """

    lr: float
    total_steps: int
    min_lr: float = 0.0
    kind = "cosine"

    def __post_init__(self):
        check_number(self.lr, "lr", low=0.0)
        check_int(self.total_steps, "total_steps", minimum=1)
        check_number(self.min_lr, "min_lr", low=0.0, high=self.lr, low_open=False, high_open=False)

    def __call__(self, step: int) -> float:
        progress = min(step, self.total_steps) / self.total_steps
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class Warmup(Schedule):
    """Linear warm-up in front of another schedule.

    ``η_t = after(t) · (t + 1) / steps`` for ``t < steps``, then ``after(t)``.
    The first step already takes a small non-zero step, and step ``steps - 1``
    reaches the full rate.

    Parameters
    ----------
    after : Schedule
        What follows (and scales) the warm-up, e.g. ``Cosine(1e-3, 1000)``.
    steps : int >= 1
    """

    after: Schedule
    steps: int
    kind = "warmup"

    def __post_init__(self):
        if not isinstance(self.after, Schedule):
            raise TypeError(
                f"after must be a Schedule (e.g. Constant(1e-3)); got {type(self.after).__name__}"
            )
        check_int(self.steps, "steps", minimum=1)

    def __call__(self, step: int) -> float:
        scale = (step + 1) / self.steps if step < self.steps else 1.0
        return self.after(step) * scale

    def to_dict(self) -> dict:
        return {"kind": self.kind, "after": self.after.to_dict(), "steps": self.steps}


SCHEDULES = ("constant", "step", "cosine")


def schedule_from_dict(data: dict) -> Schedule:
    """Rebuild a schedule written by :meth:`Schedule.to_dict`."""
    kinds = {cls.kind: cls for cls in (Constant, StepDecay, Cosine, Warmup)}
    if not isinstance(data, dict) or data.get("kind") not in kinds:
        raise ValueError(
            f"a schedule spec must be a dict with 'kind' one of {list(kinds)}; got {data!r}"
        )
    settings = {key: value for key, value in data.items() if key != "kind"}
    if data["kind"] == "warmup":
        settings["after"] = schedule_from_dict(settings.get("after"))
    return kinds[data["kind"]](**settings)


def make_schedule(
    name: str,
    lr: float,
    total_steps: int,
    *,
    warmup: int = 0,
    decay_every: int | None = None,
    decay_factor: float = 0.1,
    min_lr: float = 0.0,
) -> Schedule:
    """A schedule by name, as the command line builds it.

    Parameters
    ----------
    name : {"constant", "step", "cosine"}
    lr : float
        The peak learning rate.
    total_steps : int
        Length of the run (for "cosine"; "step" decays every ``total_steps // 3`` by default).
    warmup : int, default 0
        Steps of linear warm-up in front (0 = none).
    decay_every : int, optional
        "step": steps between decays.
    decay_factor : float, default 0.1
        "step": the factor of each decay.
    min_lr : float, default 0.0
        "cosine": the final learning rate.

    Returns
    -------
    Schedule
    """
    if not isinstance(name, str) or name not in SCHEDULES:
        raise ValueError(f"schedule must be one of {list(SCHEDULES)}; got {name!r}")
    check_int(warmup, "warmup", minimum=0)
    if name == "constant":
        schedule = Constant(lr)
    elif name == "step":
        schedule = StepDecay(lr, decay_every or max(1, total_steps // 3), decay_factor)
    else:
        schedule = Cosine(lr, total_steps, min_lr)
    return Warmup(schedule, warmup) if warmup > 0 else schedule
