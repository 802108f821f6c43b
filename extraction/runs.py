"""Runs: the checkpoints of one model over a training, in order, each opened like a model.

A run is a folder that holds either
- a manifest written by ``WeightRecorder`` (``kerascope-run.json``, see ``models/recorder.py``),
  which lists the snapshots, their steps and the training logs of each; or
- at least two model files of one architecture as Keras's ``ModelCheckpoint`` leaves them
  (``.keras``, legacy ``.h5``, ``.weights.h5``; full models or weights only), or as a per-batch
  callback saves them (``step-00012.weights.h5``); or
- at least two TensorFlow checkpoints as ``tf.train.CheckpointManager`` leaves them
  (``ckpt-1.index`` with its ``ckpt-1.data-*`` files, and a ``checkpoint`` file), ordered by the
  number after the last ``-`` (the step number the manager was given, or its save counter).

Listing a run reads names (and the recorder's manifest) only: nothing is opened, so a run of
thousands of snapshots lists at once. Whether the files open, and are of one model, is found
when they are read (``extraction.analysis.timeline`` reads them all in one pass; ``Run.latest``
opens the newest that opens).

How checkpoint files are ordered (decided; each case has a test):
- The name's suffix (``.weights.h5``, ``.keras``, ``.h5``, ``.hdf5``) is dropped, giving stems.
- The stems' longest common prefix, cut back so that it does not end in a digit (``model-1``
  of ``model-10``/``model-11`` becomes ``model-``), is the name prefix.
- Each file's epoch is the first group of digits after that prefix, read as a number:
  ``model-9.h5`` (9) comes before ``model-10.h5`` (10); ``weights.05-0.42.weights.h5`` is epoch 5
  (the loss after it is never read, it is not the first group).
- Two names with the same first number (``ckpt-01-0100``, ``ckpt-01-0200``: epoch, then batch)
  are ordered by their first two numbers; the label says both (``epoch 1, batch 200``).
- When any name carries no number there, or names still tie, names say nothing about order:
  files are ordered by modification time (then name) and numbered 1, 2, 3 ... (``snapshot 3``).
  A template that puts a metric before the epoch (``m-{loss:.2f}-{epoch}.h5``) is ordered by
  the metric's first digits; name checkpoints with the epoch first.

What the numbers count (``Snapshot.unit``, decided; each has a test): the word just before the
number in the names (``UNIT_WORDS``: ``step-00012`` is ``step 12``, ``model_epoch_3`` is
``epoch 3``, ``batch-40`` is ``batch 40``); a number with no such word is an epoch, as Keras's
``ModelCheckpoint`` names files (``weights.05-0.42`` is ``epoch 5``); CheckpointManager numbers
are steps; the recorder's manifest says its own unit; files ordered by time are ``snapshot N``.
A link names a snapshot by ``epoch=N`` in an epoch run and ``step=N`` in any other
(``Snapshot.link``).

A file that cannot be opened (a checkpoint still being written, a damaged one) is found when it
is read: ``Run.latest`` steps back past it, and the timeline leaves it out with a note. Files of
another architecture (other layer paths, weight names or shapes) make the folder no run when the
timeline reads them, with an error that names both files.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cachetools import LRUCache

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
Unit = Literal["epoch", "step", "batch", "snapshot"]
"""What a run's numbers count: ``epoch``; ``step`` (file names say step, or a CheckpointManager);
``batch`` (names say batch, or the recorder every N batches: batches trained so far);
``snapshot`` (files ordered by time, numbered 1, 2, 3 ...)."""
UNIT_WORDS: dict[str, Unit] = {
    "epoch": "epoch", "epochs": "epoch", "ep": "epoch", "e": "epoch",
    "step": "step", "steps": "step", "global_step": "step", "iter": "step",
    "iteration": "step", "iterations": "step", "it": "step",
    "batch": "batch", "batches": "batch",
}  # fmt: skip
"""The word before the number in checkpoint names, and what it counts."""
CHECKPOINT_INDEX = ".index"
"""A TensorFlow checkpoint's index file; its values live in ``<prefix>.data-*`` beside it."""
Signature = frozenset[tuple[str, str, tuple[int, ...]]]
"""A model's architecture as runs compare it: (layer path, weight name, shape) of each weight."""

_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"([A-Za-z_]*[A-Za-z])[^A-Za-z0-9]*$")


@dataclass(frozen=True)
class Snapshot:
    """One saved state of the model during a run."""

    step: int
    """Its number, as the file names (or the recorder) count it, in ``unit``: the epoch as
    Keras counts it in file names (from 1; 0 is before training), the step or batch number of
    the names, the batches trained so far (the recorder every N batches), or the place 1, 2,
    3 ... of files ordered by time. Snapshots are in order of it."""
    epoch: int
    """The Keras epoch number (from 1) it was saved in or after; 0 before training. Names that
    count steps or batches do not say the epoch: there it is the same number as ``step``."""
    label: str
    """How the page names it, made from numbers only (never text from a file): ``epoch 5``,
    ``step 12``, ``batch 40``, ``before training``, ``epoch 2, step 300``, or ``snapshot 3`` for
    files ordered by time."""
    source: str
    """The path of its file (a CheckpointManager checkpoint: its ``.index``); ``open_model``
    opens it."""
    logs: Mapping[str, float] = field(default_factory=dict)
    """Loss and metrics at that point, when the recorder kept them; empty otherwise."""
    unit: Unit = "epoch"
    """What ``step`` counts (the run's ``unit``)."""

    @property
    def link(self) -> tuple[Literal["epoch", "step"], int]:
        """How a deep link names it: ``("epoch", N)`` in an epoch run, else ``("step", N)``."""
        return ("epoch", self.step) if self.unit == "epoch" else ("step", self.step)

    def open(self) -> ModelWeights:
        """The snapshot's records (a fresh open; arrays are read lazily)."""
        from .api import open_model

        return open_model(self.source)

    def as_json(self) -> dict[str, Any]:
        """``{"step", "label", "source"}`` (the ``timeline --json`` contract; the label says the
        unit)."""
        return {"step": self.step, "label": self.label, "source": self.source}


@dataclass(frozen=True, eq=False)
class Run:
    """A run folder's snapshots in training order."""

    path: str
    """The run folder."""
    snapshots: tuple[Snapshot, ...]
    """At least two, in training order."""
    unit: Unit
    """What the snapshots' ``step`` numbers count (see ``Unit``): ``epoch`` when there is at
    most one snapshot per epoch; ``batch`` for a run recorded every N batches (several snapshots
    share an epoch) or files named by batch; ``step`` for files named by step and
    CheckpointManager folders; ``snapshot`` for files ordered by time."""
    recorded: bool
    """Written by ``WeightRecorder`` (with a manifest and logs) rather than ModelCheckpoint or
    another saver."""
    notes: tuple[str, ...] = ()
    """Things a user should know: files left out, ordering by modification time."""
    model_name: str | None = None
    """The model's name as the recorder wrote it (weights-only files do not say)."""
    _models: LRUCache[int, ModelWeights] = field(
        default_factory=lambda: LRUCache(OPEN_SNAPSHOTS), repr=False
    )
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
            held = self._models.get(index)  # counts as a use
            if held is not None:
                return held
        model = snapshot.open()
        note = f"weights of {snapshot.label} of run {self.name} ({len(self.snapshots)} snapshots)"
        model = model.derive(name=self.model_name or model.name, notes=(*model.notes, note))
        with self._lock:
            self._models[index] = model  # beyond OPEN_SNAPSHOTS the least recently used goes
            # Measured now, not when added: a snapshot grows as its arrays are read.
            while len(self._models) > 2 and sum(map(_nbytes, self._models.values())) > OPEN_BYTES:
                self._models.popitem()
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
        numbers = [s.step for s in self.snapshots] if step is not None else self.epochs
        have = _spans(list(dict.fromkeys(numbers)))
        kind = "steps" if step is not None else "epochs"
        raise SourceNotFound(f"run {self.name!r} has no snapshot at {what}; {kind}: {have}")

    def latest(self) -> tuple[int, ModelWeights]:
        """The newest snapshot that opens, and its index (a checkpoint still being written, or
        a damaged one, is stepped past).

        Raises:
            KerascopeError: no snapshot of the run opens (the newest one's error).
        """
        first: KerascopeError | None = None
        for index in reversed(range(len(self.snapshots))):
            try:
                return index, self.model(index)
            except KerascopeError as exc:
                first = first or exc
        assert first is not None
        raise first


def _spans(numbers: list[int]) -> str:
    """``1-3, 7, 9-12``: numbers in order, runs of consecutive ones joined."""
    parts: list[str] = []
    for n in numbers:
        if parts and parts[-1].rsplit("-", 1)[-1] == str(n - 1) and n > 0:
            head = parts[-1].rsplit("-", 1)[0] if "-" in parts[-1][1:] else parts[-1]
            parts[-1] = f"{head}-{n}"
        else:
            parts.append(str(n))
    return ", ".join(parts)


def _nbytes(model: ModelWeights) -> int:
    return sum(w.nbytes for _, w in model.iter_weights())


def run_suffixes() -> tuple[str, ...]:
    """File endings of checkpoint files, longest first (``.weights.h5`` before ``.h5``)."""
    from .readers import FORMATS

    found = {s for fid in RUN_FORMATS for s in FORMATS[fid].suffixes}
    return tuple(sorted(found, key=len, reverse=True))


def checkpoint_files(folder: Path) -> list[Path]:
    """The checkpoint files directly in ``folder`` (not hidden, not partial), by name: model
    files, and the ``.index`` of each TensorFlow checkpoint that has its ``.data-*`` beside it."""
    suffixes = run_suffixes()
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    names = {p.name for p in entries}
    data = {n[: n.index(".data-")] for n in names if ".data-" in n}
    found = []
    for p in entries:
        if p.name.startswith("."):
            continue
        lower = p.name.lower()
        if lower.endswith(suffixes) or (
            lower.endswith(CHECKPOINT_INDEX) and p.name[: -len(CHECKPOINT_INDEX)] in data
        ):
            if p.is_file():
                found.append(p)
    return found


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
    for suffix in (*run_suffixes(), CHECKPOINT_INDEX):
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


def unit_word(stems: list[str]) -> Unit | None:
    """What the first number in the names counts, from the word before it (``UNIT_WORDS``);
    None when there is no such word (or an unknown one).

    >>> unit_word(["step-00001", "step-00002"])
    'step'
    >>> unit_word(["weights.05-0.42", "weights.06-0.39"]) is None
    True
    """
    prefix = os.path.commonprefix(stems).rstrip("0123456789")
    match = _DIGITS.search(stems[0], len(prefix)) if stems else None
    if match is None:
        return None
    word = _WORD.search(stems[0][: match.start()])
    return UNIT_WORDS.get(word.group(1).lower().rsplit("_", 1)[-1]) if word else None


def _second_numbers(stems: list[str], firsts: list[int]) -> list[int] | None:
    """The second number after the shared prefix of each name, when (first, second) pairs tell
    the names apart (``ckpt-01-0100``: epoch 1, batch 100); None otherwise."""
    prefix = os.path.commonprefix(stems).rstrip("0123456789")
    seconds: list[int] = []
    for s in stems:
        found = _DIGITS.findall(s, len(prefix))
        if len(found) < 2:
            return None
        seconds.append(int(found[1]))
    pairs = list(zip(firsts, seconds, strict=True))
    return seconds if len(set(pairs)) == len(pairs) else None


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
            f"folder of at least two .keras, .h5 or .weights.h5 checkpoints of one model, a "
            f"tf.train.CheckpointManager folder, or a folder written by WeightRecorder "
            f"({MANIFEST})"
        )
    stems = [stem(p.name) for p in files]
    manager = all(p.name.endswith(CHECKPOINT_INDEX) for p in files)
    unit: Unit = "step" if manager else unit_word(stems) or "epoch"
    notes: list[str] = []
    numbers = epoch_numbers(stems)
    seconds = None
    if numbers is None:
        firsts = _first_numbers(stems)
        seconds = _second_numbers(stems, firsts) if firsts is not None else None
        numbers = firsts if seconds is not None else None
    if numbers is None:
        files.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
        notes.append("file names carry no distinct numbers: snapshots are ordered by file time")
        snapshots = [
            Snapshot(i, i, f"snapshot {i}", str(p), unit="snapshot")
            for i, p in enumerate(files, start=1)
        ]
        return Run(str(folder), tuple(snapshots), "snapshot", False, tuple(notes))
    if seconds is not None:  # epoch, then batch within it: counted in batches of the names
        order = sorted(range(len(files)), key=lambda i: (numbers[i], seconds[i]))
        snapshots = [
            Snapshot(
                k + 1,
                numbers[i],
                f"epoch {numbers[i]}, batch {seconds[i]}",
                str(files[i]),
                unit="snapshot",
            )
            for k, i in enumerate(order)
        ]
        return Run(str(folder), tuple(snapshots), "snapshot", False, tuple(notes))
    pairs = sorted(zip(numbers, files, strict=True), key=lambda pair: pair[0])
    snapshots = [Snapshot(n, n, f"{unit} {n}", str(p), unit=unit) for n, p in pairs]
    return Run(str(folder), tuple(snapshots), unit, False, tuple(notes))


def _first_numbers(stems: list[str]) -> list[int] | None:
    """The first number after the shared prefix of each name (repeats allowed); None when a
    name has none."""
    prefix = os.path.commonprefix(stems).rstrip("0123456789")
    found = [_DIGITS.search(s, len(prefix)) for s in stems]
    return [int(m.group()) for m in found] if all(found) else None  # type: ignore[union-attr]


def signature(model: ModelWeights) -> Signature:
    """The architecture of ``model`` as runs compare it."""
    return frozenset((layer.path, w.name, w.shape) for layer, w in model.iter_weights())


def different_models(folder: str, first: str, a: Signature, other: str, b: Signature) -> str:
    """The error line for two snapshots of a run folder that are different models."""
    return (
        f"{Path(folder).name} is not a run: {Path(first).name} and {Path(other).name} are "
        f"different models ({_difference(a, b)}); a run holds checkpoints of one model"
    )


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
    unit: Unit = "batch" if batches else "epoch"
    label = _label(step, epoch, batches)
    return Snapshot(step, epoch, label, str(folder / name), clean, unit=unit)


def _label(step: int, epoch: int, batches: bool) -> str:
    if step == 0:
        return "before training"
    return f"epoch {epoch}, step {step}" if batches else f"epoch {epoch}"


__all__ = [
    "MANIFEST",
    "UNIT_WORDS",
    "Run",
    "Snapshot",
    "Unit",
    "checkpoint_files",
    "different_models",
    "epoch_numbers",
    "looks_like_run",
    "open_run",
    "run_token",
    "signature",
    "unit_word",
]
