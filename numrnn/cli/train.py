"""Train any architecture on a task and write a checkpoint and the history.

Examples::

    numrnn train --task adding --arch deep-transition-skip --steps 2000 --out runs/adding
    numrnn train --task charlm --text my.txt --arch hierarchical --hidden 128 --seq-len 64 \
        --out runs/text
    numrnn train --out runs/adding --steps 4000 --resume    # continue the first run to 4000 steps

The output directory receives ``checkpoint.npz`` (saved every
``--checkpoint-every`` steps and at the end; the last good one survives a
crash or a divergence), ``history.csv`` and ``history.json`` (loss, pre-clip
gradient norm and learning rate of every step; validation loss and metric of
every evaluation). The last line printed compares the validation metric with
the task's trivial baseline.

A folder that already holds a run (a checkpoint or a history) is refused
unless ``--resume`` continues it or ``--overwrite`` replaces it, and the
folder is checked to be writable before the first step. Ctrl-C saves a
checkpoint between two steps and prints the command that resumes it.

Exit status (``docs/install.md``): 0 on success, 1 if training diverged
(NaN/inf), 2 on bad arguments or an unusable ``--out``, 130 if interrupted.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import tempfile
from dataclasses import replace

import numpy as np

from ..activations import ACTIVATIONS
from ..presets import ARCHITECTURES, build
from ..training.optim import OPTIMIZERS, SCHEDULES, Cosine, Warmup, make_optimizer, make_schedule
from ..training.tasks import TASKS, make_task
from ..training.trainer import Trainer, TrainingDiverged, write_history

CHECKPOINT = "checkpoint.npz"
RUN_FILES = (CHECKPOINT, "history.csv", "history.json")  # what makes a folder hold a run


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show each flag's default, except None, False and "" (the help text says what those mean)."""

    def _get_help_string(self, action):
        if action.default in (None, False, ""):
            return action.help
        return super()._get_help_string(action)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``numrnn train``."""
    parser.formatter_class = HelpFormatter
    what = parser.add_argument_group("task and model")
    what.add_argument("--task", default="adding", choices=list(TASKS), help="the task to learn")
    what.add_argument(
        "--text",
        default=None,
        metavar="FILE",
        help="UTF-8 text file for --task charlm (default: numrnn's built-in short story)",
    )
    what.add_argument(
        "--seq-len",
        type=int,
        default=None,
        help="sequence length T (default: the task's: adding 50, copy 30, temporal-order 50, "
        "sine 100, reber 30, charlm 64)",
    )
    what.add_argument(
        "--arch",
        default="deep-transition-skip",
        choices=list(ARCHITECTURES),
        help="architecture (numrnn.presets)",
    )
    what.add_argument("--hidden", type=int, default=64, help="hidden size H of every layer")
    what.add_argument(
        "--layers", type=int, default=None, help="stacked layers L (default: the preset's)"
    )
    what.add_argument(
        "--depth", type=int, default=None, help="transition depth q (default: the preset's)"
    )
    what.add_argument(
        "--input-depth", type=int, default=0, help="hidden layers p of each input MLP"
    )
    what.add_argument(
        "--output-depth",
        type=int,
        default=0,
        help="hidden layers r of the output MLP (deep output)",
    )
    what.add_argument(
        "--activation", default="tanh", choices=list(ACTIVATIONS), help="state activation φ"
    )
    what.add_argument(
        "--mlp-activation",
        default=None,
        choices=list(ACTIVATIONS),
        help="activation ψ inside the MLPs (default: the same as --activation)",
    )
    what.add_argument(
        "--init",
        default="xavier",
        choices=["xavier", "orthogonal", "identity"],
        help="initialisation of the transition matrices",
    )
    what.add_argument(
        "--dtype", default="float32", choices=["float32", "float64"], help="floating-point type"
    )

    how = parser.add_argument_group("optimisation")
    how.add_argument(
        "--steps",
        type=int,
        default=2000,
        help="total number of updates (a resumed run continues to it)",
    )
    how.add_argument("--batch", type=int, default=32, help="batch size B (streams, for charlm)")
    how.add_argument("--optimizer", default="adam", choices=list(OPTIMIZERS), help="update rule")
    how.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate (default: the optimizer's: adam/adamw/rmsprop 1e-3, adagrad 0.1, "
        "sgd 0.01)",
    )
    how.add_argument(
        "--momentum", type=float, default=None, help="momentum/nesterov: μ (default: 0.9)"
    )
    how.add_argument(
        "--weight-decay",
        type=float,
        default=None,
        help="adamw: decoupled weight decay λ (default: 0.01)",
    )
    how.add_argument(
        "--schedule", default="constant", choices=list(SCHEDULES), help="learning-rate schedule"
    )
    how.add_argument("--warmup", type=int, default=0, help="steps of linear learning-rate warm-up")
    how.add_argument(
        "--clip",
        type=float,
        default=1.0,
        help="clip the global gradient norm at this value; 0 = off",
    )
    how.add_argument(
        "--clip-value",
        type=float,
        default=0.0,
        help="clip every gradient entry to [-v, v] (min-char-rnn: 5); 0 = off",
    )
    how.add_argument(
        "--bptt-window",
        type=int,
        default=None,
        help="truncated BPTT window k inside each sequence (default: full BPTT)",
    )
    how.add_argument(
        "--seed", type=int, default=0, help="seed of the weights, the data and the validation set"
    )

    run = parser.add_argument_group("run")
    run.add_argument(
        "--out", default="runs/train", help="output directory for the checkpoint and the history"
    )
    run.add_argument(
        "--eval-every", type=int, default=100, help="evaluate on the validation set every N steps"
    )
    run.add_argument(
        "--checkpoint-every",
        type=int,
        default=500,
        help="save the checkpoint every N steps (0 = at the end)",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help=f"continue the run saved in --out/{CHECKPOINT}; its task, model and optimiser "
        "settings are used, and only --steps, --eval-every, --checkpoint-every and --quiet are "
        "taken from here "
        "(a cosine schedule is stretched to the new --steps)",
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (without it, a folder that holds a run is refused)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar (for scripts and logs)")


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
    }.items():
        if value is not None and value < 0:
            return f"{flag} must be >= 0; got {value}"
    for flag, value in {"--clip": args.clip, "--clip-value": args.clip_value}.items():
        if not value >= 0:
            return f"{flag} must be >= 0 (0 = off); got {value}"
    if args.resume and args.overwrite:
        return "--resume continues the run in --out and --overwrite replaces it; give one of them"
    if args.text is not None and args.task != "charlm":
        return f"--text is only for --task charlm; got --task {args.task}"
    return None


def _new_trainer(args: argparse.Namespace) -> Trainer:
    dtype = np.dtype(args.dtype)
    settings = {"seq_len": args.seq_len}
    if args.task == "charlm":
        settings["path"] = args.text
    else:
        settings["seed"] = args.seed
    task = make_task(args.task, dtype=dtype, **settings)
    overrides = {}
    if args.layers is not None:
        overrides["num_layers"] = args.layers
    if args.depth is not None:
        overrides["transition_depth"] = args.depth
    model = build(
        args.arch,
        task.input_size,
        args.hidden,
        task.output_size,
        input_depth=args.input_depth,
        output_depth=args.output_depth,
        activation=args.activation,
        mlp_activation=args.mlp_activation,
        init=args.init,
        dtype=dtype,
        seed=args.seed,
        **overrides,
    )
    optimizer = make_optimizer(
        args.optimizer, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay
    )
    schedule = make_schedule(args.schedule, optimizer.lr, max(args.steps, 1), warmup=args.warmup)
    return _StopsBetweenSteps(
        model,
        task,
        optimizer=optimizer,
        schedule=schedule,
        batch_size=args.batch,
        clip=args.clip or None,
        clip_value=args.clip_value or None,
        bptt_window=args.bptt_window,
        eval_every=args.eval_every,
        seed=args.seed,
        progress=not args.quiet,
    )


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


def _train(trainer: Trainer, steps: int, path: str, checkpoint_every: int) -> None:
    """``trainer.run``, the first SIGINT deferred to the next step (a second one stops at once)."""

    def on_sigint(signum, frame):
        trainer.interrupted = True
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        trainer.run(steps, checkpoint=path, checkpoint_every=checkpoint_every)
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
        trainer = _StopsBetweenSteps.from_checkpoint(
            path, progress=not args.quiet, eval_every=args.eval_every
        )
        trainer.schedule = _stretch(trainer.schedule, args.steps)
    else:
        trainer = _new_trainer(args)
        trainer.meta["arch"] = args.arch  # stored in every checkpoint
    _prepare_out(args.out, resume=args.resume, overwrite=args.overwrite)

    task, model = trainer.task, trainer.model
    print(
        f"{trainer.meta.get('arch', 'model')}: {model.num_params()} parameters, {model.dtype}; "
        f"task: {task.describe()}; "
        f"{'resuming at step ' + str(trainer.step) if args.resume else 'training'} "
        f"to step {args.steps}",
        file=sys.stderr,
    )
    status = 0
    try:
        _train(trainer, args.steps, path, args.checkpoint_every)
    except TrainingDiverged as error:
        print(
            f"numrnn train: {error}\nThe last good checkpoint is kept in {path!r}.", file=sys.stderr
        )
        status = 1
    except _Interrupted:  # a second Ctrl-C stops mid-step: nothing is saved then
        trainer.save(path)  # atomic: the old checkpoint stays whole until replaced
        resume = f"numrnn train --out {shlex.quote(args.out)} --steps {args.steps} --resume"
        print(
            f"numrnn train: interrupted at step {trainer.step}; saved {path!r}; "
            f"resume with: {resume}",
            file=sys.stderr,
        )
        return 130
    finally:
        write_history(trainer, args.out)

    history, baseline = trainer.history, task.baseline
    if history.val_metric.size:
        achieved = history.val_metric[-1]
        verdict = "below" if achieved < baseline.value else "NOT below"
        print(
            f"{task.name}: validation {task.metric_name} {achieved:.4g} "
            f"after {trainer.step} steps, {verdict} the baseline {baseline.value:.4g} "
            f"({baseline.description}); wrote {args.out}"
        )
    return status
