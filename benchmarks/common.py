"""Shared pieces of numrnn's benchmarks: the grid, the model and data, timing, machine facts.

Nothing here is part of the library. The benchmarks time one full training
step: forward, softmax cross-entropy on every step, backward, every weight
gradient.

Shape legend: T steps, B batch, D input size, H hidden size, O output size
(O = D here, as in a character model), L stacked layers, q transition depth.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Callable, NamedTuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.dirname(HERE) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(HERE))

import numrnn  # noqa: E402
from numrnn import network, reference  # noqa: E402
from numrnn.losses import softmax_cross_entropy  # noqa: E402
from numrnn.workspace import Workspace  # noqa: E402

RESULTS_DIR = os.path.join(HERE, "results")


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class BenchConfig:
    """One model and batch of the grid (time-major, tanh, xent on every step)."""

    group: str  # "stacked", "deep", "combo" or "scaling"
    B: int
    T: int
    D: int
    H: int
    L: int = 1
    q: int = 0  # transition depth
    skip: str = "none"  # "none" or "residual"

    @property
    def O(self) -> int:  # noqa: E743  (O is the output width, as in the maths)
        return self.D

    @property
    def name(self) -> str:
        kind = {"none": "dt", "residual": "dts"}[self.skip] if self.q else "rnn"
        depth = f"-q{self.q}" if self.q else ""
        return f"{kind}{depth}-L{self.L} B{self.B} T{self.T} D{self.D} H{self.H}"

    @property
    def plain_stack(self) -> bool:
        """True when torch.nn.RNN can express the model (a stack of vanilla tanh layers)."""
        return self.q == 0 and self.skip == "none"


STACKED = [
    BenchConfig("stacked", 16, 50, 32, 64, 2),
    BenchConfig("stacked", 32, 100, 64, 128, 3),
    BenchConfig("stacked", 64, 200, 128, 256, 3),
    BenchConfig("stacked", 128, 100, 256, 512, 2),
]
DEEP = [
    BenchConfig("deep", 32, 100, 64, 128, 1, q, skip)
    for skip in ("none", "residual")
    for q in (2, 3)
]
COMBO = [BenchConfig("combo", 32, 100, 64, 128, 2, 2, "residual")]
SCALING = [BenchConfig("scaling", 32, 100, 64, 128, 2), BenchConfig("scaling", 32, 400, 64, 128, 2)]
FULL_GRID = STACKED + DEEP + COMBO + SCALING
QUICK_GRID = [STACKED[0], STACKED[1], DEEP[0], COMBO[0]]


def build_model(cfg: BenchConfig, dtype, seed: int = 0) -> numrnn.DeepRNN:
    """The numrnn model of ``cfg``, non-zero biases so every bias gradient is exercised."""
    model = numrnn.DeepRNN(
        cfg.D,
        cfg.H,
        cfg.O,
        num_layers=cfg.L,
        transition_depth=cfg.q,
        skip=cfg.skip,
        activation="tanh",
        dtype=dtype,
        seed=seed,
    )
    rng = np.random.default_rng(seed + 1)
    for name, value in model.params.items():
        if name.rsplit(".", 1)[-1].startswith("b_"):
            value[...] = rng.uniform(-0.1, 0.1, size=value.shape)
    return model


class Batch(NamedTuple):
    x: np.ndarray  # (T, B, D), model dtype
    targets: np.ndarray  # (T, B) int64, every step counted


def make_batch(cfg: BenchConfig, dtype, seed: int = 0) -> Batch:
    rng = np.random.default_rng(seed + 2)
    x = rng.standard_normal((cfg.T, cfg.B, cfg.D)).astype(dtype)
    targets = rng.integers(0, cfg.O, size=(cfg.T, cfg.B))
    return Batch(x, targets)


# --------------------------------------------------------------------------- the two numrnn steps


def numrnn_model_step(model: numrnn.DeepRNN, batch: Batch) -> Callable[[], tuple]:
    """``model.loss_and_grads``: what a user's training step calls (input checks included,
    no dx)."""

    def step():
        loss, grads, _ = model.loss_and_grads(batch.x, batch.targets, loss="xent", need_dx=False)
        return loss, grads

    return step


def numrnn_core_step(model: numrnn.DeepRNN, batch: Batch) -> Callable[[], tuple]:
    """``numrnn.network.loss_and_grads``: the core without the public edge's checks."""
    B = batch.x.shape[1]
    workspace = Workspace()  # the scratch memory the model's own step reuses

    def step():
        h0 = model.initial_state(B)
        with workspace.in_use():
            loss, grads, _ = network.loss_and_grads(
                model.params,
                model.config,
                batch.x,
                batch.targets,
                loss="xent",
                h0=h0,
                need_dx=False,
            )
        return loss, grads

    return step


def reference_step(model: numrnn.DeepRNN, batch: Batch) -> Callable[[], tuple]:
    """``numrnn.reference``: the naive per-step loop (+ the public softmax cross-entropy)."""
    B = batch.x.shape[1]

    def step():
        h0 = model.initial_state(B)
        y, _, cache = reference.model_forward(model.params, model.config, batch.x, h0)
        loss, dy = softmax_cross_entropy(y, batch.targets)
        grads, _, _, _ = reference.model_backward(dy, cache)
        return loss, grads

    return step


# --------------------------------------------------------------------------- the GEMM floor


def gemm_floor_step(cfg: BenchConfig, dtype, seed: int = 0) -> Callable[[], None]:
    """Only the matrix products a training step needs, in NumPy, into preallocated arrays.

    Per layer: the input product over T·B rows; per step forward the q + 1
    transition products; per step backward the q + 1 products back through the
    transition; after the loop one weight-gradient product per weight over T·B
    rows and (layers above the first) ``dX``. Output: ``Y``, ``dW_hy``, ``dH``.
    No activations, no loss, no bias sums, no ``dx`` of the first layer (no
    training step needs it).
    """
    rng = np.random.default_rng(seed)

    def rand(*shape):
        return (0.1 * rng.standard_normal(shape)).astype(dtype)

    T, B, H, TB = cfg.T, cfg.B, cfg.H, cfg.T * cfg.B
    levels = cfg.q + 1
    layers = []
    inputs = rand(TB, cfg.D)
    for l in range(cfg.L):
        d_in = cfg.D if l == 0 else H
        layer = dict(
            X=inputs,
            W_xh=rand(d_in, H),
            U=rand(TB, H),
            dX=rand(TB, d_in) if l > 0 else None,
            W=[rand(H, H) for _ in range(levels)],  # W_h1 .. W_hh (M = H)
            G=[rand(T + 1, B, H) for _ in range(levels)],  # level inputs g_{j-1} (G[0] = states)
            S=[rand(T, B, H) for _ in range(levels)],  # level outputs s_j
            Delta=[rand(T, B, H) for _ in range(levels)],  # deltas δ_j
            dW=[rand(H, H) for _ in range(levels)],
            dW_xh=rand(d_in, H),
            dg=rand(B, H),
        )
        layers.append(layer)
        inputs = layer["G"][0][1:].reshape(TB, H)
    W_hy, dY, Y, dH, dW_hy = (
        rand(H, cfg.O),
        rand(TB, cfg.O),
        rand(TB, cfg.O),
        rand(TB, H),
        rand(H, cfg.O),
    )
    top = inputs
    mm = np.matmul

    def step():
        for layer in layers:  # forward, layer-major
            mm(layer["X"], layer["W_xh"], out=layer["U"])
            G, S, W = layer["G"], layer["S"], layer["W"]
            for t in range(T):
                mm(G[0][t], W[0], out=S[0][t])
                for j in range(1, levels):
                    mm(G[j][t], W[j], out=S[j][t])
        mm(top, W_hy, out=Y)
        mm(dY, W_hy.T, out=dH)
        mm(top.T, dY, out=dW_hy)
        for layer in reversed(layers):  # backward, top layer first
            G, Delta, W, dg = layer["G"], layer["Delta"], layer["W"], layer["dg"]
            for t in range(T - 1, -1, -1):
                for j in range(levels - 1, -1, -1):
                    mm(Delta[j][t], W[j].T, out=dg)
            for j in range(levels):
                mm(G[j][:-1].reshape(TB, H).T, Delta[j].reshape(TB, H), out=layer["dW"][j])
            mm(layer["X"].T, Delta[-1].reshape(TB, H), out=layer["dW_xh"])
            if layer["dX"] is not None:
                mm(Delta[-1].reshape(TB, H), layer["W_xh"].T, out=layer["dX"])

    return step


# --------------------------------------------------------------------------- timing


class Timing(NamedTuple):
    median: float  # seconds
    times: list  # every timed run, seconds


def _cpu_ticks() -> tuple:
    """(busy, total) jiffies of all CPUs from /proc/stat, or (0, 0) where there is none."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
    except OSError:
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def others_busy(interval: float = 0.05) -> float:
    """Fraction of the machine's CPU time used by other processes over ``interval`` (we sleep
    meanwhile)."""
    busy0, total0 = _cpu_ticks()
    time.sleep(interval)
    busy1, total1 = _cpu_ticks()
    return (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0


QUIET = {
    "threshold": 0.15,
    "max_wait": 3.0,
    "waited": 0.0,
    "checks": 0,
    "busy_runs": 0,
    "streak": 0,
}


def wait_for_quiet() -> float:
    """Wait (at most ``QUIET['max_wait']`` s) until other processes use < 15% of the CPUs;
    returns their share.

    The machine may be shared: a 2-thread BLAS call whose second thread has
    to wait for a core stalls for a scheduler tick (4 ms), which swamps a
    1 ms training step. Runs that start while others are busy are counted.
    """
    start = time.perf_counter()
    max_wait = (
        QUIET["max_wait"] if QUIET["streak"] < 3 else 0.3
    )  # long contention: stop waiting long
    busy = others_busy()
    while busy > QUIET["threshold"] and time.perf_counter() - start < max_wait:
        time.sleep(0.2)
        busy = others_busy()
    QUIET["waited"] += time.perf_counter() - start
    QUIET["checks"] += 1
    contended = busy > QUIET["threshold"]
    QUIET["busy_runs"] += contended
    QUIET["streak"] = QUIET["streak"] + 1 if contended else 0
    return busy


def timed(fn: Callable[[], object]) -> float:
    """Seconds of one call, with the garbage collector off during it."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        gc.enable()


def time_round_robin(
    steps: dict, *, warmup: int = 2, budget: float = 2.0, min_runs: int = 5, max_runs: int = 50
) -> dict:
    """Median time of each step, the steps interleaved run by run so drift hits all alike.

    Each round starts on a quiet machine (:func:`wait_for_quiet`) and runs the
    steps in an order rotated by one from the round before.

    Each step gets ``warmup`` untimed calls, then ``n`` timed ones with
    ``n = clamp(budget / first time, min_runs, max_runs)``.

    Returns
    -------
    dict of str to Timing
    """
    first = {}
    for name, fn in steps.items():
        for _ in range(warmup):
            fn()
        first[name] = timed(fn)
    runs = {
        name: min(max_runs, max(min_runs, math.ceil(budget / max(t, 1e-9))))
        for name, t in first.items()
    }
    times = {name: [] for name in steps}
    names = list(steps)
    for round_ in range(max(runs.values())):
        wait_for_quiet()  # each round starts on a quiet machine, if it can
        # The step that runs first after the pause above runs on an idle core (measured: +0.4 ms,
        # +25 % on a 1.7 ms step): rotate the order so that no step always takes that place.
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            if round_ < runs[name]:
                times[name].append(timed(steps[name]))
    return {name: Timing(statistics.median(ts), ts) for name, ts in times.items()}


# --------------------------------------------------------------------------- gradient agreement


class Agreement(NamedTuple):
    max_abs_diff: float  # max over params of max |g - g_core|
    max_rel_diff: float  # max over params of max |g - g_core| / max |g_core|
    loss_diff: float
    ok: bool


GRAD_TOLERANCE = {
    "float32": 1e-3,
    "float64": 1e-9,
}  # on max |g - g_core| / max |g_core| per parameter


def compare_grads(loss, grads: dict, core_loss, core_grads: dict, dtype) -> Agreement:
    """How far ``grads`` (numrnn names, numpy arrays) is from the core's, per parameter."""
    if set(grads) != set(core_grads):
        raise ValueError(f"gradient keys differ: {sorted(set(grads) ^ set(core_grads))}")
    max_abs = max_rel = 0.0
    for name, ref in core_grads.items():
        got = np.asarray(grads[name], dtype=np.float64)
        if got.shape != ref.shape:
            raise ValueError(f"gradient {name} has shape {got.shape}; the core's has {ref.shape}")
        diff = float(np.max(np.abs(got - ref)))
        max_abs = max(max_abs, diff)
        max_rel = max(max_rel, diff / max(float(np.max(np.abs(ref))), 1e-30))
    loss_diff = abs(float(loss) - float(core_loss))
    tol = GRAD_TOLERANCE[np.dtype(dtype).name]
    return Agreement(
        max_abs,
        max_rel,
        loss_diff,
        max_rel <= tol and loss_diff <= tol * max(1.0, abs(float(core_loss))),
    )


# --------------------------------------------------------------------------- machine and versions


def blas_info() -> list:
    """threadpoolctl's view of the BLAS/OpenMP libraries loaded (empty list if it is not
    installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = (
        "user_api",
        "internal_api",
        "prefix",
        "version",
        "num_threads",
        "architecture",
        "threading_layer",
        "filepath",
    )
    return [{k: info.get(k) for k in keep} for info in threadpool_info()]


def numpy_blas_threads() -> int:
    """Threads of the BLAS NumPy uses (threadpoolctl), else the CPU count."""
    blas = [info for info in blas_info() if info["user_api"] == "blas"]
    for info in sorted(
        blas, key=lambda info: "numpy" not in (info["filepath"] or "")
    ):  # NumPy's own first
        return int(info["num_threads"])
    return os.cpu_count() or 1


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    env = {
        k: os.environ.get(k)
        for k in (
            "OPENBLAS_CORETYPE",
            "OPENBLAS_L2_SIZE",
            "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS",
        )
    }
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numrnn": numrnn.__version__,
        "platform": platform.platform(),
        "env": env,
        "blas": blas_info(),
    }


def env_note() -> str:
    """One line about the BLAS environment variables that change which kernel runs."""
    set_vars = {k: v for k, v in machine_info()["env"].items() if v is not None}
    if not set_vars:
        return "BLAS env: none of OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE/*_NUM_THREADS set"
    return (
        "BLAS env: "
        + ", ".join(f"{k}={v}" for k, v in set_vars.items())
        + "  (for modern-kernel numbers run with "
        "`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...`)"
    )


# --------------------------------------------------------------------------- output


def write_json(path: str, data) -> None:
    """Write ``data`` as JSON atomically (temp file in the same directory, then os.replace)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1, default=_jsonable)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if hasattr(value, "_asdict"):
        return value._asdict()
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def geomean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def fmt_time(seconds: float) -> str:
    if seconds != seconds:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"
