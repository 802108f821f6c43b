"""The model graph from configs: Keras 3 files and live models, Keras 2 files, odd JSON."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from kerascope.extraction import open_model
from kerascope.extraction.graph import ModelGraph, model_graph


def build_branchy() -> Any:
    """Two inputs, a skip connection (Add), a shared layer, a nested Functional and a nested
    Sequential, two outputs."""
    import keras
    from keras import layers

    inner_in = keras.Input((8,), name="inner_in")
    inner = keras.Model(inner_in, layers.Dense(8, name="inner_dense")(inner_in), name="block")
    tail = keras.Sequential(
        [keras.Input((8,)), layers.Dense(4, name="t1"), layers.Dense(2, name="t2")], name="tail"
    )
    a = keras.Input((8,), name="a")
    b = keras.Input((8,), name="b")
    shared = layers.Dense(8, name="shared")
    x = shared(a)
    y = shared(b)
    s = layers.Add(name="skip")([x, inner(y)])
    return keras.Model([a, b], [tail(s), layers.Dense(1, name="score")(s)], name="branchy")


@pytest.fixture(scope="module")
def branchy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("graph") / "branchy.keras"
    build_branchy().save(path)
    return path


def check_branchy(graph: ModelGraph | None) -> None:
    assert graph is not None
    assert set(graph.inputs) == {"a", "b"} and graph.outputs == ("tail/t2", "score")
    assert graph.groups == ("block", "tail")
    edges = set(graph.edges)
    assert {("a", "shared"), ("b", "shared")} <= edges  # a shared layer: one node, two callers
    assert ("shared", "block/inner_in") in edges  # into the nested model's input
    assert ("block/inner_dense", "skip") in edges  # out of its output
    assert {("shared", "skip"), ("skip", "tail/t1"), ("tail/t1", "tail/t2")} <= edges
    assert ("skip", "score") in edges
    nodes, folded = graph.collapse(["block", "tail"])
    ids = {n.id for n in nodes}
    assert {"block", "tail"} <= ids and not any("/" in i for i in ids)
    assert set(folded) >= {("shared", "block"), ("block", "skip"), ("skip", "tail")}


def test_keras3_file_graph(branchy_file: Path) -> None:
    check_branchy(open_model(branchy_file).graph)


def test_live_model_graph_matches_its_file(branchy_file: Path) -> None:
    live = open_model(build_branchy()).graph
    check_branchy(live)
    from_file = open_model(branchy_file).graph
    assert from_file is not None and live is not None
    assert set(live.edges) == set(from_file.edges)
    assert [n.id for n in live.nodes] == [n.id for n in from_file.nodes]


def test_graph_node_ids_are_the_record_paths(branchy_file: Path) -> None:
    model = open_model(branchy_file)
    assert model.graph is not None
    leaves = {n.id for n in model.graph.nodes if not n.is_group}
    assert {la.path for la in model.layers} <= leaves


def test_keras2_files_and_sequentials(realworld: Path) -> None:
    style = open_model(realworld / "style_transfer_keras2.keras").graph
    assert style is not None and style.inputs == ("input_2",)
    raw = json.loads(zipfile.ZipFile(realworld / "style_transfer_keras2.keras").read("config.json"))
    adds = [la["name"] for la in raw["config"]["layers"] if la["class_name"] == "Add"]
    assert adds and all(sum(1 for _, b in style.edges if b == name) == 2 for name in adds)
    mlp = open_model(realworld / "mnist_mlp.h5").graph  # Keras 2 HDF5 Sequential: a chain
    assert mlp is not None and len(mlp.edges) == len(mlp.nodes) - 1
    saved = open_model(realworld / "digits_savedmodel_keras2").graph  # from keras_metadata.pb
    assert saved is not None and saved.edges


def test_weights_only_file_has_no_graph(tmp_path: Path) -> None:
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    model.save_weights(tmp_path / "w.weights.h5")
    assert open_model(tmp_path / "w.weights.h5").graph is None


def test_keras2_keyword_tensor_and_unknown_names() -> None:
    layer = {"class_name": "Dense", "config": {"name": "d"}}
    config = {
        "class_name": "Functional",
        "config": {
            "name": "m",
            "layers": [
                {"class_name": "InputLayer", "name": "q", "config": {}, "inbound_nodes": []},
                {"class_name": "InputLayer", "name": "v", "config": {}, "inbound_nodes": []},
                {
                    "class_name": "MultiHeadAttention",
                    "name": "mha",
                    "config": {"name": "mha"},
                    "inbound_nodes": [[["q", 0, 0, {"value": ["v", 0, 0]}], ["ghost", 0, 0, {}]]],
                },
                {**layer, "name": "d", "inbound_nodes": [[["mha", 0, 0, {}]]]},
            ],
            "input_layers": [["q", 0, 0], ["v", 0, 0]],
            "output_layers": [["d", 0, 0]],
        },
    }
    graph = model_graph(config)
    assert graph is not None
    assert set(graph.edges) == {("q", "mha"), ("v", "mha"), ("mha", "d")}  # ghost dropped
    assert graph.inputs == ("q", "v") and graph.outputs == ("d",)


@pytest.mark.parametrize(
    "config",
    [
        None,
        [],
        "model",
        {"class_name": "MyModel", "config": {"name": "subclassed"}},
        {"class_name": "Functional", "config": {"layers": "nope"}},
    ],
)
def test_not_a_layer_graph_is_none(config: object) -> None:
    assert model_graph(config) is None


def test_deeply_nested_arguments_do_not_exhaust_the_stack() -> None:
    deep: Any = ["x", 0, 0]
    for _ in range(50_000):
        deep = [deep]
    config = {
        "class_name": "Functional",
        "config": {
            "layers": [
                {"class_name": "InputLayer", "name": "x", "config": {}, "inbound_nodes": []},
                {"class_name": "Dense", "name": "d", "config": {}, "inbound_nodes": deep},
            ]
        },
    }
    graph = model_graph(config)
    assert graph is not None and graph.edges == (("x", "d"),)
