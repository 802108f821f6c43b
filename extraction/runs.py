"""Runs: the checkpoints of one model over a training, in order, each opened like a model.

A run is a folder that holds either
- a manifest written by ``WeightRecorder`` (``kerascope-run.json``, see ``models/recorder.py``),
  which lists the snapshots, their steps and the training logs of each; or
- at least two model files of one architecture as Keras's ``ModelCheckpoint`` leaves them
  (``.keras``, legacy ``.h5``, ``.weights.h5``; full models or weights only).

How checkpoint files are ordered (decided; each case has a test):
- The name's suffix (``.weights.h5``, ``.keras``, ``.h5``, ``.hdf5``) is dropped, giving stems.
- The stems' longest common prefix, cut back so that it does not end in a digit (``model-1``
  of ``model-10``/``model-11`` becomes ``model-``), is the name prefix.
- Each file's epoch is the first group of digits after that prefix, read as a number:
  ``model-9.h5`` (9) comes before ``model-10.h5`` (10); ``weights.05-0.42.weights.h5`` is epoch 5
  (the loss after it is never read, it is not the first group).
- When any name carries no number there, or two names carry the same one, names say nothing
  about order: files are ordered by modification time (then name) and numbered 1, 2, 3 ...
  A template that puts a metric before the epoch (``m-{loss:.2f}-{epoch}.h5``) is ordered by
  the metric's first digits; name checkpoints with the epoch first.
Files that cannot be opened (a checkpoint still being written, a damaged one) are left out with
a note; files of another architecture (other layer paths, weight names or shapes) make the
folder no run, with an error that names both files.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import CorruptFile, KerascopeError, SourceNotFound, UnsupportedFormat
from .records import ModelWeights

MANIFEST = "kerascope-run.json"
"""The recorder's manifest, in the run folder."""
MANIFEST_VERSION = 1
RUN_FORMATS = ("keras_zip", "h5_model", "h5_weights")
"""The formats ``ModelCheckpoint`` writes; their suffixes (in ``readers.FORMATS``) mark
checkpoint files in a folder."""
OPEN_SNAPSHOTS = 4
"""Opened snapshots a run keeps (their arrays stay in memory once read); older ones are
dropped and reopened when needed..."""
OPEN_BYTES = 256 * 1024**2
"""... and no more than this many bytes of them, beyond the two a change needs (now, before)."""
Unit = Literal["epoch", "batch"]
Signature = frozenset[tuple[str, str, tuple[int, ...]]]
"""A model's architecture as runs compare it: (layer path, weight name, shape) of each weight."""

_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Snapshot:
    """One saved state of the model during a run."""

    step: int
    """Its place in the run: the epoch number as Keras counts it in file names (from 1; 0 is
    before training) or, for a run recorded every N batches, the batches trained so far."""
    epoch: int
    """The Keras epoch number (from 1) it was saved in or after; 0 before training."""
    label: str
    """How the page names it, made from numbers only (never text from a file): ``epoch 5``,
    ``before training``, ``epoch 2, step 300``, or ``snapshot 3`` for files ordered by time."""
    source: str
    """The path of its file; ``open_model`` opens it."""
    logs: Mapping[str, float] = field(default_factory=dict)
    """Loss and metrics at that point, when the recorder kept them; empty otherwise."""

    def open(self) -> ModelWeights:
        """The snapshot's records (a fresh open; arrays are read lazily)."""
        from .api import open_model

        return open_model(self.source)

    def as_json(self) -> dict[str, Any]:
        """``{"step", "label", "source"}`` (the ``timeline --json`` contract)."""
        return {"step": self.step, "label": self.label, "source": self.source}


@dataclass(frozen=True, eq=False)
class Run:
    """A run folder's snapshots in training order."""

    path: str
    """The run folder."""
    snapshots: tuple[Snapshot, ...]
    """At least two, in training order."""
    unit: Unit
    """``epoch`` when there is at most one snapshot per epoch; ``batch`` for a run recorded every
    N batches (several snapshots share an epoch)."""
    recorded: bool
    """Written by ``WeightRecorder`` (with a manifest and logs) rather than ModelCheckpoint."""
    notes: tuple[str, ...] = ()
    """Things a user should know: files left out, ordering by modification time."""
    model_name: str | None = None
    """The model's name as the recorder wrote it (weights-only files do not say)."""
    _models: OrderedDict[int, ModelWeights] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        """The folder's name."""
        return Path(self.path).name

    @property
    def epochs(self) -> list[int]:
        """Each snapshot's epoch, in order."""
        return [s.epoch for s in self.snapshots]

    def model(self, index: int) -> ModelWeights:
        """The records of snapshot ``index``; the last few opened are kept.

        Raises:
            IndexError: no such snapshot.
            KerascopeError: its file can no longer be read.
        """
        snapshot = self.snapshots[index]
        with self._lock:
            if index in self._models:
                self._models.move_to_end(index)
                return self._models[index]
        model = snapshot.open()
        note = f"weights of {snapshot.label} of run {self.name} ({len(self.snapshots)} snapshots)"
        model = model.derive(name=self.model_name or model.name, notes=(*model.notes, note))
        with self._lock:
            self._models[index] = model
            while len(self._models) > OPEN_SNAPSHOTS or (
                len(self._models) > 2
                and sum(_nbytes(m) for m in self._models.values()) > OPEN_BYTES
            ):
                self._models.popitem(last=False)
        return model

    def index_of(self, epoch: int, step: int | None = None) -> int:
        """The snapshot with ``step`` when given, else the last snapshot of ``epoch``.

        Raises:
            SourceNotFound: no such snapshot (the message lists the epochs there are).
        """
        for i in reversed(range(len(self.snapshots))):
            s = self.snapshots[i]
            if (s.step == step) if step is not None else (s.epoch == epoch):
                return i
        what = f"step {step}" if step is not None else f"epoch {epoch}"
        have = ", ".join(str(e) for e in dict.fromkeys(self.epochs))
        raise SourceNotFound(f"run {self.name!r} has no snapshot at {what}; epochs: {have}")


def _nbytes(model: ModelWeights) -> int:
    return sum(w.nbytes for _, w in model.iter_weights())


def run_suffixes() -> tuple[str, ...]:
    """File endings of checkpoint files, longest first (``.weights.h5`` before ``.h5``)."""
    from .readers import FORMATS

    found = {s for fid in RUN_FORMATS for s in FORMATS[fid].suffixes}
    return tuple(sorted(found, key=len, reverse=True))


def checkpoint_files(folder: Path) -> list[Path]:
    """The checkpoint files directly in ``folder`` (not hidden, not partial), by name."""
    suffixes = run_suffixes()
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [
        p
        for p in entries
        if not p.name.startswith(".") and p.name.lower().endswith(suffixes) and p.is_file()
    ]


def looks_like_run(path: Path) -> bool:
    """Whether ``path`` is a folder that may be a run (a manifest, or 2+ checkpoint files).

    Cheap: nothing is opened. ``open_run`` still checks that the files are of one model.
    """
    from .readers.sniff import is_model_folder

    if not path.is_dir() or is_model_folder(path):  # shards of one model are not a run
        return False
    return (path / MANIFEST).is_file() or len(checkpoint_files(path)) >= 2


def run_token(path: Path) -> str:
    """What changes when a run folder changes: names, sizes and times of its files."""
    digest = hashlib.sha256()
    files = [path / MANIFEST] if (path / MANIFEST).is_file() else []
    for p in [*files, *checkpoint_files(path)]:
        try:
            st = p.stat()
        except OSError:
            continue
        digest.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def stem(name: str) -> str:
    """A checkpoint file's name without its format suffix."""
    lower = name.lower()
    for suffix in run_suffixes():
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def epoch_numbers(stems: list[str]) -> list[int] | None:
    """The epoch each name carries (see the module docstring), or None when names say nothing.

    >>> epoch_numbers(["model-9", "model-10"])
    [9, 10]
    >>> epoch_numbers(["weights.05-0.42", "weights.06-0.39"])
    [5, 6]
    """
    prefix = os.path.commonprefix(stems).rstrip("0123456789")
    numbers: list[int] = []
    for s in stems:
        match = _DIGITS.search(s, len(prefix))
        if match is None:
            return None
        numbers.append(int(match.group()))
    return numbers if len(set(numbers)) == len(numbers) else None


def open_run(path: str | os.PathLike[str]) -> Run:
    """The run in folder ``path``.

    Raises:
        SourceNotFound: no such folder.
        UnsupportedFormat: not a run (fewer than two readable checkpoints, or checkpoints of
            different models).
        CorruptFile: a recorder manifest that cannot be read.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise SourceNotFound(f"no such folder: {folder}")
    if (folder / MANIFEST).is_file():
        return _open_recorded(folder)
    files = checkpoint_files(folder)
    if len(files) < 2:
        raise UnsupportedFormat(
            f"{folder.name} is not a run: it holds {len(files)} checkpoint file(s); a run is a "
            f"folder of at least two .keras, .h5 or .weights.h5 checkpoints of one model, or a "
            f"folder written by WeightRecorder ({MANIFEST})"
        )
    files, notes = _same_model(files)
    numbers = epoch_numbers([stem(p.name) for p in files])
    if numbers is None:
        files.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
        notes.append("file names carry no epoch numbers: snapshots are ordered by file time")
        snapshots = [Snapshot(i, i, p.name, str(p)) for i, p in enumerate(files, start=1)]
    else:
        pairs = sorted(zip(numbers, files, strict=True), key=lambda pair: pair[0])
        snapshots = [Snapshot(n, n, f"epoch {n}", str(p)) for n, p in pairs]
    return Run(str(folder), tuple(snapshots), "epoch", False, tuple(notes))


_signatures: OrderedDict[tuple[str, int, int], Signature] = OrderedDict()
_signatures_lock = threading.Lock()


def signature(model: ModelWeights) -> Signature:
    """The architecture of ``model`` as runs compare it."""
    return frozenset((layer.path, w.name, w.shape) for layer, w in model.iter_weights())


def _file_signature(path: Path) -> Signature:
    """The signature of a checkpoint file, remembered by path, size and time."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _signatures_lock:
        if key in _signatures:
            return _signatures[key]
    from .api import open_model

    sig = signature(open_model(path))
    with _signatures_lock:
        _signatures[key] = sig
        while len(_signatures) > 4096:
            _signatures.popitem(last=False)
    return sig


def _same_model(files: list[Path]) -> tuple[list[Path], list[str]]:
    """The readable files, checked to be one architecture; notes on those left out."""
    kept: list[Path] = []
    notes: list[str] = []
    first: tuple[Path, Signature] | None = None
    for p in files:
        try:
            sig = _file_signature(p)
        except (KerascopeError, OSError) as exc:
            notes.append(f"{p.name} left out: it cannot be read ({exc})")
            continue
        if first is None:
            first = (p, sig)
        elif sig != first[1]:
            raise UnsupportedFormat(
                f"{p.parent.name} is not a run: {first[0].name} and {p.name} are different models "
                f"({_difference(first[1], sig)}); a run holds checkpoints of one model"
            )
        kept.append(p)
    if len(kept) < 2:
        raise UnsupportedFormat(
            f"{files[0].parent.name} is not a run: fewer than two of its checkpoints can be read"
            + (f" ({notes[0]})" if notes else "")
        )
    return kept, notes


def _difference(a: Signature, b: Signature) -> str:
    only = sorted(a ^ b)
    if not only:
        return "same weights"
    path, name, shape = only[0]
    where = "first" if (path, name, shape) in a else "second"
    return f"only the {where} has {path}/{name} of shape {shape}"


def _open_recorded(folder: Path) -> Run:
    from .readers._config import parse_json
    from .readers.safety import MAX_CONFIG_BYTES

    manifest = folder / MANIFEST
    size = manifest.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise CorruptFile(f"{folder.name}/{MANIFEST} is {size} bytes; too large for a manifest")
    data = parse_json(manifest.read_bytes(), f"{folder.name}/{MANIFEST}")
    entries = data.get("snapshots") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise CorruptFile(f"{folder.name}/{MANIFEST} has no list of snapshots")
    snapshots: list[Snapshot] = []
    notes: list[str] = []
    batches = data.get("unit") == "batch"
    for entry in entries:
        snap = _manifest_snapshot(folder, entry, batches)
        if snap is None:
            notes.append("a manifest entry that names no snapshot file was left out")
        elif not Path(snap.source).is_file():
            notes.append(f"{Path(snap.source).name} is listed but missing (thinned?)")
        else:
            snapshots.append(snap)
    snapshots.sort(key=lambda s: s.step)
    if len(snapshots) >= 2:  # a manifest is a file too: its snapshots must be of one model
        kept, more = _same_model([Path(s.source) for s in snapshots])
        readable = {str(p) for p in kept}
        snapshots = [s for s in snapshots if s.source in readable]
        notes.extend(more)
    if len(snapshots) < 2:
        raise UnsupportedFormat(
            f"{folder.name} is a WeightRecorder run with {len(snapshots)} snapshot(s) so far; a "
            "run shows from two snapshots on"
        )
    unit: Unit = "batch" if data.get("unit") == "batch" else "epoch"
    name = data.get("model")
    name = name[:200] if isinstance(name, str) and name else None
    return Run(str(folder), tuple(snapshots), unit, True, tuple(notes), name)


def _manifest_snapshot(folder: Path, entry: Any, batches: bool) -> Snapshot | None:
    """One manifest entry as a snapshot; None when it is malformed or names a file elsewhere."""
    if not isinstance(entry, dict):
        return None
    name, step, epoch = entry.get("file"), entry.get("step"), entry.get("epoch")
    if not isinstance(name, str) or not isinstance(step, int) or not isinstance(epoch, int):
        return None
    if Path(name).name != name or name.startswith(".") or "\\" in name:
        return None  # a plain file name in the run folder, nothing else
    logs = entry.get("logs")
    clean = {
        str(k): float(v)
        for k, v in (logs.items() if isinstance(logs, dict) else ())
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    return Snapshot(step, epoch, _label(step, epoch, batches), str(folder / name), clean)


def _label(step: int, epoch: int, batches: bool) -> str:
    if step == 0:
        return "before training"
    return f"epoch {epoch}, step {step}" if batches else f"epoch {epoch}"


__all__ = [
    "MANIFEST",
    "Run",
    "Snapshot",
    "checkpoint_files",
    "epoch_numbers",
    "looks_like_run",
    "open_run",
    "run_token",
    "signature",
]
