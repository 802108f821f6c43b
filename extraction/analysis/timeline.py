"""A run's weights over time: per snapshot, each weight's L2, mean, std, range, NaN/Inf counts,
histogram, how far it moved since the snapshot before, the first pass's health findings, and
the run's events: the first thing that went wrong and the first NaN.

One pass reads every snapshot once (``analysis.snapshots``): through the sandboxed worker, one
request for the whole run (``readers/run_scan.py``), or in process for trusted files. Each
snapshot's numbers are kept in memory and on disk (``$KERASCOPE_CACHE_DIR/runs``, one small JSON
file per snapshot file keyed by its path, size and modification time: a ``disk.DiskCache``), so
coming back to a run, or following one that grows, reads only the new files.

For a page that must not wait: ``fill_timeline(run)`` yields a ``Fill`` (done, total) as each
snapshot is read, and ``Fill.timeline()`` is the timeline of the snapshots read so far (a prefix
of the run); ``timeline(run, progress)`` is the same pass run to its end.

Health in the first pass is the cheap checks (``diagnostics.CHEAP_CHECKS`` and ``scale``) plus
the run's own history (``HISTORY_FACTOR``); ``snapshot_health(run, i)`` is the full health scan
of one snapshot (every check of ``health.model_findings``), computed when asked for and kept on
disk beside the numbers.

Decided edge cases (each has a test):
- ``update_ratio[t] = ||W_t - W_(t-1)|| / ||W_(t-1)||``, norms over the positions where both
  values are finite; ``None`` for the first snapshot and wherever ``||W_(t-1)||`` is 0 or has no
  finite value (a bias initialised to zeros has no ratio for its first step).
- L2, mean and std describe the finite values (as ``compute_stats``); ``None`` when none is.
- A snapshot that cannot be read (damaged, still being written) is in the timeline with empty
  points (``snapshots.MISSING``), no findings, and a note in ``Timeline.unreadable``; the next
  snapshot's change is then against nothing (None). It is read again next time.
- Snapshots of another architecture than the first one read end the pass with
  ``UnsupportedFormat`` naming both files (the folder is no run).
- ``scale`` against history: a kernel-like weight whose std is ``HISTORY_FACTOR`` (10x) larger
  or smaller than at the snapshot before it read is an ``error`` at that snapshot.
- ``events.first_anomaly``: the earliest snapshot with an error finding or an exploding unit,
  and among that snapshot's weights the one that moved most (the largest update ratio; at the
  first snapshot, where no ratio exists, the largest scale factor against the initializer;
  else the first flagged weight). Its ``check`` and ``message`` are that weight's own finding's,
  or, when it has none, the snapshot's most severe finding's, saying which weight moved most.
- ``events.first_nan``: the first snapshot where any weight holds NaN or Inf, and exactly the
  weights that do, with their NaN + Inf counts, in model order.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..disk import DiskCache
from ..errors import KerascopeError, UnsupportedFormat
from ..runs import Run, Snapshot, different_models
from .diagnostics import SEVERITY_ORDER, Finding
from .scale import MIN_SCALE_VALUES, SCALED_ROLES
from .snapshots import (
    ENTRY_VERSION,
    HIST_BINS,
    MISSING,
    Entry,
    Scanner,
    WeightPoint,
    parse_entry,
)

HISTORY_FACTOR = 10.0
"""A kernel's std this many times larger (or smaller) than at the snapshot before: an error."""
ANOMALY_CHECKS = frozenset({"exploding_norm"})
"""Checks whose findings count as anomalies whatever their severity (errors always do)."""
Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while snapshots are read."""


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

    def bad_counts(self) -> list[int]:
        """NaN + Inf values per snapshot (0 where none, and where a snapshot was not read)."""
        return [p.nan_count + p.inf_count for p in self.points]

    def limit(self) -> float:
        """The largest finite ``|w|`` of any snapshot: one colour scale for the run (1.0 if 0)."""
        values = [abs(v) for p in self.points for v in (p.min, p.max) if v is not None]
        return max(values, default=0.0) or 1.0

    def change_limit(self) -> float:
        """The largest ``|W_t - W_(t-1)|`` of the run (1.0 if it never moved)."""
        return max((p.change_max or 0.0 for p in self.points), default=0.0) or 1.0


@dataclass(frozen=True)
class FirstAnomaly:
    """The earliest snapshot where something went wrong, and the weight that moved most then."""

    index: int
    """Its index in the run's snapshots."""
    step: int
    label: str
    layer: str
    weight: str
    check: str
    """The finding's check (``scale``, ``nan_inf``, ``exploding_norm`` ...)."""
    message: str
    update_ratio: float | None
    """The weight's update ratio at that snapshot (None at the first snapshot)."""

    def as_json(self) -> dict[str, Any]:
        """``{"step", "label", "layer", "weight", "check", "message"}`` (DESIGN.md)."""
        keys = ("step", "label", "layer", "weight", "check", "message")
        return {k: getattr(self, k) for k in keys}


@dataclass(frozen=True)
class NanWeight:
    """A weight holding NaN or Inf."""

    layer: str
    weight: str
    count: int
    """Its NaN + Inf values."""


@dataclass(frozen=True)
class FirstNan:
    """The first snapshot with NaN or Inf in any weight, and exactly the weights holding them."""

    index: int
    step: int
    label: str
    weights: tuple[NanWeight, ...]
    """In model order."""

    def as_json(self) -> dict[str, Any]:
        """``{"step", "label", "weights": [{"layer", "weight", "count"}]}`` (DESIGN.md)."""
        return {
            "step": self.step,
            "label": self.label,
            "weights": [
                {"layer": w.layer, "weight": w.weight, "count": w.count} for w in self.weights
            ],
        }


@dataclass(frozen=True)
class RunEvents:
    """What went wrong first in a run (for the Run tab's headline and ``timeline --json``)."""

    first_anomaly: FirstAnomaly | None
    first_nan: FirstNan | None

    def as_json(self) -> dict[str, Any]:
        return {
            "first_anomaly": self.first_anomaly.as_json() if self.first_anomaly else None,
            "first_nan": self.first_nan.as_json() if self.first_nan else None,
        }


@dataclass(frozen=True)
class Timeline:
    """Every weight of a run over its snapshots."""

    snapshots: tuple[Snapshot, ...]
    """The run's snapshots this timeline covers (all of them, or the first ones while it fills)."""
    weights: dict[str, WeightTimeline]
    """By ``<layer path>/<weight name>``, in model order."""
    findings: tuple[dict[str, tuple[Finding, ...]], ...] = ()
    """Per snapshot, each weighted layer's first-pass findings by layer path, most severe first
    (NaN/Inf, exploding units, scale against the initializer and against the run's history)."""
    events: RunEvents = field(default_factory=lambda: RunEvents(None, None))
    """The first anomaly and the first NaN."""
    unreadable: dict[int, str] = field(default_factory=dict)
    """Snapshots that could not be read, by index, with the reason."""
    total: int = 0
    """Snapshots in the run (``len(snapshots)`` once complete)."""

    @property
    def complete(self) -> bool:
        """Whether every snapshot of the run has been read."""
        return len(self.snapshots) >= self.total

    @property
    def notes(self) -> tuple[str, ...]:
        """One line per snapshot that could not be read."""
        return tuple(
            f"{self.snapshots[i].label} could not be read ({why})"
            for i, why in sorted(self.unreadable.items())
        )

    def findings_at(self, index: int, layer: str) -> list[Finding]:
        """The first-pass findings of ``layer`` at snapshot ``index``, most severe first."""
        return list(self.findings[index].get(layer, ())) if index < len(self.findings) else []

    @property
    def has_gradients(self) -> bool:
        """Whether some snapshot keeps optimizer state that gives a gradient RMS."""
        return any(p.grad_rms is not None for w in self.weights.values() for p in w.points)

    def as_json(self) -> dict[str, Any]:
        """The ``timeline --json`` object of DESIGN.md (its contract: the gradient RMS is in
        the records, ``series("grad_rms")``, not in this object)."""
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
            "events": self.events.as_json(),
        }

    def first_bad(self) -> tuple[int, str] | None:
        """The first snapshot index where some weight holds NaN or Inf, and that weight's key
        (the first in model order; ``events.first_nan`` lists them all)."""
        nan = self.events.first_nan
        if nan is None or not nan.weights:
            return None
        return nan.index, f"{nan.weights[0].layer}/{nan.weights[0].weight}"


@dataclass(frozen=True)
class Fill:
    """How far the pass over a run has come."""

    done: int
    """Snapshots read (or found in the cache) so far."""
    total: int
    """Snapshots in the run."""
    _build: Callable[[], Timeline] = field(repr=False)

    def timeline(self) -> Timeline:
        """The timeline of the snapshots read so far: the run's first snapshots up to the first
        not yet read (all of them once ``done == total``)."""
        return self._build()


def timeline(run: Run, progress: Progress | None = None, *, isolate: bool = True) -> Timeline:
    """The numbers of every weight of ``run`` at every snapshot (cached per snapshot file).

    Args:
        run: the run.
        progress: called as ``progress(done, total)`` while snapshots are read.
        isolate: read the files in the sandboxed worker (``False``: in process, for trusted
            files only).

    Raises:
        UnsupportedFormat: snapshots of different models.
        ReaderCrashed: the worker could not be started.
    """
    last: Fill | None = None
    for last in fill_timeline(run, isolate=isolate):
        if progress is not None:
            progress(last.done, last.total)
    assert last is not None
    return last.timeline()


def fill_timeline(run: Run, *, isolate: bool = True) -> Iterator[Fill]:
    """The pass over ``run``, step by step: a ``Fill`` once the cached snapshots are loaded,
    then one as each other snapshot is read (see the module docstring).

    For a page: iterate it in a background thread and keep the latest ``Fill``; the page's own
    script calls ``latest.timeline()`` to draw what is there. Each snapshot is cached as it is
    read, so an iteration stopped early (the generator closed by the thread that runs it, or
    dropped: its worker ends) loses nothing.

    Raises:
        UnsupportedFormat: snapshots of different models (when the second model is read).
        ReaderCrashed: the worker could not be started.
    """
    snaps = run.snapshots
    total = len(snaps)
    keys = [_file_key(s.source) for s in snaps]
    entries: list[Entry | None] = [None] * total
    errors: dict[int, str] = {}
    for i, key in enumerate(keys):
        before = keys[i - 1] if i else None
        if key is not None:
            entries[i] = _load(key, before)

    def build(count: int) -> Callable[[], Timeline]:
        return lambda: _assemble(run, entries[:count], errors, total)

    def prefix(start: int) -> int:
        while start < total and (entries[start] is not None or start in errors):
            start += 1
        return start

    missing = [i for i, e in enumerate(entries) if e is None]
    done = total - len(missing)
    ready = prefix(0)
    yield Fill(done, total, build(ready))
    signature: tuple[str, frozenset[Any]] | None = _signature_of(snaps, entries)
    for i, result in _read(snaps, missing, isolate):
        before = keys[i - 1] if i else None
        if isinstance(result, KerascopeError):
            errors[i] = str(result)
        else:
            try:
                entry = parse_entry(result, before)
            except ValueError as exc:
                errors[i] = f"the reader sent numbers that do not check out ({exc})"
            else:
                sig = frozenset((v[0], v[1], v[2]) for v in entry.layout.values())
                if signature is None:
                    signature = (snaps[i].source, sig)
                elif sig != signature[1]:
                    raise UnsupportedFormat(
                        different_models(run.path, signature[0], signature[1], snaps[i].source, sig)
                    )
                entries[i] = entry
                if keys[i] is not None:
                    _store(keys[i], before, result)  # type: ignore[arg-type]
        done += 1
        ready = prefix(ready)
        yield Fill(done, total, build(ready))


def _signature_of(
    snaps: tuple[Snapshot, ...], entries: list[Entry | None]
) -> tuple[str, frozenset[Any]] | None:
    for snap, entry in zip(snaps, entries, strict=True):
        if entry is not None:
            return snap.source, frozenset((v[0], v[1], v[2]) for v in entry.layout.values())
    return None


def _read(
    snaps: tuple[Snapshot, ...], missing: list[int], isolate: bool
) -> Iterator[tuple[int, Any]]:
    """``(index, raw entry | KerascopeError)`` for each snapshot in ``missing``, in order."""
    items = [(snaps[i].source, snaps[i - 1].source if i else None) for i in missing]
    if isolate:
        from ..readers.run_scan import scan_isolated

        for k, found in scan_isolated(items):
            yield missing[k], found
        return
    scanner = Scanner()
    for k, (path, before) in enumerate(items):
        try:
            result: Any = scanner.entry(path, before)
        except KerascopeError as exc:
            result = exc
        yield missing[k], result


# Assembling the timeline ----------------------------------------------------------------------


def _assemble(
    run: Run, entries: list[Entry | None], errors: dict[int, str], total: int
) -> Timeline:
    """The timeline of the run's first ``len(entries)`` snapshots (each read, or unreadable)."""
    count = len(entries)
    snaps = run.snapshots[:count]
    known = [e for e in entries[:count] if e is not None]
    layout: dict[str, tuple[str, str, tuple[int, ...], str]] = {}
    for e in known:
        for k, v in e.layout.items():
            layout.setdefault(k, v)
    weights = {
        key: WeightTimeline(
            layer,
            name,
            shape,
            tuple(
                e.points.get(key, MISSING) if e is not None else MISSING for e in entries[:count]
            ),
        )
        for key, (layer, name, shape, _) in layout.items()
        if all(e is None or key in e.points for e in entries[:count])
    }
    findings = [dict(e.findings) if e is not None else {} for e in entries[:count]]
    _add_history(findings, weights, layout, snaps)
    events = RunEvents(
        _first_anomaly(findings, weights, entries[:count], snaps),
        _first_nan(weights, snaps),
    )
    return Timeline(
        snaps,
        weights,
        tuple(findings),
        events,
        {i: why for i, why in errors.items() if i < count},
        total,
    )


def _add_history(
    findings: list[dict[str, tuple[Finding, ...]]],
    weights: dict[str, WeightTimeline],
    layout: dict[str, tuple[str, str, tuple[int, ...], str]],
    snaps: tuple[Snapshot, ...],
) -> None:
    """``scale`` errors where a kernel's std jumped ``HISTORY_FACTOR`` against the snapshot
    before it that was read (added to ``findings`` in place)."""
    for key, line in weights.items():
        layer, name, shape, role = layout[key]
        if role not in SCALED_ROLES or math.prod(shape) < MIN_SCALE_VALUES:
            continue
        last: tuple[int, float] | None = None
        for t, point in enumerate(line.points):
            std = point.std
            if std is None or std <= 0 or point.nan_count or point.inf_count:
                continue
            if last is not None:
                ratio = std / last[1]
                if ratio >= HISTORY_FACTOR or ratio <= 1 / HISTORY_FACTOR:
                    way = "grew" if ratio > 1 else "shrank"
                    times = ratio if ratio > 1 else 1 / ratio
                    finding = Finding(
                        "scale",
                        "error",
                        name,
                        f"std {way} {times:.3g}x in one step, from {last[1]:.3g} at "
                        f"{snaps[last[0]].label} to {std:.3g}: the weights were blown up (a "
                        "too-high learning rate, a bad edit) or collapsed, not trained.",
                        (),
                        "position",
                        layer,
                    )
                    found = (*findings[t].get(layer, ()), finding)
                    findings[t][layer] = tuple(
                        sorted(found, key=lambda f: SEVERITY_ORDER[f.severity])
                    )
            last = (t, std)


def _is_anomaly(finding: Finding) -> bool:
    return finding.severity == "error" or finding.check in ANOMALY_CHECKS


def _first_anomaly(
    findings: list[dict[str, tuple[Finding, ...]]],
    weights: dict[str, WeightTimeline],
    entries: list[Entry | None],
    snaps: tuple[Snapshot, ...],
) -> FirstAnomaly | None:
    for t, by_layer in enumerate(findings):
        flagged = [f for items in by_layer.values() for f in items if _is_anomaly(f)]
        if not flagged:
            continue
        flagged.sort(key=lambda f: SEVERITY_ORDER[f.severity])  # stable: model order within
        ratios = {
            key: r
            for key, line in weights.items()
            if (r := line.update_ratio()[t]) is not None and math.isfinite(r)
        }
        entry = entries[t]
        own = {f"{f.layer}/{f.weight}": f for f in reversed(flagged)}
        if ratios:
            key = max(ratios, key=ratios.__getitem__)
        elif entry is not None and any(k in own for k in entry.scales):
            key = max((k for k in entry.scales if k in own), key=lambda k: abs(entry.scales[k]))
        else:
            first = flagged[0]
            key = f"{first.layer}/{first.weight}" if first.weight else first.layer
        line = weights.get(key)
        layer, weight = (line.layer, line.weight) if line else (flagged[0].layer, flagged[0].weight)
        finding = own.get(key)
        if finding is not None:
            check, message = finding.check, finding.message
        else:
            top = flagged[0]
            check = top.check
            moved = f" (update ratio {ratios[key]:.3g})" if key in ratios else ""
            message = (
                f"{top.layer}/{top.weight}: {top.message} {layer}/{weight} moved most at "
                f"{snaps[t].label}{moved}."
            )
        return FirstAnomaly(
            t, snaps[t].step, snaps[t].label, layer, weight, check, message, ratios.get(key)
        )
    return None


def _first_nan(weights: dict[str, WeightTimeline], snaps: tuple[Snapshot, ...]) -> FirstNan | None:
    counts = {key: line.bad_counts() for key, line in weights.items()}
    for t, snap in enumerate(snaps):
        bad = [
            NanWeight(weights[key].layer, weights[key].weight, c[t])
            for key, c in counts.items()
            if c[t]
        ]
        if bad:
            return FirstNan(t, snap.step, snap.label, tuple(bad))
    return None


# Per-snapshot numbers, cached -----------------------------------------------------------------

_ENTRIES = DiskCache("runs", ENTRY_VERSION, memory=8192)
"""Each snapshot file's entry and the key of the snapshot it was measured against, on disk
under ``<kerascope cache>/runs`` and the last 8192 in memory (a few kB each)."""
_HEALTH = DiskCache("runs/health", ENTRY_VERSION)
"""Each snapshot file's full health findings (``snapshot_health``)."""


def _file_key(path: str) -> str | None:
    """The cache key of a snapshot file: its path, size and time; None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    raw = f"{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}\0{ENTRY_VERSION}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _load(key: str, before: str | None) -> Entry | None:
    """The cached entry of ``key`` measured against ``before``; None when there is none."""
    raw = _ENTRIES.get(key)
    if not isinstance(raw, dict) or raw.get("before") != before:
        return None
    try:
        return parse_entry(raw.get("entry"), before)
    except ValueError:
        return None


def _store(key: str, before: str | None, entry: dict[str, Any]) -> None:
    _ENTRIES.put(key, {"before": before, "entry": entry})  # a read-only cache only costs speed


# Full health of one snapshot, on demand ------------------------------------------------------


def snapshot_health(run: Run, index: int) -> list[Finding]:
    """Every finding of ``health.model_findings`` for snapshot ``index``, most severe first,
    computed once per snapshot file and kept on disk.

    Raises:
        IndexError: no such snapshot.
        KerascopeError: its file cannot be read.
    """
    from .health import model_findings
    from .snapshots import parse_findings

    snap = run.snapshots[index]
    key = _file_key(snap.source)
    kept = _HEALTH.get(key) if key is not None else None
    if kept is not None:
        try:
            return parse_findings(kept)
        except ValueError:
            pass
    found = model_findings(run.model(index))
    if key is not None:
        from .snapshots import findings_json

        _HEALTH.put(key, findings_json(found))
    return found


def print_timeline(source: str, *, as_json: bool, out: TextIO) -> None:
    """``python -m extraction timeline RUN [--json]``: JSON, or one line per weight for people.

    Raises:
        KerascopeError: not a run, or snapshots of different models.
    """
    from ..runs import open_run

    line = timeline(open_run(source))
    if as_json:
        json.dump(line.as_json(), out, indent=2)
        out.write("\n")
        return
    labels = [s.label for s in line.snapshots]
    steps = ", ".join(labels) if len(labels) <= 12 else f"{labels[0]} ... {labels[-1]}"
    out.write(f"{len(line.snapshots)} snapshots: {steps}\n")
    for note in line.notes:
        out.write(f"note: {note}\n")
    for name, event in (
        ("first anomaly", line.events.first_anomaly),
        ("first NaN/Inf", line.events.first_nan),
    ):
        if event is None:
            out.write(f"{name}: none\n")
        elif isinstance(event, FirstAnomaly):
            where = f"{event.layer}/{event.weight} ({event.check})"
            out.write(f"{name}: {event.label}, {where}: {event.message}\n")
        else:
            where = ", ".join(f"{w.layer}/{w.weight} ({w.count:,})" for w in event.weights)
            out.write(f"{name}: {event.label}, in {where}\n")
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


__all__ = [
    "HIST_BINS",
    "HISTORY_FACTOR",
    "Fill",
    "FirstAnomaly",
    "FirstNan",
    "NanWeight",
    "RunEvents",
    "Timeline",
    "WeightPoint",
    "WeightTimeline",
    "fill_timeline",
    "print_timeline",
    "snapshot_health",
    "timeline",
]
