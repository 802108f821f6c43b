"""The sandboxed worker: files that crash, hang or bloat their parser end in one line.

The misbehaving readers are real (``_crash_readers``: SIGSEGV, an endless loop, allocation
without bound), run by the real worker under its real limits; only the limits are set lower
here (through their documented environment variables) so that the tests are quick.
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _crash_readers import MODULE, crasher
from _security import REALWORLD, run_cli

from extraction import open_model
from extraction.cli import export_npz, inspect_json
from extraction.errors import CorruptFile, ReaderCrashed, UnsafeModel, WeightscopeError
from extraction.readers._child import PLUGIN_ENV
from extraction.readers.safety import (
    WORKER_CPU_ENV,
    WORKER_IDLE_ENV,
    WORKER_MEMORY_ENV,
    WORKER_WALL_ENV,
)
from extraction.readers.worker import SPARE_ENV, stop_spares

WALL = 6.0
"""The wall limit the tests set; the worker must be stopped, and the error raised, by then."""
SLACK = 10.0
"""What a loaded 2-core machine may add to it (starting the worker, killing it)."""
EXPECTED_LINE = {
    "segv": "the reader crashed while reading it as a test file that segvs (signal 11, SIGSEGV)",
    "hang": f"reading it took longer than {WALL:g} s, so it was stopped",
    "bomb": "reading it needed more than 512 MB of memory, so it was stopped",
}


@pytest.fixture(autouse=True)
def no_spare(monkeypatch: pytest.MonkeyPatch) -> None:
    """No spare worker, so that the tests can count the workers."""
    monkeypatch.setenv(SPARE_ENV, "0")
    stop_spares()


@pytest.fixture()
def crash_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The worker loads the misbehaving readers, with limits low enough for quick tests."""
    monkeypatch.setenv(PLUGIN_ENV, MODULE)
    monkeypatch.setenv(WORKER_WALL_ENV, str(WALL))
    monkeypatch.setenv(WORKER_MEMORY_ENV, "512")
    yield


def _children() -> set[int]:
    pid = os.getpid()
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(t) for t in text)
    return found


@pytest.mark.parametrize("kind", sorted(EXPECTED_LINE))
def test_a_misbehaving_file_ends_in_one_line_and_the_next_open_works(
    kind: str, crash_env: None, tiny_files: dict[str, Path]
) -> None:
    before = _children()
    start = time.monotonic()
    with pytest.raises(ReaderCrashed) as caught:
        open_model(crasher(kind), name=f"{kind}.h5")
    elapsed = time.monotonic() - start
    message = str(caught.value)
    assert message == f"could not read {kind}.h5: {EXPECTED_LINE[kind]}"
    assert "\n" not in message
    assert elapsed < WALL + SLACK
    assert _children() <= before, "the misbehaving worker is still running"
    # The worker is replaced: the next file opens and reads as usual.
    model = open_model(tiny_files["keras"])
    assert model.layer("conv").weight("kernel").array().shape == (3, 3, 2, 3)


def test_a_cpu_bound_reader_is_stopped_by_its_cpu_limit(
    crash_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WORKER_CPU_ENV, "1")
    monkeypatch.setenv(WORKER_WALL_ENV, "60")
    with pytest.raises(ReaderCrashed, match=r"cpu\.h5: reading it used more than 1 s of CPU"):
        open_model(crasher("cpu"), name="cpu.h5")


def test_a_crash_in_a_lazy_read_ends_that_read_only(crash_env: None) -> None:
    model = open_model(crasher("lazy_segv"), name="lazy.h5")
    layer = model.layer("dense")
    with pytest.raises(ReaderCrashed) as caught:
        layer.weight("kernel").array()
    assert str(caught.value) == (
        "could not read weight 'kernel' of layer 'dense' of lazy.h5: the reader crashed while "
        "reading it as a test file that lazy_segvs (signal 11, SIGSEGV)"
    )
    # A fresh worker opens the file again for the next read.
    assert layer.weight("bias").array().tolist() == [1.0, 1.0]
    assert layer.weight("bias").stats().mean == 1.0


@pytest.mark.parametrize("kind", sorted(EXPECTED_LINE))
def test_the_cli_exits_2_with_one_error_line(kind: str, crash_env: None, tmp_path: Path) -> None:
    path = tmp_path / f"{kind}.h5"
    path.write_bytes(crasher(kind))
    (tmp_path / "tmp").mkdir()
    run = run_cli("inspect", str(path), "--json", tmpdir=tmp_path / "tmp", timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""
    assert run.error_lines() == [f"error: could not read {kind}.h5: {EXPECTED_LINE[kind]}"]


def _corpus() -> list[Path]:
    names = ["mnist_mlp.h5", "mnist_cnn.keras", "melody_lstm.keras", "digits_savedmodel_keras2"]
    return [REALWORLD / n for n in names]


def _same_everywhere(path: Path, tmp: Path) -> None:
    isolated = open_model(path)
    local = open_model(path, isolate=False)
    assert not any(w.is_loaded for _, w in isolated.iter_weights())
    assert isolated.notes == local.notes and isolated.live_model is None
    assert json.dumps(inspect_json(isolated)) == json.dumps(inspect_json(local))
    assert export_npz(isolated, tmp / "a.npz") == export_npz(local, tmp / "b.npz")
    with np.load(tmp / "a.npz") as a, np.load(tmp / "b.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key], equal_nan=True)
    for (_, w1), (_, w2) in zip(isolated.iter_weights(), local.iter_weights(), strict=True):
        assert not w1.array().flags.writeable
        assert w1.array().dtype == w2.array().dtype
    derived = isolated.derive(source="elsewhere")
    assert [w.stats() for _, w in derived.iter_weights()] == [
        w.stats() for _, w in local.iter_weights()
    ]


@pytest.mark.slow
def test_isolated_records_equal_in_process_records_on_real_files(
    realworld: Path, tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SavedModel's reader imports TensorFlow in the worker: on a loaded 2-core machine
    # that alone can pass the 25 s default.
    monkeypatch.setenv(WORKER_WALL_ENV, "180")
    for path in _corpus():
        _same_everywhere(path, tmp_path)


def test_isolated_records_equal_in_process_records_on_tiny_files(
    tiny_files: dict[str, Path], tmp_path: Path, private_tmp: Path
) -> None:
    for path in tiny_files.values():
        _same_everywhere(path, tmp_path)
        live = open_model(path, live=True)
        local = open_model(path, live=True, isolate=False)
        assert (live.live_model is None) == (local.live_model is None)
        assert live.notes == local.notes
        assert json.dumps(inspect_json(live)) == json.dumps(inspect_json(local))


def test_refusals_are_the_readers_own_errors(realworld: Path) -> None:
    with pytest.raises(UnsafeModel, match="pickle") as isolated:
        open_model(REALWORLD / "pickle_exploit.keras")
    with pytest.raises(UnsafeModel) as local:
        open_model(REALWORLD / "pickle_exploit.keras", isolate=False)
    assert str(isolated.value) == str(local.value)
    with pytest.raises(WeightscopeError, match="not a model file"):
        open_model(b"hello, world", name="notes.txt")


def test_the_worker_ends_with_its_records(tiny_files: dict[str, Path]) -> None:
    gc.collect()
    before = _children()
    model = open_model(tiny_files["h5"])
    model.layer("out").weight("kernel").array()
    assert len(_children() - before) == 1
    del model
    gc.collect()
    deadline = time.monotonic() + 10
    while _children() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _children() - before


def test_an_idle_worker_exits_and_a_later_read_opens_the_file_again(
    tiny_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WORKER_IDLE_ENV, "0.5")
    path = tmp_path / "model.keras"
    path.write_bytes(tiny_files["keras"].read_bytes())
    model = open_model(path)
    before = model.layer("out").weight("bias").array()
    time.sleep(2)  # the worker has exited by now
    assert model.layer("out").weight("kernel").array().shape == (48, 4)
    assert np.array_equal(model.layer("out").weight("bias").array(), before)
    # A file changed behind the records is not read as if it were the one listed.
    time.sleep(2)
    path.write_bytes(tiny_files["h5"].read_bytes())
    with pytest.raises(CorruptFile, match="model.keras has changed since it was opened"):
        model.layer("conv").weight("kernel").array()


def test_a_process_that_opens_files_again_keeps_one_spare_worker(
    tiny_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SPARE_ENV, "1")
    before = _children()
    models = [open_model(tiny_files["h5"]) for _ in range(3)]
    deadline = time.monotonic() + 30
    while len(_children() - before) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_children() - before) == 4  # three open files and one spare
    assert all(m.layer("out").weight("bias").array().shape == (4,) for m in models)
    stop_spares()
    del models
    gc.collect()
    while _children() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _children() - before


@pytest.mark.slow
def test_new_formats_cross_unchanged_quantization_included(tmp_path: Path) -> None:
    from _exports import exports

    made = exports()
    sources = [*made.tflite.values(), made.tfjs["float"], made.tfjs["uint8"], made.tfjs["zip"]]
    for path in sources:
        _same_everywhere(path, tmp_path)
        isolated, local = open_model(path), open_model(path, isolate=False)
        pairs = zip(isolated.iter_weights(), local.iter_weights(), strict=True)
        for (_, w1), (_, w2) in pairs:
            assert w1.quantization == w2.quantization and w1.layout == w2.layout, path.name
