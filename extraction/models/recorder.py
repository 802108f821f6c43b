"""``WeightRecorder``: a Keras callback that keeps the weights of a training as a run folder.

Each snapshot is one ``.weights.h5`` file written by Keras's own ``save_weights`` (float16 on
request), and ``kerascope-run.json`` lists them with the logs (loss, metrics) of each. The
manifest is rewritten atomically, so a reader (the app following the run live) sees either the
old list or the new one, never half of either; snapshot files are written under a hidden
temporary name and renamed when complete. It is rewritten at most once a second
(``MANIFEST_EVERY_S``) while snapshots come faster, and always at the end of an epoch and of
training, before a snapshot is deleted, and before the first one: rewriting the whole list
after every snapshot made recording every batch quadratic in the run's length.

Decided edge cases (each has a test):
- ``every="epoch"``: a snapshot before training (step 0) and after each epoch (step = the epoch
  number as Keras counts it in file names, from 1). ``every=N``: before training and after every
  N batches (step = batches trained), plus the last state when training ends.
- The disk cap ``max_bytes``: when the next snapshot would pass it, the spacing doubles: the
  snapshots between the first and the newest that are off the coarser grid are deleted, and
  from then on only steps on it are taken, so the kept ones stay evenly spaced; the first and
  the newest always stay, and the final state is always written. A cap without room for two
  snapshots is a ``ValueError`` up front.
- ``dtype="float16"`` halves the files; a weight with a finite value beyond float16's range
  (65504) stays float32 in that snapshot rather than turn into Inf.
- ``optimizer=True`` keeps the optimizer's state in each snapshot (Adam's moments: about three
  times the disk), so the run shows each weight's gradient RMS over time; by default it is left
  out of the files (Keras's ``save_weights`` writes it; the recorder drops it).
- A training killed mid-epoch leaves at most ``MANIFEST_EVERY_S`` of its newest snapshots on
  disk but not yet listed.
- Calling ``fit`` again with the same recorder (or a new recorder on the same folder) continues
  the run: epochs keep counting up. A folder holding a run of another model is refused.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..disk import atomic_path, write_atomic
from ..runs import MANIFEST, MANIFEST_VERSION

DEFAULT_MAX_BYTES = 2 * 1024**3
MANIFEST_EVERY_S = 1.0
"""The longest a recorded snapshot waits to be listed in the manifest while snapshots come
faster than this (2,000 batches recorded every batch: 13.5 s of a 36.7 s fit went to rewriting
the manifest after each)."""
FLOAT16_MAX = float(np.finfo(np.float16).max)
Dtype = Literal["float32", "float16"]


class _Recorder:
    """Keep the model's weights every epoch (or every N batches) in ``run_dir``.

    Args:
        run_dir: the run folder (created); open it in Kerascope or with ``open_run``.
        every: ``"epoch"`` or a number of batches.
        dtype: ``"float32"`` (exact) or ``"float16"`` (half the disk).
        max_bytes: the disk cap for the snapshot files; see the module docstring.
        optimizer: keep the optimizer's state in the snapshots (gradient RMS over time).

    Raises:
        ValueError: a bad argument, or (at the start of training) a cap without room for two
            snapshots, or a folder that holds a run of another model.
    """

    model: Any  # set by Keras (Callback.set_model)

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        every: Literal["epoch"] | int = "epoch",
        dtype: Dtype = "float32",
        max_bytes: int = DEFAULT_MAX_BYTES,
        optimizer: bool = False,
    ) -> None:
        super().__init__()
        if every != "epoch" and not (isinstance(every, int) and every >= 1):
            raise ValueError(
                f"every must be 'epoch' or a positive number of batches; received {every!r}"
            )
        if dtype not in ("float32", "float16"):
            raise ValueError(f"dtype must be 'float32' or 'float16'; received {dtype!r}")
        if not isinstance(max_bytes, int) or max_bytes <= 0:
            raise ValueError(
                f"max_bytes must be a positive number of bytes; received {max_bytes!r}"
            )
        self.run_dir = Path(run_dir)
        self.every = every
        self.dtype = dtype
        self.max_bytes = max_bytes
        self.optimizer = bool(optimizer)
        self._manifest: dict[str, Any] | None = None
        self._epoch = 0
        """The Keras epoch number (from 1) being trained now."""
        self._epoch_offset = 0
        self._batches = 0
        """Batches trained in this run so far (across fits)."""
        self._listed_at = -math.inf
        """When the manifest was last written (``time.monotonic``)."""
        self._unlisted = False
        """Whether a snapshot was recorded that the manifest does not list yet."""

    # Keras hooks ------------------------------------------------------------------------------

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._load_or_start()
        manifest = self._state()
        if not manifest["snapshots"]:
            self._record(0, 0, "before training", {})

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        last = max((s["epoch"] for s in self._state()["snapshots"]), default=0)
        if epoch + 1 + self._epoch_offset <= last and self._epoch == 0:
            self._epoch_offset = last - epoch  # a new fit() that counts from 0 again
        self._epoch = epoch + 1 + self._epoch_offset

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches += 1
        if isinstance(self.every, int) and self._batches % (self.every * self._stride()) == 0:
            label = f"epoch {self._epoch}, batch {batch + 1}"
            self._record(self._batches, self._epoch, label, logs or {})

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.every == "epoch" and self._epoch % self._stride() == 0:
            self._record(self._epoch, self._epoch, f"epoch {self._epoch}", logs or {})
        if self._unlisted:
            self._write_manifest()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        step = self._batches if isinstance(self.every, int) else self._epoch
        snapshots = self._state()["snapshots"]
        if step and (not snapshots or snapshots[-1]["step"] != step):
            label = f"epoch {self._epoch}" + (
                f", batch {self._batches}" if isinstance(self.every, int) else ""
            )
            self._record(step, self._epoch, f"{label} (end of training)", logs or {})
        if self._unlisted:
            self._write_manifest()
        self._epoch = 0

    # The run folder ---------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        assert self._manifest is not None, "on_train_begin has not run"
        return self._manifest

    def _stride(self) -> int:
        return int(self._state().get("stride", 1))

    def _weights(self) -> list[list[Any]]:
        from ..readers.live import read_live

        records = read_live(self.model)
        return [[layer.path, w.name, list(w.shape)] for layer, w in records.iter_weights()]

    def _load_or_start(self) -> None:
        weights = self._weights()
        path = self.run_dir / MANIFEST
        if self._manifest is None and path.is_file():
            old = json.loads(path.read_text())
            if old.get("weights") != weights:
                raise ValueError(
                    f"{self.run_dir} holds a run of another model ({MANIFEST} lists other "
                    "weights); give the recorder a new folder"
                )
            self._manifest = old
            if isinstance(self.every, int):
                self._batches = max((s["step"] for s in old["snapshots"]), default=0)
        if self._manifest is None:
            self._manifest = {
                "kerascope_run": MANIFEST_VERSION,
                "model": self.model.name,
                "unit": "epoch" if self.every == "epoch" else "batch",
                "every": self.every,
                "dtype": self.dtype,
                "max_bytes": self.max_bytes,
                "optimizer": self.optimizer,
                "stride": 1,
                "weights": weights,
                "snapshots": [],
            }
        itemsize = 2 if self.dtype == "float16" else 4
        need = sum(int(np.prod(shape)) for _, _, shape in weights) * itemsize
        if 2 * need > self.max_bytes:
            raise ValueError(
                f"max_bytes={self.max_bytes:,} has no room for two snapshots of about "
                f"{need:,} bytes each (the first and the last are always kept)"
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def _record(self, step: int, epoch: int, label: str, logs: dict[str, Any]) -> None:
        manifest = self._state()
        name = f"step-{step:07d}.weights.h5"
        final = self.run_dir / name
        with atomic_path(final) as tmp:
            if self.dtype == "float16" or not self.optimizer:
                full = tmp.with_name(f".full{tmp.name}")  # ends in .weights.h5, as Keras wants
                try:
                    self.model.save_weights(full)
                    _rewrite(full, tmp, half=self.dtype == "float16", optimizer=self.optimizer)
                finally:
                    full.unlink(missing_ok=True)
            else:
                self.model.save_weights(tmp)
            size = tmp.stat().st_size
            self._make_room(size)
        entry = {
            "step": step,
            "epoch": epoch,
            "label": label,
            "file": name,
            "bytes": size,
            "logs": {k: _number(v) for k, v in logs.items() if _number(v) is not None},
        }
        manifest["snapshots"] = [s for s in manifest["snapshots"] if s["step"] != step] + [entry]
        self._unlisted = True
        if time.monotonic() - self._listed_at >= MANIFEST_EVERY_S:
            self._write_manifest()

    def _make_room(self, size: int) -> None:
        """Thin the kept snapshots until one more of ``size`` bytes fits under the cap."""
        manifest = self._state()
        unit = self.every if isinstance(self.every, int) else 1
        kept = manifest["snapshots"]
        if self._stride() > 1 and len(kept) > 1 and kept[-1]["step"] % (self._stride() * unit):
            self._drop(kept[-1:])  # thinned: an off-grid final state is no longer the newest
        while manifest["snapshots"] and (
            sum(s["bytes"] for s in manifest["snapshots"]) + size > self.max_bytes
        ):
            kept = manifest["snapshots"]
            stride = self._stride()
            drop: list[dict[str, Any]] = []
            while not drop and stride * unit <= kept[-1]["step"]:
                stride *= 2  # keep only the steps on a grid twice as coarse
                drop = [s for s in kept[1:] if s["step"] % (stride * unit)]
            if drop:
                manifest["stride"] = stride
            else:  # only the first and the newest: the one being added becomes the newest
                drop = kept[-1:] if len(kept) > 1 else []
                if not drop:
                    break
            self._drop(drop)

    def _drop(self, drop: list[dict[str, Any]]) -> None:
        manifest = self._state()
        gone = {id(s) for s in drop}
        manifest["snapshots"] = [s for s in manifest["snapshots"] if id(s) not in gone]
        self._write_manifest()  # first stop listing them, then delete them
        for s in drop:
            (self.run_dir / s["file"]).unlink(missing_ok=True)

    def _write_manifest(self) -> None:
        write_atomic(self.run_dir / MANIFEST, json.dumps(self._state(), indent=1))
        self._listed_at = time.monotonic()
        self._unlisted = False


def _number(value: Any) -> float | None:
    try:
        return float(np.asarray(value).reshape(-1)[0]) if np.asarray(value).size == 1 else None
    except (TypeError, ValueError):
        return None


def _rewrite(src: Path, dst: Path, *, half: bool, optimizer: bool) -> None:
    """Copy the weights file ``src`` to ``dst``: without the optimizer's state unless
    ``optimizer``; with float arrays stored as float16 when ``half``."""
    import h5py

    from ..readers._optimizer import KERAS3_GROUP

    if half:
        _halve(src, dst, skip=() if optimizer else (KERAS3_GROUP,))
        return
    with h5py.File(src, "r") as a, h5py.File(dst, "w") as b:
        for key, value in a.attrs.items():
            b.attrs[key] = value
        for key in a:
            if optimizer or key != KERAS3_GROUP:
                a.copy(a[key], b, name=key)  # HDF5's own copy: no array passes through Python


def _halve(src: Path, dst: Path, skip: tuple[str, ...] = ()) -> None:
    """Copy the HDF5 file ``src`` to ``dst`` with float arrays stored as float16, leaving out
    the top-level members named in ``skip``."""
    import h5py

    def copy_dataset(key: str, item: Any, b: Any) -> None:
        data = item[()]
        if isinstance(data, np.ndarray) and data.dtype.kind == "f" and data.itemsize > 2:
            finite = data[np.isfinite(data)]
            if not finite.size or float(np.abs(finite).max()) <= FLOAT16_MAX:
                data = data.astype(np.float16)
        ds = b.create_dataset(key, data=data)
        for k, v in item.attrs.items():
            ds.attrs[k] = v

    def copy(a: Any, b: Any, skip: tuple[str, ...] = ()) -> None:
        for key, value in a.attrs.items():
            b.attrs[key] = value
        for key, item in a.items():
            if key in skip:
                continue
            if isinstance(item, h5py.Group):
                copy(item, b.create_group(key))
            else:
                copy_dataset(key, item, b)

    with h5py.File(src, "r") as a, h5py.File(dst, "w") as b:
        copy(a, b, skip)


@functools.cache
def _recorder_class() -> type:
    """``WeightRecorder``: the recorder as a ``keras.callbacks.Callback``, made on first use so
    that importing this module (as ``import extraction`` does for every module) needs no Keras."""
    from .._native import import_keras

    keras = import_keras()
    return type(
        "WeightRecorder",
        (_Recorder, keras.callbacks.Callback),
        {"__doc__": _Recorder.__doc__, "__module__": __name__, "__qualname__": "WeightRecorder"},
    )


def __getattr__(name: str) -> Any:
    if name == "WeightRecorder":
        return _recorder_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULT_MAX_BYTES", "WeightRecorder"]  # noqa: F822  (made on first use, see __getattr__)
