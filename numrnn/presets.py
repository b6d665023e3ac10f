"""The chapter's architectures by name.

Each preset is :class:`numrnn.DeepRNN` with the settings of one pattern; every
other keyword is passed through, so ``deep_transition(4, 32, 2, transition_depth=3,
dtype=np.float32)`` works.

======================================  =========================================================
name (CLI ``--arch``)                   settings
======================================  =========================================================
``vanilla``                             L = 1, q = 0: ``h_t = φ(x_t W_xh + h_{t-1} W_hh + b_h)``
``hierarchical``                        L = 2 stacked vanilla layers
``deep-transition``                     q = 2 (``MLP_h`` with two hidden layers)
``deep-transition-skip``                q = 2, ``skip="residual"``: ``h_t = h_{t-1} + φ(a_t)``
``deep-transition-shortcut``            q = 2, ``skip="shortcut"``: Pascanu et al.'s DT(S)
``hierarchical-deep-transition-skip``   L = 2 layers, each q = 2 with ``skip="residual"``
======================================  =========================================================
"""

from __future__ import annotations

from .model import DeepRNN

__all__ = [
    "ARCHITECTURES",
    "vanilla",
    "hierarchical",
    "deep_transition",
    "deep_transition_skip",
    "deep_transition_shortcut",
    "hierarchical_deep_transition_skip",
    "build",
]


def vanilla(input_size, hidden_size, output_size, **kwargs) -> DeepRNN:
    """Vanilla RNN: one layer, ``h_t = φ(x_t W_xh + h_{t-1} W_hh + b_h)``."""
    return DeepRNN(input_size, hidden_size, output_size, **kwargs)


def hierarchical(input_size, hidden_size, output_size, num_layers=2, **kwargs) -> DeepRNN:
    """Hierarchical (stacked) RNN: ``h_t^(l) = f_l(h_{t-1}^(l), h_t^(l-1))``, l = 1..L."""
    return DeepRNN(input_size, hidden_size, output_size, num_layers=num_layers, **kwargs)


def deep_transition(input_size, hidden_size, output_size, transition_depth=2, **kwargs) -> DeepRNN:
    """Deep transition RNN: ``h_t = φ(MLP_x(x_t) + MLP_h(h_{t-1}))`` with q >= 1 hidden layers
    in ``MLP_h``."""
    return DeepRNN(
        input_size, hidden_size, output_size, transition_depth=transition_depth, **kwargs
    )


def deep_transition_skip(
    input_size, hidden_size, output_size, transition_depth=2, **kwargs
) -> DeepRNN:
    """Deep transition with skip: ``h_t = h_{t-1} + φ(MLP_x(x_t) + MLP_h(h_{t-1}))``."""
    return DeepRNN(
        input_size,
        hidden_size,
        output_size,
        transition_depth=transition_depth,
        skip="residual",
        **kwargs,
    )


def deep_transition_shortcut(
    input_size, hidden_size, output_size, transition_depth=2, **kwargs
) -> DeepRNN:
    """Pascanu et al.'s DT(S)-RNN: learned shortcuts ``h_{t-1} S_j`` into every transition
    layer above the first."""
    return DeepRNN(
        input_size,
        hidden_size,
        output_size,
        transition_depth=transition_depth,
        skip="shortcut",
        **kwargs,
    )


def hierarchical_deep_transition_skip(
    input_size, hidden_size, output_size, num_layers=2, transition_depth=2, **kwargs
) -> DeepRNN:
    """A stack of residual deep-transition layers: depth across layers and within each step."""
    return DeepRNN(
        input_size,
        hidden_size,
        output_size,
        num_layers=num_layers,
        transition_depth=transition_depth,
        skip="residual",
        **kwargs,
    )


ARCHITECTURES = {
    "vanilla": vanilla,
    "hierarchical": hierarchical,
    "deep-transition": deep_transition,
    "deep-transition-skip": deep_transition_skip,
    "deep-transition-shortcut": deep_transition_shortcut,
    "hierarchical-deep-transition-skip": hierarchical_deep_transition_skip,
}


def build(name: str, input_size: int, hidden_size: int, output_size: int, **kwargs) -> DeepRNN:
    """Build an architecture by its name (the keys of :data:`ARCHITECTURES`).

    Parameters
    ----------
    name : str
        E.g. ``"deep-transition-skip"``.
    input_size, hidden_size, output_size : int
        D, H, O.
    **kwargs
        Any :class:`numrnn.DeepRNN` keyword; it overrides the preset's own.

    Returns
    -------
    DeepRNN
    """
    if not isinstance(name, str) or name not in ARCHITECTURES:
        raise ValueError(
            f"name must be an architecture, one of {list(ARCHITECTURES)}; got {name!r}"
        )
    return ARCHITECTURES[name](input_size, hidden_size, output_size, **kwargs)
