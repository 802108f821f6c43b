"""Training from knobs: history, a snapshot per epoch, bounded memory, records for the views."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kerascope.extraction.models.training import EpochLog, Knobs, TrainingRun, build_model, train
from kerascope.extraction.readers.live import read_live

TINY = Knobs(conv_filters=4, kernel_size=3, depth=1, dense_units=8, epochs=2, seed=3)


@pytest.fixture(scope="module")
def run() -> TrainingRun:
    seen: list[tuple[int, int]] = []

    def on_epoch(log: EpochLog, total: int) -> None:
        seen.append((log.epoch, total))

    result = train(TINY, on_epoch=on_epoch)
    assert seen == [(0, 2), (1, 2), (2, 2)]
    return result


def test_history_and_one_snapshot_per_epoch(run: TrainingRun) -> None:
    assert [h.epoch for h in run.history] == [0, 1, 2]
    assert run.epochs == [0, 1, 2]
    assert all(math.isfinite(h.loss) and 0 <= h.val_accuracy <= 1 for h in run.history)
    assert run.history[-1].loss < run.history[0].loss  # it learned something


def test_snapshots_become_records_that_differ_by_epoch(run: TrainingRun) -> None:
    first, last = run.weights_at(0), run.weights_at(2)
    assert [la.path for la in first.weighted_layers()] == ["conv1", "dense", "digit"]
    k0 = first.layer("conv1").weight("kernel").array()
    k2 = last.layer("conv1").weight("kernel").array()
    assert k0.shape == (3, 3, 1, 4) and not np.array_equal(k0, k2)
    assert first.live_model is None and "epoch 0" in first.name
    with pytest.raises(KeyError, match="kept epochs are"):
        run.weights_at(7)


def test_memory_cap_keeps_first_and_newest_evenly_spread() -> None:
    knobs = Knobs(conv_filters=2, kernel_size=3, depth=1, dense_units=4, epochs=5, seed=1)
    per_snapshot = sum(w.nbytes for _, w in read_live(build_model(knobs)).iter_weights())
    capped = train(knobs, max_bytes=4 * per_snapshot)
    assert capped.nbytes <= 4 * per_snapshot
    assert capped.epochs[0] == 0 and capped.epochs[-1] == 5
    assert len(capped.history) == 6  # the history is never thinned
    with pytest.raises(ValueError, match="more than the cap"):
        train(knobs, max_bytes=per_snapshot - 1)


def test_bad_knob_names_itself() -> None:
    with pytest.raises(ValueError, match="depth must be between 1 and 4; received 0"):
        Knobs(depth=0).check()
    with pytest.raises(ValueError, match="optimizer"):
        Knobs(optimizer="lbfgs").check()  # type: ignore[arg-type]
