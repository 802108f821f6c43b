"""Quantization debugging on real exports: a Keras model against its TFLite and TF.js exports,
and the pieces it stands on (dequantization, layout round trips)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from _exports import Exports, exports

from kerascope.extraction import layouts
from kerascope.extraction.analysis.quantization import match_layers, quantization_error
from kerascope.extraction.api import open_model
from kerascope.extraction.records import Quantization


@pytest.fixture(scope="module")
def made() -> Exports:
    return exports()


@pytest.mark.slow
def test_int8_export_ranks_layers_by_loss(made: Exports) -> None:
    report = quantization_error(open_model(made.cnn_keras), open_model(made.tflite["int8"]))
    assert not report.unmatched
    assert {e.layer for e in report.errors} == {"conv", "dw", "deconv", "fc"}
    assert all(e.matched_by == "name" for e in report.errors)
    ranked = [v for _, v in report.layer_errors()]
    assert ranked == sorted(ranked, reverse=True) and all(0 < v < 0.05 for v in ranked)
    kernels = {e.layer: e for e in report.errors if e.weight == "kernel"}
    assert len(kernels["conv"].per_channel or ()) == 4  # one scale per output filter
    assert len(kernels["dw"].per_channel or ()) == 8  # channels x multiplier
    for e in kernels.values():
        scale = max(open_model(made.tflite["int8"]).layer(e.other_layer).weight(
            e.other_weight).quantization.scale)  # type: ignore[union-attr]  # fmt: skip
        assert e.max_abs <= scale / 2 + 1e-7  # rounding to the nearest step, no more


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["float32", "float16"])
def test_float_exports_lose_nothing_or_float16_rounding(made: Exports, variant: str) -> None:
    report = quantization_error(open_model(made.cnn_keras), open_model(made.tflite[variant]))
    assert len(report.errors) == 8
    worst = max(e.relative for e in report.errors)
    assert worst == 0.0 if variant == "float32" else 0 < worst < 1e-3


@pytest.mark.slow
def test_two_exports_of_one_model_compare(made: Exports) -> None:
    report = quantization_error(open_model(made.tflite["float32"]), open_model(made.tflite["int8"]))
    assert len({e.layer for e in report.errors}) == 4 and not report.unmatched


def test_layers_with_other_names_match_by_order_and_shape() -> None:
    from _exports import keras_models, tfjs_exports

    tfjs = open_model(tfjs_exports()["uint8"])
    renamed = tfjs.derive(
        layers=tuple(
            replace(layer, name=f"x{i}", path=f"x{i}") for i, layer in enumerate(tfjs.layers)
        )  # fmt: skip
    )
    reference = open_model(keras_models()[0])
    pairs = match_layers(reference, renamed)
    assert [(r.path, o.path, how) for r, o, how in pairs] == [
        ("conv", "x1", "order"),
        ("dw", "x2", "order"),
        ("deconv", "x3", "order"),
        ("fc", "x5", "order"),
    ]  # fmt: skip  (x0 is the InputLayer, x4 the Flatten: no weights)
    report = quantization_error(reference, renamed)
    assert all(0 < e.relative < 0.05 for e in report.errors if e.weight == "kernel")
    # a 2-value bias is exact in uint8: its min and max are the two ends of the range
    assert report.layer_errors()[-1][1] >= 0


def test_nan_in_a_weight_makes_the_error_nan() -> None:
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    clean = open_model(model)
    kernel = model.get_layer("d").kernel
    kernel.assign(np.full((3, 2), np.nan, dtype=np.float32))
    report = quantization_error(clean, open_model(model))
    assert math.isnan(report.layer_errors()[0][1])


def test_dequantize_per_tensor_and_per_channel() -> None:
    stored = np.array([[-128, 0, 127], [10, 20, 30]], dtype=np.int8)
    per_tensor = Quantization((0.5,), (2,))
    np.testing.assert_array_equal(per_tensor.dequantize(stored), (stored - 2.0) * 0.5)
    per_row = Quantization((0.1, 2.0), (0, 0), axis=0)
    expected = stored.astype(np.float64) * np.array([[0.1], [2.0]])
    np.testing.assert_array_equal(per_row.dequantize(stored), expected.astype(np.float32))
    assert stored.dtype == np.int8  # not modified
    with pytest.raises(ValueError, match="per-channel"):
        Quantization((1.0, 1.0, 1.0), (0, 0, 0), axis=0).dequantize(stored)


@pytest.mark.parametrize(
    ("layout", "stored", "keras"),
    [
        (layouts.FULLY_CONNECTED, (5, 7), (7, 5)),
        (layouts.CONV, (8, 3, 2, 4), (3, 2, 4, 8)),
        (layouts.TRANSPOSE_CONV, (8, 3, 2, 4), (3, 2, 8, 4)),
        (layouts.depthwise(2), (1, 3, 3, 8), (3, 3, 4, 2)),
    ],
)
def test_layouts_round_trip(layout: str, stored: tuple[int, ...], keras: tuple[int, ...]) -> None:
    a: Any = np.arange(np.prod(stored)).reshape(stored)
    assert layouts.keras_shape(stored, layout) == keras
    k = layouts.to_keras_axes(a, layout)
    assert k.shape == keras and np.shares_memory(k, a)
    np.testing.assert_array_equal(layouts.from_keras_axes(k, layout, stored), a)
