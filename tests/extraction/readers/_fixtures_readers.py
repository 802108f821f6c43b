"""Small Keras models saved in every format, for the file-reader tests (built once per module)."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from kerascope.extraction.records import ModelWeights

REALWORLD = Path(__file__).resolve().parents[3].parent / "shared" / "realworld"
CUSTOM = "WsTestScale"


def build_model() -> Any:
    """Every layer kind the readers name, a nested Sequential, a shared and a custom layer."""
    import keras
    from keras import layers

    @keras.saving.register_keras_serializable(package="ws_test")
    class WsTestScale(layers.Layer):  # noqa: N801 - a Keras layer class
        def build(self, input_shape: Any) -> None:
            self.scale = self.add_weight(shape=(input_shape[-1],), name="scale")
            self.shift = self.add_weight(shape=(input_shape[-1],), name="shift")

        def call(self, x: Any) -> Any:
            return x * self.scale + self.shift

    keras.utils.set_random_seed(7)
    image = keras.Input((8, 8, 3), name="image")
    x = layers.Conv2D(4, 3, padding="same", name="conv")(image)
    x = layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = layers.SeparableConv2D(4, 3, padding="same", name="sep")(x)
    x = layers.Conv2DTranspose(2, 3, padding="same", use_bias=False, name="deconv")(x)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.BatchNormalization(center=False, name="bn_nocenter")(x)
    x = layers.Reshape((8, 16), name="to_seq")(x)
    x = layers.Conv1D(4, 3, padding="same", name="conv1d")(x)
    x = layers.LSTM(4, return_sequences=True, name="lstm")(x)
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
    x = WsTestScale(name="custom")(block(x))
    tokens = keras.Input((5,), name="tokens")
    e = layers.Flatten()(layers.Embedding(10, 2, name="emb")(tokens))
    voxels = keras.Input((3, 3, 3, 1), name="voxels")
    v = layers.Flatten()(layers.Conv3D(2, 2, name="conv3d")(voxels))
    out = layers.Dense(2, name="out")(layers.Concatenate()([x, e, v]))
    model = keras.Model([image, tokens, voxels], out, name="zoo")
    # Non-zero statistics, so BatchNorm's moving averages differ from their initial values.
    for var in model.weights:
        var.assign(np.random.default_rng(len(var.path)).normal(size=var.shape).astype("float32"))
    return model


def save_all(model: Any, folder: Path) -> dict[str, Path]:
    """The model saved as .keras, .h5 and .weights.h5; the custom class then forgotten."""
    import keras

    files = {
        "keras": folder / "zoo.keras",
        "h5": folder / "zoo.h5",
        "weights_h5": folder / "zoo.weights.h5",
    }
    model.save(files["keras"])
    model.save(files["h5"])
    model.save_weights(files["weights_h5"])
    # The reading side must not know the custom class (the readers never import Keras anyway).
    keras.saving.get_custom_objects().pop(f"ws_test>{CUSTOM}", None)
    return files


def live_layout(model: Any) -> list[tuple[str, str, str, list[str]]]:
    """(path, class, kind, weight names) as the live reader lists them."""
    from kerascope.extraction.readers.live import read_live

    return [
        (layer.path, layer.class_name, layer.kind, [w.name for w in layer.weights])
        for layer in read_live(model).layers
    ]


def file_layout(records: ModelWeights) -> list[tuple[str, str, str, list[str]]]:
    return [
        (layer.path, layer.class_name, layer.kind, [w.name for w in layer.weights])
        for layer in records.layers
    ]


def fingerprint(array: Any) -> tuple[tuple[int, ...], str]:
    """(shape, sha1 of the values as contiguous float64), as expected.json records them."""
    a = np.asarray(array)
    digest = hashlib.sha1(np.ascontiguousarray(a, dtype=np.float64).tobytes()).hexdigest()
    return tuple(int(d) for d in a.shape), digest


def array_multiset(records: ModelWeights) -> Counter[tuple[tuple[int, ...], str]]:
    return Counter(fingerprint(w.array()) for _, w in records.iter_weights())


def model_multiset(model: Any) -> Counter[tuple[tuple[int, ...], str]]:
    return Counter(fingerprint(np.asarray(v.numpy())) for v in model.weights)
