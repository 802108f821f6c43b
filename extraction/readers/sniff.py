"""Tell a model format from its bytes, never from its file name."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..errors import CorruptFile, SourceNotFound, UnsupportedFormat
from ..records import SourceFormat

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# HDF5 allows a user block before the superblock: the signature may sit at 0, 512, 1024, ...
_HDF5_OFFSETS = (0, 512, 1024, 2048, 4096, 8192)
PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
TFLITE_MAGIC = b"TFL3"
"""The flatbuffer file identifier of TFLite models, at bytes 4..8."""
TFJS_MODEL_JSON = "model.json"
"""The file a TensorFlow.js model folder is opened by; its JSON holds a ``weightsManifest``."""
_TFJS_KEY = b'"weightsManifest"'


def sniff(path: Path) -> SourceFormat:
    """The format of the model at ``path``.

    Raises:
        SourceNotFound: nothing at ``path``.
        UnsupportedFormat: the bytes are no model format Weightscope reads.
        CorruptFile: a zip or HDF5 file that cannot even be listed.
    """
    if not path.exists():
        raise SourceNotFound(f"no such file or folder: {path}")
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "saved_model"
        if any(path.glob("*.index")):
            return "checkpoint"
        if (path / TFJS_MODEL_JSON).is_file():
            return "tfjs"
        raise UnsupportedFormat(
            f"{path} is a folder without saved_model.pb or a checkpoint .index file; "
            "expected a TensorFlow SavedModel folder"
        )
    with path.open("rb") as f:
        head = f.read(8)
        if head[:4] in ZIP_MAGIC:
            return _sniff_zip(path)
        if _has_hdf5_signature(f):
            return _sniff_hdf5(path)
    if head[4:8] == TFLITE_MAGIC:
        return "tflite"
    if head[:1] == b"{" and _is_tfjs_json(path):
        return "tfjs"
    if path.suffix == ".index" or path.with_suffix(".index").is_file() and ".data-" in path.name:
        return "checkpoint"
    size = path.stat().st_size
    if size == 0:
        raise UnsupportedFormat(f"{path.name} is empty (0 bytes); expected a Keras model file")
    if head[:2] in PICKLE_MAGIC:
        raise UnsupportedFormat(
            f"{path.name} is a Python pickle, which is never opened (unpickling runs code); "
            "expected .keras, .h5 or a SavedModel"
        )
    raise UnsupportedFormat(
        f"{path.name} is not a model file Weightscope reads; expected {readable_formats()}"
    )


def readable_formats() -> str:
    """The formats Weightscope reads, for error messages: ``a .keras file, an HDF5 ...``."""
    from . import FORMATS

    labels = [f.label for f in FORMATS.values()]
    return ", ".join(labels[:-1]) + " or " + labels[-1]


def _is_tfjs_json(path: Path) -> bool:
    from .safety import MAX_CONFIG_BYTES

    if path.stat().st_size > MAX_CONFIG_BYTES:
        return False
    return _TFJS_KEY in path.read_bytes()


def _has_hdf5_signature(f: object) -> bool:
    import io

    assert isinstance(f, io.BufferedIOBase)
    for offset in _HDF5_OFFSETS:
        f.seek(offset)
        if f.read(8) == HDF5_MAGIC:
            return True
    return False


def _sniff_zip(path: Path) -> SourceFormat:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorruptFile(f"{path.name} is a broken zip archive ({exc})") from exc
    if any(n == "saved_model.pb" or n.endswith("/saved_model.pb") for n in names):
        return "saved_model"
    if "config.json" in names or "metadata.json" in names:
        return "keras_zip"
    if any(n.rsplit("/", 1)[-1] == TFJS_MODEL_JSON for n in names):
        return "tfjs"
    raise UnsupportedFormat(
        f"{path.name} is a zip archive but neither a Keras model (no config.json) nor a zipped "
        "SavedModel (no saved_model.pb) nor a TensorFlow.js model (no model.json)"
    )


def _sniff_hdf5(path: Path) -> SourceFormat:
    import h5py

    # h5py maps HDF5's error stack onto several types; damaged files raise all of them.
    try:
        with h5py.File(path, "r") as f:
            return "h5_model" if "model_config" in f.attrs else "h5_weights"
    except (OSError, RuntimeError, SystemError, KeyError, ValueError) as exc:
        message = " ".join(str(exc).split())[:300]
        raise CorruptFile(
            f"{path.name} has an HDF5 signature but cannot be read ({message})"
        ) from exc
