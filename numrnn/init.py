"""Weight initialisation: Glorot/Xavier, orthogonal, identity (IRNN), spectral radius.

=============  ==================================================================
``init``       what the transition matrices (``W_h{j}``, ``W_hh``, ``S_h*``) get
=============  ==================================================================
"xavier"       Glorot uniform, ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``
"orthogonal"   (semi-)orthogonal, from the QR decomposition of a Gaussian matrix
"identity"     the identity (Le et al. 2015, IRNN); needs square matrices
=============  ==================================================================

All other weights (input and output MLPs) are Glorot uniform whatever ``init``
says. ``spectral_radius=rho`` then rescales a vanilla layer's ``W_hh`` so its
largest absolute eigenvalue is ``rho``. Biases are the constant ``bias``
(zero by default). Randomness comes only from the ``rng`` passed in.

**The residual branch starts small.** A residual layer computes
``h_t = h_{t-1} + φ(a_t)`` with ``a_t = u_t + z_t + b_h``: its branch ends in
the affine maps that form ``a_t``, the last level ``W_hh`` of ``MLP_h`` and the
last affine ``W_xh`` of ``MLP_x``. Drawn like any other layer, they make
``φ(a_t)`` of order 1, and the state then drifts by up to one unit per step:
over T = 50 steps it grows to tens of units and saturates everything it feeds.
The cure of very deep residual networks applies in time as in depth: start
each residual branch near zero so that the whole network starts near the
identity path and learns how much of each branch to use. Fixup (Zhang, Dauphin
& Ma, "Fixup Initialization: Residual Learning Without Normalization", ICLR
2019) initialises the last layer of every residual branch at zero; ReZero
(Bachlechner et al., "ReZero is All You Need: Fast Convergence at Large
Depth", 2020) multiplies each branch by a learned scalar that starts at zero.
numrnn scales ``W_hh`` and ``W_xh`` of every residual layer by
:data:`RESIDUAL_SCALE` (0.01) instead of zeroing them: increments of order 0.01 move the
state by at most about one unit over a hundred steps. It does not zero them: at zero, ``W_hh = 0``
would block every gradient into the lower levels of ``MLP_h`` at the first
step, and a gradient check of a freshly built model would compare zeros with
zeros. ``residual_scale=1`` gives the plain draw back.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_choice, check_number
from .config import ModelConfig
from .params import OUTPUT_PREFIX, layer_parameter_shapes, layer_prefix, output_parameter_shapes

__all__ = [
    "INITS",
    "RESIDUAL_SCALE",
    "glorot_uniform",
    "orthogonal",
    "scale_to_spectral_radius",
    "residual_branch_weights",
    "init_params",
]

INITS = ("xavier", "orthogonal", "identity")
RESIDUAL_SCALE = 0.01
"""The factor of the last affine maps of a residual branch at initialisation (module docstring)."""


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, int], dtype) -> np.ndarray:
    """Glorot/Xavier uniform matrix of shape ``(fan_in, fan_out)``.

    Keeps the variance of activations and gradients roughly constant across
    a layer: ``Var = 2 / (fan_in + fan_out)``.
    """
    fan_in, fan_out = shape
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def orthogonal(rng: np.random.Generator, shape: tuple[int, int], dtype) -> np.ndarray:
    """A (semi-)orthogonal matrix of shape ``(n, m)``: orthonormal rows or columns.

    The Q factor of a Gaussian matrix, with signs fixed so the result is
    uniformly (Haar) distributed.
    """
    n, m = shape
    gaussian = rng.standard_normal((max(n, m), min(n, m)))
    q, r = np.linalg.qr(gaussian)
    q *= np.sign(np.diag(r))  # make the decomposition unique, hence Haar-uniform
    matrix = q if n >= m else q.T
    return matrix.astype(dtype)


def scale_to_spectral_radius(matrix: np.ndarray, radius: float) -> np.ndarray:
    """Rescale a square matrix so that its largest absolute eigenvalue is ``radius``.

    Parameters
    ----------
    matrix : ndarray of shape (H, H)
    radius : float
        The target spectral radius, > 0.

    Returns
    -------
    ndarray of shape (H, H)
        A new array, same dtype.
    """
    current = np.max(np.abs(np.linalg.eigvals(matrix.astype(np.float64))))
    if current == 0:
        raise ValueError("cannot rescale a matrix whose spectral radius is 0 to spectral_radius")
    return (matrix * (radius / current)).astype(matrix.dtype)


def _is_transition_weight(name: str) -> bool:
    return name.startswith("W_h") and name != "W_hy" or name.startswith("S_h")


def residual_branch_weights(config: ModelConfig) -> list[str]:
    """The names of the weights that end a residual branch: ``W_hh`` and ``W_xh`` of each
    residual layer.

    Parameters
    ----------
    config : ModelConfig

    Returns
    -------
    list of str
        E.g. ``["layer1.W_xh", "layer1.W_hh"]`` for one residual layer; empty
        when no layer has ``skip="residual"``.
    """
    names = []
    for l, layer in enumerate(config.layers, start=1):
        if layer.skip == "residual":
            names += [layer_prefix(l) + "W_xh", layer_prefix(l) + "W_hh"]
    return names


def init_params(
    config: ModelConfig,
    *,
    init: str = "xavier",
    spectral_radius: float | None = None,
    bias: float = 0.0,
    residual_scale: float = RESIDUAL_SCALE,
    dtype=np.float64,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Create every parameter of a model.

    Parameters
    ----------
    config : ModelConfig
    init : {"xavier", "orthogonal", "identity"}, default "xavier"
        How the transition matrices are drawn (module docstring).
    spectral_radius : float or None, default None
        Rescale each vanilla layer's ``W_hh`` (shape (H, H)) to this spectral
        radius. Only for layers with ``transition_depth == 0``, whose one
        recurrent matrix has eigenvalues.
    bias : float, default 0.0
        Value of every bias.
    residual_scale : float, default RESIDUAL_SCALE (0.01)
        Factor of ``W_xh`` and ``W_hh`` in every residual layer, the affine maps
        that end its branch (module docstring: Fixup, ReZero); 1 = the plain draw.
    dtype : np.float32 or np.float64
    rng : numpy.random.Generator

    Returns
    -------
    dict of str to ndarray
        Names and shapes of :func:`numrnn.params.model_parameter_shapes`.
    """
    check_choice(init, "init", INITS)
    if spectral_radius is not None:
        spectral_radius = check_number(spectral_radius, "spectral_radius", positive=True)
        deep = [l for l, layer in enumerate(config.layers, start=1) if layer.transition_depth > 0]
        if deep:
            raise ValueError(
                "spectral_radius rescales the single recurrent matrix W_hh of a vanilla layer; "
                f"layers {deep} have transition_depth > 0, "
                "whose recurrence is an MLP with no spectral radius"
            )
    bias = check_number(bias, "bias")
    residual_scale = check_number(residual_scale, "residual_scale")
    if residual_scale < 0:
        raise ValueError(
            f"residual_scale must be >= 0 (1 = the plain draw); got {residual_scale!r}"
        )
    branch_ends = set(residual_branch_weights(config))

    groups = [
        (layer_prefix(l), layer_parameter_shapes(layer))
        for l, layer in enumerate(config.layers, start=1)
    ]
    groups.append((OUTPUT_PREFIX, output_parameter_shapes(config)))
    params = {}
    for prefix, shapes in groups:
        for name, shape in shapes.items():
            if len(shape) == 1:
                value = np.full(shape, bias, dtype=dtype)
            elif prefix != OUTPUT_PREFIX and _is_transition_weight(name) and init == "orthogonal":
                value = orthogonal(rng, shape, dtype)
            elif prefix != OUTPUT_PREFIX and name.startswith("W_h") and init == "identity":
                if shape[0] != shape[1]:
                    raise ValueError(
                        "init='identity' needs square transition matrices; "
                        f"{prefix}{name} has shape {shape} "
                        "(set mlp_width equal to hidden_size)"
                    )
                value = np.eye(shape[0], dtype=dtype)
            else:
                value = glorot_uniform(rng, shape, dtype)
            if name == "W_hh" and prefix != OUTPUT_PREFIX and spectral_radius is not None:
                value = scale_to_spectral_radius(value, spectral_radius)
            if prefix + name in branch_ends:
                value = (value * residual_scale).astype(dtype)  # the branch starts near zero
            params[prefix + name] = value
    return params
