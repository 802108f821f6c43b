"""The model overview: one box per weighted layer; dead and exploding layers stand out."""

from __future__ import annotations

import numpy as np
import plotly.io as pio
import pytest

from kerascope.components.figures.overview import layer_box, overview_figure
from kerascope.extraction.readers.store import ArrayStore
from kerascope.extraction.records import LayerWeights, ModelWeights

keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def model() -> ModelWeights:
    from kerascope.extraction.api import open_model

    keras.utils.set_random_seed(0)
    net = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(32, name="healthy"),
            keras.layers.Dropout(0.1, name="drop"),
            keras.layers.Dense(32, name="dead", kernel_initializer="zeros"),
            keras.layers.Dense(8, name="exploding"),
            keras.layers.BatchNormalization(name="bn"),
        ]
    )
    exploding = net.get_layer("exploding")
    kernel = keras.ops.convert_to_numpy(exploding.kernel).copy()
    kernel[0, 0] = 1e4
    exploding.kernel.assign(kernel)
    return open_model(net)


def test_one_box_per_weighted_layer_in_order(model: ModelWeights) -> None:
    fig = overview_figure(model)
    labels = ["healthy", "dead (all zero)", "exploding", "bn"]
    assert list(fig.layout.yaxis.categoryarray) == labels
    assert [(t.name, list(t.y)) for t in fig.data] == [
        ("dense", labels[:3]),
        ("batch_norm", ["bn"]),
    ]
    box = fig.data[0]
    assert box.orientation == "h"
    assert fig.layout.xaxis.title.text == "weight value"
    assert fig.layout.yaxis.title.text == "layer"


def test_statistics_by_value(model: ModelWeights) -> None:
    layer = model.layer("healthy")
    values = np.concatenate([w.array().reshape(-1) for w in layer.weights]).astype(np.float64)
    box = layer_box(layer)
    assert box.median == pytest.approx(np.median(values))
    assert box.q1 == pytest.approx(np.quantile(values, 0.25))
    assert (box.low, box.high) == (pytest.approx(values.min()), pytest.approx(values.max()))
    assert box.count == values.size


def test_exploding_whisker_and_dead_layer(model: ModelWeights) -> None:
    fig = overview_figure(model)
    box = fig.data[0]
    assert box.upperfence[2] == pytest.approx(1e4)
    assert box.lowerfence[1] == box.upperfence[1] == 0.0


def test_batchnorm_box_uses_trainable_weights_only(model: ModelWeights) -> None:
    box = layer_box(model.layer("bn"))
    assert box.count == 16  # gamma and beta, not the moving statistics
    assert (box.low, box.high) == (0.0, 1.0)


def test_sampling_is_deterministic_and_whiskers_exact() -> None:
    rng = np.random.default_rng(0)
    big = rng.standard_normal(200_000).astype(np.float32)
    big[123] = 50.0
    layer = LayerWeights(
        "big",
        "big",
        "Dense",
        "dense",
        {},
        (ArrayStore().weight("kernel", big),),
    )
    a, b = layer_box(layer, max_points=5_000), layer_box(layer, max_points=5_000)
    assert a == b
    assert a.high == 50.0
    assert a.median == pytest.approx(np.median(big), abs=0.1)


def test_log_abs_scale_leaves_zeros_out(model: ModelWeights) -> None:
    fig = overview_figure(model, scale="log_abs")
    assert fig.layout.xaxis.type == "log"
    box = fig.data[0]
    assert np.isnan(box.median[1])  # the all-zero layer has nothing on a log axis
    assert box.upperfence[2] == pytest.approx(1e4)
    assert box.lowerfence[0] > 0


def test_nan_layer_is_flagged_and_figure_is_small(model: ModelWeights) -> None:
    values = np.array([1.0, np.nan, -1.0], dtype=np.float32)
    odd = LayerWeights(
        "odd",
        "odd",
        "Custom",
        "other",
        {},
        (ArrayStore().weight("w", values),),
    )
    fig = overview_figure(model.derive(layers=(*model.layers, odd)))
    assert list(fig.data[-1].y) == ["odd (NaN)"]
    assert len(pio.to_json(fig, validate=False)) < 50_000
