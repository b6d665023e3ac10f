"""Peak memory of one training step, each implementation in a fresh process (issue 5).

The same method for every implementation: a new Python process imports what
the implementation needs, builds the model, the batch and (JAX) the compiled
step, then resets the kernel's peak-RSS mark (``/proc/self/clear_refs``),
runs one step and reads the peak (``VmHWM``). The reported number is that
peak minus the resident size just before the step: the memory the step itself
needed, whatever allocator made it. For the NumPy implementations the
``tracemalloc`` peak of the same step is reported beside it.

    python benchmarks/memory.py                          # stacked grid, float32
    python benchmarks/memory.py --configs "B128" --dtype float64

Shape legend: T steps, B batch, D input size, H hidden size, L layers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

IMPLS = ["numrnn", "numrnn-core", "reference", "torch-rnn", "torch-loop", "jax"]


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(impl: str, config_name: str, dtype_name: str) -> dict:
    """Run in the fresh process: set up ``impl``, then measure one step."""
    import numpy as np
    from common import FULL_GRID, build_model, make_batch

    cfg = next(c for c in FULL_GRID if c.name == config_name)
    dtype = np.dtype(dtype_name)
    model, batch = build_model(cfg, dtype), make_batch(cfg, dtype)
    import peers

    torch = peers.load_torch(1) if impl.startswith("torch") else None
    if torch is not None:
        from common import numpy_blas_threads

        torch.set_num_threads(numpy_blas_threads())
    jax = peers.load_jax(dtype_name == "float64") if impl == "jax" else None
    if impl.startswith("torch") and torch is None or impl == "jax" and jax is None:
        return {"impl": impl, "skipped": "not installed"}
    available = peers.implementations(cfg, model, batch, {"torch": torch, "jax": jax})
    if impl not in available:
        return {"impl": impl, "skipped": "does not apply to this config"}
    step = available[impl][0]
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # reset the peak-RSS mark (VmHWM) to the current RSS
    before = _status_kib("VmRSS")
    step()
    peak = _status_kib("VmHWM")
    result = {
        "impl": impl,
        "rss_before_mib": before / 1024,
        "peak_delta_mib": (peak - before) / 1024,
    }
    if impl in ("numrnn", "numrnn-core", "reference"):
        import tracemalloc

        tracemalloc.start()
        step()
        result["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result


def measure(impl: str, config_name: str, dtype_name: str) -> dict:
    """Spawn the fresh process for one (implementation, config, dtype) and read its JSON line."""
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", impl, config_name, dtype_name],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {
        "impl": impl,
        "skipped": f"child failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}",
    }


def main(argv=None) -> int:
    if argv is None and len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(child(*sys.argv[2:])))
        return 0
    from common import FULL_GRID, RESULTS_DIR, STACKED, machine_info, write_json

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configs",
        default=None,
        help="configs whose name contains one of these (comma-separated); "
        "default: the stacked grid",
    )
    parser.add_argument("--impls", default=",".join(IMPLS), help=f"comma-separated, from {IMPLS}")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument(
        "--out", default=None, help="JSON output (default benchmarks/results/memory-<dtype>.json)"
    )
    args = parser.parse_args(argv)
    if not os.path.exists("/proc/self/clear_refs"):
        print("memory.py needs Linux's /proc/self/clear_refs to reset the peak-RSS mark; skipping")
        return 0
    grid = STACKED
    if args.configs:
        keys = [k.strip() for k in args.configs.split(",")]
        grid = [c for c in FULL_GRID if any(k in c.name for k in keys)]
    impls = [i.strip() for i in args.impls.split(",")]
    started = time.perf_counter()
    rows = []
    print(
        "peak memory of one step above the resident size before it (MiB), "
        f"{args.dtype}, fresh process each"
    )
    head = f"{'config':38s}" + "".join(f"{i:>13s}" for i in impls)
    print(head + "\n" + "-" * len(head))
    for cfg in grid:
        cells, row = [], {"config": cfg.name, "dtype": args.dtype, "impls": {}}
        for impl in impls:
            result = measure(impl, cfg.name, args.dtype)
            row["impls"][impl] = result
            cells.append("-" if "skipped" in result else f"{result['peak_delta_mib']:.1f}")
        rows.append(row)
        print(f"{cfg.name:38s}" + "".join(f"{c:>13s}" for c in cells), flush=True)
    skipped = {
        (r["config"], i): v["skipped"]
        for r in rows
        for i, v in r["impls"].items()
        if "skipped" in v
    }
    for (config, impl), why in skipped.items():
        if "does not apply" not in why:
            print(f"  skipped {impl} at {config}: {why}")
    largest = rows[-1]["impls"] if rows else {}
    target = None
    if (
        "numrnn" in largest
        and "torch-rnn" in largest
        and "skipped" not in largest["torch-rnn"]
        and "skipped" not in largest["numrnn"]
    ):
        ratio = largest["numrnn"]["peak_delta_mib"] / largest["torch-rnn"]["peak_delta_mib"]
        target = {
            "target": "peak memory <= 0.6 x torch.nn.RNN at the largest config",
            "config": rows[-1]["config"],
            "value": ratio,
            "met": ratio <= 0.6,
        }
        print(
            f"\n[{'MET' if target['met'] else 'MISSED'}] numrnn / torch.nn.RNN peak memory at "
            f"{rows[-1]['config']}: "
            f"{ratio:.2f} (target <= 0.6)"
        )
    out = args.out or os.path.join(RESULTS_DIR, f"memory-{args.dtype}.json")
    write_json(
        out,
        {
            "meta": machine_info(),
            "method": "VmHWM after one step minus VmRSS before it, fresh process "
            "per implementation; peak mark reset via /proc/self/clear_refs",
            "results": rows,
            "target": target,
            "wall_time_s": time.perf_counter() - started,
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
