"""Run untrusted code: one bubblewrap sandbox per submission, one fresh process per graded item.

Each submission gets its own sandbox, made by **bubblewrap** (``bwrap``, Debian package
``bubblewrap``, the sandbox Flatpak uses): an allowlist, not a denylist. Its root holds only

* ``/usr`` (and ``/bin``, ``/lib*`` as the host has them) and the folders of this Python, its
  standard library and NumPy's site-packages, read-only (numrnn's own package folder and
  every path the grader was told to hide are covered by empty read-only folders there);
* a private ``/tmp`` and ``/dev/shm`` (tmpfs, 64 MiB each), a new ``/proc``, a minimal ``/dev``;
* the submission's own folder at ``/home/student`` (the only writable place that the grader
  reads back) and the harness's code at ``/opt/numrnn-sandbox``, read-only.

Nothing else of the machine is there: no teacher checkout, gradebook or other submission, no
``/run`` (locks, unix sockets), no ``/etc`` but the loader's cache. bubblewrap also unshares
every namespace (``--unshare-all``: network, IPC, PID, UTS, cgroup, user), keeps the sandbox
alive only while the grader is (``--die-with-parent``), starts a new session (no terminal to
inject into), drops every capability (``--cap-drop ALL``) and sets ``PR_SET_NO_NEW_PRIVS``, so a
setuid program (``su``, ``passwd``) runs without its privileges. When the grader is root the
sandbox runs as an unprivileged uid leased to one worker of one grader (a lock file per uid,
:func:`lease_uid`), so two graders on one machine never share one.

Inside, a fork server (``zygote.py``) imports NumPy once and forks a fresh child per graded
item, which sets its ``setrlimit`` limits (:mod:`.confine`: address space, CPU time, file size
and printed output, processes, no core dumps) and runs the harness in a fresh folder. Between
items the server kills every other process of its PID namespace; at a time limit the whole
sandbox is killed and the next item gets a new one.

Each sandbox is bounded **as a whole** by a control group (:mod:`.cgroups`: v2, else v1
``memory`` and ``pids``) when the machine offers one: all its processes together get the item's
memory limit and process count, and they are killed by the group and the PID namespace, never
by uid. Without a cgroup the stated bound is per process: ``memory_mb`` of address space each,
``processes`` processes.

Nothing comes back but ``.npy`` files (read with ``allow_pickle=False``) and one JSON status
file, opened without following links, size-checked, and validated by the grader.

Where bubblewrap cannot run (not installed, or the kernel refuses its namespaces), a grader
running as root refuses (:class:`IsolationUnavailable`) unless told ``allow_unisolated``; then,
and for a grader that is not root, runs get the limits and a fresh folder only, which
:meth:`Isolation.describe` states. See ``docs/assignments.md``.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import select
import shutil
import signal
import site
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import cgroups
from .declaration import Limits

HERE = Path(__file__).resolve().parent
PACKAGE_DIR = HERE.parent  # numrnn itself: never visible inside the sandbox
# Exit codes of a run that never got to the submission: the harness could not fork, or the
# sandbox did not start (4), or the fork server's child could not set up (5).
CANNOT_START = (4, 5)
ZYGOTE_ANSWER_SECONDS = 30.0  # the fork server answers at once unless the machine is stuck
SERVER_EXIT_SECONDS = 2.0  # an idle fork server told to stop exits at once
MAX_ARRAY_BYTES = 16 << 20
MAX_STATUS_BYTES = 1 << 20
OUTPUT_EXCERPT = 2000
SCRATCH_BYTES = 64 << 20  # each of the sandbox's private /tmp and /dev/shm
INSIDE_CODE = "/opt/numrnn-sandbox"  # the harness's code, read-only
INSIDE_HOME = "/home/student"  # the submission's folder, the runs' folders inside it
CODE_FILES = ("harness.py", "kit.py", "confine.py", "zygote.py")
# Leased uids start here (NUMRNN_SANDBOX_UID moves it); not at 65000, where earlier numrnn
# graders used 65000 + worker and killed every process of those uids after each run.
UID_BASE = 62000
UID_SPAN = 4096
UID_LOCK_FOLDERS = ("/run/numrnn-sandbox", os.path.join(tempfile.gettempdir(), "numrnn-sandbox"))
INSTALL_HINT = "apt-get install bubblewrap"
# A process that joins the cgroups named before "--", then becomes the command after it.
JOIN_CGROUP = 'while [ "$1" != -- ]; do echo 0 > "$1" || exit 97; shift; done; shift; exec "$@"'
# In its own mount namespace (``unshare --mount``): bind each SOURCE read-only on STAGE (pairs
# before "--"), then become the command after it.
STAGE_BINDS = (
    'while [ "$1" != -- ]; do mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" '
    '|| exit 98; shift 2; done; shift; exec "$@"'
)


class IsolationUnavailable(OSError):
    """The grader runs as root and cannot isolate student code, and was not told to go on."""


@dataclass
class Isolation:
    """What the sandbox can enforce on this machine (probed once per process).

    Attributes
    ----------
    mode : str
        ``"bwrap"`` (bubblewrap, in a user namespace) or ``"none"``.
    root : bool
        The grader runs as root, so each worker's runs get their own unprivileged uid.
    cgroup : str
        ``"cgroup v1 (memory, pids)"`` or similar, or ``""`` when runs are bounded per process.
    missing : str
        Why ``mode`` is ``"none"`` (what is missing), else ``""``.
    notes : list of str
    """

    mode: str
    root: bool
    cgroup: str = ""
    missing: str = ""
    notes: list = field(default_factory=list)

    @property
    def isolated(self) -> bool:
        """Runs happen inside bubblewrap."""
        return self.mode != "none"

    @property
    def separate_user(self) -> bool:
        """Runs happen as an unprivileged uid of their own (the grader is root)."""
        return self.root and "isolation switched off" not in self.notes

    def describe(self) -> str:
        """One line for the grader's summary and the Gradescope output."""
        if self.isolated:
            who = "an unprivileged uid per worker" if self.root else "your user in a user namespace"
            text = (
                "sandbox: bubblewrap (a new root holding only Python and NumPy, read-only; "
                "private /tmp; no network; own IPC, PID and UTS namespaces; no capabilities; "
                f"no new privileges), as {who}"
            )
        else:
            text = f"sandbox: NOT isolated ({self.missing}): student code runs as " + (
                "an unprivileged uid but sees this machine's files and network"
                if self.separate_user
                else "the grader's user, can read its files and open network connections"
            )
        bound = (
            f"each submission's processes and memory bounded as a whole by {self.cgroup}"
            if self.cgroup
            else "memory and processes bounded per process only (no cgroup)"
        )
        return f"{text}; {bound}" + "".join(f"; {note}" for note in self.notes)

    def refusal(self) -> str:
        """The one line a root grader stops with when there is no isolation."""
        return (
            f"cannot isolate student code: {self.missing}; install bubblewrap "
            f"({INSTALL_HINT}), or pass --allow-unisolated to grade without isolation "
            "(student code could then read the solution and other submissions)"
        )


def _bwrap_path() -> str | None:
    """The bubblewrap program (``NUMRNN_BWRAP`` overrides; empty means none)."""
    chosen = os.environ.get("NUMRNN_BWRAP")
    if chosen is not None:
        return chosen if chosen and os.access(chosen, os.X_OK) else None
    return shutil.which("bwrap")


def _is_under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def needed_paths() -> list:
    """Folders the sandboxed Python must see, outside ``/usr``: its installation and NumPy's.

    Returns
    -------
    list of str
        Real paths, none inside another or inside ``/usr``.
    """
    paths = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        os.path.dirname(sys.executable),
        os.path.dirname(os.path.realpath(sys.executable)),
        os.path.dirname(os.path.dirname(np.__file__)),
        *python_sys_path(),
    }
    paths.update(
        value for key, value in sysconfig.get_paths().items() if key in ("stdlib", "platstdlib")
    )
    real = sorted({os.path.realpath(path) for path in paths if path and os.path.isdir(path)})
    kept: list = []
    for path in real:  # sorted, so a folder comes before what it holds
        if not _is_under(path, "/usr") and not any(_is_under(path, k) for k in kept):
            kept.append(path)
    return kept


def python_sys_path() -> list:
    """The module folders the harness puts on ``sys.path`` (it runs with ``-I -S``)."""
    paths = [os.path.dirname(os.path.dirname(np.__file__))]
    try:
        paths += site.getsitepackages()
    except AttributeError:  # pragma: no cover - virtualenv's old site module
        pass
    return list(dict.fromkeys(os.path.realpath(path) for path in paths if os.path.isdir(path)))


def _system_folders() -> list:
    """bubblewrap arguments for ``/usr`` and the top-level folders or links into it."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args + ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]


def unreachable(path: str) -> bool:
    """Whether a user with no rights of its own cannot reach ``path`` (a Python under the
    0700 ``/root``, as pyenv installs it): bubblewrap, run as the sandbox uid, could not bind it.
    """
    for folder in [*_ancestors(path), path]:
        try:
            mode = os.stat(folder).st_mode
        except OSError:
            return True
        if not mode & stat.S_IXOTH:
            return True
    return not os.stat(path).st_mode & stat.S_IROTH


def _ancestors(path: str) -> list:
    parts = Path(path).parts
    return [str(Path(*parts[:end])) for end in range(1, len(parts))]


def bwrap_arguments(workdir: str, code: str, hide=(), staged=None, accounts=None) -> list:
    """bubblewrap's options for one submission's sandbox (before ``--`` and the command).

    Parameters
    ----------
    workdir : str
        The submission's folder on the host (bound writable at ``/home/student``).
    code : str
        The folder with the harness's code (bound read-only at ``/opt/numrnn-sandbox``).
    hide : iterable of str
        Paths the grader hides; those inside a read-only folder of the sandbox are covered.
    staged : dict of str to str, optional
        Python folders the sandbox uid cannot reach, to the staging folder each is bound on
        before bubblewrap starts (see :func:`unreachable`).
    accounts : str, optional
        A folder holding ``passwd`` and ``group`` (see :func:`write_accounts`), bound
        read-only in ``/etc``.

    Returns
    -------
    list of str
    """
    staged = staged or {}
    args = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent"]
    args += ["--new-session", "--cap-drop", "ALL", "--hostname", "sandbox"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for scratch in ("/tmp", "/dev/shm"):
        args += ["--size", str(SCRATCH_BYTES), "--perms", "1777", "--tmpfs", scratch]
    args += _system_folders()
    bound = ["/usr", *needed_paths()]
    for path in bound[1:]:
        args += ["--ro-bind", staged.get(path, path), path]
    covered = sorted(
        {os.path.realpath(path) for path in [str(PACKAGE_DIR), *map(str, hide)]},
        key=lambda path: path.count("/"),
    )
    done: list = []
    for path in covered:
        if not any(_is_under(path, folder) for folder in bound) or not os.path.exists(path):
            continue  # not in the sandbox at all
        if any(_is_under(inside, path) for inside in bound):
            continue  # the Python itself is in there
        if any(_is_under(path, folder) for folder in done):
            continue  # inside a folder already covered
        done.append(path)
        if os.path.isdir(path):
            args += ["--perms", "0555", "--tmpfs", path, "--remount-ro", path]
        else:
            args += ["--ro-bind", "/dev/null", path]
    if accounts is not None:
        for name in ("passwd", "group"):
            args += ["--ro-bind", os.path.join(accounts, name), f"/etc/{name}"]
    return args + [
        "--ro-bind",
        code,
        INSIDE_CODE,
        "--bind",
        workdir,
        INSIDE_HOME,
        "--chdir",
        INSIDE_HOME,
        "--setenv",
        "HOME",
        INSIDE_HOME,
    ]


def write_accounts(folder: str, uid: int) -> str:
    """Write the sandbox's ``passwd`` and ``group`` into ``folder``: root and ``student``
    (``uid``), no passwords, so that programs looking a user up find one; returns ``folder``."""
    os.makedirs(folder, mode=0o755, exist_ok=True)
    entries = {
        "passwd": f"root:x:0:0:root:/root:/bin/sh\nstudent:x:{uid}:{uid}::{INSIDE_HOME}:/bin/sh\n",
        "group": f"root:x:0:\nstudent:x:{uid}:\n",
    }
    for name, text in entries.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(os.path.join(folder, name), 0o644)
    return folder


def lease_uid(base: int = UID_BASE, span: int = UID_SPAN):
    """An unprivileged uid no other grader on this machine is using, held until released.

    The uid is leased by an exclusive ``flock`` on ``uid-<N>.lock`` in ``/run/numrnn-sandbox``
    (else the temporary folder); the kernel drops the lock when the grader ends, however.

    Returns
    -------
    (int, int)
        The uid and the lock's file descriptor (close it to release the uid).

    Raises
    ------
    OSError
        If every uid from ``base`` to ``base + span - 1`` is leased.
    """
    folder = _lock_folder()
    for uid in range(base, base + span):
        path = os.path.join(folder, f"uid-{uid}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return uid, fd
    raise OSError(f"all {span} sandbox uids from {base} are in use by other graders")


def _lock_folder() -> str:
    """``/run/numrnn-sandbox`` (else one in the temporary folder), made and owned by us."""
    for folder in UID_LOCK_FOLDERS:
        try:
            os.makedirs(folder, mode=0o755, exist_ok=True)
            info = os.stat(folder, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid():
            return folder  # (someone else's folder: their locks are not ours to trust)
    raise OSError("no folder for the sandbox's uid locks (/run or the temporary folder)")


def _uid_base() -> int:
    return int(os.environ.get("NUMRNN_SANDBOX_UID", str(UID_BASE)))


def _start_probe(bwrap: str, root: bool) -> str:
    """'' if a bubblewrap sandbox starts a Python here, else bubblewrap's first error line."""
    folder = tempfile.mkdtemp(prefix="numrnn-probe-")
    uid, lock = lease_uid(_uid_base()) if root else (None, None)
    try:
        if uid is not None:
            os.chown(folder, uid, uid)
        staged = staging() if root else {}
        command = [bwrap, *bwrap_arguments(folder, folder, staged=staged), "--"]
        command += [sys.executable, "-I", "-S", "-c", "import os; print(os.getuid())"]
        command = _launcher(uid, staged, None) + command
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=ZYGOTE_ANSWER_SECONDS, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return str(error)
        if done.returncode == 0 and (uid is None or done.stdout.strip() == str(uid).encode()):
            return ""
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return lines[0] if lines else f"exit code {done.returncode}"
    finally:
        if lock is not None:
            os.close(lock)
        os.rmdir(folder)


def staging() -> dict:
    """The Python folders the sandbox uid cannot reach, each to its staging folder.

    The staging folders (``stage-<n>`` beside the uid locks, mode 0755) are empty on the host;
    each sandbox's launcher binds the real folder on its stage in a mount namespace of its own
    (``unshare --mount``), where the sandbox uid can reach it, before it becomes that uid.
    """
    hidden = [path for path in needed_paths() if unreachable(path)]
    if not hidden:
        return {}
    folder = _lock_folder()
    staged = {}
    for index, path in enumerate(hidden):
        stage = os.path.join(folder, f"stage-{index}")
        os.makedirs(stage, mode=0o755, exist_ok=True)
        staged[path] = stage
    return staged


def _program(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise OSError(f"{name} is missing (apt-get install {package})")
    return found


def _launcher(uid, staged: dict, group) -> list:
    """The command prefix that, from the grader, joins ``group`` (a cgroups.RunGroup or None),
    binds the ``staged`` folders (root only) and becomes ``uid`` (None: stays the grader)."""
    prefix = []
    if group is not None:
        prefix += ["/bin/sh", "-c", JOIN_CGROUP, "sh", *group.procs_files, "--"]
    if staged:
        prefix += [_program("unshare", "util-linux"), "--mount", "--propagation", "private", "--"]
        prefix += ["/bin/sh", "-c", STAGE_BINDS, "sh"]
        for path, stage in staged.items():
            prefix += [path, stage]
        prefix.append("--")
    if uid is not None:
        prefix += [_program("setpriv", "util-linux"), f"--reuid={uid}", f"--regid={uid}"]
        prefix += ["--clear-groups", "--"]
    return prefix


_ISOLATION: Isolation | None = None
_ISOLATION_LOCK = threading.Lock()


def probe_isolation() -> Isolation:
    """What this machine allows, probed once per process: bubblewrap's mode and a cgroup."""
    global _ISOLATION
    with _ISOLATION_LOCK:
        if _ISOLATION is None:
            root = os.geteuid() == 0
            has_cgroup, cgroup = cgroups.available()
            notes = [] if has_cgroup else [cgroup]
            bwrap = _bwrap_path()
            if bwrap is None:
                mode, missing = "none", "bubblewrap (bwrap) is not installed"
            else:
                try:
                    error = _start_probe(bwrap, root)
                except OSError as failure:
                    error = str(failure)
                mode, missing = ("bwrap", "") if not error else ("none", "")
                if error:
                    missing = f"bubblewrap cannot make its sandbox here ({error[:200]})"
            if mode == "none" and root:
                hidden = [path for path in needed_paths() if unreachable(path)]
                if hidden:  # without bubblewrap's mount namespace, nothing can bind them
                    notes.append(
                        f"the sandbox uid cannot reach this Python ({hidden[0]}), so no "
                        "submission can run: install Python where other users can read it"
                    )
            _ISOLATION = Isolation(mode, root, cgroup if has_cgroup else "", missing, notes)
        return _ISOLATION


@dataclass
class RunResult:
    """What one sandboxed run left behind, as the grader read it.

    Attributes
    ----------
    outcome : str
        ``"finished"`` (a status file came back), ``"timeout"`` (the time limit),
        ``"out-of-memory"`` (the run's processes together outgrew its memory and the kernel
        killed one), ``"signal"`` (killed by a signal) or ``"no-status"`` (it exited without
        one).
    returncode : int or None
    signal_name : str or None
        E.g. ``"SIGSEGV"`` when the student's process died of a signal.
    seconds : float
    status : dict or None
        The harness's ``status.json``.
    arrays : dict of str to ndarray
    array_errors : dict of str to str
        Why an expected file could not be read.
    output : str
        The first characters of what the run printed.
    loaded : bool
        Whether the submission's cells ran to their end (each item's run
        loads them first): when a run failed before that, every item with the
        same limits would fail the same way.
    """

    outcome: str
    returncode: int | None
    signal_name: str | None
    seconds: float
    status: dict | None
    arrays: dict
    array_errors: dict
    output: str
    loaded: bool = False

    @property
    def failed_while_loading(self) -> bool:
        """The run died (time limit, signal, no status) before the submission's cells had run."""
        return self.outcome != "finished" and not self.loaded


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class _Server:
    """The fork server's pipes: requests in, one JSON answer a line out."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self._fd = process.stdout.fileno()
        self._pending = b""  # bytes read from the pipe past the last full answer line

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, request: dict) -> int:
        """Start one run; its pid (inside the sandbox's PID namespace)."""
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        return int(self._answer(ZYGOTE_ANSWER_SECONDS)["pid"])

    def ready(self) -> None:
        """Wait for the server's first answer, ``{"ready": true}`` (NumPy imported)."""
        answer = self._answer(ZYGOTE_ANSWER_SECONDS)
        if not answer or not answer.get("ready"):
            raise ConnectionError("the sandbox's fork server did not start")

    def wait(self, timeout: float | None):
        """The run's ``waitpid`` status, or None if ``timeout`` seconds pass first."""
        answer = self._answer(timeout)
        return None if answer is None else int(answer["status"])

    def _answer(self, timeout):
        """The next answer line, or None after ``timeout`` seconds (None: wait as long as it takes).

        The pipe is read unbuffered, into :attr:`_pending`: both answers of a quick run can
        arrive in one read, and a buffered reader would hide the second one from ``select``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._fd, 1 << 16)
            if not chunk:
                raise ConnectionError("the sandbox's fork server ended")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return json.loads(line)

    def finish(self, timeout: float) -> None:
        """Tell the server there is no more work (its stdin ends); wait ``timeout`` seconds
        at most for it to exit."""
        try:
            self.process.stdin.close()
            self.process.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            pass

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.kill()
        except OSError:
            pass
        self.process.wait()


class Sandbox:
    """Runs harness tasks in isolated processes; one instance per batch.

    Each worker slot leases its own sandbox uid (when root) for the batch; each submission gets
    its own bubblewrap sandbox and control group (:meth:`submission`).

    Parameters
    ----------
    hide : iterable of str or Path
        Files and folders the sandboxed code must not see. Only the Python's folders are in the
        sandbox at all; these are covered where they lie inside one of those.
    isolate : bool
        Use bubblewrap (default True). False runs everything as the grader's user with limits
        only, and is for tests of the limits themselves.
    allow_unisolated : bool
        As root, grade even when bubblewrap cannot run (default False: refuse).
    python : str
        The interpreter that runs the harness (default: this one).

    Raises
    ------
    IsolationUnavailable
        As root with ``isolate`` and no working bubblewrap, unless ``allow_unisolated``.
    """

    def __init__(
        self,
        hide=(),
        *,
        isolate: bool = True,
        allow_unisolated: bool = False,
        python: str = sys.executable,
    ):
        self.python = python
        root = os.geteuid() == 0
        if isolate:
            self.isolation = probe_isolation()
        else:
            has_cgroup, cgroup = cgroups.available()
            self.isolation = Isolation(
                "none", root, cgroup if has_cgroup else "", "", ["isolation switched off"]
            )
        if isolate and root and not self.isolation.isolated and not allow_unisolated:
            raise IsolationUnavailable(self.isolation.refusal())
        self.hide = [str(path) for path in hide]
        self.base = tempfile.mkdtemp(prefix="numrnn-grade-")
        os.chmod(self.base, 0o711)  # traversable, not listable: each submission's folder is 0700
        self.code = os.path.join(self.base, "code")
        os.mkdir(self.code, 0o755)
        for name in CODE_FILES:
            target = os.path.join(self.code, name)
            with open(target, "wb") as handle:
                handle.write((HERE / name).read_bytes())
            os.chmod(target, 0o644)
        self.sys_path = python_sys_path()
        self.staged = staging() if root and self.isolation.isolated else {}
        self._leases: dict = {}  # slot -> (uid, lock fd)
        self._sessions: set = set()  # the submissions' sandboxes alive now
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def uid(self, slot: int) -> int | None:
        """The unprivileged uid of worker ``slot`` (leased on first use), or None if not root."""
        if not self.isolation.separate_user:
            return None
        with self._lock:
            if slot not in self._leases:
                self._leases[slot] = lease_uid(_uid_base())
            return self._leases[slot][0]

    def submission(self, slot: int) -> "SubmissionSandbox":
        """A sandbox for one submission's runs (a context manager; close it when done)."""
        if self._stopping.is_set():
            raise KeyboardInterrupt("grading was stopped")
        return SubmissionSandbox(self, slot)

    def stop(self) -> None:
        """Kill every run going on now (after Ctrl-C); a run that was stopped raises
        KeyboardInterrupt in its worker, and no new run starts."""
        self._stopping.set()
        for session in list(self._sessions):
            session.kill()

    def close(self) -> None:
        """End every sandbox, release the uids and remove the batch's scratch folder."""
        for session in list(self._sessions):
            session.close()
        for _, lock in self._leases.values():
            os.close(lock)
        self._leases.clear()
        _remove_tree(self.base)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SubmissionSandbox:
    """One submission's sandbox: a bubblewrap container, its cgroup, and its fork server.

    Started on the first :meth:`run`, and again after a run that had to be killed; every run
    of the submission happens in it, never one of another submission.
    """

    def __init__(self, sandbox: Sandbox, slot: int):
        self.sandbox = sandbox
        self.slot = slot
        self.uid = sandbox.uid(slot)
        self.workdir = tempfile.mkdtemp(prefix="s", dir=sandbox.base)
        if self.uid is not None:
            os.chown(self.workdir, self.uid, self.uid)
        os.chmod(self.workdir, 0o700)
        self.server: _Server | None = None
        self.group: cgroups.RunGroup | None = None
        self.base_memory = 0  # what the idle fork server holds (charged to the cgroup)
        self.base_tasks = 0  # the idle sandbox's processes and threads
        self.runs = 0
        sandbox._sessions.add(self)

    @property
    def isolation(self) -> Isolation:
        return self.sandbox.isolation

    def inside(self, path: str) -> str:
        """Where a path of the submission's folder is seen by the sandboxed code."""
        if not self.isolation.isolated:
            return path
        return INSIDE_HOME + path[len(self.workdir) :]

    def _command(self) -> list:
        sandbox, isolation = self.sandbox, self.isolation
        code = INSIDE_CODE if isolation.isolated else sandbox.code
        command = [
            sandbox.python,
            "-I",
            "-S",
            "-B",
            os.path.join(code, "zygote.py"),
            json.dumps(sandbox.sys_path),
        ]
        staged = sandbox.staged if isolation.isolated else {}
        if isolation.isolated:
            uid = os.getuid() if self.uid is None else self.uid
            accounts = write_accounts(os.path.join(sandbox.base, f"accounts-{uid}"), uid)
            options = bwrap_arguments(self.workdir, sandbox.code, sandbox.hide, staged, accounts)
            command = [_bwrap_path(), *options, "--", *command]
        return _launcher(self.uid, staged, self.group) + command

    def start(self) -> None:
        """Start the sandbox and its fork server; measure what it holds idle."""
        if self.isolation.cgroup:
            try:
                self.group = cgroups.RunGroup.create()
            except OSError:
                self.group = None  # gone since the probe: the per-process bound still holds
        process = subprocess.Popen(
            self._command(),
            cwd=self.workdir,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            start_new_session=True,
        )
        self.server = _Server(process)
        self.server.ready()
        if self.group is not None:
            self.base_memory = self.group.memory_usage()
            self.base_tasks = self.group.task_count()

    def alive(self) -> bool:
        return self.server is not None and self.server.alive()

    def kill(self) -> None:
        """Kill every process of the sandbox: its cgroup, then bubblewrap (the PID namespace's
        init dies with it, and the kernel kills the whole namespace)."""
        if self.group is not None:
            self.group.kill()
        if self.server is not None:
            _kill_group(self.server.process.pid)
            self.server.close()
            self.server = None
        if self.group is not None:
            self.group.remove()
            self.group = None

    def close(self) -> None:
        """End the sandbox and remove the submission's folder.

        An idle sandbox is ended from inside first: the fork server, told there is no more
        work, exits, and bubblewrap's init (the sandbox's PID 1) reaps it and exits; killed at
        once instead, every process of the sandbox would wait for the host's init to reap it.
        Then :meth:`kill` makes sure.
        """
        if self.alive():
            self.server.finish(SERVER_EXIT_SECONDS)
        self.kill()
        _remove_tree(self.workdir)
        self.sandbox._sessions.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ one run

    def run(
        self,
        task: dict,
        cells: list,
        inputs: dict,
        expected: list,
        limits: Limits,
    ) -> RunResult:
        """Run one task and collect what it returned.

        Parameters
        ----------
        task : dict
            ``task.json`` for the harness.
        cells : list of str
            The submission's code cells.
        inputs : dict of str to bytes
            ``.npy`` file name (without folder) to its bytes.
        expected : list of str
            Names of the arrays to read back (``t0_out``, ...).
        limits : Limits
            ``time`` bounds the whole run (the harness stops the top-level code and the function
            at their own limits first); ``memory_mb`` each process's address space and, with a
            cgroup, all the run's processes together; ``processes`` their number.

        Returns
        -------
        RunResult
        """
        result = None
        for _ in range(2):  # a run that could not start is retried once, in a fresh sandbox
            if self.sandbox._stopping.is_set():
                raise KeyboardInterrupt("grading was stopped")
            self.runs += 1
            rundir = os.path.join(self.workdir, f"run{self.runs}")
            try:
                self._prepare(rundir, task, cells, inputs)
                result = self._execute(rundir, expected, limits)
            finally:
                _remove_tree(rundir)
                _remove_file(rundir + ".output")
            if result.returncode not in CANNOT_START:
                return result
            self.kill()
        return result

    def _prepare(self, rundir, task, cells, inputs):
        task = dict(task, sys_path=self.sandbox.sys_path)
        files = {"task.json": json.dumps(task).encode(), "cells.json": json.dumps(cells).encode()}
        os.mkdir(rundir, 0o700)
        for folder in ("inputs", "out"):
            os.mkdir(os.path.join(rundir, folder), 0o700)
        for name, data in inputs.items():
            files[os.path.join("inputs", name)] = data
        for name, data in files.items():
            with open(os.path.join(rundir, name), "wb") as handle:
                handle.write(data)
        with open(rundir + ".output", "wb"):
            pass
        if self.uid is not None:
            for root, dirs, names in os.walk(rundir):
                for name in [*dirs, *names]:
                    os.chown(os.path.join(root, name), self.uid, self.uid)
            os.chown(rundir, self.uid, self.uid)
            os.chown(rundir + ".output", self.uid, self.uid)

    def _request(self, rundir, limits) -> dict:
        """What the fork server's child needs: :func:`confine.confine`'s settings and more."""
        # RLIMIT_NPROC counts every process and thread of the user, dead ones until reaped:
        # allow what there is now (bubblewrap, the fork server and its threads, the last
        # submission's processes not yet reaped by the host's init), and the harness.
        user = os.getuid() if self.uid is None else self.uid
        nproc = limits.processes + _count_tasks(user) + 2
        return {
            "workdir": self.inside(rundir),
            "capture": self.inside(rundir + ".output"),
            "env": {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "HOME": INSIDE_HOME if self.isolation.isolated else rundir,
                "LANG": "C.UTF-8",
                "LC_ALL": "C.UTF-8",
                "MPLBACKEND": "Agg",
            },
            "memory": int(limits.memory_mb) << 20,
            "fsize": int(limits.output_kb) << 10,
            "cpu": int(limits.time) + 2,
            "nproc": int(nproc),
            "sweep": self.isolation.isolated,
        }

    def _limit(self, limits) -> None:
        """The cgroup's bounds for one run: its limits beyond what the idle sandbox holds."""
        for attempt in range(2):
            try:
                self.group.limit(
                    self.base_memory + (int(limits.memory_mb) << 20),
                    self.base_tasks + int(limits.processes),
                )
                return
            except OSError:
                if attempt:
                    raise
                # A lower limit than what the earlier runs left (files in its private /tmp)
                # is refused: start a fresh sandbox, which holds only the idle server.
                self.kill()
                self.start()

    def _execute(self, rundir, expected, limits) -> RunResult:
        start = time.perf_counter()
        status, oom_before, started, pid, timed_out = None, 0, False, None, False
        try:
            if not self.alive():
                self.kill()
                self.start()
            started = True
            if self.group is not None:
                self._limit(limits)
                oom_before = self.group.oom_kills()
            server = self.server
            pid = server.send(self._request(rundir, limits))
            status = server.wait(limits.time)
            timed_out = status is None
        except (OSError, ConnectionError, ValueError, KeyError, TypeError):
            status = None  # the sandbox could not start, or died: a new one next time
        if pid is not None and not self.isolation.isolated:
            _kill_group(pid)  # no PID namespace to sweep: the run's own session, at least
        out_of_memory = self.group is not None and self.group.oom_kills() > oom_before
        if status is None:
            self.kill()  # a run past its limit: the whole sandbox goes, the next run gets a new one
        seconds = time.perf_counter() - start
        with open(rundir + ".output", "rb") as handle:
            output = handle.read(OUTPUT_EXCERPT * 4).decode("utf-8", errors="replace")
        output = output[:OUTPUT_EXCERPT]
        if self.sandbox._stopping.is_set():
            raise KeyboardInterrupt("grading was stopped")
        read_status, arrays, errors, loaded = _read_back(rundir, expected)
        if status is None:
            code = None
        elif os.WIFSIGNALED(status):
            code = -os.WTERMSIG(status)
        else:
            code = os.WEXITSTATUS(status)
        if timed_out:
            outcome, signal_name = "timeout", None
        elif code is None:
            outcome, signal_name = "no-status", None
            if not started:
                code = 4  # the sandbox itself did not start: not the student's doing
        elif out_of_memory and (code < 0 or code > 128 or read_status is None):
            outcome, signal_name = "out-of-memory", "SIGKILL"
        elif code < 0 or code > 128:
            outcome, signal_name = "signal", _signal_name(-code if code < 0 else code - 128)
        elif read_status is None:
            outcome, signal_name = "no-status", None
        else:
            outcome, signal_name = "finished", None
        return RunResult(
            outcome,
            code,
            signal_name,
            seconds,
            read_status,
            arrays,
            errors,
            output,
            loaded,
        )


def _count_tasks(uid: int) -> int:
    """How many processes and threads ``uid`` has now, zombies included (``RLIMIT_NPROC``
    counts a dead process until its parent, or init, reaps it)."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return count


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _open_regular(dir_fd: int, name: str, limit: int):
    """``(bytes, None)`` if ``name`` in ``dir_fd`` is a regular file of at most ``limit`` bytes,
    else ``(None, reason)``."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except FileNotFoundError:
        return None, "missing"
    except OSError as error:
        return None, f"unreadable ({error.strerror})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        if info.st_size > limit:
            return None, f"too large ({info.st_size} bytes)"
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks)[: limit + 1], None
    finally:
        os.close(fd)


def _read_back(workdir: str, expected: list):
    """status.json and the expected arrays, read without following links or running anything."""
    try:
        dir_fd = os.open(os.path.join(workdir, "out"), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None, {}, {name: "the output folder is gone" for name in expected}, False
    try:
        status = None
        data, _ = _open_regular(dir_fd, "status.json", MAX_STATUS_BYTES)
        if data is not None:
            try:
                status = json.loads(data.decode("utf-8"))
            except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested to crash us
                status = None
            if not isinstance(status, dict):
                status = None
        arrays, errors = {}, {}
        for name in expected:
            data, problem = _open_regular(dir_fd, f"{name}.npy", MAX_ARRAY_BYTES)
            if data is None:
                errors[name] = problem
                continue
            try:
                arrays[name] = np.load(io.BytesIO(data), allow_pickle=False)
            except Exception as error:  # noqa: BLE001 - any malformed file is just an error
                errors[name] = f"not a readable .npy ({type(error).__name__})"
        try:
            loaded = stat.S_ISREG(os.stat("loaded", dir_fd=dir_fd, follow_symlinks=False).st_mode)
        except OSError:
            loaded = False
        return status, arrays, errors, loaded
    finally:
        os.close(dir_fd)


def _remove_tree(path: str) -> None:
    """Remove ``path`` even if the sandboxed code changed permissions inside it."""

    def retry(function, failed, _):
        try:
            os.chmod(os.path.dirname(failed), 0o700)
            os.chmod(failed, 0o700)
            function(failed)
        except OSError:
            pass

    shutil.rmtree(path, onerror=retry)


def _remove_file(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
