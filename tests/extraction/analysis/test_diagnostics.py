"""Health findings on constructed weights with known answers (spectra: test_spectrum.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from kerascope.extraction.analysis.diagnostics import Finding, layer_findings
from kerascope.extraction.readers.live import read_live
from kerascope.extraction.records import ModelWeights


def records(*model_layers: keras.layers.Layer, shape: tuple[int, ...]) -> ModelWeights:
    model = keras.Sequential([keras.Input(shape), *model_layers])
    return read_live(model)


def checks(found: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in found}


def test_conv_with_exactly_three_dead_filters_is_reported_as_three() -> None:
    conv = layers.Conv2D(16, 3, name="conv")
    model = records(conv, shape=(8, 8, 3))
    kernel, bias = (np.array(w) for w in conv.get_weights())
    kernel[..., [2, 7]] = 0.0
    kernel[..., 11] *= 1e-5  # "near zero": far below the median norm
    conv.set_weights([kernel, bias + 0.1 * np.arange(16)])
    found = checks(layer_findings(model.layer("conv")))
    dead = found["dead_units"]
    assert dead.indices == (2, 7, 11) and dead.unit == "filter"
    assert "3 of 16 filters" in dead.message and "2 all zero" in dead.message
    assert set(found) == {"dead_units"}


def test_conv_transpose_filters_are_its_third_axis() -> None:
    deconv = layers.Conv2DTranspose(4, 3, name="deconv")
    model = records(deconv, shape=(5, 5, 6))
    kernel, bias = deconv.get_weights()
    assert kernel.shape == (3, 3, 4, 6)
    kernel[:, :, 1, :] = 0.0
    deconv.set_weights([kernel, bias + np.arange(4)])
    dead = checks(layer_findings(model.layer("deconv")))["dead_units"]
    assert dead.indices == (1,)


def test_nan_layer_is_flagged_as_error_first() -> None:
    dense = layers.Dense(5, name="dense")
    model = records(dense, shape=(4,))
    kernel, bias = dense.get_weights()
    kernel[1, 3] = np.nan
    kernel[0, 0] = np.inf
    dense.set_weights([kernel, bias])
    found = layer_findings(model.layer("dense"))
    first = found[0]
    assert first.check == "nan_inf" and first.severity == "error"
    assert first.indices == (0, 3) and first.unit == "unit"
    assert "2 of 20 values" in first.message


def test_zero_bias_is_constant_and_bn_variance_near_zero() -> None:
    bn = layers.BatchNormalization(name="bn")
    dense = layers.Dense(6, name="dense")
    model = records(dense, bn, shape=(4,))
    gamma, beta, mean, var = bn.get_weights()
    var[[0, 4]] = 1e-8
    bn.set_weights([gamma, beta, mean, var])
    dense_found = checks(layer_findings(model.layer("dense")))
    assert dense_found["constant_bias"].severity == "info"  # zero-initialised bias
    bn_found = checks(layer_findings(model.layer("bn")))
    assert bn_found["bn_variance"].indices == (0, 4)
    assert bn_found["constant_bias"].weight == "beta"


def test_exploding_unit_and_huge_values() -> None:
    dense = layers.Dense(8, name="dense")
    model = records(dense, shape=(10,))
    kernel, bias = dense.get_weights()
    kernel[:, 5] *= 1e3
    dense.set_weights([kernel, bias + np.arange(8)])
    found = checks(layer_findings(model.layer("dense")))
    assert found["exploding_norm"].indices == (5,)
    assert "dead_units" not in found


def test_healthy_trained_like_layer_has_no_findings() -> None:
    dense = layers.Dense(8, name="dense")
    model = records(dense, shape=(10,))
    kernel, _ = dense.get_weights()
    dense.set_weights([kernel, np.linspace(-0.1, 0.1, 8, dtype="float32")])
    assert layer_findings(model.layer("dense")) == []


def test_embedding_rows_are_units() -> None:
    emb = layers.Embedding(10, 4, name="emb")
    model = records(emb, shape=(3,))
    (table,) = emb.get_weights()
    table[[0, 9]] = 0.0
    emb.set_weights([table])
    dead = checks(layer_findings(model.layer("emb")))["dead_units"]
    assert dead.indices == (0, 9) and dead.unit == "token"


@pytest.mark.parametrize(
    ("dead", "severity"),
    [(1, "info"), (2, "warning"), (20, "error")],
    ids=["under-a-tenth", "a-tenth", "every-unit"],
)
def test_dead_unit_severity_grows_with_the_share_of_dead_units(dead: int, severity: str) -> None:
    dense = layers.Dense(20, name="dense")
    model = records(dense, shape=(10,))
    kernel, bias = dense.get_weights()
    kernel[:, :dead] = 0.0
    dense.set_weights([kernel, bias + np.arange(20)])
    found = checks(layer_findings(model.layer("dense")))["dead_units"]
    assert found.severity == severity and found.indices == tuple(range(dead))
    assert found.layer == "dense"


def test_nan_is_never_dead_an_all_nan_kernel_gets_the_nan_finding_only() -> None:
    conv = layers.Conv2D(16, 3, name="conv")
    model = records(conv, shape=(8, 8, 3))
    kernel, bias = (np.array(w) for w in conv.get_weights())
    conv.set_weights([np.full_like(kernel, np.nan), np.full_like(bias, np.nan)])
    found = layer_findings(model.layer("conv"))
    assert {f.check for f in found} == {"nan_inf"}
    assert len(found) == 2  # kernel and bias, one finding each


def test_dead_units_are_judged_among_the_finite_units_only() -> None:
    conv = layers.Conv2D(16, 3, name="conv")
    model = records(conv, shape=(8, 8, 3))
    kernel, bias = (np.array(w) for w in conv.get_weights())
    kernel[..., [1, 2, 3]] = np.nan  # three NaN filters: not dead
    kernel[..., 9] = 0.0  # one truly dead filter
    kernel[0, 0, 0, 12] = np.inf
    conv.set_weights([kernel, bias + 0.1 * np.arange(16)])
    found = checks(layer_findings(model.layer("conv")))
    assert found["nan_inf"].indices == (1, 2, 3, 12)
    assert found["dead_units"].indices == (9,)
    assert "1 of 16 filters" in found["dead_units"].message


def test_a_bias_holding_nan_is_not_called_constant() -> None:
    dense = layers.Dense(8, name="dense")
    model = records(dense, shape=(4,))
    kernel, bias = (np.array(w) for w in dense.get_weights())
    bias[3] = np.nan
    dense.set_weights([kernel, bias])  # the other seven values are all 0.0
    assert [f.check for f in layer_findings(model.layer("dense"))] == ["nan_inf"]


def test_a_flat_spectrum_gets_no_alpha_finding() -> None:
    from kerascope.extraction.analysis.health import alpha_finding
    from kerascope.extraction.analysis.spectrum import flat_spectrum, is_flat, spectral_stats

    lstm = layers.LSTM(64, name="lstm")
    model = records(lstm, shape=(5, 8))
    layer = model.layer("lstm")
    weight = layer.weight("recurrent_kernel")  # orthogonal, as initialised
    stats = spectral_stats(layer, weight)
    assert stats is not None and flat_spectrum(stats)
    assert alpha_finding(layer, weight) is None  # WeightWatcher's alpha would be huge
    assert is_flat(np.ones(200)) and not is_flat(np.arange(1.0, 5.0))


def test_findings_from_kept_statistics_are_the_findings_without_them() -> None:
    dense = layers.Dense(40, name="dense")
    model = records(dense, shape=(300,))
    kernel, bias = dense.get_weights()
    kernel[:, 0] *= 1e-6
    kernel[17, -1] = np.nan
    kernel[299, 3] = 5e4
    dense.set_weights([kernel, bias])
    layer = model.layer("dense")
    assert not any(w.has_stats for w in layer.weights)
    fresh = layer_findings(layer)
    for weight in layer.weights:
        weight.stats()  # as the app's background check leaves them
    assert layer_findings(layer) == fresh
    assert {f.check for f in fresh} >= {"nan_inf", "dead_units"}


def test_a_finite_value_whose_square_overflows_float32_is_not_nan() -> None:
    dense = layers.Dense(8, name="dense")
    model = records(dense, shape=(16,))
    kernel, bias = dense.get_weights()
    kernel[3, 2] = 3e20  # finite in float32; its square is not
    dense.set_weights([kernel, bias])
    found = checks(layer_findings(model.layer("dense")))
    assert "nan_inf" not in found
    assert found["exploding_norm"].indices == (2,)
