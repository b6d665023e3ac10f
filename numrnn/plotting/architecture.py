"""The unrolled computation graph of any model: the chapter's pictures, drawn from a config.

:func:`architecture_graph` is pure (no matplotlib): it lists the nodes (inputs, MLP levels,
transition levels, states, outputs) and the edges of a model unrolled over a few steps, each
edge with its kind. :func:`plot_architecture` draws that graph: time runs to the right, layers
and levels go up, and every kind of edge has its own colour and line, named in a legend.

Edge kinds (:data:`EDGE_KINDS`), for layer l at step t:

==================  ===========================================================================
kind                from → to
==================  ===========================================================================
``input``           ``x_t`` → layer 1 (its first ``MLP_x`` level, or where ``u_t`` joins)
``stacking``        ``h_t^(l-1)`` → layer l, the same way (hierarchical depth)
``input_level``     ``MLP_x`` level j-1 → j, and its last level → where ``u_t`` joins
``recurrent``       ``h_{t-1}`` → the first transition level ``g_1`` (``h_t`` when q = 0)
``transition``      ``g_{j-1}`` → ``g_j``, and ``g_q`` → ``h_t`` (deep transition, q ≥ 1)
``residual``        ``h_{t-1}`` → ``h_t``, the identity path of ``skip="residual"``
``shortcut``        ``h_{t-1}`` → ``g_j`` (j = 2..q) and → ``h_t``: DT(S)'s learned ``S_j``
``layer_skip``      ``g_{j-1}`` → ``g_j``, the identity of a layer-skip inside an MLP
``output``          ``h_t^(L)`` → ``MLP_o``'s first level, or ``y_t`` when r = 0
``output_level``    ``MLP_o`` level j-1 → j, and its last level → ``y_t``
==================  ===========================================================================

``u_t`` joins the state's own pre-activation (``h_t``) for skip none/residual, and the first
transition level ``g_1`` for DT(S) (:attr:`numrnn.config.LayerConfig.input_level`).

Shape legend: L layers, q transition depth, p input depth, r output depth, t step.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._common import _check_bool, _fit_texts, _new_axes

__all__ = [
    "EDGE_KINDS",
    "Node",
    "Edge",
    "ArchitectureGraph",
    "architecture_graph",
    "plot_architecture",
]

EDGE_KINDS = (
    "input",
    "stacking",
    "input_level",
    "recurrent",
    "transition",
    "residual",
    "shortcut",
    "layer_skip",
    "output",
    "output_level",
)

NODE_KINDS = ("input", "input_level", "transition_level", "state", "output_level", "output")


class Node(NamedTuple):
    """One node of the unrolled graph.

    Attributes
    ----------
    name : str
        Unique, e.g. ``"h2[3]"`` (layer 2's state at step 3) or ``"g1.2[3]"`` (layer 1's
        transition level 2 at step 3).
    kind : str
        One of ``"input"``, ``"input_level"``, ``"transition_level"``, ``"state"``,
        ``"output_level"``, ``"output"``.
    step : int
        t; 0 for the initial states ``h_0``.
    layer : int
        l in 1..L; 0 for inputs, L + 1 for the output side.
    level : int
        j inside an MLP (1..p, 1..q or 1..r); 0 for inputs, states and outputs.
    label : str
        The node's name in the maths, with Unicode sub- and superscripts (``"h₁⁽²⁾"``).
    x, y : float
        Where :func:`plot_architecture` draws it: x is time, y goes up through the layers.
    """

    name: str
    kind: str
    step: int
    layer: int
    level: int
    label: str
    x: float
    y: float


class Edge(NamedTuple):
    """One edge: ``source`` and ``target`` are node names, ``kind`` one of :data:`EDGE_KINDS`."""

    source: str
    target: str
    kind: str


class ArchitectureGraph(NamedTuple):
    """The unrolled graph of a model.

    Attributes
    ----------
    nodes : list of Node
    edges : list of Edge
    steps : int
        Steps drawn, t = 1..steps (the initial states are at t = 0).
    title : str
        The architecture in words, e.g. ``"deep transition + skip (L=1, q=2)"``.
    """

    nodes: list
    edges: list
    steps: int
    title: str

    def count(self, kind: str) -> int:
        """The number of edges of ``kind`` (one of :data:`EDGE_KINDS`)."""
        if kind not in EDGE_KINDS:
            raise ValueError(f"kind must be one of {EDGE_KINDS}; got {kind!r}")
        return sum(edge.kind == kind for edge in self.edges)


def _model_config(model_or_config):
    """The ModelConfig of a DeepRNN, a ModelConfig, or a preset name (built small)."""
    from ..config import ModelConfig

    if isinstance(model_or_config, ModelConfig):
        return model_or_config
    if isinstance(model_or_config, str):
        from ..presets import ARCHITECTURES, build

        if model_or_config not in ARCHITECTURES:
            raise ValueError(
                f"model_or_config must be a DeepRNN, a ModelConfig or a preset name, one of "
                f"{list(ARCHITECTURES)}; got {model_or_config!r}"
            )
        return build(model_or_config, 1, 2, 1, seed=0).config
    config = getattr(model_or_config, "config", None)
    if isinstance(config, ModelConfig):
        return config
    raise TypeError(
        f"model_or_config must be a DeepRNN, a ModelConfig or a preset name; "
        f"got {type(model_or_config).__name__}"
    )


_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUPERSCRIPTS = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")


def _sub(value) -> str:
    """``value`` in Unicode subscript digits: plain text draws ten times faster than mathtext."""
    return str(value).translate(_SUBSCRIPTS)


def _sup(value) -> str:
    """``value`` in Unicode superscript digits and parentheses."""
    return str(value).translate(_SUPERSCRIPTS)


def _mlp_skips(layer_skip: bool, input_width: int, width: int, depth: int) -> list:
    """Whether hidden level j = 1..depth of an MLP is a layer-skip (index 0 unused)."""
    widths = [input_width] + [width] * depth
    return [False] + [layer_skip and widths[j - 1] == widths[j] for j in range(1, depth + 1)]


def architecture_graph(model_or_config, steps: int = 3) -> ArchitectureGraph:
    """The computation graph of a model unrolled over ``steps`` steps, with a kind per edge.

    Parameters
    ----------
    model_or_config : DeepRNN, ModelConfig or str
        The model, its config, or a preset name of :data:`numrnn.presets.ARCHITECTURES`.
    steps : int, default 3
        Steps to unroll, t = 1..steps; the initial states ``h_0^(l)`` are nodes too.

    Returns
    -------
    ArchitectureGraph
        Per step: ``x_t``; per layer its p ``MLP_x`` levels, q transition levels and ``h_t``;
        the r ``MLP_o`` levels and ``y_t``. The edges are described in this module's
        docstring; :meth:`ArchitectureGraph.count` counts one kind.

    Raises
    ------
    TypeError, ValueError
        If ``model_or_config`` is none of the above, or ``steps`` is not an integer >= 1.
    """
    config = _model_config(model_or_config)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1; got {steps!r}")
    steps = int(steps)
    nodes, edges = [], []

    def node(name, kind, t, l, j, label, x, y):
        nodes.append(Node(name, kind, t, l, j, label, float(x), float(y)))
        return name

    L = config.num_layers
    row = 0.0  # y of the current row; x_t sits on row 0
    below = [node(f"x[{t}]", "input", t, 0, 0, f"x{_sub(t)}", t, row) for t in range(1, steps + 1)]
    below_width = config.input_size
    for l, layer in enumerate(config.layers, start=1):
        p, q = layer.input_depth, layer.transition_depth
        feed_kind = "input" if l == 1 else "stacking"
        # MLP_x: p levels straight above the layer's input
        x_skips = _mlp_skips(layer.layer_skip, below_width, layer.width, p)
        feeds = list(below)
        h_sup = _sup(f"({l})") if L > 1 else ""  # h₁⁽²⁾, u₁⁽²⁾: layer 2, not a square
        for j in range(1, p + 1):
            row += 1.0
            for t in range(1, steps + 1):
                name = node(f"u{l}.{j}[{t}]", "input_level", t, l, j, f"u{_sub(j)}{h_sup}", t, row)
                edges.append(Edge(feeds[t - 1], name, feed_kind if j == 1 else "input_level"))
                if x_skips[j]:
                    edges.append(Edge(feeds[t - 1], name, "layer_skip"))
                feeds[t - 1] = name
        # the transition levels g_1..g_q sit between h_{t-1} and h_t, half a row above them
        row += 1.0 if l == 1 and p == 0 else 1.5 if p == 0 else 1.0
        state_row = row
        states = [node(f"h{l}[0]", "state", 0, l, 0, f"h{_sub(0)}{h_sup}", 0, state_row)]
        h_skips = _mlp_skips(layer.layer_skip, layer.hidden_size, layer.width, q)
        for t in range(1, steps + 1):
            previous = states[-1]
            levels = [previous]  # g_0 = h_{t-1}
            for j in range(1, q + 1):
                x = t - 1 + j / (q + 1)
                name = node(
                    f"g{l}.{j}[{t}]",
                    "transition_level",
                    t,
                    l,
                    j,
                    f"g{_sub(j)}",
                    x,
                    state_row + 0.55,
                )
                levels.append(name)
            h = node(f"h{l}[{t}]", "state", t, l, 0, f"h{_sub(t)}{h_sup}", t, state_row)
            levels.append(h)  # level q + 1 is h_t
            edges.append(Edge(previous, levels[1], "recurrent"))
            for j in range(2, q + 2):
                edges.append(Edge(levels[j - 1], levels[j], "transition"))
            for j in range(1, q + 1):
                if h_skips[j]:
                    edges.append(Edge(levels[j - 1], levels[j], "layer_skip"))
            if layer.skip == "residual":
                edges.append(Edge(previous, h, "residual"))
            if layer.skip == "shortcut":
                for j in range(2, q + 2):
                    edges.append(Edge(previous, levels[j], "shortcut"))
            join = levels[layer.input_level]  # where u_t enters: h_t, or g_1 for DT(S)
            edges.append(Edge(feeds[t - 1], join, feed_kind if p == 0 else "input_level"))
            states.append(h)
        below = states[1:]
        below_width = layer.hidden_size
        row = state_row
    # MLP_o: r levels above the top layer's states, then y_t
    r = config.output_depth
    o_skips = _mlp_skips(
        config.output_layer_skip, config.top_hidden_size, config.output_hidden_width, r
    )
    feeds = list(below)
    for j in range(1, r + 2):
        row += 1.0
        for t in range(1, steps + 1):
            if j <= r:
                name = node(f"o{j}[{t}]", "output_level", t, L + 1, j, f"o{_sub(j)}", t, row)
            else:
                name = node(f"y[{t}]", "output", t, L + 1, 0, f"y{_sub(t)}", t, row)
            edges.append(Edge(feeds[t - 1], name, "output" if j == 1 else "output_level"))
            if j <= r and o_skips[j]:
                edges.append(Edge(feeds[t - 1], name, "layer_skip"))
            feeds[t - 1] = name
    return ArchitectureGraph(nodes=nodes, edges=edges, steps=steps, title=_title(config))


def _title(config) -> str:
    """The architecture in words: its layers' pattern with L, q (and p, r when deep).

    Layers that differ are named bottom-up, each with its own depths, so that a vanilla layer
    under a DT(S) layer is not titled with layer 1's q = 0.
    """

    def depths(layer) -> list:
        extras = [f"q={layer.transition_depth}"]
        if layer.input_depth:
            extras.append(f"p={layer.input_depth}")
        if layer.layer_skip:
            extras.append("layer-skips")
        return extras

    first = config.layers[0]
    same = all(
        layer.architecture == first.architecture and depths(layer) == depths(first)
        for layer in config.layers
    )
    extras = [f"L={config.num_layers}"]
    if same:
        pattern = first.architecture
        extras += depths(first)
    else:
        pattern = " / ".join(
            f"{layer.architecture} ({', '.join(depths(layer))})" for layer in config.layers
        )
    if config.num_layers > 1:
        pattern = f"stacked {pattern}"
    if config.output_depth:
        extras.append(f"r={config.output_depth}")
    if config.output_layer_skip and "layer-skips" not in extras:
        extras.append("output layer-skips")
    return f"{pattern} ({', '.join(extras)})"


# --------------------------------------------------------------------------- drawing

# How each kind of edge is drawn: colour (Okabe & Ito), dash, width, and its bend (an arc keeps an
# edge that runs beside another, such as the residual path beside a q = 0 recurrent edge, visible).
EDGE_STYLES = {
    "input": {"color": "0.35", "linestyle": "-", "linewidth": 1.2, "bend": 0.0},
    "stacking": {"color": "#E69F00", "linestyle": "-", "linewidth": 2.0, "bend": 0.0},
    "input_level": {"color": "0.35", "linestyle": "-", "linewidth": 1.2, "bend": 0.0},
    "recurrent": {"color": "#D55E00", "linestyle": "-", "linewidth": 2.0, "bend": 0.0},
    "transition": {"color": "#D55E00", "linestyle": "-", "linewidth": 1.4, "bend": 0.0},
    "residual": {"color": "#0072B2", "linestyle": "-", "linewidth": 2.6, "bend": 0.35},
    "shortcut": {"color": "#009E73", "linestyle": "--", "linewidth": 1.5, "bend": 0.25},
    "layer_skip": {"color": "#CC79A7", "linestyle": ":", "linewidth": 1.8, "bend": -0.6},
    "output": {"color": "0.35", "linestyle": "-", "linewidth": 1.2, "bend": 0.0},
    "output_level": {"color": "0.35", "linestyle": "-", "linewidth": 1.2, "bend": 0.0},
}

# Legend texts in Unicode sub- and superscripts, as the node labels are: a reader sees hₜ₋₁, not
# the TeX source h_{t-1} (mathtext would render it, at a third of the explorer's redraw time).
EDGE_LEGEND = {
    "input": "input xₜ → layer 1",
    "stacking": "stacking hₜ⁽ˡ⁻¹⁾ → layer l",
    "input_level": "MLPₓ levels",
    "recurrent": "recurrent hₜ₋₁ → hₜ, or its first transition level",
    "transition": "transition levels (MLPₕ)",
    "residual": "residual path hₜ₋₁ → hₜ (identity)",
    "shortcut": "DT(S) learned shortcuts hₜ₋₁ → gⱼ, hₜ",
    "layer_skip": "layer-skip inside an MLP (identity)",
    "output": "output hₜ⁽ᴸ⁾ → MLPₒ",
    "output_level": "MLPₒ levels → yₜ",
}

NODE_STYLES = {
    "input": {"facecolor": "#F0F0F0", "marker": "s"},
    "input_level": {"facecolor": "#D9D9D9", "marker": "o"},
    "transition_level": {"facecolor": "#FBD5BE", "marker": "o"},
    "state": {"facecolor": "#BFDDF0", "marker": "o"},
    "output_level": {"facecolor": "#D9D9D9", "marker": "o"},
    "output": {"facecolor": "#F0F0F0", "marker": "s"},
}

NODE_LEGEND = {
    "input": "input xₜ",
    "input_level": "MLPₓ level",
    "transition_level": "transition level gⱼ (MLPₕ)",
    "state": "state hₜ",
    "output_level": "MLPₒ level",
    "output": "output yₜ",
}


def plot_architecture(model_or_config, steps: int = 3, ax=None, legend: bool = True, title=None):
    """Draw the unrolled computation graph: time to the right, layers and levels upwards.

    Nodes are circles (states blue, transition levels orange, MLP levels grey)
    and squares (inputs and outputs); every kind of edge has its own colour
    and line (the residual path a thick blue arc, DT(S) shortcuts dashed green
    arcs, layer-skips dotted purple arcs, stacking orange), named in a legend.
    For the presets this gives the chapter's pictures.

    Parameters
    ----------
    model_or_config : DeepRNN, ModelConfig or str
        The model, its config, or a preset name such as ``"deep-transition-skip"``.
    steps : int, default 3
        Steps to unroll.
    ax : matplotlib.axes.Axes or None, default None
        Where to draw; None makes a new figure sized to the graph.
    legend : bool, default True
        A legend of the node and edge kinds drawn.
    title : str or None, default None
        None names the architecture (``ArchitectureGraph.title``).

    Returns
    -------
    matplotlib.figure.Figure
        Its Axes holds one patch per edge (gid = the edge's kind) and one marker per node kind
        (gid ``"node:<kind>"``) with a text label per node.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it.
    """
    graph = architecture_graph(model_or_config, steps)
    legend = _check_bool(legend, "legend")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string or None; got {type(title).__name__}")
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.transforms import ScaledTranslation

    height = max(node.y for node in graph.nodes)
    if ax is None:
        from ._common import _pyplot

        # Narrow enough to be read at the width of a page's text column: the legend goes below.
        width = max(6.0, 1.5 + 1.6 * graph.steps)
        legend_rows = 5 if legend else 0
        axes_height = 0.75 * (height + 1.2)  # inches: room for the node markers
        made = True
        figure, ax = _pyplot().subplots(
            figsize=(width, axes_height + 0.8 + 0.2 * legend_rows), layout="constrained"
        )
    else:
        made = False
        ax = _new_axes(ax)
        figure = ax.figure
    where = {node.name: node for node in graph.nodes}
    for edge in graph.edges:
        style = EDGE_STYLES[edge.kind]
        source, target = where[edge.source], where[edge.target]
        ax.add_patch(
            FancyArrowPatch(
                (source.x, source.y),
                (target.x, target.y),
                arrowstyle="-|>",
                mutation_scale=11,
                connectionstyle=f"arc3,rad={style['bend']}",
                color=style["color"],
                linestyle=style["linestyle"],
                linewidth=style["linewidth"],
                shrinkA=11,
                shrinkB=11,
                zorder=1,
                gid=edge.kind,
                in_layout=False,  # inside the axes: the layout engine need not measure it
            )
        )
    for kind in NODE_KINDS:
        members = [node for node in graph.nodes if node.kind == kind]
        if not members:
            continue
        style = NODE_STYLES[kind]
        ax.plot(
            [node.x for node in members],
            [node.y for node in members],
            linestyle="none",
            marker=style["marker"],
            markersize=24 if kind in ("state", "input", "output") else 17,
            markerfacecolor=style["facecolor"],
            markeredgecolor="black",
            zorder=2,
            gid=f"node:{kind}",
            label=NODE_LEGEND[kind],
        )
        for node in members:
            ax.text(
                node.x,
                node.y,
                node.label,
                ha="center",
                va="center",
                fontsize=9 if kind in ("state", "input", "output") else 7,
                zorder=3,
                in_layout=False,
            )
    layer_rows = {}
    for node in graph.nodes:
        if node.kind == "state":
            layer_rows[node.layer] = node.y
    for l, y in layer_rows.items():
        ax.text(-0.4, y, f"layer {l}", ha="right", va="center", fontsize=9, color="0.3")
    ax.set_xlim(-1.15, graph.steps + 0.45)
    ax.set_ylim(-0.6, height + 0.6)
    ax.set_xticks(range(graph.steps + 1))
    ax.set_xticklabels([f"t={t}" for t in range(graph.steps)] + [f"t={graph.steps} →"])
    ax.tick_params(axis="x", length=0)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(graph.title if title is None else title)
    if legend:
        kinds = []
        for edge in graph.edges:
            if edge.kind not in kinds:
                kinds.append(edge.kind)
        handles = [
            Line2D(
                [],
                [],
                color=EDGE_STYLES[kind]["color"],
                linestyle=EDGE_STYLES[kind]["linestyle"],
                linewidth=EDGE_STYLES[kind]["linewidth"],
                label=EDGE_LEGEND[kind],
            )
            for kind in EDGE_KINDS
            if kind in kinds
        ]
        node_handles = [line for line in ax.get_lines() if line.get_gid().startswith("node:")]
        if made:  # the figure was sized for a legend in two columns below the graph
            where_legend = {
                "loc": "upper center",
                "ncol": 2,
                "bbox_to_anchor": (0.5, 0.0),  # below the tick labels (22 points down)
                "bbox_transform": ax.transAxes
                + ScaledTranslation(0, -22 / 72, figure.dpi_scale_trans),
            }
        else:  # a caller's Axes: beside it, where a grid of panels has room
            where_legend = {"loc": "center left", "bbox_to_anchor": (1.01, 0.5)}
        ax.legend(
            handles=node_handles + handles,
            fontsize="small",
            markerscale=0.45,
            frameon=False,
            **where_legend,
        )
    if made:
        _fit_texts(figure)
    return figure
