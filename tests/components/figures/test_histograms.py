"""The value histogram: counts, NaN/Inf left out, constants described, big arrays cheap."""

from __future__ import annotations

import time

import numpy as np
import plotly.io as pio
import pytest

from kerascope.components.figures.histograms import (
    describe_constant,
    histogram_data,
    histogram_figure,
    histogram_png,
)

keras = pytest.importorskip("keras")


def test_counts_and_edges() -> None:
    values = np.array([0.0, 0.1, 0.2, 0.9, 1.0], dtype=np.float32)
    values.setflags(write=False)
    hist = histogram_data(values, bins=2)
    np.testing.assert_allclose(hist.edges, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(hist.counts, [3, 2])
    fig = histogram_figure(values, bins=2, title="bias")
    bar = fig.data[0]
    np.testing.assert_array_equal(np.asarray(bar.y), [3, 2])
    np.testing.assert_allclose(np.asarray(bar.x), [0.25, 0.75])
    assert fig.layout.xaxis.title.text == "value" and fig.layout.yaxis.title.text == "count"
    assert fig.layout.title.text == "bias"


def test_nan_and_inf_left_out_and_counted() -> None:
    values = np.array([1.0, 2.0, np.nan, np.inf, -np.inf, np.nan, 3.0])
    hist = histogram_data(values, bins=4)
    assert hist.counts.sum() == 3 == hist.finite
    assert (hist.nan_count, hist.inf_count) == (2, 2)
    assert hist.caption() == "7 values; 2 NaN and 2 Inf left out"
    assert "2 NaN and 2 Inf left out" in histogram_figure(values).layout.title.subtitle.text


def test_zero_initialised_bias_of_a_real_layer_gets_a_sentence() -> None:
    layer = keras.layers.Dense(32)
    layer.build((None, 4))
    bias = keras.ops.convert_to_numpy(layer.bias)
    assert describe_constant(bias) == (
        "All 32 values equal 0 (a zero initialisation: untrained, or a dead unit)."
    )


def test_batchnorm_gamma_of_ones() -> None:
    layer = keras.layers.BatchNormalization()
    layer.build((None, 6))
    sentence = describe_constant(keras.ops.convert_to_numpy(layer.gamma))
    assert sentence is not None and sentence.startswith("All 6 values equal 1 (a ones")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.zeros(0), "No values (an empty array)."),
        (np.array([np.nan, np.inf]), "All 2 values are NaN or Inf (1 NaN, 1 Inf)."),
        (np.float32(0.5), "A single value: 0.5."),
        (np.array([0.25, 0.25, np.nan]), "All 2 finite values equal 0.25; 1 NaN/Inf left out."),
        (np.array([0.1, 0.2]), None),
    ],
    ids=["empty", "all-nonfinite", "scalar", "constant-with-nan", "varied"],
)
def test_describe_constant_edge_cases(values, expected) -> None:
    assert describe_constant(values) == expected


def test_constant_and_empty_figures_are_still_well_formed() -> None:
    one = histogram_figure(np.full(10, 3.0))
    assert list(one.data[0].y) == [10]
    empty = histogram_figure(np.zeros(0))
    assert len(empty.data[0].y) == 0


def test_ten_million_values_stay_cheap() -> None:
    values = np.random.default_rng(0).standard_normal(10_000_000).astype(np.float32)
    start = time.perf_counter()
    fig = histogram_figure(values, bins=100)
    elapsed = time.perf_counter() - start
    assert sum(fig.data[0].y) == 10_000_000
    assert len(pio.to_json(fig, validate=False)) < 30_000
    assert elapsed < 5.0


def test_integer_and_half_precision_values() -> None:
    assert histogram_data(np.arange(10, dtype=np.int8), bins=5).counts.sum() == 10
    assert histogram_data(np.ones(4, dtype=np.float16) * [1, 2, 3, 4], bins=2).counts.sum() == 4


def test_bins_must_be_positive() -> None:
    with pytest.raises(ValueError, match="bins must be at least 1"):
        histogram_data(np.ones(3), bins=0)


def test_png_export() -> None:
    assert histogram_png(np.random.default_rng(1).standard_normal(100)).startswith(b"\x89PNG")
