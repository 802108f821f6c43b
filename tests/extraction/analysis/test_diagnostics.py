"""Health findings and spectra on constructed weights with known answers."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from kerascope.extraction.analysis.diagnostics import Finding, layer_findings
from kerascope.extraction.analysis.spectrum import (
    MIN_EIGENVALUES,
    fit_power_law,
    read_alpha,
    spectrum,
)
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


def test_heavy_tailed_matrix_alpha_in_expected_range() -> None:
    # Student-t entries with tail index mu = 1.5: random-matrix theory puts the ESD's power-law
    # exponent at 1 + mu / 2 = 1.75 (Martin & Mahoney); finite size leaves it near that.
    rng = np.random.default_rng(0)
    s = spectrum(rng.standard_t(1.5, (1000, 500)), "kernel", "dense")
    assert s.fit is not None and 1.5 < s.fit.alpha < 2.2
    assert s.reading == "over_trained" and "below 2" in s.meaning


def test_gaussian_random_matrix_has_large_alpha() -> None:
    rng = np.random.default_rng(1)
    s = spectrum(rng.standard_normal((1000, 500)), "kernel", "dense")
    assert s.fit is not None and s.fit.alpha > 6
    assert s.reading == "under_trained"


def test_power_law_fit_recovers_a_pure_pareto_exponent() -> None:
    rng = np.random.default_rng(2)
    x = (1.0 - rng.random(5000)) ** (-1.0 / 2.0)  # p(x) ~ x^-3 for x >= 1
    fit = fit_power_law(x)
    assert fit is not None and fit.alpha == pytest.approx(3.0, abs=0.15)
    assert read_alpha(fit) == "well_trained"


def test_stable_rank_and_singular_values_known() -> None:
    w = np.diag([3.0, 4.0, 0.0])
    s = spectrum(w, "kernel", "dense")
    np.testing.assert_allclose(s.singular_values, [4.0, 3.0, 0.0])
    assert s.stable_rank == pytest.approx(25 / 16)
    assert s.fit is None and s.reading == "too_small"  # 3 eigenvalues < MIN_EIGENVALUES
    assert MIN_EIGENVALUES > 3


def test_conv_kernel_esd_pools_one_slice_per_kernel_position() -> None:
    rng = np.random.default_rng(3)
    kernel = rng.standard_normal((3, 3, 8, 32))
    s = spectrum(kernel, "kernel", "conv2d")
    assert s.slices == 9 and s.eigenvalues.size == 9 * 8
    assert s.singular_values.size == 32  # of the (3*3*8, 32) patch map
    before = kernel.copy()
    spectrum(kernel, "kernel", "conv2d")
    np.testing.assert_array_equal(kernel, before)


def test_spectrum_refuses_vectors_and_nan() -> None:
    with pytest.raises(ValueError, match="2 or more axes"):
        spectrum(np.ones(4), "bias", "dense")
    with pytest.raises(ValueError, match="NaN"):
        spectrum(np.full((3, 3), np.nan), "kernel", "dense")


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


def test_a_flat_spectrum_gets_no_alpha() -> None:
    lstm = layers.LSTM(64, name="lstm")
    model = records(lstm, shape=(5, 8))
    weight = model.layer("lstm").weight("recurrent_kernel")
    spec = spectrum(weight.array(), weight.role, model.layer("lstm").kind)
    assert spec.fit is None and spec.reading == "flat"
    assert fit_power_law(np.ones(200)) is None
