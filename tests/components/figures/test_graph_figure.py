"""The graph figure by its data: colours from statistics and health, clicks' customdata."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from kerascope.components.figures.graph import (
    HEALTH_COLOURS,
    graph_figure,
    layer_statistic,
    node_health,
    node_values,
)
from kerascope.extraction import open_model
from kerascope.extraction.analysis.health import layer_verdicts, model_findings
from kerascope.extraction.graph_layout import GraphLayout, layout_graph
from kerascope.extraction.records import ModelWeights


def nested_model(broken: bool = False) -> Any:
    import keras
    from keras import layers

    inner = keras.Sequential(
        [keras.Input((4,)), layers.Dense(4, name="i1"), layers.Dense(4, name="i2")], name="inner"
    )
    x = keras.Input((4,), name="x")
    h = layers.Dense(4, name="h")(x)
    out = layers.Dense(2, name="out")(layers.ReLU(name="relu")(inner(h)))
    model = keras.Model(x, out, name="outer")
    if broken:
        kernel = model.get_layer("h").get_weights()
        kernel[0][0, 0] = np.nan
        model.get_layer("h").set_weights(kernel)
    return model


@pytest.fixture(scope="module")
def opened() -> tuple[ModelWeights, GraphLayout]:
    model = open_model(nested_model())
    assert model.graph is not None
    return model, layout_graph(model.graph)


def test_statistics_per_layer(opened: tuple[ModelWeights, GraphLayout]) -> None:
    model, layout = opened
    dense = model.layer("h")
    kernel, bias = (w.array() for w in dense.weights)
    both = np.concatenate([kernel.ravel(), bias.ravel()])
    assert layer_statistic(dense, "mean_abs") == pytest.approx(np.abs(both).mean())
    assert layer_statistic(dense, "l2") == pytest.approx(np.linalg.norm(both), rel=1e-5)
    assert layer_statistic(dense, "std") == pytest.approx(both.std(), rel=1e-5)
    values = node_values(model, layout, "mean_abs")
    assert math.isnan(values["relu"]) and math.isnan(values["x"])  # no weights
    folded = layout_graph(model.graph, ["inner"])  # type: ignore[arg-type]
    params = node_values(model, folded, "params")
    assert params["inner"] == model.layer("inner/i1").params + model.layer("inner/i2").params


def test_figure_nodes_carry_ids_and_colour_bar(opened: tuple[ModelWeights, GraphLayout]) -> None:
    model, layout = opened
    fig = graph_figure(
        layout, values=node_values(model, layout, "params"), selected="h", log_scale=True
    )
    points = fig.data[1]
    ids = [c[0] for c in points.customdata]
    assert ids == [p.node.id for p in layout.nodes] and "inner/i1" in ids
    assert fig.data[2].marker.showscale and "10" in fig.data[2].marker.colorbar.ticktext
    boxes = [s for s in fig.layout.shapes if s.fillcolor is not None]
    assert len(boxes) == len(layout.nodes)
    selected = boxes[ids.index("h")]
    assert selected.line.width == 3
    no_weights = boxes[ids.index("relu")]
    assert no_weights.fillcolor == "#e5e5e5"
    assert len(fig.layout.shapes) == len(layout.nodes) + 1  # plus the nested model's box


def test_health_colours_the_worst_finding() -> None:
    model = open_model(nested_model(broken=True))
    assert model.graph is not None
    layout = layout_graph(model.graph, ["inner"])
    health = node_health(model, layout, layer_verdicts(model, model_findings(model)))
    assert health["h"] == "error" and health["relu"] == "none"
    fig = graph_figure(layout, health=health)
    ids = [c[0] for c in fig.data[1].customdata]
    assert [c[1] for c in fig.data[1].customdata][ids.index("inner")] is True
    fills = [s.fillcolor for s in fig.layout.shapes if s.fillcolor is not None]
    assert fills[ids.index("h")] == HEALTH_COLOURS["error"]
    assert {t.name for t in fig.data[2:]} >= {"error", "no weights"}


def test_names_from_a_file_are_escaped_in_hover(opened: tuple[ModelWeights, GraphLayout]) -> None:
    _, layout = opened
    from dataclasses import replace

    from kerascope.extraction.graph_layout import PlacedNode

    odd = replace(layout.nodes[0].node, id="<b>x</b>", name="<b>x</b>")
    fig = graph_figure(replace(layout, nodes=(PlacedNode(odd, 0, 0), *layout.nodes[1:])))
    assert "&lt;b&gt;x&lt;/b&gt;" in fig.data[1].hovertext[0]


def test_edges_are_labelled_with_their_shapes() -> None:
    model = open_model(nested_model())
    assert model.graph is not None
    labelled = graph_figure(layout_graph(model.graph, shapes=True))
    shapes = next(t for t in labelled.data if t.name == "tensor shapes")
    assert "(None, 4)" in shapes.text and shapes.mode == "text"
    assert len(shapes.x) == len(shapes.text) == len(shapes.y)
    plain = graph_figure(layout_graph(model.graph))
    assert not [t for t in plain.data if t.name == "tensor shapes"]
    wrapped = graph_figure(layout_graph(model.graph, direction="LR", shapes=True, wrap=300))
    edges = next(t for t in wrapped.data if t.name == "edges")
    assert None in edges.x  # broken where rows wrap


def test_a_left_to_right_graph_has_its_colour_bar_above(
    opened: tuple[ModelWeights, GraphLayout],
) -> None:
    model, _ = opened
    assert model.graph is not None
    layout = layout_graph(model.graph, direction="LR")
    fig = graph_figure(layout, values=node_values(model, layout, "params"), log_scale=True)
    bar = next(t for t in fig.data if t.marker and t.marker.showscale)
    assert bar.marker.colorbar.orientation == "h"
    assert fig.layout.width >= layout.width * 0.75
    tall = graph_figure(layout_graph(model.graph), values=node_values(model, layout, "params"))
    side = next(t for t in tall.data if t.marker and t.marker.showscale)
    assert side.marker.colorbar.orientation is None  # top to bottom: at the right, as before
