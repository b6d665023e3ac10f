"""Grading throughput: 100 submissions of assignment 1, and the sandbox's cost per function.

Builds 100 submissions of ``vanilla_rnn`` (by default 70 correct, 20 with one planted bug,
10 hostile: infinite loop, memory bomb, segfault, sys.exit, os._exit, huge print, fork bomb,
missing function, NaN output, syntax error), grades them with ``numrnn.assignment.grade`` on
``--workers`` processes at the default limits (10 s, 1 GiB per function), and reports the wall
time against the issue's target (under 2 minutes for the 100).

The sandbox overhead per function is measured in the same run. Each submission gets its own
bubblewrap sandbox (a fork server with NumPy imported) and each graded function a forked run
in it, so the overhead of one function is the median wall time of one run of
``rnn_step_forward`` in a live sandbox (the submission's cells executed, the hidden trials
run, the arrays written and read back) minus the median time of the same work in this
process, plus the median start of a sandbox shared by the submission's 4 functions.
Target: under 0.3 s.

CPU time is measured too, since wall time on a shared machine is distorted by other work:
as root, the benchmark moves itself into a cpuacct cgroup of its own, whose ``cpuacct.usage``
counts every descendant (killed sandboxes included); otherwise ``process_time`` plus the
reaped children's ``getrusage`` (a killed sandbox's CPU is then missed).

The machine's load average is printed before and after, since other work on the same cores
slows both numbers. Run::

    python benchmarks/grading.py                 # 100 submissions, 2 workers
    python benchmarks/grading.py --count 20      # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(HERE.parent))

from numrnn.assignment import grade, load  # noqa: E402
from numrnn.assignment.grader import Grader, run_limits  # noqa: E402
from numrnn.assignment.submission import read_submission  # noqa: E402

RESULTS = HERE / "results" / "grading.json"
FUNCTIONS = 4  # graded functions of vanilla_rnn: one sandbox start is shared by these

BUGS = [  # (old, new): one planted bug each, in one function
    ("        dW_hh += dW_hh_t\n", "        dW_hh = dW_hh_t\n"),
    ('    dW_hh = cache["h_prev"].T @ delta', '    dW_hh = cache["h"].T @ delta'),
    ("    db_h = delta.sum(axis=0)", "    db_h = delta.sum(axis=0) * 0.5"),
    ("    h = np.tanh(a)\n", "    h = np.maximum(a, 0.0)\n"),
    ("    dh0 = dh_next\n", "    dh0 = np.zeros_like(dh_next)\n"),
]


def planted(text: str, function: str, code: str) -> str:
    """``code`` run first thing in ``function``'s body."""
    start = text.index(f"def {function}(")
    at = text.index("    ### BEGIN SOLUTION\n", start) + len("    ### BEGIN SOLUTION\n")
    body = "".join(f"    {line}\n" for line in code.strip("\n").splitlines())
    return text[:at] + body + text[at:]


def hostile_cases(text: str) -> list:
    fork = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    return [
        planted(text, "rnn_backward", "while True:\n    pass"),
        planted(text, "rnn_step_backward", "hoard = [np.ones(1 << 24) for _ in range(1000)]"),
        planted(text, "rnn_forward", "import ctypes\nctypes.string_at(0)"),
        planted(text, "rnn_step_backward", "import sys\nsys.exit(0)"),
        planted(text, "rnn_step_backward", "import os\nos._exit(0)"),
        planted(text, "rnn_forward", "print('x' * 100_000_000)"),
        planted(text, "rnn_backward", fork),
        text.replace("def rnn_forward(", "def rnn_forwrd(", 1),
        planted(text, "rnn_forward", "return np.full((x.shape[0], x.shape[1], 5), np.nan), {}"),
        text.replace("    dh0 = dh_next\n", "    dh0 = dh_next +* 2\n", 1),
    ]


def make_submissions(folder: Path, count: int) -> dict:
    """Write ``count`` submissions: 70 % correct, 20 % buggy, 10 % hostile."""
    text = load("vanilla_rnn").text
    hostile = hostile_cases(text)
    n_hostile = max(1, count // 10) if count >= 10 else 0
    n_buggy = count * 2 // 10
    kinds = {"correct": 0, "buggy": 0, "hostile": 0}
    for index in range(count):
        if index < n_hostile:
            kind, body = "hostile", hostile[index % len(hostile)]
        elif index < n_hostile + n_buggy:
            old, new = BUGS[index % len(BUGS)]
            kind, body = "buggy", text.replace(old, new, 1)
        else:
            kind, body = "correct", text
        kinds[kind] += 1
        (folder / f"s{index:03d}_{kind}.py").write_text(body)
    return kinds


class CpuMeter:
    """CPU seconds used by this process and all its descendants since it was made."""

    def __init__(self):
        self.group = None
        mount = Path("/sys/fs/cgroup/cpuacct")
        if os.geteuid() == 0 and (mount / "cpuacct.usage").exists():
            group = mount / f"numrnn-bench-{os.getpid()}"
            try:
                group.mkdir()
                (group / "cgroup.procs").write_text("0")
                self.group = group
            except OSError:
                pass
        self.how = "cpuacct cgroup" if self.group else "process_time + reaped children"
        self.start = self.read()

    def read(self) -> float:
        if self.group is not None:
            return int((self.group / "cpuacct.usage").read_text()) / 1e9
        import resource

        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    def seconds(self) -> float:
        return self.read() - self.start

    def close(self) -> None:
        if self.group is not None:
            (self.group.parent / "cgroup.procs").write_text("0")
            self.group.rmdir()


def sandbox_overhead(repeats: int) -> dict:
    """Median seconds of a sandbox's start, of one run in it, and of the same work here."""
    import numpy as np

    text = load("vanilla_rnn").text
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "good.py"
        path.write_text(text)
        cells = read_submission(path)
    with Grader("vanilla_rnn", seed=3) as grader:
        name = "rnn_step_forward"
        item, trials = grader.items[name], grader.trials_for("good")[name]
        task, inputs, expected = grader.task(name, trials)
        starts, sandboxed, in_process = [], [], []
        for _ in range(repeats):
            with grader.sandbox.submission(0) as box:
                start = time.perf_counter()
                box.start()
                starts.append(time.perf_counter() - start)
                start = time.perf_counter()
                run = box.run(task, cells, inputs, expected, run_limits(item.limits))
                sandboxed.append(time.perf_counter() - start)
            assert run.outcome == "finished" and len(run.arrays) == len(trials)
            start = time.perf_counter()
            namespace = {"__name__": "submission"}
            for index, code in enumerate(cells):
                exec(compile(code, f"<cell {index}>", "exec"), namespace)
            for trial in trials:
                out, _ = namespace[name](*[value.copy() for value in trial.inputs.values()])
                np.asarray(out)
            in_process.append(time.perf_counter() - start)
        isolation = grader.sandbox.isolation.describe()
    sandboxed_median, in_process_median = (
        statistics.median(sandboxed),
        statistics.median(in_process),
    )
    start_median = statistics.median(starts)
    return {
        "repeats": repeats,
        "start_median_s": start_median,
        "sandboxed_median_s": sandboxed_median,
        "sandboxed_min_s": min(sandboxed),
        "in_process_median_s": in_process_median,
        "overhead_s": sandboxed_median - in_process_median + start_median / FUNCTIONS,
        "isolation": isolation,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="submissions to grade")
    parser.add_argument("--workers", type=int, default=2, help="submissions graded at once")
    parser.add_argument("--repeats", type=int, default=15, help="runs for the overhead")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the JSON to write")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, load average before "
        f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}"
    )
    overhead = sandbox_overhead(args.repeats)
    print(
        f"sandbox overhead per function: {overhead['overhead_s']:.3f} s "
        f"(a submission's sandbox starts in {overhead['start_median_s']:.3f} s, shared by "
        f"{FUNCTIONS} functions; a run in it: median {overhead['sandboxed_median_s']:.3f} s, "
        f"min {overhead['sandboxed_min_s']:.3f} s; the same work in-process "
        f"{overhead['in_process_median_s'] * 1000:.1f} ms; target < 0.3 s)"
    )
    print(overhead["isolation"])
    with tempfile.TemporaryDirectory() as folder:
        kinds = make_submissions(Path(folder), args.count)
        meter = CpuMeter()
        start = time.perf_counter()
        try:
            batch = grade(
                "vanilla_rnn", [folder], workers=args.workers, seed=1, progress=sys.stderr.isatty()
            )
            seconds = time.perf_counter() - start
            cpu_seconds = meter.seconds()
        finally:
            meter.close()
    load_after = os.getloadavg()
    print(batch.summary())
    print(
        f"graded {args.count} submissions ({kinds['correct']} correct, {kinds['buggy']} buggy, "
        f"{kinds['hostile']} hostile) in {seconds:.1f} s on {args.workers} workers: "
        f"{args.count / seconds * 60:.0f} per minute (target: 100 in under 120 s); "
        f"CPU {cpu_seconds:.1f} s ({meter.how}), i.e. {cpu_seconds / args.workers:.1f} s on "
        f"{args.workers} cores if nothing else ran"
    )
    print(f"load average after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    record = {
        "count": args.count,
        "kinds": kinds,
        "workers": args.workers,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "cpu_measured_by": meter.how,
        "mean_score": sum(r.score for r in batch.results) / len(batch.results),
        "overhead": overhead,
        "load_before": load_before,
        "load_after": load_after,
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(temporary, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
