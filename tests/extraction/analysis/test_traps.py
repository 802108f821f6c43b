"""Correlation traps: a weight's spectrum against its permuted values' and the random edge."""

from __future__ import annotations

import numpy as np
import pytest

from kerascope.extraction.analysis.traps import correlation_traps
from kerascope.extraction.readers.store import ArrayStore
from kerascope.extraction.records import LayerWeights


def layer_of(values: np.ndarray, cls: str = "Dense", kind: str = "dense") -> LayerWeights:  # type: ignore[type-arg]
    weight = ArrayStore().weight(
        "kernel", values, role="kernel", shape=values.shape, dtype=str(values.dtype)
    )
    layer = LayerWeights("w", "w", cls, kind, {}, (weight,))  # type: ignore[arg-type]
    return layer


def check(values: np.ndarray, **kw: str):  # type: ignore[no-untyped-def, type-arg]
    layer = layer_of(values, **kw)
    return correlation_traps(layer, layer.weights[0])


def test_a_random_matrix_has_no_trap_and_stays_under_the_edge() -> None:
    rng = np.random.default_rng(0)
    result = check(rng.standard_normal((400, 200)).astype(np.float32))
    assert result is not None and result.traps == 0 and result.spikes == 0
    assert result.random_eigenvalues.max() < result.threshold
    assert result.bulk_edge < result.threshold
    assert result.random_eigenvalues.size == result.eigenvalues.size == 200


def test_one_huge_value_is_a_trap_and_is_named() -> None:
    rng = np.random.default_rng(1)
    values = rng.standard_normal((400, 200)).astype(np.float32)
    values[17, 42] = 60.0
    result = check(values)
    assert result is not None and result.traps >= 1
    assert result.largest[0][0] == (17, 42) and result.largest[0][1] > 30
    assert "correlation trap" in result.summary


def test_learned_structure_is_a_spike_not_a_trap() -> None:
    rng = np.random.default_rng(2)
    u, v = rng.standard_normal((400, 3)), rng.standard_normal((3, 200))
    values = (rng.standard_normal((400, 200)) + 0.5 * u @ v).astype(np.float32)
    result = check(values)
    assert result is not None and result.traps == 0 and result.spikes == 3
    assert "No correlation trap" in result.summary


def test_a_common_mean_is_not_a_trap() -> None:
    rng = np.random.default_rng(3)
    result = check((rng.standard_normal((300, 100)) + 2.0).astype(np.float32))
    assert result is not None and result.traps == 0
    assert result.spikes == 1  # the mean's own spike, in the layer's spectrum


def test_conv_kernels_pool_their_positions_and_the_check_repeats() -> None:
    rng = np.random.default_rng(4)
    kernel = rng.standard_normal((3, 3, 32, 64)).astype(np.float32)
    before = kernel.copy()
    first = check(kernel, cls="Conv2D", kind="conv2d")
    again = check(kernel, cls="Conv2D", kind="conv2d")
    assert first is not None and again is not None
    assert first.eigenvalues.size == 9 * 32 and first.traps == 0
    np.testing.assert_array_equal(first.random_eigenvalues, again.random_eigenvalues)
    np.testing.assert_array_equal(kernel, before)


def test_no_check_without_a_spectrum() -> None:
    values = np.ones((30, 10), dtype=np.float32)
    values[0, 0] = np.nan
    assert check(values) is None
    assert check(np.ones((4,), dtype=np.float32)) is None
    flat = check(np.full((30, 10), 0.5, dtype=np.float32))  # all equal: no spread at all
    assert flat is not None and flat.largest == ()
    assert flat.threshold == pytest.approx(0.0)
