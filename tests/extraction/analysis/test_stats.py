"""Statistics: one pass, right with NaN/Inf, all-equal, empty, scalar and odd dtypes."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from kerascope.extraction.analysis import stats as stats_module
from kerascope.extraction.analysis.stats import compute_stats


def test_matches_numpy_on_ordinary_values() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0.3, 2.0, size=(37, 11)).astype(np.float32)
    a[0, :3] = 0.0
    s = compute_stats(a)
    b = a.astype(np.float64)
    assert s.size == a.size
    assert s.min == pytest.approx(b.min()) and s.max == pytest.approx(b.max())
    assert s.mean == pytest.approx(b.mean()) and s.std == pytest.approx(b.std())
    assert s.l2 == pytest.approx(np.linalg.norm(b))
    assert s.zero_fraction == pytest.approx(3 / a.size)
    assert s.nan_count == 0 and s.inf_count == 0


def test_chunked_pass_equals_whole_array(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(1e3, 1e-2, size=10_001)  # large mean, small spread: a naive sum-of-squares fails
    whole = compute_stats(a)
    monkeypatch.setattr(stats_module, "_CHUNK", 97)
    chunked = compute_stats(a)
    assert chunked.mean == pytest.approx(whole.mean, rel=1e-12)
    assert chunked.std == pytest.approx(a.std(), rel=1e-6)
    assert chunked.min == whole.min and chunked.max == whole.max


def test_nan_and_inf_are_counted_and_left_out() -> None:
    a = np.array([1.0, np.nan, 3.0, np.inf, -np.inf, 0.0], dtype=np.float32)
    s = compute_stats(a)
    assert s.nan_count == 1 and s.inf_count == 2
    assert (s.min, s.max) == (0.0, 3.0)
    assert s.mean == pytest.approx(4 / 3)
    assert s.l2 == pytest.approx(math.sqrt(10))
    assert s.zero_fraction == pytest.approx(1 / 6)


def test_all_equal_values_have_zero_spread() -> None:
    s = compute_stats(np.zeros(32, np.float32))
    assert (s.min, s.max, s.mean, s.std, s.l2) == (0.0, 0.0, 0.0, 0.0, 0.0)
    assert s.zero_fraction == 1.0
    assert compute_stats(np.full(5, 0.25)).std == 0.0


def test_empty_and_all_nan_have_no_values_to_describe() -> None:
    for a in (np.zeros((0, 3), np.float32), np.full(4, np.nan)):
        s = compute_stats(a)
        assert (s.min, s.max, s.mean, s.std, s.l2) == (None, None, None, None, None)
    assert compute_stats(np.zeros(0)).zero_fraction == 0.0
    assert compute_stats(np.full(4, np.nan)).nan_count == 4


def test_scalar_is_one_value() -> None:
    s = compute_stats(np.float32(-2.5))
    assert (s.size, s.min, s.max, s.mean, s.std, s.l2) == (1, -2.5, -2.5, -2.5, 0.0, 2.5)


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.int8, np.bool_])
def test_odd_dtypes_accumulate_in_float64(dtype: type) -> None:
    a = np.array([1, 0, 1, 1], dtype=dtype)
    s = compute_stats(a)
    assert s.mean == pytest.approx(0.75) and s.zero_fraction == 0.25


def test_input_is_not_modified() -> None:
    a = np.array([3.0, np.nan, -1.0])
    before = a.copy()
    compute_stats(a)
    np.testing.assert_array_equal(a, before)


@pytest.mark.parametrize("offset, spread", [(0.0, 0.01), (1.0, 1e-3), (-50.0, 2.0)])
def test_float32_sums_are_accurate_against_float64(offset: float, spread: float) -> None:
    rng = np.random.default_rng(2)
    a = (offset + spread * rng.standard_normal(3_000_000)).astype(np.float32)
    s = compute_stats(a)
    ref = a.astype(np.float64)
    assert s.mean == pytest.approx(ref.mean(), rel=1e-6, abs=1e-9)
    assert s.std == pytest.approx(ref.std(), rel=1e-5)
    assert s.l2 == pytest.approx(np.sqrt(np.dot(ref, ref)), rel=1e-6)


def test_threads_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    a = np.random.default_rng(3).normal(size=1_000_003).astype(np.float32)
    a[::1000] = 0.0
    a[7] = np.nan
    serial = compute_stats(a)
    monkeypatch.setattr(stats_module, "_PARALLEL_MIN", 1000)
    monkeypatch.setattr(stats_module, "_THREADS", 3)
    parallel = compute_stats(a)
    assert parallel.nan_count == serial.nan_count == 1
    assert parallel.zero_fraction == serial.zero_fraction
    assert (parallel.min, parallel.max) == (serial.min, serial.max)
    assert parallel.mean == pytest.approx(serial.mean, abs=1e-9)  # std is 1
    assert parallel.std == pytest.approx(serial.std, rel=1e-7)
