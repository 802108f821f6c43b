"""WeightWatcher's spectral analysis, compared with WeightWatcher 0.7.7's own numbers on real
trained layers (``tests/data/weightwatcher``), and its layer rules decided from the source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from keras import layers

from kerascope.extraction.analysis.power_law import fit_power_law
from kerascope.extraction.analysis.spectrum import (
    MEMO_KEY,
    SpectralStats,
    esd_plan,
    layer_esd,
    primary_weight,
    spectral_stats,
    spectral_summary,
)
from kerascope.extraction.layouts import kind_of
from kerascope.extraction.readers.live import read_live
from kerascope.extraction.readers.store import ArrayStore
from kerascope.extraction.records import LayerWeights, ModelWeights, Weight

DATA = Path(__file__).resolve().parents[2] / "data" / "weightwatcher"
MANIFEST: dict[str, Any] = json.loads((DATA / "layers.json").read_text())
REFERENCE: dict[str, Any] = json.loads((DATA / "weightwatcher.json").read_text())["layers"]
ROLES = {
    "DepthwiseConv2D": "depthwise_kernel",
    "SeparableConv2D": "depthwise_kernel",
    "Embedding": "embeddings",
}
EXACT = ("N", "M", "rf", "num_evals", "matrix_rank", "num_pl_spikes", "warning")
CLOSE = (
    "alpha", "alpha_weighted", "log_alpha_norm", "log_norm", "log_spectral_norm", "stable_rank",
    "D", "sigma", "xmin", "xmax",
)  # fmt: skip


def reference_layer(key: str) -> tuple[LayerWeights, Weight]:
    """The committed array as the first weight of a layer of its Keras class."""
    with np.load(DATA / "layers.npz") as arrays:
        values = arrays[key]
    cls = MANIFEST[key]["class_name"]
    role = ROLES.get(cls, "kernel")
    weight = ArrayStore().weight(
        role, values, role=role, shape=values.shape, dtype=str(values.dtype)
    )  # type: ignore[arg-type]
    name = key.split("/")[1]
    layer = LayerWeights(name, name, cls, kind_of(cls), {}, (weight,))
    return layer, weight


@pytest.mark.parametrize("key", sorted(MANIFEST))
def test_metrics_equal_weightwatchers_on_trained_layers(key: str) -> None:
    layer, weight = reference_layer(key)
    ours = spectral_stats(layer, weight)
    theirs = REFERENCE[key]
    if theirs is None:  # WeightWatcher skips it; here it is an extension, and says so
        assert ours is not None and ours.scope == "extension"
        return
    assert ours is not None and ours.scope == "weightwatcher"
    assert ours.layer_type == theirs["layer_type"]
    assert abs(ours.alpha - theirs["alpha"]) < 0.01  # the bar; in fact to ~1e-12
    for name in EXACT:
        assert getattr(ours, name) == theirs[name], name
    for name in CLOSE:
        assert getattr(ours, name) == pytest.approx(theirs[name], rel=1e-9, abs=1e-12), name


def test_reference_covers_few_eigenvalues_and_every_conv_path() -> None:
    evals = {k: v["num_evals"] for k, v in REFERENCE.items() if v is not None}
    assert min(evals.values()) < 20  # WeightWatcher's small-N fit
    assert REFERENCE["digits_mlp/dense_1"]["num_evals"] == 24  # a 30 x 24 dense
    types = {v["layer_type"] for v in REFERENCE.values() if v is not None}
    assert types == {"dense", "conv2d", "conv1d", "embedding"}
    assert (DATA / "layers.npz").stat().st_size < 2 * 1024**2


def test_summary_is_get_summarys_means_over_weightwatchers_layers() -> None:
    keys = [k for k in sorted(MANIFEST) if k.startswith("digits_cnn/")]
    layers = tuple(reference_layer(k)[0] for k in keys)
    model = ModelWeights("x", "live", "m", layers, store=layers[0].weights[0].store)
    summary = spectral_summary(model)
    assert summary["layers"] == len(keys) and summary["extensions"] == 0
    for name in ("alpha", "log_norm", "alpha_weighted", "stable_rank"):
        expected = np.mean([REFERENCE[k][name] for k in keys])
        assert summary[name] == pytest.approx(expected, rel=1e-9)


def live(*stack: keras.layers.Layer, shape: tuple[int, ...]) -> ModelWeights:
    model = keras.Sequential([keras.Input(shape), *stack])
    rng = np.random.default_rng(0)
    for w in model.weights:
        w.assign(rng.standard_t(3, size=w.shape).astype("float32"))
    return read_live(model)


def test_which_weights_weightwatcher_reads_and_which_are_extensions() -> None:
    model = live(
        layers.Conv1D(20, 3, name="c1d"),
        layers.LSTM(10, return_sequences=True, name="lstm"),
        layers.TimeDistributed(layers.Dense(12), name="td"),
        layers.Dense(9, name="d"),
        shape=(16, 8),
    )
    plan = {(la.path, w.name): esd_plan(la, w) for la, w in model.iter_weights()}
    assert plan["c1d", "kernel"] is not None and plan["c1d", "kernel"].scope == "extension"
    assert "WeightWatcher skips" in plan["c1d", "kernel"].basis  # it keeps min(3, 8, 20) < 8
    assert plan["c1d", "bias"] is None
    assert plan["lstm", "kernel"].scope == "extension"  # type: ignore[union-attr]
    assert plan["lstm", "recurrent_kernel"].layer_type == "recurrent kernel"  # type: ignore[union-attr]
    assert plan["td", "kernel"].scope == "extension"  # type: ignore[union-attr]
    assert plan["d", "kernel"].scope == "weightwatcher"  # type: ignore[union-attr]
    d = model.layer("d")
    assert primary_weight(d) is d.weight("kernel")
    lstm = model.layer("lstm")
    assert primary_weight(lstm) is lstm.weight("kernel")


def test_too_few_eigenvalues_are_skipped_with_a_reason() -> None:
    model = live(layers.Dense(7, name="d"), shape=(30,))
    layer = model.layer("d")
    plan = esd_plan(layer, layer.weight("kernel"))
    assert plan is not None and plan.skip is not None and "min_evals (8)" in plan.skip
    assert spectral_stats(layer, layer.weight("kernel")) is None
    assert not layer.weight("kernel").is_loaded  # decided from the shape alone


def test_eight_eigenvalues_are_fitted() -> None:
    model = live(layers.Dense(8, name="d"), shape=(30,))
    layer = model.layer("d")
    stats = spectral_stats(layer, layer.weight("kernel"))
    assert stats is not None and stats.num_evals == 8 and stats.alpha > 1


def test_a_failed_fit_reads_as_weightwatcher_reports_it() -> None:
    values = np.full((40, 12), 1e-6, dtype=np.float32)  # every eigenvalue below 1e-5
    weight = ArrayStore().weight(
        "kernel", values, role="kernel", shape=values.shape, dtype="float32"
    )
    layer = LayerWeights("d", "d", "Dense", "dense", {}, (weight,))
    stats = spectral_stats(layer, weight)
    assert stats is not None
    assert (stats.alpha, stats.D, stats.num_pl_spikes, stats.warning) == (
        -1.0,
        -1.0,
        -1,
        "over-trained",
    )
    assert np.isfinite(stats.log_norm)


def test_all_zero_weights_give_json_ready_metrics() -> None:
    values = np.zeros((40, 12), dtype=np.float32)
    weight = ArrayStore().weight(
        "kernel", values, role="kernel", shape=values.shape, dtype="float32"
    )
    layer = LayerWeights("d", "d", "Dense", "dense", {}, (weight,))
    stats = spectral_stats(layer, weight)
    assert stats is not None
    data = stats.as_dict()
    json.dumps(data, allow_nan=False)
    assert data["log_norm"] is None and data["spectral_scope"] == "weightwatcher"
    assert SpectralStats.from_dict(data) is not None
    assert SpectralStats.from_dict({**data, "alpha": "x"}) is None
    assert SpectralStats.from_dict({"alpha": 1.0}) is None


def test_nan_weights_and_vectors_have_no_spectrum() -> None:
    values = np.ones((30, 10), dtype=np.float32)
    values[3, 4] = np.nan
    weight = ArrayStore().weight(
        "kernel", values, role="kernel", shape=values.shape, dtype="float32"
    )
    bias = ArrayStore().weight("bias", np.zeros(10, np.float32))
    layer = LayerWeights("d", "d", "Dense", "dense", {}, (weight, bias))
    assert spectral_stats(layer, weight) is None
    assert esd_plan(layer, bias) is None


def test_spectra_are_computed_once_and_kept() -> None:
    model = live(layers.Dense(16, name="d"), shape=(40,))
    layer = model.layer("d")
    kernel = layer.weight("kernel")
    first = layer_esd(layer, kernel)
    assert first is not None and kernel.has_computed(MEMO_KEY)
    assert layer_esd(layer, kernel) is first
    assert spectral_stats(layer, kernel) is first.stats


def test_large_matrices_take_the_gram_route_with_the_same_alpha() -> None:
    from kerascope.extraction.analysis import spectrum

    rng = np.random.default_rng(4)
    values = rng.standard_t(2.5, (600, 300)).astype(np.float32)
    results = []
    for limit in (10**9, 1000):
        old = spectrum.GRAM_MIN_VALUES
        spectrum.GRAM_MIN_VALUES = limit
        try:
            weight = ArrayStore().weight(
                "kernel", values, role="kernel", shape=values.shape, dtype="float32"
            )
            layer = LayerWeights("d", "d", "Dense", "dense", {}, (weight,))
            results.append(spectral_stats(layer, weight))
        finally:
            spectrum.GRAM_MIN_VALUES = old
    svd, gram = results
    assert svd is not None and gram is not None
    assert gram.alpha == pytest.approx(svd.alpha, abs=1e-9)
    assert gram.log_norm == pytest.approx(svd.log_norm, abs=1e-12)
    assert gram.matrix_rank == svd.matrix_rank == 300


def test_power_law_fit_recovers_a_pure_pareto_exponent() -> None:
    rng = np.random.default_rng(2)
    x = (1.0 - rng.random(5000)) ** (-1.0 / 2.0)  # p(x) ~ x^-3 for x >= 1
    fit = fit_power_law(x)
    assert not fit.failed and fit.alpha == pytest.approx(3.0, abs=0.15)


def test_heavy_tailed_and_gaussian_matrices_read_as_weightwatcher_says() -> None:
    rng = np.random.default_rng(0)
    for values, warning in (
        (rng.standard_t(1.5, (1000, 500)), "over-trained"),
        (rng.standard_normal((1000, 500)), "under-trained"),
    ):
        weight = ArrayStore().weight(
            "kernel", values, role="kernel", shape=values.shape, dtype="float64"
        )
        layer = LayerWeights("d", "d", "Dense", "dense", {}, (weight,))
        stats = spectral_stats(layer, weight)
        assert stats is not None and stats.warning == warning


def test_fit_edge_cases_follow_weightwatcher() -> None:
    assert fit_power_law(np.array([])).failed
    assert fit_power_law(np.array([3.0])).failed  # one value: its fit fails
    flat = fit_power_law(np.full(5, 2.0))  # no tail to fit: alpha 0, D 1
    assert (flat.alpha, flat.D) == (0.0, 1.0)
    few = fit_power_law(np.array([1.0, 2.0, 4.0]))  # whole spectrum as the tail
    assert few.alpha > 1 and few.sigma == pytest.approx(-1 / np.sqrt(3))
