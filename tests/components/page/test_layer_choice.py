"""Which view each weight gets, gate lines, downloads and deep-link parsing (no server)."""

from __future__ import annotations

import io
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from kerascope.components.figures.downloads import (
    CSV_MAX_VALUES,
    csv_bytes,
    file_stem,
    npy_bytes,
    npz_bytes,
)
from kerascope.components.figures.weight_views import gates_for, views_for
from kerascope.components.page.sources import ModelRef, parse_link
from kerascope.extraction import open_model
from kerascope.extraction.errors import SourceNotFound, UnsafeModel


def _layer(layer: keras.layers.Layer, shape: tuple[int, ...]):  # type: ignore[no-untyped-def]
    inputs = keras.Input(shape)
    return open_model(keras.Model(inputs, layer(inputs))).layer(layer.name)


@pytest.mark.parametrize(
    "layer, shape, weight, views",
    [
        (layers.Conv2D(4, 3, name="l"), (6, 6, 3), "kernel", ["filters", "heatmap", "histogram"]),
        (layers.Conv2D(4, 3, name="l"), (6, 6, 3), "bias", ["histogram"]),
        (layers.Conv2D(4, 1, name="l"), (6, 6, 3), "kernel", ["heatmap", "filters", "histogram"]),
        (
            layers.SeparableConv2D(4, 3, name="l"),
            (6, 6, 3),
            "depthwise_kernel",
            ["filters", "heatmap", "histogram"],
        ),
        (
            layers.SeparableConv2D(4, 3, name="l"),
            (6, 6, 3),
            "pointwise_kernel",
            ["heatmap", "histogram"],
        ),
        (layers.Dense(3, name="l"), (4,), "kernel", ["heatmap", "histogram"]),
        (layers.LSTM(2, name="l"), (5, 3), "recurrent_kernel", ["heatmap", "histogram"]),
        (layers.Embedding(9, 2, name="l"), (4,), "embeddings", ["heatmap", "histogram"]),
        (layers.BatchNormalization(name="l"), (4,), "moving_variance", ["histogram"]),
        (layers.Dense(1, name="l"), (1,), "bias", ["value"]),
    ],
)
def test_views_for_each_weight(layer, shape, weight, views) -> None:  # type: ignore[no-untyped-def]
    rec = _layer(layer, shape)
    assert views_for(rec, rec.weight(weight)) == views


def test_gate_lines_for_lstm_gru_and_bidirectional() -> None:
    lstm = _layer(layers.LSTM(3, name="l"), (5, 2))
    assert gates_for(lstm, lstm.weight("kernel"), 12) == ([3, 6, 9], ["i", "f", "c", "o"])
    gru = _layer(layers.GRU(3, name="l"), (5, 2))
    assert gates_for(gru, gru.weight("recurrent_kernel"), 9)[0] == [3, 6]
    bi = _layer(layers.Bidirectional(layers.LSTM(2, name="lstm"), name="l"), (5, 2))
    assert gates_for(bi, bi.weight("forward_lstm/kernel"), 8)[0] == [2, 4, 6]
    dense = _layer(layers.Dense(4, name="l"), (3,))
    assert gates_for(dense, dense.weight("kernel"), 4) == ([], [])


def test_downloads_round_trip_by_value() -> None:
    rec = _layer(layers.Dense(3, name="l"), (4,))
    kernel = rec.weight("kernel").array()
    np.testing.assert_array_equal(np.load(io.BytesIO(npy_bytes(kernel))), kernel)
    with np.load(io.BytesIO(npz_bytes(rec))) as npz:
        assert sorted(npz.files) == ["bias", "kernel"]
        np.testing.assert_array_equal(npz["kernel"], kernel)
    table = np.loadtxt(io.StringIO(csv_bytes(kernel).decode()), delimiter=",")  # type: ignore[union-attr]
    np.testing.assert_allclose(table, kernel, rtol=1e-7)
    column = np.loadtxt(io.BytesIO(csv_bytes(np.arange(3.0)) or b""), delimiter=",")
    np.testing.assert_array_equal(column, [0, 1, 2])
    assert csv_bytes(np.zeros((2, 2, 2))) is None
    assert csv_bytes(np.zeros(CSV_MAX_VALUES + 1)) is None


def test_file_stem_is_safe() -> None:
    rec = _layer(layers.Dense(3, name="l"), (4,))
    model = open_model(keras.Sequential([keras.Input((1,))], name="a b:c"))
    assert file_stem(model, rec, rec.weight("kernel")) == "a_b_c-l-kernel"


def test_parse_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_link("digits_cnn") == ModelRef("demo", "digits_cnn")
    assert parse_link("app:VGG16") == ModelRef("application", "VGG16")
    assert ModelRef("application", "VGG16").link == "app:VGG16"
    assert ModelRef("upload", "x.keras", "id").link == "upload:x.keras"
    with pytest.raises(SourceNotFound, match="uploads cannot be shared by link"):
        parse_link("upload:x.keras")  # the URL says what was open, but it cannot open it
    monkeypatch.delenv("KERASCOPE_MODEL_DIR", raising=False)
    with pytest.raises(SourceNotFound, match="no model folder is configured"):
        parse_link("mine.keras")
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(tmp_path))
    (tmp_path / "mine.keras").write_bytes(b"x")
    ref = parse_link("mine.keras")
    assert ref.kind == "folder" and ref.token
    with pytest.raises(UnsafeModel):
        parse_link("../mine.keras")


def test_messages_show_file_text_as_written() -> None:
    from kerascope.components.page.messages import WORD_JOINER, error_line, plain

    assert plain("__root__.npy") == "\\_\\_root\\_\\_\\.npy"
    # Bare URLs and e-mail addresses, which Markdown links by itself after escapes are undone,
    # start behind an invisible word joiner; the text reads the same.
    shown = plain("[click me](http://127.0.0.1:9/evil) www.x.org HTTPS://Y.Z me@x.org http:ok")
    assert shown.count(WORD_JOINER) == 4
    for start in ("http\\:/", "www\\.", "HTTPS\\:/", "@x"):
        assert WORD_JOINER + start in shown
    unescaped = shown.replace(WORD_JOINER, "").replace("\\", "")
    assert unescaped == "[click me](http://127.0.0.1:9/evil) www.x.org HTTPS://Y.Z me@x.org http:ok"
    exc = UnsafeModel("evil.keras: holds a [link](http://x)")
    line = error_line("Could not open evil.keras", exc, "evil.keras")
    assert line.startswith("Could not open evil.keras: holds a \\[link\\]")
