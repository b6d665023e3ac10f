"""The sandbox's fork server: one per submission, NumPy imported once, a fresh child per item.

Starting a Python and importing NumPy costs most of a sandboxed run (0.1 to 0.5 s), so each
submission's sandbox (one bubblewrap container, :mod:`numrnn.assignment.sandbox`) runs one
of these processes and forks it once per graded item. It is started with
``python -I -S -B zygote.py SYS_PATH_JSON`` from the folder holding copies of
``zygote.py``, ``confine.py``, ``harness.py`` and ``kit.py``, imports NumPy, ``kit`` and
``harness`` and nothing of numrnn, and never runs student code itself.

Protocol, one JSON object per line: the server answers ``{"ready": true}`` once imported; then
the grader writes a request (the run's folder, the capture file, the environment,
:func:`confine.confine`'s limits and ``sweep``); the server forks, answers ``{"pid": P}``,
waits for the child, and, with ``sweep`` (the server is alone in a PID namespace with the
student), kills every process left in the namespace but itself and its init before it answers
``{"status": S}`` (``os.waitpid``'s status). The child starts a new session, points fds 0-2 at
``/dev/null`` and the capture file, closes every other fd (the server's pipes included, so
student code cannot forge an answer), sets its limits, and runs ``harness.main()``, which never
returns.
"""

import json
import os
import signal
import sys
import time

SWEEP_SECONDS = 5.0  # a fork bomb forks while the signal goes round; dead ones wait for init


def child(request, harness, confine):
    """The forked child: fds, session, folder, limits, then the harness."""
    try:
        os.setsid()
        devnull = os.open("/dev/null", os.O_RDONLY)
        capture = os.open(request["capture"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(devnull, 0)
        os.dup2(capture, 1)
        os.dup2(capture, 2)
        os.closerange(3, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65536)
        os.chdir(request["workdir"])
        confine.confine(request)
        os.environ.clear()
        os.environ.update(request["env"])
        harness.main()
    except BaseException:  # noqa: BLE001 - the grader sees exit code 5: the run could not start
        os._exit(5)
    os._exit(5)


def sweep() -> None:
    """Kill every process of this PID namespace but init (pid 1) and this server.

    ``kill(-1, SIGKILL)`` reaches every process the server may signal except those two;
    repeat until ``/proc`` (this namespace's) lists no other, within :data:`SWEEP_SECONDS`.
    """
    me = os.getpid()
    deadline = time.monotonic() + SWEEP_SECONDS
    while time.monotonic() < deadline:
        others = [
            name for name in os.listdir("/proc") if name.isdigit() and int(name) not in (1, me)
        ]
        if not others:
            return
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        time.sleep(0.001)


def main():
    """Serve requests on stdin until it closes."""
    sys.path[:0] = json.loads(sys.argv[1])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import confine

    confine.protect_server()
    import harness
    import kit  # noqa: F401 - the harness imports it in the child
    import numpy  # noqa: F401 - the import every run would otherwise pay for

    answers = os.fdopen(os.dup(1), "w", buffering=1)
    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            child(request, harness, confine)
        answers.write(json.dumps({"pid": pid}) + "\n")
        _, status = os.waitpid(pid, 0)
        if request.get("sweep"):
            sweep()
        answers.write(json.dumps({"status": status}) + "\n")


if __name__ == "__main__":
    main()
