"""Scratch memory kept from one training step to the next.

A NumPy array of more than a few pages gets fresh memory from the operating
system each time it is created, and the system supplies that memory one page
(4 KiB) at a time, zeroed, when the array is first written: a *page fault*.
A training step makes many (T, B, ·) arrays that live only until the step ends:
states, deltas, ∂loss/∂y. For the benchmarks' deep-transition model
(B, T, D, H) = (32, 100, 64, 128) that is about 13 MB and 3,200 page faults per
step, which cost about 3 ms of an 18 ms step (measured; ``docs/core.md``).

A :class:`Workspace` keeps those arrays between calls. The second and later
steps then write into memory they already own. :class:`numrnn.DeepRNN` owns one
and passes it to the core on every :meth:`~numrnn.DeepRNN.loss_and_grads`.

Only arrays that never leave the call may live in a workspace. The next call
overwrites them. So the outputs, gradients, ``dx`` and ``dh0`` that
``loss_and_grads`` returns are always fresh arrays. Everything the backward
pass uses and then drops comes from the workspace.

Each array has a *role*, a name such as ``"layer2/states"``. A role keeps one
flat buffer that only grows. A request of that role gets the buffer's first
``prod(shape)`` elements, reshaped. So a smaller last batch or a shorter
sequence reuses the memory and does not add more, and the memory a workspace
holds is bounded by the largest step it has served.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Workspace", "FRESH"]


class Workspace:
    """Named scratch arrays reused across calls.

    Parameters
    ----------
    reuse : bool, default True
        False makes :meth:`empty` return a new array every time (and hold
        nothing): the behaviour of the core's functions when no workspace is
        passed (:data:`FRESH`).

    Notes
    -----
    A workspace is not safe to share between threads that run steps at the
    same time: give each thread its own model (or workspace).

    Examples
    --------
    >>> import numpy as np
    >>> from numrnn.workspace import Workspace
    >>> ws = Workspace()
    >>> a = ws.empty("deltas", (100, 32, 128), np.float32)
    >>> b = ws.empty("deltas", (50, 32, 128), np.float32)    # a shorter sequence: same memory
    >>> np.shares_memory(a, b), ws.nbytes
    (True, 1638400)
    """

    def __init__(self, *, reuse: bool = True):
        if not isinstance(reuse, bool):
            raise TypeError(f"reuse must be True or False; got {reuse!r}")
        self.reuse = reuse
        self._buffers: dict[str, np.ndarray] = {}
        self._prefix = ""

    def scope(self, name: str) -> "Workspace":
        """A view of this workspace whose roles are prefixed by ``name + "/"`` (same memory pool)."""
        if not isinstance(name, str):
            raise TypeError(f"scope name must be a string; got {name!r}")
        child = Workspace.__new__(Workspace)
        child.reuse, child._buffers, child._prefix = self.reuse, self._buffers, f"{self._prefix}{name}/"
        return child

    def empty(self, role: str, shape: tuple, dtype) -> np.ndarray:
        """An uninitialised C-contiguous array for ``role``, reusing that role's memory.

        Parameters
        ----------
        role : str
            What the array is for; one array per role is live at a time.
        shape : tuple of int
        dtype : numpy dtype

        Returns
        -------
        ndarray of shape ``shape``
            Its contents are whatever the role's last user left there.

        Raises
        ------
        TypeError
            If ``role`` is not a string.
        ValueError
            If ``shape`` is not a tuple of integers >= 0.
        """
        if not isinstance(role, str):
            raise TypeError(f"role must be a string naming what the array is for; got {role!r}")
        if not isinstance(shape, tuple) or not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
            raise ValueError(f"shape must be a tuple of integers >= 0; got {shape!r}")
        if not self.reuse:
            return np.empty(shape, dtype=dtype)
        key, size = self._prefix + role, math.prod(shape)
        flat = self._buffers.get(key)
        if flat is None or flat.dtype != dtype or flat.size < size:
            flat = self._buffers[key] = np.empty(size, dtype=dtype)
        return flat[:size].reshape(shape)

    @property
    def nbytes(self) -> int:
        """The memory the workspace holds, in bytes."""
        return sum(buffer.nbytes for buffer in self._buffers.values())

    def clear(self) -> None:
        """Drop every buffer (the memory is returned once nothing else refers to it)."""
        self._buffers.clear()

    def __repr__(self) -> str:
        if not self.reuse:
            return "Workspace(reuse=False)"
        return f"Workspace({len(self._buffers)} buffers, {self.nbytes / 2**20:.1f} MiB)"


FRESH = Workspace(reuse=False)
"""The workspace that reuses nothing: every request is a new array (the default everywhere)."""
