"""Statistics of big files computed once and kept in the cache folder, so reopening is instant.

The cache folder is ``$KERASCOPE_CACHE_DIR`` (else ``$XDG_CACHE_HOME/kerascope``, as for the
demos); statistics live under ``stats/`` in one small JSON file per model, named by a hash of the
model's key: its resolved path, size and modification time (for a folder, those of every file
directly in it). A file that changes gets a new key, so stale statistics are never shown.

Decided edge cases:
- Only sources of at least ``PERSIST_MIN_BYTES`` are kept: smaller ones compute in well under a
  second, and uploads, demos and live models have no stable path.
- A cache file that cannot be read, does not match the key, or gives a weight a size other than
  its shape's is ignored (statistics are computed again); files are kept by ``disk.DiskCache``
  (written whole or not at all), and a failed write is silent: the cache is an optimisation.
- Partial statistics may be saved (the app saves as it goes) and are loaded as partial.
- WeightWatcher's spectral metrics of each weight (``analysis.spectrum``), the costly part on big
  layers, are kept beside its statistics once computed; a damaged or older entry is ignored and
  computed again when asked for.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from ..disk import DiskCache
from ..records import ModelWeights
from .spectrum import MEMO_KEY, SpectralStats
from .stats import Stats

PERSIST_MIN_BYTES = 256 * 1024**2
"""Sources smaller than this are not worth a cache file."""
VERSION = 1
"""Bump when ``Stats`` changes meaning, so older files are ignored."""
SPECTRAL_VERSION = 1
"""Bump when the spectral metrics change meaning: older ones are then computed again (the plain
statistics beside them are still used)."""
_FIELDS = tuple(f.name for f in fields(Stats))
_CACHE = DiskCache("stats", VERSION)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file())
    return [path]


def source_key(path: Path) -> dict[str, Any] | None:
    """What identifies the bytes at ``path``: resolved path, and every file's size and mtime;
    None when the path is gone or smaller than ``PERSIST_MIN_BYTES``."""
    try:
        files = _files(path)
        stamps = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    except OSError:
        return None
    if sum(size for _, size, _ in stamps) < PERSIST_MIN_BYTES:
        return None
    return {"path": str(path.resolve()), "files": stamps}


def cache_file(key: dict[str, Any]) -> Path:
    """Where the statistics of the source with ``key`` are kept."""
    return _CACHE.path(key)


def load_stats(model: ModelWeights, path: Path) -> int:
    """Give the weights of ``model`` (read from ``path``) their kept statistics; returns how
    many weights got them."""
    key = source_key(path)
    if key is None:
        return 0
    data = _CACHE.get(key)
    if not isinstance(data, dict):
        return 0
    kept = data.get("stats")
    if not isinstance(kept, dict):
        return 0
    spectral = data.get("spectral") if data.get("spectral_version") == SPECTRAL_VERSION else None
    spectral = spectral if isinstance(spectral, dict) else {}
    loaded = 0
    for layer, weight in model.iter_weights():
        name = model.export_key(layer, weight)
        stats = _stats(kept.get(name))
        if stats is not None and stats.size == weight.size and not weight.has_stats:
            weight.store.keep_stats(weight.ref, stats)
            loaded += 1
        metrics = SpectralStats.from_dict(spectral.get(name))
        if metrics is not None and weight.has_stats:
            weight.keep_computed(MEMO_KEY, metrics)
    return loaded


def save_stats(model: ModelWeights, path: Path) -> bool:
    """Keep the statistics computed so far for ``model`` (read from ``path``); returns whether
    a file was written."""
    key = source_key(path)
    if key is None:
        return False
    stats = {
        model.export_key(layer, weight): weight.stats().as_dict()
        for layer, weight in model.iter_weights()
        if weight.has_stats
    }
    if not stats:
        return False
    spectral = {
        model.export_key(layer, weight): kept.as_dict()
        for layer, weight in model.iter_weights()
        if isinstance(kept := weight.peek_computed(MEMO_KEY), SpectralStats)
    }
    content = {"stats": stats, "spectral_version": SPECTRAL_VERSION, "spectral": spectral}
    return _CACHE.put(key, content)


def _stats(entry: Any) -> Stats | None:
    if not isinstance(entry, dict) or set(entry) != set(_FIELDS):
        return None
    if not isinstance(entry["size"], int) or not all(
        v is None or isinstance(v, (int, float)) for v in entry.values()
    ):
        return None
    return Stats(**entry)
