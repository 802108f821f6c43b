"""The background job that reads a run for its timelines: progress, result, cancelling an older
version of the run, a snapshot that vanished as a note, snapshots of two models as one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.step_run import copy_steps
from kerascope.components.page.run_job import TimelineJob, TimelineJobs
from kerascope.extraction.runs import open_run


@pytest.fixture
def run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KERASCOPE_CACHE_DIR", str(tmp_path / "cache"))
    return copy_steps(tmp_path / "run", 6)


def test_a_job_reads_every_snapshot_and_keeps_the_timeline(run_folder: Path) -> None:
    run = open_run(run_folder)
    job = TimelineJob(run).start()
    assert job.wait(120)
    assert job.error is None and not job.cancelled
    assert job.done == job.total == 6 and job.fraction == 1.0
    assert job.result is not None and len(job.result.snapshots) == 6
    assert "conv_b/kernel" in job.result.weights


def test_a_cancelled_job_stops_without_a_result(run_folder: Path) -> None:
    job = TimelineJob(open_run(run_folder))
    job.cancel()
    job.start()
    assert job.wait(120)
    assert job.cancelled and job.result is None and job.error is None
    assert job.done < job.total  # stopped before the end


def test_a_newer_version_of_a_run_cancels_the_older_job(run_folder: Path) -> None:
    jobs = TimelineJobs()
    run = open_run(run_folder)
    first = jobs.get(run, "v1")
    assert jobs.get(run, "v1") is first  # one job per version, shared
    second = jobs.get(run, "v2")
    assert second is not first
    assert first.wait(120) and second.wait(120)
    assert first.cancelled or first.result is not None  # stopped, unless it had already ended
    assert second.result is not None
    other = open_run(copy_steps(run_folder.parent / "other", 2))
    assert jobs.get(other, "v1").wait(120)
    assert jobs.get(run, "v2") is second  # another run's job leaves this one alone


def test_a_snapshot_gone_since_listing_is_a_note(run_folder: Path) -> None:
    run = open_run(run_folder)
    Path(run.snapshots[3].source).unlink()
    job = TimelineJob(run).start()
    assert job.wait(120)
    assert job.error is None and job.result is not None
    assert len(job.result.notes) == 1 and "step 4" in job.result.notes[0]


def test_snapshots_of_two_models_end_the_job_with_one_line(run_folder: Path) -> None:
    import keras

    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    other.save_weights(run_folder / "step-00003.weights.h5")
    job = TimelineJob(open_run(run_folder)).start()
    assert job.wait(120)
    assert job.result is None and job.error and "\n" not in job.error
    assert "step-00003" in job.error
