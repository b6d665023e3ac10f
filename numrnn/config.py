"""Architecture configuration: one recurrent layer, and a whole model.

A model is a stack of L recurrent layers (hierarchical depth) followed by an
output MLP. Each layer is described by a :class:`LayerConfig`; the three ways to
make an RNN deep are settings of it:

* ``transition_depth`` q >= 1 — deep transition (``MLP_h`` with q hidden layers);
* ``input_depth`` p >= 1 — deep input (``MLP_x`` with p hidden layers);
* ``skip="residual"`` — ``h_t = h_{t-1} + φ(a_t)``, the chapter's skip in time;
* ``skip="shortcut"`` — Pascanu et al.'s DT(S) learned shortcuts;
* ``layer_skip=True`` — ``g_j = g_{j-1} + ψ(...)`` inside the MLPs where widths match;

and a :class:`ModelConfig` stacks any mix of them.

Shape legend: T steps, B batch, D input size, H hidden size, M MLP width,
O output size, L layers, q transition depth, p input depth, r output depth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import NamedTuple

from ._checks import check_choice, check_int
from .activations import ACTIVATIONS

__all__ = ["SKIP_KINDS", "LevelNames", "LayerConfig", "ModelConfig"]

SKIP_KINDS = ("none", "residual", "shortcut")


class LevelNames(NamedTuple):
    """The parameter names of transition level j (:meth:`LayerConfig.level_names`).

    Attributes
    ----------
    weight : str
        ``W_j``: ``"W_h{j}"`` for j <= q, ``"W_hh"`` for j = q + 1.
    bias : str
        ``b_j``: ``"b_h{j}"`` for j <= q, ``"b_h"`` for j = q + 1.
    shortcut : str or None
        ``S_j``, DT(S)'s shortcut from ``h_{t-1}`` (``"S_h{j}"``, ``"S_hh"``);
        None when the level has none (skip is not "shortcut", or j = 1).
    """

    weight: str
    bias: str
    shortcut: str | None


@dataclass(frozen=True)
class LayerConfig:
    """One recurrent layer: its sizes, depths, skip kind and activations.

    Parameters
    ----------
    input_size : int
        D, the width of the layer's input ``x_t`` (for layer l > 1, the hidden
        size of layer l - 1).
    hidden_size : int
        H, the width of the state ``h_t``.
    transition_depth : int, default 0
        q, hidden layers in ``MLP_h``; 0 is the vanilla single affine map.
    input_depth : int, default 0
        p, hidden layers in ``MLP_x``.
    mlp_width : int or None, default None
        M, width of every hidden layer of ``MLP_x`` and ``MLP_h``; None means H.
    skip : {"none", "residual", "shortcut"}, default "none"
        ``"residual"``: ``h_t = h_{t-1} + φ(a_t)``. ``"shortcut"``: Pascanu et
        al.'s DT(S), which needs ``transition_depth >= 1``.
    layer_skip : bool, default False
        Inside ``MLP_x`` and ``MLP_h``, a hidden layer whose input and output
        widths are equal becomes ``g_j = g_{j-1} + ψ(g_{j-1} W_j + b_j)``.
    activation : str, default "tanh"
        φ, the state activation: tanh, sigmoid, relu or identity.
    mlp_activation : str or None, default None
        ψ, the activation of the MLPs' hidden layers; None means φ.
    """

    input_size: int
    hidden_size: int
    transition_depth: int = 0
    input_depth: int = 0
    mlp_width: int | None = None
    skip: str = "none"
    layer_skip: bool = False
    activation: str = "tanh"
    mlp_activation: str | None = None

    def __post_init__(self):
        check_int(self.input_size, "input_size", minimum=1)
        check_int(self.hidden_size, "hidden_size", minimum=1)
        check_int(self.transition_depth, "transition_depth", minimum=0)
        check_int(self.input_depth, "input_depth", minimum=0)
        if self.mlp_width is not None:
            check_int(self.mlp_width, "mlp_width", minimum=1)
        check_choice(self.skip, "skip", SKIP_KINDS)
        if not isinstance(self.layer_skip, bool):
            raise TypeError(f"layer_skip must be True or False; got {self.layer_skip!r}")
        check_choice(self.activation, "activation", ACTIVATIONS)
        if self.mlp_activation is not None:
            check_choice(self.mlp_activation, "mlp_activation", ACTIVATIONS)
        if self.skip == "shortcut" and self.transition_depth < 1:
            raise ValueError(
                "skip='shortcut' (Pascanu et al.'s DT(S)) needs transition_depth >= 1; "
                f"got transition_depth={self.transition_depth}"
            )

    # Derived quantities: named once here so the core, the reference and the
    # parameter table all read them from one place.

    @property
    def width(self) -> int:
        """M, the width of the hidden layers of ``MLP_x`` and ``MLP_h``."""
        return self.hidden_size if self.mlp_width is None else self.mlp_width

    @property
    def psi(self) -> str:
        """ψ, the name of the MLPs' activation."""
        return self.activation if self.mlp_activation is None else self.mlp_activation

    @property
    def input_level(self) -> int:
        """The transition level j in 1..q+1 that the input projection ``u_t`` joins.

        ``q + 1`` (the state's own pre-activation, ``a_t = u_t + z_t``) for
        skip none/residual; 1 (the first transition layer) for DT(S).
        """
        return 1 if self.skip == "shortcut" else self.transition_depth + 1

    def level_width(self, j: int) -> int:
        """Output width of transition level j: M for j <= q, H for j = q + 1."""
        return self.hidden_size if j == self.transition_depth + 1 else self.width

    def level_input_width(self, j: int) -> int:
        """Input width of transition level j: H for j = 1 (it reads h_{t-1}), else M."""
        return self.hidden_size if j == 1 else self.width

    def level_names(self, j: int) -> LevelNames:
        """Names of transition level j in 1..q+1, e.g. ``LevelNames("W_h2", "b_h2", "S_h2")``."""
        suffix = "h" if j == self.transition_depth + 1 else str(j)
        shortcut = f"S_h{suffix}" if self.skip == "shortcut" and j >= 2 else None
        bias = "b_h" if suffix == "h" else f"b_h{j}"
        return LevelNames(weight=f"W_h{suffix}", bias=bias, shortcut=shortcut)

    def level_has_skip(self, j: int) -> bool:
        """Whether hidden transition level j (1..q) is a layer-skip ``g_j = g_{j-1} + ψ(s_j)``."""
        return (
            self.layer_skip
            and j <= self.transition_depth
            and (self.level_input_width(j) == self.level_width(j))
        )

    @property
    def architecture(self) -> str:
        """A short human name for this layer's pattern."""
        if self.transition_depth == 0:
            name = "vanilla" if self.skip == "none" else "residual vanilla"
        elif self.skip == "none":
            name = "deep transition"
        elif self.skip == "residual":
            name = "deep transition + skip"
        else:
            name = "DT(S) shortcut"
        return name


@dataclass(frozen=True)
class ModelConfig:
    """A stack of recurrent layers and an output MLP.

    Parameters
    ----------
    layers : tuple of LayerConfig
        Layer 1 first. Layer l's ``input_size`` must equal layer l-1's
        ``hidden_size``.
    output_size : int
        O, the width of ``y_t``.
    output_depth : int, default 0
        r, hidden layers in ``MLP_o`` (r >= 1 is Pascanu et al.'s deep output).
    output_width : int or None, default None
        Width of ``MLP_o``'s hidden layers; None means the top layer's H.
    output_activation : str, default "tanh"
        Activation of ``MLP_o``'s hidden layers.
    output_layer_skip : bool, default False
        Layer-skips inside ``MLP_o`` where widths match.
    """

    layers: tuple
    output_size: int
    output_depth: int = 0
    output_width: int | None = None
    output_activation: str = "tanh"
    output_layer_skip: bool = False

    def __post_init__(self):
        if not isinstance(self.layers, tuple) or not self.layers:
            raise ValueError(
                f"layers must be a non-empty tuple of LayerConfig; got {self.layers!r}"
            )
        for l, layer in enumerate(self.layers, start=1):
            if not isinstance(layer, LayerConfig):
                raise TypeError(
                    f"layers[{l - 1}] must be a LayerConfig; got {type(layer).__name__}"
                )
            if l > 1 and layer.input_size != self.layers[l - 2].hidden_size:
                raise ValueError(
                    f"layer {l}'s input_size must equal layer {l - 1}'s hidden_size "
                    f"({self.layers[l - 2].hidden_size}); got {layer.input_size}"
                )
        check_int(self.output_size, "output_size", minimum=1)
        check_int(self.output_depth, "output_depth", minimum=0)
        if self.output_width is not None:
            check_int(self.output_width, "output_width", minimum=1)
        check_choice(self.output_activation, "output_activation", ACTIVATIONS)
        if not isinstance(self.output_layer_skip, bool):
            raise TypeError(
                f"output_layer_skip must be True or False; got {self.output_layer_skip!r}"
            )

    @property
    def input_size(self) -> int:
        """D, the width of the model's input."""
        return self.layers[0].input_size

    @property
    def num_layers(self) -> int:
        """L, the number of stacked recurrent layers."""
        return len(self.layers)

    @property
    def top_hidden_size(self) -> int:
        """H of the top layer, the input width of ``MLP_o``."""
        return self.layers[-1].hidden_size

    @property
    def output_hidden_width(self) -> int:
        """Width of ``MLP_o``'s hidden layers."""
        return self.top_hidden_size if self.output_width is None else self.output_width

    def to_dict(self) -> dict:
        """A JSON-ready dict; :meth:`from_dict` inverts it."""
        out = asdict(self)
        out["layers"] = [asdict(layer) for layer in self.layers]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        """Rebuild a config written by :meth:`to_dict`."""
        if not isinstance(data, dict) or "layers" not in data:
            raise ValueError(f"a model config must be a dict with a 'layers' list; got {data!r}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys {sorted(unknown)}; known: {sorted(known)}")
        if not isinstance(data["layers"], (list, tuple)):
            raise ValueError(
                f"a model config's 'layers' must be a list of dicts; got {data['layers']!r}"
            )
        layer_fields = {f.name for f in fields(LayerConfig)}
        layers = []
        for entry in data["layers"]:
            if not isinstance(entry, dict) or set(entry) - layer_fields:
                raise ValueError(
                    f"a layer config must be a dict with keys from {sorted(layer_fields)}; "
                    f"got {entry!r}"
                )
            layers.append(LayerConfig(**entry))
        return cls(**{**data, "layers": tuple(layers)})

    def with_layers(self, layers) -> "ModelConfig":
        """A copy with other layers (e.g. a one-layer slice of a stack)."""
        return replace(self, layers=tuple(layers))
