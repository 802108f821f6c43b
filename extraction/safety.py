"""Checks run on a stranger's file before anything parses it for real.

A file must never run code (no unpickling; Keras ``safe_mode`` stays on; ``Lambda`` code is never
deserialized) and never make us allocate without bound (zip bombs, huge configs).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CorruptFile, UnsafeModel

MAX_CONFIG_BYTES = 64 * 1024 * 1024
"""A config.json larger than this is refused (real ones are kilobytes to a few MB)."""
MAX_INFLATED_BYTES = 16 * 1024**3
"""A zip whose members inflate to more than this in total is refused."""
MAX_COMPRESSION_RATIO = 200
"""A deflated member that claims to inflate more than this many times is refused."""


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
    except zipfile.BadZipFile as exc:
        raise CorruptFile(f"{path.name} is a broken zip archive ({exc})") from exc


def _check_member(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    if info.compress_type != zipfile.ZIP_STORED and info.compress_size > 0:
        ratio = info.file_size / info.compress_size
        if ratio > MAX_COMPRESSION_RATIO and info.file_size > 64 * 1024**2:
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
    except zipfile.BadZipFile as exc:
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
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("config.json")
        if info.file_size > MAX_CONFIG_BYTES:
            raise UnsafeModel(f"{path.name}: config.json is too large ({info.file_size} bytes)")
        try:
            return json.loads(zf.read(info))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorruptFile(f"{path.name}: config.json is not valid JSON ({exc})") from exc
