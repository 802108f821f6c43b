"""The app on exported models: a TFLite int8 file and a TF.js folder open from the model folder
in every view, and Compare ranks what the int8 export lost against the Keras model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _exports import Exports, exports
from _page_state import state_key
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 240
TABS = ("Layer", "All layers", "Model overview", "Explain, diagnose, compare, train")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    made: Exports = exports()
    target = tmp_path_factory.mktemp("exports")
    shutil.copy(made.cnn_keras, target / "cnn.keras")
    shutil.copy(made.tflite["int8"], target / "cnn_int8.tflite")
    shutil.copytree(made.tfjs["uint8"], target / "tfjs_uint8")
    return target


def app(query: dict[str, str], **state: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def charts(at: AppTest) -> list[dict[str, object]]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_tflite_int8_every_view(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(folder))
    at = app({"model": "cnn_int8.tflite", "layer": "cnn_1/conv_1"})
    clean(at)
    assert at.session_state[state_key(at, "layer")] == "cnn_1/conv_1"
    (grid,) = charts(at)
    assert "filters 1-4 of 4" in grid["layout"]["title"]["text"]  # OHWI shown as Keras's grid
    captions = " ".join(c.value for c in at.caption)
    assert "stored as int8 with 4 scale" in captions and "per channel" in captions
    (values,) = [g.key for g in at.get("button_group") if "|values|" in str(g.key)]
    at.segmented_control(key=str(values)).set_value("dequantized").run()
    clean(at)
    assert charts(at)
    for layer in ("cnn_1/dw_1", "cnn_1/deconv_1", "cnn_1/fc_1", "main/constants"):
        at.selectbox(key=state_key(at, "layer")).set_value(layer).run()
        clean(at)
    for tab in TABS[1:]:
        at.session_state["main_tab"] = tab
        at.run()
        clean(at)
    for tab in ("Explain", "Health"):
        at.session_state["teaching_tab"] = tab
        at.run()
        clean(at)


def test_tfjs_folder_opens_like_a_keras_file(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(folder))
    at = app({"model": "tfjs_uint8/model.json", "layer": "dw"})
    clean(at)
    (grid,) = charts(at)
    assert "filters" in grid["layout"]["title"]["text"]
    at.session_state["main_tab"] = TABS[1]
    at.run()
    clean(at)


def test_compare_ranks_what_int8_lost(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(folder))
    at = app({"model": "cnn.keras", "layer": "conv"}, main_tab=TABS[3], teaching_tab="Compare")
    clean(at)
    at.radio(key=state_key(at, "compare_with")).set_value("folder").run()
    at.selectbox(key=state_key(at, "compare_folder")).set_value("cnn_int8.tflite").run()
    clean(at)
    bars = charts(at)[0]
    assert "What the export lost" in bars["layout"]["title"]["text"]  # type: ignore[index]
    assert sorted(bars["data"][0]["y"]) == ["conv", "deconv", "dw", "fc"]  # type: ignore[index]
    at.selectbox(key=state_key(at, "cmp-qlayer")).set_value("fc").run()
    clean(at)
    assert any("error per channel" in c["layout"]["title"]["text"] for c in charts(at))  # type: ignore[index]
