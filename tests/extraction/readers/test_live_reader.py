"""The live-model reader on real Keras models: every layer kind, named weights, no positions."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from kerascope.extraction import open_model
from kerascope.extraction.kinds import role_of


def _single(layer: keras.layers.Layer, input_shape: tuple[int, ...]) -> keras.Model:
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, layer(inputs), name="m")


# (layer, input shape, expected kind, expected (name, role, shape) per weight)
CASES = {
    "conv1d": (
        layers.Conv1D(4, 3, name="c"),
        (10, 2),
        "conv1d",
        [("kernel", "kernel", (3, 2, 4)), ("bias", "bias", (4,))],
    ),
    "conv2d": (
        layers.Conv2D(5, 3, name="c"),
        (8, 8, 3),
        "conv2d",
        [("kernel", "kernel", (3, 3, 3, 5)), ("bias", "bias", (5,))],
    ),
    "conv2d_groups": (
        layers.Conv2D(4, 3, groups=2, name="c"),
        (8, 8, 4),
        "conv2d",
        [("kernel", "kernel", (3, 3, 2, 4)), ("bias", "bias", (4,))],
    ),
    "conv3d": (
        layers.Conv3D(2, 2, name="c"),
        (4, 4, 4, 1),
        "conv3d",
        [("kernel", "kernel", (2, 2, 2, 1, 2)), ("bias", "bias", (2,))],
    ),
    "depthwise": (
        layers.DepthwiseConv2D(3, depth_multiplier=2, name="c"),
        (8, 8, 3),
        "depthwise_conv2d",
        [("kernel", "kernel", (3, 3, 3, 2)), ("bias", "bias", (6,))],
    ),
    "separable": (
        layers.SeparableConv2D(4, 3, name="c"),
        (8, 8, 3),
        "separable_conv2d",
        [
            ("depthwise_kernel", "depthwise_kernel", (3, 3, 3, 1)),
            ("pointwise_kernel", "pointwise_kernel", (1, 1, 3, 4)),
            ("bias", "bias", (4,)),
        ],
    ),
    "transpose": (
        layers.Conv2DTranspose(6, 3, name="c"),
        (5, 5, 2),
        "conv2d_transpose",
        [("kernel", "kernel", (3, 3, 6, 2)), ("bias", "bias", (6,))],
    ),
    "dense_nobias": (
        layers.Dense(3, use_bias=False, name="c"),
        (4,),
        "dense",
        [("kernel", "kernel", (4, 3))],
    ),
    "embedding": (
        layers.Embedding(20, 4, name="c"),
        (5,),
        "embedding",
        [("embeddings", "embeddings", (20, 4))],
    ),
    "lstm": (
        layers.LSTM(3, name="c"),
        (6, 2),
        "lstm",
        [
            ("kernel", "kernel", (2, 12)),
            ("recurrent_kernel", "recurrent_kernel", (3, 12)),
            ("bias", "bias", (12,)),
        ],
    ),
    "gru": (
        layers.GRU(3, name="c"),
        (6, 2),
        "gru",
        [
            ("kernel", "kernel", (2, 9)),
            ("recurrent_kernel", "recurrent_kernel", (3, 9)),
            ("bias", "bias", (2, 9)),
        ],
    ),
    "simple_rnn": (
        layers.SimpleRNN(3, name="c"),
        (6, 2),
        "simple_rnn",
        [
            ("kernel", "kernel", (2, 3)),
            ("recurrent_kernel", "recurrent_kernel", (3, 3)),
            ("bias", "bias", (3,)),
        ],
    ),
    "batch_norm": (
        layers.BatchNormalization(name="c"),
        (4,),
        "batch_norm",
        [
            ("gamma", "gamma", (4,)),
            ("beta", "beta", (4,)),
            ("moving_mean", "moving_mean", (4,)),
            ("moving_variance", "moving_variance", (4,)),
        ],
    ),
    "batch_norm_no_center": (
        layers.BatchNormalization(center=False, name="c"),
        (4,),
        "batch_norm",
        [
            ("gamma", "gamma", (4,)),
            ("moving_mean", "moving_mean", (4,)),
            ("moving_variance", "moving_variance", (4,)),
        ],
    ),
    "layer_norm": (
        layers.LayerNormalization(name="c"),
        (4,),
        "layer_norm",
        [("gamma", "gamma", (4,)), ("beta", "beta", (4,))],
    ),
    "bidirectional": (
        layers.Bidirectional(layers.LSTM(2, name="l"), name="c"),
        (5, 3),
        "bidirectional",
        [
            ("forward_l/kernel", "kernel", (3, 8)),
            ("forward_l/recurrent_kernel", "recurrent_kernel", (2, 8)),
            ("forward_l/bias", "bias", (8,)),
            ("backward_l/kernel", "kernel", (3, 8)),
            ("backward_l/recurrent_kernel", "recurrent_kernel", (2, 8)),
            ("backward_l/bias", "bias", (8,)),
        ],
    ),
    "time_distributed": (
        layers.TimeDistributed(layers.Dense(2, name="d"), name="c"),
        (5, 3),
        "dense",
        [("kernel", "kernel", (3, 2)), ("bias", "bias", (2,))],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_layer_kind_is_named_and_classified(case: str) -> None:
    layer, shape, kind, expected = CASES[case]
    model = _single(layer, shape)
    records = open_model(model)
    rec = records.layer("c")
    assert rec.kind == kind
    assert rec.class_name == type(layer).__name__
    assert [(w.name, w.role, w.shape) for w in rec.weights] == expected
    by_id = {id(v): v for v in layer.weights}
    assert len(by_id) == len(rec.weights)
    for w, v in zip(rec.weights, layer.weights, strict=True):
        np.testing.assert_array_equal(w.array(), keras.ops.convert_to_numpy(v))
        assert w.trainable == v.trainable


def test_multi_head_attention_projections_are_named_by_sublayer() -> None:
    inputs = keras.Input((4, 6))
    outputs = layers.MultiHeadAttention(2, 3, name="mha")(inputs, inputs)
    rec = open_model(keras.Model(inputs, outputs)).layer("mha")
    assert rec.kind == "attention"
    assert [w.name for w in rec.weights] == [
        f"{part}/{role}"
        for part in ("query", "key", "value", "attention_output")
        for role in ("kernel", "bias")
    ]
    assert rec.weight("query/kernel").shape == (6, 2, 3)
    assert rec.weight("attention_output/kernel").shape == (2, 3, 6)


def test_nested_models_give_paths_and_layers_without_weights_are_listed() -> None:
    block = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="inner_dense")], name="block")
    sub_in = keras.Input((3,))
    sub = keras.Model(
        sub_in, layers.Dense(2, name="head")(layers.ReLU(name="act")(sub_in)), name="sub"
    )
    inputs = keras.Input((4,))
    model = keras.Model(inputs, sub(block(inputs)), name="outer")
    records = open_model(model)
    paths = [layer.path for layer in records.layers]
    assert "block/inner_dense" in paths and "sub/head" in paths and "sub/act" in paths
    assert records.layer("sub/act").weights == ()
    assert records.params == model.count_params()


def test_shared_layer_yields_its_weights_once() -> None:
    shared = layers.Dense(3, name="shared")
    a, b = keras.Input((3,)), keras.Input((3,))
    model = keras.Model([a, b], layers.Add()([shared(a), shared(shared(b))]))
    records = open_model(model)
    listed = [w for _, w in records.iter_weights()]
    assert len(listed) == len(model.weights) == 2
    assert records.params == model.count_params()


def test_tied_weight_in_two_layers_is_listed_once() -> None:
    inner = keras.Sequential([keras.Input((3,)), layers.Dense(3, name="d")], name="inner")
    inputs = keras.Input((3,))
    model = keras.Model(inputs, inner(inner.layers[0](inputs)))
    records = open_model(model)
    assert sum(len(layer.weights) for layer in records.layers) == len(model.weights)


class _Subclassed(keras.Model):
    def __init__(self) -> None:
        super().__init__(name="sub_model")
        self.conv = layers.Conv2D(2, 3, name="conv")
        self.dense = layers.Dense(4, name="dense", use_bias=False)
        self.scale = self.add_weight(shape=(4,), initializer="ones", name="scale")

    def call(self, x):  # type: ignore[no-untyped-def]
        return self.dense(layers.Flatten()(self.conv(x))) * self.scale


def test_subclassed_model_and_its_own_variables() -> None:
    model = _Subclassed()
    model(np.zeros((1, 5, 5, 1), "float32"))
    records = open_model(model)
    assert records.layer("conv").kind == "conv2d"
    assert [w.name for w in records.layer("dense").weights] == ["kernel"]
    own = records.layer("sub_model")
    assert [w.name for w in own.weights] == ["scale"]
    assert records.params == model.count_params()


def test_unbuilt_model_says_so() -> None:
    records = open_model(_Subclassed())
    assert any("not built" in note for note in records.notes)


def test_seed_article_positional_pattern_fails_where_names_do_not() -> None:
    """The pattern `weights[0]` is the kernel, `weights[1]` the bias breaks on real layers."""
    inputs = keras.Input((4,))
    x = layers.Dense(3, use_bias=False, name="nobias")(inputs)
    x = layers.Activation("relu", name="act")(x)
    x = layers.BatchNormalization(name="bn")(x)
    model = keras.Model(inputs, x)
    # The article's pattern:
    with pytest.raises(IndexError):
        model.get_layer("nobias").get_weights()[1]  # no bias there
    with pytest.raises(IndexError):
        model.get_layer("act").get_weights()[0]  # no weights at all
    bn_first = model.get_layer("bn").get_weights()[0]  # "kernel" is really gamma
    assert role_of(model.get_layer("bn").weights[0].name) == "gamma"
    # Our records, by name:
    records = open_model(model)
    assert [w.role for w in records.layer("nobias").weights] == ["kernel"]
    assert records.layer("nobias").by_role("bias") == []
    assert records.layer("act").weights == ()
    assert records.layer("bn").by_role("kernel") == []
    np.testing.assert_array_equal(records.layer("bn").weight("gamma").array(), bn_first)


def test_arrays_are_read_lazily_and_read_only() -> None:
    model = _single(layers.Dense(3, name="c"), (4,))
    records = open_model(model)
    kernel = records.layer("c").weight("kernel")
    assert not kernel.is_loaded
    array = kernel.array()
    assert kernel.is_loaded and not array.flags.writeable
    assert kernel.stats().size == 12
