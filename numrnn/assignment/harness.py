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
import json
import os
import sys
import traceback

MAX_MESSAGE = 600


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


def child(task):
    """Run the submission and the task; write ``out/status.json``."""
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
    for k in range(task["trials"]):
        inputs = {
            arg: np.load(os.path.join("inputs", f"t{k}_{arg}.npy"), allow_pickle=False)
            for arg in arg_names
        }
        trial = {"error": None}
        status["trials"].append(trial)
        try:
            result = forward(*[inputs[arg].copy() for arg in arg_names])
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
                continue
            dout = np.load(os.path.join("inputs", f"t{k}_dout.npy"), allow_pickle=False)
            grads, problem = kit.as_grad_list(
                namespace[name](dout.copy(), result[1]), list(task["grads"])
            )
            if problem:
                trial["error"] = f"{name} {problem}"
                continue
            for grad_name, value in zip(task["grads"], grads, strict=True):
                problem = _save(np, f"t{k}_{grad_name}", value)
                if problem:
                    status["problems"][f"t{k}_{grad_name}"] = f"{grad_name} {problem}"
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


def main():
    """Fork; run the task in the child; exit with the child's status (128 + signal if it died)."""
    with open("task.json", encoding="utf-8") as handle:
        task = json.load(handle)
    try:
        pid = os.fork()
    except OSError as error:  # e.g. EAGAIN: this user already has too many processes
        sys.stderr.write(f"numrnn harness: cannot start the run: {error}\n")
        os._exit(4)
    if pid == 0:
        code = 0
        try:
            child(task)
        except BaseException:  # noqa: BLE001 - whatever happens, the status file says what came back
            traceback.print_exc()
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    os._exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


if __name__ == "__main__":
    main()
