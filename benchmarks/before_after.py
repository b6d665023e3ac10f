"""Time one training step of two numrnn source trees side by side, over the benchmark grid.

Each tree is imported in its own worker process (``PYTHONPATH=<tree>``), so two versions of
numrnn run on the same machine in the same minutes. The controller runs rounds; in each round,
for every config and dtype, both workers time the step a few times, in an order that alternates
from round to round (the first to run after a pause runs on an idle core). The step is what a
training loop calls: ``model.loss_and_grads(x, targets, loss="xent", need_dx=False)``, with the
model's workspace warm. Reported per config: median and min of each tree's times, the ratio of
the medians (B / A) and the median over rounds of the per-round ratio of medians, which is the
statistic the comparison rests on (robust to a noisy round on a shared machine).

Usage::

    python benchmarks/before_after.py /path/to/tree_A /path/to/tree_B --rounds 15
    python benchmarks/before_after.py A B --dtypes float32 --configs "rnn-L2 B16 T50 D32 H64"

Nothing here is part of the library. Shape legend: B batch, T steps, D input size, H hidden
size, L layers, q transition depth.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

# The grid of benchmarks/common.py, repeated here so that a worker imports numrnn only from its
# own tree (common.py puts this checkout first on sys.path). (group, B, T, D, H, L, q, skip).
GRID = [
    ("stacked", 16, 50, 32, 64, 2, 0, "none"),
    ("stacked", 32, 100, 64, 128, 3, 0, "none"),
    ("stacked", 64, 200, 128, 256, 3, 0, "none"),
    ("stacked", 128, 100, 256, 512, 2, 0, "none"),
    ("deep", 32, 100, 64, 128, 1, 2, "none"),
    ("deep", 32, 100, 64, 128, 1, 3, "none"),
    ("deep", 32, 100, 64, 128, 1, 2, "residual"),
    ("deep", 32, 100, 64, 128, 1, 3, "residual"),
    ("combo", 32, 100, 64, 128, 2, 2, "residual"),
    ("scaling", 32, 100, 64, 128, 2, 0, "none"),
    ("scaling", 32, 400, 64, 128, 2, 0, "none"),
]


def config_name(cfg) -> str:
    _, B, T, D, H, L, q, skip = cfg
    kind = {"none": "dt", "residual": "dts"}[skip] if q else "rnn"
    depth = f"-q{q}" if q else ""
    return f"{kind}{depth}-L{L} B{B} T{T} D{D} H{H}"


# --------------------------------------------------------------------------- the worker


def worker() -> None:
    """Serve ``[name, dtype, repeats]`` requests from stdin: answer the step times (s) as JSON."""
    import numpy as np

    import numrnn

    by_name = {config_name(cfg): cfg for cfg in GRID}
    steps = {}
    print(json.dumps({"numrnn": os.path.dirname(numrnn.__file__)}), flush=True)
    for line in sys.stdin:
        name, dtype, repeats = json.loads(line)
        if (name, dtype) not in steps:
            _, B, T, D, H, L, q, skip = by_name[name]
            model = numrnn.DeepRNN(
                D,
                H,
                D,
                num_layers=L,
                transition_depth=q,
                skip=skip,
                activation="tanh",
                dtype=getattr(np, dtype),
                seed=0,
            )
            rng = np.random.default_rng(1)
            for key, value in model.params.items():
                if key.rsplit(".", 1)[-1].startswith("b_"):
                    value[...] = rng.uniform(-0.1, 0.1, size=value.shape)
            x = rng.standard_normal((T, B, D)).astype(dtype)
            targets = rng.integers(0, D, size=(T, B))

            def step(model=model, x=x, targets=targets):
                return model.loss_and_grads(x, targets, loss="xent", need_dx=False)

            for _ in range(2):  # warm-up: the workspace is filled, the BLAS threads are up
                step()
            steps[name, dtype] = step
        step = steps[name, dtype]
        times = []
        gc.collect()
        gc.disable()
        try:
            for _ in range(repeats):
                start = time.perf_counter()
                step()
                times.append(time.perf_counter() - start)
        finally:
            gc.enable()
        print(json.dumps(times), flush=True)


# --------------------------------------------------------------------------- the controller


class Worker:
    def __init__(self, tree: str, blas_threads: int | None = None):
        env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
        if blas_threads is not None:  # only when asked for on the command line
            env.update(OPENBLAS_NUM_THREADS=str(blas_threads), OMP_NUM_THREADS=str(blas_threads))
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker"],
            env=env,
            cwd="/",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.location = json.loads(self.process.stdout.readline())["numrnn"]

    def time(self, name: str, dtype: str, repeats: int) -> list:
        self.process.stdin.write(json.dumps([name, dtype, repeats]) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tree_a", help="the baseline source tree (holds numrnn/)")
    parser.add_argument("tree_b", help="the tree to compare with it")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--configs", nargs="+", default=None, help="config names (default: all)")
    parser.add_argument(
        "--batch-ms",
        type=float,
        default=40.0,
        help="timed steps per worker per round: enough for about this many ms",
    )
    parser.add_argument("--out", default=None, help="write the raw times as JSON here")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="run both workers with this many BLAS threads (default: the BLAS's own)",
    )
    args = parser.parse_args(argv)

    names = [config_name(cfg) for cfg in GRID]
    if args.configs:
        unknown = sorted(set(args.configs) - set(names))
        if unknown:
            parser.error(f"unknown configs {unknown}; known: {names}")
        names = [name for name in names if name in args.configs]
    workers = {
        side: Worker(tree, args.blas_threads)
        for side, tree in (("A", args.tree_a), ("B", args.tree_b))
    }
    print(f"A = {workers['A'].location}\nB = {workers['B'].location}", flush=True)
    cases = [(name, dtype) for dtype in args.dtypes for name in names]
    times = {case: {"A": [], "B": []} for case in cases}
    round_ratios = {case: [] for case in cases}
    repeats = {}
    for case in cases:  # first contact: build, warm up, size the batches
        probe = min(workers["A"].time(*case, 1) + workers["B"].time(*case, 1))
        repeats[case] = max(1, min(20, int(args.batch_ms / 1000 / probe)))
    for r in range(args.rounds):
        order = ("A", "B") if r % 2 == 0 else ("B", "A")
        for k, case in enumerate(cases):
            turn = order if k % 2 == 0 else order[::-1]  # alternate within the round as well
            medians = {}
            for side in turn:
                batch = workers[side].time(*case, repeats[case])
                times[case][side] += batch
                medians[side] = statistics.median(batch)
            round_ratios[case].append(medians["B"] / medians["A"])
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    for worker_ in workers.values():
        worker_.close()

    print(
        "\n| config | dtype | A median | B median | A min | B min | B/A medians | "
        "B/A median of rounds | B/A mins |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for case in cases:
        a, b = times[case]["A"], times[case]["B"]
        ratio = statistics.median(round_ratios[case])
        worst = max(worst, ratio)
        print(
            f"| {case[0]} | {case[1]} | {1e3 * statistics.median(a):.2f} ms | "
            f"{1e3 * statistics.median(b):.2f} ms | {1e3 * min(a):.2f} ms | "
            f"{1e3 * min(b):.2f} ms | "
            f"{statistics.median(b) / statistics.median(a):.3f} | {ratio:.3f} | "
            f"{min(b) / min(a):.3f} |"
        )
    print(
        f"\nrounds: {args.rounds}; timed steps per worker per round: "
        f"{min(repeats.values())}..{max(repeats.values())}; "
        f"worst median-of-rounds ratio: {worst:.3f}"
    )
    if args.out:
        record = {
            "A": args.tree_a,
            "B": args.tree_b,
            "rounds": args.rounds,
            "times": {f"{n}|{d}": v for (n, d), v in times.items()},
            "round_ratios": {f"{n}|{d}": v for (n, d), v in round_ratios.items()},
        }
        temporary = args.out + ".tmp"
        with open(temporary, "w") as handle:
            json.dump(record, handle)
        os.replace(temporary, args.out)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        sys.exit(main())
