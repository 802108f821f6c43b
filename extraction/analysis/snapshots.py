"""One pass over a run's snapshot files: each snapshot's numbers, computed where it is read.

``Scanner.entry(path, before)`` reads one snapshot file and returns its numbers as plain JSON
data (an *entry*): per weight its statistics (L2, mean, std, range, NaN/Inf counts), its
histogram and its change since the snapshot ``before``; per layer the cheap health checks of the
first pass (``diagnostics.CHEAP_CHECKS``: NaN/Inf and exploding units, and ``scale`` against the
initializer and the model's other kernels). The sandboxed worker runs it for a whole run in one
request (``readers/run_scan.py``), so arrays never cross; in process it runs as it is.

A scanner keeps the last snapshot's arrays (the next one's change needs them) and the last file
its reader parsed as a template: the files after it that are the same layout with other numbers
are read as bytes, not parsed again (``readers/_same_layout.py``).

Entries are untrusted on the way back (from the worker, or from the disk cache):
``parse_entry`` checks every field and raises ``ValueError`` for anything else.

Decided edge cases (each has a test):
- ``change_l2``/``change_max`` are over the positions where both snapshots are finite, chunk by
  chunk (no copy of a large weight); None without a snapshot before, or when the weight's shape
  changed.
- Histograms bin each snapshot's finite values over its own range (``HIST_BINS`` bins), as
  TensorBoard does; all-equal values give one bin; no finite value gives no histogram.
- ``grad_rms``: the mean over a weight's values of the gradient RMS its optimizer's state gives
  at that snapshot (``optimizer.gradient_rms_of``, with the snapshot's own step count), when the
  file keeps the state (checkpoints saved whole, ``WeightRecorder(optimizer=True)``); None
  otherwise.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np

from ..records import Array, LayerWeights, ModelWeights, Weight
from .diagnostics import CHEAP_CHECKS, SEVERITY_ORDER, Check, Finding, Severity, weight_findings
from .optimizer import gradient_rms_of
from .scale import KernelScale, kernel_scale, scale_findings
from .stats import compute_stats

HIST_BINS = 48
PARALLEL_VALUES = 1 << 21
"""Snapshots of at least this many values have their weights measured on two threads."""
_THREADS = max(1, min(2, os.cpu_count() or 1))
ENTRY_VERSION = 4
"""Changes whenever an entry's fields or their meaning change (old cache files are ignored)."""
_CHUNK = 1 << 18
_MAX_NAME = 1000


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
    grad_rms: float | None = None
    """The mean gradient RMS the optimizer's state gives; None without optimizer state."""


MISSING = WeightPoint(None, None, None, None, None, 0, 0, None, ())
"""The point of a snapshot that could not be read."""


@dataclass(frozen=True)
class Entry:
    """One snapshot's numbers, checked."""

    points: dict[str, WeightPoint]
    """Each weight's numbers by ``<layer path>/<weight name>``, in model order."""
    layout: dict[str, tuple[str, str, tuple[int, ...], str]]
    """Each weight's ``(layer path, weight name, shape, role)`` by the same key."""
    findings: dict[str, tuple[Finding, ...]]
    """The first pass's findings by layer path, most severe first."""
    scales: dict[str, float]
    """``log10(std / initializer's std)`` of each kernel-like weight the scale check judged."""
    before: str | None
    """The cache key of the snapshot its changes are measured against (None: none)."""


Preload = Callable[[str], None]
"""Called with a file format's id before its reader first runs (the worker imports what the
reader needs, under a longer time limit)."""


class Scanner:
    """Reads snapshot files one after the other and gives each one's entry."""

    def __init__(
        self, preload: Preload | None = None, sniff: Callable[[Path], str] | None = None
    ) -> None:
        self.preload = preload
        self.sniff = sniff
        """How a file's format is found (``readers.sniff.sniff`` unless given)."""
        self.template: Any = None
        self.model: ModelWeights | None = None
        """The records of the last file parsed (layers, configs) that the template stands for."""
        self.held: tuple[str, dict[str, Array]] | None = None

    def entry(self, path: str, before: str | None) -> dict[str, Any]:
        """The entry of the snapshot at ``path`` (JSON-ready), its changes against ``before``.

        Raises:
            KerascopeError: the file cannot be read.
        """
        old: dict[str, Array] | None = None
        if before is not None:
            if self.held is not None and self.held[0] == before:
                old = self.held[1]
            else:
                try:
                    old = self._read(before)[1]
                except Exception:  # noqa: BLE001  (a bad file before: no changes, not an error)
                    old = None
        model, arrays = self._read(path)
        self.held = (path, arrays)
        return compute_entry(model, arrays, old)

    def _read(self, path: str) -> tuple[ModelWeights, dict[str, Array]]:
        from ..readers import FORMATS, read_file
        from ..readers._same_layout import SameLayout
        from ..readers.sniff import sniff

        file = Path(path)
        if self.template is not None and self.model is not None:
            arrays = self.template.arrays(file)
            if arrays is not None:
                return self.model, arrays
        fmt = (self.sniff or sniff)(file)
        if self.preload is not None and fmt in FORMATS and FORMATS[fmt].preload:
            self.preload(fmt)
        model = read_file(file, fmt)
        arrays = stored_values(model)
        self.model, self.template = model, SameLayout.of(model, file)
        return model, arrays


def compute_entry(
    model: ModelWeights, arrays: Mapping[str, Array], old: Mapping[str, Array] | None
) -> dict[str, Any]:
    """The entry of one snapshot: ``model``'s records with the values ``arrays`` (by export
    key), its changes against ``old`` (the snapshot before; None for none)."""
    points: dict[str, Any] = {}
    layout: dict[str, Any] = {}
    findings: dict[str, list[Finding]] = {}
    scales: list[KernelScale] = []
    pairs = list(model.iter_weights())

    def measure(pair: tuple[LayerWeights, Weight]) -> tuple[Any, list[Finding], Any]:
        layer, weight = pair
        key = model.export_key(layer, weight)
        values = arrays[key]
        stats = compute_stats(values)
        point = _point(values, stats)
        before = old.get(key) if old is not None else None
        if before is not None and before.shape == values.shape:
            point["change_l2"], point["change_max"] = _change(values, before)
        point["grad_rms"] = _grad_rms(weight, key, arrays)
        found = weight_findings(values, weight, layer.kind, CHEAP_CHECKS, stats)
        return point, found, kernel_scale(layer, weight, stats)

    big = sum(w.size for _, w in pairs) >= PARALLEL_VALUES and len(pairs) > 1
    if big and _THREADS > 1:  # numpy lets go of the GIL in these passes
        with ThreadPoolExecutor(_THREADS) as pool:
            results = list(pool.map(measure, pairs))
    else:
        results = [measure(pair) for pair in pairs]
    for (layer, weight), (point, found, scale) in zip(pairs, results, strict=True):
        key = model.export_key(layer, weight)
        points[key] = point
        layout[key] = [layer.path, weight.name, list(weight.shape), weight.role]
        findings.setdefault(layer.path, []).extend(_with_layer(f, layer.path) for f in found)
        if scale is not None:
            scales.append(scale)
    for finding in scale_findings(scales):
        findings.setdefault(finding.layer, []).append(finding)
    return {
        "version": ENTRY_VERSION,
        "weights": points,
        "layout": layout,
        "findings": {
            path: [_finding_json(f) for f in sorted(items, key=_severity)]
            for path, items in findings.items()
        },
        "scales": {f"{s.layer}/{s.weight}": s.log_ratio for s in scales},
    }


STEPS_KEY = "optimizer/iterations"
"""The key of the optimizer's step count among a snapshot's values (``stored_values``)."""


def stored_values(model: ModelWeights) -> dict[str, Array]:
    """Every array a snapshot's numbers need by export key: each weight, its optimizer's slots
    (``<key>/optimizer/<slot>``) and the step count (``STEPS_KEY``), when the file keeps them."""
    out: dict[str, Array] = {}
    for layer, weight in model.iter_weights():
        out[model.export_key(layer, weight)] = weight.array()
        state = weight.optimizer
        for slot in state.slots if state is not None else ():
            part = weight.optimizer_slot(slot.name)
            out[model.export_key(layer, part)] = part.array()
        if state is not None and state.iterations_ref is not None and STEPS_KEY not in out:
            out[STEPS_KEY] = model.store.array(state.iterations_ref)
    return out


def _grad_rms(weight: Weight, key: str, arrays: Mapping[str, Array]) -> float | None:
    state = weight.optimizer
    if state is None:
        return None
    steps = arrays.get(STEPS_KEY)
    t = int(np.asarray(steps).reshape(-1)[0]) if steps is not None and np.size(steps) else None
    rms = gradient_rms_of(
        state,
        lambda slot: arrays[f"{key}/optimizer/{slot}"],
        t if t is not None else state.iterations,
    )
    if rms is None:
        return None
    finite = rms.values[np.isfinite(rms.values)]
    return float(finite.mean()) if finite.size else None


def point(values: Array, before: Array | None = None) -> WeightPoint:
    """One weight's numbers in one snapshot (its change against ``before``, when given)."""
    raw = _point(values, compute_stats(values))
    if before is not None and before.shape == np.shape(values):
        raw["change_l2"], raw["change_max"] = _change(values, before)
    return _weight_point(json_ready(raw))


def json_ready(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` as JSON would give it back (tuples as lists)."""
    out: dict[str, Any] = json.loads(json.dumps(raw))
    return out


def findings_json(findings: list[Finding]) -> list[dict[str, Any]]:
    """Findings as JSON data (``parse_findings`` reads them back)."""
    return [_finding_json(f) for f in findings]


def parse_findings(raw: Any) -> list[Finding]:
    """Findings from ``findings_json``'s data, every field checked.

    Raises:
        ValueError: anything else.
    """
    return [_finding(f, _name(_dict(f).get("layer"))) for f in _list(raw)]


def _with_layer(finding: Finding, layer: str) -> Finding:
    from dataclasses import replace

    return replace(finding, layer=layer)


def _severity(finding: Finding) -> int:
    return SEVERITY_ORDER[finding.severity]


def _finding_json(f: Finding) -> dict[str, Any]:
    return {**asdict(f), "indices": list(f.indices)}


def _point(values: Array, stats: Any) -> dict[str, Any]:
    hist_range = None
    counts: list[int] = []
    if stats.min is not None and stats.max is not None:
        flat = np.asarray(values).reshape(-1)
        if stats.nan_count or stats.inf_count:
            flat = flat[np.isfinite(flat)]
        if flat.dtype.kind != "f" or flat.dtype.itemsize < 4:
            flat = flat.astype(np.float32)
        lo, hi = stats.min, stats.max
        if hi > lo:
            counts, hist_range = histogram(flat, lo, hi), [lo, hi]
        else:
            counts, hist_range = [int(flat.size)], [lo - 0.5, lo + 0.5]
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
        "change_l2": None,
        "change_max": None,
    }


def histogram(flat: Array, lo: float, hi: float) -> list[int]:
    """Counts of ``flat`` in ``HIST_BINS`` equal bins over ``[lo, hi]`` (``lo < hi``, every value
    finite and inside; the last bin holds ``hi``), in cache-sized chunks.

    Each value's bin is ``floor((x - lo) * HIST_BINS / (hi - lo))`` in the values' own float
    type: a value within rounding of an inner edge may land in either neighbour (``np.histogram``
    corrects that with two lookups per value, which tripled the time; a display of 48 bins
    cannot show it). A 4 M-value kernel takes ~10 ms.
    """
    dtype = np.result_type(np.float32, flat.dtype)
    scale, low = dtype.type(HIST_BINS / (float(hi) - float(lo))), dtype.type(lo)
    counts = np.zeros(HIST_BINS + 1, np.int64)
    for start in range(0, flat.size, _CHUNK):
        scaled = flat[start : start + _CHUNK].astype(dtype, copy=False) - low
        scaled *= scale
        counts += np.bincount(scaled.astype(np.intp), minlength=HIST_BINS + 1)[: HIST_BINS + 1]
    counts[HIST_BINS - 1] += counts[HIST_BINS]  # hi itself: in the last bin
    return counts[:HIST_BINS].tolist()  # type: ignore[no-any-return]


def _change(now: Array, old: Array) -> tuple[float, float]:
    """``(||now - old||, max |now - old|)`` over the positions where both are finite, chunk by
    chunk: differences in the weights' own float type (at least float32; consecutive snapshots'
    values are close, so the difference is exact or within half an ulp of it), squares summed
    in float64. No copy of a large weight is made."""
    a = np.asarray(now).reshape(-1)
    b = np.asarray(old).reshape(-1)
    dtype = np.result_type(np.float32, a.dtype, b.dtype)
    total, top = 0.0, 0.0
    for start in range(0, a.size, _CHUNK):
        d = a[start : start + _CHUNK].astype(dtype, copy=False) - b[start : start + _CHUNK]
        square = float(np.einsum("i,i->", d, d, dtype=np.float64))
        if not math.isfinite(square):  # a NaN or Inf on either side: those positions left out
            d = d[np.isfinite(d)]
            square = float(np.einsum("i,i->", d, d, dtype=np.float64))
        if d.size:
            total += square
            top = max(top, -float(d.min()), float(d.max()))
    return math.sqrt(total), top


# Checking entries that come back (from the worker or the disk cache) ---------------------------

_CHECKS = frozenset(get_args(Check))
_SEVERITIES = frozenset(get_args(Severity))


def parse_entry(raw: Any, before: str | None) -> Entry:
    """An entry, every field checked (its cache key ``before`` is the caller's).

    Raises:
        ValueError: anything an entry does not hold.
    """
    if not isinstance(raw, dict) or raw.get("version") != ENTRY_VERSION:
        raise ValueError("not a snapshot entry of this version")
    weights, layout = _dict(raw.get("weights")), _dict(raw.get("layout"))
    if set(weights) != set(layout):
        raise ValueError("an entry whose weights and layout differ")
    points = {_name(k): _weight_point(v) for k, v in weights.items()}
    shapes = {_name(k): _layout(v) for k, v in layout.items()}
    findings = {
        _name(path): tuple(_finding(f, path) for f in _list(items))
        for path, items in _dict(raw.get("findings")).items()
    }
    scales = {_name(k): _number(v) for k, v in _dict(raw.get("scales")).items()}
    return Entry(points, shapes, findings, scales, before)


def _dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("an entry field that is not an object")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("an entry field that is not a list")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or len(value) > _MAX_NAME:
        raise ValueError("an entry name that is not a short string")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


def _optional(value: Any) -> float | None:
    return None if value is None else _number(value)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is not a count")
    return value


def _weight_point(raw: Any) -> WeightPoint:
    raw = _dict(raw)
    hist = tuple(_list(raw.get("hist")))
    if hist and (set(map(type, hist)) != {int} or min(hist) < 0):
        raise ValueError("a histogram of other than counts")
    span = raw.get("hist_range")
    hist_range = None
    if span is not None:
        lo, hi = (_number(v) for v in _list(span)) if len(_list(span)) == 2 else (0.0, -1.0)
        if not lo < hi:
            raise ValueError("a histogram range that is not a range")
        hist_range = (lo, hi)
    if len(hist) > HIST_BINS or (hist_range is None) != (not hist):
        raise ValueError("a histogram that does not match its range")
    return WeightPoint(
        _optional(raw.get("l2")),
        _optional(raw.get("mean")),
        _optional(raw.get("std")),
        _optional(raw.get("min")),
        _optional(raw.get("max")),
        _count(raw.get("nan_count")),
        _count(raw.get("inf_count")),
        hist_range,
        hist,
        _optional(raw.get("change_l2")),
        _optional(raw.get("change_max")),
        _optional(raw.get("grad_rms")),
    )


def _layout(raw: Any) -> tuple[str, str, tuple[int, ...], str]:
    items = _list(raw)
    if len(items) != 4:
        raise ValueError("a layout entry that is not (layer, weight, shape, role)")
    shape = tuple(_count(d) for d in _list(items[2]))
    return _name(items[0]), _name(items[1]), shape, _name(items[3])


def _finding(raw: Any, layer: str) -> Finding:
    raw = _dict(raw)
    check, severity = raw.get("check"), raw.get("severity")
    if check not in _CHECKS or severity not in _SEVERITIES or raw.get("layer") != layer:
        raise ValueError("a finding of an unknown check or severity, or of another layer")
    message = raw.get("message")
    if not isinstance(message, str) or len(message) > 10 * _MAX_NAME:
        raise ValueError("a finding without a message")
    return Finding(
        check,
        severity,
        _name(raw.get("weight")),
        message,
        tuple(_count(i) for i in _list(raw.get("indices"))),
        _name(raw.get("unit")),
        layer,
    )


__all__ = [
    "ENTRY_VERSION",
    "HIST_BINS",
    "MISSING",
    "Entry",
    "Scanner",
    "WeightPoint",
    "compute_entry",
    "findings_json",
    "parse_entry",
    "parse_findings",
    "point",
]
