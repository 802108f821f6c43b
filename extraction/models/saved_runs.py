"""Runs of the Train tab kept on disk, so that a reload (or the next lesson) finds them again.

Each run is two files in ``$KERASCOPE_CACHE_DIR/trained`` (see ``settings.cache_dir``): an
``.npz`` of its kept snapshots (plain arrays, read back without pickle) and a ``.json`` of its
knobs, history and the names of those arrays. The structure (layer names, kinds, configs) is
rebuilt from the knobs, which decide it; the trained ``keras.Model`` itself is not kept.

Decided (each has a test):
- Writes are atomic (``disk.atomic_path``), the JSON last, so a listed run is complete.
- At most ``MAX_RUNS`` runs are kept: saving one more deletes the oldest.
- A file that is missing, unreadable, from another version (``FORMAT``) or inconsistent (an
  array the JSON names is absent, a knob out of range) is skipped by ``list_runs`` and raises
  ``KerascopeError`` from ``load_run``; it never takes the Train tab down.
"""

from __future__ import annotations

import json
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..disk import atomic_path, write_atomic
from ..errors import KerascopeError
from ..settings import cache_dir
from .training import EpochLog, Knobs, Snapshot, TrainingRun, run_structure

FORMAT = 1
"""Bump when the files change, so older ones are skipped rather than misread."""
MAX_RUNS = 12


@dataclass(frozen=True)
class SavedRun:
    """A run on disk, as listed (without reading its arrays)."""

    id: str
    """The file stem (``run-20250101-101500-123456-photos``), unique and time-ordered."""
    knobs: Knobs
    """The knobs it was trained with."""
    saved: float
    """When it was saved, seconds since the epoch."""
    final: EpochLog
    """Its last epoch's loss and accuracy."""


def runs_dir() -> Path:
    """Where trained runs are kept."""
    return cache_dir() / "trained"


def save_run(run: TrainingRun, folder: Path | None = None) -> SavedRun:
    """Write ``run`` (see the module doc) and drop the oldest beyond ``MAX_RUNS``."""
    folder = folder or runs_dir()
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1e6) % 10**6:06d}"
    run_id = f"run-{stamp}-{run.knobs.task}"
    keys: dict[str, list[str]] = {}
    arrays: dict[str, Any] = {}
    for epoch in run.epochs:
        names = []
        for (layer, weight), array in run.snapshots[epoch].items():
            key = f"a{len(arrays)}"
            arrays[key] = np.asarray(array)
            names.append(json.dumps([layer, weight, key]))
        keys[str(epoch)] = names
    meta = {
        "format": FORMAT,
        "saved": now,
        "knobs": asdict(run.knobs),
        "history": [asdict(h) for h in run.history],
        "baseline": [run.classes, run.majority, run.majority_label],
        "arrays": keys,
    }
    with atomic_path(folder / f"{run_id}.npz") as staged:
        np.savez(staged, **arrays)
    write_atomic(folder / f"{run_id}.json", json.dumps(meta))  # last: a listed run is whole
    for old in list_runs(folder)[MAX_RUNS:]:
        for suffix in (".json", ".npz"):
            (folder / f"{old.id}{suffix}").unlink(missing_ok=True)
    return SavedRun(run_id, run.knobs, now, run.history[-1])


def list_runs(folder: Path | None = None) -> list[SavedRun]:
    """The runs on disk, newest first; unreadable ones are left out."""
    folder = folder or runs_dir()
    found = []
    for meta_path in folder.glob("run-*.json") if folder.is_dir() else ():
        try:
            meta = _meta(meta_path)
            found.append(
                SavedRun(
                    meta_path.stem,
                    _knobs(meta),
                    float(meta["saved"]),
                    _history(meta)[-1],
                )
            )
        except KerascopeError:
            continue
    return sorted(found, key=lambda r: r.id, reverse=True)


def load_run(run_id: str, folder: Path | None = None) -> TrainingRun:
    """The run ``run_id`` with its snapshots, ready for the epoch viewer.

    Raises:
        KerascopeError: no such run, or its files are damaged or from another version.
    """
    folder = folder or runs_dir()
    if "/" in run_id or "\\" in run_id or not run_id.startswith("run-"):
        raise KerascopeError(f"not a saved run: {run_id!r}")
    meta = _meta(folder / f"{run_id}.json")
    knobs = _knobs(meta)
    history = _history(meta)
    snapshots: dict[int, Snapshot] = {}
    try:
        with np.load(folder / f"{run_id}.npz", allow_pickle=False) as data:
            for epoch, names in dict(meta["arrays"]).items():
                snap: Snapshot = {}
                for entry in names:
                    layer, weight, key = json.loads(entry)
                    snap[(str(layer), str(weight))] = np.array(data[key])
                snapshots[int(epoch)] = snap
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise KerascopeError(f"the saved run {run_id} cannot be read ({exc})") from None
    structure = run_structure(knobs)
    wanted = {(la.path, w.name): tuple(w.shape) for la, w in structure.iter_weights()}
    if not snapshots or any(
        {k: tuple(a.shape) for k, a in s.items()} != wanted for s in snapshots.values()
    ):
        raise KerascopeError(f"the saved run {run_id} does not match its knobs")
    try:
        classes, majority, label = meta["baseline"]
        classes, majority, label = int(classes), float(majority), str(label)
    except (KeyError, TypeError, ValueError):
        raise KerascopeError(f"the saved run {run_id} has no chance level") from None
    return TrainingRun(
        knobs,
        history,
        snapshots,
        structure,
        classes=classes,
        majority=majority,
        majority_label=label,
    )


def _meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KerascopeError(f"cannot read {path.name} ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise KerascopeError(f"{path.name} is not a saved run of this version")
    return meta


def _knobs(meta: dict[str, Any]) -> Knobs:
    try:
        knobs = Knobs(**dict(meta["knobs"]))
        knobs.check()
    except (KeyError, TypeError, ValueError) as exc:
        raise KerascopeError(f"a saved run has bad knobs ({exc})") from None
    return knobs


def _history(meta: dict[str, Any]) -> tuple[EpochLog, ...]:
    try:
        history = tuple(EpochLog(**dict(h)) for h in meta["history"])
    except (KeyError, TypeError, ValueError) as exc:
        raise KerascopeError(f"a saved run has a bad history ({exc})") from None
    if not history:
        raise KerascopeError("a saved run has no history")
    return history
