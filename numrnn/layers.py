"""One recurrent layer as a pair of functions, CS231n style.

``<kind>_forward(x, h0, params) -> (h, cache)`` and
``<kind>_backward(dh, cache) -> (dx, dh0, grads)`` (a
:class:`~numrnn.records.LayerGradients`, which also carries ``dh_norms``), where ``params`` holds a
single layer's unprefixed names (``W_xh, W_hh, b_h`` for the vanilla RNN; see
:mod:`numrnn.params`). The depths are read from the names present (``W_h1 ..
W_h{q}`` gives q, ``W_x1 .. W_x{p}`` gives p), so the same function serves
any depth. All kinds run on the vectorized core (:mod:`numrnn.core`);
:mod:`numrnn.reference` has the naive per-step versions to read beside them.

========================  ==========================================================
kind                      layer
========================  ==========================================================
``rnn``                   vanilla: ``h_t = φ(x_t W_xh + h_{t-1} W_hh + b_h)``
``deep_transition``       ``h_t = φ(MLP_x(x_t) + MLP_h(h_{t-1}))``
``residual``              ``h_t = h_{t-1} + φ(MLP_x(x_t) + MLP_h(h_{t-1}))``
``shortcut``              Pascanu et al.'s DT(S)
========================  ==========================================================

Shape legend: T steps, B batch, D input size, H hidden size, M MLP width.
"""

from __future__ import annotations

import re

import numpy as np

from . import core
from ._checks import FLOAT_DTYPES, check_float_array, check_int
from .config import LayerConfig
from .params import check_params, layer_parameter_shapes

__all__ = [
    "infer_layer_config",
    "layer_forward",
    "layer_backward",
    "rnn_forward",
    "rnn_backward",
    "deep_transition_forward",
    "deep_transition_backward",
    "residual_forward",
    "residual_backward",
    "shortcut_forward",
    "shortcut_backward",
]


def _count_levels(params: dict, pattern: str) -> int:
    """How many consecutive names ``W_<letter>1, W_<letter>2, ...`` the params hold."""
    numbers = sorted(
        int(match.group(1)) for name in params if (match := re.fullmatch(pattern, name))
    )
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(
            f"params must number its MLP layers 1, 2, ... without gaps; got {numbers} for {pattern}"
        )
    return len(numbers)


def infer_layer_config(
    params: dict,
    *,
    skip: str = "none",
    activation: str = "tanh",
    mlp_activation=None,
    layer_skip: bool = False,
) -> LayerConfig:
    """Read a layer's sizes and depths from its parameter names and shapes.

    Parameters
    ----------
    params : dict of str to ndarray
        One layer's unprefixed parameters.
    skip, activation, mlp_activation, layer_skip
        As in :class:`numrnn.LayerConfig`; they cannot be read from the names.

    Returns
    -------
    LayerConfig
        Checked against ``params``: every expected name present with its shape.
    """
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of str to ndarray; got {type(params).__name__}")
    for name in ("W_xh", "W_hh"):
        if not isinstance(params.get(name), np.ndarray) or params[name].ndim != 2:
            raise ValueError(f"params must hold a 2-D array {name!r}; got keys {sorted(params)}")
    p = _count_levels(params, r"W_x(\d+)")
    q = _count_levels(params, r"W_h(\d+)")
    first_input = params["W_x1"] if p else params["W_xh"]
    width = params["W_h1"].shape[1] if q else (params["W_x1"].shape[1] if p else None)
    # H from b_h (H,) when it is there: then a misshapen W_hh is named as such, not W_xh.
    b_h = params.get("b_h")
    if isinstance(b_h, np.ndarray) and b_h.ndim == 1:
        H, source = b_h.shape[0], "b_h"
    else:
        H, source = params["W_hh"].shape[1], "W_hh's columns"
    config = LayerConfig(
        input_size=first_input.shape[0],
        hidden_size=H,
        transition_depth=q,
        input_depth=p,
        mlp_width=width,
        skip=skip,
        layer_skip=layer_skip,
        activation=activation,
        mlp_activation=mlp_activation,
    )
    dtype = params["W_hh"].dtype
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"params must be float32 or float64; got {dtype}")
    shapes = layer_parameter_shapes(config)
    if params["W_hh"].shape != shapes["W_hh"]:  # first: a wrong W_hh would make W_xh look wrong
        raise ValueError(
            f"params['W_hh'] must have shape {shapes['W_hh']} (H={H} from {source}); "
            f"got {params['W_hh'].shape}"
        )
    check_params(params, shapes, dtype)
    return config


def layer_forward(x, h0, params, config: LayerConfig):
    """Any recurrent layer, forward over a sequence (the checked :func:`numrnn.core.layer_forward`).

    Parameters
    ----------
    x : ndarray of shape (T, B, D)
    h0 : ndarray of shape (B, H) or None
        None means zeros.
    params : dict of str to ndarray
        The layer's unprefixed parameters.
    config : LayerConfig

    Returns
    -------
    h : ndarray of shape (T, B, H)
    cache : numrnn.core.LayerCache
    """
    if not isinstance(config, LayerConfig):
        raise TypeError(f"config must be a LayerConfig; got {type(config).__name__}")
    if not isinstance(params, dict) or not isinstance(params.get("W_hh"), np.ndarray):
        raise ValueError(
            "params must be a dict holding the layer's parameters as numpy arrays (at least 'W_hh')"
        )
    dtype = params["W_hh"].dtype
    check_params(params, layer_parameter_shapes(config), dtype)
    x = check_float_array(x, "x", ndim=3, dtype=dtype, shape_doc="(T, B, D)")
    T, B, D = x.shape
    if D != config.input_size or T < 1 or B < 1:
        raise ValueError(
            f"x must have shape (T, B, D) with T >= 1, B >= 1 and D={config.input_size}; "
            f"got {x.shape}"
        )
    H = config.hidden_size
    if h0 is None:
        h0 = np.zeros((B, H), dtype=dtype)
    h0 = check_float_array(h0, "h0", ndim=2, dtype=dtype, shape_doc="(B, H)")
    if h0.shape != (B, H):
        raise ValueError(f"h0 must have shape (B, H) = {(B, H)}; got {h0.shape}")
    return core.layer_forward(x, h0, params, config)


def layer_backward(dh, cache, *, window=None):
    """Any recurrent layer, backward (checked entry to :func:`numrnn.core.layer_backward`).

    Parameters
    ----------
    dh : ndarray of shape (T, B, H)
        ∂loss/∂h_t from above, for every step.
    cache : numrnn.core.LayerCache
        From the matching forward.
    window : int or None, default None
        Truncated-BPTT window.

    Returns
    -------
    numrnn.records.LayerGradients
        Reads as the triple ``dx, dh0, grads``: ``dx`` (T, B, D), ``dh0``
        (B, H), ``grads`` with the names and shapes of the layer's params;
        also ``dh_norms`` (T,) by name.
    """
    if not isinstance(cache, core.LayerCache):
        raise TypeError(
            f"cache must be the LayerCache a *_forward returned; got {type(cache).__name__}"
        )
    T, B = cache.states.shape[0] - 1, cache.states.shape[1]
    H = cache.config.hidden_size
    dh = check_float_array(dh, "dh", ndim=3, dtype=cache.states.dtype, shape_doc="(T, B, H)")
    if dh.shape != (T, B, H):
        raise ValueError(
            f"dh must have the shape of the forward's h, (T, B, H) = {(T, B, H)}; got {dh.shape}"
        )
    if window is not None:
        check_int(window, "window", minimum=1)
    return core.layer_backward(dh, cache, window=window)


def rnn_forward(x, h0, params, *, activation="tanh", mlp_activation=None, layer_skip=False):
    """Vanilla RNN layer: ``h_t = φ(x_t W_xh + h_{t-1} W_hh + b_h)``.

    Parameters
    ----------
    x : ndarray of shape (T, B, D)
    h0 : ndarray of shape (B, H) or None
        None means zeros.
    params : dict of str to ndarray
        ``W_xh`` (D, H), ``W_hh`` (H, H), ``b_h`` (H,); also ``W_x{j}, b_x{j}``
        for a deep input.
    activation : str, default "tanh"
        φ, the state activation.
    mlp_activation : str or None, default None
        ψ, the MLPs' activation; None means φ.
    layer_skip : bool, default False
        Residual connections inside the MLPs where widths match.

    Returns
    -------
    h : ndarray of shape (T, B, H)
    cache : numrnn.core.LayerCache
        Pass it to :func:`rnn_backward`.
    """
    config = infer_layer_config(
        params,
        skip="none",
        activation=activation,
        mlp_activation=mlp_activation,
        layer_skip=layer_skip,
    )
    return layer_forward(x, h0, params, config)


def deep_transition_forward(
    x, h0, params, *, activation="tanh", mlp_activation=None, layer_skip=False
):
    """Deep transition layer: ``h_t = φ(MLP_x(x_t) + MLP_h(h_{t-1}))``.

    Parameters
    ----------
    x : ndarray of shape (T, B, D)
    h0 : ndarray of shape (B, H) or None
        None means zeros.
    params : dict of str to ndarray
        ``W_xh``, ``W_h1 .. W_h{q}``, ``b_h1 .. b_h{q}``, ``W_hh``, ``b_h`` (and
        ``W_x{j}, b_x{j}``), with q >= 1.
    activation : str, default "tanh"
        φ, the state activation.
    mlp_activation : str or None, default None
        ψ, the MLPs' activation; None means φ.
    layer_skip : bool, default False
        Residual connections inside the MLPs where widths match.

    Returns
    -------
    h : ndarray of shape (T, B, H)
    cache : numrnn.core.LayerCache
        Pass it to :func:`deep_transition_backward`.
    """
    config = infer_layer_config(
        params,
        skip="none",
        activation=activation,
        mlp_activation=mlp_activation,
        layer_skip=layer_skip,
    )
    _require_transition(config, "deep_transition_forward", params)
    return layer_forward(x, h0, params, config)


def residual_forward(x, h0, params, *, activation="tanh", mlp_activation=None, layer_skip=False):
    """Deep transition with skip: ``h_t = h_{t-1} + φ(MLP_x(x_t) + MLP_h(h_{t-1}))``.

    Parameters
    ----------
    x : ndarray of shape (T, B, D)
    h0 : ndarray of shape (B, H) or None
        None means zeros.
    params : dict of str to ndarray
        As :func:`deep_transition_forward`; q = 0 (no ``W_h{j}``) gives a
        residual vanilla layer.
    activation : str, default "tanh"
        φ, the state activation.
    mlp_activation : str or None, default None
        ψ, the MLPs' activation; None means φ.
    layer_skip : bool, default False
        Residual connections inside the MLPs where widths match.

    Returns
    -------
    h : ndarray of shape (T, B, H)
    cache : numrnn.core.LayerCache
        Pass it to :func:`residual_backward`.
    """
    config = infer_layer_config(
        params,
        skip="residual",
        activation=activation,
        mlp_activation=mlp_activation,
        layer_skip=layer_skip,
    )
    return layer_forward(x, h0, params, config)


def shortcut_forward(x, h0, params, *, activation="tanh", mlp_activation=None, layer_skip=False):
    """Pascanu et al.'s DT(S) layer: the input joins the first transition layer, shortcuts the rest.

    ``g_1 = ψ(h_{t-1} W_h1 + u_t)``, ``g_j = ψ(g_{j-1} W_hj + h_{t-1} S_hj + b_hj)``,
    ``h_t = φ(g_q W_hh + h_{t-1} S_hh + b_h)``.

    Parameters
    ----------
    x : ndarray of shape (T, B, D)
    h0 : ndarray of shape (B, H) or None
        None means zeros.
    params : dict of str to ndarray
        ``W_xh`` (D, M), ``W_h1 .. W_h{q}``, ``S_h2 .. S_h{q}``, ``S_hh``,
        ``b_h1 .. b_h{q}``, ``W_hh``, ``b_h``, with q >= 1.
    activation : str, default "tanh"
        φ, the state activation.
    mlp_activation : str or None, default None
        ψ, the MLPs' activation; None means φ.
    layer_skip : bool, default False
        Residual connections inside the MLPs where widths match.

    Returns
    -------
    h : ndarray of shape (T, B, H)
    cache : numrnn.core.LayerCache
        Pass it to :func:`shortcut_backward`.
    """
    config = infer_layer_config(
        params,
        skip="shortcut",
        activation=activation,
        mlp_activation=mlp_activation,
        layer_skip=layer_skip,
    )
    return layer_forward(x, h0, params, config)


def _require_transition(config: LayerConfig, function: str, params: dict) -> None:
    if config.transition_depth < 1:
        raise ValueError(
            f"{function} needs a deep transition (params with W_h1); got keys {sorted(params)}"
        )


# Backward is one function for every kind: the cache knows the layer's config.
rnn_backward = deep_transition_backward = residual_backward = shortcut_backward = layer_backward
