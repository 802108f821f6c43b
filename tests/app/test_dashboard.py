"""The page logic with Streamlit's AppTest: default demo, switching, deep links, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import pytest
from _page_state import settled, state_key
from keras import layers
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180  # the first run imports TensorFlow and may train the demo


def app(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def charts(at: AppTest) -> list[dict[str, object]]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    inputs = keras.Input((6,))
    x = layers.Dense(4, name="hidden")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    keras.Model(inputs, layers.Dense(2, name="out")(x), name="tiny").save(folder / "tiny.keras")
    (folder / "broken.keras").write_bytes(b"PK\x03\x04 definitely not a zip")
    (tmp_path_factory.getbasetemp() / "outside.keras").write_bytes(b"secret")
    return folder


def test_default_demo_shows_learned_filters_without_any_action() -> None:
    at = app()
    assert_clean(at)
    assert at.session_state[state_key(at, "layer")] == "conv1"
    (grid,) = charts(at)
    assert grid["data"][0]["type"] == "heatmap"
    assert "filters 1-16 of 16" in grid["layout"]["title"]["text"]
    assert at.query_params["model"] == "digits_cnn" and at.query_params["layer"] == "conv1"
    assert {b.label for b in at.get("download_button")} >= {"kernel.npy", "layer .npz"}


def test_walk_layers_conv_dense_bias_and_weightless() -> None:
    at = app()
    at.selectbox(key=state_key(at, "layer")).set_value("dense").run()
    assert_clean(at)
    (heat,) = charts(at)
    assert heat["data"][0]["type"] == "heatmap"
    assert heat["layout"]["xaxis"]["title"]["text"] == "output unit"
    at.button_group(key=state_key(at, "weight", "dense")).set_value("bias").run()
    assert_clean(at)
    (hist,) = charts(at)
    assert hist["data"][0]["type"] == "bar"
    assert not any(
        "pool" in o for o in at.selectbox(key=state_key(at, "layer")).options
    )  # hidden at first
    at.toggle(key=state_key(at, "show_weightless")).set_value(True).run()
    at.selectbox(key=state_key(at, "layer")).set_value("pool").run()
    assert_clean(at)
    assert any("no weights" in i.value for i in at.info)
    assert at.query_params["layer"] == "pool"


def test_switching_models_keeps_a_valid_layer() -> None:
    at = app()
    at.selectbox(key="demo_name").set_value("digits_mlp").run()
    assert_clean(at)
    assert at.session_state[state_key(at, "layer")] == "hidden1"
    assert at.query_params["model"] == "digits_mlp"
    assert charts(at)[0]["data"][0]["type"] == "heatmap"


def test_a_model_switched_to_starts_as_its_link_opens_it() -> None:
    at = app()
    at.button(key="layer_next").click().run()  # digits_cnn's conv2: photo_patches has one too
    assert at.session_state[state_key(at, "layer")] == "conv2"
    at.selectbox(key="demo_name").set_value("photo_patches").run()
    assert_clean(at)
    linked = app({"model": "photo_patches"})
    for page in (at, linked):
        assert page.session_state[state_key(page, "layer")] == "conv1"
        assert page.selectbox(key=state_key(page, "grid_mode", "conv1", "kernel")).value == "rgb"
        assert "filters 1-16 of 16, RGB" in charts(page)[0]["layout"]["title"]["text"]  # type: ignore[index]
    assert [c.value for c in at.caption] == [c.value for c in linked.caption]
    assert at.query_params["layer"] == "conv1"


def test_model_folder_lists_its_files_and_opens_none(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(model_dir))
    at = app()
    at.radio(key="source_kind").set_value("folder").run()
    assert_clean(at)
    assert not at.error
    files = at.selectbox(key="folder_name")
    assert files.value is None and "tiny.keras" in files.options
    assert "Open now: demo digits\\_cnn" in [c.value for c in at.sidebar.caption]
    assert at.query_params["model"] == "digits_cnn"
    files.set_value("tiny.keras").run()
    assert_clean(at)
    assert at.query_params["model"] == "tiny.keras"


def test_deep_link_opens_model_and_layer() -> None:
    at = app({"model": "digits_mlp", "layer": "digit"})
    assert_clean(at)
    assert not at.error
    assert at.session_state[state_key(at, "layer")] == "digit"
    assert at.selectbox(key="demo_name").value == "digits_mlp"


@pytest.mark.parametrize(
    "query, message",
    [
        ({"model": "no_such_model"}, "cannot be opened"),
        ({"model": "digits_cnn", "layer": "nope/nothing"}, "layer that does not exist"),
        ({"model": "app:NotANet"}, "no application"),
    ],
)
def test_bad_deep_links_show_an_error_box(query: dict[str, str], message: str) -> None:
    at = app(query)
    assert_clean(at)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert charts(at), "the default demo is still shown"


def test_model_folder_links_and_escapes(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(model_dir))
    at = app({"model": "tiny.keras", "layer": "bn"})
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    assert (
        at.session_state[state_key(at, "layer")] == "bn"
        and at.radio(key="source_kind").value == "folder"
    )
    for name in ("../outside.keras", "/etc/passwd", "broken.keras"):
        at = app({"model": name})
        assert_clean(at)
        assert at.error, name
        assert charts(at), "the app keeps working on the default demo"


def test_bad_upload_is_an_error_box_and_the_open_model_stays() -> None:
    at = app()
    at.radio(key="source_kind").set_value("upload").run()
    at.file_uploader(key="upload").upload("model.keras", b"not a model at all", "application/zip")
    at.run()
    assert_clean(at)
    assert any("Could not open upload model\\.keras" in e.value for e in at.error)
    assert at.session_state[state_key(at, "layer")] == "conv1"  # the demo is still open
    assert charts(at)
    # The sidebar no longer holds the rejected file as if it were open: a fresh uploader.
    (uploader,) = at.file_uploader
    assert uploader.key != "upload" and uploader.value is None
    assert "Open now: demo digits\\_cnn" in [c.value for c in at.sidebar.caption]


def test_good_upload_opens(tmp_path: Path) -> None:
    inputs = keras.Input((3,))
    model = keras.Model(inputs, layers.Dense(2, name="up_dense")(inputs), name="uploaded")
    model.save(tmp_path / "up.keras")
    at = app()
    at.radio(key="source_kind").set_value("upload").run()
    at.file_uploader(key="upload").upload(
        "up.keras", (tmp_path / "up.keras").read_bytes(), "application/zip"
    )
    at.run()
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    assert at.session_state[state_key(at, "layer")] == "up_dense"
    # The URL says what is open; such a link says uploads cannot be shared (tested with links).
    assert at.query_params["model"] == "upload:up.keras"
    assert any("cannot be shared by link" in c.value for c in at.sidebar.caption)


def test_all_layers_table_and_overview_tabs() -> None:
    at = app()
    at.session_state["main_tab"] = "All layers"
    at.run()
    assert_clean(at)
    (table,) = [d for d in at.dataframe if "path" in d.value.columns]
    assert list(table.value["path"]) == [
        "conv1",
        "conv2",
        "pool",
        "flatten",
        "dense",
        "dropout",
        "digit",
    ]
    at.session_state["main_tab"] = "Model overview"
    settled(at.run())
    assert_clean(at)
    (box,) = charts(at)
    assert box["data"][0]["type"] == "box"


def test_keras_application_without_cached_weights_is_labelled_untrained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no ImageNet weights cached here
    at = app({"model": "app:MobileNetV2", "layer": "Conv1"})
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    assert any("untrained" in i.value for i in at.info)
    assert at.radio(key="source_kind").value == "application"
    assert at.session_state[state_key(at, "layer")] == "Conv1"
    (grid,) = charts(at)
    assert "filters 1-32 of 32" in grid["layout"]["title"]["text"]
