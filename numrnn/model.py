"""``DeepRNN``: a thin class over a params dict and a config.

The class holds parameters and configuration for convenience and checks what
users pass in; the work is done by the pure functions of
:mod:`numrnn.network`. It keeps no hidden state between calls: the state of a
sequence goes in as ``h0`` and comes out as ``state``. What it does keep is
scratch memory (:mod:`numrnn.workspace`): the arrays a training step uses and
drops, reused by the next step instead of being asked of the system again.

Shape legend: T steps, B batch, D input size, H hidden size, O output size,
L layers.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from . import network
from ._checks import check_dtype, check_float_array, check_int
from .config import LayerConfig, ModelConfig
from .init import RESIDUAL_SCALE, init_params
from .losses import LOSSES, check_mask, check_targets
from .params import check_params, model_parameter_shapes, parameter_equations
from .workspace import Workspace

__all__ = ["DeepRNN"]

_LAYER_KEYS = tuple(f.name for f in fields(LayerConfig) if f.name != "input_size")


class DeepRNN:
    """A deep recurrent network: L stacked recurrent layers and an output MLP.

    Every way of making an RNN deep is a setting (``docs/architectures.md``):
    ``num_layers`` (hierarchical), ``transition_depth`` (deep transition),
    ``skip="residual"`` (deep transition with skip), ``skip="shortcut"``
    (Pascanu et al.'s DT(S)), ``input_depth``/``output_depth`` (deep input and
    output), ``layer_skip`` (skips inside the MLPs). ``layers`` gives each
    layer of a stack its own settings.

    Parameters
    ----------
    input_size : int
        D, the width of ``x_t``.
    hidden_size : int
        H, the width of every layer's state (per layer via ``layers``).
    output_size : int
        O, the width of ``y_t``.
    num_layers : int, optional
        L, the number of stacked layers; default 1, or ``len(layers)``.
    transition_depth : int, default 0
        q, hidden layers in each layer's ``MLP_h``.
    input_depth : int, default 0
        p, hidden layers in each layer's ``MLP_x``.
    output_depth : int, default 0
        r, hidden layers in ``MLP_o``.
    mlp_width : int or None, default None
        M, width of the MLPs' hidden layers; None means the layer's H.
    skip : {"none", "residual", "shortcut"}, default "none"
    layer_skip : bool, default False
        Residual connections inside the MLPs where widths match.
    activation : str, default "tanh"
        φ, the state activation (tanh, sigmoid, relu, identity).
    mlp_activation : str or None, default None
        ψ, the MLPs' activation; None means φ. Also used by ``MLP_o``.
    layers : list of dict or LayerConfig, optional
        One entry per layer: a dict overriding any of ``hidden_size,
        transition_depth, input_depth, mlp_width, skip, layer_skip,
        activation, mlp_activation`` for that layer, or a full
        :class:`LayerConfig`.
    init : {"xavier", "orthogonal", "identity"}, default "xavier"
        How transition matrices are drawn (:mod:`numrnn.init`).
    spectral_radius : float or None, default None
        Rescale each vanilla layer's ``W_hh`` to this spectral radius.
    bias : float, default 0.0
        Initial value of every bias.
    residual_scale : float, default numrnn.init.RESIDUAL_SCALE (0.01)
        Factor of the affine maps that end each residual branch (``W_xh`` and
        ``W_hh`` of layers with ``skip="residual"``) at initialisation, so the
        state starts near the identity path (:mod:`numrnn.init`: Fixup,
        ReZero); 1 gives the plain draw. No effect on other layers.
    dtype : np.float32 or np.float64, default np.float64
        The dtype of every parameter, buffer and result.
    seed : int or None, default None
        Seed for the initial weights; ignored when ``rng`` is given.
    rng : numpy.random.Generator, optional
        Generator for the initial weights.

    Attributes
    ----------
    config : ModelConfig
    params : dict of str to ndarray
        Flat, stable names (:mod:`numrnn.params`); edit freely, shapes and
        dtype are checked at every call.
    dtype : numpy.dtype
    workspace : Workspace
        Scratch memory that :meth:`loss_and_grads` reuses from call to call
        (``model.workspace.clear()`` gives it back). It never changes a result,
        and nothing :meth:`loss_and_grads` returns lives in it; but one model
        must not run two steps at once from two threads.

    Examples
    --------
    A hierarchical RNN whose layers are residual deep transitions:

    >>> import numpy as np, numrnn
    >>> model = numrnn.DeepRNN(3, 16, 5, num_layers=2, transition_depth=2, skip="residual", seed=0)
    >>> x = np.zeros((7, 4, 3))                      # (T, B, D)
    >>> y, state = model.forward(x)
    >>> y.shape, len(state), state[0].shape
    ((7, 4, 5), 2, (4, 16))
    """

    def __init__(
        self,
        input_size,
        hidden_size,
        output_size,
        *,
        num_layers=None,
        transition_depth=0,
        input_depth=0,
        output_depth=0,
        mlp_width=None,
        skip="none",
        layer_skip=False,
        activation="tanh",
        mlp_activation=None,
        layers=None,
        init="xavier",
        spectral_radius=None,
        bias=0.0,
        residual_scale=RESIDUAL_SCALE,
        dtype=np.float64,
        seed=None,
        rng=None,
    ):
        shared = dict(
            hidden_size=hidden_size,
            transition_depth=transition_depth,
            input_depth=input_depth,
            mlp_width=mlp_width,
            skip=skip,
            layer_skip=layer_skip,
            activation=activation,
            mlp_activation=mlp_activation,
        )
        layer_configs = _layer_configs(
            check_int(input_size, "input_size", minimum=1), shared, num_layers, layers
        )
        top = layer_configs[-1]
        config = ModelConfig(
            layer_configs,
            check_int(output_size, "output_size", minimum=1),
            output_depth=output_depth,
            output_width=top.mlp_width,
            output_activation=top.psi,
            output_layer_skip=top.layer_skip,
        )
        if rng is None:
            if seed is not None:
                check_int(seed, "seed", minimum=0)
            rng = np.random.default_rng(seed)
        elif not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
        self.dtype = check_dtype(dtype)
        self.config = config
        self.params = init_params(
            config,
            init=init,
            spectral_radius=spectral_radius,
            bias=bias,
            residual_scale=residual_scale,
            dtype=self.dtype,
            rng=rng,
        )
        self.workspace = Workspace()

    @classmethod
    def from_config(cls, config: ModelConfig, params: dict) -> "DeepRNN":
        """Build a model from a config and existing parameters (checked, not copied).

        Parameters
        ----------
        config : ModelConfig
        params : dict of str to ndarray
            Exactly the names and shapes of ``config``; float32 or float64.
        """
        if not isinstance(config, ModelConfig):
            raise TypeError(f"config must be a ModelConfig; got {type(config).__name__}")
        if not isinstance(params, dict) or not params:
            raise TypeError(
                f"params must be a non-empty dict of str to ndarray; got {type(params).__name__}"
            )
        first = next(iter(params.values()))
        if not isinstance(first, np.ndarray) or first.dtype not in (np.float32, np.float64):
            raise TypeError(
                "params must hold float32 or float64 numpy arrays; "
                f"got {getattr(first, 'dtype', type(first).__name__)}"
            )
        model = cls.__new__(cls)
        model.config = config
        model.dtype = first.dtype
        check_params(params, model_parameter_shapes(config), model.dtype)
        model.params = params
        model.workspace = Workspace()
        return model

    # ------------------------------------------------------------------ checks

    def check_inputs(self, x, h0=None) -> tuple:
        """Check ``x``, ``h0`` and the params as every method does; return them ready for the core.

        The public entry point for code that calls :mod:`numrnn.network`
        itself (:mod:`numrnn.gradcheck`, :mod:`numrnn.diagnostics`): its
        errors name the argument, the rule and the value received.

        Parameters
        ----------
        x : ndarray of shape (T, B, D)
            In the model's dtype.
        h0 : None, list of L ndarray of shape (B, H_l), or ndarray of shape (L, B, H)
            None means zeros. A single-layer model also takes one (B, H) array.

        Returns
        -------
        x : ndarray of shape (T, B, D)
            ``x`` itself.
        h0 : list of ndarray of shape (B, H_l)
            One initial state per layer.
        """
        check_params(self.params, model_parameter_shapes(self.config), self.dtype, "model.params")
        x = check_float_array(x, "x", ndim=3, dtype=self.dtype, shape_doc="(T, B, D)")
        D = self.config.input_size
        if x.shape[2] != D or x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(
                f"x must have shape (T, B, D) with T >= 1, B >= 1 and D={D} (input_size); "
                f"got {x.shape}"
            )
        return x, self._checked_h0(h0, x.shape[1])

    def _checked_h0(self, h0, batch_size: int) -> list:
        sizes = [layer.hidden_size for layer in self.config.layers]
        L = len(sizes)
        if h0 is None:
            return self.initial_state(batch_size)
        if isinstance(h0, np.ndarray):
            if h0.ndim == 2 and L == 1:
                h0 = [h0]
            elif h0.ndim == 3 and len(h0) == L:
                h0 = list(h0)  # (L, B, H): row l - 1 is layer l's state
            else:
                one = "one (B, H) array" if L == 1 else f"one (L, B, H) array with L={L}"
                raise ValueError(
                    f"h0 must be None, a list of {L} arrays of shape (B, H_l) (one per layer), "
                    f"or {one}; got one array of shape {h0.shape}"
                )
        if not isinstance(h0, (list, tuple)) or len(h0) != L:
            length = len(h0) if hasattr(h0, "__len__") else "?"
            raise ValueError(
                f"h0 must be None or one (B, H) array per layer ({L} layers); "
                f"got {type(h0).__name__} of length {length}"
            )
        checked = []
        for l, (state, H) in enumerate(zip(h0, sizes, strict=True), start=1):
            name = f"h0[{l - 1}]"
            state = check_float_array(state, name, ndim=2, dtype=self.dtype, shape_doc="(B, H)")
            if state.shape != (batch_size, H):
                raise ValueError(
                    f"{name} must have shape (B, H) = {(batch_size, H)} for layer {l}; "
                    f"got {state.shape}"
                )
            checked.append(state)
        return checked

    # ------------------------------------------------------------------- maths

    def initial_state(self, batch_size: int) -> list:
        """Zero initial states, one (B, H_l) array per layer."""
        check_int(batch_size, "batch_size", minimum=1)
        return [
            np.zeros((batch_size, layer.hidden_size), dtype=self.dtype)
            for layer in self.config.layers
        ]

    def forward(self, x, h0=None):
        """Run the model over a batch of sequences.

        Parameters
        ----------
        x : ndarray of shape (T, B, D)
            In the model's dtype.
        h0 : None, list of L ndarray of shape (B, H_l), or ndarray of shape (L, B, H)
            Initial state of each layer; None means zeros. A single-layer
            model also takes one (B, H) array.

        Returns
        -------
        y : ndarray of shape (T, B, O)
            The outputs (logits for classification).
        state : list of ndarray of shape (B, H_l)
            The final state ``h_T`` of each layer.
        """
        x, h0 = self.check_inputs(x, h0)
        y, state, _ = network.forward(self.params, self.config, x, h0)
        return y, state

    def loss_and_grads(
        self, x, targets, loss="xent", h0=None, mask=None, bptt_window=None, need_dx=True
    ):
        """Loss and the gradient of every parameter, by the vectorized BPTT core.

        Parameters
        ----------
        x : ndarray of shape (T, B, D)
        targets : ndarray
            ``"xent"``: int (T, B), class indices, -1 = not counted.
            ``"mse"``/``"bce"``: float (T, B, O) in the model's dtype.
        loss : {"xent", "mse", "bce"}, default "xent"
        h0 : None, list of L ndarray of shape (B, H_l), or ndarray of shape (L, B, H)
        mask : ndarray of shape (T, B), optional
            Weight of each (step, sequence); 0 = not counted.
        bptt_window : int or None, default None
            Truncated BPTT: backpropagate through windows of this many steps
            (state carried across windows, gradient not). None or >= T is
            full BPTT.
        need_dx : bool, default True
            False skips computing ``info.dx`` (one product less; training
            needs no gradient for its data).

        Returns
        -------
        loss : scalar of the model's dtype
        grads : dict of str to ndarray
            Same keys, shapes and dtype as ``params``.
        info : numrnn.network.LossInfo
            ``y``, ``final_state``, ``grad_norms`` (L, T), ``dx``, ``dh0``.
        """
        x, h0 = self.check_inputs(x, h0)
        if not isinstance(loss, str) or loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}; got {loss!r}")
        T, B, _ = x.shape
        targets = check_targets(loss, targets, (T, B, self.config.output_size), self.dtype)
        mask = check_mask(mask, T, B, self.dtype)
        if bptt_window is not None:
            check_int(bptt_window, "bptt_window", minimum=1)
        if not isinstance(need_dx, bool):
            raise TypeError(f"need_dx must be True or False; got {need_dx!r}")
        with (
            self.workspace.in_use()
        ):  # the last step's scratch memory: no page faults (docs/core.md)
            value, grads, info = network.loss_and_grads(
                self.params,
                self.config,
                x,
                targets,
                loss=loss,
                h0=h0,
                mask=mask,
                window=bptt_window,
                need_dx=need_dx,
            )
        if info.dx is not None:
            info.dx = (
                info.dx.copy()
            )  # the one scratch array a step returns: the workspace's next use reuses it
        return value, grads, info

    # ---------------------------------------------------------------- display

    def num_params(self) -> int:
        """The total number of scalar parameters."""
        return int(sum(value.size for value in self.params.values()))

    def summary(self) -> str:
        """A table of every parameter: name, shape, count and the equation it belongs to."""
        equations = parameter_equations(self.config)
        rows = [
            (name, str(value.shape), str(value.size), equations[name])
            for name, value in self.params.items()
        ]
        head = ("parameter", "shape", "count", "equation")
        widths = [max(len(row[i]) for row in rows + [head]) for i in range(3)]

        def line(row):
            cells = (cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True))
            return "  ".join(cells) + "  " + row[3]

        layers = "; ".join(
            f"layer {l}: {layer.architecture}, H={layer.hidden_size}, q={layer.transition_depth}, "
            f"p={layer.input_depth}, φ={layer.activation}"
            for l, layer in enumerate(self.config.layers, start=1)
        )
        title = (
            f"DeepRNN(D={self.config.input_size}, O={self.config.output_size}, "
            f"L={self.config.num_layers}, "
            f"r={self.config.output_depth}, dtype={self.dtype})\n{layers}"
        )
        rule = "-" * (sum(widths) + 6 + max(len(row[3]) for row in rows))
        body = "\n".join(line(row) for row in rows)
        total = f"total parameters: {self.num_params()}"
        return f"{title}\n{rule}\n{line(head)}\n{rule}\n{body}\n{rule}\n{total}"

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        kinds = ", ".join(layer.architecture for layer in self.config.layers)
        return (
            f"DeepRNN(input_size={self.config.input_size}, output_size={self.config.output_size}, "
            f"layers=[{kinds}], num_params={self.num_params()}, dtype={self.dtype})"
        )


def _layer_configs(input_size: int, shared: dict, num_layers, layers) -> tuple:
    """Per-layer configs from the shared settings and optional per-layer overrides."""
    if layers is None:
        num_layers = 1 if num_layers is None else check_int(num_layers, "num_layers", minimum=1)
        layers = [{}] * num_layers
    else:
        if not isinstance(layers, (list, tuple)) or not layers:
            raise TypeError(
                f"layers must be a non-empty list of dicts or LayerConfig; got {layers!r}"
            )
        if num_layers is not None and check_int(num_layers, "num_layers", minimum=1) != len(layers):
            raise ValueError(
                f"num_layers must equal len(layers) = {len(layers)} when both are given; "
                f"got {num_layers}"
            )
    configs, width = [], input_size
    for l, entry in enumerate(layers, start=1):
        if isinstance(entry, LayerConfig):
            if entry.input_size != width:
                raise ValueError(
                    f"layers[{l - 1}].input_size must be {width}; got {entry.input_size}"
                )
            config = entry
        elif isinstance(entry, dict):
            unknown = sorted(set(entry) - set(_LAYER_KEYS))
            if unknown:
                raise ValueError(
                    f"layers[{l - 1}] has unknown keys {unknown}; allowed: {list(_LAYER_KEYS)}"
                )
            config = LayerConfig(input_size=width, **{**shared, **entry})
        else:
            raise TypeError(
                f"layers[{l - 1}] must be a dict or LayerConfig; got {type(entry).__name__}"
            )
        configs.append(config)
        width = config.hidden_size
    return tuple(configs)
