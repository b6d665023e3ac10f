"""Draw a training run: its curves and the gradient-norm heat-map of the trained model, as PNG.

Example::

    numrnn train --task adding --out runs/adding
    numrnn plot runs/adding                 # writes runs/adding/training-curves.png and
                                            # runs/adding/gradient-norms.png

``training-curves.png`` has three panels: the training loss, the validation
metric against the task's trivial baseline (dashed), and the gradient norm
before clipping, all from the run's ``history.json``.
``gradient-norms.png`` is ‖∂loss/∂h_t‖ of every layer and step for the trained
model on one validation batch (:func:`numrnn.plotting.plot_gradient_norms`),
from the run's best-validation checkpoint (``--checkpoint last`` for the
last one). Files are replaced atomically.
"""

from __future__ import annotations

import argparse
import os

from ..training.checkpoint import load_checkpoint
from ..training.tasks import make_task
from ..training.trainer import BEST_CHECKPOINT, CHECKPOINT

FIGURES = ("training-curves.png", "gradient-norms.png")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``numrnn plot``."""
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the --out folder of a numrnn train run")
    parser.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="folder for the PNG files (default: RUN_DIR itself)",
    )
    parser.add_argument(
        "--checkpoint",
        choices=["best", "last"],
        default="best",
        help=f"the model of the heat-map: best = {BEST_CHECKPOINT} (the best validation metric), "
        f"last = {CHECKPOINT}",
    )


def _run_files(run_dir: str, which: str) -> tuple[str, str]:
    """The paths of the run's history.json and chosen checkpoint; ValueError if one is missing."""
    if not os.path.isdir(run_dir):
        raise ValueError(
            f"RUN_DIR must be the folder of a numrnn train run; {run_dir!r} is not a folder"
        )
    history = os.path.join(run_dir, "history.json")
    checkpoint = os.path.join(run_dir, BEST_CHECKPOINT if which == "best" else CHECKPOINT)
    if which == "best" and not os.path.isfile(checkpoint):  # a run from before best checkpoints
        checkpoint = os.path.join(run_dir, CHECKPOINT)
    for path in (history, checkpoint):
        if not os.path.isfile(path):
            raise ValueError(
                f"{run_dir!r} holds no {os.path.basename(path)}: is it a numrnn train --out folder?"
            )
    return history, checkpoint


def run_figures(run_dir: str, which: str = "best") -> dict:
    """The figures of a run: ``{file name: matplotlib Figure}``, in the order of :data:`FIGURES`.

    ValueError if ``run_dir`` is not a run (see :func:`_run_files`).
    """
    import json

    history_path, checkpoint_path = _run_files(run_dir, which)
    with open(history_path, encoding="utf-8") as handle:
        history = json.load(handle)
    saved = load_checkpoint(checkpoint_path)
    model = saved.model()
    if "task" not in saved.meta:
        raise ValueError(f"{checkpoint_path!r} does not say which task it was trained on")
    task = make_task(**saved.meta["task"], dtype=model.dtype)
    batch = task.validation_batches(32)[0]
    _, _, info = model.loss_and_grads(batch.x, batch.targets, loss=task.loss, mask=batch.mask)

    from .. import plotting  # matplotlib only when drawing

    arch = saved.meta.get("arch", "model")
    metric = history.get("metric", task.metric_name)
    curves = plotting.plot_training_curves(
        {arch: history},
        metric_name=f"validation {metric}",
        baseline=history.get("baseline", {}).get("value"),
    )
    heat_map = plotting.plot_gradient_norms(
        info.grad_norms,
        title=f"{arch} on {task.name}, step {saved.step}: ‖∂loss/∂hₜ‖ on a validation batch",
    ).figure
    return dict(zip(FIGURES, (curves, heat_map), strict=True))


def run(args: argparse.Namespace) -> int:
    """Write the figures; 0 on success, 2 if the folder is not a run (one line, from the CLI)."""
    figures = run_figures(args.run_dir, args.checkpoint)
    out = args.run_dir if args.out is None else args.out
    os.makedirs(out, exist_ok=True)
    from .. import plotting

    written = []
    for name, figure in figures.items():
        path = os.path.join(out, name)
        plotting.save_figure(figure, path)  # atomic; wraps a title too wide for the figure
        written.append(path)
    print(f"wrote {' and '.join(written)}")
    return 0
