"""Statistics tables from a real Keras model read live, and from records with NaN/Inf."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kerascope.components.figures.tables import (
    LAYER_COLUMNS,
    SPECTRAL_COLUMNS,
    WEIGHT_COLUMNS,
    layer_table,
    weight_stats_table,
)
from kerascope.extraction.readers.store import ArrayStore
from kerascope.extraction.records import LayerWeights, ModelWeights

keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def model() -> ModelWeights:
    from kerascope.extraction.api import open_model

    keras.utils.set_random_seed(0)
    net = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(3, name="dense"),
        ]
    )
    return open_model(net)


def test_one_row_per_layer_with_pooled_statistics(model: ModelWeights) -> None:
    calls: list[tuple[int, int]] = []
    table = layer_table(model, on_progress=lambda done, total: calls.append((done, total)))
    assert tuple(table.columns) == LAYER_COLUMNS + SPECTRAL_COLUMNS
    assert tuple(layer_table(model, spectral=False).columns) == LAYER_COLUMNS
    assert list(table["path"]) == ["conv", "bn", "flat", "dense"]
    assert calls[-1] == (4, 4)
    conv = table.set_index("path").loc["conv"]
    layer = model.layer("conv")
    values = np.concatenate([w.array().reshape(-1) for w in layer.weights]).astype(np.float64)
    assert conv["params"] == 3 * 3 * 4 + 4
    assert conv["mean"] == pytest.approx(values.mean())
    assert conv["std"] == pytest.approx(values.std())
    assert (conv["min"], conv["max"]) == (pytest.approx(values.min()), pytest.approx(values.max()))
    assert conv["zero fraction"] == pytest.approx(4 / 40)  # the zero-initialised bias
    assert conv["class"] == "Conv2D" and conv["kind"] == "conv2d"
    assert "kernel (3, 3, 1, 4)" in conv["shapes"]
    assert not conv["NaN"] and not conv["Inf"]


def test_spectral_columns_are_weightwatchers_metrics_of_each_layer() -> None:
    from kerascope.extraction.analysis.spectrum import spectral_stats
    from kerascope.extraction.api import open_model

    keras.utils.set_random_seed(1)
    net = keras.Sequential(
        [
            keras.Input((6, 40)),
            keras.layers.LSTM(16, return_sequences=True, name="lstm"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(20, name="dense"),
            keras.layers.Dense(3, name="small"),
        ]
    )
    records = open_model(net)
    table = layer_table(records).set_index("path")
    dense = records.layer("dense")
    stats = spectral_stats(dense, dense.weight("kernel"))
    assert stats is not None
    row = table.loc["dense"]
    assert row["alpha"] == stats.alpha and row["D"] == stats.D
    assert row["matrix_rank"] == stats.matrix_rank and row["spectrum of"] == "kernel"
    assert table.loc["lstm", "spectrum of"] == "kernel (extension)"
    for path in ("flat", "small"):  # no weight; 3 eigenvalues, fewer than min_evals
        assert math.isnan(table.loc[path, "alpha"]) and table.loc[path, "spectrum of"] == ""


def test_a_table_that_must_not_wait_shows_only_spectra_already_computed() -> None:
    from kerascope.extraction.analysis.spectrum import MEMO_KEY
    from kerascope.extraction.api import open_model

    net = keras.Sequential([keras.Input((40,)), keras.layers.Dense(20, name="dense")])
    records = open_model(net)
    kernel = records.layer("dense").weight("kernel")
    table = layer_table(records, compute_spectra=False)
    assert math.isnan(table.loc[0, "alpha"]) and not kernel.has_computed(MEMO_KEY)
    assert not math.isnan(layer_table(records).loc[0, "alpha"])
    assert not math.isnan(layer_table(records, compute_spectra=False).loc[0, "alpha"])


def test_layer_without_weights_is_listed_with_empty_statistics(model: ModelWeights) -> None:
    flat = layer_table(model).set_index("path").loc["flat"]
    assert flat["params"] == 0 and flat["shapes"] == ""
    assert math.isnan(flat["mean"]) and math.isnan(flat["max"])


def test_weight_table_one_row_per_weight(model: ModelWeights) -> None:
    table = weight_stats_table(model.layer("bn"))
    assert tuple(table.columns) == WEIGHT_COLUMNS
    assert list(table["weight"]) == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert list(table["trainable"]) == [True, True, False, False]
    assert table.set_index("weight").loc["gamma", "mean"] == 1.0


def test_nan_and_inf_flags_and_all_nonfinite_weight() -> None:
    odd = np.array([1.0, np.nan, np.inf, 3.0], dtype=np.float32)
    dead = np.array([np.nan, np.nan], dtype=np.float32)
    store = ArrayStore()
    layer = LayerWeights(
        "odd",
        "block/odd",
        "Custom",
        "other",
        {},
        (
            store.weight("w", odd),
            store.weight("v", dead),
        ),
    )
    model = ModelWeights("<test>", "live", "m", (layer,), store=store)
    row = layer_table(model).iloc[0]
    assert bool(row["NaN"]) and bool(row["Inf"])
    assert row["mean"] == pytest.approx(2.0) and row["max"] == 3.0
    weights = weight_stats_table(layer).set_index("weight")
    assert math.isnan(weights.loc["v", "mean"]) and weights.loc["v", "NaN count"] == 2
    assert weights.loc["w", "Inf count"] == 1
