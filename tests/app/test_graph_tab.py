"""The Graph tab in AppTest: a model with a config draws its graph; a weights-only file lists
its layers instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _page_state import state_key
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import keras

    path = tmp_path_factory.mktemp("graph_models")
    x = keras.Input((4,), name="x")
    h = keras.layers.Dense(4, name="h")(x)
    model = keras.Model(x, keras.layers.Add(name="skip")([x, h]), name="skippy")
    model.save(path / "skippy.keras")
    model.save_weights(path / "skippy.weights.h5")
    return path


def graph_tab(folder: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(folder))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["model"] = name
    at.session_state["main_tab"] = "Graph"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_graph_of_a_keras_file(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = graph_tab(folder, "skippy.keras", monkeypatch)
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    nodes = next(s for s in specs if any(t.get("name") == "layers" for t in s["data"]))
    layer_trace = next(t for t in nodes["data"] if t.get("name") == "layers")
    assert sorted(c[0] for c in layer_trace["customdata"]) == ["h", "skip", "x"]
    assert any("3 nodes, 3 connections" in c.value for c in at.caption)
    at.segmented_control(key=state_key(at, "graph_colour")).set_value("health").run()
    assert not at.exception


def test_weights_only_file_lists_its_layers(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = graph_tab(folder, "skippy.weights.h5", monkeypatch)
    assert any("no model config" in i.value for i in at.info)
    table = at.dataframe[0].value
    assert "h" in list(table["layer"])
