"""The sandboxed worker: files that crash, hang or bloat their parser end in one line.

The misbehaving readers are real (``_crash_readers``: SIGSEGV, an endless loop, allocation
without bound), run by the real worker under its real limits; only the limits are set lower
here (through their documented environment variables) so that the tests are quick.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _crash_readers import MODULE, crasher
from _security import REALWORLD, children, rss_kb, run_cli

from kerascope.extraction import open_model
from kerascope.extraction.analysis.stats import compute_stats
from kerascope.extraction.cli import export_npz, inspect_json
from kerascope.extraction.errors import CorruptFile, KerascopeError, ReaderCrashed, UnsafeModel
from kerascope.extraction.readers._wire import ArrayAt, WireError, reply_from_wire
from kerascope.extraction.readers.worker import read_extent, stop_spares
from kerascope.extraction.settings import (
    PLUGIN_ENV,
    SPARE_ENV,
    WORKER_COUNT_ENV,
    WORKER_CPU_ENV,
    WORKER_IDLE_ENV,
    WORKER_MEMORY_ENV,
    WORKER_WALL_ENV,
)

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


@pytest.mark.parametrize("kind", sorted(EXPECTED_LINE))
def test_a_misbehaving_file_ends_in_one_line_and_the_next_open_works(
    kind: str, crash_env: None, tiny_files: dict[str, Path]
) -> None:
    before = children()
    start = time.monotonic()
    with pytest.raises(ReaderCrashed) as caught:
        open_model(crasher(kind), name=f"{kind}.h5")
    elapsed = time.monotonic() - start
    message = str(caught.value)
    assert message == f"could not read {kind}.h5: {EXPECTED_LINE[kind]}"
    assert "\n" not in message
    assert elapsed < WALL + SLACK
    assert children() <= before, "the misbehaving worker is still running"
    # The worker is replaced: the next file opens and reads as usual.
    model = open_model(tiny_files["keras"])
    assert model.layer("conv").weight("kernel").array().shape == (3, 3, 2, 3)


def test_a_worker_past_its_memory_is_stopped_even_where_rlimit_as_is_not_enforced(
    crash_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Some container runtimes ignore RLIMIT_AS: the worker's address space is left at 4 GB
    # here, and only the caller's watch of its resident memory (at 384 MB) can stop it.
    from kerascope.extraction.readers import worker

    monkeypatch.setenv(WORKER_MEMORY_ENV, "4096")
    started = worker._Process.__init__

    def watched_lower(self: Any, *args: Any, **kwargs: Any) -> None:
        started(self, *args, **kwargs)
        self.memory = 384 * 1024**2

    monkeypatch.setattr(worker._Process, "__init__", watched_lower)
    with pytest.raises(ReaderCrashed) as caught:
        open_model(crasher("bomb"), name="bomb.h5")
    assert str(caught.value) == (
        "could not read bomb.h5: reading it needed more than 384 MB of memory, so it was stopped"
    )


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
    with pytest.raises(KerascopeError, match="not a model file"):
        open_model(b"hello, world", name="notes.txt")


def test_the_worker_ends_with_its_records(tiny_files: dict[str, Path]) -> None:
    gc.collect()
    before = children()
    model = open_model(tiny_files["h5"])
    model.layer("out").weight("kernel").array()
    assert len(children() - before) == 1
    del model
    gc.collect()
    deadline = time.monotonic() + 10
    while children() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not children() - before


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
    before = children()
    models = [open_model(tiny_files["h5"]) for _ in range(3)]
    deadline = time.monotonic() + 30
    while len(children() - before) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(children() - before) == 4  # three open files and one spare
    assert all(m.layer("out").weight("bias").array().shape == (4,) for m in models)
    stop_spares()
    del models
    gc.collect()
    while children() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not children() - before


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


# --- arrays that cross as an extent: the caller reads the file's bytes itself -----------------


def _mlp(path: Path, widths: tuple[int, ...] = (300, 500, 20)) -> Any:
    import keras

    inputs = keras.Input((widths[0],))
    x = inputs
    for k, width in enumerate(widths[1:]):
        x = keras.layers.Dense(width, name=f"d{k}")(x)
    model = keras.Model(inputs, x)
    if path.name.endswith(".weights.h5"):
        model.save_weights(path)
    else:
        model.save(path)
    return model


@pytest.mark.parametrize("name", ["m.keras", "m.h5", "m.weights.h5"])
def test_hdf5_arrays_cross_as_a_plain_read_of_the_opened_file(tmp_path: Path, name: str) -> None:
    model = _mlp(tmp_path / name)
    isolated = open_model(tmp_path / name)
    kernel = isolated.layer("d0").weight("kernel").array()
    # One read of the file's bytes into memory the caller owns: no .npy file, no memory map.
    assert not isinstance(kernel.base, np.memmap) and kernel.base.flags.owndata
    assert not kernel.flags.writeable
    np.testing.assert_array_equal(kernel, model.get_layer("d0").kernel.numpy())
    assert isolated.layer("d0").weight("kernel").stats() == compute_stats(kernel)


def test_big_endian_and_chunked_datasets_read_back_exactly(tmp_path: Path) -> None:
    import h5py

    model = _mlp(tmp_path / "m.weights.h5", (300, 700, 600))  # d1's kernel: 1.7 MB
    with h5py.File(tmp_path / "m.weights.h5", "r+") as f:
        # Keras 3 names a layer's group by its class: d0 is "dense", d1 "dense_1". The chunked
        # one is big enough to be read straight into the .npy that crosses.
        for key, dtype, chunks in (("dense", ">f4", None), ("dense_1", ">f4", (70, 60))):
            group = f[f"layers/{key}/vars"]
            kernel = group["0"][()]
            del group["0"]
            # Chunked with a filter that is no compression (shuffle): read as HDF5 reads it.
            group.create_dataset("0", data=kernel.astype(dtype), chunks=chunks,
                                 shuffle=bool(chunks))  # fmt: skip
    isolated = open_model(tmp_path / "m.weights.h5")
    local = open_model(tmp_path / "m.weights.h5", isolate=False)
    for layer in ("d0", "d1"):
        a, b = isolated.layer(layer).weight("kernel"), local.layer(layer).weight("kernel")
        assert a.dtype == b.dtype and a.array().dtype == b.array().dtype
        np.testing.assert_array_equal(a.array(), model.get_layer(layer).kernel.numpy())
    assert {isolated.layer(k).weight("kernel").dtype for k in ("d0", "d1")} == {">f4"}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"path": "/etc/passwd"}, "outside"),
        ({"path": "../elsewhere.bin"}, "outside"),
        ({"path": "sub/../../elsewhere.bin"}, "outside"),
        ({"offset": -1}, "malformed"),
        ({"offset": 10**12}, "changed since it was opened"),
        ({"dtype": "|O8"}, "malformed"),
        ({"dtype": "(2,)<f4"}, "malformed"),
    ],
)
def test_an_extent_from_the_worker_is_checked_as_untrusted(
    tmp_path: Path, change: dict[str, Any], match: str
) -> None:
    path = tmp_path / "m.bin"
    path.write_bytes(np.arange(12, dtype="<f4").tobytes())
    (tmp_path.parent / "elsewhere.bin").write_bytes(b"\0" * 64)
    extent = {"path": str(path), "offset": 8, "dtype": "<f4", **change}
    if not extent["path"].startswith("/"):
        extent["path"] = str(tmp_path / extent["path"])

    def reply(dtype: str, extent: dict[str, Any]) -> ArrayAt:
        parsed = reply_from_wire({"type": "extent", "dtype": dtype, "extent": extent})
        assert isinstance(parsed, ArrayAt)
        return parsed

    with pytest.raises(CorruptFile, match=match):
        read_extent(path, reply("float32", extent), (2, 3), "m.bin")
    good = read_extent(path, reply("float32", {**extent, **{
        "path": str(path), "offset": 8, "dtype": "<f4"}}), (2, 3), "m.bin")  # fmt: skip
    np.testing.assert_array_equal(good.ravel(), np.arange(2, 8, dtype="<f4"))
    for name in ("__class__", "object", "float64"):  # a name that is no type of this size
        with pytest.raises(CorruptFile, match="unknown type"):
            read_extent(path, reply(name, {
                "path": str(path), "offset": 8, "dtype": "<u4"}), (2, 3), "m.bin")  # fmt: skip
    for bad in ({"path": 3, "offset": 8, "dtype": "<f4"}, {"path": str(path), "offset": True,
                "dtype": "<f4"}, {"path": str(path), "offset": 8}):  # fmt: skip
        with pytest.raises(WireError):
            reply("float32", bad)


def test_shards_symlinked_into_a_cache_cross_as_extents(tmp_path: Path) -> None:
    # A Hugging Face cache: the snapshot folder's files are symlinks into a blobs folder.
    from safetensors.numpy import save_file

    values = np.arange(600 * 700, dtype="<f4").reshape(600, 700)
    blobs, snapshot = tmp_path / "blobs", tmp_path / "snapshots" / "abc123"
    blobs.mkdir()
    snapshot.mkdir(parents=True)
    save_file({"model.layers.0.mlp.up_proj.weight": values}, str(blobs / "f00d"))
    (snapshot / "model.safetensors").symlink_to(blobs / "f00d")
    for source in (snapshot, snapshot / "model.safetensors"):
        got = open_model(source).layer("model.layers.0.mlp.up_proj").weight("weight").array()
        assert not isinstance(got.base, np.memmap) and got.base.flags.owndata
        np.testing.assert_array_equal(got, values)


def test_the_worker_keeps_no_array_it_has_passed_on(tmp_path: Path) -> None:
    # Statistics of every weight in turn (what inspect does): the worker holds one array at a
    # time, not all of them. Five kernels of 8 MB each.
    _mlp(tmp_path / "m.h5", (2048, 1024, 1024, 1024, 1024, 1024))
    gc.collect()
    before = children()
    model = open_model(tmp_path / "m.h5")
    (worker,) = children() - before
    weights = [w for _, w in model.iter_weights() if w.name == "kernel"]
    weights[0].stats()
    first = rss_kb({worker})
    for weight in weights[1:]:
        weight.stats()
    assert rss_kb({worker}) - first < 12 * 1024, "the worker kept arrays it had passed on"


def test_workers_beyond_the_cap_are_ended_and_their_files_still_read(
    tiny_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WORKER_COUNT_ENV, "2")
    gc.collect()
    before = children()
    paths = []
    for k in range(5):
        paths.append(tmp_path / f"m{k}.keras")
        paths[-1].write_bytes(tiny_files["keras"].read_bytes())
    models = [open_model(path) for path in paths]
    assert len(children() - before) <= 2  # the three least recently used were ended
    local = open_model(tiny_files["keras"], isolate=False)
    for model in models:  # each opens its file again in a fresh worker when read
        for (_, a), (_, b) in zip(model.iter_weights(), local.iter_weights(), strict=True):
            np.testing.assert_array_equal(a.array(), b.array())
        assert len(children() - before) <= 2
