r"""Train any architecture on a task and write checkpoints and the history.

Examples::

    numrnn train --task adding --arch deep-transition-skip --out runs/adding
    numrnn train --task charlm --text my.txt --arch hierarchical --hidden 128 --seq-len 64 \
        --out runs/text
    numrnn train --out runs/adding --steps 8000 --resume    # continue the first run to 8000 steps

Every flag not given takes the value of the recipe of the task and the
architecture (:mod:`numrnn.training.recipes`, the table in
``docs/training.md``). The output directory receives ``checkpoint.npz`` (saved
every ``--checkpoint-every`` steps and at the end), ``checkpoint-best.npz``
(the best validation metric so far), ``history.csv`` and ``history.json``
(loss, pre-clip gradient norm and learning rate of every step; validation
loss and metric of every evaluation). The last lines printed compare the
validation metric with the task's trivial baseline, say where the files are
and what to run next (``numrnn plot``).

A folder that already holds a run is refused unless ``--resume`` continues
it or ``--overwrite`` replaces it, and the folder is checked to be writable
before the first step. A resumed run keeps its own settings: only
``--steps`` (a larger total), ``--eval-every``, ``--checkpoint-every``,
``--divergence-factor`` and ``--quiet`` may change, and any other flag that
contradicts the run is an error. Ctrl-C saves a checkpoint between two steps
and prints the command that resumes it.

A run diverges when its loss is NaN or infinite, or when its validation
metric exceeds ``--divergence-factor`` (10) times the larger of the task's
baseline and the metric before training; it stops, names the step, the
metric and its last good value, and points at the checkpoints this run saved.

Exit status (``docs/training.md``): 0 on success, 1 if training diverged, 2 on
bad arguments or an unusable ``--out``, 130 if interrupted.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import tempfile
import time
from dataclasses import replace

import numpy as np

from ..activations import ACTIVATIONS
from ..presets import ARCHITECTURES, build
from ..training.optim import OPTIMIZERS, SCHEDULES, Cosine, Warmup, make_optimizer, make_schedule
from ..training.recipes import DEFAULTS, RECIPES, recipe
from ..training.tasks import TASKS, CharLMTask, make_task
from ..training.trainer import (
    BEST_CHECKPOINT,
    CHECKPOINT,
    DIVERGENCE_FACTOR,
    Trainer,
    TrainingDiverged,
    write_history,
)

# what makes a folder hold a run
RUN_FILES = (CHECKPOINT, BEST_CHECKPOINT, "history.csv", "history.json")
# the flags a resumed run may take from the command line; every other setting is the run's own
MIN_WINDOWS = 4  # fewer batches per epoch of a text than this, and a character model memorises it
RESUMABLE = ("steps", "eval_every", "checkpoint_every", "divergence_factor", "quiet")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show each flag's default, except None, False and "" (the help text says what those mean)."""

    def _get_help_string(self, action):
        if action.default in (None, False, ""):
            return action.help
        return super()._get_help_string(action)


def _default(dest: str) -> str:
    """What the help says about a flag's default: its value, or that the recipe chooses it."""
    varies = sorted(
        {
            f"{task}/{arch}".replace("*/", "").replace("/*", "")
            for (task, arch), row in RECIPES.items()
            if dest in row and (task, arch) != ("*", "*")
        }
    )
    general = RECIPES[("*", "*")].get(dest, DEFAULTS[dest])
    if varies:
        return f"default: {general}; the recipe of {', '.join(varies)} differs (docs/training.md)"
    return f"default: {general}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``numrnn train``.

    Every setting of the task, the model and the optimisation defaults to None
    here and is filled in from :func:`numrnn.training.recipes.recipe`, so that
    a flag the user gave can be told from a default (``--resume`` refuses the
    first kind when it contradicts the run, and ignores the second).
    """
    parser.formatter_class = HelpFormatter
    what = parser.add_argument_group("task and model")
    what.add_argument("--task", choices=list(TASKS), help=f"the task to learn ({_default('task')})")
    what.add_argument(
        "--text",
        metavar="FILE",
        help="UTF-8 text file for --task charlm (default: numrnn's built-in short story)",
    )
    what.add_argument(
        "--seq-len",
        type=int,
        help="sequence length T (default: the task's: adding 50, copy 30, temporal-order 50, "
        "sine 100, count-mod 60, two-timescale 60, reber 30, charlm 64)",
    )
    what.add_argument(
        "--arch",
        choices=list(ARCHITECTURES),
        help="architecture, numrnn.presets (default: the task's own: charlm hierarchical, every "
        f"other task {DEFAULTS['arch']})",
    )
    what.add_argument(
        "--hidden", type=int, help=f"hidden size H of every layer ({_default('hidden')})"
    )
    what.add_argument("--layers", type=int, help="stacked layers L (default: the preset's)")
    what.add_argument("--depth", type=int, help="transition depth q (default: the preset's)")
    what.add_argument(
        "--input-depth",
        type=int,
        help=f"hidden layers p of each input MLP ({_default('input_depth')})",
    )
    what.add_argument(
        "--output-depth",
        type=int,
        help=f"hidden layers r of the output MLP, a deep output ({_default('output_depth')})",
    )
    what.add_argument(
        "--activation",
        choices=list(ACTIVATIONS),
        help=f"state activation φ ({_default('activation')})",
    )
    what.add_argument(
        "--mlp-activation",
        choices=list(ACTIVATIONS),
        help="activation ψ inside the MLPs (default: the same as --activation)",
    )
    what.add_argument(
        "--init",
        choices=["xavier", "orthogonal", "identity"],
        help=f"initialisation of the transition matrices ({_default('init')}); the last layer of a "
        "residual branch starts small whatever this says (numrnn.init, docs/training.md)",
    )
    what.add_argument(
        "--dtype", choices=["float32", "float64"], help=f"floating-point type ({_default('dtype')})"
    )

    how = parser.add_argument_group("optimisation")
    how.add_argument(
        "--steps",
        type=int,
        help=f"total number of updates ({_default('steps')}); with --resume, the new total, which "
        "must be above the checkpoint's step (default: the run's own total)",
    )
    how.add_argument(
        "--batch", type=int, help=f"batch size B, streams for charlm ({_default('batch')})"
    )
    how.add_argument(
        "--optimizer", choices=list(OPTIMIZERS), help=f"update rule ({_default('optimizer')})"
    )
    how.add_argument(
        "--lr",
        type=float,
        help=f"learning rate ({_default('lr')}; with another --optimizer, that optimizer's: "
        "adam/adamw/rmsprop 1e-3, adagrad 0.1, sgd 0.01)",
    )
    how.add_argument("--momentum", type=float, help="momentum/nesterov: μ (default: 0.9)")
    how.add_argument(
        "--weight-decay", type=float, help="adamw: decoupled weight decay λ (default: 0.01)"
    )
    how.add_argument(
        "--schedule",
        choices=list(SCHEDULES),
        help=f"learning-rate schedule ({_default('schedule')})",
    )
    how.add_argument(
        "--warmup", type=int, help=f"steps of linear learning-rate warm-up ({_default('warmup')})"
    )
    how.add_argument(
        "--clip",
        type=float,
        help=f"clip the global gradient norm at this value; 0 = no clipping, as clip=0 in Python "
        f"({_default('clip')})",
    )
    how.add_argument(
        "--clip-value",
        type=float,
        help="clip every gradient entry to [-v, v] (min-char-rnn: 5); 0 = off "
        f"({_default('clip_value')})",
    )
    how.add_argument(
        "--bptt-window",
        type=int,
        help="truncated BPTT window k inside each sequence (default: full BPTT)",
    )
    how.add_argument(
        "--seed",
        type=int,
        help=f"seed of the weights, the data and the validation set ({_default('seed')})",
    )

    run = parser.add_argument_group("run")
    run.add_argument(
        "--out", default="runs/train", help="output directory for the checkpoints and the history"
    )
    run.add_argument(
        "--eval-every",
        type=int,
        help=f"evaluate on the validation set every N steps ({_default('eval_every')})",
    )
    run.add_argument(
        "--checkpoint-every",
        type=int,
        default=500,
        help="save the checkpoint every N steps (0 = at the end)",
    )
    run.add_argument(
        "--divergence-factor",
        type=float,
        default=DIVERGENCE_FACTOR,
        help="stop as diverged (exit 1) when the validation metric exceeds this many times the "
        "larger of the task's baseline and its value before training; 0 = no such check (a NaN "
        "or infinite loss always stops the run)",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help=f"continue the run saved in --out/{CHECKPOINT}. Its task, model and optimisation "
        "settings are the run's own: giving one of those flags with a different value is an "
        f"error. Only {', '.join('--' + name.replace('_', '-') for name in RESUMABLE)} may "
        "change (a cosine schedule is stretched to the new --steps)",
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (without it, a folder that holds a run is refused)",
    )
    run.add_argument(
        "--quiet",
        action="store_true",
        help="no progress output (on a terminal a bar, in a file or pipe a line every 5 %%)",
    )


def _check(args: argparse.Namespace) -> str | None:
    """The first problem with the flags, or None."""
    positive = {
        "--hidden": args.hidden,
        "--batch": args.batch,
        "--layers": args.layers,
        "--seq-len": args.seq_len,
        "--bptt-window": args.bptt_window,
    }
    for flag, value in positive.items():
        if value is not None and value < 1:
            return f"{flag} must be >= 1; got {value}"
    for flag, value in {
        "--steps": args.steps,
        "--depth": args.depth,
        "--warmup": args.warmup,
        "--input-depth": args.input_depth,
        "--output-depth": args.output_depth,
        "--eval-every": args.eval_every,
        "--checkpoint-every": args.checkpoint_every,
        "--seed": args.seed,
    }.items():
        if value is not None and value < 0:
            return f"{flag} must be >= 0; got {value}"
    for flag, value in {"--clip": args.clip, "--clip-value": args.clip_value}.items():
        if value is not None and not value >= 0:
            return f"{flag} must be >= 0 (0 = off); got {value}"
    factor = args.divergence_factor
    if not (factor == 0 or factor > 1) or factor == float("inf"):
        return f"--divergence-factor must be a number > 1, or 0 = off; got {factor}"
    if args.resume and args.overwrite:
        return "--resume continues the run in --out and --overwrite replaces it; give one of them"
    if args.text is not None and args.task not in (None, "charlm"):
        return f"--text is only for --task charlm; got --task {args.task}"
    return None


def _settings(args: argparse.Namespace) -> dict:
    """Every setting of a new run: the recipe of its task and architecture, then the flags given."""
    task = args.task or DEFAULTS["task"]
    if args.text is not None and args.task is None:
        task = "charlm"
    settings = recipe(task, args.arch)  # no --arch: the task's own architecture
    settings.update({name: value for name, value in _given(args).items()})
    return settings


def _given(args: argparse.Namespace) -> dict:
    """The settings the user gave as flags (those left at None take the recipe's or the run's)."""
    return {name: getattr(args, name) for name in DEFAULTS if getattr(args, name) is not None}


def _new_trainer(args: argparse.Namespace, settings: dict) -> Trainer:
    dtype = np.dtype(settings["dtype"])
    task_settings = {"seq_len": settings["seq_len"]}
    if settings["task"] == "charlm":
        task_settings["path"] = settings["text"]
    else:
        task_settings["seed"] = settings["seed"]
    task = make_task(settings["task"], dtype=dtype, **task_settings)
    overrides = {}
    if settings["layers"] is not None:
        overrides["num_layers"] = settings["layers"]
    if settings["depth"] is not None:
        overrides["transition_depth"] = settings["depth"]
    model = build(
        settings["arch"],
        task.input_size,
        settings["hidden"],
        task.output_size,
        input_depth=settings["input_depth"],
        output_depth=settings["output_depth"],
        activation=settings["activation"],
        mlp_activation=settings["mlp_activation"],
        init=settings["init"],
        dtype=dtype,
        seed=settings["seed"],
        **overrides,
    )
    optimizer = make_optimizer(
        settings["optimizer"],
        lr=settings["lr"],
        momentum=settings["momentum"],
        weight_decay=settings["weight_decay"],
    )
    schedule = make_schedule(
        settings["schedule"], optimizer.lr, max(settings["steps"], 1), warmup=settings["warmup"]
    )
    trainer = _StopsBetweenSteps(
        model,
        task,
        optimizer=optimizer,
        schedule=schedule,
        batch_size=settings["batch"],
        clip=settings["clip"],
        clip_value=settings["clip_value"],
        bptt_window=settings["bptt_window"],
        eval_every=settings["eval_every"],
        seed=settings["seed"],
        progress=not args.quiet,
        divergence_factor=args.divergence_factor,
    )
    resolved = {  # the values the run took where the recipe said "the task's" or "the preset's"
        "seq_len": task.seq_len,
        "layers": len(model.config.layers),
        "depth": model.config.layers[0].transition_depth,
        "lr": optimizer.lr,
    }
    trainer.meta["arch"] = settings["arch"]  # stored in every checkpoint
    trainer.meta["settings"] = {**settings, **resolved}  # what --resume holds the flags to
    return trainer


def _resumed_trainer(args: argparse.Namespace, path: str) -> tuple[Trainer, int]:
    """The trainer of the run in ``path`` and the total to reach; ValueError on a bad flag."""
    trainer = _StopsBetweenSteps.from_checkpoint(
        path, progress=not args.quiet, divergence_factor=args.divergence_factor
    )
    recorded = trainer.meta.get("settings", {})
    for name, value in _given(args).items():
        if name in RESUMABLE:
            continue
        flag = "--" + name.replace("_", "-")
        if name not in recorded:
            raise ValueError(
                f"{flag} cannot be given with --resume: {path!r} does not record it, and a run "
                f"keeps its own settings (only {_resumable_flags()} may change)"
            )
        if value != recorded[name]:
            raise ValueError(
                f"{flag} {value} contradicts the run being resumed, which has {flag} "
                f"{recorded[name]}; a run keeps its task, model and optimisation settings (only "
                f"{_resumable_flags()} may change). Drop {flag}, or start a new run in another "
                "--out"
            )
    if args.eval_every is not None:
        trainer.eval_every = args.eval_every
    steps = args.steps if args.steps is not None else recorded.get("steps", trainer.step)
    if steps <= trainer.step:
        given = f"--steps {args.steps}" if args.steps is not None else "its own total"
        raise ValueError(
            f"the run in {args.out!r} is already at step {trainer.step}, so {given} leaves nothing "
            f"to do; --steps is the total to reach: give more than {trainer.step}"
        )
    trainer.meta.setdefault("settings", {})["steps"] = steps
    trainer.schedule = _stretch(trainer.schedule, steps)
    return trainer, steps


def _resumable_flags() -> str:
    return ", ".join("--" + name.replace("_", "-") for name in RESUMABLE)


def _stretch(schedule, total_steps: int):
    """The schedule with its cosine decay stretched to end at ``total_steps`` (a longer resume)."""
    if isinstance(schedule, Warmup):
        return replace(schedule, after=_stretch(schedule.after, total_steps))
    if isinstance(schedule, Cosine) and total_steps > 0:
        return replace(schedule, total_steps=total_steps)
    return schedule


def _prepare_out(out: str, *, resume: bool, overwrite: bool) -> None:
    """Make ``out`` a writable folder for this run, or raise ValueError saying why it cannot be."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out must be a folder; {out!r} is a file")
    held = [name for name in RUN_FILES if os.path.exists(os.path.join(out, name))]
    if held and not (resume or overwrite):
        raise ValueError(
            f"{out!r} already holds a run ({', '.join(held)}); continue it with --resume, "
            "replace it with --overwrite, or choose another --out"
        )
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):  # a probe: the folder takes files
            pass
    except OSError as error:
        raise ValueError(f"cannot write into --out {out!r}: {error.strerror or error}") from None
    if overwrite:
        for name in held:  # no file of the old run survives to be mixed with the new one
            os.remove(os.path.join(out, name))


class _Interrupted(KeyboardInterrupt):
    """Ctrl-C, taken between two steps: the trainer's state is whole and can be saved."""


class _StopsBetweenSteps(Trainer):
    """A trainer that a first Ctrl-C stops between two steps, so the state it saves is whole."""

    interrupted = False

    def train_step(self):
        """Raise KeyboardInterrupt if Ctrl-C was pressed since the last step, else one step."""
        if self.interrupted:
            raise _Interrupted
        return super().train_step()


def _train(trainer: Trainer, steps: int, path: str, best_path: str, checkpoint_every: int) -> None:
    """``trainer.run``, the first SIGINT deferred to the next step (a second one stops at once)."""

    def on_sigint(signum, frame):
        trainer.interrupted = True
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        trainer.run(
            steps, checkpoint=path, checkpoint_every=checkpoint_every, best_checkpoint=best_path
        )
    finally:
        signal.signal(signal.SIGINT, previous)


def run(args: argparse.Namespace) -> int:
    """Train; 0 on success, 1 if training diverged, 2 on bad arguments, 130 if interrupted.

    Library input errors (ValueError, TypeError, OSError) are turned into one
    line and exit 2 by :func:`numrnn.cli.main`.
    """
    problem = _check(args)
    if problem:
        print(f"numrnn train: error: {problem}", file=sys.stderr)
        return 2
    path = os.path.join(args.out, CHECKPOINT)
    if args.resume:
        if not os.path.isfile(path):
            print(
                f"numrnn train: error: --resume needs a checkpoint, and {path!r} does not exist",
                file=sys.stderr,
            )
            return 2
        trainer, steps = _resumed_trainer(args, path)
    else:
        settings = _settings(args)
        trainer, steps = _new_trainer(args, settings), settings["steps"]
    _prepare_out(args.out, resume=args.resume, overwrite=args.overwrite)

    task, model = trainer.task, trainer.model
    print(
        f"{trainer.meta.get('arch', 'model')}: {model.num_params()} parameters, {model.dtype}; "
        f"task: {task.describe()}; "
        f"{'resuming at step ' + str(trainer.step) if args.resume else 'training'} "
        f"to step {steps}",
        file=sys.stderr,
    )
    if isinstance(task, CharLMTask) and task.windows_per_epoch(trainer.batch_size) < MIN_WINDOWS:
        print(
            f"numrnn train: note: the training text makes only "
            f"{task.windows_per_epoch(trainer.batch_size)} batch(es) of {trainer.batch_size} "
            f"streams x {task.seq_len} characters per epoch, so the model sees the same text at "
            "almost every step and will learn it by heart (validation bpc rising while the loss "
            "falls); lower --batch or --seq-len, or give a longer --text",
            file=sys.stderr,
        )
    best_path = os.path.join(args.out, BEST_CHECKPOINT)
    started = time.perf_counter()
    try:
        _train(trainer, steps, path, best_path, args.checkpoint_every)
    except TrainingDiverged as error:
        print(f"numrnn train: {error}", file=sys.stderr)
        print(_kept_checkpoints(trainer, args.out), file=sys.stderr)
        return 1
    except _Interrupted:  # a second Ctrl-C stops mid-step: nothing is saved then
        trainer.save(path)  # atomic: the old checkpoint stays whole until replaced
        resume = f"numrnn train --out {shlex.quote(args.out)} --resume"
        print(
            f"numrnn train: interrupted at step {trainer.step}; saved {path!r}; "
            f"resume with: {resume}",
            file=sys.stderr,
        )
        return 130
    finally:
        write_history(trainer, args.out)
    print(_summary(trainer, args.out, time.perf_counter() - started))
    return 0


def _kept_checkpoints(trainer: Trainer, out: str) -> str:
    """After a divergence: which checkpoints of this run exist, and how to use them."""
    kept = []
    if "last" in trainer.saved:
        kept.append(f"{os.path.join(out, CHECKPOINT)!r} (step {trainer.saved['last']})")
    if "best" in trainer.saved and trainer.best is not None:
        kept.append(
            f"{os.path.join(out, BEST_CHECKPOINT)!r} (step {trainer.saved['best']}, the best "
            f"validation {trainer.task.metric_name} {trainer.best[1]:.4g})"
        )
    if not kept:
        return (
            "No checkpoint of this run was saved before it diverged; start again with a lower "
            f"--lr (and --overwrite, to reuse {out!r})."
        )
    return f"This run's checkpoints before the divergence: {' and '.join(kept)}."


def _summary(trainer: Trainer, out: str, seconds: float) -> str:
    """The lines printed after a successful run: the result, the files, what to run next."""
    task, history = trainer.task, trainer.history
    baseline = task.baseline
    lines = []
    if history.val_metric.size:
        achieved = history.val_metric[-1]
        verdict = "below" if achieved < baseline.value else "NOT below"
        lines.append(
            f"{task.name}: validation {task.metric_name} {achieved:.4g} after {trainer.step} "
            f"steps ({seconds:.0f} s), {verdict} the baseline {baseline.value:.4g} "
            f"({baseline.description})"
        )
        if trainer.best is not None:
            lines.append(
                f"best validation {task.metric_name} {trainer.best[1]:.4g} "
                f"at step {trainer.best[0]}"
            )
    quoted = shlex.quote(out)
    lines.append(
        f"wrote {os.path.join(out, CHECKPOINT)} (last), {os.path.join(out, BEST_CHECKPOINT)} (best "
        f"validation), {os.path.join(out, 'history.csv')} and {os.path.join(out, 'history.json')}"
    )
    lines.append(f"next: numrnn plot {quoted}    (training curves and gradient-norm heat-map, PNG)")
    if isinstance(task, CharLMTask):
        lines.append(
            f"      numrnn sample --checkpoint {shlex.quote(os.path.join(out, BEST_CHECKPOINT))}"
        )
    lines.append(
        f"      numrnn train --out {quoted} --resume --steps {2 * trainer.step}    (train on)"
    )
    return "\n".join(lines)
