"""The records the backward passes return: one type per operation, whoever computes it.

:mod:`numrnn.reference` (the per-step oracle), :mod:`numrnn.core` (the
vectorized engine) and :mod:`numrnn.layers` (the checked functional API) all
return a :class:`LayerGradients` from ``layer_backward``;
:func:`numrnn.reference.model_backward` and :func:`numrnn.network.backward`
both return a :class:`ModelGradients`. So a test, a tutorial or a student can
put any two of them side by side field by field.

Shape legend: T steps, B batch, D input size, H hidden size, L layers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

__all__ = ["LayerGradients", "ModelGradients"]


@dataclass(frozen=True, eq=False)
class LayerGradients:
    """What one layer's backward pass over a sequence returns.

    It reads as CS231n's triple, ``dx, dh0, grads = layer_backward(dh, cache)``
    (unpacking and ``result[0]`` .. ``result[2]``); ``dh_norms`` is read by name.

    Attributes
    ----------
    dx : ndarray of shape (T, B, D), or None
        ∂loss/∂x_t for every step (None when the caller asked for no ``dx``).
    dh0 : ndarray of shape (B, H)
        ∂loss/∂h_0.
    grads : dict of str to ndarray
        Same names, shapes and order as the layer's params.
    dh_norms : ndarray of shape (T,)
        ``‖dh_t‖`` (Frobenius over batch and units) of the total gradient at
        each state, (R.5) of ``docs/derivations.md``.
    """

    dx: np.ndarray | None
    dh0: np.ndarray
    grads: dict
    dh_norms: np.ndarray

    def _triple(self) -> tuple:
        return (self.dx, self.dh0, self.grads)

    def __iter__(self):
        """``dx, dh0, grads``: the CS231n ``*_backward`` triple."""
        return iter(self._triple())

    def __getitem__(self, index):
        return self._triple()[index]

    def __len__(self) -> int:
        return 3

    def _replace(self, **changes) -> LayerGradients:
        """A copy with some fields replaced, as a NamedTuple's ``_replace``."""
        return replace(self, **changes)


class ModelGradients(NamedTuple):
    """What a whole model's backward pass returns.

    Attributes
    ----------
    grads : dict of str to ndarray
        Prefixed names, same keys, shapes and order as the params.
    dx : ndarray of shape (T, B, D), or None
        ∂loss/∂x (None when the caller asked for no ``dx``).
    dh0 : list of ndarray of shape (B, H_l)
        ∂loss/∂h_0^(l) of every layer, layer 1 first.
    grad_norms : ndarray of shape (L, T)
        ``‖∂loss/∂h_t^(l)‖`` for every layer l (row l - 1) and step t.
    """

    grads: dict
    dx: np.ndarray | None
    dh0: list
    grad_norms: np.ndarray
