"""``export`` writes every array of ``model.weights`` exactly once, equal by value."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from extraction import open_model
from extraction.cli import export_npz


def _digest(array: np.ndarray) -> tuple[tuple[int, ...], str]:  # type: ignore[type-arg]
    data = np.ascontiguousarray(array, dtype=np.float64).tobytes()
    return tuple(array.shape), hashlib.sha1(data).hexdigest()


def _zoo() -> keras.Model:
    """One model holding every layer kind, a nested Sequential and a shared layer."""
    image = keras.Input((8, 8, 3), name="image")
    x = layers.Conv2D(4, 3, padding="same", name="conv")(image)
    x = layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = layers.SeparableConv2D(4, 3, padding="same", name="sep")(x)
    x = layers.Conv2DTranspose(2, 3, padding="same", name="deconv")(x)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.Reshape((8, 16), name="to_seq")(x)
    x = layers.Conv1D(4, 3, padding="same", name="conv1d")(x)
    x = layers.Bidirectional(layers.LSTM(3, return_sequences=True), name="bilstm")(x)
    x = layers.TimeDistributed(layers.Dense(4), name="td")(x)
    x = layers.MultiHeadAttention(2, 2, name="mha")(x, x)
    x = layers.LayerNormalization(name="ln")(x)
    x = layers.GRU(4, return_sequences=True, name="gru")(x)
    x = layers.SimpleRNN(4, name="rnn")(x)
    shared = layers.Dense(4, name="shared")
    x = shared(shared(x))
    block = keras.Sequential(
        [keras.Input((4,)), layers.Dense(4, use_bias=False, name="inner")], name="block"
    )
    x = block(x)
    tokens = keras.Input((5,), name="tokens")
    e = layers.Flatten()(layers.Embedding(10, 2, name="emb")(tokens))
    voxels = keras.Input((3, 3, 3, 1), name="voxels")
    v = layers.Flatten()(layers.Conv3D(2, 2, name="conv3d")(voxels))
    out = layers.Dense(2, name="out")(layers.Concatenate()([x, e, v]))
    return keras.Model([image, tokens, voxels], out, name="zoo")


def test_export_of_a_live_model_holds_every_weight_once(tmp_path: Path) -> None:
    model = _zoo()
    out = tmp_path / "zoo.npz"
    count = export_npz(open_model(model), out)
    assert count == len(model.weights)
    with np.load(out, allow_pickle=False) as npz:
        exported = Counter(_digest(npz[k]) for k in npz.files)
        assert all(not npz[k].dtype.hasobject for k in npz.files)
    expected = Counter(_digest(keras.ops.convert_to_numpy(v)) for v in model.weights)
    assert exported == expected


def test_export_through_keras_load_of_a_saved_file(tmp_path: Path) -> None:
    model = _zoo()
    for name in ("zoo.keras", "zoo.h5"):
        path = tmp_path / name
        model.save(path)
        out = tmp_path / f"{name}.npz"
        export_npz(open_model(path, live=True), out)
        with np.load(out) as npz:
            exported = Counter(_digest(npz[k]) for k in npz.files)
        assert exported == Counter(_digest(keras.ops.convert_to_numpy(v)) for v in model.weights)


@pytest.mark.parametrize("name", ["mnist_mlp.h5", "mnist_cnn.keras", "melody_lstm.keras"])
def test_realworld_files_keras_loads_export_every_expected_array(
    realworld: Path, tmp_path: Path, name: str
) -> None:
    expected = json.loads((realworld / "expected.json").read_text())[name]["arrays"]
    records = open_model(realworld / name, live=True)
    assert records.live_model is not None
    out = tmp_path / "out.npz"
    export_npz(records, out)
    with np.load(out) as npz:
        exported = Counter(_digest(npz[k]) for k in npz.files)
    assert exported == Counter((tuple(shape), sha) for shape, sha in expected)
