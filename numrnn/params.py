"""Parameter names, shapes and the equation each parameter belongs to.

Parameters live in a flat ``dict[str, ndarray]``. The names are stable and are
the ones the docs use (``docs/architectures.md``). Inside one layer:

==================  ======================  ==============================================
name                shape                   role
==================  ======================  ==============================================
``W_x{j}, b_x{j}``  (D or M, M), (M,)       hidden layer j = 1..p of ``MLP_x``
``W_xh``            (D or M, H or M)        last affine of ``MLP_x``: ``u_t``
``W_h{j}, b_h{j}``  (H or M, M), (M,)       transition level j = 1..q of ``MLP_h``
``W_hh, b_h``       (H or M, H), (H,)       level q + 1, the state's pre-activation ``a_t``
``S_h{j}, S_hh``    (H, M), (H, H)          DT(S) shortcuts from ``h_{t-1}``, j = 2..q+1
==================  ======================  ==============================================

Every transition level has exactly one bias. ``u_t`` adds into one level (the
*input level*): level q + 1 for skip none/residual, so ``a_t = u_t + z_t``
with ``b_h`` as its one bias, and level 1 for DT(S). In a model, layer l's
names carry the prefix ``layer{l}.`` (l = 1..L) and the output MLP's names the
prefix ``output.``: ``W_y{j}, b_y{j}`` for its r hidden layers, ``W_hy, b_y``
for its last affine.

Shape legend: D input size, H hidden size, M MLP width, O output size.
"""

from __future__ import annotations

import numpy as np

from .config import LayerConfig, ModelConfig

__all__ = [
    "layer_parameter_shapes",
    "mlp_parameter_shapes",
    "model_parameter_shapes",
    "layer_params",
    "output_params",
    "parameter_equations",
    "OUTPUT_PREFIX",
    "layer_prefix",
]

OUTPUT_PREFIX = "output."


def layer_prefix(l: int) -> str:
    """The name prefix of layer l (1-based, as in the maths): ``"layer{l}."``."""
    return f"layer{l}."


def mlp_parameter_shapes(
    in_size, hidden_width, depth, out_size, *, hidden_name, last_weight, last_bias
):
    """Shapes of an MLP's parameters, in order: hidden layers, then the last affine.

    Parameters
    ----------
    in_size, hidden_width, depth, out_size : int
        Input width, hidden width, number of hidden layers k, output width.
    hidden_name : str
        Letter of the hidden layers: ``"x"`` gives ``W_x1, b_x1, ...``.
    last_weight : str
        Name of the last weight, e.g. ``"W_hy"``.
    last_bias : str or None
        Name of the last bias, or None when the last affine has no bias.

    Returns
    -------
    dict of str to tuple of int
    """
    shapes = {}
    width = in_size
    for j in range(1, depth + 1):
        shapes[f"W_{hidden_name}{j}"] = (width, hidden_width)
        shapes[f"b_{hidden_name}{j}"] = (hidden_width,)
        width = hidden_width
    shapes[last_weight] = (width, out_size)
    if last_bias is not None:
        shapes[last_bias] = (out_size,)
    return shapes


def layer_parameter_shapes(config: LayerConfig) -> dict[str, tuple[int, ...]]:
    """Names and shapes of one recurrent layer's parameters, unprefixed.

    Parameters
    ----------
    config : LayerConfig

    Returns
    -------
    dict of str to tuple of int
        In a fixed order: ``MLP_x``, then the transition levels 1..q+1.
    """
    q, H = config.transition_depth, config.hidden_size
    shapes = mlp_parameter_shapes(
        config.input_size,
        config.width,
        config.input_depth,
        config.level_width(config.input_level),
        hidden_name="x",
        last_weight="W_xh",
        last_bias=None,
    )
    for j in range(1, q + 2):
        names, width = config.level_names(j), config.level_width(j)
        shapes[names.weight] = (config.level_input_width(j), width)
        if names.shortcut is not None:
            shapes[names.shortcut] = (H, width)
        shapes[names.bias] = (width,)
    return shapes


def output_parameter_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the output MLP's parameters, unprefixed."""
    return mlp_parameter_shapes(
        config.top_hidden_size,
        config.output_hidden_width,
        config.output_depth,
        config.output_size,
        hidden_name="y",
        last_weight="W_hy",
        last_bias="b_y",
    )


def model_parameter_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Names and shapes of every parameter of a model, with prefixes.

    Parameters
    ----------
    config : ModelConfig

    Returns
    -------
    dict of str to tuple of int
        ``layer1.*`` ... ``layer{L}.*`` then ``output.*``.
    """
    shapes = {}
    for l, layer in enumerate(config.layers, start=1):
        for name, shape in layer_parameter_shapes(layer).items():
            shapes[layer_prefix(l) + name] = shape
    for name, shape in output_parameter_shapes(config).items():
        shapes[OUTPUT_PREFIX + name] = shape
    return shapes


def _strip(params: dict, prefix: str) -> dict:
    return {name[len(prefix) :]: value for name, value in params.items() if name.startswith(prefix)}


def layer_params(params: dict, l: int) -> dict:
    """The unprefixed parameters of layer l (1-based) of a model's params dict (no copies)."""
    return _strip(params, layer_prefix(l))


def output_params(params: dict) -> dict:
    """The unprefixed parameters of the output MLP of a model's params dict."""
    return _strip(params, OUTPUT_PREFIX)


def _layer_equations(config: LayerConfig, l: int = 1) -> dict[str, str]:
    """Layer l's parameter -> equation, in docs/derivations.md's bookkeeping: each transition
    level has one bias, and the input level's bias travels with u_t (R.1)."""
    q, p = config.transition_depth, config.input_depth
    eqs = {}
    layer_input = "x_t" if l == 1 else f"h_t^({l - 1})"  # layer l >= 2 reads layer l-1's states

    def gx(j):  # MLP_x's hidden outputs, gx_0 = the layer's input
        return layer_input if j == 0 else f"gx_{j}"

    def g(j):  # MLP_h's hidden outputs, g_0 = h_(t-1)
        return "h_(t-1)" if j == 0 else f"g_{j}"

    for j in range(1, p + 1):
        lhs = (
            f"{gx(j)} = {gx(j - 1)} + ψ("
            if config.layer_skip and (config.input_size == config.width or j > 1)
            else f"{gx(j)} = ψ("
        )
        eqs[f"W_x{j}"] = eqs[f"b_x{j}"] = f"{lhs}{gx(j - 1)} W_x{j} + b_x{j})   (MLP_x)"
    j_in = config.input_level
    input_bias = config.level_names(j_in).bias  # b_h, or b_h1 for DT(S)
    joins = "a_t = u_t + z_t" if j_in == q + 1 else "joins g_1"
    eqs["W_xh"] = eqs[input_bias] = f"u_t = {gx(p)} W_xh + {input_bias}   ({joins})"
    for j in range(1, q + 1):
        extra = f" + h_(t-1) S_h{j}" if config.skip == "shortcut" and j >= 2 else ""
        extra += " + u_t" if j == j_in else f" + b_h{j}"
        lhs = f"g_{j} = {g(j - 1)} + ψ(" if config.level_has_skip(j) else f"g_{j} = ψ("
        eqs[f"W_h{j}"] = f"{lhs}{g(j - 1)} W_h{j}{extra})   (MLP_h)"
        if j != j_in:
            eqs[f"b_h{j}"] = eqs[f"W_h{j}"]
        if config.skip == "shortcut" and j >= 2:
            eqs[f"S_h{j}"] = eqs[f"W_h{j}"]
    shortcut = " + h_(t-1) S_hh" if config.skip == "shortcut" else ""
    joined = " + u_t" if j_in == q + 1 else " + b_h"
    a = f"a_t = {g(q)} W_hh{shortcut}{joined}"
    h = "h_t = h_(t-1) + φ(a_t)" if config.skip == "residual" else "h_t = φ(a_t)"
    eqs["W_hh"] = f"{a};  {h}"
    if j_in != q + 1:
        eqs["b_h"] = eqs["W_hh"]
    if config.skip == "shortcut":
        eqs["S_hh"] = eqs["W_hh"]
    return eqs


def parameter_equations(config: ModelConfig) -> dict[str, str]:
    """The equation each parameter of a model appears in, for ``model.summary()``.

    Parameters
    ----------
    config : ModelConfig

    Returns
    -------
    dict of str to str
        Same keys as :func:`model_parameter_shapes`.
    """
    eqs = {}
    for l, layer in enumerate(config.layers, start=1):
        for name, eq in _layer_equations(layer, l).items():
            eqs[layer_prefix(l) + name] = eq
    r = config.output_depth

    def gy(j):  # MLP_o's hidden outputs, gy_0 = h_t^(L)
        return "h_t^(L)" if j == 0 else f"gy_{j}"

    for j in range(1, r + 1):
        eqs[f"{OUTPUT_PREFIX}W_y{j}"] = eqs[f"{OUTPUT_PREFIX}b_y{j}"] = (
            f"{gy(j)} = ψ({gy(j - 1)} W_y{j} + b_y{j})   (MLP_o)"
        )
    eqs[f"{OUTPUT_PREFIX}W_hy"] = eqs[f"{OUTPUT_PREFIX}b_y"] = f"y_t = {gy(r)} W_hy + b_y"
    return eqs


def check_params(params, shapes: dict, dtype: np.dtype, argument: str = "params") -> None:
    """Raise unless ``params`` has exactly the names, shapes and dtype expected.

    Parameters
    ----------
    params : dict of str to ndarray
    shapes : dict of str to tuple of int
        The expected names and shapes.
    dtype : numpy.dtype
    argument : str
        The argument's name, for messages.
    """
    if not isinstance(params, dict):
        raise TypeError(f"{argument} must be a dict of str to ndarray; got {type(params).__name__}")
    missing = [name for name in shapes if name not in params]
    if missing:
        raise ValueError(f"{argument} is missing {missing}; expected the keys {list(shapes)}")
    extra = [name for name in params if name not in shapes]
    if extra:
        raise ValueError(
            f"{argument} has unexpected keys {extra}; expected the keys {list(shapes)}"
        )
    for name, shape in shapes.items():
        value = params[name]
        if not isinstance(value, np.ndarray):
            raise TypeError(
                f"{argument}[{name!r}] must be a numpy array; got {type(value).__name__}"
            )
        if value.shape != tuple(shape):
            raise ValueError(
                f"{argument}[{name!r}] must have shape {tuple(shape)}; got {value.shape}"
            )
        if value.dtype != dtype:
            raise TypeError(f"{argument}[{name!r}] must have dtype {dtype}; got {value.dtype}")
        if not np.isfinite(value).all():
            raise ValueError(f"{argument}[{name!r}] must be finite; it has NaN or inf entries")
