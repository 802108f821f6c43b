"""Fixtures shared by every test package: where the real-world files are, a demo cache."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
REALWORLD = ROOT.parent / "shared" / "realworld"


def pytest_configure(config: pytest.Config) -> None:
    # One demo cache per test session, shared with the app servers the tests start: the demos
    # train once per run (seconds), and a developer's own cache is never touched.
    if "KERASCOPE_TEST_CACHE" not in os.environ:
        os.environ["KERASCOPE_TEST_CACHE"] = tempfile.mkdtemp(prefix="kerascope-test-")
    os.environ["KERASCOPE_CACHE_DIR"] = os.environ["KERASCOPE_TEST_CACHE"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def realworld() -> Path:
    """The folder of public model files (../shared/realworld); a test that needs it fails, with
    this message, when it is absent: the suite must not pass silently without it."""
    if not (REALWORLD / "expected.json").is_file():
        pytest.fail(
            f"the real-world corpus is missing: expected ../shared/realworld at {REALWORLD} "
            "(with expected.json), beside this repository"
        )
    return REALWORLD


@pytest.fixture()
def zoo_model() -> Any:
    """A fresh model holding every layer kind, a nested Sequential and a shared layer."""
    return build_zoo()


def build_zoo() -> Any:
    """One model holding every layer kind, a nested Sequential and a shared layer."""
    import keras
    from keras import layers

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


CONV_ZOO_KINDS = {
    "conv1d": "conv1d",
    "conv1d_t": "conv1d_transpose",
    "dw1d": "depthwise_conv1d",
    "sep1d": "separable_conv1d",
    "conv2d": "conv2d",
    "conv2d_t": "conv2d_transpose",
    "dw2d": "depthwise_conv2d",
    "sep2d": "separable_conv2d",
    "conv3d": "conv3d",
    "conv3d_t": "conv3d_transpose",
}
"""Each conv layer of ``build_conv_zoo`` and the kind it must open as."""
CONV_ZOO_TILES = {"conv": 3, "depthwise": 5 * 2}
"""Tiles in a conv zoo layer's filter grid: 3 filters; depthwise: 5 channels x multiplier 2."""


@pytest.fixture(scope="session")
def conv_zoo() -> Any:
    """A model holding one layer of every conv class Keras has (see ``build_conv_zoo``)."""
    return build_conv_zoo()


def build_conv_zoo() -> Any:
    """Every Keras convolution (1-D, 2-D, 3-D; plain, transposed, depthwise, separable) over 5
    input channels, 3 filters, depth multiplier 2, every weight distinct, so that any axis read
    the wrong way round shows."""
    import keras
    import numpy as np
    from keras import layers

    def convs(x: Any, rank: int, names: list[str]) -> list[Any]:
        suffix = f"{rank}D"
        made = [
            getattr(layers, f"Conv{suffix}")(3, 2, name=names[0]),
            getattr(layers, f"Conv{suffix}Transpose")(3, 2, name=names[1]),
        ]
        if rank < 3:
            made.append(
                getattr(layers, f"DepthwiseConv{suffix}")(2, depth_multiplier=2, name=names[2])
            )
            made.append(
                getattr(layers, f"SeparableConv{suffix}")(3, 2, depth_multiplier=2, name=names[3])
            )
        return [layers.Flatten()(layer(x)) for layer in made]

    seq = keras.Input((8, 5), name="seq")
    image = keras.Input((6, 6, 5), name="image")
    volume = keras.Input((4, 6, 6, 5), name="volume")
    flat = convs(seq, 1, ["conv1d", "conv1d_t", "dw1d", "sep1d"])
    flat += convs(image, 2, ["conv2d", "conv2d_t", "dw2d", "sep2d"])
    flat += convs(volume, 3, ["conv3d", "conv3d_t"])
    out = layers.Dense(2, name="out")(layers.Concatenate()(flat))
    model = keras.Model([seq, image, volume], out, name="conv_zoo")
    rng = np.random.default_rng(3)
    for var in model.weights:
        var.assign(rng.normal(size=var.shape).astype("float32"))
    return model
