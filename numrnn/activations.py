"""Element-wise activations and their derivatives, written from their outputs.

Every activation numrnn offers has a derivative that can be computed from the
activation's *output* alone:

=========  ================================  =================================
name       forward ``out = f(a)``            derivative ``f'(a)`` from ``out``
=========  ================================  =================================
tanh       ``tanh(a)``                       ``1 - out**2``
sigmoid    ``1 / (1 + exp(-a))``             ``out * (1 - out)``
relu       ``max(a, 0)``                     ``1 where out > 0 else 0``
identity   ``a``                             ``1``
=========  ================================  =================================

So the core never stores pre-activations: it keeps the outputs it needs anyway
and turns them into derivatives for all steps at once, outside the time loop.

Shapes: activations are element-wise, any shape in is the same shape out.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

__all__ = ["Activation", "ACTIVATIONS", "get_activation"]


class Activation(NamedTuple):
    """An activation function and its derivative expressed through its output.

    Attributes
    ----------
    name : str
        The name users pass, e.g. ``"tanh"``.
    forward : callable ``(a, out=None) -> out``
        The activation, element-wise; writes into ``out`` when given.
    derivative_from_output : callable ``(output, out=None) -> ndarray``
        ``f'(a)`` computed from ``output = f(a)``, same shape and dtype;
        written into ``out`` when given (no temporary arrays).
    """

    name: str
    forward: Callable[..., np.ndarray]
    derivative_from_output: Callable[[np.ndarray], np.ndarray]


def _tanh(a, out=None):
    """tanh(a), element-wise."""
    return np.tanh(a, out=out)


def _tanh_derivative(output, out=None):
    """tanh'(a) = 1 - tanh(a)^2, from ``output = tanh(a)``."""
    out = np.square(output, out=out)  # np.square: faster than multiply (docs/core.md)
    return np.subtract(1.0, out, out=out)


def _sigmoid(a, out=None):
    """Logistic sigmoid 1 / (1 + exp(-a)), stable for large |a|."""
    # sigmoid(a) = (1 + tanh(a / 2)) / 2 never overflows, unlike exp(-a).
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def _sigmoid_derivative(output, out=None):
    """sigmoid'(a) = s (1 - s), from ``output = s = sigmoid(a)``."""
    out = np.subtract(1.0, output, out=out)
    return np.multiply(output, out, out=out)


def _relu(a, out=None):
    """max(a, 0), element-wise."""
    return np.maximum(a, 0.0, out=out)


def _relu_derivative(output, out=None):
    """relu'(a) = 1 where a > 0 (equivalently output > 0), else 0."""
    if out is None:
        out = np.empty_like(output)
    return np.greater(output, 0, out=out, casting="unsafe")


def _identity(a, out=None):
    """a itself (copied into ``out`` when given)."""
    if out is None:
        return a.copy()
    np.copyto(out, a)
    return out


def _identity_derivative(output, out=None):
    """identity'(a) = 1."""
    if out is None:
        return np.ones_like(output)
    out[...] = 1
    return out


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation("tanh", _tanh, _tanh_derivative),
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_derivative),
    "relu": Activation("relu", _relu, _relu_derivative),
    "identity": Activation("identity", _identity, _identity_derivative),
}


def get_activation(name: str, argument: str = "activation") -> Activation:
    """Look an activation up by name.

    Parameters
    ----------
    name : str
        One of ``"tanh"``, ``"sigmoid"``, ``"relu"``, ``"identity"``.
    argument : str, optional
        The name of the user's argument, used in the error message.

    Returns
    -------
    Activation

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If ``name`` is not a known activation.
    """
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a string, one of {sorted(ACTIVATIONS)}; got {name!r}")
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"{argument} must be one of {sorted(ACTIVATIONS)}; got {name!r}") from None
