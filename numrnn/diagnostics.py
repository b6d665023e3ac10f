"""Per-step Jacobians ``∂h_t/∂h_{t-1}``: the other classic gradient-flow diagnostic.

The gradient reaching ``h_1`` from a loss at step T is a product of T - 1
step Jacobians (BPTT, ``docs/derivations.md``, (R.8)):
``dh_{t-1} = dh_t J_t`` in the row convention, with
``J_t[i, k] = ∂h_t[i] / ∂h_{t-1}[k]``. If their norms stay below 1 the
gradient vanishes exponentially in the distance; above 1 it can explode.

The backward step (R.6)–(R.8) is linear in ``dh_t``, so pushing the H unit
vectors through it gives the H rows of ``J_t``. Nothing in one step's
Jacobian depends on another step, so all T steps and B sequences are done
at once, with no time loop: a batch of ``(T, B)`` identity matrices goes
through the same level-by-level chain rule as the core's reverse loop.

For a vanilla tanh layer this is ``J_t = diag(1 - h_t²) W_hhᵀ``.

Shape legend: T steps, B batch, H hidden size, L layers.
"""

from __future__ import annotations

import numpy as np

from . import network
from .activations import get_activation
from .core import LayerCache, _levels, _weights_from_h, level_names

__all__ = ["layer_step_jacobians", "step_jacobians", "jacobian_norms"]


def layer_step_jacobians(cache: LayerCache) -> np.ndarray:
    """``∂h_t/∂h_{t-1}`` of one layer for every step and sequence.

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
    config, params = cache.config, cache.params
    q = config.transition_depth
    T, B, H = cache.phi_a.shape
    phi, psi = get_activation(config.activation), get_activation(config.psi)
    levels = _levels(config)
    dtype = cache.states.dtype

    identity = np.eye(H, dtype=dtype)                                    # rows: dh_t = e_i
    dphi = phi.derivative_from_output(cache.phi_a)[:, :, None, :]        # (T, B, 1, H)
    delta = [None] * (q + 1)
    delta[q] = identity * dphi                                           # (R.6) δ_{q+1} = e_i ⊙ φ'(a_t)
    dg = [None] * (q + 1)
    for j in range(q, 0, -1):                                            # (R.7) down the levels
        dg[j - 1] = delta[j] @ params[level_names(config, j + 1)[0]].T   #   dg_j = δ_{j+1} W_{j+1}ᵀ
        if config.level_has_skip(j + 1):
            dg[j - 1] = dg[j - 1] + dg[j]                                #        + dg_{j+1}
        dpsi = psi.derivative_from_output(cache.level_activations[j - 1])[:, :, None, :]
        delta[j - 1] = dg[j - 1] * dpsi                                  #   δ_j = dg_j ⊙ ψ'(s_j)
    reading_h = np.concatenate(delta[:levels.reads_h], axis=-1)          # (T, B, H, width_from_h)
    jacobian = reading_h @ _weights_from_h(params, config, levels).T    # (R.8) Σ_j δ_j (W_h1 | S_hj)ᵀ
    if config.level_has_skip(1):
        jacobian += dg[0]                                                #   + dg_1
    if config.skip == "residual":
        jacobian += identity                                             #   + dh_t (the residual path)
    return jacobian


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
    model._check_params()                      # the model's own argument checks, clear messages
    x = model._check_x(x)
    h0 = model._check_h0(h0, x.shape[1])
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
    return np.stack([np.linalg.norm(jacobian, ord=2, axis=(-2, -1)).mean(axis=1) for jacobian in jacobians])
