"""Snapshots of one run saved by the same Keras code: read the next one without parsing it again.

Keras writes every snapshot of a training (``save_weights``, ``ModelCheckpoint``) with the same
HDF5 layout: the same groups, attributes and heaps at the same byte offsets, each array stored
contiguously at the same place. Only the numbers inside the arrays differ. So once one snapshot
has been read by its reader (every structure check done: heaps, links, declared sizes), the next
one is that snapshot with other numbers if and only if every byte outside the arrays' extents is
the same. Then its arrays are slices of its bytes, and HDF5 never parses it.

Decided (each has a test):
- Only plain HDF5 files (``.h5``, ``.weights.h5``) whose every weight lies contiguously in the
  file as plain numbers (``Extent``) take this path; a zip (``.keras``: its headers carry dates and
  checksums) or a chunked, compressed or compact array does not, and is read by its reader.
- The bytes compared are all of the file but the extents of plain-number datasets (weights,
  optimizer slots, the iteration count); a file of another size, or one byte different there,
  is read by its reader (and becomes the template for the files after it).
- Nothing here is parsed: a comparison of bytes, then ``np.frombuffer`` of the extents.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..records import Array, ModelWeights
from ._h5 import H5_ERRORS, DatasetSource
from .store import ArrayStore

_PLAIN = "biuf"


class SameLayout:
    """A snapshot that was read by its reader, as a template for the files after it."""

    def __init__(
        self,
        path: Path,
        image: bytes,
        gaps: list[tuple[int, int]],
        places: dict[str, tuple[int, np.dtype[Any], tuple[int, ...]]],
    ) -> None:
        self.path = path
        self.image = np.frombuffer(image, np.uint8)
        """The template file's bytes."""
        self._buffers: list[Array | None] = [None, None]
        self._turn = 0
        self.gaps = gaps
        """``(start, end)`` byte ranges outside every array extent: these must match."""
        self.places = places
        """Each weight's ``(offset, dtype, shape)`` by export key."""

    @classmethod
    def of(cls, model: ModelWeights, path: Path) -> SameLayout | None:
        """A template from ``model``, just read from the HDF5 file at ``path``; None when the
        file is not one whose snapshots can be compared this way (see the module docstring)."""
        places: dict[str, tuple[int, np.dtype[Any], tuple[int, ...]]] = {}
        h5 = None
        if not isinstance(model.store, ArrayStore):
            return None
        from ..analysis.snapshots import STEPS_KEY

        parts = []
        for layer, weight in model.iter_weights():
            parts.append((model.export_key(layer, weight), weight))
            state = weight.optimizer
            for slot in state.slots if state is not None else ():  # and each slot beside it
                part = weight.optimizer_slot(slot.name)
                parts.append((model.export_key(layer, part), part))
            if state is not None and state.iterations_ref is not None:
                steps = replace(weight, ref=state.iterations_ref, shape=(), dtype="int64")
                parts.append((STEPS_KEY, steps))
        for key, weight in parts:
            source = model.store.source(weight.ref)
            extent = source.extent()
            if extent is None or Path(extent.path).resolve() != path.resolve():
                return None
            dtype = np.dtype(extent.dtype)
            if dtype.kind not in _PLAIN or (weight.dtype not in (dtype.name, str(dtype))):
                return None  # bfloat16 and others read by name: left to the reader
            places[key] = (extent.offset, dtype, weight.shape)
            if isinstance(source, DatasetSource):
                h5 = source.dataset.file
        if not places or h5 is None:
            return None
        try:
            spans = _array_spans(h5)
            image = path.read_bytes()
        except (*H5_ERRORS, OSError):
            return None
        gaps, at = [], 0
        for start, end in sorted(spans):
            if start > at:
                gaps.append((at, start))
            at = max(at, end)
        gaps.append((at, len(image)))
        return cls(path, image, gaps, places)

    def arrays(self, path: Path) -> dict[str, Array] | None:
        """Every weight of the file at ``path`` by export key, when it is this template with
        other numbers; None when it is not (read it with its reader).

        The arrays are read-only views of one of two buffers that take turns: they stay valid
        until the second call after this one (a run's pass holds this snapshot and the one
        before it), so reading a run faults no fresh pages in per snapshot.
        """
        size = self.image.size
        try:
            if path.stat().st_size != size:
                return None
            buffer = self._buffers[self._turn]
            if buffer is None:
                buffer = self._buffers[self._turn] = np.empty(size, np.uint8)
            with path.open("rb") as f:
                done = f.readinto(buffer.data)
        except OSError:
            return None
        if done != size:
            return None
        for start, end in self.gaps:
            if not np.array_equal(buffer[start:end], self.image[start:end]):
                return None
        self._turn ^= 1
        out: dict[str, Array] = {}
        for key, (offset, dtype, shape) in self.places.items():
            array = buffer[offset : offset + math.prod(shape) * dtype.itemsize].view(dtype)
            array = array.reshape(shape)
            array.flags.writeable = False
            out[key] = array
        return out


def _array_spans(h5: Any) -> list[tuple[int, int]]:
    """``(start, end)`` of every contiguous plain-number dataset's values in the file."""
    import h5py

    spans: list[tuple[int, int]] = []

    def visit(_name: str, obj: Any) -> None:
        if not isinstance(obj, h5py.Dataset) or obj.chunks is not None or not obj.size:
            return
        dtype = np.dtype(obj.dtype)
        offset = obj.id.get_offset()
        if offset is None or dtype.kind not in _PLAIN or obj.external or obj.is_virtual:
            return
        spans.append((int(offset), int(offset) + obj.size * dtype.itemsize))

    h5.visititems(visit)
    return spans
