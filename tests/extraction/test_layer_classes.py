"""The table of Keras layer classes against Keras itself: every class in ``keras.layers`` that
holds weights gets a kind, every convolution a conv rank, and the table's axis facts are the
axes real Keras kernels have."""

from __future__ import annotations

import inspect
from typing import Any

import keras
import numpy as np
import pytest
from keras import layers

from kerascope.extraction import open_model
from kerascope.extraction.layouts import (
    CLASS_ALIASES,
    CONV_KINDS,
    LAYER_CLASSES,
    LayerClass,
    classify,
    conv_layout,
    filter_bank,
    filter_count,
    layer_class,
)

ARGS: dict[str, Any] = {
    "filters": 3, "kernel_size": 2, "units": 3, "input_dim": 10, "output_dim": 4,
    "num_heads": 2, "key_dim": 2, "head_dim": 2, "num_query_heads": 2,
    "num_key_value_heads": 1, "equation": "ab,bc->ac", "output_shape": 3, "rate": 0.1,
    "stddev": 0.1, "pool_size": 2, "output_size": 2, "activation": "relu", "axes": 1,
    "dims": (1,), "n": 2, "target_shape": (-1,), "scale": 1.0, "height": 4, "width": 4,
    "num_bins": 4, "max_number": 2, "factor": 0.1, "height_factor": 0.1, "width_factor": 0.1,
}  # fmt: skip
"""Values for the constructor arguments Keras requires, by name."""
OPTIONS: dict[str, dict[str, Any]] = {
    "Attention": {"use_scale": True},  # weights only with a learned scale
    "GroupNormalization": {"groups": 2},  # 32 groups by default, more than the input has
    "RandomPosterization": {"factor": 4},  # bits, 1..8
}
"""Constructor arguments a class needs beyond ``ARGS`` to be built (and to hold weights)."""
CALLS: dict[str, str] = {
    "Attention": "pair", "AdditiveAttention": "pair", "MultiHeadAttention": "query_value",
    "GroupedQueryAttention": "query_value", "Add": "pair", "Average": "pair",
    "Concatenate": "pair", "Dot": "pair", "Maximum": "pair", "Minimum": "pair",
    "Multiply": "pair", "Subtract": "pair",
}  # fmt: skip
"""How a class is called when it takes more than one input."""
SHAPES = [(2, 8, 4), (2, 6, 6, 3), (2, 3, 6, 6, 3), (2, 4), (2, 3, 4, 6, 6, 3)]
"""Inputs tried in turn (batch first): sequences, images, volumes, vectors, sequences of
volumes (ConvLSTM3D)."""
AUDIO = {"STFTSpectrogram": (2, 4096, 1), "MelSpectrogram": (2, 4096)}
"""Spectrograms take audio of more samples than one FFT window (mono, or without an axis)."""
NOT_BUILT: dict[str, str] = {
    "Layer": "the abstract base class: it has no call of its own",
    "Wrapper": "the abstract base of wrappers: it has no call of its own",
    "InputLayer": "a model's input, made by keras.Input; it never holds weights",
    "Lambda": "runs a Python function; holds no weights, and Kerascope refuses Lambda code",
    "FlaxLayer": "wraps a Flax module: needs JAX and Flax; its weights are the module's",
    "JaxLayer": "wraps a JAX function: needs JAX; its weights are the function's",
    "TorchModuleWrapper": "wraps a PyTorch module: needs torch; its weights are the module's",
    "TFSMLayer": "loads a TensorFlow SavedModel from disk: there is none to give it here",
    "Pipeline": "a sequence of preprocessing layers; holds no weights of its own",
    "CategoryEncoding": "needs num_tokens and integer inputs; it holds no weights",
    "Discretization": "needs bin boundaries or adapt(); it holds no weights",
    "HashedCrossing": "crosses a pair of integer or string features; it holds no weights",
    "IntegerLookup": "needs a vocabulary (adapt); a lookup table, not weights",
    "StringLookup": "needs a vocabulary and string inputs; a lookup table, not weights",
    "TextVectorization": "needs string inputs and a vocabulary; a lookup table, not weights",
}
"""Classes of ``keras.layers`` this walk cannot build from generic arguments, and why."""
TRULY_OTHER: dict[str, str] = {
    "PReLU": "an activation with learned slopes, one per input value: no layer kind fits",
    "Normalization": "the input's mean and variance (preprocessing), not learned weights",
    "STFTSpectrogram": "a fixed Fourier basis, computed, never trained",
    "StackedRNNCells": "a stack of different cells, each of its own kind",
}
"""Classes with weights whose kind is rightly ``other``."""


def _keras_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    for attr in dir(layers):
        cls = getattr(layers, attr)
        if inspect.isclass(cls) and issubclass(cls, layers.Layer):
            found.setdefault(cls.__name__, cls)
    return found


KERAS_CLASSES = _keras_classes()


def _make(name: str, cls: type) -> Any:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    required = [
        p.name
        for p in params
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    kwargs = {k: ARGS[k] for k in required if k in ARGS}
    if "layer" in required:
        kwargs["layer"] = layers.LSTM(3) if name == "Bidirectional" else layers.Dense(3)
    if "cell" in required:
        kwargs["cell"] = layers.GRUCell(3)
    if "cells" in required:
        kwargs["cells"] = [layers.LSTMCell(3), layers.GRUCell(2)]
    return cls(**{**kwargs, **OPTIONS.get(name, {})})


def _built(name: str, cls: type) -> Any:
    """An instance of ``cls`` built on the first input shape it accepts."""
    errors = []
    for shape in [AUDIO[name]] if name in AUDIO else SHAPES:
        layer = _make(name, cls)  # a fresh one: a failed call can leave a half-built layer
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
        try:
            if name.endswith(("Cell", "Cells")):
                layer.build(shape)
            elif CALLS.get(name) == "pair":
                layer([x, x])
            elif CALLS.get(name) == "query_value":
                layer(x, x)
            else:
                layer(x)
        except Exception as exc:  # noqa: BLE001  # the next shape may suit it
            errors.append(f"{shape}: {type(exc).__name__}: {str(exc)[:300]}")
            continue
        return layer
    raise AssertionError(f"{name} could not be built generically ({errors}): list it in NOT_BUILT")


BUILT = sorted(n for n in KERAS_CLASSES if n not in NOT_BUILT)


@pytest.mark.parametrize("name", BUILT)
def test_every_keras_class_with_weights_gets_a_kind(name: str) -> None:
    layer = _built(name, KERAS_CLASSES[name])
    assert name in LAYER_CLASSES, f"{name} is not in layouts.LAYER_CLASSES"
    if not layer.weights:
        return
    kind, wrapped = classify(name, layer.get_config())
    if name in TRULY_OTHER:
        assert kind == "other", name
    else:
        assert kind != "other", f"{name} (weights {[w.path for w in layer.weights]}) has no kind"
    row = layer_class(wrapped) if layer_class(name).kind is None else layer_class(name)
    kernels = [v for v in layer.weights if v.path.rsplit("/", 1)[-1] in _KERNELS]
    if row.conv_rank:
        assert kernels, name
        # The conv rank is the kernel's spatial axes: (..spatial.., in, out).
        assert {len(v.shape) for v in kernels} == {row.conv_rank + 2}, (name, kernels)


_KERNELS = ("kernel", "depthwise_kernel")


def test_the_walk_meets_every_conv_class_and_every_conv_kind() -> None:
    names = {n for n in BUILT if layer_class(n).conv_rank and not layer_class(n).recurrent}
    expected = {
        "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
        "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
    }  # fmt: skip
    assert names == expected
    assert {layer_class(n).kind for n in names} == set(CONV_KINDS)


def test_not_built_and_truly_other_name_real_keras_classes() -> None:
    # The lists must not outlive the classes they excuse.
    assert set(NOT_BUILT) <= set(KERAS_CLASSES)
    assert set(TRULY_OTHER) <= set(KERAS_CLASSES)
    assert set(CLASS_ALIASES.values()) <= set(LAYER_CLASSES)


def test_the_classes_of_one_kind_agree_on_its_conv_facts() -> None:
    facts: dict[str, set[tuple[int, bool, bool, bool]]] = {}
    for row in LAYER_CLASSES.values():
        if row.kind and row.kind in CONV_KINDS:
            facts.setdefault(row.kind, set()).add(_facts(row))
    assert set(facts) == set(CONV_KINDS)
    assert all(len(f) == 1 for f in facts.values()), facts


def _facts(row: LayerClass) -> tuple[int, bool, bool, bool]:
    return row.conv_rank, row.transposed, row.depthwise, row.separable


CIN, FILTERS, MULT, K = 5, 3, 2, 2
CONV_CLASSES = [
    "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
]  # fmt: skip


def _conv_layer(name: str) -> Any:
    cls = KERAS_CLASSES[name]
    row = layer_class(name)
    kwargs: dict[str, Any] = {"kernel_size": K}
    if row.depthwise or row.separable:
        kwargs["depth_multiplier"] = MULT
    if not row.depthwise:
        kwargs["filters"] = FILTERS
    layer = cls(**kwargs)
    spatial = (6,) * row.conv_rank
    layer(np.zeros((1, *spatial, CIN), dtype=np.float32))
    for v in layer.weights:  # distinct values, so a wrong axis shows
        v.assign(np.arange(np.prod(v.shape), dtype=np.float32).reshape(v.shape))
    return layer


@pytest.mark.parametrize("name", CONV_CLASSES)
def test_the_tables_axes_are_real_keras_kernels(name: str) -> None:
    layer = _conv_layer(name)
    row = layer_class(name)
    ks = (K,) * row.conv_rank
    by_name = {v.path.rsplit("/", 1)[-1]: tuple(v.shape) for v in layer.weights}
    if row.separable:
        assert by_name["depthwise_kernel"] == (*ks, CIN, MULT)
        assert by_name["pointwise_kernel"] == ((1,) * row.conv_rank + (CIN * MULT, FILTERS))
    elif row.depthwise:
        assert by_name["kernel"] == (*ks, CIN, MULT)
    elif row.transposed:
        assert by_name["kernel"] == (*ks, FILTERS, CIN)
    else:
        assert by_name["kernel"] == (*ks, CIN, FILTERS)
    assert conv_layout(row.kind or "") == row


@pytest.mark.parametrize("name", CONV_CLASSES)
def test_each_tile_of_the_filter_bank_is_one_keras_filter(name: str) -> None:
    layer = _conv_layer(name)
    row = layer_class(name)
    kind = row.kind or ""
    weights = {v.path.rsplit("/", 1)[-1]: keras.ops.convert_to_numpy(v) for v in layer.weights}
    kernel = weights.get("depthwise_kernel", weights.get("kernel"))
    assert kernel is not None
    k = kernel[0] if row.conv_rank == 3 else kernel  # the depth slice shown first
    bank = filter_bank(kernel, kind)
    assert np.shares_memory(bank, kernel)  # a view, never a copy
    if row.depthwise or row.separable:
        assert filter_count(kernel.shape, kind) == CIN * MULT
        for c in range(CIN):
            for m in range(MULT):
                tile = bank[c * MULT + m, ..., 0]  # Keras's output order: channel, multiplier
                expected = k[..., c, m]
                np.testing.assert_array_equal(tile.reshape(expected.shape), expected)
        return
    assert filter_count(kernel.shape, kind) == FILTERS
    for f in range(FILTERS):
        expected = k[..., f, :] if row.transposed else k[..., :, f]  # (..spatial.., in)
        tile = bank[f]
        if row.conv_rank == 1:  # one k x in image, a single channel
            np.testing.assert_array_equal(tile[..., 0], expected)
        else:
            np.testing.assert_array_equal(tile, expected)


@pytest.mark.parametrize("name", ["Conv1DTranspose", "DepthwiseConv1D", "SeparableConv1D"])
def test_the_live_reader_gives_the_new_conv_classes_their_kind(name: str) -> None:
    inputs = keras.Input((8, CIN))
    row = layer_class(name)
    layer = (
        KERAS_CLASSES[name](kernel_size=K, depth_multiplier=MULT, name="c")
        if row.depthwise
        else KERAS_CLASSES[name](FILTERS, K, name="c")
    )
    model = keras.Model(inputs, layer(inputs))
    assert open_model(model).layer("c").kind == row.kind


@pytest.mark.parametrize(
    ("config", "kind", "wrapped"),
    [
        ({"layer": {"class_name": "LSTM", "config": {}}}, "bidirectional", "LSTM"),
        (
            {"layer": {"class_name": "RNN", "config": {"cell": {"class_name": "GRUCell"}}}},
            "bidirectional",
            "GRUCell",
        ),
        (
            {"layer": {"class_name": "Bidirectional", "config": {}}},
            "bidirectional",
            "Bidirectional",
        ),
        ({}, "bidirectional", ""),
        ({"layer": "not a layer"}, "bidirectional", ""),
    ],
)
def test_a_bidirectional_wraps_what_its_config_says(
    config: dict[str, Any], kind: str, wrapped: str
) -> None:
    assert classify("Bidirectional", config) == (kind, wrapped)


@pytest.mark.parametrize(
    ("class_name", "config", "expected"),
    [
        ("TimeDistributed", {"layer": {"class_name": "Conv1DTranspose"}}, ("conv1d_transpose",)),
        ("TimeDistributed", {"layer": {"class_name": "Custom"}}, ("other",)),
        ("TimeDistributed", {}, ("other",)),
        (
            "TimeDistributed",
            {"layer": {"class_name": "Bidirectional", "config": {"layer": {"class_name": "GRU"}}}},
            ("bidirectional", "Bidirectional"),
        ),
        ("RNN", {"cell": {"class_name": "LSTMCell", "config": {}}}, ("lstm", "LSTMCell")),
        ("SpectralNormalization", {"layer": {"class_name": "Conv2D"}}, ("conv2d", "Conv2D")),
        ("my_package>Conv1DTranspose", {}, ("conv1d_transpose", "")),
        ("Convolution2DTranspose", {}, ("conv2d_transpose", "")),
    ],
)
def test_wrappers_take_the_kind_of_what_they_wrap(
    class_name: str, config: dict[str, Any], expected: tuple[str, ...]
) -> None:
    kind, wrapped = classify(class_name, config)
    assert kind == expected[0]
    if len(expected) > 1:
        assert wrapped == expected[1]


def test_a_config_nested_past_the_limit_is_read_no_further() -> None:
    config: dict[str, Any] = {"layer": {"class_name": "Dense", "config": {}}}
    for _ in range(50):
        config = {"layer": {"class_name": "TimeDistributed", "config": config}}
    assert classify("TimeDistributed", config) == ("other", "TimeDistributed")
