"""Runs: ModelCheckpoint folders in all three formats and WeightRecorder folders read exactly,
in epoch order; the recorder's thinning, float16 and batch steps; the timeline and its CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from keras import layers

from kerascope.extraction import WeightRecorder, open_model, open_run
from kerascope.extraction.analysis import timeline as timeline_module
from kerascope.extraction.analysis.timeline import timeline
from kerascope.extraction.errors import CorruptFile, SourceNotFound, UnsupportedFormat
from kerascope.extraction.folder import list_models
from kerascope.extraction.runs import MANIFEST, Snapshot, epoch_numbers, looks_like_run, stem

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 3


def _model(units: int = 5) -> Any:
    inputs = keras.Input((6,))
    x = layers.Dense(units, name="hidden")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    model = keras.Model(inputs, layers.Dense(2, name="out")(x), name="mlp")
    model.compile(keras.optimizers.Adam(0.05), "mse")
    return model


def _data(seed: int = 0) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(64, 6)).astype("float32"), rng.normal(size=(64, 2)).astype("float32")


class LiveNorms(keras.callbacks.Callback):  # type: ignore[misc]
    """The L2 of every weight of the live model at the end of each epoch (and before training)."""

    def __init__(self) -> None:
        super().__init__()
        self.norms: dict[int, dict[str, float]] = {}

    def _take(self, epoch: int) -> None:
        live = open_model(self.model)
        self.norms[epoch] = {
            live.export_key(la, w): float(np.linalg.norm(w.array().astype(np.float64)))
            for la, w in live.iter_weights()
        }

    def on_train_begin(self, logs: Any = None) -> None:
        self._take(0)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self._take(epoch + 1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, dict[str, float]]]:
    """One training written four ways: .keras, legacy .h5, .weights.h5, and the recorder."""
    keras.utils.set_random_seed(1)
    root = tmp_path_factory.mktemp("runs")
    live = LiveNorms()
    checkpoint = keras.callbacks.ModelCheckpoint
    callbacks = [
        checkpoint(str(root / "keras" / "model-{epoch}.keras")),
        checkpoint(str(root / "h5" / "ckpt-{epoch:02d}-{loss:.2f}.h5")),
        checkpoint(
            str(root / "weights" / "weights.{epoch:02d}-{loss:.2f}.weights.h5"),
            save_weights_only=True,
        ),
        WeightRecorder(root / "recorded"),
        live,
    ]
    for sub in ("keras", "h5", "weights"):
        (root / sub).mkdir()
    _model().fit(*_data(), epochs=EPOCHS, batch_size=16, verbose=0, callbacks=callbacks)
    return root, live.norms


@pytest.mark.parametrize("folder", ["keras", "h5", "weights", "recorded"])
def test_each_epoch_reads_exactly_as_the_live_model_was(
    trained: tuple[Path, dict[int, dict[str, float]]], folder: str
) -> None:
    root, norms = trained
    run = open_run(root / folder)
    first = 0 if folder == "recorded" else 1
    assert [s.epoch for s in run.snapshots] == list(range(first, EPOCHS + 1))
    line = timeline(run)
    assert set(line.weights) == set(norms[1])
    for i, snap in enumerate(run.snapshots):
        for key, w in line.weights.items():
            assert w.points[i].l2 == pytest.approx(norms[snap.epoch][key], rel=1e-6), (key, i)


def test_the_recorder_keeps_the_logs_and_a_snapshot_before_training(
    trained: tuple[Path, dict[int, dict[str, float]]],
) -> None:
    run = open_run(trained[0] / "recorded")
    assert run.recorded and run.unit == "epoch"
    assert run.snapshots[0].label == "before training" and not run.snapshots[0].logs
    assert all("loss" in s.logs and np.isfinite(s.logs["loss"]) for s in run.snapshots[1:])
    assert [s.step for s in run.snapshots] == [0, 1, 2, 3]


def test_update_ratio_is_the_change_over_the_previous_norm(
    trained: tuple[Path, dict[int, dict[str, float]]],
) -> None:
    run = open_run(trained[0] / "keras")
    data = timeline(run).as_json()
    assert [s["step"] for s in data["snapshots"]] == [1, 2, 3]
    assert all(set(s) == {"step", "label", "source"} for s in data["snapshots"])
    kernels = [run.model(i).layer("hidden").weight("kernel").array() for i in range(3)]
    ratios = data["weights"]["hidden/kernel"]["update_ratio"]
    assert ratios[0] is None
    for t in (1, 2):
        want = np.linalg.norm(kernels[t] - kernels[t - 1]) / np.linalg.norm(kernels[t - 1])
        assert ratios[t] == pytest.approx(want, rel=1e-5)
    assert set(data["weights"]["hidden/kernel"]) == {"l2", "mean", "std", "update_ratio"}
    json.dumps(data, allow_nan=False)  # plain JSON, no NaN tokens


def test_a_bias_that_starts_at_zero_has_no_ratio_for_its_first_step(
    trained: tuple[Path, dict[int, dict[str, float]]],
) -> None:
    ratios = timeline(open_run(trained[0] / "recorded")).as_json()["weights"]["hidden/bias"]
    assert ratios["update_ratio"][:2] == [None, None]
    assert ratios["l2"][0] == 0.0 and ratios["update_ratio"][2] is not None


@pytest.mark.parametrize(
    ("names", "epochs"),
    [
        (["model-10.h5", "model-9.h5", "model-11.h5"], [10, 9, 11]),
        (["model-1.h5", "model-10.h5", "model-2.h5"], [1, 10, 2]),
        (["weights.05-0.42.weights.h5", "weights.06-0.39.weights.h5"], [5, 6]),
        (["weights.10-0.05.weights.h5", "weights.09-0.05.weights.h5"], [10, 9]),
        (["ep001.keras", "ep002.keras", "ep100.keras"], [1, 2, 100]),
        (["resnet50-e3.h5", "resnet50-e12.h5"], [3, 12]),
        (["run2_epoch_07_acc_0.91.h5", "run2_epoch_08_acc_0.93.h5"], [7, 8]),
    ],
)
def test_epochs_come_from_the_first_number_after_the_shared_prefix(
    names: list[str], epochs: list[int]
) -> None:
    assert epoch_numbers([stem(n) for n in names]) == epochs


@pytest.mark.parametrize(
    "names",
    [["model-best.h5", "model-3.h5"], ["final.keras", "first.keras"], ["a-1.h5", "b-1.h5"]],
)
def test_names_without_distinct_numbers_say_nothing(names: list[str]) -> None:
    assert epoch_numbers([stem(n) for n in names]) is None


def test_names_without_numbers_are_ordered_by_file_time(tmp_path: Path) -> None:
    model = _model()
    for i, name in enumerate(["zeta.keras", "alpha.keras", "mid.keras"]):
        model.save(tmp_path / name)
        os.utime(tmp_path / name, ns=(time.time_ns(), 1_000_000_000 * (i + 1)))
    run = open_run(tmp_path)
    assert [Path(s.source).name for s in run.snapshots] == [
        "zeta.keras",
        "alpha.keras",
        "mid.keras",
    ]
    assert [s.step for s in run.snapshots] == [1, 2, 3]
    assert any("file time" in n for n in run.notes)


def test_checkpoints_of_different_models_are_no_run(tmp_path: Path) -> None:
    _model(5).save(tmp_path / "m-1.keras")
    _model(7).save(tmp_path / "m-2.keras")
    run = open_run(tmp_path)  # listing reads names only
    with pytest.raises(UnsupportedFormat, match=r"m-1\.keras and m-2\.keras are different models"):
        timeline(run)


def test_one_checkpoint_is_no_run_and_a_broken_newest_file_is_stepped_past(tmp_path: Path) -> None:
    model = _model()
    model.save(tmp_path / "m-1.keras")
    assert not looks_like_run(tmp_path)
    with pytest.raises(UnsupportedFormat, match="not a run"):
        open_run(tmp_path)
    model.save(tmp_path / "m-2.keras")
    (tmp_path / "m-3.keras").write_bytes((tmp_path / "m-2.keras").read_bytes()[:100])
    run = open_run(tmp_path)  # listing reads names only: the broken file is found when read
    assert [s.step for s in run.snapshots] == [1, 2, 3]
    index, model = run.latest()
    assert index == 1 and model.layer("hidden").weight("kernel").shape == (6, 5)
    line = timeline(run)
    assert list(line.unreadable) == [2] and line.complete
    assert line.notes[0].startswith("epoch 3 could not be read")
    assert line.weights["hidden/kernel"].points[2].l2 is None
    assert line.weights["hidden/kernel"].points[1].l2 is not None
    with pytest.raises(SourceNotFound, match="no snapshot at epoch 7; epochs: 1-3"):
        run.index_of(7)


def test_a_run_folder_opens_as_its_latest_snapshot_and_is_listed_once(
    trained: tuple[Path, dict[int, dict[str, float]]],
) -> None:
    root, norms = trained
    model = open_model(root / "h5")
    assert np.linalg.norm(model.layer("out").weight("kernel").array()) == pytest.approx(
        norms[EPOCHS]["out/kernel"], rel=1e-6
    )
    assert any("epoch 3 of run h5" in n for n in model.notes)
    listed = list_models(root)
    assert {"h5", "keras", "weights", "recorded"} <= set(listed)
    assert not any(name.startswith("h5/") for name in listed)


@pytest.mark.slow
def test_the_recorder_thins_to_first_last_and_evenly_spaced(tmp_path: Path) -> None:
    model = _model()
    one = sum(int(np.prod(w.shape)) for w in model.weights) * 4
    # Room for about six snapshot files (each a few kB of HDF5 bookkeeping on top).
    probe = tmp_path / "probe.weights.h5"
    model.save_weights(probe)
    cap = 6 * probe.stat().st_size + one
    model.fit(
        *_data(),
        epochs=16,
        batch_size=32,
        verbose=0,
        callbacks=[WeightRecorder(tmp_path / "run", max_bytes=cap)],
    )
    run = open_run(tmp_path / "run")
    steps = [s.step for s in run.snapshots]
    assert steps[0] == 0 and steps[-1] == 16 and 3 <= len(steps) <= 6
    gaps = {b - a for a, b in zip(steps, steps[1:], strict=False)}
    assert len(gaps) == 1, steps  # evenly spaced
    files = sorted(p.name for p in (tmp_path / "run").glob("*.weights.h5"))
    assert files == sorted(Path(s.source).name for s in run.snapshots)
    assert sum((tmp_path / "run" / f).stat().st_size for f in files) <= cap


def test_the_recorder_refuses_a_cap_without_room_for_two(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no room for two snapshots"):
        _model().fit(
            *_data(), epochs=1, verbose=0, callbacks=[WeightRecorder(tmp_path, max_bytes=100)]
        )
    with pytest.raises(ValueError, match="every must be"):
        WeightRecorder(tmp_path, every=0)


@pytest.mark.slow
def test_float16_batches_and_a_second_fit_continue_the_run(tmp_path: Path) -> None:
    model = _model()
    recorder = WeightRecorder(tmp_path, every=3, dtype="float16")
    x, y = _data()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[recorder])  # 4 batches/epoch
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[recorder])
    run = open_run(tmp_path)
    assert run.unit == "batch"
    assert [s.step for s in run.snapshots] == [0, 3, 6, 8, 9, 12]
    assert [s.epoch for s in run.snapshots] == [0, 1, 2, 2, 3, 3]
    assert run.snapshots[2].label == "epoch 2, step 6"
    last = run.model(len(run.snapshots) - 1).layer("hidden").weight("kernel")
    assert last.dtype == "float16"
    np.testing.assert_allclose(last.array(), model.get_layer("hidden").kernel.numpy(), rtol=1e-3)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["dtype"] == "float16" and len(manifest["snapshots"]) == 6


def test_a_recorder_of_every_batch_lists_at_most_once_a_second_and_all_at_the_end(
    tmp_path: Path,
) -> None:
    """Rewriting the manifest after each snapshot made recording every batch quadratic; it is
    now listed at most once a second mid-epoch, and whole at the end of each epoch."""
    model = _model()
    x, y = _data()
    seen: list[tuple[float, int]] = []

    class Reader(keras.callbacks.Callback):
        """What a reader following the run finds after each batch (valid JSON, never torn)."""

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            listed = json.loads((tmp_path / MANIFEST).read_text())["snapshots"]
            seen.append((time.monotonic(), len(listed)))

    recorder = WeightRecorder(tmp_path, every=1)
    writes: list[float] = []
    write = recorder._write_manifest

    def counted() -> None:
        write()
        writes.append(time.monotonic())

    recorder._write_manifest = counted  # type: ignore[method-assign]
    model.fit(x, y, epochs=2, batch_size=2, verbose=0, callbacks=[recorder, Reader()])
    batches = 2 * (len(x) // 2)  # two epochs of batches of 2
    run = open_run(tmp_path)
    assert [s.step for s in run.snapshots] == list(range(batches + 1))  # all listed at the end
    # Once for step 0, once per second at most while batches come, once per epoch end.
    mid = [b - a for a, b in zip(writes, writes[1:], strict=False)]
    assert len(writes) < batches / 4, len(writes)
    assert sum(1 for gap in mid if gap < 0.9) <= 2, mid  # only the epoch ends come sooner
    assert all(n >= 1 for _, n in seen) and [n for _, n in seen] == sorted(n for _, n in seen)


def test_numbers_are_computed_once_and_kept_on_disk(
    trained: tuple[Path, dict[int, dict[str, float]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = open_run(trained[0] / "weights")
    first = timeline(run).as_json()
    timeline_module._ENTRIES.forget()

    def refuse(self: Snapshot) -> None:
        raise AssertionError(f"{self.source} was read again")

    monkeypatch.setattr(Snapshot, "open", refuse)
    assert timeline(run).as_json() == first


def test_timeline_cli_prints_the_design_json_and_fails_in_one_line(
    trained: tuple[Path, dict[int, dict[str, float]]], tmp_path: Path
) -> None:
    cli = [sys.executable, "-m", "extraction", "timeline"]
    done = subprocess.run(
        [*cli, str(trained[0] / "h5"), "--json"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [s["label"] for s in data["snapshots"]] == ["epoch 1", "epoch 2", "epoch 3"]
    assert len(data["weights"]["hidden/kernel"]["l2"]) == EPOCHS
    table = subprocess.run([*cli, str(trained[0] / "h5")], cwd=ROOT, capture_output=True, text=True)
    assert table.returncode == 0 and "hidden/kernel" in table.stdout
    bad = subprocess.run([*cli, str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1


@pytest.mark.slow
def test_importing_extraction_and_opening_a_run_needs_no_tensorflow(
    trained: tuple[Path, dict[int, dict[str, float]]],
) -> None:
    code = (
        "import sys\nimport kerascope.extraction\nfrom kerascope.extraction import open_run\n"
        "from kerascope.extraction.analysis.timeline import timeline\n"
        f"t = timeline(open_run({str(trained[0] / 'keras')!r}))\n"
        "print(len(t.snapshots), 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
        "from kerascope.extraction import WeightRecorder\n"
        "import keras\nprint(issubclass(WeightRecorder, keras.callbacks.Callback))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "False", "False", "True"]


def test_a_nan_planted_at_one_epoch_is_found_there_and_left_out_of_the_norms(
    tmp_path: Path,
) -> None:
    model = _model()
    kernel = model.get_layer("out").kernel
    for epoch in (1, 2, 3):
        if epoch == 2:
            bad = kernel.numpy()
            bad[0, 0] = np.nan
            kernel.assign(bad)
        model.save(tmp_path / f"m-{epoch}.keras")
    line = timeline(open_run(tmp_path))
    assert line.first_bad() == (1, "out/kernel")
    out = line.weights["out/kernel"]
    finite = kernel.numpy()[np.isfinite(kernel.numpy())]
    assert out.points[1].nan_count == 1
    assert out.points[1].l2 == pytest.approx(float(np.linalg.norm(finite)), rel=1e-6)
    assert all(r is None or np.isfinite(r) for r in out.update_ratio())


def test_a_manifest_names_only_files_inside_its_run_folder(
    trained: tuple[Path, dict[int, dict[str, float]]], tmp_path: Path
) -> None:
    recorded = trained[0] / "recorded"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    manifest = json.loads((recorded / MANIFEST).read_text())
    for entry in manifest["snapshots"]:
        (run_dir / entry["file"]).write_bytes((recorded / entry["file"]).read_bytes())
    (tmp_path / "outside.weights.h5").write_bytes((recorded / entry["file"]).read_bytes())
    manifest["snapshots"] += [
        {"step": 7, "epoch": 7, "file": "../outside.weights.h5"},
        {"step": 8, "epoch": 8, "file": str(tmp_path / "outside.weights.h5")},
        {"step": "9", "epoch": 9, "file": "x.weights.h5"},
        "not an entry",
    ]
    manifest["snapshots"][1]["label"] = "<b>**bold**</b>"
    (run_dir / MANIFEST).write_text(json.dumps(manifest))
    run = open_run(run_dir)
    assert [s.step for s in run.snapshots] == [0, 1, 2, 3]
    assert all(Path(s.source).parent == run_dir for s in run.snapshots)
    assert run.snapshots[1].label == "epoch 1"  # labels are made from numbers, not file text
    assert sum("left out" in n for n in run.notes) == 4
    (run_dir / MANIFEST).write_text("{not json")
    with pytest.raises(CorruptFile):
        open_run(run_dir)


def test_a_run_keeps_few_snapshots_open(
    trained: tuple[Path, dict[int, dict[str, float]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kerascope.extraction import runs

    run = open_run(trained[0] / "recorded")
    for i in (0, 1, 2, 3, 1):
        run.model(i)
    assert set(run._models) == {0, 1, 2, 3}
    monkeypatch.setattr(runs, "OPEN_SNAPSHOTS", 3)
    run = open_run(trained[0] / "recorded")
    for i in (0, 1, 2, 0, 3):
        run.model(i)
    assert set(run._models) == {0, 2, 3}  # 1 was the least recently used
    monkeypatch.setattr(runs, "OPEN_BYTES", 1)
    run = open_run(trained[0] / "recorded")
    for i in (0, 1, 2):
        run.model(i)
    assert set(run._models) == {1, 2}  # over the byte cap: only now and before stay


@pytest.mark.parametrize("keep", [False, True])
def test_the_recorder_keeps_optimizer_state_only_when_asked(tmp_path: Path, keep: bool) -> None:
    import h5py

    keras.utils.set_random_seed(2)
    model = _model()
    recorder = WeightRecorder(tmp_path, optimizer=keep)
    model.fit(*_data(), epochs=EPOCHS, batch_size=16, verbose=0, callbacks=[recorder])
    run = open_run(tmp_path)
    files = [Path(s.source) for s in run.snapshots]
    with h5py.File(files[-1]) as f:
        assert ("optimizer" in f) is keep
    line = timeline(run)
    assert line.has_gradients is keep
    rms = line.weights["hidden/kernel"].series("grad_rms")
    if not keep:
        assert rms == [None] * len(files)
        return
    assert rms[0] is None and all(v is not None and v > 0 for v in rms[1:])  # built at step 1
    optimizer = model.optimizer  # the live state matches the last snapshot's
    kernel = model.get_layer("hidden").kernel
    v = optimizer._velocities[optimizer._get_variable_index(kernel)].numpy().astype(np.float64)
    t = int(optimizer.iterations.numpy())
    assert rms[-1] == pytest.approx(float(np.mean(np.sqrt(v / (1 - 0.999**t)))), rel=1e-6)
    assert "grad_rms" not in line.as_json()["weights"]["hidden/kernel"]  # (the CLI contract)
    np.testing.assert_array_equal(  # and the weights are the same as without it
        run.model(len(files) - 1).layer("hidden").weight("kernel").array(), kernel.numpy()
    )


def test_checkpoints_saved_whole_show_gradient_rms_over_time(
    trained: tuple[Path, dict[int, dict[str, float]]],
) -> None:
    line = timeline(open_run(trained[0] / "keras"))
    assert line.has_gradients
    assert all(v is not None for v in line.weights["out/kernel"].series("grad_rms"))
    assert all(v is None for v in line.weights["bn/moving_mean"].series("grad_rms"))
