"""Train-tab runs kept on disk: written whole, read back equal, bounded, damage skipped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kerascope.extraction.errors import KerascopeError
from kerascope.extraction.models import saved_runs
from kerascope.extraction.models.saved_runs import list_runs, load_run, runs_dir, save_run
from kerascope.extraction.models.training import Knobs, TrainingRun, train

TINY = Knobs(conv_filters=2, kernel_size=3, depth=1, dense_units=4, epochs=2, seed=5)


@pytest.fixture(scope="module")
def run() -> TrainingRun:
    return train(TINY)


def test_a_saved_run_reads_back_equal(run: TrainingRun, tmp_path: Path) -> None:
    saved = save_run(run, tmp_path)
    assert [r.id for r in list_runs(tmp_path)] == [saved.id]
    back = load_run(saved.id, tmp_path)
    assert back.knobs == run.knobs and back.history == run.history
    assert back.epochs == run.epochs == [0, 1, 2]
    for epoch in run.epochs:
        assert set(back.snapshots[epoch]) == set(run.snapshots[epoch])
        for key, array in run.snapshots[epoch].items():
            np.testing.assert_array_equal(back.snapshots[epoch][key], array)
    assert (back.classes, back.majority_label) == (10, run.majority_label)
    assert back.majority == pytest.approx(run.majority)
    assert back.model is None
    k2 = back.weights_at(2).layer("conv1").weight("kernel").array()
    np.testing.assert_array_equal(k2, run.snapshots[2][("conv1", "kernel")])
    assert saved.final == run.history[-1] and saved.knobs == TINY


def test_the_cache_folder_setting_is_where_runs_go(
    run: TrainingRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERASCOPE_CACHE_DIR", str(tmp_path))
    saved = save_run(run)
    assert runs_dir() == tmp_path / "trained"
    assert (tmp_path / "trained" / f"{saved.id}.npz").is_file()
    assert list_runs()[0].id == saved.id


def test_only_the_newest_are_kept(
    run: TrainingRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(saved_runs, "MAX_RUNS", 3)
    ids = [save_run(run, tmp_path).id for _ in range(5)]
    assert [r.id for r in list_runs(tmp_path)] == ids[::-1][:3]  # newest first
    assert len(list(tmp_path.iterdir())) == 6  # 3 runs, 2 files each, no leftovers


def test_damaged_or_foreign_files_are_skipped_and_refused(run: TrainingRun, tmp_path: Path) -> None:
    good = save_run(run, tmp_path).id
    (tmp_path / "run-29990101-000000-000000-digits.json").write_text("{not json")
    (tmp_path / "run-29990101-000000-000001-digits.json").write_text(json.dumps({"format": 99}))
    meta = json.loads((tmp_path / f"{good}.json").read_text())
    meta["knobs"]["depth"] = 0  # out of range
    (tmp_path / "run-29990101-000000-000002-digits.json").write_text(json.dumps(meta))
    assert [r.id for r in list_runs(tmp_path)] == [good]
    with pytest.raises(KerascopeError, match="not a saved run of this version"):
        load_run("run-29990101-000000-000001-digits", tmp_path)
    with pytest.raises(KerascopeError, match="bad knobs"):
        load_run("run-29990101-000000-000002-digits", tmp_path)
    with pytest.raises(KerascopeError, match="not a saved run"):
        load_run("../../etc/passwd", tmp_path)
    (tmp_path / f"{good}.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(KerascopeError, match="cannot be read"):
        load_run(good, tmp_path)
    assert list_runs(tmp_path / "missing") == []


def test_arrays_that_do_not_match_the_knobs_are_refused(run: TrainingRun, tmp_path: Path) -> None:
    good = save_run(run, tmp_path).id
    meta = json.loads((tmp_path / f"{good}.json").read_text())
    meta["knobs"]["conv_filters"] = 3  # another architecture than the arrays hold
    (tmp_path / f"{good}.json").write_text(json.dumps(meta))
    with pytest.raises(KerascopeError, match="does not match"):
        load_run(good, tmp_path)
