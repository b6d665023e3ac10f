"""A whole model as pure functions: the layer stack, the output MLP, the loss.

Stacks run layer-major (all of layer 1, then all of layer 2, ...): layer l's
input sequence is layer l-1's state sequence (S.1), so every layer's input
side is one large product over T·B rows. Backward runs the layers top-down;
layer l's ``dx`` is the gradient arriving at layer l-1's states (S.2).

These functions trust their inputs; :class:`numrnn.DeepRNN` checks them.

Shape legend: T steps, B batch, D input size, H hidden size, O output size,
L layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .config import ModelConfig
from .core import layer_backward, layer_forward
from .losses import LOSSES, step_weights
from .mlp import MLPCache, MLPSpec, mlp_backward, mlp_forward
from .params import OUTPUT_PREFIX, layer_params, layer_prefix, output_params
from .records import ModelGradients  # what backward returns (also numrnn.network.ModelGradients)

__all__ = [
    "ModelCache",
    "LossInfo",
    "output_mlp_spec",
    "forward",
    "backward",
    "loss_and_grads",
]


def output_mlp_spec(config: ModelConfig) -> MLPSpec:
    """``MLP_o``: hidden layers ``W_y{j}, b_y{j}``, last affine ``W_hy, b_y``."""
    return MLPSpec(
        hidden_name="y",
        depth=config.output_depth,
        last_weight="W_hy",
        last_bias="b_y",
        activation=config.output_activation,
        layer_skip=config.output_layer_skip,
    )


class ModelCache(NamedTuple):
    """What :func:`backward` needs from :func:`forward`.

    Attributes
    ----------
    config : ModelConfig
    layer_caches : list of LayerCache
        One per layer, layer 1 first.
    output_cache : MLPCache
        ``MLP_o`` over all T·B rows of the top layer's states.
    """

    config: ModelConfig
    layer_caches: list
    output_cache: MLPCache


@dataclass
class LossInfo:
    """Everything :func:`loss_and_grads` learns on the way besides loss and grads.

    Attributes
    ----------
    y : ndarray of shape (T, B, O)
        The outputs (logits for "xent" and "bce").
    final_state : list of ndarray of shape (B, H_l)
        ``h_T^(l)`` of every layer: pass it as ``h0`` to continue a sequence.
    grad_norms : ndarray of shape (L, T)
        ``‖∂loss/∂h_t^(l)‖``: with the loss on the last step only, the
        vanishing/exploding-gradient picture (row l - 1 is layer l).
    dx : ndarray of shape (T, B, D), or None
        ∂loss/∂x (None when computed with ``need_dx=False``).
    dh0 : list of ndarray of shape (B, H_l)
        ∂loss/∂h_0^(l).
    """

    y: np.ndarray
    final_state: list
    grad_norms: np.ndarray
    dx: np.ndarray
    dh0: list


def forward(
    params: dict, config: ModelConfig, x: np.ndarray, h0: list
) -> tuple[np.ndarray, list, ModelCache]:
    """Run the stack and the output MLP over a whole sequence (S.1).

    Parameters
    ----------
    params : dict of str to ndarray
        Prefixed names (:func:`numrnn.params.model_parameter_shapes`).
    config : ModelConfig
    x : ndarray of shape (T, B, D)
    h0 : list of ndarray of shape (B, H_l)
        Initial state of every layer.

    Returns
    -------
    y : ndarray of shape (T, B, O)
    final_state : list of ndarray of shape (B, H_l)
    cache : ModelCache
    """
    T, B, _ = x.shape
    layer_caches, final_state = [], []
    h = x  # H^(0) = X
    for l, layer_config in enumerate(config.layers, start=1):
        h, cache = layer_forward(h, h0[l - 1], layer_params(params, l), layer_config)  # (S.1) H^(l)
        layer_caches.append(cache)
        final_state.append(h[-1].copy())
    y, output_cache = mlp_forward(
        h.reshape(T * B, -1), output_params(params), output_mlp_spec(config)
    )
    cache = ModelCache(config=config, layer_caches=layer_caches, output_cache=output_cache)
    return y.reshape(T, B, -1), final_state, cache


def backward(
    dy: np.ndarray, cache: ModelCache, *, window: int | None = None, need_dx: bool = True
) -> ModelGradients:
    """Backpropagate ``dy`` through the output MLP and the stack, top layer first (S.2).

    Parameters
    ----------
    dy : ndarray of shape (T, B, O)
        ∂loss/∂y.
    cache : ModelCache
    window : int or None, default None
        Truncated-BPTT window (see :func:`numrnn.core.layer_backward`).
    need_dx : bool, default True
        False skips the product that gives ∂loss/∂x (then ``dx`` is None).

    Returns
    -------
    ModelGradients
    """
    T, B, _ = dy.shape
    config = cache.config
    L = config.num_layers
    dH, output_grads = mlp_backward(dy.reshape(T * B, -1), cache.output_cache)
    dH = dH.reshape(T, B, -1)  # dH^(L): ∂loss/∂h_t^(L) from the output, every step
    layer_grads, dh0, dh_norms = (
        [None] * (L + 1),
        [None] * (L + 1),
        [None] * (L + 1),
    )  # [l]: layer l
    for l in range(L, 0, -1):
        result = layer_backward(
            dH, cache.layer_caches[l - 1], window=window, need_dx=need_dx or l > 1
        )
        layer_grads[l], dh0[l], dh_norms[l] = result.grads, result.dh0, result.dh_norms
        dH = result.dx  # (S.2) dH^(l-1) = dX^(l); after layer 1, dx
    grads = {}  # in the params' order: layer 1 first
    for l in range(1, L + 1):
        grads.update({layer_prefix(l) + name: value for name, value in layer_grads[l].items()})
    grads.update({OUTPUT_PREFIX + name: output_grads[name] for name in cache.output_cache.params})
    return ModelGradients(grads=grads, dx=dH, dh0=dh0[1:], grad_norms=np.stack(dh_norms[1:]))


def loss_and_grads(
    params: dict,
    config: ModelConfig,
    x: np.ndarray,
    targets,
    *,
    loss: str = "xent",
    h0: list,
    mask: np.ndarray | None = None,
    window: int | None = None,
    need_dx: bool = True,
):
    """Forward, loss, and backward in one call.

    Parameters
    ----------
    params : dict of str to ndarray
    config : ModelConfig
    x : ndarray of shape (T, B, D)
    targets : ndarray
        int (T, B) for "xent", float (T, B, O) for "mse" and "bce".
    loss : {"xent", "mse", "bce"}
    h0 : list of ndarray of shape (B, H_l)
    mask : ndarray of shape (T, B) or None
        Weights of the (step, sequence) entries, already in the params' dtype.
    window : int or None
        Truncated-BPTT window.
    need_dx : bool, default True
        False skips computing ∂loss/∂x.

    Returns
    -------
    loss : scalar
    grads : dict of str to ndarray
    info : LossInfo
    """
    y, final_state, cache = forward(params, config, x, h0)
    value, dy = LOSSES[loss](y, targets, step_weights(mask, y.shape, y.dtype))
    result = backward(dy, cache, window=window, need_dx=need_dx)
    info = LossInfo(
        y=y, final_state=final_state, grad_norms=result.grad_norms, dx=result.dx, dh0=result.dh0
    )
    return value, result.grads, info
