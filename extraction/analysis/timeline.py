"""A run's weights over time: per snapshot, each weight's L2, mean, std, range, NaN/Inf counts,
histogram, and how far it moved since the snapshot before.

Each snapshot's numbers are computed once, in one pass over its arrays, and kept in memory and
on disk (``$KERASCOPE_CACHE_DIR/runs``, one small JSON file per snapshot file keyed by its
path, size and modification time), so coming back to a run, or following one that grows, reads
only the new files.

Decided edge cases (each has a test):
- ``update_ratio[t] = ||W_t - W_(t-1)|| / ||W_(t-1)||``, norms over the positions where both
  values are finite; ``None`` for the first snapshot and wherever ``||W_(t-1)||`` is 0 or has no
  finite value (a bias initialised to zeros has no ratio for its first step).
- L2, mean and std describe the finite values (as ``compute_stats``); ``None`` when none is.
- Histograms bin each snapshot's finite values over that snapshot's own range
  (``HIST_BINS`` bins), as TensorBoard does; all-equal values give one bin.
- Each layer's health findings (``diagnostics.layer_findings``) are computed in the same pass
  and kept with the numbers, so the health of any snapshot shows at once while scrubbing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ..records import ModelWeights
from ..runs import Run, Snapshot
from .diagnostics import Finding, layer_findings
from .stats import compute_stats

HIST_BINS = 48
_CHUNK = 1 << 18
CACHE_VERSION = 2
Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while snapshots are read."""


@dataclass(frozen=True)
class WeightPoint:
    """One weight's numbers in one snapshot."""

    l2: float | None
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    nan_count: int
    inf_count: int
    hist_range: tuple[float, float] | None
    """The histogram's first and last bin edges; None without finite values."""
    hist: tuple[int, ...]
    """Counts in ``HIST_BINS`` equal bins over ``hist_range`` (one bin when all are equal)."""
    change_l2: float | None = None
    """``||W_t - W_(t-1)||``; None for the first snapshot."""
    change_max: float | None = None
    """``max |W_t - W_(t-1)|`` over finite differences; None for the first snapshot."""


@dataclass(frozen=True)
class WeightTimeline:
    """One weight across the run, a value per snapshot."""

    layer: str
    weight: str
    shape: tuple[int, ...]
    points: tuple[WeightPoint, ...]

    @property
    def key(self) -> str:
        """``<layer path>/<weight name>``."""
        return f"{self.layer}/{self.weight}"

    def series(self, name: str) -> list[float | None]:
        """``l2``, ``mean``, ``std``, ``min``, ``max``, ``change_l2`` ... per snapshot."""
        if name == "update_ratio":
            return self.update_ratio()
        return [getattr(p, name) for p in self.points]

    def update_ratio(self) -> list[float | None]:
        """``||W_t - W_(t-1)|| / ||W_(t-1)||`` per snapshot (None first and where undefined)."""
        out: list[float | None] = [None]
        for before, now in zip(self.points, self.points[1:], strict=False):
            ok = before.l2 is not None and before.l2 > 0 and now.change_l2 is not None
            out.append(now.change_l2 / before.l2 if ok else None)  # type: ignore[operator]
        return out

    def limit(self) -> float:
        """The largest finite ``|w|`` of any snapshot: one colour scale for the run (1.0 if 0)."""
        values = [abs(v) for p in self.points for v in (p.min, p.max) if v is not None]
        return max(values, default=0.0) or 1.0

    def change_limit(self) -> float:
        """The largest ``|W_t - W_(t-1)|`` of the run (1.0 if it never moved)."""
        return max((p.change_max or 0.0 for p in self.points), default=0.0) or 1.0


@dataclass(frozen=True)
class Timeline:
    """Every weight of a run over its snapshots."""

    snapshots: tuple[Snapshot, ...]
    weights: dict[str, WeightTimeline]
    """By ``<layer path>/<weight name>``, in model order."""
    findings: tuple[dict[str, tuple[Finding, ...]], ...] = ()
    """Per snapshot, each weighted layer's health findings by layer path."""

    def findings_at(self, index: int, layer: str) -> list[Finding]:
        """The health findings of ``layer`` at snapshot ``index``, most severe first."""
        return list(self.findings[index].get(layer, ())) if self.findings else []

    def as_json(self) -> dict[str, Any]:
        """The ``timeline --json`` object of DESIGN.md."""
        return {
            "snapshots": [s.as_json() for s in self.snapshots],
            "weights": {
                key: {
                    "l2": w.series("l2"),
                    "mean": w.series("mean"),
                    "std": w.series("std"),
                    "update_ratio": w.update_ratio(),
                }
                for key, w in self.weights.items()
            },
        }

    def first_bad(self) -> tuple[int, str] | None:
        """The first snapshot index where some weight holds NaN or Inf, and that weight's key."""
        for i in range(len(self.snapshots)):
            for key, w in self.weights.items():
                if w.points[i].nan_count or w.points[i].inf_count:
                    return i, key
        return None


def timeline(run: Run, progress: Progress | None = None) -> Timeline:
    """The numbers of every weight of ``run`` at every snapshot (cached per snapshot file).

    Raises:
        KerascopeError: a snapshot file can no longer be read.
    """
    columns: list[dict[str, WeightPoint]] = []
    findings: list[dict[str, tuple[Finding, ...]]] = []
    shapes: dict[str, tuple[str, str, tuple[int, ...]]] = {}
    before: Snapshot | None = None
    held: dict[str, ModelWeights] = {}  # the last snapshot read, whose arrays the next reuses
    for i, snap in enumerate(run.snapshots):
        points, layout, found = _snapshot_points(snap, before, held)
        findings.append(found)
        shapes.update({k: v for k, v in layout.items() if k not in shapes})
        columns.append(points)
        before = snap
        if progress is not None:
            progress(i + 1, len(run.snapshots))
    weights = {
        key: WeightTimeline(layer, name, shape, tuple(col[key] for col in columns))
        for key, (layer, name, shape) in shapes.items()
        if all(key in col for col in columns)
    }
    return Timeline(run.snapshots, weights, tuple(findings))


# Per-snapshot numbers, cached -----------------------------------------------------------------

_memory: OrderedDict[str, dict[str, Any]] = OrderedDict()
_memory_lock = threading.Lock()
_MEMORY_ENTRIES = 2048


def _file_key(path: str) -> str:
    st = os.stat(path)
    raw = f"{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}\0{CACHE_VERSION}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def cache_folder() -> Path:
    """Where snapshot numbers are kept on disk: ``<kerascope cache>/runs``."""
    from ..models.demos import cache_dir

    return cache_dir() / "runs"


def _load(key: str) -> dict[str, Any] | None:
    with _memory_lock:
        if key in _memory:
            _memory.move_to_end(key)
            return _memory[key]
    try:
        entry = json.loads((cache_folder() / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("version") != CACHE_VERSION:
        return None
    _remember(key, entry)
    return entry


def _remember(key: str, entry: dict[str, Any]) -> None:
    with _memory_lock:
        _memory[key] = entry
        while len(_memory) > _MEMORY_ENTRIES:
            _memory.popitem(last=False)


def _store(key: str, entry: dict[str, Any]) -> None:
    _remember(key, entry)
    folder = cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.{threading.get_ident()}.partial"
        tmp.write_text(json.dumps(entry))
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        pass  # a read-only cache only costs speed


def _snapshot_points(
    snap: Snapshot, before: Snapshot | None, held: dict[str, ModelWeights]
) -> tuple[
    dict[str, WeightPoint],
    dict[str, tuple[str, str, tuple[int, ...]]],
    dict[str, tuple[Finding, ...]],
]:
    key = _file_key(snap.source)
    before_key = _file_key(before.source) if before is not None else None
    entry = _load(key)
    if entry is None or entry.get("before") != before_key:
        previous = None
        if before is not None:
            previous = held.get(before.source) or before.open()
        model = snap.open()
        entry = _compute(model, previous, before_key)
        _store(key, entry)
        held.clear()
        held[snap.source] = model
    else:
        held.clear()
    points = {k: WeightPoint(**_point_args(v)) for k, v in entry["weights"].items()}
    layout = {k: (v[0], v[1], tuple(v[2])) for k, v in entry["layout"].items()}
    found = {
        path: tuple(Finding(**{**f, "indices": tuple(f["indices"])}) for f in items)
        for path, items in entry["findings"].items()
    }
    return points, layout, found


def _point_args(raw: dict[str, Any]) -> dict[str, Any]:
    args = dict(raw)
    args["hist"] = tuple(args["hist"])
    args["hist_range"] = tuple(args["hist_range"]) if args["hist_range"] is not None else None
    return args


def _compute(
    model: ModelWeights, previous: ModelWeights | None, before_key: str | None
) -> dict[str, Any]:
    """The numbers of one snapshot's weights, and their change since ``previous``."""
    old: dict[str, Any] = {}
    if previous is not None:
        old = {previous.export_key(la, w): w for la, w in previous.iter_weights()}
    weights: dict[str, Any] = {}
    layout: dict[str, Any] = {}
    for layer, weight in model.iter_weights():
        k = model.export_key(layer, weight)
        values = weight.array()
        point = _point(values)
        if k in old and old[k].shape == weight.shape:
            point["change_l2"], point["change_max"] = _change(values, old[k].array())
        weights[k] = point
        layout[k] = [layer.path, weight.name, list(weight.shape)]
    findings = {
        layer.path: [{**asdict(f), "indices": list(f.indices)} for f in layer_findings(layer)]
        for layer in model.weighted_layers()
    }
    return {
        "version": CACHE_VERSION,
        "before": before_key,
        "weights": weights,
        "layout": layout,
        "findings": findings,
    }


def _point(values: np.ndarray[Any, Any]) -> dict[str, Any]:
    stats = compute_stats(values)
    hist_range = None
    counts: list[int] = []
    if stats.min is not None and stats.max is not None:
        flat = np.asarray(values).reshape(-1)
        if stats.nan_count or stats.inf_count:
            flat = flat[np.isfinite(flat)]
        if flat.dtype.kind != "f" or flat.dtype.itemsize < 4:
            flat = flat.astype(np.float32)
        lo, hi = stats.min, stats.max
        bins = HIST_BINS if hi > lo else 1
        counts = np.histogram(flat, bins=bins, range=(lo, hi) if hi > lo else None)[0].tolist()
        hist_range = (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)
    return {
        "l2": stats.l2,
        "mean": stats.mean,
        "std": stats.std,
        "min": stats.min,
        "max": stats.max,
        "nan_count": stats.nan_count,
        "inf_count": stats.inf_count,
        "hist_range": hist_range,
        "hist": counts,
    }


def _change(now: np.ndarray[Any, Any], old: np.ndarray[Any, Any]) -> tuple[float, float]:
    """``(||now - old||, max |now - old|)`` over the positions where both are finite.

    Chunk by chunk in float64 (exact differences; each chunk's sum of squares is added up in a
    Python float), so a large weight needs no float64 copy of itself.
    """
    a = np.asarray(now).reshape(-1)
    b = np.asarray(old).reshape(-1)
    total, top = 0.0, 0.0
    for start in range(0, a.size, _CHUNK):
        d = a[start : start + _CHUNK].astype(np.float64) - b[start : start + _CHUNK]
        if not np.isfinite(d).all():
            d = d[np.isfinite(d)]
        if d.size:
            total += float(np.dot(d, d))
            top = max(top, float(np.abs(d).max()))
    return math.sqrt(total), top


def print_timeline(source: str, *, as_json: bool, out: TextIO) -> None:
    """``python -m extraction timeline RUN [--json]``: JSON, or one line per weight for people.

    Raises:
        KerascopeError: not a run, or a snapshot that cannot be read.
    """
    from ..runs import open_run

    line = timeline(open_run(source))
    if as_json:
        json.dump(line.as_json(), out, indent=2)
        out.write("\n")
        return
    steps = ", ".join(s.label for s in line.snapshots)
    out.write(f"{len(line.snapshots)} snapshots: {steps}\n")
    rows = [("weight", "l2 first -> last", "std first -> last", "median update ratio")]
    for key, w in line.weights.items():
        ratios = sorted(r for r in w.update_ratio() if r is not None)
        median = f"{ratios[len(ratios) // 2]:.3g}" if ratios else "-"
        rows.append((key, _span(w.series("l2")), _span(w.series("std")), median))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        out.write("  ".join(c.ljust(widths[j]) for j, c in enumerate(row)).rstrip() + "\n")


def _span(values: list[float | None]) -> str:
    def text(v: float | None) -> str:
        return "-" if v is None else f"{v:.4g}"

    return f"{text(values[0])} -> {text(values[-1])}"


__all__ = ["HIST_BINS", "Timeline", "WeightPoint", "WeightTimeline", "print_timeline", "timeline"]
