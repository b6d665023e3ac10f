"""What bubblewrap cannot do for one run: its resource limits, its OOM score and ptrace flag.

Standard library only: the sandbox's fork server (``zygote.py``) loads a copy of this file
from the batch's scratch folder, never numrnn. Namespaces, the new root, no capabilities and
no new privileges come from bubblewrap (:mod:`numrnn.assignment.sandbox`); this file only sets
what a process sets on itself:

* :func:`protect_server`: the fork server cannot be traced or read (``/proc/PID/mem``) by the
  student's processes, which run as the same user, and the OOM killer spares it;
* :func:`confine`: in each freshly forked child, the ``setrlimit`` limits (an unprivileged
  process may only lower them, so the student cannot raise them again).
"""

import ctypes
import ctypes.util
import resource

PR_SET_DUMPABLE = 4
libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _write_oom_score(value: int) -> None:
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write(str(value))
    except OSError:
        pass  # a kernel without it: the cgroup's limit still holds, only the victim may differ


def protect_server() -> None:
    """Not traceable by processes of the same user (the runs raise their own OOM score)."""
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def confine(request: dict) -> None:
    """Apply one run's limits to this process (call it in the forked child, before the harness).

    Parameters
    ----------
    request : dict
        ``memory`` (bytes of address space per process), ``fsize`` (bytes per written file,
        printed output included), ``cpu`` (seconds of CPU time) and ``nproc`` (processes and
        threads of the user, ``RLIMIT_NPROC``).
    """
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # the run's own processes may inspect each other
    _write_oom_score(1000)  # when the run's memory is full, the OOM killer takes the run's own
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (request["memory"], request["memory"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (request["fsize"], request["fsize"]))
    resource.setrlimit(resource.RLIMIT_CPU, (request["cpu"], request["cpu"] + 1))
    resource.setrlimit(resource.RLIMIT_NPROC, (request["nproc"], request["nproc"]))
