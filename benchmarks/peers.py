"""Time one training step of numrnn against its peers (issue 5).

One full step: forward, softmax cross-entropy on every step, backward, every
weight gradient, for the same model and weights in

* ``numrnn``        — ``model.loss_and_grads`` (the public call, input checks included):
                      the baseline;
* ``numrnn-core``   — ``numrnn.network.loss_and_grads`` (the same core, no checks);
* ``reference``     — ``numrnn.reference``, the naive per-step loop;
* ``torch-rnn``     — ``torch.nn.RNN`` + linear readout + ``F.cross_entropy``, autograd
                      (plain stacks only);
* ``torch-loop``    — a hand-written PyTorch per-step loop with autograd (every config);
* ``jax``           — ``lax.scan`` + ``jit`` + ``value_and_grad``, compiled before timing;
* ``gemm-floor``    — only the matrix products the step needs, in NumPy.

Every implementation's gradients are checked against numrnn's before any
timing; all run in this one process, interleaved, with the same thread count.

    python benchmarks/peers.py                 # full grid, float32 and float64
    python benchmarks/peers.py --quick         # a subset, < 2 minutes
    python benchmarks/peers.py --peers torch   # only some peers (torch, jax)

Peers that are not installed are skipped with a line saying so.

Shape legend: T steps, B batch, D input size, H hidden size, O output size, L layers.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (
    COMBO,
    FULL_GRID,
    QUICK_GRID,
    QUIET,
    RESULTS_DIR,
    STACKED,
    BenchConfig,
    build_model,
    compare_grads,  # noqa: E402
    env_note,
    fmt_time,
    gemm_floor_step,
    geomean,
    machine_info,
    make_batch,
    numpy_blas_threads,
    numrnn_core_step,
    numrnn_model_step,
    reference_step,
    time_round_robin,
    write_json,
)

import numrnn  # noqa: E402
from numrnn import network  # noqa: E402

BASELINE = "numrnn"
ORDER = ["numrnn", "numrnn-core", "reference", "torch-rnn", "torch-loop", "jax", "gemm-floor"]


# --------------------------------------------------------------------------- optional peers


def load_torch(threads: int):
    try:
        import torch
    except ImportError as error:
        print(f"torch: not installed ({error}); skipping torch-rnn and torch-loop")
        return None
    torch.set_num_threads(threads)
    return torch


def load_jax(x64: bool):
    try:
        import jax
    except ImportError as error:
        print(f"jax: not installed ({error}); skipping jax")
        return None
    jax.config.update("jax_enable_x64", True)  # float64 arrays stay float64; float32 stay float32
    jax.config.update("jax_platforms", "cpu")
    return jax


def _tensor(torch, array):
    return torch.from_numpy(np.array(array, copy=True)).requires_grad_(True)


def torch_rnn_impl(torch, model: numrnn.DeepRNN, batch):
    """``torch.nn.RNN`` + ``nn.Linear`` + ``F.cross_entropy``; returns (step, grads_fn)."""
    import torch.nn.functional as F

    cfg, P = model.config, model.params
    L, H, D, O = cfg.num_layers, cfg.layers[0].hidden_size, cfg.input_size, cfg.output_size
    dtype = torch.float32 if model.dtype == np.float32 else torch.float64
    rnn = torch.nn.RNN(D, H, num_layers=L, nonlinearity="tanh", bias=True).to(dtype)
    readout = torch.nn.Linear(H, O).to(dtype)
    with torch.no_grad():
        for l in range(1, L + 1):
            getattr(rnn, f"weight_ih_l{l - 1}").copy_(
                torch.from_numpy(P[f"layer{l}.W_xh"].T.copy())
            )
            getattr(rnn, f"weight_hh_l{l - 1}").copy_(
                torch.from_numpy(P[f"layer{l}.W_hh"].T.copy())
            )
            getattr(rnn, f"bias_ih_l{l - 1}").copy_(torch.from_numpy(P[f"layer{l}.b_h"]))
            getattr(
                rnn, f"bias_hh_l{l - 1}"
            ).zero_()  # numrnn has one bias per level; its grad equals b_ih's
        readout.weight.copy_(torch.from_numpy(P["output.W_hy"].T.copy()))
        readout.bias.copy_(torch.from_numpy(P["output.b_y"]))
    x = torch.from_numpy(batch.x)
    targets = torch.from_numpy(batch.targets.reshape(-1))
    parameters = list(rnn.parameters()) + list(readout.parameters())

    def step():
        for p in parameters:
            p.grad = None
        out, _ = rnn(x)  # (T, B, H)
        loss = F.cross_entropy(readout(out).reshape(-1, O), targets)
        loss.backward()
        return loss

    def grads():
        loss = step()
        g = {}
        for l in range(1, L + 1):
            g[f"layer{l}.W_xh"] = getattr(rnn, f"weight_ih_l{l - 1}").grad.numpy().T
            g[f"layer{l}.W_hh"] = getattr(rnn, f"weight_hh_l{l - 1}").grad.numpy().T
            g[f"layer{l}.b_h"] = getattr(rnn, f"bias_ih_l{l - 1}").grad.numpy()
        g["output.W_hy"] = readout.weight.grad.numpy().T
        g["output.b_y"] = readout.bias.grad.numpy()
        return float(loss.detach()), g

    return step, grads


def _supported_by_loops(model: numrnn.DeepRNN) -> bool:
    """The hand-written peers cover tanh layers with p = 0, skip none/residual, no layer-skips,
    r = 0."""
    cfg = model.config
    return cfg.output_depth == 0 and all(
        layer.input_depth == 0
        and layer.skip in ("none", "residual")
        and not layer.layer_skip
        and layer.activation == "tanh"
        and layer.psi == "tanh"
        and layer.width == layer.hidden_size
        for layer in cfg.layers
    )


def torch_loop_impl(torch, model: numrnn.DeepRNN, batch):
    """A hand-written PyTorch per-step loop with autograd, for any config of the grid."""
    import torch.nn.functional as F

    cfg = model.config
    P = {name: _tensor(torch, value) for name, value in model.params.items()}
    x = torch.from_numpy(batch.x)
    T, B, _ = batch.x.shape
    targets = torch.from_numpy(batch.targets.reshape(-1))

    def loss_fn():
        inputs = x
        for l, layer in enumerate(cfg.layers, start=1):

            def p(name, l=l):
                return P[f"layer{l}.{name}"]

            U = torch.addmm(p("b_h"), inputs.reshape(T * B, -1), p("W_xh")).reshape(
                T, B, -1
            )  # input side, all rows
            h = torch.zeros(B, layer.hidden_size, dtype=x.dtype)
            states = []
            for t in range(T):
                g = h
                for j in range(1, layer.transition_depth + 1):
                    g = torch.tanh(torch.addmm(p(f"b_h{j}"), g, p(f"W_h{j}")))
                a = torch.addmm(U[t], g, p("W_hh"))
                h = h + torch.tanh(a) if layer.skip == "residual" else torch.tanh(a)
                states.append(h)
            inputs = torch.stack(states)  # (T, B, H)
        y = torch.addmm(P["output.b_y"], inputs.reshape(T * B, -1), P["output.W_hy"])
        return F.cross_entropy(y, targets)

    def step():
        for value in P.values():
            value.grad = None
        loss = loss_fn()
        loss.backward()
        return loss

    def grads():
        loss = step()
        return float(loss.detach()), {name: value.grad.numpy() for name, value in P.items()}

    return step, grads


def jax_impl(jax, model: numrnn.DeepRNN, batch):
    """``lax.scan`` over time per layer, ``jit(value_and_grad(loss))``; compiled here, before
    timing."""
    import jax.numpy as jnp
    from jax import lax

    cfg = model.config
    T, B, _ = batch.x.shape
    P = {name: jnp.asarray(value) for name, value in model.params.items()}
    x, targets = jnp.asarray(batch.x), jnp.asarray(batch.targets.astype(np.int32))

    def loss_fn(P, x, targets):
        inputs = x
        for l, layer in enumerate(cfg.layers, start=1):
            p = {
                name.split(".", 1)[1]: value
                for name, value in P.items()
                if name.startswith(f"layer{l}.")
            }
            U = inputs @ p["W_xh"] + p["b_h"]  # (T, B, H), all rows at once
            q, residual = layer.transition_depth, layer.skip == "residual"

            def cell(h, u, p=p, q=q, residual=residual):
                g = h
                for j in range(1, q + 1):
                    g = jnp.tanh(g @ p[f"W_h{j}"] + p[f"b_h{j}"])
                h_new = jnp.tanh(g @ p["W_hh"] + u)
                h_new = h + h_new if residual else h_new
                return h_new, h_new

            _, inputs = lax.scan(cell, jnp.zeros((B, layer.hidden_size), dtype=x.dtype), U)
        y = inputs @ P["output.W_hy"] + P["output.b_y"]  # (T, B, O)
        log_probs = jax.nn.log_softmax(y, axis=-1)
        return -jnp.mean(jnp.take_along_axis(log_probs, targets[..., None], axis=-1))

    compiled = (
        jax.jit(jax.value_and_grad(loss_fn)).lower(P, x, targets).compile()
    )  # compiled now, not run

    def step():
        return jax.block_until_ready(compiled(P, x, targets))

    def grads():
        loss, g = step()
        return float(loss), {name: np.asarray(value) for name, value in g.items()}

    return step, grads


# --------------------------------------------------------------------------- one config


def implementations(
    cfg: BenchConfig, model, batch, peers: dict, *, with_reference: bool = True
) -> dict:
    """name -> (step, grads_fn or None) for every implementation that applies to ``cfg``."""
    impls = {}
    model_step = numrnn_model_step(model, batch)
    impls["numrnn"] = (model_step, model_step)
    core = numrnn_core_step(model, batch)
    impls["numrnn-core"] = (core, core)
    if with_reference:
        ref = reference_step(model, batch)
        impls["reference"] = (ref, ref)
    torch, jax = peers.get("torch"), peers.get("jax")
    if torch is not None and cfg.plain_stack:
        impls["torch-rnn"] = torch_rnn_impl(torch, model, batch)
    if torch is not None and _supported_by_loops(model):
        impls["torch-loop"] = torch_loop_impl(torch, model, batch)
    if jax is not None and _supported_by_loops(model):
        impls["jax"] = jax_impl(jax, model, batch)
    impls["gemm-floor"] = (gemm_floor_step(cfg, model.dtype), None)
    return impls


def float32_end_to_end(cfg: BenchConfig) -> dict:
    """Every array a float32 numrnn step makes (results, caches, gradients, info) is float32."""
    model = build_model(cfg, np.float32)
    batch = make_batch(cfg, np.float32)
    h0 = model.initial_state(cfg.B)
    y, _, cache = network.forward(model.params, model.config, batch.x, h0)
    found = []

    def walk(value, where):
        if isinstance(value, np.ndarray):
            if value.dtype.kind == "f":
                found.append((where, value.dtype.name))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}[{k!r}]")
        elif isinstance(value, (list, tuple)):
            fields = getattr(value, "_fields", None)
            for i, v in enumerate(value):
                walk(v, f"{where}.{fields[i]}" if fields else f"{where}[{i}]")

    walk(y, "y")
    walk(cache, "cache")
    loss, grads, info = model.loss_and_grads(batch.x, batch.targets, loss="xent")
    walk(grads, "grads")
    walk([info.y, info.final_state, info.grad_norms, info.dx, info.dh0], "info")
    wrong = [(where, name) for where, name in found if name != "float32"]
    loss_dtype = np.asarray(loss).dtype.name
    return {
        "config": cfg.name,
        "arrays_checked": len(found),
        "non_float32": wrong,
        "loss_dtype": loss_dtype,
        "ok": not wrong and loss_dtype == "float32",
    }


def run_config(
    cfg: BenchConfig, dtype, peers: dict, *, budget: float, with_reference: bool
) -> dict:
    model = build_model(cfg, dtype)
    batch = make_batch(cfg, dtype)
    impls = implementations(cfg, model, batch, peers, with_reference=with_reference)
    core_loss, core_grads = impls["numrnn-core"][1]()
    core_grads = {k: np.asarray(v, dtype=np.float64) for k, v in core_grads.items()}
    agreement = {}
    for name, (_, grads_fn) in impls.items():
        if grads_fn is None:
            continue
        loss, grads = grads_fn()
        agreement[name] = compare_grads(loss, grads, core_loss, core_grads, dtype)
        if not agreement[name].ok:
            raise AssertionError(
                f"{cfg.name} {np.dtype(dtype).name}: {name}'s gradients differ from numrnn's: "
                f"{agreement[name]}"
            )
    checks, busy = QUIET["checks"], QUIET["busy_runs"]
    timings = time_round_robin({name: step for name, (step, _) in impls.items()}, budget=budget)
    base = timings[BASELINE].median
    return {
        "config": cfg.name,
        "group": cfg.group,
        "dtype": np.dtype(dtype).name,
        "contended_rounds": f"{QUIET['busy_runs'] - busy}/{QUIET['checks'] - checks}",
        "shape": {
            "B": cfg.B,
            "T": cfg.T,
            "D": cfg.D,
            "H": cfg.H,
            "L": cfg.L,
            "q": cfg.q,
            "skip": cfg.skip,
            "O": cfg.O,
        },
        "impls": {
            name: {
                "median_s": t.median,
                "ratio_vs_numrnn": t.median / base,
                "runs": len(t.times),
                "min_s": min(t.times),
                "min_ratio_vs_numrnn": min(t.times) / min(timings[BASELINE].times),
                **(
                    {
                        "grad_max_abs_diff": agreement[name].max_abs_diff,
                        "grad_max_rel_diff": agreement[name].max_rel_diff,
                        "loss_diff": agreement[name].loss_diff,
                    }
                    if name in agreement
                    else {}
                ),
            }
            for name, t in timings.items()
        },
    }


# --------------------------------------------------------------------------- report


def print_table(rows: list, dtype_name: str, stat: str = "median") -> None:
    names = [n for n in ORDER if any(n in row["impls"] for row in rows)]
    print(
        f"\n=== {dtype_name}: {stat} time of one training step (ratio = time / numrnn's {stat}) ==="
    )
    head = f"{'config':38s}" + "".join(f"{n:>22s}" for n in names)
    print(head)
    print("-" * len(head))
    for row in rows:
        cells = []
        for n in names:
            r = row["impls"].get(n)
            ratio = r[f"{stat}_s"] / row["impls"][BASELINE][f"{stat}_s"] if r else 0
            cells.append(f"{fmt_time(r[f'{stat}_s'])} ({ratio:.2f}x)" if r else "-")
        print(f"{row['config']:38s}" + "".join(f"{c:>22s}" for c in cells))
    if stat != "median":
        return
    print("gradient agreement with numrnn-core (max |g - g_core| / max |g_core| over parameters):")
    for row in rows:
        diffs = ", ".join(
            f"{n} {r['grad_max_rel_diff']:.1e}"
            for n, r in row["impls"].items()
            if "grad_max_rel_diff" in r and n != "numrnn-core"
        )
        print(f"  {row['config']:38s} {diffs}")


def evaluate_targets(rows: list, float32_check: dict | None, stat: str = "median") -> list:
    """Issue 5's targets, each met or missed, from the float32 rows (by median, or by min time)."""
    key = f"{stat}_s"
    by_name = {row["config"]: row for row in rows}

    def core(row):
        return row["impls"]["numrnn"][key]

    out = []

    def add(target, value, met, detail=""):
        out.append({"target": target, "value": value, "met": met, "detail": detail})

    stacked = [
        by_name[c.name]
        for c in STACKED
        if c.name in by_name and "torch-rnn" in by_name[c.name]["impls"]
    ]
    if stacked:
        ratios = [core(r) / r["impls"]["torch-rnn"][key] for r in stacked]
        add(
            "numrnn <= 0.5 x torch.nn.RNN (geomean, stacked)",
            geomean(ratios),
            geomean(ratios) <= 0.5,
            "per config: " + ", ".join(f"{x:.2f}" for x in ratios),
        )
        worst = max(range(len(ratios)), key=ratios.__getitem__)
        add(
            "numrnn never slower than torch.nn.RNN",
            ratios[worst],
            ratios[worst] <= 1.0,
            f"worst {stacked[worst]['config']}",
        )
    jax_rows = [r for r in rows if "jax" in r["impls"]]
    if jax_rows:
        ratios = {r["config"]: core(r) / r["impls"]["jax"][key] for r in jax_rows}
        worst = max(ratios, key=ratios.get)
        missed = ", ".join(f"{k} ({v:.2f})" for k, v in ratios.items() if v > 1.0)
        add(
            "numrnn <= 1.0 x JAX on every config",
            ratios[worst],
            ratios[worst] <= 1.0,
            f"worst {worst}" + (f"; missed at: {missed}" if missed else ""),
        )
    for c in STACKED[2:]:
        if c.name in by_name:
            r = by_name[c.name]
            ratio = core(r) / r["impls"]["gemm-floor"][key]
            add(f"numrnn <= 1.15 x GEMM floor at {c.name}", ratio, ratio <= 1.15)
    for i, c in enumerate(STACKED):
        if c.name in by_name and "reference" in by_name[c.name]["impls"]:
            r = by_name[c.name]
            speedup = r["impls"]["reference"][key] / core(r)
            need = 2.0 if i < 2 else 1.0
            add(f"numrnn >= {need:g}x faster than reference at {c.name}", speedup, speedup >= need)
    ref_rows = [r for r in rows if "reference" in r["impls"]]
    if ref_rows:
        slowest = min(r["impls"]["reference"][key] / core(r) for r in ref_rows)
        add("numrnn never slower than reference (any config)", slowest, slowest >= 1.0)
    t100 = [r for r in rows if r["group"] == "scaling" and r["shape"]["T"] == 100]
    t400 = [r for r in rows if r["group"] == "scaling" and r["shape"]["T"] == 400]
    if t100 and t400:
        ratio = core(t400[0]) / core(t100[0])
        add("T=400 costs <= 4.3 x T=100", ratio, ratio <= 4.3)
    if float32_check is not None:
        add(
            "float32 end to end",
            float32_check["arrays_checked"],
            float32_check["ok"],
            f"{float32_check['arrays_checked']} arrays checked; "
            f"non-float32: {float32_check['non_float32']}",
        )
    return out


def print_targets(targets: list, stat: str = "median") -> None:
    print(f"\n=== issue 5 targets (float32, by {stat} times) ===")
    for t in targets:
        verdict = "MET   " if t["met"] else "MISSED"
        print(f"  [{verdict}] {t['target']}: {t['value']:.3g}  {t['detail']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a subset of the grid that runs in < 2 minutes"
    )
    parser.add_argument(
        "--peers", default="torch,jax", help="comma-separated peers to run: torch, jax (or none)"
    )
    parser.add_argument(
        "--dtypes", default="float32,float64", help="comma-separated: float32, float64"
    )
    parser.add_argument(
        "--budget", type=float, default=None, help="seconds of timed runs per implementation"
    )
    parser.add_argument("--no-reference", action="store_true", help="leave numrnn.reference out")
    parser.add_argument(
        "--configs",
        default=None,
        help="only configs whose name contains one of these (comma-separated)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit NumPy's BLAS (threadpoolctl, at run time) and torch to this many threads; "
        "default: NumPy's BLAS count as it is. JAX keeps its own pool",
    )
    parser.add_argument(
        "--out", default=None, help="JSON output (default benchmarks/results/peers[-quick].json)"
    )
    args = parser.parse_args(argv)

    wanted = {p.strip() for p in args.peers.split(",") if p.strip() and p.strip() != "none"}
    unknown = wanted - {"torch", "jax"}
    if unknown:
        parser.error(f"--peers must list torch and/or jax (or none); got {sorted(unknown)}")
    dtypes = [d.strip() for d in args.dtypes.split(",")]
    if not set(dtypes) <= {"float32", "float64"}:
        parser.error(f"--dtypes must list float32 and/or float64; got {args.dtypes}")
    if args.threads is not None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            parser.error("--threads needs threadpoolctl (pip install threadpoolctl)")
        limiter = threadpool_limits(args.threads, user_api="blas")  # noqa: F841  (kept for the whole run)
    threads = numpy_blas_threads()
    peers = {}
    if "torch" in wanted:
        peers["torch"] = load_torch(threads)
    if "jax" in wanted:
        peers["jax"] = load_jax("float64" in dtypes)
    grid = QUICK_GRID if args.quick else FULL_GRID
    if args.configs:
        keys = [k.strip() for k in args.configs.split(",")]
        grid = [c for c in grid if any(k in c.name for k in keys)]
    budget = args.budget if args.budget is not None else (0.5 if args.quick else 2.0)

    info = machine_info()
    info["numpy_blas_threads"] = threads
    if peers.get("torch") is not None:
        torch = peers["torch"]
        info.update(
            torch=torch.__version__,
            torch_threads=torch.get_num_threads(),
            torch_blas=torch.__config__.show().strip().splitlines(),
        )
    if peers.get("jax") is not None:
        jax = peers["jax"]
        import jaxlib

        info.update(
            jax=jax.__version__,
            jaxlib=jaxlib.__version__,
            jax_devices=[str(d) for d in jax.devices()],
        )
    info["blas"] = machine_info()["blas"]  # again, now that every library is loaded
    print(
        f"numrnn {info['numrnn']}  numpy {info['numpy']}  python {info['python']}  "
        f"cpu {info['cpu']} "
        f"({info['cpu_count']} cpus)"
    )
    for lib in info["blas"]:
        print(
            f"  threadpoolctl: {lib['internal_api']} {lib['version']} "
            f"{lib.get('architecture') or ''} "
            f"threads={lib['num_threads']} ({os.path.basename(lib['filepath'] or '')})"
        )
    print(
        f"  numpy BLAS threads {threads}; torch threads {info.get('torch_threads', '-')}; "
        f"jax {info.get('jax', '-')} (XLA CPU, its own thread pool)"
    )
    print("  " + env_note())

    started = time.perf_counter()
    results = {}
    for dtype_name in dtypes:
        rows = []
        for cfg in grid:
            t0 = time.perf_counter()
            row = run_config(
                cfg,
                np.dtype(dtype_name),
                peers,
                budget=budget,
                with_reference=not args.no_reference,
            )
            rows.append(row)
            print(
                f"  {dtype_name} {cfg.name}: numrnn {fmt_time(row['impls']['numrnn']['median_s'])} "
                f"({time.perf_counter() - t0:.1f} s; rounds begun while other processes were busy: "
                f"{row['contended_rounds']})",
                flush=True,
            )
        results[dtype_name] = rows
        print_table(rows, dtype_name)
        print_table(rows, dtype_name, "min")
    f32_check = float32_end_to_end(COMBO[0]) if "float32" in dtypes else None
    targets = evaluate_targets(results["float32"], f32_check) if "float32" in results else []
    targets_min = (
        evaluate_targets(results["float32"], f32_check, "min") if "float32" in results else []
    )
    if targets:
        print_targets(targets)
        print_targets(targets_min, "min")
    if QUIET["busy_runs"]:
        print(
            f"\nnote: {QUIET['busy_runs']} of {QUIET['checks']} timing rounds began "
            "while other processes used "
            f"> {QUIET['threshold']:.0%} of the CPUs; 2-thread BLAS stalls then (see the min table)"
        )
    info["wall_time_s"] = time.perf_counter() - started
    out = args.out or os.path.join(RESULTS_DIR, "peers-quick.json" if args.quick else "peers.json")
    write_json(
        out,
        {
            "meta": info,
            "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
            "results": results,
            "float32_check": f32_check,
            "targets": targets,
            "targets_by_min": targets_min,
            "contention": dict(QUIET),
        },
    )
    print(f"\nwrote {out} ({info['wall_time_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
