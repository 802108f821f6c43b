"""Graphviz places the graph: inputs on top, nested models boxed, folding, no dot, ResNet50."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_graph import build_branchy

from kerascope.extraction import open_model
from kerascope.extraction.graph import ModelGraph
from kerascope.extraction.graph_layout import LayoutUnavailable, layout_graph


@pytest.fixture(scope="module")
def graph() -> ModelGraph:
    found = open_model(build_branchy()).graph
    assert found is not None
    return found


def test_inputs_above_outputs_and_every_edge_drawn(graph: ModelGraph) -> None:
    layout = layout_graph(graph)
    y = {p.node.id: p.y for p in layout.nodes}
    assert min(y["a"], y["b"]) > y["skip"] > y["tail/t2"]  # dot puts sources on top (y up)
    assert len(layout.edges) == len(graph.edges)
    for edge in layout.edges:
        assert len(edge.xs) == len(edge.ys) >= 2
    assert {g.id for g in layout.groups} == {"block", "tail"}
    assert layout.width > 0 and layout.height > 0
    box = next(g for g in layout.groups if g.id == "tail")
    t1 = next(p for p in layout.nodes if p.node.id == "tail/t1")
    assert box.x0 < t1.x < box.x1 and box.y0 < t1.y < box.y1  # the cluster holds its layers


def test_folded_model_is_one_node_without_a_box(graph: ModelGraph) -> None:
    layout = layout_graph(graph, ["tail"])
    ids = [p.node.id for p in layout.nodes]
    assert "tail" in ids and "tail/t1" not in ids
    assert [g.id for g in layout.groups] == ["block"]
    assert "tail" in layout.outputs or layout.outputs == ("score",)


def test_without_dot_the_error_says_how_to_install_it(
    graph: ModelGraph, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no dot program on the PATH
    with pytest.raises(LayoutUnavailable, match="apt-get install graphviz"):
        layout_graph(graph)


@pytest.mark.slow
def test_resnet50_graph_is_placed_and_drawn_in_under_two_seconds() -> None:
    import keras

    from kerascope.components.figures.graph import graph_figure, node_values

    model = open_model(keras.applications.ResNet50(weights=None))
    assert model.graph is not None
    graph_figure(layout_graph(open_model(build_branchy()).graph))  # type: ignore[arg-type]
    started = time.perf_counter()
    layout = layout_graph(model.graph)
    fig = graph_figure(layout, values=node_values(model, layout, "params"))
    seconds = time.perf_counter() - started
    assert len(layout.nodes) == len(model.layers) == 177
    adds = [p.node.id for p in layout.nodes if p.node.class_name == "Add"]
    assert len(adds) == 16 and all(
        sum(1 for e in layout.edges if e.target == a) == 2 for a in adds
    )  # every residual block's skip connection
    assert len(fig.data[1].x) == 177
    assert seconds < 2.0, f"{seconds:.2f} s"
