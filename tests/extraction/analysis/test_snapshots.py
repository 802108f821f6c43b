"""One snapshot's numbers: histograms, changes, the edge cases of ``point``, and the checks on
entries that come back from the worker or the disk cache."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from kerascope.extraction.analysis.snapshots import (
    ENTRY_VERSION,
    HIST_BINS,
    histogram,
    parse_entry,
    point,
)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("size", [2, 50, 300_000, 1_000_003])
def test_histograms_count_every_value_as_numpy_does_up_to_edge_rounding(
    dtype: Any, size: int
) -> None:
    values = (np.random.default_rng(size).normal(size=size) * 0.05).astype(dtype)
    wide = values.astype(np.float32)
    lo, hi = float(wide.min()), float(wide.max())
    ours = np.array(histogram(wide, lo, hi))
    theirs = np.histogram(wide, HIST_BINS, (lo, hi))[0]
    assert ours.sum() == size
    assert np.abs(ours - theirs).max() <= max(1, size // 100_000)


def test_a_value_at_the_top_is_in_the_last_bin_and_points_say_their_edge_cases() -> None:
    assert histogram(np.array([0.0, 1.0], np.float32), 0.0, 1.0) == [1] + [0] * 46 + [1]
    same = point(np.full(7, 0.25, np.float32))
    assert same.hist == (7,) and same.hist_range == (-0.25, 0.75) and same.std == 0.0
    nan = point(np.full(3, np.nan, np.float32))
    assert nan.hist == () and nan.hist_range is None and nan.nan_count == 3 and nan.l2 is None


def test_changes_leave_out_positions_where_either_snapshot_is_not_finite() -> None:
    before = np.array([1.0, 2.0, np.nan, 4.0], np.float32)
    now = np.array([1.5, np.inf, 3.0, 4.0], np.float32)
    moved = point(now, before)
    assert moved.change_l2 == pytest.approx(0.5) and moved.change_max == pytest.approx(0.5)
    big = np.random.default_rng(0).normal(size=600_000).astype(np.float32)
    step = big + np.float32(1e-3)
    assert point(step, big).change_l2 == pytest.approx(1e-3 * np.sqrt(big.size), rel=1e-3)


def _entry() -> dict[str, Any]:
    raw = point(np.arange(4, dtype=np.float32))
    weight = {
        "l2": raw.l2, "mean": raw.mean, "std": raw.std, "min": raw.min, "max": raw.max,
        "nan_count": 0, "inf_count": 0, "hist_range": list(raw.hist_range or ()),
        "hist": list(raw.hist), "change_l2": None, "change_max": None,
    }  # fmt: skip
    finding = {
        "check": "scale", "severity": "error", "weight": "kernel", "message": "m",
        "indices": [], "unit": "position", "layer": "dense",
    }  # fmt: skip
    return {
        "version": ENTRY_VERSION,
        "weights": {"dense/kernel": weight},
        "layout": {"dense/kernel": ["dense", "kernel", [2, 2], "kernel"]},
        "findings": {"dense": [finding]},
        "scales": {"dense/kernel": 1.5},
    }


@pytest.mark.parametrize(
    "spoil",
    [
        lambda e: e["weights"]["dense/kernel"].update(hist=[-1] * HIST_BINS),
        lambda e: e["weights"]["dense/kernel"].update(hist=[1] * (HIST_BINS + 1)),
        lambda e: e["weights"]["dense/kernel"].update(l2="big"),
        lambda e: e["weights"]["dense/kernel"].update(nan_count=True),
        lambda e: e["findings"]["dense"][0].update(check="os.system"),
        lambda e: e["findings"]["dense"][0].update(layer="other"),
        lambda e: e["layout"].update({"x/y": ["x", "y", [-1], "kernel"]}),
        lambda e: e.update(version=ENTRY_VERSION - 1),
    ],
)
def test_entries_from_the_worker_or_the_cache_are_checked(spoil: Any) -> None:
    good = _entry()
    assert parse_entry(good, None).points["dense/kernel"].hist == tuple(
        good["weights"]["dense/kernel"]["hist"]
    )
    bad = copy.deepcopy(good)
    spoil(bad)
    with pytest.raises(ValueError):
        parse_entry(bad, None)


def test_a_large_snapshot_measured_on_two_threads_equals_the_serial_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import keras

    from kerascope.extraction.analysis import snapshots
    from kerascope.extraction.readers.live import read_live

    model = keras.Sequential(
        [keras.Input((1024,)), keras.layers.Dense(2100, name="a"), keras.layers.Dense(8, name="b")]
    )
    records = read_live(model)
    arrays = {records.export_key(la, w): w.array() for la, w in records.iter_weights()}
    old = {k: v * np.float32(0.99) for k, v in arrays.items()}
    assert sum(v.size for v in arrays.values()) >= snapshots.PARALLEL_VALUES
    threaded = snapshots.compute_entry(records, arrays, old)
    monkeypatch.setattr(snapshots, "PARALLEL_VALUES", 1 << 62)
    assert snapshots.compute_entry(records, arrays, old) == threaded
