"""The sandbox against hostile and broken submissions, all graded in one batch.

One module-scoped batch holds two correct submissions and one submission per hostile case
(each case planted in one function of assignment 1, short limits); every test reads its case's
result. As root (CI, Gradescope, this suite's usual runner) the cases that need isolation run as
the unprivileged sandbox user: reading the solution, another submission, the grader's
scratch files, writing outside the run's folder, signalling the grader, the network.
"""

from __future__ import annotations

import os
import signal
import socket
import threading

import pytest

from numrnn.assignment import grade, load
from numrnn.assignment.sandbox import _count_tasks, probe_isolation

pytestmark = pytest.mark.slow

TIME_LIMIT = 5.0  # generous: other jobs may share the cores; the loops cost it once each
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="isolation from files and network needs root")

FUNCTIONS = ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward")
# Which graded items call a function (the backward checks call their forward first).
CALLERS = {
    "rnn_step_forward": set(FUNCTIONS),
    "rnn_step_backward": {"rnn_step_backward", "rnn_backward"},
    "rnn_forward": {"rnn_forward", "rnn_backward"},
    "rnn_backward": {"rnn_backward"},
}
POINTS = {"rnn_step_forward": 2, "rnn_step_backward": 3, "rnn_forward": 2, "rnn_backward": 3}


def planted(function: str, code: str) -> str:
    """Assignment 1's solution with ``code`` run first thing in ``function``'s body."""
    text = load("vanilla_rnn").text
    start = text.index(f"def {function}(")
    at = text.index("    ### BEGIN SOLUTION\n", start) + len("    ### BEGIN SOLUTION\n")
    body = "".join(f"    {line}\n" for line in code.strip("\n").splitlines())
    return text[:at] + body + text[at:]


class Batch:
    """The graded batch and what the hostile cases tried to reach."""

    def __init__(self, root):
        self.root = root
        self.signals = []
        self.connections = []


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "submissions"
    folder.mkdir()
    state = Batch(root)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            state.connections.append(connection)

    watcher = threading.Thread(target=accept, daemon=True)
    watcher.start()
    previous = signal.signal(signal.SIGUSR1, lambda number, frame: state.signals.append(number))
    source = load("vanilla_rnn").path
    solution = load("vanilla_rnn").text
    cases = {
        "good_a": solution,
        "good_b": solution,
        "infinite_loop": planted("rnn_backward", "while True:\n    pass"),
        "loop_at_load": "import numpy as np\nwhile True:\n    pass\n" + solution,
        "memory_bomb": planted(
            "rnn_step_backward", "hoard = [np.ones(1 << 24) for _ in range(1000)]"
        ),
        "segfault": planted("rnn_forward", "import ctypes\nctypes.string_at(0)"),
        "sys_exit": planted("rnn_step_backward", "import sys\nsys.exit(0)"),
        "os_exit": planted("rnn_step_backward", "import os\nos._exit(0)"),
        "kill_parent": planted(
            "rnn_step_backward", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"
        ),
        "import_error": solution.replace(
            "def rnn_forward(", "import torch_is_not_here\n\n\ndef rnn_forward(", 1
        ),
        "syntax_error": solution.replace("    dh0 = dh_next\n", "    dh0 = dh_next +* 2\n", 1),
        "missing_function": solution.replace("def rnn_forward(", "def rnn_forwrd(", 1),
        "wrong_shape": planted("rnn_step_forward", "return np.zeros(3), {}"),
        "wrong_dtype": planted(
            "rnn_step_forward",
            "h = np.tanh(x @ W_xh + h_prev @ W_hh + b_h)\n"
            "return h.astype(np.float32), {'x': x, 'h_prev': h_prev, 'W_xh': W_xh, "
            "'W_hh': W_hh, 'h': h}",
        ),
        "nan": planted(
            "rnn_forward", "return np.full((x.shape[0], x.shape[1], W_hh.shape[0]), np.nan), {}"
        ),
        "huge_print": planted("rnn_forward", "print('x' * 100_000_000)"),
        "fork_bomb": planted(
            "rnn_backward",
            "import os\nwhile True:\n    try:\n        os.fork()\n"
            "    except OSError:\n        pass",
        ),
        "read_solution": planted("rnn_forward", f"open({str(source)!r}).read()"),
        "read_other_submission": planted(
            "rnn_forward", f"open({str(folder / 'good_a.py')!r}).read()"
        ),
        "read_grader_scratch": planted(
            "rnn_forward",
            "import glob\nfound = glob.glob('/tmp/numrnn-grade-*/*/*')\n"
            "assert not found, f'found {found[:3]}'\nopen('/tmp/numrnn-grade-probe').close()\n"
            "raise RuntimeError('the grader scratch folder is not there')",
        ),
        "write_outside": planted(
            "rnn_forward",
            f"open({str(root / 'pwned')!r}, 'w').write('x')",
        ),
        "write_into_package": planted(
            "rnn_forward",
            f"open({str(source.parent / 'pwned.py')!r}, 'w').write('x')",
        ),
        "signal_grader": planted(
            "rnn_forward", f"import os, signal\nos.kill({os.getpid()}, signal.SIGUSR1)"
        ),
        "network": planted(
            "rnn_forward",
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)",
        ),
    }
    for name, text in cases.items():
        (folder / f"{name}.py").write_text(text)
    try:
        state.result = grade(
            "vanilla_rnn",
            [folder],
            workers=2,
            seed=99,
            # 512 MiB: touching memory is slow in some VMs, and the bomb must hit the limit,
            # not the clock
            limits={"time": TIME_LIMIT, "memory_mb": 512},
            progress=False,
            json_dir=root / "json",
            csv_path=root / "gradebook.csv",
        )
    finally:
        signal.signal(signal.SIGUSR1, previous)
        stop.set()
        watcher.join()
        listener.close()
    state.by_name = {result.name: result for result in state.result.results}
    yield state
    for connection in state.connections:
        connection.close()


def items(batch, name) -> dict:
    return {item.name: item for item in batch.by_name[name].items}


def assert_only(batch, name, function, message):
    """The items that call ``function`` score zero with ``message``; the others full marks."""
    graded = items(batch, name)
    for item_name, item in graded.items():
        if item_name in CALLERS[function]:
            assert item.score == 0, (name, item_name, item.output)
            assert message in item.output, (name, item_name, item.output)
        else:
            assert item.score == POINTS[item_name], (name, item_name, item.output)


def test_the_good_submissions_get_full_marks_in_a_hostile_batch(batch):
    for name in ("good_a", "good_b"):
        assert batch.by_name[name].score == 10.0
    assert len(batch.result.results) == 24
    assert (batch.root / "json" / "good_a.json").is_file()
    assert "good_b,10,10,2,3,2,3,," in (batch.root / "gradebook.csv").read_text()


def test_an_infinite_loop_is_a_zero_for_that_function_only(batch):
    assert_only(batch, "infinite_loop", "rnn_backward", f"time limit of {TIME_LIMIT:g} s")


def test_a_loop_while_loading_zeroes_everything_once_not_four_times(batch):
    result = batch.by_name["loop_at_load"]
    assert result.score == 0
    assert all("time limit" in item.output for item in result.items)
    assert result.seconds < 2.5 * TIME_LIMIT, "the same load failure was run for every item"


def test_a_memory_bomb_is_out_of_memory(batch):
    assert_only(batch, "memory_bomb", "rnn_step_backward", "ran out of memory")


def test_a_segfault_is_named(batch):
    assert_only(batch, "segfault", "rnn_forward", "segmentation fault (SIGSEGV)")


def test_exits_and_killing_the_parent_are_zeros_with_a_message(batch):
    assert_only(batch, "sys_exit", "rnn_step_backward", "called sys.exit(0)")
    assert_only(batch, "os_exit", "rnn_step_backward", "ended the process (exit code 0)")
    assert_only(batch, "kill_parent", "rnn_step_backward", "was killed (SIGKILL)")


def test_import_and_syntax_errors_cost_the_functions_they_break(batch):
    assert_only(batch, "import_error", "rnn_forward", "No module named 'torch_is_not_here'")
    graded = items(batch, "syntax_error")
    assert graded["rnn_backward"].score == 0
    assert "`rnn_backward` is not defined" in graded["rnn_backward"].output
    assert "SyntaxError" in graded["rnn_backward"].output
    assert graded["rnn_forward"].score == 2 and graded["rnn_step_backward"].score == 3


def test_a_missing_function_is_named(batch):
    assert_only(batch, "missing_function", "rnn_forward", "`rnn_forward` is not defined")


def test_wrong_shapes_dtypes_and_nan_are_named(batch):
    shape = items(batch, "wrong_shape")["rnn_step_forward"]
    assert shape.score == 0 and "the output has shape (3,), expected (" in shape.output
    dtype = items(batch, "wrong_dtype")["rnn_step_forward"]
    assert dtype.score == 0 and "has dtype float32, expected float64" in dtype.output
    nan = items(batch, "nan")["rnn_forward"]
    assert nan.score == 0 and "contains NaN or inf" in nan.output


def test_a_huge_print_hits_the_output_limit(batch):
    assert_only(batch, "huge_print", "rnn_forward", "more than the output limit")


def test_a_fork_bomb_is_bounded_and_leaves_no_process(batch):
    assert_only(batch, "fork_bomb", "rnn_backward", "time limit")
    if ROOT and probe_isolation().separate_user:
        for slot in range(2):
            assert _count_tasks(65000 + slot) == 0


@needs_root
def test_the_solution_other_submissions_and_scratch_files_are_unreadable(batch):
    for name in ("read_solution", "read_other_submission", "read_grader_scratch"):
        item = items(batch, name)["rnn_forward"]
        assert item.score == 0, (name, item.output)
        assert any(
            error in item.output
            for error in ("FileNotFoundError", "PermissionError", "is not there")
        ), (name, item.output)


@needs_root
def test_writes_outside_the_run_folder_land_nowhere(batch):
    for name in ("write_outside", "write_into_package"):
        assert items(batch, name)["rnn_forward"].score == 0
    assert not (batch.root / "pwned").exists()
    assert not (load("vanilla_rnn").path.parent / "pwned.py").exists()


@needs_root
def test_the_grader_cannot_be_signalled_and_there_is_no_network(batch):
    assert batch.signals == []
    # in its own PID namespace the grader's pid is not there at all (before: PermissionError)
    assert "ProcessLookupError" in items(batch, "signal_grader")["rnn_forward"].output
    assert batch.connections == []
    network = items(batch, "network")["rnn_forward"]
    assert network.score == 0 and "Error" in network.output


def test_the_summary_counts_each_failure(batch):
    summary = batch.result.summary()
    assert "graded 24 submissions of vanilla_rnn" in summary
    assert "full marks 2" in summary
    assert "rnn_backward: time limit" in summary
    assert "rnn_forward: crashed (SIGSEGV)  " in summary


def test_without_isolation_the_limits_and_the_data_path_still_hold(tmp_path):
    """What a grader that is not root has: every run as the grader's user, limits only."""
    from numrnn.assignment import Grader

    solution = load("vanilla_rnn").text
    (tmp_path / "good.py").write_text(solution)
    (tmp_path / "segfault.py").write_text(
        planted("rnn_step_forward", "import ctypes\nctypes.string_at(0)")
    )
    (tmp_path / "loop.py").write_text(planted("rnn_backward", "while True:\n    pass"))
    with Grader("vanilla_rnn", seed=3, isolate=False, limits={"time": 2}) as grader:
        assert grader.sandbox.isolation.separate_user is False
        good, segfault, loop = grader.grade_many(
            [(p, tmp_path / f"{p}.py") for p in ("good", "segfault", "loop")], progress=False
        )
    assert good.score == 10
    assert segfault.score == 0 and "SIGSEGV" in segfault.items[0].output
    assert loop.score == 7 and "time limit of 2 s" in loop.items[3].output


def test_a_forged_status_file_is_a_zero_not_a_crash(tmp_path):
    """The student's process can write out/status.json itself and exit before the harness."""
    from numrnn.assignment import Grader

    forge = (
        "import os\n"
        "with open(os.path.join('out', 'status.json'), 'w') as handle:\n"
        "    handle.write({payload})\n"
        "os._exit(0)"
    )
    cases = {
        "deep": forge.format(payload="'[' * 100000 + ']' * 100000"),
        "wrong_types": forge.format(
            payload='\'{"trials": 7, "problems": [1], "missing": "" , "cells": 3}\''
        ),
        "claims_success": forge.format(
            payload='\'{"trials": [{"error": null}, {"error": null}], "problems": {}}\''
        ),
    }
    for name, code in cases.items():
        (tmp_path / f"{name}.py").write_text(planted("rnn_step_forward", code))
    with Grader("vanilla_rnn", seed=4, only="rnn_step_forward", limits={"time": 5}) as grader:
        results = grader.grade_many(
            [(name, tmp_path / f"{name}.py") for name in cases], progress=False
        )
    for result in results:
        assert result.score == 0, (result.name, result.items[0].output)
    assert "did not come back" in results[2].items[0].output


def test_both_answers_of_a_quick_run_arriving_at_once_are_both_read():
    """A run that ends before the grader reads its pid: the status must not wait for a timeout."""
    from numrnn.assignment.sandbox import _Server

    read_end, write_end = os.pipe()
    try:
        zygote = _Server.__new__(_Server)  # only the answer-reading half, on a plain pipe
        zygote._fd, zygote._pending = read_end, b""
        os.write(write_end, b'{"pid": 123}\n{"status": 256}\n')
        assert zygote._answer(1.0) == {"pid": 123}
        assert zygote.wait(0.5) == 256
        assert zygote.wait(0.05) is None
        os.close(write_end)
        write_end = None
        with pytest.raises(ConnectionError, match="the sandbox's fork server ended"):
            zygote.wait(1.0)
    finally:
        os.close(read_end)
        if write_end is not None:
            os.close(write_end)


def test_a_run_the_sandbox_could_not_start_is_not_blamed_on_the_student():
    from numrnn.assignment.checks import run_failure
    from numrnn.assignment.declaration import parse_grading
    from numrnn.assignment.sandbox import RunResult

    item = parse_grading(
        {"dims": {"B": 2}, "items": {"f": {"check": "forward", "points": 1, "args": {"x": ("B",)}}}}
    ).items["f"]
    run = RunResult("no-status", 4, None, 0.01, None, {}, {}, "")
    message, label = run_failure(item, run)
    assert "the sandbox could not start a process for it (exit code 4" in message
    assert "not your code's fault" in message and label == "sandbox could not start"
    message, label = run_failure(item, RunResult("no-status", 0, None, 0.01, None, {}, {}, ""))
    assert message.startswith("ended the process (exit code 0)") and label == "ended the process"


def test_a_timeout_is_a_zero_even_after_writing_the_right_answers(tmp_path):
    """The function saves correct outputs and a status claiming success itself, then hangs."""
    from numrnn.assignment import Grader

    code = (
        "import os, json\n"
        "for k in range(2):\n"
        "    a = {n: np.load(os.path.join('inputs', f't{k}_{n}.npy'))\n"
        "         for n in ('x', 'h_prev', 'W_xh', 'W_hh', 'b_h')}\n"
        "    right = np.tanh(a['x'] @ a['W_xh'] + a['h_prev'] @ a['W_hh'] + a['b_h'])\n"
        "    np.save(os.path.join('out', f't{k}_out.npy'), right)\n"
        "with open(os.path.join('out', 'status.json'), 'w') as handle:\n"
        "    json.dump({'cells': [], 'trials': [{'error': None}] * 2, 'problems': {}}, handle)\n"
        "while True:\n"
        "    pass"
    )
    (tmp_path / "hangs.py").write_text(planted("rnn_step_forward", code))
    with Grader("vanilla_rnn", seed=5, only="rnn_step_forward", limits={"time": 2}) as grader:
        result = grader.grade_file("hangs", tmp_path / "hangs.py")
    assert result.score == 0
    assert "stopped after the time limit of 2 s" in result.items[0].output
