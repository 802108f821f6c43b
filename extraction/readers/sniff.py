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
        UnsupportedFormat: the bytes are no model format Kerascope reads.
        CorruptFile: a zip or HDF5 file that cannot even be listed.
    """
    if not path.exists():
        raise SourceNotFound(f"no such file or folder: {path}")
    if path.is_dir():
        return _sniff_folder(path)
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(9)
        if head[:4] in ZIP_MAGIC:
            return _sniff_zip(path)
        if _has_hdf5_signature(f):
            return _sniff_hdf5(path)
    if head[4:8] == TFLITE_MAGIC:
        return "tflite"
    if is_safetensors_head(head, size):
        return "safetensors"
    if head[:1] == b"{" and _is_tfjs_json(path):
        return "tfjs"
    if head[:1] == b"{":
        found = sniff_weight_map(path)
        if found is not None:
            return found
    if is_checkpoint_part(path) and (
        path.suffix == ".index" or path.with_suffix(".index").is_file()
    ):
        return "checkpoint"
    if size == 0:
        raise UnsupportedFormat(f"{path.name} is empty (0 bytes); expected a Keras model file")
    if head[:2] in PICKLE_MAGIC:
        raise UnsupportedFormat(
            f"{path.name} is a Python pickle, which is never opened (unpickling runs code); "
            "expected .keras, .h5 or a SavedModel"
        )
    raise UnsupportedFormat(
        f"{path.name} is not a model file Kerascope reads; expected {readable_formats()}"
    )


def is_checkpoint_part(path: Path) -> bool:
    """Whether a file's name makes it part of a TensorFlow checkpoint (``ckpt.index``,
    ``ckpt.data-00000-of-00001``): names only."""
    return path.suffix == ".index" or ".data-" in path.name


def reads_beside(path: Path) -> bool:
    """Whether reading the model file at ``path`` reads other files in its folder, by its name
    alone (the reader worker's sandbox is set before any byte is read): a JSON index of shards
    (safetensors, sharded Keras weights, a TF.js ``model.json``) or a checkpoint part."""
    return path.suffix.lower() == ".json" or is_checkpoint_part(path)


SAFETENSORS_INDEX = "model.safetensors.index.json"
"""The index Hugging Face writes beside sharded safetensors files."""
KERAS_SHARDS_SUFFIX = ".weights.json"
"""Keras 3 ``save_weights(..., max_shard_size=...)`` writes ``NAME.weights.json`` beside
``NAME_00000.weights.h5`` ...; KerasHub presets call it ``model.weights.json``."""
KERASHUB_FILES = ("config.json", "metadata.json")
"""A KerasHub preset folder holds both (and its weights, whole or sharded)."""


def is_safetensors_head(head: bytes, size: int) -> bool:
    """Whether a file's first bytes start a safetensors header: an 8-byte little-endian length
    followed by the header's opening brace. Whether the length fits the file is the reader's
    check, so that a cut-short file is called a damaged safetensors file, not an unknown one."""
    if len(head) < 9 or head[8:9] != b"{" or head[:1] == b"{":
        return False
    return 2 <= int.from_bytes(head[:8], "little") and size > 8


def sniff_weight_map(path: Path) -> SourceFormat | None:
    """``safetensors`` or ``keras_sharded`` for a JSON index of shards, None for other JSON.

    A safetensors index maps tensor names to ``.safetensors`` files; a Keras index maps HDF5
    group paths (``/layers/dense/vars``) to ``.weights.h5`` files (one or a list).
    """
    from ._config import parse_json
    from .safety import MAX_CONFIG_BYTES

    if path.stat().st_size > MAX_CONFIG_BYTES:
        return None
    try:
        data = parse_json(path.read_bytes(), path.name)
    except CorruptFile:
        return None
    mapping = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(mapping, dict) or not mapping:
        return None
    files = [f for v in mapping.values() for f in (v if isinstance(v, list) else [v])]
    if all(isinstance(f, str) and f.endswith(".safetensors") for f in files):
        return "safetensors"
    if all(isinstance(f, str) and f.endswith(".h5") for f in files):
        return "keras_sharded"
    return None


def is_model_folder(path: Path) -> bool:
    """Whether ``path`` is a folder that is one model (SavedModel, KerasHub preset, safetensors,
    sharded Keras weights, TF.js), not a folder of models or a run. Cheap: names only."""
    if not path.is_dir():
        return False
    try:
        return _sniff_folder(path) != "checkpoint"
    except UnsupportedFormat:
        return False


def _sniff_folder(path: Path) -> SourceFormat:
    if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
        return "saved_model"
    if all((path / name).is_file() for name in KERASHUB_FILES):
        return "kerashub_preset"
    if (path / SAFETENSORS_INDEX).is_file() or any(path.glob("*.safetensors")):
        return "safetensors"
    if any(path.glob(f"*{KERAS_SHARDS_SUFFIX}")):
        return "keras_sharded"
    if any(path.glob("*.index")):
        return "checkpoint"
    if (path / TFJS_MODEL_JSON).is_file():
        return "tfjs"
    raise UnsupportedFormat(
        f"{path} is a folder without saved_model.pb, a checkpoint .index file, safetensors, "
        "Keras sharded weights (.weights.json), a KerasHub preset (config.json and "
        "metadata.json) or a TensorFlow.js model.json; expected one of those"
    )


def readable_formats() -> str:
    """The formats Kerascope reads, for error messages: ``a .keras file, an HDF5 ...``."""
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
