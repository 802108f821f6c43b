"""Checks run on a stranger's file before anything parses it for real.

A file must never run code (no unpickling; Keras ``safe_mode`` stays on; ``Lambda`` code is never
deserialized) and never make us allocate without bound (zip bombs, huge configs).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptFile, UnsafeModel

MAX_CONFIG_BYTES = 64 * 1024 * 1024
"""A model config (config.json, metadata.json, an HDF5 model_config) larger than this is refused
(real ones are kilobytes to a few MB)."""
MAX_CONFIG_DEPTH = 100
"""Layers nested deeper than this in a config are not a real model."""
MAX_GRAPH_NODES = 3000
"""Most nodes the model graph lays out (Graphviz's dot slows down faster than linearly)."""
MAX_INFLATED_BYTES = 16 * 1024**3
"""A zip whose members inflate to more than this in total is refused, and so is one member."""
MAX_COMPRESSION_RATIO = 200
"""A deflated member that claims to inflate more than this many times is refused..."""
RATIO_CHECK_BYTES = 64 * 1024**2
"""... when it inflates to more than this (small members compress well legitimately)."""
MAX_ARRAY_BYTES = 8 * 1024**3
"""No single weight array larger than this is ever read."""
ARRAY_SLACK_BYTES = 1024**2
"""How far an uncompressed array's declared size may exceed the bytes its file holds."""
MAX_FILL_RATIO = 1100
"""A compressed HDF5 dataset may declare at most this many times its stored bytes (deflate's own
limit is about 1030); checked above ``RATIO_CHECK_BYTES`` only."""
MAX_PROTOBUF_BYTES = 1 << 30
"""A SavedModel's saved_model.pb or keras_metadata.pb larger than this is not parsed."""
MAX_SAFETENSORS_HEADER_BYTES = 100 * 1024**2
"""A safetensors JSON header longer than this is refused before it is read (the format's own
reference reader stops at 100 MB; real headers are kilobytes to a few MB)."""
MAX_SHARDS = 4096
"""A sharded checkpoint (safetensors index, Keras ``.weights.json``) naming more shard files
than this is refused."""
MAX_FOLDER_ENTRIES = 500
"""The model folder lists at most this many models."""
MAX_CLASS_INDEX_BYTES = 1024**2
"""Largest class-name file read from Keras's cache (ImageNet's is about 35 kB)."""
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError)
"""What reading a damaged zip member raises (bad CRC or deflate stream, cut short, an
unsupported compression method)."""


def check_zip(path: Path) -> None:
    """Refuse a zip whose declared sizes or contents could exhaust memory or run code.

    Raises:
        UnsafeModel: a zip bomb, an oversized config, or a pickle inside an ``.npz`` member.
        CorruptFile: the archive cannot be listed.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            if total > MAX_INFLATED_BYTES:
                raise UnsafeModel(
                    f"{path.name} would inflate to {total / 1024**3:.1f} GiB, more than the "
                    f"{MAX_INFLATED_BYTES // 1024**3} GiB allowed"
                )
            for info in infos:
                _check_member(path, zf, info)
    except ZIP_ERRORS as exc:
        raise CorruptFile(f"{path.name} is a broken zip archive ({exc})") from exc


def _check_member(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    if info.compress_type != zipfile.ZIP_STORED and info.compress_size > 0:
        ratio = info.file_size / info.compress_size
        if ratio > MAX_COMPRESSION_RATIO and info.file_size > RATIO_CHECK_BYTES:
            raise UnsafeModel(
                f"{path.name}: member {info.filename!r} claims to inflate {ratio:.0f} times "
                f"(to {info.file_size} bytes); refused as a likely zip bomb"
            )
    if info.filename.endswith("config.json") and info.file_size > MAX_CONFIG_BYTES:
        raise UnsafeModel(
            f"{path.name}: {info.filename} is {info.file_size} bytes, more than the "
            f"{MAX_CONFIG_BYTES} allowed for a model config"
        )
    if info.filename.endswith(".npz"):
        check_npz_member(path.name, zf, info)


def check_npz_member(label: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Refuse an ``.npz`` inside a zip if any array in it is a pickled object array."""
    # A member of a zip is seekable, so the inner archive is listed without reading it whole.
    try:
        inner = zipfile.ZipFile(zf.open(info))
    except ZIP_ERRORS as exc:
        raise CorruptFile(f"{label}: {info.filename} is not a valid .npz ({exc})") from exc
    with inner:
        for member in inner.infolist():
            with inner.open(member) as f:
                if _npy_is_object(f):
                    raise UnsafeModel(
                        f"{label}: {info.filename} holds a Python pickle ({member.filename}), "
                        "which is never loaded because unpickling can run code"
                    )


def _npy_is_object(f: Any) -> bool:
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            _, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            _, _, dtype = np.lib.format.read_array_header_2_0(f)
    except ValueError:
        return True  # not a plain .npy: treat as opaque and unsafe
    return bool(dtype.hasobject)


def lambda_layers(config: Any) -> list[str]:
    """Names of the ``Lambda`` layers anywhere in a Keras model config (nested models too)."""
    found: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("class_name") == "Lambda":
                inner = node.get("config", {})
                found.append(str(inner.get("name", "?")) if isinstance(inner, dict) else "?")
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(config)
    return found


def read_zip_config(path: Path) -> Any:
    """The parsed ``config.json`` of a ``.keras`` zip, size-checked first."""
    from ._config import parse_json

    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("config.json")
        if info.file_size > MAX_CONFIG_BYTES:
            raise UnsafeModel(f"{path.name}: config.json is too large ({info.file_size} bytes)")
        return parse_json(zf.read(info), f"{path.name}:config.json")


# The sandboxed worker's fixed limits (its settable ones are in ``extraction/settings.py``).
WORKER_PRELOAD_SECONDS = 180.0
"""Wall-clock seconds a worker may take to import what a format's reader needs before reading
(``Format.preload``: TensorFlow takes seconds, tens of them on a busy machine). No byte of the
file is parsed meanwhile, so this cannot let a hanging file live longer; sniffing the file and
reading it each still have ``KERASCOPE_WORKER_SECONDS``."""
WORKER_HEADROOM_BYTES = 2 * 1024**3
"""What a worker may allocate beyond twice the bytes of the file it reads (and what it had
mapped before reading it): its address space is lowered to that once it knows the file, so a
file of a few kB that makes its parser allocate without end is stopped at about 2 GiB, not at
``settings.WORKER_MEMORY_BYTES``. Reads that need more (compressed arrays many times their
file) are not expected of such a file."""
