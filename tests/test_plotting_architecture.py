"""The architecture diagram: the unrolled graph's nodes and edges, counted from the config.

The expected counts are worked out here from the config's numbers (L, q, p, r, the skip kind,
the widths that decide a layer-skip), independently of how :func:`architecture_graph` walks the
layers; the drawing is checked by its patches (one per edge, gid = kind) and node markers.

Shape legend: L layers, q transition depth, p input depth, r output depth, S steps drawn.
"""

from __future__ import annotations

import matplotlib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from numrnn import DeepRNN, plotting, presets  # noqa: E402
from numrnn.config import LayerConfig, ModelConfig  # noqa: E402
from numrnn.plotting.architecture import EDGE_KINDS  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _skipped_levels(layer_skip: bool, first_input_width: int, width: int, depth: int) -> int:
    """Hidden levels of an MLP that are layer-skips: level 1 if its input is as wide as its
    output, every later level (width -> width)."""
    if not layer_skip or depth == 0:
        return 0
    return int(first_input_width == width) + depth - 1


def expected_counts(config: ModelConfig, S: int) -> tuple[dict, dict]:
    """Nodes per kind and edges per kind of ``config`` unrolled over S steps."""
    layers, L, r = config.layers, config.num_layers, config.output_depth
    nodes = {
        "input": S,
        "input_level": S * sum(layer.input_depth for layer in layers),
        "transition_level": S * sum(layer.transition_depth for layer in layers),
        "state": L * (S + 1),  # h_0 .. h_S of every layer
        "output_level": S * r,
        "output": S,
    }
    skips = sum(
        _skipped_levels(layer.layer_skip, layer.input_size, layer.width, layer.input_depth)
        + _skipped_levels(layer.layer_skip, layer.hidden_size, layer.width, layer.transition_depth)
        for layer in layers
    ) + _skipped_levels(
        config.output_layer_skip, config.top_hidden_size, config.output_hidden_width, r
    )
    edges = {
        "input": S,
        "stacking": S * (L - 1),
        "input_level": S * sum(layer.input_depth for layer in layers),
        "recurrent": S * L,
        "transition": S * sum(layer.transition_depth for layer in layers),
        "residual": S * sum(layer.skip == "residual" for layer in layers),
        "shortcut": S * sum(layer.transition_depth for layer in layers if layer.skip == "shortcut"),
        "layer_skip": S * skips,
        "output": S,
        "output_level": S * r,
    }
    return nodes, edges


def assert_graph_matches(config: ModelConfig, S: int) -> None:
    graph = plotting.architecture_graph(config, steps=S)
    nodes, edges = expected_counts(config, S)
    assert {kind: sum(n.kind == kind for n in graph.nodes) for kind in nodes} == nodes
    assert {kind: graph.count(kind) for kind in EDGE_KINDS} == edges
    names = {node.name for node in graph.nodes}
    assert len(names) == len(graph.nodes)  # unique names
    by_name = {node.name: node for node in graph.nodes}
    for edge in graph.edges:
        source, target = by_name[edge.source], by_name[edge.target]
        if edge.kind in ("recurrent", "residual", "shortcut"):  # from h_{t-1} of the same layer
            assert source.kind == "state" and source.step == target.step - 1
            assert source.layer == target.layer
        if edge.kind == "residual":
            assert target.kind == "state"
        if edge.kind == "shortcut":
            assert target.kind == "state" or target.level >= 2
        if edge.kind == "stacking":
            assert source.kind == "state" and source.layer == target.layer - 1
        if edge.kind == "layer_skip" and target.kind == "transition_level" and target.level == 1:
            assert source.kind == "state" and source.step == target.step - 1  # g_0 = h_{t-1}
        elif edge.kind not in ("recurrent", "residual", "shortcut"):
            assert source.step == target.step  # everything else stays inside one step


@pytest.mark.parametrize("name", list(presets.ARCHITECTURES))
def test_every_preset_gives_the_graph_its_config_describes(name):
    """Catches a preset drawn without its residual path, shortcuts or second layer."""
    config = presets.build(name, 3, 4, 2, seed=0).config
    assert_graph_matches(config, 3)
    assert_graph_matches(config, 1)


def test_the_chapters_three_pictures_by_hand():
    """Counts written out for the chapter's three patterns at S = 3 (no formula in between)."""
    stacked = plotting.architecture_graph("hierarchical", steps=3)
    assert (stacked.count("stacking"), stacked.count("recurrent"), len(stacked.nodes)) == (
        3,
        6,
        3 + 8 + 3,
    )
    deep = plotting.architecture_graph("deep-transition", steps=3)
    assert (deep.count("transition"), deep.count("residual"), len(deep.nodes)) == (6, 0, 16)
    skip = plotting.architecture_graph("deep-transition-skip", steps=3)
    assert (skip.count("transition"), skip.count("residual"), skip.count("shortcut")) == (6, 3, 0)
    dts = plotting.architecture_graph("deep-transition-shortcut", steps=3)
    assert (dts.count("shortcut"), dts.count("residual")) == (6, 0)


@st.composite
def model_configs(draw):
    L = draw(st.integers(1, 3))
    D = draw(st.integers(2, 4))
    layers = []
    width_in = D
    for _ in range(L):
        q = draw(st.integers(0, 3))
        skip = draw(
            st.sampled_from(["none", "residual", "shortcut"] if q else ["none", "residual"])
        )
        H = draw(st.integers(2, 4))
        layers.append(
            LayerConfig(
                input_size=width_in,
                hidden_size=H,
                transition_depth=q,
                input_depth=draw(st.integers(0, 2)),
                mlp_width=draw(st.sampled_from([None, 2, 3, 4])),
                skip=skip,
                layer_skip=draw(st.booleans()),
            )
        )
        width_in = H
    return ModelConfig(
        layers=tuple(layers),
        output_size=2,
        output_depth=draw(st.integers(0, 2)),
        output_width=draw(st.sampled_from([None, 3])),
        output_layer_skip=draw(st.booleans()),
    )


@settings(max_examples=60, deadline=None)
@given(model_configs(), st.integers(1, 3))
def test_any_combination_gives_the_graph_its_config_describes(config, S):
    """Catches a wrong count for any mix: stacking of deep transitions, DT(S) in layer 2, deep
    input or output, layer-skips only where the widths match."""
    assert_graph_matches(config, S)


def test_transition_layer_skips_agree_with_the_cores_rule():
    """The graph's layer-skips inside MLP_h are exactly the levels the core makes skips
    (LayerConfig.level_has_skip)."""
    for width in (None, 3):
        layer = LayerConfig(4, 4, transition_depth=3, mlp_width=width, layer_skip=True)
        graph = plotting.architecture_graph(ModelConfig(layers=(layer,), output_size=1), steps=1)
        skipped_levels = sorted(
            by.level if by.kind == "transition_level" else 0
            for edge in graph.edges
            if edge.kind == "layer_skip"
            for by in graph.nodes
            if by.name == edge.target
        )
        assert skipped_levels == [j for j in (1, 2, 3) if layer.level_has_skip(j)]


def test_the_drawing_has_an_arrow_per_edge_and_a_legend_entry_per_kind():
    """Catches a kind of edge drawn like another (or not at all), or left out of the legend."""
    model = DeepRNN(
        2, 3, 1, num_layers=2, transition_depth=2, skip="shortcut", layer_skip=True, seed=0
    )
    graph = plotting.architecture_graph(model, steps=2)
    figure = plotting.plot_architecture(model, steps=2)
    (ax,) = figure.axes
    arrows = [patch for patch in ax.patches if isinstance(patch, FancyArrowPatch)]
    assert len(arrows) == len(graph.edges)
    for kind in EDGE_KINDS:
        assert sum(arrow.get_gid() == kind for arrow in arrows) == graph.count(kind)
    present = [kind for kind in EDGE_KINDS if graph.count(kind)]
    looks = {
        kind: {
            (a.get_edgecolor(), a.get_linestyle(), a.get_linewidth())
            for a in arrows
            if a.get_gid() == kind
        }
        for kind in ("stacking", "recurrent", "shortcut", "layer_skip")
    }
    assert all(len(look) == 1 for look in looks.values())  # one look per kind ...
    assert len({look.pop() for look in looks.values()}) == 4  # ... and no two kinds alike
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    for kind in present:
        assert plotting.architecture.EDGE_LEGEND[kind] in legend
    markers = {line.get_gid(): len(line.get_xdata()) for line in ax.get_lines()}
    assert markers["node:state"] == 2 * 3 and markers["node:transition_level"] == 2 * 2 * 2
    assert ax.get_title() == graph.title == "stacked DT(S) shortcut (L=2, q=2, layer-skips)"


def test_the_residual_shortcut_and_layer_skip_arrows_look_unlike_the_recurrent_one():
    """Catches the skip paths drawn as plain arrows, so the picture cannot tell them apart."""
    model = DeepRNN(2, 3, 1, transition_depth=2, skip="residual", layer_skip=True, seed=0)
    ax = plotting.plot_architecture(model, steps=1, legend=False).axes[0]
    looks = {}
    for arrow in ax.patches:
        looks.setdefault(arrow.get_gid(), set()).add(
            (arrow.get_edgecolor(), arrow.get_linestyle(), arrow.get_linewidth())
        )
    assert looks["residual"].isdisjoint(looks["recurrent"])
    assert looks["layer_skip"].isdisjoint(looks["recurrent"] | looks["residual"])
    assert ax.get_legend() is None


def test_a_mixed_stack_is_titled_layer_by_layer():
    """Catches a title that describes only layer 1: a vanilla layer under a DT(S) layer with a
    deep input was titled "stacked DT(S) shortcut / vanilla (L=2, q=0, r=1)", q = 0 being the
    vanilla layer's while the picture shows layer 2's two transition levels."""
    model = DeepRNN(
        3,
        8,
        2,
        layers=[
            dict(hidden_size=8),
            dict(hidden_size=4, transition_depth=2, skip="shortcut", input_depth=1),
        ],
        output_depth=1,
        seed=0,
    )
    graph = plotting.architecture_graph(model, steps=1)
    assert graph.title == "stacked vanilla (q=0) / DT(S) shortcut (q=2, p=1) (L=2, r=1)"
    same = plotting.architecture_graph("hierarchical-deep-transition-skip", steps=1)
    assert same.title == "stacked deep transition + skip (L=2, q=2)"


def test_a_layers_superscript_is_in_parentheses_on_every_node_and_absent_for_one_layer():
    """Catches layer 2's MLP_x level labelled "u₁²", which reads as u₁ squared, beside
    "h₁⁽²⁾"; and a single layer's labels carrying a superscript at all."""
    model = DeepRNN(3, 4, 2, num_layers=2, input_depth=1, seed=0)
    labels = {node.name: node.label for node in plotting.architecture_graph(model, 1).nodes}
    assert (labels["u2.1[1]"], labels["h2[1]"]) == ("u₁⁽²⁾", "h₁⁽²⁾")
    single = DeepRNN(3, 4, 2, input_depth=1, seed=0)
    labels = {node.name: node.label for node in plotting.architecture_graph(single, 1).nodes}
    assert (labels["u1.1[1]"], labels["h1[1]"]) == ("u₁", "h₁")


def test_the_legend_speaks_unicode_not_tex_source():
    """Catches legend entries such as "recurrent h_{t-1} → h_t" (TeX source shown as text)
    beside node labels drawn as hₜ₋₁."""
    model = DeepRNN(
        2,
        3,
        1,
        num_layers=2,
        transition_depth=2,
        input_depth=1,
        output_depth=1,
        skip="shortcut",
        layer_skip=True,
        seed=0,
    )
    ax = plotting.plot_architecture(model, steps=1).axes[0]
    texts = [text.get_text() for text in ax.get_legend().get_texts()]
    assert len(texts) >= 10
    assert not [text for text in texts if any(mark in text for mark in "_^{}")]


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match=r"steps must be an integer >= 1; got 0"):
        plotting.architecture_graph("vanilla", steps=0)
    with pytest.raises(TypeError, match=r"model_or_config must be a DeepRNN, .* got int"):
        plotting.architecture_graph(3)
    with pytest.raises(ValueError, match=r"model_or_config must be .* preset name, one of .*"):
        plotting.plot_architecture("lstm")
    with pytest.raises(TypeError, match=r"legend must be True or False; got 'no'"):
        plotting.plot_architecture("vanilla", legend="no")
    with pytest.raises(TypeError, match=r"title must be a string or None; got int"):
        plotting.plot_architecture("vanilla", title=1)
    with pytest.raises(ValueError, match=r"kind must be one of .* got 'skip'"):
        plotting.architecture_graph("vanilla").count("skip")
