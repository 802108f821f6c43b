"""Runs at the scale of real runs: hundreds of per-batch snapshots read in one worker request,
the first thing that went wrong named (the earliest anomaly, the first NaN and exactly where),
labels that say what the file names count, CheckpointManager folders, incremental filling.

Large runs are h5py-level copies of one snapshot Keras saved (``benchmarks/step_run.py``; writing
500 real saves would take minutes); the per-batch run, the recorder runs and the
CheckpointManager run are written entirely by Keras and TensorFlow.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np
import pytest

from benchmarks.step_run import NAME, Plant, _file_paths, build_cnn, copy_steps
from kerascope.extraction import WeightRecorder, open_model, open_run
from kerascope.extraction.analysis import timeline as timeline_module
from kerascope.extraction.analysis.snapshots import Scanner
from kerascope.extraction.analysis.timeline import fill_timeline, snapshot_health, timeline

ROOT = Path(__file__).resolve().parents[2]


def _cnn() -> Any:
    model = build_cnn()
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    return model


def _l2(path: Path, key: str) -> float:
    """The L2 of weight ``key`` (``conv_b/kernel``) as the file holds it, read by h5py."""
    where = {name: dataset for dataset, name in _file_paths(build_cnn()).items()}
    with h5py.File(path, "r") as f:
        return float(np.linalg.norm(np.asarray(f[where[key]], np.float64)))


DIVERGED = Plant(blowup_step=400, nan_step=500, spread_step=501)


@pytest.fixture(scope="module")
def diverged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_steps(tmp_path_factory.mktemp("runs") / "diverged", 520, DIVERGED)


def test_a_diverged_run_names_the_culprit_first_then_exactly_the_first_nan(
    diverged: Path, tmp_path: Path
) -> None:
    env = {"KERASCOPE_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    cli = [sys.executable, "-m", "extraction", "timeline", str(diverged), "--json"]
    done = subprocess.run(cli, cwd=ROOT, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert len(data["snapshots"]) == 520
    assert [s["label"] for s in data["snapshots"][:2]] == ["step 1", "step 2"]
    anomaly, nan = data["events"]["first_anomaly"], data["events"]["first_nan"]
    assert set(anomaly) == {"step", "label", "layer", "weight", "check", "message"}
    assert (anomaly["step"], anomaly["label"]) == (400, "step 400")
    assert (anomaly["layer"], anomaly["weight"], anomaly["check"]) == ("conv_b", "kernel", "scale")
    assert nan == {
        "step": 500,
        "label": "step 500",
        "weights": [{"layer": "conv_b", "weight": "bias", "count": 2}],
    }
    # The numbers are the ones written, read through the worker (same-layout path included).
    l2 = data["weights"]["conv_b/kernel"]["l2"][122]
    assert l2 == pytest.approx(_l2(diverged / NAME.format(123), "conv_b/kernel"), rel=1e-6)
    again = subprocess.run(cli, cwd=ROOT, capture_output=True, text=True, env=env)
    assert json.loads(again.stdout) == data  # from the disk cache


def test_every_layer_nan_at_once_lists_them_all_and_the_earlier_culprit_leads(
    tmp_path: Path,
) -> None:
    copy_steps(tmp_path / "run", 8, Plant(blowup_step=4, nan_step=6, nan_everywhere=True))
    line = timeline(open_run(tmp_path / "run"), isolate=False)
    assert line.events.first_anomaly is not None and line.events.first_anomaly.step == 4
    assert line.events.first_anomaly.layer == "conv_b"
    nan = line.events.first_nan
    assert nan is not None and nan.step == 6
    assert {(w.layer, w.weight) for w in nan.weights} == set(
        (w.layer, w.weight) for w in line.weights.values()
    )
    # NaN is never dead: an all-NaN snapshot has the NaN finding only.
    checks = {f.check for items in line.findings[6].values() for f in items}
    assert checks == {"nan_inf"}
    assert line.first_bad() == (5, "conv_a/kernel")


def test_same_layout_snapshots_read_as_their_reader_reads_them(tmp_path: Path) -> None:
    copy_steps(tmp_path / "run", 4)
    files = sorted((tmp_path / "run").glob("*.weights.h5"))
    with h5py.File(files[3], "r+") as f:  # the same arrays, one attribute more: parsed again
        f.attrs["note"] = "edited"
    fast = Scanner()
    entries = [fast.entry(str(p), str(files[i - 1]) if i else None) for i, p in enumerate(files)]
    assert fast.template is not None
    for i, path in enumerate(files):
        slow = Scanner().entry(str(path), str(files[i - 1]) if i else None)
        assert slow == entries[i]
    kernel = entries[1]["weights"]["conv_b/kernel"]["l2"]
    assert kernel == pytest.approx(_l2(files[1], "conv_b/kernel"), rel=1e-6)


def test_the_timeline_fills_snapshot_by_snapshot_with_prefixes(tmp_path: Path) -> None:
    copy_steps(tmp_path / "run", 30)
    run = open_run(tmp_path / "run")
    fills = list(fill_timeline(run))
    assert [f.done for f in fills] == list(range(0, 31))
    assert all(f.total == 30 for f in fills)
    middle = fills[12].timeline()
    assert len(middle.snapshots) == 12 and not middle.complete
    assert len(middle.weights["dense/kernel"].points) == 12
    full = fills[-1].timeline()
    assert full.complete and full.as_json() == timeline(run).as_json()
    # Once cached, the first fill is already complete.
    assert next(iter(fill_timeline(run))).done == 30


def test_a_run_lists_by_names_only(tmp_path: Path) -> None:
    for step in range(1, 301):
        (tmp_path / f"step-{step:05d}.weights.h5").write_bytes(b"not HDF5 at all")
    run = open_run(tmp_path)
    assert len(run.snapshots) == 300 and run.unit == "step"
    assert run.snapshots[-1].label == "step 300" and run.snapshots[-1].link == ("step", 300)
    line = timeline(run, isolate=False)  # each file found unreadable when read
    assert line.complete and len(line.unreadable) == 300 and not line.weights


@pytest.mark.parametrize(
    ("names", "unit", "labels"),
    [
        (["step-00012.weights.h5", "step-00003.weights.h5"], "step", ["step 3", "step 12"]),
        (["model_epoch_3.keras", "model_epoch_10.keras"], "epoch", ["epoch 3", "epoch 10"]),
        (["batch-40.h5", "batch-80.h5"], "batch", ["batch 40", "batch 80"]),
        (["weights.05-0.42.weights.h5", "weights.06-0.39.weights.h5"], "epoch",
         ["epoch 5", "epoch 6"]),
        (["it200.keras", "it100.keras"], "step", ["step 100", "step 200"]),
        (["ckpt-01-0200.h5", "ckpt-02-0100.h5", "ckpt-01-0100.h5"], "snapshot",
         ["epoch 1, batch 100", "epoch 1, batch 200", "epoch 2, batch 100"]),
        (["first.keras", "second.keras"], "snapshot", ["snapshot 1", "snapshot 2"]),
    ],
)  # fmt: skip
def test_labels_say_what_the_file_names_count(
    tmp_path: Path, names: list[str], unit: str, labels: list[str]
) -> None:
    for i, name in enumerate(names):
        (tmp_path / name).write_bytes(b"x")
        import os

        os.utime(tmp_path / name, ns=(10**18, 10**18 + i))
    run = open_run(tmp_path)
    assert run.unit == unit
    assert [s.label for s in run.snapshots] == labels
    assert all(s.unit == unit for s in run.snapshots)
    key = "epoch" if unit == "epoch" else "step"
    assert all(s.link == (key, s.step) for s in run.snapshots)


class _SaveEveryBatch(keras.callbacks.Callback):  # type: ignore[misc]
    """A plain per-batch saver, as users write one, with the live L2 of each weight."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder, self.step, self.norms = folder, 0, {}

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.step += 1
        self.model.save_weights(self.folder / f"step-{self.step:05d}.weights.h5")
        live = open_model(self.model)
        self.norms[self.step] = {
            live.export_key(la, w): float(np.linalg.norm(w.array().astype(np.float64)))
            for la, w in live.iter_weights()
        }


def test_a_run_written_by_a_per_batch_keras_callback(tmp_path: Path) -> None:
    model = _cnn()
    saver = _SaveEveryBatch(tmp_path)
    x = np.random.default_rng(0).normal(size=(48, 16, 16, 1)).astype("float32")
    model.fit(x, np.zeros(48, "int64"), batch_size=4, epochs=2, verbose=0, callbacks=[saver])
    run = open_run(tmp_path)
    assert [s.label for s in run.snapshots][:3] == ["step 1", "step 2", "step 3"]
    line = timeline(run)
    assert len(line.snapshots) == 24 and line.events.first_nan is None
    for i, snap in enumerate(run.snapshots):
        for key, w in line.weights.items():
            # Against a float64 norm of the live weights: the pass reads float32 in chunks, and
            # which path it takes (and so the rounding) depended on what ran before (1.4e-6 seen).
            assert w.points[i].l2 == pytest.approx(saver.norms[snap.step][key], rel=1e-5)


class _PoisonBias(keras.callbacks.Callback):  # type: ignore[misc]
    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.batches = at, 0

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.batches += 1
        if self.batches == self.at:
            bias = self.model.get_layer("conv_b").bias
            values = bias.numpy()
            values[2] = np.nan
            bias.assign(values)


def test_a_recorder_run_that_diverges_names_the_first_nan_exactly(tmp_path: Path) -> None:
    model = _cnn()
    x = np.random.default_rng(0).normal(size=(40, 16, 16, 1)).astype("float32")
    callbacks = [_PoisonBias(6), WeightRecorder(tmp_path, every=1)]
    model.fit(x, np.zeros(40, "int64"), batch_size=4, epochs=1, verbose=0, callbacks=callbacks)
    run = open_run(tmp_path)
    assert run.unit == "batch" and run.snapshots[6].label == "epoch 1, step 6"
    line = timeline(run)
    nan = line.events.first_nan
    assert nan is not None and nan.step == 6 and nan.label == "epoch 1, step 6"
    assert [(w.layer, w.weight, w.count) for w in nan.weights] == [("conv_b", "bias", 1)]
    anomaly = line.events.first_anomaly
    assert anomaly is not None and anomaly.step == 6 and anomaly.check == "nan_inf"
    later = {(w.layer, w.weight) for w in line.weights.values() if w.points[-1].nan_count}
    assert len(later) > 1  # the NaN spread through training, as real divergence does
    health = snapshot_health(run, 6)
    assert any(f.check == "nan_inf" and f.layer == "conv_b" for f in health)
    assert not any(f.check == "dead_units" and f.layer == "conv_b" for f in health)
    assert snapshot_health(run, 6) == health  # from the disk cache
    assert list(timeline_module._HEALTH.folder().glob("*.json"))


@pytest.mark.slow
def test_a_checkpoint_manager_folder_is_a_run_ordered_by_step(tmp_path: Path) -> None:
    code = f"""
import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
import tensorflow as tf, keras, numpy as np
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, name='hidden')])
m.compile('sgd', 'mse')
manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=m), {str(tmp_path)!r}, None)
x = np.random.default_rng(0).normal(size=(32, 6)).astype('float32')
for step in (9, 10, 100):
    m.fit(x, x[:, :5], verbose=0)
    manager.save(checkpoint_number=step)
print(float(np.linalg.norm(m.weights[0].numpy())))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "checkpoint").is_file()
    run = open_run(tmp_path)
    assert [s.label for s in run.snapshots] == ["step 9", "step 10", "step 100"]
    line = timeline(run)
    kernels = [w for w in line.weights.values() if w.shape == (6, 5)]
    assert len(kernels) == 1
    last = float(done.stdout.split()[-1])
    assert kernels[0].points[-1].l2 == pytest.approx(last, rel=1e-6)
    latest = open_model(tmp_path)
    assert any("step 100 of run" in n for n in latest.notes)
