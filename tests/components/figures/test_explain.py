"""The Explain panel's text: code that really returns the arrays, axes, parameter arithmetic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pytest
from keras import layers

from kerascope.components.figures.explain import explain
from kerascope.extraction.readers.live import read_live

# (name, layer factory, input shape): every layer kind Kerascope knows, built for real.
CASES: list[tuple[str, Callable[[], Any], tuple[int, ...]]] = [
    ("conv1d", lambda: layers.Conv1D(5, 3, name="layer"), (10, 4)),
    ("conv2d", lambda: layers.Conv2D(16, 3, name="layer"), (8, 8, 1)),
    ("conv2d_groups", lambda: layers.Conv2D(6, (3, 2), groups=2, name="layer"), (8, 8, 4)),
    ("conv2d_no_bias", lambda: layers.Conv2D(4, 3, use_bias=False, name="layer"), (8, 8, 3)),
    ("conv3d", lambda: layers.Conv3D(2, 2, name="layer"), (4, 4, 4, 3)),
    ("conv2d_transpose", lambda: layers.Conv2DTranspose(4, 3, name="layer"), (5, 5, 6)),
    ("depthwise", lambda: layers.DepthwiseConv2D(3, depth_multiplier=2, name="layer"), (6, 6, 3)),
    (
        "separable",
        lambda: layers.SeparableConv2D(7, 3, depth_multiplier=2, name="layer"),
        (6, 6, 3),
    ),
    ("dense", lambda: layers.Dense(10, name="layer"), (64,)),
    ("embedding", lambda: layers.Embedding(50, 8, name="layer"), (5,)),
    ("lstm", lambda: layers.LSTM(8, name="layer"), (5, 16)),
    ("gru", lambda: layers.GRU(6, name="layer"), (5, 4)),
    ("gru_v1", lambda: layers.GRU(6, reset_after=False, name="layer"), (5, 4)),
    ("simple_rnn", lambda: layers.SimpleRNN(3, name="layer"), (5, 4)),
    ("bilstm", lambda: layers.Bidirectional(layers.LSTM(3), name="layer"), (5, 4)),
    ("batch_norm", lambda: layers.BatchNormalization(name="layer"), (8, 8, 5)),
    ("layer_norm", lambda: layers.LayerNormalization(center=False, name="layer"), (7,)),
]


def build(factory: Callable[[], Any], shape: tuple[int, ...]) -> tuple[Any, Any]:
    layer = factory()
    model = keras.Sequential([keras.Input(shape), layer])
    return model, layer


@pytest.mark.parametrize(("case", "factory", "shape"), CASES, ids=[c[0] for c in CASES])
def test_arithmetic_equals_keras_param_count(
    case: str, factory: Callable[[], Any], shape: tuple[int, ...]
) -> None:
    model, layer = build(factory, shape)
    ex = explain(read_live(model).layer("layer"))
    assert ex.from_config, case
    assert ex.params == layer.count_params() and ex.matches
    assert ex.arithmetic.split(" = ")[-1] == f"{layer.count_params():,}"


def test_conv2d_arithmetic_reads_like_the_textbook() -> None:
    model, _ = build(CASES[1][1], (8, 8, 1))
    ex = explain(read_live(model).layer("layer"))
    assert ex.arithmetic == "3*3*1*16 + 16 = 160"
    axes = dict(ex.axes)
    assert axes["kernel"] == (
        "kernel height",
        "kernel width",
        "input channels / groups",
        "filters (output channels)",
    )


def test_attention_arithmetic_and_axes() -> None:
    query = keras.Input((4, 6))
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5, name="mha")
    model = keras.Model(query, mha(query, query))
    ex = explain(read_live(model).layer("mha"))
    assert ex.from_config and ex.params == mha.count_params()
    assert dict(ex.axes)["query/kernel"] == ("input features", "heads", "key/value dim per head")
    assert dict(ex.axes)["attention_output/kernel"][0] == "heads"


def test_lstm_axes_name_the_gates() -> None:
    model, _ = build(CASES[10][1], (5, 16))
    axes = dict(explain(read_live(model).layer("layer")).axes)
    assert axes["kernel"] == ("input features", "4 gates (i, f, c, o) x units")
    assert axes["recurrent_kernel"][0].startswith("units")


@pytest.mark.parametrize("case", ["conv2d", "lstm", "bilstm", "batch_norm"])
def test_code_returns_exactly_the_arrays_through_nested_models(case: str) -> None:
    _, factory, shape = next(c for c in CASES if c[0] == case)
    inner = keras.Sequential([keras.Input(shape), factory()], name="inner")
    outer = keras.Sequential([keras.Input(shape), inner], name="outer")
    model = keras.Sequential([keras.Input(shape), outer], name="top")
    records = read_live(model)
    layer = records.layer("outer/inner/layer")
    ex = explain(layer)
    assert 'model.get_layer("outer").get_layer("inner").get_layer("layer")' in ex.code
    namespace: dict[str, Any] = {"model": model}
    exec(ex.code, namespace)  # noqa: S102 - our own generated code, run on purpose
    for weight in layer.weights:
        name = weight.name.replace("/", "_")
        np.testing.assert_array_equal(namespace[name], weight.array())


def test_custom_layer_falls_back_to_shapes_and_weightless_layer_is_zero() -> None:
    class Scale(layers.Layer):
        def build(self, input_shape: Any) -> None:
            self.w = self.add_weight(shape=(3, 2), name="w")
            self.s = self.add_weight(shape=(), name="s")

        def call(self, x: Any) -> Any:
            return x @ self.w * self.s

    model = keras.Sequential([keras.Input((3,)), Scale(name="scale"), layers.Flatten(name="flat")])
    records = read_live(model)
    ex = explain(records.layer("scale"))
    assert not ex.from_config and ex.matches and ex.arithmetic == "3*2 + 1 = 7"
    empty = explain(records.layer("flat"))
    assert empty.params == 0 and "no weights" in empty.code
