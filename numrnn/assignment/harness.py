"""The script that runs one graded item of one submission inside the sandbox.

The worker's fork server (``zygote.py``) imports it once, with ``kit.py``, from
the batch's scratch folder; each run is a fresh, confined child of the server
that calls :func:`main` in the run's working folder. It uses only the standard
library, NumPy and ``kit``. It reads ``task.json``, ``cells.json`` and the
trials' inputs (``.npy``), runs the submission's cells one by one (a cell that
raises is reported and the next one still runs), calls the graded function,
and writes what came back as ``.npy`` files (``allow_pickle=False``) and
``out/status.json``. Nothing it writes is trusted: the grader validates all.

The process forks first and the student's code runs in the child, so a
submission that kills its parent (``os.kill(os.getppid(), ...)``) kills this
small waiting process, not the grader or the fork server.
"""

import errno
import inspect
import json
import os
import select
import signal
import sys
import time
import traceback

MAX_MESSAGE = 600
# The waiting parent's exit codes when it stopped the child: the submission's top-level code ran
# past task["top_level_time"], or the graded function past task["time"] after it.
EXIT_TOP_LEVEL_TIME = 124
EXIT_FUNCTION_TIME = 125
MAX_WALKED = 10_000  # containers and arrays looked at inside one cache, at most


def _short(text):
    text = str(text)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _where(error):
    """``cell 3, line 7`` of the innermost frame in the submission's code, or ''."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename.startswith("<cell ")
    ]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (in {frame.filename[1:-1]}, line {frame.lineno})"


def _describe(error):
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r})"
    if isinstance(error, NotImplementedError):
        return "not implemented yet (raises NotImplementedError)"
    if isinstance(error, MemoryError):
        return "ran out of memory (MemoryError)" + _where(error)
    if isinstance(error, OSError) and error.errno == errno.EFBIG:
        return "printed or wrote more than the output limit" + _where(error)
    if isinstance(error, SyntaxError):
        return f"SyntaxError: {error.msg} (line {error.lineno})"
    return _short(f"{type(error).__name__}: {error}") + _where(error)


def _run_cells(cells, namespace):
    """Execute each cell; a list of the cells' errors (each cell runs even if one before raised)."""
    errors = []
    for index, code in enumerate(cells, start=1):
        try:
            exec(compile(code, f"<cell {index}>", "exec"), namespace)
        except BaseException as error:  # noqa: BLE001 - SystemExit and KeyboardInterrupt too
            errors.append(f"cell {index}: {_describe(error)}")
    return errors


def _save(np, name, value, *, ndarray=True):
    """Save one returned value, or say why it is not an array of numbers (``ndarray``: or not
    an ndarray at all; a numeric answer may be a plain number)."""
    try:
        array = value if isinstance(value, np.ndarray) else np.asarray(value)
    except Exception as error:  # noqa: BLE001
        return f"cannot be turned into an array ({type(error).__name__})"
    if array.dtype.kind not in "biuf":
        return f"is not an array of numbers (dtype {array.dtype})"
    np.save(os.path.join("out", f"{name}.npy"), array, allow_pickle=False)
    if not ndarray or isinstance(value, np.ndarray):
        return None
    return f"is a {type(value).__name__}, not an ndarray"


def _arrays_inside(np, value, path):
    """``{path: array}`` of every numeric ndarray inside ``value``: dicts, lists, tuples
    (a NamedTuple's fields by name) and plain objects' attributes, walked without recursion."""
    found, seen, stack = {}, set(), [(value, path)]
    while stack and len(seen) < MAX_WALKED:
        value, path = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "biufc":
                found[path] = value
        elif isinstance(value, dict):
            stack += [(inner, f"{path}[{key!r}]") for key, inner in value.items()]
        elif isinstance(value, tuple) and hasattr(value, "_fields"):
            stack += [(getattr(value, key), f"{path}.{key}") for key in value._fields]
        elif isinstance(value, (list, tuple)):
            stack += [(inner, f"{path}[{index}]") for index, inner in enumerate(value)]
        elif hasattr(value, "__dict__") and not callable(value) and not inspect.ismodule(value):
            stack += [(inner, f"{path}.{key}") for key, inner in vars(value).items()]
    return found


def _snapshot(np, value, path):
    """Copies of the arrays inside ``value``, to compare with after a call."""
    return {key: array.copy() for key, array in _arrays_inside(np, value, path).items()}


def _changes(np, before, after, function):
    """The facts of what a call changed: ``before`` and ``after`` map a path to an array
    (a list of dicts, empty if nothing changed)."""
    facts = []
    for key, old in before.items():
        new = after.get(key)
        if new is None:
            facts.append({"function": function, "target": key, "change": "removed"})
        elif new.shape != old.shape or new.dtype != old.dtype:
            facts.append({"function": function, "target": key, "change": "reshaped"})
        elif new.tobytes() != old.tobytes():
            with np.errstate(all="ignore"):
                size = float(np.abs(new.astype(np.complex128) - old).max())
            facts.append({"function": function, "target": key, "change": size})
    return facts


def _copy(np, value):
    """An ndarray's copy (a later call must not change what was returned); else the value."""
    return value.copy() if isinstance(value, np.ndarray) else value


def _parameter_names(function, defaults):
    """The names of a function's first positional parameters (``defaults`` where it does
    not name them, e.g. ``*args``)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return list(defaults)
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in parameters if p.kind in positional]
    return [*names[: len(defaults)], *defaults[len(names) :]]


def _repeat(kit, np, function, label, first, second, rtol):
    """``[fact]`` when a second call on equal inputs gave another result, else ``[]``."""
    if kit.array_problem(label, first, getattr(first, "shape", ())):
        return []  # the first result's own problem is reported where it is checked
    error, problem = kit.compare(label, second, first, rtol)
    if problem is None:
        return []
    return [{"function": function, "target": label, "change": "repeat", "error": float(error)}]


def child(task, loaded_fd=None):
    """Run the submission and the task; write ``out/status.json``; write a byte to
    ``loaded_fd`` when the submission's top-level code has run (the parent's clock)."""
    sys.path[:0] = [path for path in task.get("sys_path", []) if path not in sys.path]
    sys.path.insert(0, os.getcwd())
    import kit
    import numpy as np

    with open("cells.json", encoding="utf-8") as handle:
        cells = json.load(handle)
    status = {"cells": [], "trials": [], "problems": {}}
    namespace = {"__name__": "submission", "__builtins__": __builtins__}
    status["cells"] = _run_cells(cells, namespace)
    with open(os.path.join("out", "loaded"), "wb"):
        pass  # the submission's cells ran to their end: a failure after this is the item's own
    if loaded_fd is not None:
        try:
            os.write(loaded_fd, b"L")
        except OSError:
            pass  # the submission closed it: the parent then waits for the whole run
    check, name = task["check"], task["name"]
    if check == "value":
        if name not in namespace:
            status["missing"] = name
        else:
            status["trials"].append({"error": None})
            problem = _save(np, "t0_value", namespace[name], ndarray=False)
            if problem:
                status["problems"]["t0_value"] = f"{name} {problem}"
        _finish(status)
        return
    forward_name = task["forward"]
    for needed in dict.fromkeys([forward_name, name]):
        if not callable(namespace.get(needed)):
            status["missing"] = needed
            _finish(status)
            return
    forward, arg_names = namespace[forward_name], task["args"]
    rtol = float(task.get("rtol", kit.DEFAULT_RTOL))
    effects = status["side_effects"] = []
    for k in range(task["trials"]):
        inputs = {
            arg: np.load(os.path.join("inputs", f"t{k}_{arg}.npy"), allow_pickle=False)
            for arg in arg_names
        }
        trial = {"error": None}
        status["trials"].append(trial)
        try:
            arguments = {arg: inputs[arg].copy() for arg in arg_names}
            result = forward(*arguments.values())
            if task["returns_cache"] and not (isinstance(result, tuple) and len(result) == 2):
                trial["error"] = (
                    f"{forward_name} must return (out, cache); it returned {type(result).__name__}"
                )
                continue
            out = result[0] if task["returns_cache"] else result
            if check == "forward":
                problem = _save(np, f"t{k}_out", out)
                if problem:
                    status["problems"][f"t{k}_out"] = f"the output {problem}"
                effects += _changes(np, inputs, arguments, name)
                out = _copy(np, out)  # a second call must not change what the first returned
                again = forward(*[inputs[arg].copy() for arg in arg_names])
                again = again[0] if task["returns_cache"] else again
                effects += _repeat(kit, np, name, "output", out, again, rtol)
                continue
            # the forward's output: the grader compares it with the reference's, to tell a
            # backward that is wrong from one that works on a wrong forward's cache
            _save(np, f"t{k}_forward_out", out)
            dout = np.load(os.path.join("inputs", f"t{k}_dout.npy"), allow_pickle=False)
            dout_name, cache_name = _parameter_names(namespace[name], ("dout", "cache"))
            cache_before = _snapshot(np, result[1], cache_name)
            dout_given = dout.copy()
            grads, problem = kit.as_grad_list(
                namespace[name](dout_given, result[1]), list(task["grads"])
            )
            if problem:
                trial["error"] = f"{name} {problem}"
                continue
            grads = [_copy(np, value) for value in grads]  # as returned, before anything else runs
            effects += _changes(np, {dout_name: dout}, {dout_name: dout_given}, name)
            effects += _changes(np, cache_before, _arrays_inside(np, result[1], cache_name), name)
            again = forward(*[inputs[arg].copy() for arg in arg_names])
            again, _ = kit.as_grad_list(namespace[name](dout.copy(), again[1]), list(task["grads"]))
            for grad_name, value, repeated in zip(
                task["grads"], grads, again or grads, strict=True
            ):
                problem = _save(np, f"t{k}_{grad_name}", value)
                if problem:
                    status["problems"][f"t{k}_{grad_name}"] = f"{grad_name} {problem}"
                effects += _repeat(kit, np, name, grad_name, value, repeated, rtol)
        except BaseException as error:  # noqa: BLE001
            trial["error"] = _describe(error)
            continue
        loss = kit.forward_loss(forward, arg_names, dout, task["returns_cache"])
        fd_errors = {}
        for grad_name, arg in task["grads"].items():
            try:
                np.save(
                    os.path.join("out", f"t{k}_fd_{grad_name}.npy"),
                    kit.finite_difference(loss, inputs, arg, task["fd_eps"]),
                    allow_pickle=False,
                )
            except BaseException as error:  # noqa: BLE001
                fd_errors[grad_name] = _describe(error)
        trial["fd_errors"] = fd_errors
    _finish(status)


def _finish(status):
    with open(os.path.join("out", "status.tmp"), "w", encoding="utf-8") as handle:
        json.dump(status, handle)
    os.replace(os.path.join("out", "status.tmp"), os.path.join("out", "status.json"))
    sys.stdout.flush()
    sys.stderr.flush()


def _wait_for(fds, seconds):
    """The fds of ``fds`` readable within ``seconds`` (none if the time ran out)."""
    ready, _, _ = select.select(fds, [], [], max(0.0, seconds))
    return ready


def _supervise(pid, loaded_fd, task):
    """Wait for the child; stop it at the top-level or the function time limit.

    Returns the exit code for the sandbox: :data:`EXIT_TOP_LEVEL_TIME` or
    :data:`EXIT_FUNCTION_TIME` when the child was stopped, else the child's own
    (128 + signal if it died of one; a child exiting with one of ours says 1).
    """
    child_fd = os.pidfd_open(pid)
    deadline = time.monotonic() + float(task.get("top_level_time", 10.0))
    stopped, loaded, watching = None, False, [child_fd, loaded_fd]
    while stopped is None:
        ready = _wait_for(watching, deadline - time.monotonic())
        if child_fd in ready:
            break  # the child ended
        if not ready:
            stopped = EXIT_FUNCTION_TIME if loaded else EXIT_TOP_LEVEL_TIME
        elif os.read(loaded_fd, 1) and not loaded:
            loaded = True
            deadline = time.monotonic() + float(task.get("time", 10.0))
        else:
            watching = [child_fd]  # closed by the submission: the sandbox's wall clock holds
    if stopped is not None:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if stopped is not None:
        return stopped
    code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return 1 if code in (EXIT_TOP_LEVEL_TIME, EXIT_FUNCTION_TIME) else code


def main():
    """Fork; run the task in the child; exit with :func:`_supervise`'s code."""
    with open("task.json", encoding="utf-8") as handle:
        task = json.load(handle)
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError as error:  # e.g. EAGAIN: this user already has too many processes
        sys.stderr.write(f"numrnn harness: cannot start the run: {error}\n")
        os._exit(4)
    if pid == 0:
        os.close(read_end)
        code = 0
        try:
            child(task, write_end)
        except BaseException:  # noqa: BLE001 - whatever happens, the status file says what came back
            traceback.print_exc()
            code = 3
        os._exit(code)
    os.close(write_end)
    os._exit(_supervise(pid, read_end, task))


if __name__ == "__main__":
    main()
