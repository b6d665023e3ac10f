"""The vectorized core's speed-up over ``numrnn.reference`` (issue 3).

Times one training step (forward, softmax cross-entropy on every step,
backward, every gradient) of the same model with ``model.loss_and_grads``
(the core) and with ``numrnn.reference`` (the naive per-step loop), both in
this one run, interleaved, after checking that their gradients agree. Needs
only NumPy and numrnn.

    python benchmarks/core_vs_reference.py             # float64, five sizes
    python benchmarks/core_vs_reference.py --dtype float32

Shape legend: T steps, B batch, D input size, H hidden size, L layers, q transition depth.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (
    COMBO,
    DEEP,
    RESULTS_DIR,
    STACKED,
    build_model,
    compare_grads,
    env_note,
    fmt_time,  # noqa: E402
    machine_info,
    make_batch,
    numrnn_model_step,
    reference_step,
    time_round_robin,
    write_json,
)

CONFIGS = STACKED[:3] + [DEEP[0], COMBO[0]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument(
        "--budget", type=float, default=1.0, help="seconds of timed runs per implementation"
    )
    parser.add_argument(
        "--out",
        default=None,
        help="JSON output (default benchmarks/results/core_vs_reference-<dtype>.json)",
    )
    args = parser.parse_args(argv)
    dtype = np.dtype(args.dtype)
    info = machine_info()
    print(f"numrnn {info['numrnn']}, numpy {info['numpy']}, {info['cpu']}; {env_note()}")
    print(f"\none training step, {args.dtype}: core (model.loss_and_grads) vs numrnn.reference")
    print(f"{'config':38s}{'core':>12s}{'reference':>12s}{'speed-up':>10s}{'grad diff':>11s}")
    rows = []
    for cfg in CONFIGS:
        model, batch = build_model(cfg, dtype), make_batch(cfg, dtype)
        core, ref = numrnn_model_step(model, batch), reference_step(model, batch)
        core_loss, core_grads = core()
        ref_loss, ref_grads = ref()
        agreement = compare_grads(
            ref_loss,
            ref_grads,
            core_loss,
            {k: v.astype(np.float64) for k, v in core_grads.items()},
            dtype,
        )
        if not agreement.ok:
            raise AssertionError(f"{cfg.name}: reference and core gradients differ: {agreement}")
        timing = time_round_robin({"core": core, "reference": ref}, budget=args.budget)
        speedup = timing["reference"].median / timing["core"].median
        rows.append(
            {
                "config": cfg.name,
                "core_s": timing["core"].median,
                "reference_s": timing["reference"].median,
                "speedup": speedup,
                "grad_max_rel_diff": agreement.max_rel_diff,
            }
        )
        print(
            f"{cfg.name:38s}{fmt_time(timing['core'].median):>12s}{fmt_time(timing['reference'].median):>12s}"
            f"{speedup:>9.2f}x{agreement.max_rel_diff:>11.1e}",
            flush=True,
        )
    out = args.out or os.path.join(RESULTS_DIR, f"core_vs_reference-{args.dtype}.json")
    write_json(out, {"meta": info, "dtype": args.dtype, "results": rows})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
