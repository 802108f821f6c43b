"""A run read in one worker request: a file that crashes or hangs its reader costs that snapshot
only; the snapshots after it are read by a fresh worker, with no change measured against it."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from _crash_readers import MODULE, crasher
from _security import children

from kerascope.extraction import open_run
from kerascope.extraction.analysis.timeline import timeline
from kerascope.extraction.readers.worker import stop_spares
from kerascope.extraction.settings import PLUGIN_ENV, SPARE_ENV, WORKER_WALL_ENV

WALL = 6.0


def test_a_crash_and_a_hang_inside_a_run_cost_their_snapshots_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PLUGIN_ENV, MODULE)
    monkeypatch.setenv(WORKER_WALL_ENV, str(WALL))
    monkeypatch.setenv(SPARE_ENV, "0")
    stop_spares()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense")])
    for step in range(1, 7):
        path = tmp_path / f"step-{step}.weights.h5"
        if step == 3:
            path.write_bytes(crasher("segv"))
        elif step == 5:
            path.write_bytes(crasher("hang"))
        else:
            kernel = model.get_layer("dense").kernel
            kernel.assign(kernel.numpy() * 1.1)
            model.save_weights(path)
    before = children()
    line = timeline(open_run(tmp_path))
    assert line.complete and sorted(line.unreadable) == [2, 4]
    assert "SIGSEGV" in line.unreadable[2] and "\n" not in line.unreadable[2]
    assert f"longer than {WALL:g} s" in line.unreadable[4]
    kernel = line.weights["dense/kernel"]
    assert [p.l2 is not None for p in kernel.points] == [True, True, False, True, False, True]
    ratios = kernel.update_ratio()
    assert ratios[1] == pytest.approx(0.1, rel=1e-5)
    assert ratios[3] is None and ratios[5] is None  # nothing read before them to compare with
    assert np.isfinite(kernel.points[5].l2)
    assert children() == before  # every worker of the scan ended
