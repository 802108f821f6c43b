"""Statistics of big files kept in the cache folder, keyed by path, size and mtime."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmarks.llama_layout import TINY, write_llama_checkpoint
from kerascope.extraction import open_model
from kerascope.extraction.analysis import stats_cache
from kerascope.extraction.analysis.spectrum import MEMO_KEY, analysed_weights, spectral_stats


@pytest.fixture()
def llama(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KERASCOPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(stats_cache, "PERSIST_MIN_BYTES", 0)  # the tiny model counts as big
    return write_llama_checkpoint(tmp_path / "llama", TINY, seed=1)


def test_reopening_takes_kept_statistics_without_reading_arrays(llama: Path) -> None:
    first = open_model(llama)
    computed = {first.export_key(la, w): w.stats() for la, w in first.iter_weights()}
    assert stats_cache.save_stats(first, llama)
    again = open_model(llama)
    assert all(w.has_stats and not w.is_loaded for _, w in again.iter_weights())
    assert {again.export_key(la, w): w.stats() for la, w in again.iter_weights()} == computed


def test_a_changed_file_gets_new_statistics(llama: Path) -> None:
    first = open_model(llama)
    for _, w in first.iter_weights():
        w.stats()
    stats_cache.save_stats(first, llama)
    shard = next(llama.glob("*.safetensors"))
    os.utime(shard, ns=(shard.stat().st_atime_ns, shard.stat().st_mtime_ns + 10**9))
    assert not any(w.has_stats for _, w in open_model(llama).iter_weights())


def test_partial_and_damaged_cache_files(llama: Path) -> None:
    first = open_model(llama)
    layer = first.layer("model.norm")
    layer.weights[0].stats()
    stats_cache.save_stats(first, llama)
    again = open_model(llama)
    assert [w.has_stats for _, w in again.iter_weights()].count(True) == 1
    key = stats_cache.source_key(llama)
    assert key is not None
    stats_cache.cache_file(key).write_text("{not json")
    assert not any(w.has_stats for _, w in open_model(llama).iter_weights())


def test_small_sources_are_not_kept(tmp_path: Path) -> None:
    folder = write_llama_checkpoint(tmp_path / "small", TINY)
    assert stats_cache.source_key(folder) is None
    assert not stats_cache.save_stats(open_model(folder), folder)


def test_background_job_computes_everything_and_keeps_it(llama: Path) -> None:
    from kerascope.extraction.analysis.stats_job import StatsJob

    model = open_model(llama)
    analysed = list(analysed_weights(model))
    assert analysed  # the projections are matrices
    job = StatsJob(model, llama).start()
    assert job.wait(120) and job.finished and job.stats_finished
    weights = len(list(model.iter_weights()))
    assert job.done == job.total == weights + len(analysed) and job.fraction == 1.0
    assert job.error is None
    again = open_model(llama)
    assert all(w.has_stats for _, w in again.iter_weights())  # kept on disk
    assert all(w.has_computed(MEMO_KEY) for _, w, _ in analysed_weights(again))
    assert not any(w.is_loaded for _, w in again.iter_weights())
    assert StatsJob(again, llama).start().total == 0  # nothing left to do


def test_spectral_metrics_are_kept_beside_the_statistics(llama: Path) -> None:
    first = open_model(llama)
    computed = {}
    for layer, weight, _ in analysed_weights(first):
        computed[first.export_key(layer, weight)] = spectral_stats(layer, weight)
    assert stats_cache.save_stats(first, llama)
    again = open_model(llama)
    for layer, weight, _ in analysed_weights(again):
        assert spectral_stats(layer, weight) == computed[again.export_key(layer, weight)]
    assert not any(w.is_loaded for _, w in again.iter_weights())  # nothing read for them
    key = stats_cache.source_key(llama)
    assert key is not None
    path = stats_cache.cache_file(key)
    data = json.loads(path.read_text())
    # An older meaning: computed again, the statistics beside them still kept.
    data["value"]["spectral_version"] = -1
    path.write_text(json.dumps(data))
    third = open_model(llama)
    assert all(w.has_stats for _, w, _ in analysed_weights(third))
    assert not any(w.has_computed(MEMO_KEY) for _, w in third.iter_weights())
