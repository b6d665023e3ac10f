"""Per-step Jacobians ``∂h_t/∂h_{t-1}``: the other classic gradient-flow diagnostic.

The gradient reaching ``h_1`` from a loss at step T is a product of T - 1
step Jacobians (BPTT, ``docs/derivations.md``, (R.8)):
``dh_{t-1} = dh_t J_t`` in the row convention, with
``J_t[i, k] = ∂h_t[i] / ∂h_{t-1}[k]``. If their norms stay below 1 the
gradient vanishes exponentially in the distance; above 1 it can explode.

The backward step (R.6)–(R.8) is linear in ``dh_t``, so pushing the H unit
vectors through it gives the H rows of ``J_t``. Nothing in one step's
Jacobian depends on another step, so all T steps and B sequences are done
at once, with no time loop: the T·B·H unit vectors go through the core's own
backward step (:func:`numrnn.core.step_jacobians`), the chain rule the
engine runs, not a copy of it.

For a vanilla tanh layer this is ``J_t = diag(1 - h_t²) W_hhᵀ``.

Shape legend: T steps, B batch, H hidden size, L layers.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import core, network
from ._checks import check_int
from .config import ModelConfig
from .core import LayerCache
from .model import DeepRNN
from .params import OUTPUT_PREFIX, model_parameter_shapes

__all__ = [
    "layer_step_jacobians",
    "step_jacobians",
    "jacobian_norms",
    "jacobian_spectra",
    "span_norms",
    "parameter_counts",
    "sequential_depth",
    "SequentialDepth",
    "log_gradient_ratio",
    "gradient_ratio",
    "decay_rate",
    "VANISHING_BELOW",
    "EXPLODING_ABOVE",
    "flow_verdict",
    "last_step_problem",
    "gradient_flow",
    "FlowSummary",
    "summarize",
    "ArchitectureSummary",
    "LayerFlow",
    "FlowByLayer",
    "flow_by_layer",
]


def layer_step_jacobians(cache: LayerCache) -> np.ndarray:
    """``∂h_t/∂h_{t-1}`` of one layer for every step and sequence.

    Computed by the core's own backward step (:func:`numrnn.core.step_jacobians`).

    Parameters
    ----------
    cache : numrnn.core.LayerCache
        From :func:`numrnn.core.layer_forward`.

    Returns
    -------
    ndarray of shape (T, B, H, H)
        ``J[t, b, i, k] = ∂h_{t+1}[b, i] / ∂h_t[b, k]`` (t = 0 is the step
        from ``h_0`` to ``h_1``).
    """
    return core.step_jacobians(cache)


def step_jacobians(model, x, h0=None) -> list:
    """``∂h_t^(l)/∂h_{t-1}^(l)`` for every layer of a model, step and sequence.

    Parameters
    ----------
    model : numrnn.DeepRNN
    x : ndarray of shape (T, B, D)
    h0 : None, or list of ndarray of shape (B, H_l)

    Returns
    -------
    list of ndarray of shape (T, B, H_l, H_l)
        One per layer, layer 1 first; see :func:`layer_step_jacobians`.
    """
    x, h0 = model.check_inputs(x, h0)  # the model's own argument checks, clear messages
    _, _, cache = network.forward(model.params, model.config, x, h0)
    return [layer_step_jacobians(layer_cache) for layer_cache in cache.layer_caches]


def jacobian_norms(model, x, h0=None) -> np.ndarray:
    """Spectral norm of every step Jacobian, averaged over the batch.

    Parameters
    ----------
    model : numrnn.DeepRNN
    x : ndarray of shape (T, B, D)
    h0 : None, or list of ndarray of shape (B, H_l)

    Returns
    -------
    ndarray of shape (L, T)
        ``mean_b ‖∂h_t^(l)/∂h_{t-1}^(l)‖₂``: below 1 the gradient shrinks
        through that step, above 1 it can grow.
    """
    jacobians = step_jacobians(model, x, h0)
    spectral = [np.linalg.norm(jacobian, ord=2, axis=(-2, -1)) for jacobian in jacobians]  # (T, B)
    return np.stack([norms.mean(axis=1) for norms in spectral])


# ========================================================================== gradient-flow summaries
#
# Everything below builds on the two measurements above and on the core's own grad_norms: no
# copy of the chain rule of its own. Shape legend as in the module docstring.

VANISHING_BELOW = 0.95
"""Per-step rate below which :func:`flow_verdict` says "vanishing" (×0.006 over 100 steps)."""

EXPLODING_ABOVE = 1.05
"""Per-step rate above which :func:`flow_verdict` says "exploding" (×131 over 100 steps)."""


class SequentialDepth(NamedTuple):
    """How many nonlinearities the longest path of one step goes through.

    Attributes
    ----------
    recurrent : int
        On the path ``h_{t-1} -> h_t``, the longest over the layers: q + 1 for
        a layer of transition depth q (q ψ's and φ). A residual or DT(S) skip
        adds a *shorter* path (0 or 1 nonlinearities) but not a longer one, so
        it leaves this number unchanged.
    input_to_output : int
        On the path ``x_t -> y_t`` of one step, through every layer and
        ``MLP_o``: per layer p + 1 (``MLP_x``'s p ψ's, then φ), plus q for
        DT(S), whose input joins the first transition level; plus r for
        ``MLP_o``. The loss's softmax or sigmoid is not counted.
    """

    recurrent: int
    input_to_output: int


class FlowSummary(NamedTuple):
    """Result of :func:`gradient_flow`.

    Attributes
    ----------
    grad_norms : ndarray of shape (L, T)
        ``‖∂loss/∂h_t^(l)‖`` with the loss on the last step only (row l - 1 is
        layer l, column t - 1 is step t).
    ratio : float
        :func:`gradient_ratio` of the chosen layer's row: ``‖dh_1‖ / ‖dh_T‖``.
    rate : float
        :func:`decay_rate` of that row: the fitted factor per step back in time.
    verdict : str
        :func:`flow_verdict` of ``ratio`` at this T.
    """

    grad_norms: np.ndarray
    ratio: float
    rate: float
    verdict: str


def _config_of(model) -> ModelConfig:
    """The ModelConfig of a DeepRNN, or ``model`` itself if it is a ModelConfig."""
    if isinstance(model, ModelConfig):
        return model
    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig):
        raise TypeError(
            f"model must be a numrnn.DeepRNN (or a ModelConfig); got {type(model).__name__}"
        )
    return config


def _check_model(model) -> None:
    if not isinstance(getattr(model, "config", None), ModelConfig) or not isinstance(
        getattr(model, "params", None), dict
    ):
        raise TypeError(f"model must be a numrnn.DeepRNN; got {type(model).__name__}")


def parameter_counts(model) -> dict:
    """The number of parameters by component: input MLP, transition, output MLP.

    Parameters
    ----------
    model : numrnn.DeepRNN or numrnn.ModelConfig
        Only the configuration is read, so a config counts without building.

    Returns
    -------
    dict of str to int
        ``"input"``: ``MLP_x`` of every layer (``W_x{j}, b_x{j}, W_xh``);
        ``"transition"``: ``MLP_h`` of every layer, its biases and DT(S)'s
        shortcuts (``W_h{j}, b_h{j}, W_hh, b_h, S_h{j}, S_hh``);
        ``"output"``: ``MLP_o`` (``output.*``); ``"total"``: their sum, equal
        to ``model.num_params()``.

    Raises
    ------
    TypeError
        If ``model`` is neither a DeepRNN nor a ModelConfig.
    """
    config = _config_of(model)
    counts = {"input": 0, "transition": 0, "output": 0}
    for name, shape in model_parameter_shapes(config).items():
        size = int(np.prod(shape))
        if name.startswith(OUTPUT_PREFIX):
            counts["output"] += size
        elif name.split(".", 1)[1].startswith(("W_x", "b_x")):  # W_x{j}, b_x{j}, W_xh
            counts["input"] += size
        else:  # W_h*, b_h*, S_h*
            counts["transition"] += size
    counts["total"] = counts["input"] + counts["transition"] + counts["output"]
    return counts


def sequential_depth(config) -> SequentialDepth:
    """Nonlinearities on the longest recurrent path and on the longest input-to-output path.

    Parameters
    ----------
    config : numrnn.ModelConfig or numrnn.DeepRNN

    Returns
    -------
    SequentialDepth
        ``recurrent = max_l (q_l + 1)``;
        ``input_to_output = Σ_l (p_l + 1 + [skip_l = shortcut] q_l) + r``.

    Raises
    ------
    TypeError
        If ``config`` is neither a ModelConfig nor a DeepRNN.
    """
    config = _config_of(config)
    recurrent = max(layer.transition_depth + 1 for layer in config.layers)
    through_layers = sum(
        layer.input_depth + 1 + (layer.transition_depth if layer.skip == "shortcut" else 0)
        for layer in config.layers
    )
    return SequentialDepth(recurrent, through_layers + config.output_depth)


def _as_norm_curve(norms, name: str = "norms") -> np.ndarray:
    """``norms`` as a float64 (T,) array of norms >= 0, no NaN, T >= 2."""
    if isinstance(norms, (str, bytes, dict)) or not hasattr(norms, "__len__"):
        raise TypeError(
            f"{name} must be an array of shape (T,) of gradient norms; got {type(norms).__name__}"
        )
    array = np.asarray(norms)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if array.ndim != 1 or array.size < 2:
        raise ValueError(f"{name} must have shape (T,) with T >= 2; got shape {array.shape}")
    array = array.astype(np.float64)
    if np.isnan(array).any():
        raise ValueError(f"{name} must not hold NaN; got {int(np.isnan(array).sum())} NaN entries")
    if (array < 0).any():
        raise ValueError(f"{name} must be >= 0 (they are norms); got {array.min()}")
    return array


def log_gradient_ratio(norms) -> float:
    """``ln(norms[0] / norms[-1])``, which stays finite where the ratio itself over- or underflows.

    Parameters
    ----------
    norms : array_like of shape (T,)
        ``‖∂loss/∂h_t‖`` for t = 1..T, T >= 2.

    Returns
    -------
    float
        ``-inf`` if ``norms[0]`` is 0 (the gradient vanished to an exact 0),
        ``+inf`` if ``norms[0]`` is inf (it overflowed).

    Raises
    ------
    TypeError
        If ``norms`` is not an array of numbers.
    ValueError
        If ``norms`` is not (T,) with T >= 2, has NaN or negative entries, or
        ``norms[-1]`` is 0 or inf (no finite gradient reaches step T, so no
        ratio is defined).
    """
    norms = _as_norm_curve(norms)
    first, last = norms[0], norms[-1]
    if last == 0 or not np.isfinite(last):
        raise ValueError(
            f"norms[-1] (the gradient at step T) must be finite and > 0 for a ratio; got {last}"
        )
    with np.errstate(divide="ignore"):
        return float(np.log(first) - np.log(last))  # log(0) = -inf, log(inf) = inf


def gradient_ratio(norms) -> float:
    """``‖∂loss/∂h_1‖ / ‖∂loss/∂h_T‖ = norms[0] / norms[-1]``, computed in the log domain.

    Parameters
    ----------
    norms : array_like of shape (T,)
        ``‖∂loss/∂h_t‖`` for t = 1..T, with the loss on step T only (one row
        of ``info.grad_norms``).

    Returns
    -------
    float
        ``exp(ln norms[0] - ln norms[-1])``: the two logs never over- or
        underflow, so the ratio is exact whenever it is a float; a ratio
        beyond the float range is ``0.0`` (below ~1e-308) or ``inf`` (above
        ~1e308). ``norms[0] = 0`` gives ``0.0``, ``norms[0] = inf`` gives
        ``inf``. Use :func:`log_gradient_ratio` for the log itself.

    Raises
    ------
    TypeError, ValueError
        As :func:`log_gradient_ratio` (``norms[-1]`` must be finite and > 0).
    """
    with np.errstate(over="ignore"):
        return float(np.exp(log_gradient_ratio(norms)))


def decay_rate(norms) -> float:
    """The per-step factor of a geometric fit ``‖dh_t‖ ≈ C · rate^(T - t)``.

    A least-squares line through ``(T - t, ln ‖dh_t‖)``; the rate is
    ``exp(slope)``: below 1 the gradient shrinks with each step back in time,
    above 1 it grows. For a linear RNN whose ``W_hh`` is ρ times an orthogonal
    matrix the fit is exact and the rate is ρ.

    Parameters
    ----------
    norms : array_like of shape (T,)
        ``‖∂loss/∂h_t‖`` for t = 1..T (one row of ``info.grad_norms``).

    Returns
    -------
    float
        Entries that are exactly 0 (an exact zero, or a gradient below the
        float range) have no logarithm and are left out of the fit; if only
        the entry at step T is left, the gradient vanished in one step and
        the rate is ``0.0``.

    Raises
    ------
    TypeError
        If ``norms`` is not an array of numbers.
    ValueError
        If ``norms`` is not (T,) with T >= 2, has NaN, negative or inf entries,
        or fewer than two positive entries with ``norms[-1]`` among them.
    """
    norms = _as_norm_curve(norms)
    if np.isinf(norms).any():
        raise ValueError(
            f"norms must be finite for a fit; got {int(np.isinf(norms).sum())} inf entries "
            "(the gradient overflowed: the flow is exploding)"
        )
    distance = np.arange(norms.size - 1, -1, -1, dtype=np.float64)  # T - t for t = 1..T
    kept = norms > 0
    if kept.sum() < 2:
        if kept[-1]:
            return 0.0
        raise ValueError(
            f"norms must have at least two entries > 0 for a fit; got {int(kept.sum())}"
        )
    slope = np.polyfit(distance[kept], np.log(norms[kept]), 1)[0]  # ln ‖dh‖ ≈ slope · (T - t) + c
    return float(np.exp(slope))


def flow_verdict(ratio, T) -> str:
    """ "vanishing", "stable" or "exploding", from the gradient ratio over T steps.

    The ratio is turned into the geometric mean factor per step,
    ``rate = ratio^(1 / (T - 1))``, so that one threshold serves every T:

    * ``rate < VANISHING_BELOW = 0.95``: "vanishing" (over 100 steps the
      gradient shrinks by more than ``0.95^99 ≈ 6e-3``);
    * ``rate > EXPLODING_ABOVE = 1.05``: "exploding" (it grows by more than
      ``1.05^99 ≈ 125``);
    * otherwise "stable".

    Parameters
    ----------
    ratio : float
        ``‖dh_1‖ / ‖dh_T‖`` (:func:`gradient_ratio`), >= 0; 0 and inf are
        allowed (the extremes of vanishing and exploding).
    T : int
        The number of steps the ratio spans, >= 2.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If ``ratio`` is not a real number or ``T`` not an integer.
    ValueError
        If ``ratio`` is negative or NaN, or ``T < 2``.
    """
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real):
        raise TypeError(
            f"ratio must be a real number; got {ratio!r} of type {type(ratio).__name__}"
        )
    T = check_int(T, "T", minimum=2)
    if np.isnan(ratio) or ratio < 0:
        raise ValueError(f"ratio must be >= 0 (a ratio of norms); got {ratio!r}")
    with np.errstate(divide="ignore"):
        rate = float(np.exp(np.log(float(ratio)) / (T - 1)))
    if rate < VANISHING_BELOW:
        return "vanishing"
    if rate > EXPLODING_ABOVE:
        return "exploding"
    return "stable"


def _check_layer(layer, L: int) -> int:
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral):
        raise TypeError(f"layer must be an integer row index such as -1 (top layer); got {layer!r}")
    if not -L <= layer < L:
        raise ValueError(f"layer must be in [-{L}, {L}) for a model with L={L} layers; got {layer}")
    return int(layer)


def last_step_problem(model, T, batch_size=8, seed=0):
    """Random inputs and mse targets scored on the last step only, for ``model``.

    Parameters
    ----------
    model : numrnn.DeepRNN
    T : int >= 2
    batch_size : int >= 1, default 8
    seed : int >= 0, default 0

    Returns
    -------
    x : ndarray of shape (T, B, D)
        Standard normal, in the model's dtype.
    targets : ndarray of shape (T, B, O)
        Standard normal, in the model's dtype.
    mask : ndarray of shape (T, B)
        1 on the last step, 0 elsewhere: the loss is ``mse`` at step T only.
    """
    _check_model(model)
    T = check_int(T, "T", minimum=2)
    B = check_int(batch_size, "batch_size", minimum=1)
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    config = model.config
    x = rng.standard_normal((T, B, config.input_size)).astype(model.dtype)  # (T, B, D)
    targets = rng.standard_normal((T, B, config.output_size)).astype(model.dtype)  # (T, B, O)
    mask = np.zeros((T, B), dtype=model.dtype)
    mask[-1] = 1  # scored at step T only
    return x, targets, mask


def gradient_flow(model, T=100, batch_size=8, seed=0, layer=-1) -> FlowSummary:
    """The gradient-norm map with the loss on the last step, and its ratio, rate and verdict.

    The model runs on standard-normal inputs (:func:`last_step_problem`) with
    an ``mse`` loss at step T only, so every gradient the core reports at an
    earlier step has come back through time. The norms are the core's own
    ``info.grad_norms`` (the same backward pass that trains the model).

    Parameters
    ----------
    model : numrnn.DeepRNN
    T : int >= 2, default 100
    batch_size : int >= 1, default 8
    seed : int >= 0, default 0
        Seed of the inputs and targets (the weights are the model's).
    layer : int, default -1
        Which row of the (L, T) map the ratio, rate and verdict describe,
        Python-style: -1 is the top layer.

    Returns
    -------
    FlowSummary

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it; ValueError if the gradient at step T
        of the chosen layer is 0 or not finite.
    """
    x, targets, mask = last_step_problem(model, T, batch_size, seed)
    layer = _check_layer(layer, model.config.num_layers)
    _, _, info = model.loss_and_grads(x, targets, loss="mse", mask=mask, need_dx=False)
    grad_norms = np.asarray(info.grad_norms, dtype=np.float64)
    row = grad_norms[layer]
    ratio = gradient_ratio(row)
    try:
        rate = decay_rate(row)
    except ValueError:  # inf entries: the gradient overflowed, no fit
        rate = float("inf")
    return FlowSummary(grad_norms, ratio, rate, flow_verdict(ratio, T))


def jacobian_spectra(model, x, h0=None) -> list:
    """Singular values of every step Jacobian ``∂h_t^(l)/∂h_{t-1}^(l)``.

    Parameters
    ----------
    model : numrnn.DeepRNN
    x : ndarray of shape (T, B, D)
    h0 : None, or list of ndarray of shape (B, H_l)

    Returns
    -------
    list of ndarray of shape (T, B, H_l)
        One per layer, layer 1 first; entry ``[t - 1, b]`` holds the singular
        values of step t's Jacobian for sequence b, largest first (so
        ``[..., 0]`` is the spectral norm).
    """
    return [np.linalg.svd(jacobian, compute_uv=False) for jacobian in step_jacobians(model, x, h0)]


def span_norms(model, x, h0=None, layer=-1, log=False) -> np.ndarray:
    """``‖∂h_T/∂h_t‖₂`` against the distance T - t: how a perturbation of h_t reaches h_T.

    ``∂h_T/∂h_t = J_T J_{T-1} ··· J_{t+1}`` with ``J_s = ∂h_s/∂h_{s-1}``
    (:func:`step_jacobians`). The products are formed from step T backwards,
    rescaled at each step and the scale kept as a logarithm, so a norm far
    below or above the float range is still computed exactly in ``log=True``.

    Parameters
    ----------
    model : numrnn.DeepRNN
    x : ndarray of shape (T, B, D)
    h0 : None, or list of ndarray of shape (B, H_l)
    layer : int, default -1
        Which layer, Python-style: -1 is the top one.
    log : bool, default False
        Return ``ln`` of the norms instead of the norms.

    Returns
    -------
    ndarray of shape (T,)
        Entry d (d = 0..T-1) is ``mean_b ‖∂h_T/∂h_{T-d}‖₂`` for sequence b of
        the batch: entry 0 is ``‖I‖₂ = 1`` (t = T), entry T - 1 is t = 1. So
        it is ordered by **distance**, the reverse of ``info.grad_norms``'
        order by step.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it.
    """
    _check_model(model)
    layer = _check_layer(layer, model.config.num_layers)
    if not isinstance(log, (bool, np.bool_)):
        raise TypeError(f"log must be True or False; got {log!r}")
    jacobians = step_jacobians(model, x, h0)[layer]  # (T, B, H, H), [s-1] = ∂h_s/∂h_{s-1}
    T, B, H, _ = jacobians.shape
    product = np.broadcast_to(np.eye(H), (B, H, H)).astype(np.float64)  # ∂h_T/∂h_T = I
    log_scale = np.zeros(B)  # product = exp(log_scale) · (this array)
    log_norms = np.empty((T, B))
    for d in range(T):
        if d > 0:
            product = product @ jacobians[T - d]  # ∂h_T/∂h_{T-d} = ∂h_T/∂h_{T-d+1} J_{T-d+1}
            size = np.linalg.norm(product, axis=(-2, -1))  # Frobenius norm, (B,)
            size = np.where(size > 0, size, 1.0)  # an exact 0 stays 0
            product = product / size[:, None, None]
            log_scale += np.log(size)
        with np.errstate(divide="ignore"):
            log_norms[d] = log_scale + np.log(np.linalg.norm(product, ord=2, axis=(-2, -1)))
    top = log_norms.max(axis=1, keepdims=True)  # mean over b in the log domain
    finite_top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        log_mean = finite_top[:, 0] + np.log(np.exp(log_norms - finite_top).mean(axis=1))
    return log_mean if log else np.exp(log_mean)


@dataclass
class ArchitectureSummary:
    """One model's gradient-flow card: what :func:`summarize` measures.

    Attributes
    ----------
    architecture : str
        The layers' pattern names (``LayerConfig.architecture``), joined by " / ".
    parameters : dict of str to int
        :func:`parameter_counts`: ``input``, ``transition``, ``output``, ``total``.
    sequential_depth : SequentialDepth
    T : int
        The length the gradient was sent back over.
    ratio : float
        ``‖dh_1‖ / ‖dh_T‖`` of the top layer, loss on step T (may be 0 or inf).
    log10_ratio : float
        Its base-10 logarithm, finite whenever ``‖dh_1‖`` is neither 0 nor inf.
    rate : float
        :func:`decay_rate`, the fitted factor per step.
    verdict : str
        :func:`flow_verdict`: "vanishing", "stable" or "exploding".
    thresholds : dict of str to float
        ``{"vanishing_below": VANISHING_BELOW, "exploding_above": EXPLODING_ABOVE}``, per-step
        rates.
    """

    architecture: str
    parameters: dict
    sequential_depth: SequentialDepth
    T: int
    ratio: float
    log10_ratio: float
    rate: float
    verdict: str
    thresholds: dict

    def to_dict(self) -> dict:
        """A JSON-ready dict (strict JSON: a ratio of 0 stays 0.0, an inf one becomes None)."""

        def finite(value):
            """The value as a float, or None if it is not finite."""
            return float(value) if np.isfinite(value) else None

        return {
            "architecture": self.architecture,
            "parameters": dict(self.parameters),
            "sequential_depth": self.sequential_depth._asdict(),
            "T": self.T,
            "ratio": finite(self.ratio),
            "log10_ratio": finite(self.log10_ratio),
            "rate": finite(self.rate),
            "verdict": self.verdict,
            "thresholds": dict(self.thresholds),
        }


def summarize(model, T=100, batch_size=8, seed=0) -> ArchitectureSummary:
    """Parameter counts, sequential depth and the top layer's gradient flow of one model.

    Parameters
    ----------
    model : numrnn.DeepRNN
    T : int >= 2, default 100
    batch_size : int >= 1, default 8
    seed : int >= 0, default 0
        See :func:`gradient_flow`.

    Returns
    -------
    ArchitectureSummary
    """
    _check_model(model)
    flow = gradient_flow(model, T, batch_size=batch_size, seed=seed)
    log_ratio = log_gradient_ratio(flow.grad_norms[-1])
    return ArchitectureSummary(
        architecture=" / ".join(layer.architecture for layer in model.config.layers),
        parameters=parameter_counts(model),
        sequential_depth=sequential_depth(model.config),
        T=int(T),
        ratio=flow.ratio,
        log10_ratio=log_ratio / np.log(10.0),
        rate=flow.rate,
        verdict=flow.verdict,
        thresholds={"vanishing_below": VANISHING_BELOW, "exploding_above": EXPLODING_ABOVE},
    )


class LayerFlow(NamedTuple):
    """The gradient flow through one layer of a stack: :func:`flow_by_layer`'s row.

    Attributes
    ----------
    layer : int
        1-based, as in the maths: layer 1 reads x.
    log10_ratio : float
        ``log10(‖∂loss/∂h_1^(l)‖ / ‖∂loss/∂h_T^(l)‖)``, the loss on step T's
        output only. When ``bound`` is set, the bound itself.
    bound : str or None
        None when both norms are finite and > 0 in float64. Otherwise a norm
        that is 0 even in float64 is replaced by the smallest normal float64
        (≈ 2.2e-308) and one that is inf by the largest (≈ 1.8e308), and
        ``bound`` says on which side of ``log10_ratio`` the true ratio lies:
        ``"<"`` for ``‖dh_1‖ = 0`` or ``‖dh_T‖ = inf``, ``">"`` for
        ``‖dh_1‖ = inf`` or ``‖dh_T‖ = 0``.
    verdict : str
        :func:`flow_verdict` of the ratio over T steps: "vanishing",
        "stable" or "exploding".
    """

    layer: int
    log10_ratio: float
    bound: str | None
    verdict: str

    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict (a bound's log10_ratio is a finite number)."""
        return self._asdict()


class FlowByLayer(NamedTuple):
    """Result of :func:`flow_by_layer`: every layer's flow and the worst of them.

    Attributes
    ----------
    layers : tuple of LayerFlow
        Layer 1 first.
    worst : LayerFlow
        The layer furthest outside the stable band of per-step rates
        ``[VANISHING_BELOW, EXPLODING_ABOVE]`` (or, if all are inside, the one
        nearest its edge); a tie goes to the lower layer.
    verdict : str
        ``worst.verdict``: a model is "stable" only if every layer is.
    grad_norms : ndarray of shape (L, T), float64
        ``‖∂loss/∂h_t^(l)‖`` (row l - 1 is layer l, column t - 1 is step t).
    """

    layers: tuple
    worst: LayerFlow
    verdict: str
    grad_norms: np.ndarray

    def to_dict(self) -> dict:
        """A JSON-ready dict: ``layers`` and ``worst`` as dicts, ``grad_norms`` as nested
        lists with None for an entry that is not finite."""
        return {
            "layers": [layer.to_dict() for layer in self.layers],
            "worst": self.worst.to_dict(),
            "verdict": self.verdict,
            "grad_norms": [
                [float(norm) if np.isfinite(norm) else None for norm in row]
                for row in self.grad_norms
            ],
        }


def _as_float64_copy(value, name: str) -> np.ndarray:
    """A float64 copy of an array of real numbers (bool, int or float), for a measurement."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy array; got {type(value).__name__}")
    if not (
        np.issubdtype(value.dtype, np.floating)
        or np.issubdtype(value.dtype, np.integer)
        or value.dtype == np.bool_
    ):
        raise TypeError(f"{name} must hold real numbers; got dtype {value.dtype}")
    return value.astype(np.float64)  # always a copy


def _finite_end(norm: float, at_start: bool) -> tuple:
    """A norm at one end of the ratio, with 0 or inf replaced by float64's extreme.

    Returns the norm to use and the bound it implies on ``‖dh_1‖ / ‖dh_T‖``: None
    when the norm was a number; "<" or ">" when the true ratio is below or above the
    one computed with the extreme (``‖dh_1‖ = 0`` or ``‖dh_T‖ = inf``: below).
    """
    if norm == 0:
        return np.finfo(np.float64).tiny, "<" if at_start else ">"
    if np.isinf(norm):
        return np.finfo(np.float64).max, ">" if at_start else "<"
    return norm, None


def _layer_flow(layer: int, norms: np.ndarray) -> LayerFlow:
    """One layer's LayerFlow from its row of norms (T,), float64."""
    T = norms.size
    if np.isnan(norms).any():
        raise ValueError(
            f"the gradient norms of layer {layer} hold NaN: the forward or backward pass "
            "overflowed (a diverged model has no gradient flow)"
        )
    first, first_bound = _finite_end(norms[0], at_start=True)
    last, last_bound = _finite_end(norms[-1], at_start=False)
    if first_bound and last_bound and first_bound != last_bound:
        raise ValueError(
            f"layer {layer} has ‖dh_1‖ = {norms[0]} and ‖dh_T‖ = {norms[-1]} even in float64: "
            "no ratio is defined (does the layer's output reach the loss?)"
        )
    log10_ratio = float(np.log10(first) - np.log10(last))  # ‖dh_1‖ / ‖dh_T‖, in the log domain
    with np.errstate(over="ignore", under="ignore"):
        ratio = float(np.power(10.0, log10_ratio))  # 0 or inf beyond the float range: still decides
    return LayerFlow(layer, log10_ratio, first_bound or last_bound, flow_verdict(ratio, T))


def _outside_stable_band(flow: LayerFlow, T: int) -> float:
    """How far the layer's per-step log10 rate lies outside the stable band (< 0: inside)."""
    per_step = flow.log10_ratio / (T - 1)
    return max(np.log10(VANISHING_BELOW) - per_step, per_step - np.log10(EXPLODING_ABOVE))


def flow_by_layer(model, x, h0=None, *, seed=0) -> FlowByLayer:
    """Gradient flow through every layer, on the task's own inputs, measured in float64.

    A float64 copy of the parameters, ``x`` and ``h0`` runs forward
    (:func:`numrnn.network.forward`); a fixed random unit upstream gradient on
    the outputs of the **last step only** (``∂loss/∂y_T``: standard normal
    entries from ``seed``, scaled to Frobenius norm 1; zero at every other
    step) goes back through the core's own backward pass
    (:func:`numrnn.network.backward`), which reads ``‖∂loss/∂h_t^(l)‖`` for
    every layer and step. Each layer's ratio ``‖dh_1‖ / ‖dh_T‖`` gets
    :func:`flow_verdict`'s verdict, and the model's verdict is its worst
    layer's, so a stack whose lower layer explodes is never "stable".

    Below the top layer, ``∂loss/∂h_t^(l)`` sums every path from step T:
    back through layer l's own recurrence, and up into the layers above at
    each later step and back through theirs. So a lower layer's ratio can
    exceed 1 even when each layer's recurrence alone is a rotation (the
    paths add up); it is the quantity the heat-map of ``grad_norms`` shows.

    float64 matters: a deep transition's gradient can fall below float32's
    range (``‖dh_1‖`` = 0 in float32) long before float64's; if it is 0 (or
    inf) even in float64, the layer's ratio is reported as a bound.

    Parameters
    ----------
    model : numrnn.DeepRNN
        float32 or float64; it is not changed (its parameters are copied).
    x : ndarray of shape (T, B, D), T >= 2
        Inputs of the task (any real dtype: bool, int or float), finite.
    h0 : None, list of L ndarray of shape (B, H_l), or ndarray of shape (L, B, H)
        Initial states, as :meth:`numrnn.DeepRNN.forward` takes them; None is zeros.
    seed : int >= 0, default 0
        Seeds the direction of the upstream gradient.

    Returns
    -------
    FlowByLayer

    Raises
    ------
    TypeError
        ``model`` is not a DeepRNN; ``x`` or ``h0`` is not an array of real numbers.
    ValueError
        ``x`` is not (T, B, D) with T >= 2 and the model's D, or is not finite;
        ``h0`` has the wrong shape; the norms are NaN (the pass overflowed);
        or a layer's norms at both ends are 0 (or inf), so no ratio is defined.

    Examples
    --------
    >>> import numpy as np, numrnn
    >>> model = numrnn.DeepRNN(2, 8, 2, num_layers=2, seed=0)
    >>> flow = flow_by_layer(model, np.ones((20, 4, 2)))
    >>> [layer.layer for layer in flow.layers], flow.grad_norms.shape, flow.grad_norms.dtype
    ([1, 2], (2, 20), dtype('float64'))
    """
    _check_model(model)
    seed = check_int(seed, "seed", minimum=0)
    x64 = _as_float64_copy(x, "x")
    if x64.ndim != 3 or x64.shape[0] < 2:
        raise ValueError(
            f"x must have shape (T, B, D) with T >= 2 (a ratio spans at least two steps); "
            f"got {x64.shape}"
        )
    if h0 is not None:
        if isinstance(h0, np.ndarray):
            h0 = _as_float64_copy(h0, "h0")
        elif isinstance(h0, (list, tuple)):
            h0 = [_as_float64_copy(state, f"h0[{l}]") for l, state in enumerate(h0)]
    params64 = {name: value.astype(np.float64) for name, value in model.params.items()}
    model64 = DeepRNN.from_config(model.config, params64)
    x64, h0 = model64.check_inputs(x64, h0)  # shapes, finiteness, params' names and shapes
    T, B, _ = x64.shape
    direction = np.random.default_rng(seed).standard_normal((B, model.config.output_size))
    dy = np.zeros((T, B, model.config.output_size))  # (T, B, O): the loss sees step T only
    dy[-1] = direction / np.linalg.norm(direction)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow shows as NaN norms, below
        _, _, cache = network.forward(params64, model.config, x64, h0)
        grad_norms = network.backward(dy, cache, need_dx=False).grad_norms  # (L, T), float64
    layers = tuple(_layer_flow(l, grad_norms[l - 1]) for l in range(1, len(grad_norms) + 1))
    worst = max(layers, key=lambda flow: (_outside_stable_band(flow, T), -flow.layer))
    return FlowByLayer(layers=layers, worst=worst, verdict=worst.verdict, grad_norms=grad_norms)
