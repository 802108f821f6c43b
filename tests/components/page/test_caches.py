"""The byte-bounded caches of opened models: least recently used dropped beyond the budget."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from kerascope.components.page.caches import ByteLRU, cache_bytes, records_bytes
from kerascope.extraction.readers.store import ArrayStore
from kerascope.extraction.records import LayerWeights, ModelWeights
from kerascope.extraction.settings import CACHE_BYTES, CACHE_ENV


def _sized(size: int) -> bytearray:
    return bytearray(size)


def test_least_recently_used_entries_go_beyond_the_budget() -> None:
    cache: ByteLRU[bytearray] = ByteLRU(len, lambda: 100)
    cache.get("a", lambda: _sized(40))
    cache.get("b", lambda: _sized(40))
    cache.get("a", lambda: _sized(999))  # a hit: "a" is now the most recent, not rebuilt
    cache.get("c", lambda: _sized(40))
    assert cache.keys() == ["a", "c"]
    assert cache.nbytes() == 80


def test_an_entry_larger_than_the_budget_is_still_served() -> None:
    cache: ByteLRU[bytearray] = ByteLRU(len, lambda: 10)
    cache.get("small", lambda: _sized(5))
    big = cache.get("big", lambda: _sized(50))
    assert len(big) == 50 and cache.keys() == ["big"]


def test_sizes_are_measured_again_as_entries_grow() -> None:
    cache: ByteLRU[bytearray] = ByteLRU(len, lambda: 100)
    first = cache.get("a", lambda: _sized(10))
    cache.get("b", lambda: _sized(10))
    first.extend(bytes(95))  # "a" read more arrays since it was opened
    cache.get("b", lambda: _sized(10))
    assert cache.keys() == ["b"]


def test_two_caches_share_one_budget() -> None:
    opened: ByteLRU[bytearray] = ByteLRU(len, lambda: 100)
    runnable: ByteLRU[bytearray] = ByteLRU(len, lambda: 100)
    runnable.share_budget(opened)
    opened.get("m", lambda: _sized(60))
    runnable.get("m", lambda: _sized(60))
    assert opened.keys() == [] and runnable.keys() == ["m"]


def test_failures_are_not_cached_and_concurrent_opens_happen_once() -> None:
    cache: ByteLRU[bytearray] = ByteLRU(len, lambda: 100)
    with pytest.raises(ValueError):
        cache.get("x", lambda: (_ for _ in ()).throw(ValueError("bad")))
    assert cache.keys() == []
    calls = []

    def slow() -> bytearray:
        calls.append(1)
        time.sleep(0.2)
        return _sized(1)

    threads = [threading.Thread(target=cache.get, args=("y", slow)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1


def test_records_count_the_arrays_they_have_read() -> None:
    values = np.zeros((10, 10), "float32")
    store = ArrayStore()
    weight = store.weight("kernel", values)
    layer = LayerWeights("d", "d", "Dense", "dense", {}, (weight,))
    model = ModelWeights("m", "demo", "m", (layer,), store=store)
    assert records_bytes(model) == 0
    weight.array()
    assert records_bytes(model) == 400


def test_the_budget_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert cache_bytes() == CACHE_BYTES
    monkeypatch.setenv(CACHE_ENV, "300")
    assert cache_bytes() == 300 * 1024**2
    monkeypatch.setenv(CACHE_ENV, "lots")
    assert cache_bytes() == CACHE_BYTES
