"""Hostile files: refused with one clear line, nothing unpickled, memory bounded, nothing left.

Each case is a file built by hand to attack one defence: pickles (inside an ``.npz`` member or
renamed), decompression bombs (real and with lying sizes), absurd HDF5 shapes, HDF5 storage that
reads other files (external storage, external links, virtual datasets), an oversized
``config.json`` and a zipped SavedModel whose members escape their folder (zip-slip).
Each is opened through the library (the error's class and one-line message), and through the CLI
in a subprocess (exit 2, one ``error:`` line, peak RSS under 1 GB, no temporary file left).
"""

from __future__ import annotations

import io
import pickle
import shutil
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from _security import assert_cli_refuses, run_cli

from kerascope.extraction import open_model
from kerascope.extraction.errors import CorruptFile, KerascopeError, UnsafeModel, UnsupportedFormat

GIB = 1024**3


class Boom:
    """Unpickling this creates the file ``marker``: proof that a pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


# --- zip writing by hand, so sizes can lie and members can be pre-compressed --------------


def _zeros_deflate(size: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``size`` zero bytes (a multiple of 64 MiB), and its CRC, cheaply.

    One 64 MiB block is compressed once and ends in a full flush, so it depends on no history and
    can be repeated; the stream costs about 1/1000 of the size it inflates to.
    """
    chunk = 64 * 1024**2
    assert size % chunk == 0
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(bytes(chunk)) + comp.flush(zlib.Z_FULL_FLUSH)
    tail = comp.flush(zlib.Z_FINISH)
    crc = 0
    zeros = bytes(chunk)
    for _ in range(size // chunk):
        crc = zlib.crc32(zeros, crc)
    return block * (size // chunk) + tail, crc


def write_raw_zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> None:
    """A zip of (name, stored bytes, method, crc, declared size) members, written as given."""
    out = io.BytesIO()
    central = []
    for name, data, method, crc, size in members:
        offset = out.tell()
        raw = name.encode()
        head = (0x04034B50, 20, 0, method, 0, 0, crc, len(data), size, len(raw), 0)
        out.write(struct.pack("<IHHHHHIIIHH", *head) + raw + data)
        entry = (0x02014B50, 20, 20, 0, method, 0, 0, crc, len(data), size, len(raw), 0, 0, 0, 0)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", *entry, 0, offset) + raw)
    start = out.tell()
    out.write(b"".join(central))
    end = (0x06054B50, 0, 0, len(central), len(central), out.tell() - start, start, 0)
    out.write(struct.pack("<IHHHHIIH", *end))
    path.write_bytes(out.getvalue())


def stored(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    return name, data, zipfile.ZIP_STORED, zlib.crc32(data), len(data)


def deflated(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    return (
        name,
        comp.compress(data) + comp.flush(),
        zipfile.ZIP_DEFLATED,
        zlib.crc32(data),
        len(data),
    )


def keras_parts(tiny: dict[str, Path]) -> dict[str, bytes]:
    with zipfile.ZipFile(tiny["keras"]) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


# --- the hostile files ----------------------------------------------------------------------


def npz_object_array(tiny: dict[str, Path], folder: Path, marker: Path, *, deflate: bool) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as npz:
        plain = io.BytesIO()
        np.save(plain, np.zeros((48, 4), np.float32))
        npz.writestr("layers/dense/vars/0.npy", plain.getvalue())
        evil = io.BytesIO()
        np.save(evil, np.array([Boom(marker)], dtype=object), allow_pickle=True)
        npz.writestr("layers/dense/vars/1.npy", evil.getvalue())
    parts = keras_parts(tiny)
    member = deflated if deflate else stored
    path = folder / "npz_object.keras"
    write_raw_zip(
        path,
        [
            stored("metadata.json", parts["metadata.json"]),
            stored("config.json", parts["config.json"]),
            member("model.weights.npz", buf.getvalue()),
        ],
    )
    return path


def pickle_renamed(suffix: str, protocol: int) -> Callable[[dict[str, Path], Path, Path], Path]:
    def build(_tiny: dict[str, Path], folder: Path, marker: Path) -> Path:
        path = folder / f"pickled{suffix}"
        path.write_bytes(pickle.dumps({"weights": Boom(marker)}, protocol=protocol))
        return path

    return build


def keras_zip_bomb(tiny: dict[str, Path], folder: Path, _marker: Path) -> Path:
    """model.weights.h5 deflated: 2 MB that inflate to 2 GiB of zeros."""
    data, crc = _zeros_deflate(2 * GIB)
    parts = keras_parts(tiny)
    path = folder / "bomb.keras"
    write_raw_zip(
        path,
        [
            stored("metadata.json", parts["metadata.json"]),
            stored("config.json", parts["config.json"]),
            ("model.weights.h5", data, zipfile.ZIP_DEFLATED, crc, 2 * GIB),
        ],
    )
    return path


def keras_zip_lying_size(tiny: dict[str, Path], folder: Path, _marker: Path) -> Path:
    """model.weights.h5 declares 600 kB (a plausible ratio) but inflates to 1 GiB of zeros."""
    data, crc = _zeros_deflate(GIB)
    parts = keras_parts(tiny)
    path = folder / "lying.keras"
    write_raw_zip(
        path,
        [
            stored("metadata.json", parts["metadata.json"]),
            stored("config.json", parts["config.json"]),
            ("model.weights.h5", data, zipfile.ZIP_DEFLATED, crc, 600_000),
        ],
    )
    return path


def config_bomb(tiny: dict[str, Path], folder: Path, _marker: Path) -> Path:
    """config.json deflated to a few hundred kB, declaring (and holding) 100 MB."""
    parts = keras_parts(tiny)
    huge = parts["config.json"][:-1] + b" " * (100 * 1024**2) + b"}"
    path = folder / "huge_config.keras"
    write_raw_zip(
        path,
        [
            stored("metadata.json", parts["metadata.json"]),
            deflated("config.json", huge),
            stored("model.weights.h5", parts["model.weights.h5"]),
        ],
    )
    return path


def config_lying_size(tiny: dict[str, Path], folder: Path, _marker: Path) -> Path:
    """config.json declares 40 bytes but its deflated stream holds 100 MB."""
    parts = keras_parts(tiny)
    name, data, method, crc, _ = deflated("config.json", b" " * (100 * 1024**2))
    path = folder / "lying_config.keras"
    write_raw_zip(
        path,
        [
            stored("metadata.json", parts["metadata.json"]),
            (name, data, method, crc, 40),
            stored("model.weights.h5", parts["model.weights.h5"]),
        ],
    )
    return path


def _weights_with(
    tiny: dict[str, Path], folder: Path, name: str, make: Callable[[Any], Any]
) -> Path:
    """The tiny .weights.h5 with the dense kernel replaced by ``make(group)``."""
    path = folder / f"{name}.weights.h5"
    shutil.copy(tiny["weights_h5"], path)
    with h5py.File(path, "r+") as f:
        group = f["layers/dense/vars"]
        del group["0"]
        make(group)
    return path


def h5_absurd_chunked(tiny: dict[str, Path], folder: Path, _marker: Path) -> Path:
    return _weights_with(
        tiny, folder, "absurd",
        lambda g: g.create_dataset("0", (10**6, 10**6), "f4", chunks=(64, 64), compression="gzip"),
    )  # fmt: skip


def h5_compressed_4gib(tiny: dict[str, Path], folder: Path, _marker: Path) -> Path:
    """4 GiB declared, compressed, no chunk ever written: reading it fills 4 GiB."""
    return _weights_with(
        tiny, folder, "fill4g",
        lambda g: g.create_dataset("0", (32768,) * 2, "f4", chunks=(256, 256), compression="gzip"),
    )  # fmt: skip


def h5_contiguous_beyond_file(tiny: dict[str, Path], folder: Path, _marker: Path) -> Path:
    return _weights_with(
        tiny, folder, "contiguous", lambda g: g.create_dataset("0", (50_000, 20_000), "f4")
    )


def h5_external_storage(tiny: dict[str, Path], folder: Path, _marker: Path) -> Path:
    """A weight whose bytes are another file's (here /etc/passwd): reading it leaks that file."""
    secret = folder / "secret.bin"
    secret.write_bytes(b"root:x:0:0:secret" * 16)
    return _weights_with(
        tiny, folder, "external",
        lambda g: g.create_dataset("0", (68,), "f4", external=[(str(secret), 0, 272)]),
    )  # fmt: skip


def h5_external_link(tiny: dict[str, Path], folder: Path, _marker: Path) -> Path:
    """A weight that is a link into another HDF5 file on the server."""
    other = folder / "other.h5"
    with h5py.File(other, "w") as f:
        f["secret"] = np.arange(192, dtype=np.float32).reshape(48, 4)

    def link(group: Any) -> None:
        group["0"] = h5py.ExternalLink(str(other), "/secret")

    return _weights_with(tiny, folder, "extlink", link)


def h5_virtual_dataset(tiny: dict[str, Path], folder: Path, _marker: Path) -> Path:
    """A weight mapped (virtual dataset) from another HDF5 file on the server."""
    other = folder / "source.h5"
    with h5py.File(other, "w") as f:
        f["secret"] = np.arange(192, dtype=np.float32).reshape(48, 4)

    def virtual(group: Any) -> None:
        layout = h5py.VirtualLayout((48, 4), "f4")
        layout[:] = h5py.VirtualSource(str(other), "secret", shape=(48, 4))
        group.create_virtual_dataset("0", layout)

    return _weights_with(tiny, folder, "virtual", virtual)


def _saved_model_parts() -> list[tuple[str, bytes, int, int, int]]:
    return [stored("model/saved_model.pb", b"\x08\x01"), stored("model/variables/x", b"x")]


def zipslip_saved_model(_tiny: dict[str, Path], folder: Path, _marker: Path) -> Path:
    path = folder / "slip.zip"
    write_raw_zip(path, [*_saved_model_parts(), stored("../../slipped.txt", b"escaped")])
    return path


def saved_model_zip_bomb(_tiny: dict[str, Path], folder: Path, _marker: Path) -> Path:
    data, crc = _zeros_deflate(2 * GIB)
    path = folder / "bomb_savedmodel.zip"
    member = ("model/variables/variables.data-00000-of-00001", data, 8, crc, 2 * GIB)
    write_raw_zip(path, [*_saved_model_parts(), member])
    return path


CASES: dict[str, tuple[Any, type[KerascopeError], tuple[str, ...]]] = {
    "npz_object_stored": (
        lambda t, f, m: npz_object_array(t, f, m, deflate=False),
        UnsafeModel,
        ("pickle",),
    ),
    "npz_object_deflated": (
        lambda t, f, m: npz_object_array(t, f, m, deflate=True),
        UnsafeModel,
        ("pickle",),
    ),
    "pickle_as_h5": (pickle_renamed(".h5", 4), UnsupportedFormat, ("pickle",)),
    "pickle_as_keras": (pickle_renamed(".keras", 5), UnsupportedFormat, ("pickle",)),
    "pickle_protocol2_as_keras": (pickle_renamed(".keras", 2), UnsupportedFormat, ("pickle",)),
    "pickle_protocol0_as_h5": (pickle_renamed(".h5", 0), UnsupportedFormat, ("pickled.h5",)),
    "keras_zip_bomb": (keras_zip_bomb, UnsafeModel, ("model.weights.h5",)),
    "keras_zip_lying_size": (keras_zip_lying_size, CorruptFile, ("model.weights.h5",)),
    "config_bomb": (config_bomb, UnsafeModel, ("config.json",)),
    "config_lying_size": (config_lying_size, CorruptFile, ("config.json",)),
    "h5_absurd_chunked": (h5_absurd_chunked, UnsafeModel, ("declares",)),
    "h5_compressed_4gib": (h5_compressed_4gib, UnsafeModel, ("declares",)),
    "h5_contiguous_beyond_file": (h5_contiguous_beyond_file, UnsafeModel, ("declares",)),
    "h5_external_storage": (h5_external_storage, UnsafeModel, ("external",)),
    "h5_external_link": (h5_external_link, UnsafeModel, ("link",)),
    "h5_virtual_dataset": (h5_virtual_dataset, UnsafeModel, ("virtual",)),
    "zipslip_saved_model": (zipslip_saved_model, UnsafeModel, ("outside",)),
    "saved_model_zip_bomb": (saved_model_zip_bomb, UnsafeModel, ("inflate",)),
}


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


def _build(case: str, tiny: dict[str, Path], folder: Path) -> tuple[Path, Path]:
    here = folder / case
    here.mkdir(exist_ok=True)
    marker = here / "PICKLE_RAN"
    return CASES[case][0](tiny, here, marker), marker


def _read_everything(path: Path | bytes, name: str | None = None) -> None:
    model = open_model(path, name=name)
    for _, weight in model.iter_weights():
        weight.stats()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", list(CASES))
def test_library_refuses(
    case: str, tiny_files: dict[str, Path], hostile_dir: Path, private_tmp: Path
) -> None:
    path, marker = _build(case, tiny_files, hostile_dir)
    _, error, words = CASES[case]
    with pytest.raises(error) as caught:
        _read_everything(path)
    message = str(caught.value)
    assert message and "\n" not in message, message
    for word in words:
        assert word.lower() in message.lower(), (word, message)
    assert not marker.exists(), "a pickle was loaded"
    assert not (hostile_dir.parent / "slipped.txt").exists()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", list(CASES))
def test_cli_refuses(
    case: str, tiny_files: dict[str, Path], hostile_dir: Path, private_tmp: Path
) -> None:
    path, marker = _build(case, tiny_files, hostile_dir)
    for command in (["inspect", str(path), "--json"], ["export", str(path), "--out", "x.npz"]):
        run = run_cli(*command, tmpdir=private_tmp)
        assert_cli_refuses(run, *CASES[case][2])
    assert not marker.exists(), "a pickle was loaded"
    assert not (hostile_dir.parent / "slipped.txt").exists()
    assert not (private_tmp.parent / "x.npz").exists()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", ["zipslip_saved_model", "npz_object_deflated", "keras_zip_bomb"])
def test_uploads_are_refused_and_leave_nothing(
    case: str, tiny_files: dict[str, Path], hostile_dir: Path, private_tmp: Path
) -> None:
    path, marker = _build(case, tiny_files, hostile_dir)
    with pytest.raises(CASES[case][1]) as caught:
        _read_everything(path.read_bytes(), name=path.name)
    assert "\n" not in str(caught.value)
    assert not marker.exists()
    # the upload folder was removed, and nothing escaped it
    assert not any(private_tmp.rglob("slipped.txt"))


def test_pickle_exploit_from_the_wild(realworld: Path, private_tmp: Path) -> None:
    with pytest.raises(UnsafeModel, match="pickle"):
        _read_everything(realworld / "pickle_exploit.keras")
    run = run_cli("inspect", str(realworld / "pickle_exploit.keras"), tmpdir=private_tmp)
    assert_cli_refuses(run, "pickle")
