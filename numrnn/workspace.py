"""Scratch memory kept from one training step to the next.

A NumPy array of more than a few pages gets fresh memory from the operating
system each time it is created, and the system supplies that memory one page
(4 KiB) at a time, zeroed, when the array is first written: a *page fault*.
A training step makes many (T, B, ·) arrays that live only until the step ends:
states, deltas, ∂loss/∂y. For the benchmarks' deep-transition model
(B, T, D, H) = (32, 100, 64, 128) that is about 13 MB and 3,200 page faults per
step, a sixth of the step's time (measured in ``docs/core.md``).

A :class:`Workspace` keeps those arrays between calls. The second and later
steps then write into memory they already own. This module is the one place
where that happens: the maths (:mod:`numrnn.core`, :mod:`numrnn.mlp`,
:mod:`numrnn.losses`) asks :func:`scratch` for every array it uses and drops,
and gets a new ``np.empty`` array, unless a workspace is *in use*::

    with model.workspace.in_use():          # what DeepRNN.loss_and_grads does
        loss, grads, info = network.loss_and_grads(...)

Inside that block, :func:`scratch` hands out the workspace's memory instead.
So :mod:`numrnn.network` and everything below it keep the signatures of pure
functions (no ``workspace=`` argument), and a user who calls them directly gets
fresh arrays, always.

Only arrays that never leave the call may be scratch. The next use of the
workspace overwrites them. The outputs, gradients and ``dh0`` are always new
arrays; the one scratch array a call can return, ``dx`` (the bottom layer's
input gradient), is copied by :meth:`numrnn.DeepRNN.loss_and_grads` before it
returns it.

Each array has a *role*, a name such as ``"core/states"``. A role keeps one
flat buffer that only grows. A request of that role gets the buffer's first
``prod(shape)`` elements, reshaped. So a smaller last batch or a shorter
sequence reuses the memory and does not add more, and the memory a workspace
holds is bounded by the largest step it has served. While a workspace is in
use, the n-th request of a role in that block gets its own buffer (two layers'
states never share memory), except *temporaries*: arrays their function drops
before it returns, which every request of the role shares (layer 2's backward
reuses layer 3's deltas). Measured savings: ``docs/core.md``.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

__all__ = ["Workspace", "FRESH", "scratch"]


class Workspace:
    """Named scratch arrays reused across calls.

    Parameters
    ----------
    reuse : bool, default True
        False makes :meth:`empty` return a new array every time (and hold
        nothing), like :func:`scratch` outside an :meth:`in_use` block
        (:data:`FRESH`).

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
        """A view of this workspace whose roles are prefixed by ``name + "/"`` (one memory pool)."""
        if not isinstance(name, str):
            raise TypeError(f"scope name must be a string; got {name!r}")
        child = Workspace.__new__(Workspace)
        child.reuse, child._buffers, child._prefix = (
            self.reuse,
            self._buffers,
            f"{self._prefix}{name}/",
        )
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
        if not isinstance(shape, tuple) or not all(
            isinstance(n, (int, np.integer)) and n >= 0 for n in shape
        ):
            raise ValueError(f"shape must be a tuple of integers >= 0; got {shape!r}")
        if not self.reuse:
            return np.empty(shape, dtype=dtype)
        key, size = self._prefix + role, math.prod(shape)
        flat = self._buffers.get(key)
        if flat is None or flat.dtype != dtype or flat.size < size:
            flat = self._buffers[key] = np.empty(size, dtype=dtype)
        return flat[:size].reshape(shape)

    @contextmanager
    def in_use(self):
        """Serve every :func:`scratch` request of this thread from this workspace, in a ``with``.

        Examples
        --------
        >>> import numpy as np
        >>> from numrnn.workspace import Workspace, scratch
        >>> ws = Workspace()
        >>> with ws.in_use():
        ...     a = scratch("core/states", (4, 3), np.float64)
        >>> with ws.in_use():                       # the next step: the same memory
        ...     b = scratch("core/states", (4, 3), np.float64)
        >>> np.shares_memory(a, b), np.shares_memory(a, scratch("core/states", (4, 3), np.float64))
        (True, False)
        """
        token = _IN_USE.set((self, {}))
        try:
            yield self
        finally:
            _IN_USE.reset(token)

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
"""The workspace that reuses nothing: every request is a new array (``model.workspace = FRESH``
turns a model's memory reuse off)."""


# The workspace in use in this thread (or asyncio task) and how often each role has been asked for.
_IN_USE: ContextVar[tuple | None] = ContextVar("numrnn_workspace_in_use", default=None)


def scratch(role: str, shape: tuple, dtype, *, temporary: bool = False) -> np.ndarray:
    """An uninitialised C-contiguous array for an intermediate quantity of a step.

    A new array (``np.empty``), unless a workspace is in use
    (:meth:`Workspace.in_use`): then memory the workspace keeps from one step
    to the next.

    Parameters
    ----------
    role : str
        What the array holds, e.g. ``"core/states"``.
    shape : tuple of int
    dtype : numpy dtype
    temporary : bool, default False
        True for an array the requesting function drops before it returns:
        every request of the role then shares one buffer. False gives each
        request of the step its own buffer, valid until the workspace's next use.

    Returns
    -------
    ndarray of shape ``shape``
    """
    in_use = _IN_USE.get()
    if in_use is None:
        return np.empty(shape, dtype=dtype)
    workspace, requests = in_use
    if temporary:
        return workspace.empty(role, shape, dtype)
    count = requests[role] = requests.get(role, 0) + 1
    return workspace.empty(f"{role}#{count}", shape, dtype)
