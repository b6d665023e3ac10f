"""Run untrusted code: one fresh process per graded item of each submission.

Every run is a fresh child of the worker's fork server (``zygote.py``: a Python
with NumPy imported once, which never runs student code), confined by
:func:`numrnn.assignment.confine.confine` before it runs the harness. It gets a
fresh working directory, a wall-clock time limit (its process group is killed),
and ``setrlimit`` limits on address space (``RLIMIT_AS``), CPU
time, file size (its printed output included, ``RLIMIT_FSIZE``), processes
(``RLIMIT_NPROC``) and core dumps (none). Nothing comes back but ``.npy`` files
(read with ``allow_pickle=False``) and one JSON status file, opened without
following links, size-checked, and validated by the grader.

When the grader runs as root (Gradescope, CI), each run also

* runs as its own unprivileged user (uid ``65000 + slot``, no account, no
  groups; ``NUMRNN_SANDBOX_UID`` moves the base), so it cannot read the grader's
  files, signal the grader, or see another run's directory (0700, another uid);
  every process of that uid is killed after the run;
* gets a new network namespace (no network: only a loopback that is down);
* gets a new mount namespace in which ``/tmp``, ``/var/tmp`` and ``/dev/shm`` are
  fresh empty tmpfs, and the source file's folder, the submissions, the output
  folders, numrnn's own package folder and the grader's working folder are
  covered by empty read-only tmpfs (so neither the solution nor another
  submission is there to read, and writes outside the run's folder land nowhere).

Each of these is probed once; when the kernel refuses one (e.g. an unprivileged
container), grading goes on without it and :attr:`Isolation.notes` says so.
Without root, only the limits, the fresh folder and the inert data path hold:
see ``docs/assignments.md`` for what is not isolated then.
"""

from __future__ import annotations

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

from .confine import CLONE_NEWNET, CLONE_NEWNS, MS_PRIVATE, MS_REC, WORK_MOUNT
from .confine import libc as _libc
from .declaration import Limits

HERE = Path(__file__).resolve().parent
# Exit codes of a run that never got to the submission: the harness could not fork (4), the
# fork server's child could not set up (5) or confine itself (6). Retried once.
CANNOT_START = (4, 5, 6)
ZYGOTE_ANSWER_SECONDS = 30.0  # the fork server answers at once unless the machine is stuck
MAX_ARRAY_BYTES = 16 << 20
MAX_STATUS_BYTES = 1 << 20
OUTPUT_EXCERPT = 2000
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


@dataclass
class Isolation:
    """What the sandbox can enforce on this machine (probed once)."""

    root: bool
    separate_user: bool
    network: bool
    mounts: bool
    notes: list = field(default_factory=list)

    def describe(self) -> str:
        """One line for the grader's summary."""
        if not self.root:
            return (
                "sandbox: not root, so submissions run as the grader's user (limits, a fresh "
                "folder and an inert data path only; no file or network isolation)"
            )
        parts = [
            "own unprivileged user" if self.separate_user else "NO separate user",
            "no network" if self.network else "network NOT isolated",
            "private /tmp, solution and submissions hidden" if self.mounts else "files NOT hidden",
        ]
        return "sandbox: " + ", ".join(parts) + "".join(f"; {note}" for note in self.notes)


def _probe(flags: int, mount_target: bytes | None) -> bool:
    """Whether a child process can unshare ``flags`` (and mount a tmpfs on ``mount_target``)."""
    pid = os.fork()
    if pid == 0:
        ok = _libc.unshare(flags) == 0
        if ok and mount_target is not None:
            ok = (
                _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) == 0
                and _libc.mount(b"tmpfs", mount_target, b"tmpfs", 0, b"size=1m") == 0
            )
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


_ISOLATION: Isolation | None = None
_ISOLATION_LOCK = threading.Lock()


def probe_isolation() -> Isolation:
    """What this machine allows, probed once per process."""
    global _ISOLATION
    with _ISOLATION_LOCK:
        if _ISOLATION is None:
            root = os.geteuid() == 0
            if not root:
                _ISOLATION = Isolation(False, False, False, False)
            else:
                notes = []
                network = _probe(CLONE_NEWNET, None)
                if not network:
                    notes.append("unshare(CLONE_NEWNET) refused, so the network is reachable")
                probe_dir = tempfile.mkdtemp(prefix="numrnn-probe-")
                try:
                    mounts = _probe(CLONE_NEWNS, probe_dir.encode())
                finally:
                    os.rmdir(probe_dir)
                if not mounts:
                    notes.append(
                        "mount namespaces refused, so only file permissions hide the solution"
                    )
                _ISOLATION = Isolation(True, True, network, mounts, notes)
        return _ISOLATION


def _ancestors_or_self(path: str) -> list:
    parts, out = Path(path).parts, []
    for end in range(1, len(parts) + 1):
        out.append(str(Path(*parts[:end])))
    return out


def _needed_paths() -> list:
    """Folders the sandboxed Python must see: its installation and NumPy's."""
    paths = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
        os.path.dirname(os.path.dirname(np.__file__)),
    }
    paths.update(
        value for key, value in sysconfig.get_paths().items() if key in ("stdlib", "platstdlib")
    )
    return sorted({os.path.realpath(path) for path in paths if path and os.path.isdir(path)})


def python_sys_path() -> list:
    """The module folders the harness puts on ``sys.path`` (it runs with ``-I -S``)."""
    paths = [os.path.dirname(os.path.dirname(np.__file__))]
    try:
        paths += site.getsitepackages()
    except AttributeError:  # pragma: no cover - virtualenv's old site module
        pass
    return list(dict.fromkeys(os.path.realpath(path) for path in paths if os.path.isdir(path)))


def plan_masks(hide, needed) -> list:
    """The mount plan: ``(path, kind, keep)`` with kind ``"dir"``, ``"file"`` or ``"scratch"``.

    A folder to hide becomes an empty tmpfs (``"scratch"``: a writable one for
    ``/tmp`` and its kind); a file to hide is covered by ``/dev/null``. A folder
    on the way to the Python installation that "other" may not traverse (such
    as ``/root`` for a pyenv Python) becomes an empty tmpfs too, with ``keep``,
    the names of its children on the way, bound back in. A needed folder is never
    hidden; a folder to hide that holds one (a virtualenv under ``/tmp``) is hidden
    but for the path down to it.

    Parameters
    ----------
    hide : iterable of str
    needed : iterable of str
        Folders the sandboxed Python must see.

    Returns
    -------
    list of (str, str, list of str)
        In mount order (parents first).
    """
    needed = [os.path.realpath(path) for path in needed]

    def under(path, folder):
        return path.startswith(folder.rstrip("/") + "/")

    def keep_children(folder):
        prefix = folder.rstrip("/") + "/"
        return sorted(
            {path[len(prefix) :].split("/")[0] for path in needed if path.startswith(prefix)}
        )

    masks: dict = {}
    for path in needed:
        for ancestor in _ancestors_or_self(path)[1:-1]:
            try:
                mode = os.stat(ancestor).st_mode
            except OSError:
                break
            if not mode & stat.S_IXOTH:
                masks[ancestor] = ("dir", keep_children(ancestor))
                break
    for path in hide:
        path = os.path.realpath(path)
        if path == "/" or path in masks or not os.path.exists(path):
            continue
        if path in needed:
            continue  # the sandboxed Python itself lives here
        if not os.path.isdir(path):
            masks[path] = ("file", [])
            continue
        masks[path] = ("scratch" if path in SCRATCH_DIRS else "dir", keep_children(path))
        # A hidden folder that holds a needed one (a virtualenv under /tmp, say) stays hidden:
        # each folder on the way down is an empty read-only tmpfs with only the next step bound
        # back, so nothing beside the path to the needed folder can be seen.
        for n in needed:
            if under(n, path):
                for ancestor in _ancestors_or_self(n)[:-1]:
                    if under(ancestor, path) and ancestor not in masks and ancestor not in needed:
                        masks[ancestor] = ("dir", keep_children(ancestor))
    plan: list = []
    for path in sorted(masks, key=lambda p: (p.count("/"), p)):
        kind, keep = masks[path]
        hidden_by = [(p, k) for p, kd, k in plan if kd != "file" and under(path, p)]
        if any(
            not any(
                path == f"{p.rstrip('/')}/{c}" or under(path, f"{p.rstrip('/')}/{c}") for c in k
            )
            for p, k in hidden_by
        ):
            continue  # already inside a hidden folder
        plan.append((path, kind, keep))
    return plan


@dataclass
class RunResult:
    """What one sandboxed run left behind, as the grader read it.

    Attributes
    ----------
    outcome : str
        ``"finished"`` (a status file came back), ``"timeout"``, ``"signal"``
        (killed by a signal) or ``"no-status"`` (it exited without one).
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


class _Zygote:
    """One worker's fork server (``zygote.py``): a Python with NumPy imported, idle between runs."""

    def __init__(self, python: str, base: str, sys_path: list):
        self.process = subprocess.Popen(
            [python, "-I", "-S", "-B", "zygote.py", json.dumps(sys_path)],
            cwd=base,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            start_new_session=True,
        )
        self._fd = self.process.stdout.fileno()
        self._pending = b""  # bytes read from the pipe past the last full answer line

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, request: dict) -> int:
        """Start one run; its pid (also its process group)."""
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        return int(self._answer(ZYGOTE_ANSWER_SECONDS)["pid"])

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

    def close(self) -> None:
        try:
            self.process.stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


class Sandbox:
    """Runs harness tasks in isolated processes; one instance per batch.

    Each worker slot has a fork server (``zygote.py``, NumPy imported once); each run is a fresh
    child of it, confined (:mod:`.confine`) before it runs anything of the submission.

    Parameters
    ----------
    hide : iterable of str or Path
        Files and folders the sandboxed code must not see (root with mount namespaces only).
    isolate : bool
        Use a separate user and namespaces when root (default True).
    python : str
        The interpreter that runs the harness (default: this one).
    """

    def __init__(self, hide=(), *, isolate: bool = True, python: str = sys.executable):
        self.python = python
        self.isolation = (
            probe_isolation()
            if isolate
            else Isolation(os.geteuid() == 0, False, False, False, ["isolation switched off"])
        )
        self.base = tempfile.mkdtemp(prefix="numrnn-grade-")
        os.chmod(self.base, 0o711)  # traversable, not listable: each run's folder is 0700
        self.sys_path = python_sys_path()
        hide = [
            *hide,
            *SCRATCH_DIRS,
            str(Path(__file__).resolve().parents[1]),
            os.getcwd(),
            "/home",
            "/root",
        ]
        self.plan = plan_masks(hide, _needed_paths()) if self.isolation.mounts else []
        self.uid_base = int(os.environ.get("NUMRNN_SANDBOX_UID", "65000"))
        self._running: set = set()  # process groups of the runs going on now
        self._stopping = threading.Event()
        self._zygotes: dict = {}  # slot -> _Zygote
        for name in ("harness.py", "kit.py", "confine.py", "zygote.py"):
            with open(os.path.join(self.base, name), "wb") as handle:
                handle.write((HERE / name).read_bytes())
            os.chmod(os.path.join(self.base, name), 0o644)

    def stop(self) -> None:
        """Kill every run going on now (after Ctrl-C); a run that was stopped raises
        KeyboardInterrupt in its worker, and no new run starts."""
        self._stopping.set()
        for pgid in list(self._running):
            _kill_group(pgid)

    def close(self) -> None:
        """Stop the fork servers and remove the batch's scratch folder."""
        for zygote in self._zygotes.values():
            zygote.close()
        self._zygotes.clear()
        _remove_tree(self.base)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _zygote(self, slot: int) -> _Zygote:
        zygote = self._zygotes.get(slot)
        if zygote is None or not zygote.alive():
            if zygote is not None:
                zygote.close()
            zygote = self._zygotes[slot] = _Zygote(self.python, self.base, self.sys_path)
        return zygote

    # ------------------------------------------------------------------ one run

    def run(
        self, slot: int, task: dict, cells: list, inputs: dict, expected: list, limits: Limits
    ) -> RunResult:
        """Run one task and collect what it returned.

        Parameters
        ----------
        slot : int
            The worker's number (picks the sandbox uid when root, and the fork server).
        task : dict
            ``task.json`` for the harness.
        cells : list of str
            The submission's code cells.
        inputs : dict of str to bytes
            ``.npy`` file name (without folder) to its bytes.
        expected : list of str
            Names of the arrays to read back (``t0_out``, ...).
        limits : Limits

        Returns
        -------
        RunResult
        """
        if self._stopping.is_set():
            raise KeyboardInterrupt("grading was stopped")
        uid = self.uid_base + slot if self.isolation.separate_user else None
        workdir = tempfile.mkdtemp(prefix=f"run{slot}-", dir=self.base)
        try:
            self._prepare(workdir, task, cells, inputs, uid)
            result = self._execute(slot, workdir, expected, limits, uid)
            if result.returncode in CANNOT_START:
                if uid is not None:
                    _kill_uid(uid)  # a process of the previous run outlived it: clear it
                _remove_tree(workdir)  # and retry once
                workdir = tempfile.mkdtemp(prefix=f"run{slot}-", dir=self.base)
                self._prepare(workdir, task, cells, inputs, uid)
                result = self._execute(slot, workdir, expected, limits, uid)
            return result
        finally:
            if uid is not None:
                _kill_uid(uid)
            _remove_tree(workdir)

    def _prepare(self, workdir, task, cells, inputs, uid):
        task = dict(task, sys_path=self.sys_path)
        files = {"task.json": json.dumps(task).encode(), "cells.json": json.dumps(cells).encode()}
        for folder in ("inputs", "out"):
            os.mkdir(os.path.join(workdir, folder), 0o700)
        for name, data in inputs.items():
            files[os.path.join("inputs", name)] = data
        for name, data in files.items():
            with open(os.path.join(workdir, name), "wb") as handle:
                handle.write(data)
        if uid is not None:
            for root, dirs, names in os.walk(workdir):
                for name in [*dirs, *names]:
                    os.chown(os.path.join(root, name), uid, uid)
            os.chown(workdir, uid, uid)
        os.chmod(workdir, 0o700)

    def _request(self, workdir, capture, limits, uid) -> dict:
        """What the fork server's child needs: :func:`confine.confine`'s settings and more."""
        private_tmp = uid is not None and "/tmp" in [p for p, _, _ in self.plan]
        nproc = limits.processes
        if uid is None:  # RLIMIT_NPROC counts every process of this user: allow what runs now
            nproc += _count_tasks(os.getuid())
        return {
            "workdir": workdir,
            "capture": capture,
            "env": {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "HOME": WORK_MOUNT.decode() if private_tmp else workdir,
                "LANG": "C.UTF-8",
                "LC_ALL": "C.UTF-8",
                "MPLBACKEND": "Agg",
            },
            "uid": uid,
            "network": bool(uid is not None and self.isolation.network),
            "plan": self.plan if uid is not None else [],
            "memory": int(limits.memory_mb) << 20,
            "fsize": int(limits.output_kb) << 10,
            "cpu": int(limits.time) + 2,
            "nproc": int(nproc),
        }

    def _execute(self, slot, workdir, expected, limits, uid) -> RunResult:
        fd, capture = tempfile.mkstemp(prefix="output-", dir=self.base)
        os.close(fd)
        start = time.perf_counter()
        timed_out, status, pid = False, None, None
        try:
            zygote = self._zygote(slot)
            try:
                pid = zygote.send(self._request(workdir, capture, limits, uid))
                self._running.add(pid)
                status = zygote.wait(limits.time)
                if status is None:
                    timed_out = True
                    _kill_group(pid)
                    status = zygote.wait(ZYGOTE_ANSWER_SECONDS)
            except (OSError, ConnectionError, ValueError, KeyError, TypeError):
                status = None  # the fork server died (or was killed): a new one next time
                zygote.close()
            finally:
                if pid is not None:
                    _kill_group(pid)
                    self._running.discard(pid)
            seconds = time.perf_counter() - start
            with open(capture, "rb") as handle:
                output = handle.read(OUTPUT_EXCERPT * 4).decode("utf-8", errors="replace")
            output = output[:OUTPUT_EXCERPT]
        finally:
            os.unlink(capture)
        if self._stopping.is_set():
            raise KeyboardInterrupt("grading was stopped")
        read_status, arrays, errors, loaded = _read_back(workdir, expected)
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
        elif code < 0 or code > 128:
            outcome, signal_name = "signal", _signal_name(-code if code < 0 else code - 128)
        elif read_status is None:
            outcome, signal_name = "no-status", None
        else:
            outcome, signal_name = "finished", None
        return RunResult(
            outcome, code, signal_name, seconds, read_status, arrays, errors, output, loaded
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


def _kill_uid(uid: int, seconds: float = 10.0) -> None:
    """Kill every process of the sandbox ``uid`` (escapees from the process group included).

    ``kill(-1, SIGKILL)`` from a process of that uid reaches all of them, but a
    fork bomb can fork while the signal goes round, so repeat until ``/proc``
    shows none left (a leftover would count against the next run's
    ``RLIMIT_NPROC``). The killer is ``kill -KILL -1`` started as that uid by
    ``subprocess`` (fork-safe in a threaded grader), or a forked Python if there
    is no ``kill`` program. The bound is time, not rounds: after the last kill the
    dead still count until init reaps them, which on a loaded machine took longer
    than 200 quick rounds (a leftover zombie failed the fork-bomb test in CI).
    """
    killer = shutil.which("kill", path="/usr/bin:/bin")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _count_tasks(uid) == 0:
            return
        if killer is not None:
            subprocess.run(
                [killer, "-KILL", "-1"],
                user=uid,
                group=uid,
                extra_groups=[],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        else:
            pid = os.fork()
            if pid == 0:
                try:
                    os.setgid(uid)
                    os.setuid(uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
        time.sleep(0.002)


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
