"""Shard files named by an index file (safetensors' and Keras's): checked before any is opened.

A name in an index is untrusted: it must be a plain file name in the index's own folder (no
separators, no ``..``, no link pointing out), name a file that exists, and there may be at most
``MAX_SHARDS`` of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CorruptFile, UnsafeModel
from ._config import parse_json
from .safety import MAX_CONFIG_BYTES, MAX_SHARDS


def read_index(index: Path) -> dict[str, Any]:
    """The JSON object of an index file, size-checked first.

    Raises:
        UnsafeModel: larger than ``MAX_CONFIG_BYTES``.
        CorruptFile: not a JSON object.
    """
    size = index.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise UnsafeModel(f"{index.name} is {size} bytes, more than {MAX_CONFIG_BYTES} allowed")
    data = parse_json(index.read_bytes(), index.name)
    if not isinstance(data, dict):
        raise CorruptFile(f"{index.name} is not a JSON object; expected an index of shards")
    return data


def shard_paths(index: Path, names: list[str]) -> list[Path]:
    """The files ``names`` (in order, each once) in the folder of ``index``.

    Raises:
        UnsafeModel: a name that is not a plain file name or leaves the folder; too many.
        CorruptFile: a named shard is missing.
    """
    unique = list(dict.fromkeys(names))
    if len(unique) > MAX_SHARDS:
        raise UnsafeModel(f"{index.name} names {len(unique)} shards, more than {MAX_SHARDS}")
    folder = index.parent
    root = folder.resolve()
    paths = []
    for name in unique:
        if "/" in name or "\\" in name or name in ("", ".", "..") or "\x00" in name:
            raise UnsafeModel(f"{index.name} names shard {name!r}, which is not a plain file name")
        path = folder / name
        if not path.resolve().is_relative_to(root):
            raise UnsafeModel(f"{index.name}: shard {name!r} points outside its folder")
        if not path.is_file():
            raise CorruptFile(f"{index.name} names shard {name!r}, which is missing")
        paths.append(path)
    return paths
