"""One control group per submission's sandbox: its processes and memory bounded as a whole.

cgroup v2 (``memory.max``, ``pids.max``, ``cgroup.kill``) is used where the grader's own
cgroup delegates the memory and pids controllers, or, as root, under a ``numrnn`` folder at
the hierarchy's root; otherwise cgroup v1's ``memory`` and ``pids`` hierarchies
(``memory.limit_in_bytes``, ``pids.max``), where the grader may create a child of its own
cgroup (root, or a delegated tree). Every group is named ``numrnn-<grader pid>-<n>``, so two
graders never share one, and it is removed when its sandbox ends. (This machine's tests run
on cgroup v1; the v2 path is written to the kernel's documented rules but was not run here.)
Without either, :func:`available` says why and the sandbox states the per-process bound it
falls back on.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from pathlib import Path

_COUNTER = itertools.count()
_COUNTER_LOCK = threading.Lock()
KILL_SECONDS = 10.0


def _mounts() -> dict:
    """``{"cgroup2": (mount point, root)}`` and ``{controller: (mount point, root)}`` of v1."""
    found = {}
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        if tail[0] == "cgroup2":
            found.setdefault("cgroup2", (fields[4], fields[3]))
        elif tail[0] == "cgroup":
            for option in tail[2].split(","):
                found.setdefault(option, (fields[4], fields[3]))
    return found


def _own_paths() -> dict:
    """This process's cgroup path per v1 controller, and ``""`` for v2, from /proc/self/cgroup."""
    paths = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _folder(mount: tuple, own: str) -> Path:
    """The folder of this process's cgroup inside a hierarchy mounted at ``mount``."""
    point, root = mount
    relative = own[len(root) :] if root != "/" and own.startswith(root) else own
    folder = Path(point + relative.rstrip("/"))
    return folder if folder.is_dir() else Path(point)


def _delegating(folder: Path) -> bool:
    """Whether ``folder``'s children get the memory and pids controllers (enabling them if
    need be: refused in a cgroup that holds processes, unless it is the hierarchy's root)."""
    try:
        if not {"memory", "pids"} <= set((folder / "cgroup.controllers").read_text().split()):
            return False
        enabled = (folder / "cgroup.subtree_control").read_text().split()
        if not {"memory", "pids"} <= set(enabled):
            (folder / "cgroup.subtree_control").write_text("+memory +pids")
        return True
    except OSError:
        return False


def _v2_parent(mount: tuple, own: str):
    """The cgroup v2 folder to make run groups in, or None.

    The grader's own cgroup if it delegates memory and pids; else, as root, a ``numrnn``
    folder at the hierarchy's root (a cgroup that holds processes, as the grader's own
    usually does, cannot hand controllers to its children).
    """
    parent = _folder(mount, own)
    if _delegating(parent):
        return parent
    top = Path(mount[0])
    if os.geteuid() != 0 or not _delegating(top):
        return None
    shared = top / "numrnn"
    try:
        shared.mkdir(mode=0o755, exist_ok=True)
    except OSError:
        return None
    return shared if _delegating(shared) else None


def _parents() -> tuple:
    """``(version, {controller: parent folder})``, or ``(None, reason)``."""
    mounts, own = _mounts(), _own_paths()
    reasons = []
    if "cgroup2" in mounts and "" in own:
        parent = _v2_parent(mounts["cgroup2"], own[""])
        if parent is not None:
            return 2, {"memory": parent, "pids": parent}
        reasons.append("cgroup v2 cannot give memory and pids to a child group here")
    if "memory" in mounts and "pids" in mounts:
        return 1, {name: _folder(mounts[name], own.get(name, "/")) for name in ("memory", "pids")}
    reasons.append("no cgroup v1 memory and pids hierarchies")
    return None, "; ".join(reasons)


class RunGroup:
    """One sandbox's control group (a folder per hierarchy: one for v2, two for v1)."""

    def __init__(self, version: int, folders: dict):
        self.version = version
        self.folders = folders  # controller -> folder

    @classmethod
    def create(cls) -> "RunGroup":
        """A fresh child of the grader's own cgroup; raises OSError when that is not allowed."""
        version, parents = _parents()
        if version is None:
            raise OSError(parents)
        with _COUNTER_LOCK:
            name = f"numrnn-{os.getpid()}-{next(_COUNTER)}"
        folders = {}
        try:
            for controller, parent in parents.items():
                folder = parent / name
                if folder not in folders.values():
                    folder.mkdir(mode=0o755)
                folders[controller] = folder
        except OSError:
            for folder in set(folders.values()):
                _rmdir(folder)
            raise
        return cls(version, folders)

    @property
    def procs_files(self) -> list:
        """The ``cgroup.procs`` files a process writes ``0`` into to join this group."""
        return sorted({str(folder / "cgroup.procs") for folder in self.folders.values()})

    def _write(self, controller: str, name: str, value) -> None:
        (self.folders[controller] / name).write_text(str(value))

    def _read(self, controller: str, name: str) -> str:
        return (self.folders[controller] / name).read_text()

    def memory_usage(self) -> int:
        """Bytes charged to the group now."""
        name = "memory.current" if self.version == 2 else "memory.usage_in_bytes"
        return int(self._read("memory", name))

    def task_count(self) -> int:
        """Processes and threads in the group now."""
        return int(self._read("pids", "pids.current"))

    def limit(self, memory_bytes: int, tasks: int) -> None:
        """Bound the group's memory (bytes, swap included) and processes + threads."""
        if self.version == 2:
            self._write("memory", "memory.max", memory_bytes)
            try:
                self._write("memory", "memory.swap.max", 0)
            except OSError:
                pass  # no swap accounting: nothing to swap to either
        else:
            try:
                self._write("memory", "memory.limit_in_bytes", memory_bytes)
            except OSError:  # above the limit with swap (it may not be below): raise that first
                self._write("memory", "memory.memsw.limit_in_bytes", memory_bytes)
                self._write("memory", "memory.limit_in_bytes", memory_bytes)
            try:
                self._write("memory", "memory.memsw.limit_in_bytes", memory_bytes)
            except OSError:
                pass  # swap accounting off
        self._write("pids", "pids.max", tasks)

    def oom_kills(self) -> int:
        """Processes the kernel's OOM killer has killed in the group so far."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in self._read("memory", name).splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except OSError:
            pass
        return 0

    def pids(self) -> list:
        """Every process in the group (any hierarchy)."""
        found = set()
        for folder in set(self.folders.values()):
            try:
                found.update(int(pid) for pid in (folder / "cgroup.procs").read_text().split())
            except OSError:
                continue
        return sorted(found)

    def kill(self) -> None:
        """SIGKILL every process in the group until none is left (within :data:`KILL_SECONDS`)."""
        if self.version == 2:
            try:
                self._write("pids", "cgroup.kill", 1)
            except OSError:
                pass
        deadline = time.monotonic() + KILL_SECONDS
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.002)

    def remove(self) -> None:
        """Kill what is left and remove the group's folders."""
        self.kill()
        for folder in set(self.folders.values()):
            _rmdir(folder)


def _rmdir(folder: Path) -> None:
    for _ in range(100):  # a killed process leaves its group a moment after it is reaped
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)


def available() -> tuple:
    """``(True, "cgroup v1 (memory, pids)")`` if a run group can be made here, else
    ``(False, why not)``."""
    try:
        group = RunGroup.create()
    except OSError as error:
        if error.strerror:
            return False, f"cannot create a cgroup here ({error.strerror})"
        return False, str(error)
    group.remove()
    return True, f"cgroup v{group.version} (memory, pids)"
