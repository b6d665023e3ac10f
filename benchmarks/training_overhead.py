"""How much of a training step is spent outside the core (issue 4: target < 10 %).

A trainer step is ``model.loss_and_grads`` (the core: forward, loss,
backward, every gradient) plus everything around it: drawing the batch,
one-hot encoding, clipping and the global norm, the optimizer update, the
history, the progress bar. This script runs the real :meth:`Trainer.run`
loop, with the tqdm bar on, at B = 32, T = 100, H = 128, and measures both in
the same run: ``model.loss_and_grads`` is wrapped with a timer, so

    overhead = (loop time − core time) / loop time

compares numbers taken under the same machine load. The validation pass at
the end of ``run`` is timed the same way and left out (it is evaluation, not
a training step). As a cross-check, the core alone is also timed on one fixed
batch, interleaved with the loop blocks.

    python benchmarks/training_overhead.py                 # float32, 200 steps per configuration
    python benchmarks/training_overhead.py --dtype float64 --steps 100

Shape legend: T steps, B batch, H hidden size.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.dirname(HERE) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # noqa: E402

import numrnn  # noqa: E402
from numrnn.training import optim, presets, tasks  # noqa: E402
from numrnn.training.trainer import Trainer  # noqa: E402

B, T, H = 32, 100, 128
CONFIGS = [  # (task, architecture, optimizer, clip_value)
    ("adding", "vanilla", "adam", None),
    ("adding", "deep-transition-skip", "adam", None),
    ("charlm", "hierarchical", "adagrad", 5.0),
    ("charlm", "deep-transition-skip", "adamw", None),
]


def make_trainer(task_name: str, arch: str, optimizer: str, clip_value, dtype) -> Trainer:
    task = tasks.make_task(task_name, seq_len=T, dtype=dtype)
    model = presets.build(arch, task.input_size, H, task.output_size, seed=0, dtype=dtype)
    return Trainer(
        model,
        task,
        optimizer=optim.make_optimizer(optimizer),
        batch_size=B,
        clip=1.0,
        clip_value=clip_value,
        eval_every=0,
        progress=True,
        seed=0,
    )


def measure(trainer: Trainer, steps: int, blocks: int) -> dict:
    """Loop and core times per step, from ``blocks`` runs of ``steps // blocks`` steps each."""
    spent = {"core": 0.0, "eval": 0.0}

    def timer(function, key):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            result = function(*args, **kwargs)
            spent[key] += time.perf_counter() - start
            return result

        return timed

    core = trainer.model.loss_and_grads
    trainer.model.loss_and_grads = timer(
        core, "core"
    )  # instance attributes: only these objects are wrapped
    trainer.evaluate = timer(trainer.evaluate, "eval")  # run() evaluates once at its end: left out
    batch = trainer.task.train_batch(0, B, np.random.default_rng(1))
    per_block = max(1, steps // blocks)
    loop_times, core_times, alone_times, overheads = [], [], [], []
    trainer.run(trainer.step + 3)  # warm-up (first calls allocate)
    for _ in range(blocks):
        spent.update(core=0.0, eval=0.0)
        start = time.perf_counter()
        trainer.run(trainer.step + per_block)
        loop = time.perf_counter() - start - spent["eval"]
        loop_times.append(loop / per_block)
        core_times.append(spent["core"] / per_block)
        overheads.append((loop - spent["core"]) / loop)
        start = time.perf_counter()  # cross-check: the core alone, on one fixed batch
        for _ in range(per_block):
            core(batch.x, batch.targets, loss=trainer.task.loss, mask=batch.mask)
        alone_times.append((time.perf_counter() - start) / per_block)
    return {
        "loop": statistics.median(loop_times),
        "core": statistics.median(core_times),
        "standalone": statistics.median(alone_times),
        "overhead": statistics.median(overheads),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument(
        "--steps", type=int, default=200, help="training steps measured per configuration"
    )
    parser.add_argument(
        "--blocks", type=int, default=5, help="measurement blocks (the median is reported)"
    )
    args = parser.parse_args(argv)
    dtype = np.dtype(args.dtype)

    print(
        f"numrnn {numrnn.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"{args.dtype}, "
        f"B={B} T={T} H={H}, {args.steps} steps per configuration, tqdm bar on"
    )
    header = (
        f"{'task':8} {'architecture':22} {'optimizer':9} {'loop ms/step':>13} {'core ms/step':>13} "
        f"{'outside ms':>11} {'core alone':>11} {'overhead':>9}"
    )
    print(header)
    print("-" * len(header))
    overheads = []
    for task_name, arch, optimizer, clip_value in CONFIGS:
        trainer = make_trainer(task_name, arch, optimizer, clip_value, dtype)
        with contextlib.redirect_stderr(io.StringIO()):  # the bar is drawn, into a buffer
            result = measure(trainer, args.steps, args.blocks)
        overheads.append(result["overhead"])
        print(
            f"{task_name:8} {arch:22} {optimizer:9} "
            f"{1e3 * result['loop']:13.2f} {1e3 * result['core']:13.2f} "
            f"{1e3 * (result['loop'] - result['core']):11.2f} {1e3 * result['standalone']:11.2f} "
            f"{100 * result['overhead']:8.1f}%"
        )
    worst = max(overheads)
    print(
        f"training overhead outside the core: {100 * worst:.1f}% of step time at worst "
        f"(median {100 * statistics.median(overheads):.1f}%); "
        f"target < 10%: {'met' if worst < 0.10 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
