"""The sandbox's fork server: NumPy imported once, a fresh confined child per run.

Starting a Python and importing NumPy costs most of a sandboxed run (0.1 to 0.5 s), so each
grading worker keeps one of these processes. It is started by the grader (as the grader's user)
in the batch's scratch folder with ``python -I -S -B zygote.py SYS_PATH_JSON``, imports NumPy,
``kit`` and ``harness`` (copies in that folder) and nothing of numrnn, and never runs student
code itself: it holds no secret and stays pristine.

Protocol, one JSON object per line: the grader writes a request (the run's folder, the capture
file, the environment and :func:`confine.confine`'s settings); the server forks, answers
``{"pid": P}``, waits for the child and answers ``{"status": S}`` (``os.waitpid``'s status).
The child starts a new session (its process group is its pid, which the grader kills at the time
limit), points fds 0-2 at ``/dev/null`` and the capture file, closes every other fd (the server's
pipes included, so student code cannot forge an answer), confines itself, and runs
``harness.main()``, which never returns.
"""

import json
import os
import sys


def child(request, harness, confine):
    """The forked child: fds, session, folder, confinement, then the harness."""
    try:
        os.setsid()
        devnull = os.open("/dev/null", os.O_RDONLY)
        capture = os.open(request["capture"], os.O_WRONLY | os.O_APPEND)
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


def main():
    """Serve requests on stdin until it closes."""
    sys.path[:0] = json.loads(sys.argv[1])
    sys.path.insert(0, os.getcwd())
    import confine
    import harness
    import kit  # noqa: F401 - the harness imports it in the child
    import numpy  # noqa: F401 - the import every run would otherwise pay for

    answers = os.fdopen(os.dup(1), "w", buffering=1)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            child(request, harness, confine)
        answers.write(json.dumps({"pid": pid}) + "\n")
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps({"status": status}) + "\n")


if __name__ == "__main__":
    main()
