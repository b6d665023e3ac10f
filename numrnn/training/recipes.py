"""Training recipes: the settings ``numrnn train`` uses for every flag the user does not give.

One table, :data:`RECIPES`, read from the most general row to the most
specific: the defaults of every run (``("*", "*")``), then those of the task
(``(task, "*")``), then those of the architecture (``("*", arch)``), then those
of the pair (``(task, arch)``). A later row overrides an earlier one, and a
flag given on the command line overrides them all. ``docs/training.md`` shows
the table with the reason for each row, and ``benchmarks/recipes.py`` measures
what every pair reaches with it.

========================  ==========================================================
setting                   meaning (the ``numrnn train`` flag)
========================  ==========================================================
``task``, ``arch``        ``--task``, ``--arch``
``seq_len``               ``--seq-len`` (None: the task's own default)
``hidden``                ``--hidden``, H of every layer
``steps``, ``batch``      ``--steps`` (total updates), ``--batch``
``optimizer``, ``lr``     ``--optimizer``, ``--lr`` (None: the optimizer's default)
``schedule``, ``warmup``  ``--schedule``, ``--warmup``
``clip``                  ``--clip``, the global-norm threshold (0 = no clipping)
``eval_every``            ``--eval-every``
========================  ==========================================================
"""

from __future__ import annotations

__all__ = ["DEFAULTS", "RECIPES", "recipe"]

DEFAULTS = {
    "task": "adding",
    "arch": "deep-transition-skip",
    "text": None,
    "seq_len": None,
    "hidden": 64,
    "layers": None,
    "depth": None,
    "input_depth": 0,
    "output_depth": 0,
    "activation": "tanh",
    "mlp_activation": None,
    "init": "xavier",
    "dtype": "float32",
    "steps": 2000,
    "batch": 32,
    "optimizer": "adam",
    "lr": None,
    "momentum": None,
    "weight_decay": None,
    "schedule": "constant",
    "warmup": 0,
    "clip": 1.0,
    "clip_value": 0.0,
    "bptt_window": None,
    "seed": 0,
    "eval_every": 100,
}
"""Every setting's value when no row of :data:`RECIPES` sets it."""

RECIPES = {
    ("*", "*"): {"optimizer": "adam", "lr": 1e-3, "clip": 1.0, "steps": 2000},
}
"""``(task, arch) -> settings``; ``"*"`` matches every task or every architecture."""


def recipe(task: str, arch: str) -> dict:
    """Every setting of ``numrnn train --task task --arch arch`` with no other flag.

    Parameters
    ----------
    task : str
        A key of :data:`numrnn.training.tasks.TASKS`.
    arch : str
        A key of :data:`numrnn.presets.ARCHITECTURES`.

    Returns
    -------
    dict
        The keys of :data:`DEFAULTS`, with the rows of :data:`RECIPES` that match
        ``(task, arch)`` applied from the most general to the most specific.

    Examples
    --------
    >>> from numrnn.training.recipes import recipe
    >>> recipe("adding", "vanilla")["optimizer"]
    'adam'
    """
    from ..presets import ARCHITECTURES
    from .tasks import TASKS

    if task not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}; got {task!r}")
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {list(ARCHITECTURES)}; got {arch!r}")
    settings = {**DEFAULTS, "task": task, "arch": arch}
    for key in (("*", "*"), (task, "*"), ("*", arch), (task, arch)):
        settings.update(RECIPES.get(key, {}))
    return settings
