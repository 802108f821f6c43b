"""Builders and reductions over arrays larger than one chunk give the one-pass answers."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from kerascope.components.figures import histograms
from kerascope.extraction.analysis.reduce import reduce_blocks


def test_chunked_histogram_equals_numpy_on_the_whole_array() -> None:
    rng = np.random.default_rng(0)
    values = rng.standard_normal(histograms._CHUNK * 2 + 12345).astype(np.float32)
    values[[5, histograms._CHUNK + 7]] = [np.nan, np.inf]
    data = histograms.histogram_data(values, bins=37)
    finite = values[np.isfinite(values)]
    span = (float(finite.min()), float(finite.max()))  # as the builder always did
    counts, edges = np.histogram(finite, bins=37, range=span)
    np.testing.assert_array_equal(data.counts, counts)
    np.testing.assert_allclose(data.edges, edges)
    assert (data.nan_count, data.inf_count, data.size) == (1, 1, values.size)


def test_constant_values_split_across_chunks_make_one_bar() -> None:
    values = np.full(histograms._CHUNK + 3, 2.0, dtype=ml_dtypes.bfloat16)
    data = histograms.histogram_data(values)
    assert data.counts.tolist() == [values.size]
    np.testing.assert_allclose(data.edges, [1.5, 2.5])


def test_bfloat16_reduces_as_its_float32_widening_does() -> None:
    rng = np.random.default_rng(1)
    wide = rng.standard_normal((3000, 1500)).astype(ml_dtypes.bfloat16).astype(np.float32)
    narrow = wide.astype(ml_dtypes.bfloat16)
    for mode in ("mean", "max_abs"):
        a = reduce_blocks(narrow, 100, 50, mode)  # type: ignore[arg-type]
        b = reduce_blocks(wide, 100, 50, mode)  # type: ignore[arg-type]
        np.testing.assert_allclose(a.values, b.values, rtol=1e-6)
        assert a.block == (30, 30)
