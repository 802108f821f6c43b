"""HDF5 access shared by the readers: open in place, bound every allocation, read lazily.

Decided edge cases:
- A ``model.weights.h5`` stored uncompressed (ZIP_STORED, what Keras writes) inside a zip is
  opened in place through a file object limited to the member's bytes: nothing is copied. A
  compressed member is inflated to a private temporary folder (0700) that is removed when the
  records are garbage-collected.
- A dataset whose declared size is absurd is refused before anything allocates it: more than
  ``MAX_ARRAY_BYTES`` in any case, and for data stored without compression, more than the file
  could hold (HDF5 would otherwise hand back a fill-value array of the declared size), and for
  compressed data, more than ``MAX_FILL_RATIO`` times the bytes its chunks take in the file
  (unwritten chunks read as the fill value: a few kB could declare gigabytes).
- HDF5 can make a dataset read bytes from elsewhere on the machine: external storage (raw bytes
  of any file), external links and virtual datasets (other HDF5 files). A stranger's file could
  then show the server's files as weights, so any of these is refused (UnsafeModel) when the file
  is opened, before a dataset is read.
- bfloat16, which Keras stores as raw 16-bit values with a ``dtype`` attribute, reads as
  ``ml_dtypes.bfloat16``.
"""

from __future__ import annotations

import io
import math
import os
import struct
import threading
import weakref
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptFile, UnsafeModel, fault_text
from ..records import Array, Extent, Weight
from ._layer_vars import is_trainable
from .safety import ARRAY_SLACK_BYTES, MAX_ARRAY_BYTES, MAX_FILL_RATIO, RATIO_CHECK_BYTES
from .store import ArraySource, ArrayStore

H5_ERRORS = (OSError, RuntimeError, SystemError, KeyError, ValueError, TypeError, IndexError)
"""What h5py raises on damaged structure: its errors map HDF5's error stack onto OSError,
RuntimeError, KeyError and ValueError, and a few corruptions surface as SystemError from its
lock; TypeError and IndexError come from attributes of unexpected types or shapes."""


_MEMBERS: dict[int, tuple[Path, int, int]] = {}
"""HDF5 files opened in place inside a zip, by HDF5 file id: (zip path, first byte, size)."""


class MemberFile(io.RawIOBase):
    """Read-only, seekable view of the bytes ``[start, start + size)`` of a file."""

    def __init__(self, path: Path, start: int, size: int) -> None:
        super().__init__()
        self.path, self.start, self.size = path, start, size
        self._f = path.open("rb")
        self._start = start
        self._size = size
        self._pos = 0
        self._lock = threading.Lock()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self._size - self._pos))
        with self._lock:
            self._f.seek(self._start + self._pos)
            got = self._f.readinto(view[:n]) or 0
        self._pos += got
        return got

    def close(self) -> None:
        self._f.close()
        super().close()


def stored_member_span(path: Path, info: zipfile.ZipInfo) -> tuple[int, int] | None:
    """(offset of the data, size) of an uncompressed, unencrypted zip member; else None."""
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        return None
    with path.open("rb") as f:
        f.seek(info.header_offset)
        header = f.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise CorruptFile(f"{path.name}: the zip entry of {info.filename!r} is damaged")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len, info.file_size


def open_h5(source: Path | io.RawIOBase, label: str) -> Any:
    """Open HDF5 read-only from a path or a seekable file object.

    Raises:
        CorruptFile: not readable HDF5.
    """
    import h5py

    if isinstance(source, Path):
        check_global_heaps(source, 0, source.stat().st_size, label)
    elif isinstance(source, MemberFile):
        check_global_heaps(source.path, source.start, source.size, label)
    try:
        if isinstance(source, Path):
            h5 = h5py.File(source, "r")
        else:
            h5 = h5py.File(io.BufferedReader(source, buffer_size=1 << 16), "r")
    except H5_ERRORS as exc:
        raise CorruptFile(f"{label} is not readable HDF5 ({one_line(exc)})") from exc
    if isinstance(source, MemberFile):
        _MEMBERS[h5.id.id] = (source.path, source.start, source.size)
        weakref.finalize(h5, _MEMBERS.pop, h5.id.id, None)
    try:
        refuse_foreign_links(h5, label)
    except BaseException:
        h5.close()
        raise
    return h5


def check_global_heaps(path: Path, start: int, size: int, label: str) -> None:
    """Refuse a global heap collection that would send HDF5 into an endless loop.

    HDF5 (as bundled with h5py 3.14) walks a collection's objects by their sizes; a free-space
    object of size 0 makes it read the same spot forever while holding h5py's global lock, so
    no thread of the process could use HDF5 again. Variable-length strings (the layer and weight
    names of every Keras .h5) live in these collections. Each ``GCOL`` signature in the bytes is
    walked the way HDF5 walks it, before HDF5 sees the file.

    Raises:
        CorruptFile: a collection with an object that does not advance.
    """
    import mmap

    if size < 16:
        return
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        end_of_data = min(start + size, len(buf))
        pos = buf.find(b"GCOL", start, end_of_data)
        while pos != -1:
            if pos + 16 <= end_of_data and buf[pos + 4] == 1:
                declared = int.from_bytes(buf[pos + 8 : pos + 16], "little")
                _walk_collection(buf, pos, min(pos + declared, end_of_data), label)
            pos = buf.find(b"GCOL", pos + 4, end_of_data)


_WORD = (1 << 64) - 1
"""HDF5 adds object sizes in 64-bit arithmetic, which wraps: a size near 2**64 steps back."""


def _walk_collection(buf: Any, pos: int, end: int, label: str) -> None:
    p = pos + 16
    steps = 0
    while p + 16 <= end:
        index = int.from_bytes(buf[p : p + 2], "little")
        object_size = int.from_bytes(buf[p + 8 : p + 16], "little")
        need = (16 + ((object_size + 7) & _WORD) // 8 * 8) & _WORD if index else object_size
        following = (p + need) & _WORD
        steps += 1
        if following <= p or steps > 1_000_000:
            raise CorruptFile(
                f"{label}: the HDF5 global heap at byte {pos} is damaged (the object at byte "
                f"{p} does not lead past itself); refused before HDF5 would loop on it"
            )
        p = following


def one_line(exc: BaseException) -> str:
    """What an h5py or zip failure says about the file, on one line (``errors.fault_text``:
    never a Python exception's name or an address)."""
    return fault_text(exc)


def refuse_foreign_links(h5: Any, label: str) -> None:
    """Refuse a file holding a link to another file (HDF5 would open it when followed).

    Raises:
        UnsafeModel: an external link anywhere in the file.
        CorruptFile: the link table cannot be walked.
    """
    import h5py

    found: list[str] = []

    def visit(name: str, link: Any) -> Any:
        if isinstance(link, h5py.ExternalLink):
            found.append(f"{name!r} -> {link.filename}:{link.path}")
            return True
        return None

    try:
        h5.visititems_links(visit)
    except H5_ERRORS as exc:
        raise CorruptFile(f"{label}: the HDF5 link table is damaged ({one_line(exc)})") from exc
    if found:
        raise UnsafeModel(
            f"{label}: {found[0]} is an external link into another file, which is never "
            "followed; expected weights stored in the file itself"
        )


class MergedGroup:
    """The same HDF5 group in several files, read as one (Keras's sharded weights split a layer's
    group between shards: its ``vars`` attributes in one file, its arrays in the next).

    Only what the layout readers use: membership, indexing, ``get``, iteration (names in order,
    each once), ``len``, ``attrs`` (the first file's value wins) and ``visititems``.
    """

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts
        self.name: str = parts[0].name
        self.attrs: dict[str, Any] = {}
        for part in parts:
            for key in part.attrs:
                self.attrs.setdefault(key, part.attrs[key])

    def __contains__(self, key: str) -> bool:
        return any(key in part for part in self.parts)

    def __getitem__(self, key: str) -> Any:
        found = [part[key] for part in self.parts if key in part]
        if not found:
            raise KeyError(key)
        groups = [g for g in found if is_group(g)]
        return MergedGroup(groups) if len(groups) == len(found) else found[0]

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def __iter__(self) -> Any:
        return iter(sorted({key for part in self.parts for key in part}))

    def __len__(self) -> int:
        return len({key for part in self.parts for key in part})

    def visititems(self, visit: Callable[[str, Any], Any]) -> Any:
        for part in self.parts:
            result = part.visititems(visit)
            if result is not None:
                return result
        return None


def is_dataset(obj: Any) -> bool:
    import h5py

    return isinstance(obj, h5py.Dataset)


def is_group(obj: Any) -> bool:
    import h5py

    from ._windows import VirtualGroup

    return isinstance(obj, (h5py.Group, MergedGroup, VirtualGroup))


def has_datasets(group: Any) -> bool:
    """Whether any dataset lives anywhere below ``group``."""
    found: list[bool] = []

    def visit(_name: str, obj: Any) -> Any:
        if is_dataset(obj):
            found.append(True)
            return True
        return None

    group.visititems(visit)
    return bool(found)


def dataset_weight(name: str, dataset: Any, budget: int, label: str, store: ArrayStore) -> Weight:
    """A lazy ``Weight`` of ``store`` for one HDF5 dataset, after checking its declared size.

    ``budget`` is the number of bytes the file can hold (its size).

    Raises:
        UnsafeModel: the declared size is larger than any real weight could be.
    """
    shape = tuple(int(d) for d in dataset.shape)
    bf16 = _attr_str(dataset.attrs.get("dtype")) == "bfloat16"
    dtype = "bfloat16" if bf16 else str(dataset.dtype)
    if dataset.dtype.hasobject or dataset.dtype.kind in ("O", "V") and not bf16:
        raise UnsafeModel(
            f"{label}: dataset {dataset.name!r} holds {dataset.dtype} values, not numbers; "
            "expected a numeric weight array"
        )
    if dataset.dtype.kind not in "biufcOV":
        raise CorruptFile(
            f"{label}: dataset {dataset.name!r} holds {dataset.dtype} values (text), not "
            "numbers; expected a numeric weight array"
        )
    if dataset.external:
        raise UnsafeModel(
            f"{label}: dataset {dataset.name!r} has external storage (its values are read from "
            f"{dataset.external[0][0]!r}), which is never read; expected weights in the file"
        )
    if dataset.is_virtual:
        raise UnsafeModel(
            f"{label}: dataset {dataset.name!r} is a virtual dataset mapped from other files, "
            "which are never read; expected weights stored in the file itself"
        )
    declared = math.prod(shape) * dataset.dtype.itemsize
    compressed = dataset.compression is not None or bool(
        dataset.chunks and dataset.id.get_create_plist().get_nfilters()
    )
    stored = dataset.id.get_storage_size()
    if (
        declared > MAX_ARRAY_BYTES
        or (not compressed and declared > budget + ARRAY_SLACK_BYTES)
        or (compressed and declared > RATIO_CHECK_BYTES and declared > MAX_FILL_RATIO * stored)
    ):
        raise UnsafeModel(
            f"{label}: dataset {dataset.name!r} declares {declared} bytes (shape {shape}) but "
            f"stores {stored} in a file of {budget}; refused, expected arrays that fit in the file"
        )
    return store.weight(
        name, DatasetSource(dataset, bf16), shape=shape, dtype=dtype, trainable=is_trainable(name)
    )


class DatasetSource(ArraySource):
    """Reads one dataset; ``read_into`` fills a caller's buffer instead (the sandboxed worker
    reads straight into the shared file it hands over, sparing a copy of the array)."""

    def __init__(self, dataset: Any, bf16: bool) -> None:
        self.dataset = dataset
        self.bf16 = bf16

    def read(self) -> Array:
        try:
            value = np.asarray(self.dataset[()])
        except H5_ERRORS as exc:
            raise _read_failure(self.dataset, exc) from exc
        if self.bf16:
            import ml_dtypes

            value = value.view(ml_dtypes.bfloat16) if value.itemsize == 2 else value
        return value

    def direct_dtype(self) -> np.dtype[Any] | None:
        """The dtype the file stores (uint16 under bfloat16)."""
        stored: np.dtype[Any] = np.dtype(self.dataset.dtype)
        return stored

    def read_into(self, out: Array) -> bool:
        """Fill ``out`` (the dataset's shape, its stored dtype); False when it cannot."""
        if out.shape != self.dataset.shape or out.dtype != self.dataset.dtype or not out.size:
            return False
        try:
            self.dataset.read_direct(out)
        except H5_ERRORS as exc:
            raise _read_failure(self.dataset, exc) from exc
        return True

    def extent(self) -> Extent | None:
        """Where the values lie as plain bytes in the file, for a contiguous dataset stored
        without filters; None otherwise (chunked, compact, unwritten, or not plain numbers).

        HDF5's own address is checked against the file: the first and last values read
        through HDF5 must equal the bytes found there.
        """
        ds = self.dataset
        try:
            if ds.chunks is not None or ds.external or ds.is_virtual or not ds.size:
                return None
            dtype = np.dtype(ds.dtype)
            offset = ds.id.get_offset()
            if offset is None or dtype.kind not in "biuf" or dtype.itemsize > 8:
                return None
            if ds.file.driver == "sec2":
                path, start = Path(ds.file.filename), 0
                end = path.stat().st_size
            else:
                member = _MEMBERS.get(ds.file.id.id)
                if member is None:
                    return None
                path, start, size = member
                end = start + size
            where = start + int(offset)
            nbytes = ds.size * dtype.itemsize
            if where < start or where + nbytes > end:
                return None
            last = tuple(d - 1 for d in ds.shape)
            first = tuple(0 for _ in ds.shape)
            with path.open("rb") as f:
                head = os.pread(f.fileno(), dtype.itemsize, where)
                tail = os.pread(f.fileno(), dtype.itemsize, where + nbytes - dtype.itemsize)
            if (
                head != np.asarray(ds[first], dtype).tobytes()
                or tail != np.asarray(ds[last], dtype).tobytes()
            ):
                return None
        except (*H5_ERRORS, OverflowError):
            return None
        return Extent(str(path), where, dtype.str)


def _read_failure(dataset: Any, exc: BaseException) -> BaseException:
    """What reading ``dataset`` failing with ``exc`` says about the file: a filter this HDF5
    does not have is named (HDF5 itself reports only the plugin folder it searched); any
    other failure is left as it is. ``Weight.array`` puts either in its one line."""
    try:
        plist = dataset.id.get_create_plist()
        filters = [plist.get_filter(i) for i in range(plist.get_nfilters())]
    except H5_ERRORS:
        return exc
    import h5py

    missing = [(code, name) for code, _, _, name in filters if not h5py.h5z.filter_avail(code)]
    if not missing:
        return exc
    code, name = missing[0]
    label = _attr_str(name) or "unnamed"
    return OSError(
        f"it is stored with HDF5 filter {code} ({label!r}), which is not available here; "
        "expected gzip, lzf, szip or shuffle, as Keras and h5py write"
    )


def _attr_str(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    return None


def attr_text(obj: Any, key: str) -> str | None:
    """An HDF5 attribute as text (h5py returns bytes or str depending on the writer)."""
    return _attr_str(obj.attrs.get(key))


def attr_list(obj: Any, key: str) -> list[str]:
    """An HDF5 attribute holding a list of names, also when Keras split it into ``key0``..."""
    value = obj.attrs.get(key)
    if value is None and f"{key}0" in obj.attrs:
        parts: list[Any] = []
        i = 0
        while f"{key}{i}" in obj.attrs:
            parts.extend(obj.attrs[f"{key}{i}"])
            i += 1
        value = parts
    if value is None:
        return []
    return [_attr_str(v) or str(v) for v in np.asarray(value).ravel().tolist()]
