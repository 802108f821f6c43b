"""Files written whole or not at all, and one keyed cache of JSON values on disk.

``atomic_path`` is the one temp-file-then-rename writer: whatever the block writes goes to a
hidden name beside the target, unique to this writer, and is renamed onto the target only when
the block succeeds. A reader, or a second writer racing this one, never sees half a file; a
failed write leaves the target as it was and no stray file. Renames are atomic within one file
system, which a name beside the target guarantees. Not promised: that the new file survives a
power cut (nothing is fsync'd: every file written this way can be made again).

``DiskCache`` keeps JSON values under a folder of the cache dir (``KERASCOPE_CACHE_DIR``), one
file per key, named by a hash of the key; the key is stored in the file too, and a value is
returned only if it matches (so a hash collision or a file from an older version is a miss).

Decided edge cases:
- A file that cannot be read, is not JSON, or holds another key or version is a miss; the
  caller computes the value again and ``put`` rewrites the file.
- A cache that cannot be written (read-only, full disk) only costs speed: ``put`` returns False.
- Keys are anything JSON can write (tuples become lists, so ``("a", 1)`` and ``["a", 1]`` are
  one key); values must be JSON (``ValueError`` otherwise, a programming error).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cachetools import LRUCache

from .settings import cache_dir

PARTIAL_PREFIX = ".partial-"
"""How a file being written beside its target starts (hidden, and ending with the target's own
name, so writers that check a suffix, such as Keras's ``.keras`` and ``.weights.h5``, accept it)."""


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A fresh path beside ``target`` to write to; renamed onto ``target`` when the block ends
    without an exception, removed otherwise.

    Raises:
        OSError: the rename failed (the partial file is removed first).
    """
    tmp = target.with_name(f"{PARTIAL_PREFIX}{secrets.token_hex(6)}-{target.name}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(target: Path, data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to ``target`` whole or not at all (``atomic_path``)."""
    raw = data.encode() if isinstance(data, str) else data
    with atomic_path(target) as tmp:
        tmp.write_bytes(raw)


class DiskCache:
    """JSON values kept on disk by key, with an optional in-memory LRU in front.

    Thread-safe; any number of processes may share the folder.
    """

    def __init__(self, folder: str, version: int, memory: int = 0) -> None:
        """
        Args:
            folder: the subfolder of the cache dir the files live in (``stats``, ``runs``).
            version: bump when the values change meaning: files of other versions are misses.
            memory: how many values to keep in memory too (0: none).
        """
        self.name = folder
        self.version = version
        self._memory: LRUCache[str, Any] | None = LRUCache(memory) if memory else None
        self._lock = threading.Lock()

    def folder(self) -> Path:
        """The folder now (the cache dir is read from the environment on every call)."""
        return cache_dir() / self.name

    def path(self, key: Any) -> Path:
        """The file that holds the value of ``key``."""
        return self.folder() / f"{_digest(self._record_key(key))}.json"

    def get(self, key: Any) -> Any | None:
        """The value kept for ``key``, or None (a miss: absent, unreadable or stale)."""
        record_key = self._record_key(key)
        digest = _digest(record_key)
        if self._memory is not None:
            with self._lock:
                hit = self._memory.get(digest)
            if hit is not None:
                return hit
        try:
            entry = json.loads((self.folder() / f"{digest}.json").read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != record_key or "value" not in entry:
            return None
        self._remember(digest, entry["value"])
        return entry["value"]

    def put(self, key: Any, value: Any) -> bool:
        """Keep ``value`` for ``key``; returns whether it reached the disk."""
        record_key = self._record_key(key)
        digest = _digest(record_key)
        text = json.dumps({"key": record_key, "value": value})
        self._remember(digest, json.loads(text)["value"])  # a copy, as a later read gives
        folder = self.folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(folder / f"{digest}.json", text)
        except OSError:
            return False
        return True

    def forget(self) -> None:
        """Drop the in-memory values (the files stay)."""
        if self._memory is not None:
            with self._lock:
                self._memory.clear()

    def _record_key(self, key: Any) -> Any:
        # Through JSON and back: the key as it will read from the file (tuples become lists).
        parsed: Any = json.loads(json.dumps({"version": self.version, "key": key}))
        return parsed

    def _remember(self, digest: str, value: Any) -> None:
        if self._memory is not None and value is not None:
            with self._lock:
                self._memory[digest] = value


def _digest(record_key: Any) -> str:
    return hashlib.sha256(json.dumps(record_key, sort_keys=True).encode()).hexdigest()[:32]


__all__ = ["PARTIAL_PREFIX", "DiskCache", "atomic_path", "write_atomic"]
