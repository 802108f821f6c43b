"""What a class meets first (AppTest): the layer a model opens on, the layer picker, Compare's
second model, Activations' sample, background and class names, and what the URL and messages say."""

from __future__ import annotations

import io
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from _page_state import state_key
from keras import layers
from PIL import Image
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180


def app(query: dict[str, str] | None = None, state: dict[str, object] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    for key, value in (state or {}).items():
        at.session_state[key] = value
    return at.run()


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def charts(at: AppTest) -> list[dict[str, object]]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def titles(at: AppTest) -> list[str]:
    return [c["layout"]["title"]["text"] for c in charts(at)]  # type: ignore[index]


def text_of(at: AppTest) -> str:
    parts = [e.value for e in (*at.caption, *at.info, *at.error, *at.markdown)]
    return " ".join(str(p) for p in parts).replace("\\", "")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two checkpoints of one model and a file of another architecture."""
    out = tmp_path_factory.mktemp("class_models")
    for epoch in (1, 2):
        keras.utils.set_random_seed(epoch)
        inputs = keras.Input((6, 6, 3))
        x = layers.Flatten()(layers.Conv2D(4, 3, name="conv")(inputs))
        outputs = layers.Dense(3, activation="softmax", name="out")(x)
        keras.Model(inputs, outputs, name="sequential").save(out / f"ckpt-{epoch:02d}.keras")
    inputs = keras.Input((5,))
    keras.Model(inputs, layers.Dense(2, name="d")(inputs), name="sequential").save(
        out / "other.keras"
    )
    return out


def test_previous_next_and_weightless_layers() -> None:
    at = app()
    clean(at)
    assert at.session_state[state_key(at, "layer")] == "conv1"
    assert at.button(key="layer_prev").disabled
    at.button(key="layer_next").click().run()
    assert at.session_state[state_key(at, "layer")] == "conv2"
    at.button(key="layer_next").click().run()
    assert (
        at.session_state[state_key(at, "layer")] == "dense"
    )  # pool and flatten hold no weights: skipped
    at.toggle(key=state_key(at, "show_weightless")).set_value(True).run()
    at.button(key="layer_prev").click().run()
    assert at.session_state[state_key(at, "layer")] == "flatten"
    clean(at)

    linked = app({"model": "digits_cnn", "layer": "pool"})  # a link opens what it names
    clean(linked)
    assert (
        linked.session_state[state_key(linked, "layer")] == "pool"
        and linked.toggle(key=state_key(linked, "show_weightless")).value
    )


def test_compare_a_folder_file_with_its_neighbour_by_file_name(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(folder))
    at = app({"model": "ckpt-02.keras"}, {"main_tab": "Explain, diagnose, compare, train"})
    at.session_state["teaching_tab"] = "Compare"
    at.run()
    clean(at)
    assert at.radio(key=state_key(at, "compare_with")).value == "folder"
    assert (
        at.selectbox(key=state_key(at, "compare_folder")).value == "ckpt-01.keras"
    )  # never itself
    assert "ckpt-02.keras" not in at.selectbox(key=state_key(at, "compare_folder")).options
    shown = titles(at)
    assert shown[0] == "How far each layer moved: ckpt-02.keras -&gt; ckpt-01.keras"  # as text
    assert shown[1:3] == ["ckpt-02.keras", "ckpt-01.keras"]  # panels titled by file, not model
    (table,) = [d.value for d in at.dataframe if "status" in d.value.columns]
    assert not table.isna().any().any() and "None" not in table.to_string()

    at.selectbox(key=state_key(at, "compare_folder")).set_value("other.keras").run()
    clean(at)
    assert not at.error and any("not the same architecture" in i.value for i in at.info)
    (table,) = [d.value for d in at.dataframe if "status" in d.value.columns]
    assert "None" not in table.to_string() and "\u2014" in table.to_string()


def test_a_demo_compares_with_its_own_random_start() -> None:
    at = app(state={"main_tab": "Explain, diagnose, compare, train", "teaching_tab": "Compare"})
    clean(at)
    assert at.radio(key=state_key(at, "compare_with")).value == "start"
    shown = titles(at)
    assert shown[0].endswith("digits_cnn before training -&gt; digits_cnn after training")
    bars = charts(at)[0]["data"][0]  # type: ignore[index]
    assert all(0 < x < 5 for x in bars["x"])  # training moved every layer, by a finite amount
    at.radio(key=state_key(at, "compare_with")).set_value("demo").run()
    clean(at)
    assert "digits_cnn" not in at.selectbox(key=state_key(at, "compare_demo")).options


def _dark_on_white_digit() -> tuple[bytes, int]:
    """A held-out digit drawn as a student would: dark ink on white paper, 64x64 PNG."""
    from kerascope.extraction.models.demos import sample_inputs

    xs, ys = sample_inputs("digits_cnn")
    i = int(np.flatnonzero(ys == 0)[0])
    ink = (255 * (1.0 - xs[i][..., 0])).astype(np.uint8)
    image = Image.fromarray(ink).resize((64, 64), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue(), int(ys[i])


def test_a_dark_on_white_digit_is_inverted_with_a_note() -> None:
    at = app(state={"main_tab": "Explain, diagnose, compare, train", "teaching_tab": "Activations"})
    clean(at)
    # The panel opens on the sample with the most detail, not on sample 0.
    assert at.slider(key=state_key(at, "act-sample")).value != 0
    assert "the sample with the most detail" in text_of(at)
    assert "The model says" in text_of(at)
    data, label = _dark_on_white_digit()
    at.radio(key=state_key(at, "act-source")).set_value("uploaded image").run()
    at.file_uploader(key=state_key(at, "act-upload")).upload(
        "my_digit.png", data, "image/png"
    ).run()
    clean(at)
    said = text_of(at)
    assert "Dark on a light background" in said and "inverted before the model sees it" in said
    (top,) = [d.value for d in at.dataframe if "probability" in d.value.columns]
    assert top["class"].iloc[0] == str(label) and len(top) == 5
    invert = next(t for t in at.toggle if "|act-invert" in str(t.key))
    assert invert.value
    invert.set_value(False).run()
    clean(at)
    assert "turn Invert on for a fair test" in text_of(at)


@pytest.mark.slow
def test_a_patch_demo_sees_a_patch_of_the_photo_and_says_why() -> None:
    at = app(
        {"model": "photo_patches", "layer": "conv1"},
        {"main_tab": "Explain, diagnose, compare, train", "teaching_tab": "Activations"},
    )
    clean(at)
    at.radio(key=state_key(at, "act-source")).set_value("sample photo").run()
    clean(at)
    said = text_of(at)
    assert "learned from 16x16-pixel patches of photos, so it is shown one" in said
    assert "not a whole photo shrunk to a 16x16 blur" in said
    patch = at.slider(key=next(s.key for s in at.slider if "act-patch" in str(s.key)))
    assert "(the most detailed)" in said and f"Patch {patch.value} of" in said
    spec = next(c for c in charts(at) if "what the model sees" in str(c["layout"]["title"]))
    assert spec["layout"]["title"]["text"] == "what the model sees (16x16)"  # type: ignore[index]
    (top,) = [d.value for d in at.dataframe if "probability" in d.value.columns]
    # A patch at full resolution, as trained: no coin toss between the two photos.
    assert top["class"].iloc[0].startswith("china.jpg")
    assert float(top["probability"].iloc[0].rstrip("%")) > 90
    for index in (0, int(patch.max) // 2, int(patch.max)):  # other patches run too
        patch.set_value(index).run()
        clean(at)
        assert f"Patch {index} of" in text_of(at)


@pytest.mark.slow
def test_an_application_uses_its_preprocessing_and_imagenet_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keras's cached class index gives names; MobileNetV2 opens on its first conv."""
    (tmp_path / "models").mkdir()
    index = {str(i): [f"n{i:08d}", f"imagenet_class_{i}"] for i in range(1000)}
    (tmp_path / "models" / "imagenet_class_index.json").write_text(json.dumps(index))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    at = app(
        {"model": "app:MobileNetV2"},
        {"main_tab": "Explain, diagnose, compare, train", "teaching_tab": "Activations"},
    )
    clean(at)
    assert at.session_state[state_key(at, "layer")] == "Conv1"
    assert at.selectbox(key=state_key(at, "act-range")).value == "preprocess_input"
    (top,) = [d.value for d in at.dataframe if "probability" in d.value.columns]
    assert len(top) == 5 and all(c.startswith("imagenet_class_") for c in top["class"])
    said = text_of(at)
    assert "ImageNet class names" in said and "Untrained weights" in said

    (tmp_path / "models" / "imagenet_class_index.json").write_text("{not json")
    at = app(
        {"model": "app:MobileNetV2"},
        {"main_tab": "Explain, diagnose, compare, train", "teaching_tab": "Activations"},
    )
    clean(at)
    (top,) = [d.value for d in at.dataframe if "probability" in d.value.columns]
    assert all(c.startswith("class ") for c in top["class"])
    assert "ImageNet class indices" in text_of(at)


@pytest.mark.slow
def test_efficientnet_opens_on_its_first_conv_and_a_failed_download_says_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # nothing cached: a download must fail
    at = app({"model": "app:EfficientNetB0"})
    clean(at)
    assert (
        at.session_state[state_key(at, "layer")] == "stem_conv"
    )  # not its Rescaling or Normalization
    at.button(key="app_download").click().run()
    clean(at)
    # Offline is an expected condition: one neutral line, no red box, no URL or errno.
    assert not at.error, [e.value for e in at.error]
    said = [i.value for i in at.info if "offline" in i.value]
    assert said == [
        "ImageNet weights are not available offline: EfficientNetB0 stays untrained "
        "(random initial weights)."
    ]
    assert at.session_state[state_key(at, "layer")] == "stem_conv"  # the untrained model stays open
    at.run()  # said once, not on every rerun
    assert not [i for i in at.info if "offline" in i.value] and not at.error
    at.button(key="app_download").click().run()  # a second try asks again (no memory of it)
    assert [i.value for i in at.info if "offline" in i.value] == said and not at.error
