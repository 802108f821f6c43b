"""Edges labelled with tensor shapes where the config gives them; the attribute panel's data;
left-to-right layouts, wrapped into rows."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from test_graph import build_branchy

from kerascope.extraction import open_model
from kerascope.extraction.attributes import MAX_ROWS, MAX_VALUE_CHARS, config_attributes
from kerascope.extraction.graph import ModelGraph, model_graph, shape_text
from kerascope.extraction.graph_layout import NODE_WIDTH, ROW_GAP, layout_graph


def graph_of(model: Any) -> ModelGraph:
    found = open_model(model).graph
    assert found is not None
    return found


def convnet() -> Any:
    import keras
    from keras import layers

    x = keras.Input((28, 28, 1), name="image")
    c = layers.Conv2D(8, 3, name="conv")(x)
    p = layers.MaxPooling2D(name="pool")(c)
    s = layers.Add(name="add")([p, p])
    out = layers.Dense(10, name="out")(layers.Flatten(name="flat")(s))
    return keras.Model(x, out, name="convnet")


def test_keras3_functional_edges_carry_their_tensor_shapes(tmp_path: Path) -> None:
    model = convnet()
    model.save(tmp_path / "convnet.keras")
    for graph in (graph_of(model), graph_of(tmp_path / "convnet.keras")):
        shapes = graph.edge_shapes()
        assert shapes[("image", "conv")] == (None, 28, 28, 1)
        assert shapes[("conv", "pool")] == (None, 26, 26, 8)
        assert shapes[("pool", "add")] == (None, 13, 13, 8)
        assert shapes[("flat", "out")] == (None, 1352)
        assert set(shapes) == set(graph.edges)  # every edge of a Keras 3 config has one
    assert shape_text((None, 28, 28, 1)) == "(None, 28, 28, 1)"
    assert shape_text((None,)) == "(None,)"


def test_sequential_edges_take_the_next_layers_build_shape() -> None:
    import keras
    from keras import layers

    seq = keras.Sequential(
        [keras.Input((5,)), layers.Dense(3, name="d1"), layers.Dense(2, name="d2")], name="s"
    )
    graph = graph_of(seq)
    assert graph.edge_shapes() == {("d1", "d2"): (None, 3)}


def test_keras2_configs_give_what_they_have(realworld: Path) -> None:
    style = graph_of(realworld / "style_transfer_keras2.keras")  # build_config per layer
    raw = json.loads(zipfile.ZipFile(realworld / "style_transfer_keras2.keras").read("config.json"))
    first = raw["config"]["layers"][1]
    edge = (first["inbound_nodes"][0][0][0], first["name"])
    assert style.edge_shapes()[edge] == tuple(first["build_config"]["input_shape"])
    mlp = graph_of(realworld / "mnist_mlp.h5")  # Keras 2 HDF5 Sequential: no shapes recorded
    assert mlp.edges and mlp.edge_shapes() == {}


def test_shapes_of_folded_groups_and_neighbours() -> None:
    graph = graph_of(build_branchy())
    shapes = graph.edge_shapes(["block"])
    assert shapes[("shared", "block")] == (None, 8)  # the tensor entering the folded model
    inputs, outputs = graph.neighbours("skip")
    assert sorted(a for a, _ in inputs) == ["block/inner_dense", "shared"]
    assert all(s == (None, 8) for _, s in inputs)
    assert sorted(b for b, _ in outputs) == ["score", "tail/t1"]
    folded_in, _ = graph.neighbours("skip", ["block"])
    assert sorted(a for a, _ in folded_in) == ["block", "shared"]


@pytest.mark.parametrize("bad", [["a", 1], [1.5], [True, 2], "28x28", {"shape": 1}, [None] * 40])
def test_odd_shape_entries_are_ignored(bad: object) -> None:
    config = {
        "class_name": "Functional",
        "config": {
            "name": "m",
            "layers": [
                {"class_name": "InputLayer", "name": "x", "config": {"name": "x"}},
                {
                    "class_name": "Dense",
                    "name": "d",
                    "config": {"name": "d"},
                    "build_config": {"input_shape": bad},
                    "inbound_nodes": [[["x", 0, 0, {}]]],
                },
            ],
            "input_layers": [["x", 0, 0]],
            "output_layers": [["d", 0, 0]],
        },
    }
    graph = model_graph(config)
    assert graph is not None and graph.edges == (("x", "d"),)
    assert graph.edge_shapes() == {}


def test_attributes_of_a_conv_layer(realworld: Path) -> None:
    model = open_model(realworld / "mnist_cnn.keras")
    rows = dict(config_attributes(model.layers[0].config))
    assert rows["filters"] == "32" and rows["kernel_size"] == "(3, 3)"
    assert rows["strides"] == "(2, 2)" and rows["activation"] == "relu"
    assert rows["dtype"] == "float32"  # a DTypePolicy reads as its name
    assert rows["kernel_initializer"] == "GlorotUniform(seed=None)"
    assert rows["bias_initializer"] == "Zeros()"
    assert "name" not in rows and "kernel_regularizer" not in rows  # the title; null says nothing
    keys = [k for k, _ in config_attributes(model.layers[0].config)]
    assert keys.index("filters") < keys.index("kernel_size") < keys.index("activation")


def test_attribute_text_is_bounded_and_kept_as_written() -> None:
    config = {
        "name": "x",
        "vocabulary": [f"w{i}" for i in range(1_000_000)],
        "note": "**bold** <b>tag</b> [link](http://127.0.0.1:9/evil) $x^2$",
        "nested": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}},
        "one": [7],
        **{f"k{i}": i for i in range(100)},
    }
    rows = config_attributes(config)
    values = dict(rows)
    assert values["vocabulary"].startswith("1,000,000 items: (w0, w1")
    assert len(values["vocabulary"]) <= MAX_VALUE_CHARS
    assert values["note"] == config["note"]
    assert "…" in values["nested"] and values["one"] == "(7,)"
    assert len(rows) == MAX_ROWS + 1 and rows[-1][0] == "…"
    assert config_attributes("not a mapping") == ()  # type: ignore[arg-type]


def test_left_to_right_puts_inputs_left_and_labels_between() -> None:
    graph = graph_of(convnet())
    layout = layout_graph(graph, direction="LR", shapes=True)
    x = {p.node.id: p.x for p in layout.nodes}
    assert x["image"] < x["conv"] < x["pool"] < x["add"] < x["flat"] < x["out"]
    labelled = {(e.source, e.target): e for e in layout.edges}
    first = labelled[("image", "conv")]
    assert first.label == "(None, 28, 28, 1)" and first.label_at is not None
    assert x["image"] < first.label_at[0] < x["conv"]
    plain = layout_graph(graph, direction="LR")
    assert all(e.label == "" and e.label_at is None for e in plain.edges)
    with pytest.raises(ValueError, match="direction"):
        layout_graph(graph, direction="BT")  # type: ignore[arg-type]


def chain(n: int) -> Any:
    import keras
    from keras import layers

    x = inputs = keras.Input((4,), name="x")
    skip = None
    for i in range(n):
        x = layers.Dense(4, name=f"d{i}")(x)
        if i % 5 == 4 and skip is not None:
            x = layers.Add(name=f"add{i}")([x, skip])
        if i % 5 == 0:
            skip = x
    return keras.Model(inputs, x, name="chain")


def test_wrapped_rows_fit_cut_between_ranks_and_keep_every_edge() -> None:
    graph = graph_of(chain(40))
    wrap = 700.0
    whole = layout_graph(graph, direction="LR", shapes=True)
    layout = layout_graph(graph, direction="LR", shapes=True, wrap=wrap)
    assert whole.width > 3 * wrap and layout.rows >= 3
    assert layout.width <= wrap and layout.height > whole.height * layout.rows
    half = 36 * NODE_WIDTH
    assert all(-1 <= p.x - half and p.x + half <= layout.width + 1 for p in layout.nodes)
    assert len(layout.edges) == len(whole.edges)
    # Read row by row, top to bottom, then left to right: the chain's order.
    step = (layout.height + ROW_GAP) / layout.rows
    order = sorted(layout.nodes, key=lambda p: (-(p.y // step), p.x))
    dense = [p.node.id for p in order if p.node.id.startswith("d")]
    assert dense == [f"d{i}" for i in range(40)]
    broken = [e for e in layout.edges if None in e.xs]
    assert broken  # edges crossing a cut break and go on in the next row
    for e in layout.edges:
        points = [x for x in e.xs if x is not None]
        assert all(-1 <= x <= layout.width + 1 for x in points)
        if e.label_at is not None:
            assert 0 <= e.label_at[0] <= layout.width
    narrow = layout_graph(graph, direction="LR", wrap=10.0)  # narrower than a box: a rank a row
    assert narrow.rows == len({round(p.x) for p in whole.nodes})
    assert layout_graph(graph, wrap=wrap).rows == 1  # top to bottom is never wrapped
