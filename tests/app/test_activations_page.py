"""AppTest flows of the Activations tab: digits samples, photos, and files that cannot run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _page_state import state_key
from streamlit.testing.v1 import AppTest

PAGE = Path(__file__).with_name("teaching_page.py")
TIMEOUT = 180


def charts(at: AppTest) -> list[dict[str, object]]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def titles(at: AppTest) -> list[str]:
    return [c["layout"]["title"]["text"] for c in charts(at)]  # type: ignore[index]


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def demo_page(layer: str) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    at.session_state["teaching_tab"] = "Activations"
    at.session_state["test_layer"] = layer
    return at.run()


def test_conv_maps_beside_filters_then_another_sample_and_dense_bars() -> None:
    at = demo_page("conv1")
    clean(at)
    shown = titles(at)
    assert shown[0] == "what the model sees (8x8)"
    assert "feature maps 1-16 of 16 (8x8)" in shown[1] and "conv2d filters 1-16 of 16" in shown[2]
    caption = " ".join(c.value for c in at.caption)
    first = at.slider(key=state_key(at, "act-sample")).value  # the sample with the most detail
    assert f"held-out sample {first}, label" in caption and "The model says" in caption
    at.slider(key=state_key(at, "act-sample")).set_value(5).run()
    clean(at)
    assert "held-out sample 5" in " ".join(c.value for c in at.caption)
    at.radio(key=state_key(at, "act-source")).set_value("random input").run()
    clean(at)
    assert "uniform random" in " ".join(c.value for c in at.caption)

    at = demo_page("digit")
    clean(at)
    bars = charts(at)[1]
    assert bars["data"][0]["type"] == "bar"  # type: ignore[index]
    assert "10 units; largest: unit" in bars["layout"]["title"]["subtitle"]["text"]  # type: ignore[index]


def folder_page() -> None:
    import os
    from pathlib import Path

    import streamlit as st

    from kerascope.components.page.scope import enter
    from kerascope.components.page.sources import ModelRef
    from kerascope.components.page.teaching import render_tabs
    from kerascope.extraction import open_model

    name = os.environ["ACT_TEST_FILE"]
    model = open_model(Path(os.environ["KERASCOPE_MODEL_DIR"]) / name)
    st.session_state["teaching_tab"] = "Activations"
    ref = ModelRef(os.environ.get("ACT_TEST_KIND", "folder"), name)  # type: ignore[arg-type]
    enter(ref, model)
    render_tabs(ref, model, model.layer(os.environ["ACT_TEST_LAYER"]))


@pytest.fixture()
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import keras
    from keras import layers

    inner = keras.Sequential([keras.Input((6,)), layers.Dense(3, name="inner")], name="block")
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, name="conv")(inputs)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(6, name="dense")(x)
    model = keras.Model(inputs, inner(x), name="rgb_net")
    model.save(tmp_path / "rgb.keras")
    model.save_weights(tmp_path / "rgb.weights.h5")
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(tmp_path))
    return tmp_path


def run_folder(monkeypatch: pytest.MonkeyPatch, name: str, layer: str, kind: str) -> AppTest:
    monkeypatch.setenv("ACT_TEST_FILE", name)
    monkeypatch.setenv("ACT_TEST_LAYER", layer)
    monkeypatch.setenv("ACT_TEST_KIND", kind)
    return AppTest.from_function(folder_page, default_timeout=TIMEOUT).run()


def test_rgb_file_runs_on_a_sample_photo(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_folder(monkeypatch, "rgb.keras", "conv", "folder")
    clean(at)
    assert at.radio(key=state_key(at, "act-source")).options == [
        "sample photo",
        "uploaded image",
        "random input",
    ]
    assert "RGB" in titles(at)[2] and "(6x6)" in titles(at)[1]
    at.selectbox(key=state_key(at, "act-photo")).set_value("flower.jpg").run()
    clean(at)
    said = " ".join(c.value for c in at.caption).replace("\\", "")  # Markdown escapes
    assert "flower.jpg, cropped and resized to 8x8" in said


@pytest.mark.parametrize(
    ("name", "layer", "kind", "says"),
    [
        ("rgb.weights.h5", "conv", "folder", "This file can be read but not run: Keras cannot"),
        ("rgb.keras", "conv", "upload", "This file can be read but not run: an uploaded file"),
        ("rgb.keras", "block/inner", "folder", "inside the nested model 'block'"),
    ],
    ids=["weights-only", "upload", "nested"],
)
def test_what_cannot_run_says_why_in_one_box(
    folder: Path, monkeypatch: pytest.MonkeyPatch, name: str, layer: str, kind: str, says: str
) -> None:
    at = run_folder(monkeypatch, name, layer, kind)
    clean(at)
    assert len(at.info) == 1 and says in at.info[0].value
    assert not charts(at)
