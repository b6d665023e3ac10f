"""Confine the current process before it runs a student's code: namespaces, mounts, limits, uid.

Standard library only: the sandbox's fork server (``zygote.py``) loads a copy of this file
from the batch's scratch folder, never numrnn. :func:`confine` runs in a freshly forked child,
as root when the grader is root, and ends by dropping to the sandbox user, so that the code run
after it can undo none of it. The order matters: namespaces and mounts need root, the limits
are set while still root (an unprivileged process may only lower them further), the uid last.
"""

import ctypes
import ctypes.util
import os
import resource
import stat

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1,
    2,
    4,
    32,
    4096,
    16384,
    1 << 18,
)
WORK_MOUNT = b"/tmp/work"  # where the run's folder appears inside its mount namespace

libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def mask(path: bytes, kind: str, keep: list) -> None:
    """In this process's own mount namespace: cover ``path``, binding ``keep`` back in.

    ``kind`` is ``"file"`` (covered by ``/dev/null``), ``"dir"`` (an empty read-only tmpfs)
    or ``"scratch"`` (an empty writable tmpfs, for ``/tmp`` and its kind).
    """
    if kind == "file":
        libc.mount(b"/dev/null", path, None, MS_BIND, None)
        return
    fds = []
    for child in keep:
        try:
            fds.append((child, os.open(path + b"/" + child, os.O_PATH)))
        except OSError:
            continue
    flags = MS_NOSUID | MS_NODEV
    options = b"mode=1777,size=64m" if kind == "scratch" else b"mode=0755,size=1m"
    if libc.mount(b"tmpfs", path, b"tmpfs", flags, options) != 0:
        for _, fd in fds:
            os.close(fd)
        return
    for child, fd in fds:
        target = path + b"/" + child
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                os.mkdir(target)
            else:
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
            libc.mount(b"/proc/self/fd/%d" % fd, target, None, MS_BIND | MS_REC, None)
        except OSError:
            pass
        os.close(fd)
    if kind == "dir":
        libc.mount(b"none", path, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)


def confine(request: dict) -> None:
    """Apply one run's isolation to this process (call it in the forked child, cwd = the run).

    Parameters
    ----------
    request : dict
        ``uid`` (int or None: stay this user), ``network`` (bool: unshare the network),
        ``plan`` (list of ``[path, kind, keep]``, see :func:`mask`), ``memory`` (bytes of
        address space), ``fsize`` (bytes per written file), ``cpu`` (seconds of CPU time) and
        ``nproc`` (processes of the user).
    """
    uid = request["uid"]
    if uid is not None:
        if request["network"]:
            libc.unshare(CLONE_NEWNET)
        plan = request["plan"]
        if plan and libc.unshare(CLONE_NEWNS) == 0:
            libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None)
            workdir = os.open(".", os.O_PATH | os.O_DIRECTORY)
            for path, kind, keep in plan:
                mask(os.fsencode(path), kind, [os.fsencode(child) for child in keep])
            try:  # the run's folder, at /tmp/work in the fresh /tmp
                os.mkdir(WORK_MOUNT, 0o700)
                if libc.mount(b"/proc/self/fd/%d" % workdir, WORK_MOUNT, None, MS_BIND, None) == 0:
                    os.chdir(WORK_MOUNT)
            except OSError:
                pass
            os.close(workdir)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (request["memory"], request["memory"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (request["fsize"], request["fsize"]))
    resource.setrlimit(resource.RLIMIT_CPU, (request["cpu"], request["cpu"] + 1))
    resource.setrlimit(resource.RLIMIT_NPROC, (request["nproc"], request["nproc"]))
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        if os.getuid() != uid or os.geteuid() != uid:  # never run student code as root
            os._exit(6)
