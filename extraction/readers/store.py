"""Where records get their values: a ``WeightStore`` answers for the arrays behind them.

Records are plain data; a ``Weight`` names its values by an ``ArrayRef`` (the array's number in
its store, and how it is viewed). A store answers three questions about a ref, as TensorBoard's
``DataProvider`` answers for its runs: ``array`` (the values, read on first use and kept),
``stats`` (computed once, in one pass) and ``extent`` (where the values lie in a file as plain
bytes, when they do). Two stores implement it:

- ``ArrayStore`` (here): in this process, over the ``ArraySource`` each reader gives per array
  (demos, live models, trusted files, and inside the sandboxed worker);
- ``WorkerStore`` (``worker.py``): through the sandboxed worker, in a few typed messages.

Both keep what they read in one cache (``CachingStore``): an array read once is kept while its
records live, its statistics too, and views derived from it (``Weight.keras_axes``,
``Weight.dequantized``) are computed here from the stored array, never in the worker.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

import numpy as np

from ..analysis.stats import Stats, compute_stats
from ..kinds import WeightRole, role_of
from ..records import Array, ArrayRef, Extent, ModelWeights, Quantization, Weight


@dataclass(frozen=True)
class Stored:
    """What records say of one stored array."""

    name: str
    """The weight's name (``kernel``)."""
    what: str
    """How messages name it: ``weight 'kernel' of layer 'fc1'``."""
    shape: tuple[int, ...]
    dtype: str


def stored_arrays(records: ModelWeights) -> dict[int, Stored]:
    """Every stored array the records name, by index (a shared array once).

    Raises:
        ValueError: two records give one stored array different shapes.
    """
    found: dict[int, Stored] = {}
    for layer, weight in records.iter_weights():
        slots = weight.optimizer.slots if weight.optimizer is not None else ()
        arrays = [weight, *(weight.optimizer_slot(s.name) for s in slots)]
        for w in arrays:
            if not w.ref.is_stored:
                continue
            index = w.ref.index
            what = f"weight {w.name!r} of layer {layer.path!r}"
            entry = Stored(w.name, what, w.shape, w.dtype)
            if found.setdefault(index, entry).shape != w.shape:
                raise ValueError(f"array {index} has shapes {found[index].shape} and {w.shape}")
    return found


T = TypeVar("T")


class WeightStore(Protocol):
    """What records ask for their values."""

    def array(self, ref: ArrayRef) -> Array:
        """The values of ``ref``, read-only; read on first use and kept."""
        ...

    def stats(self, ref: ArrayRef) -> Stats:
        """The statistics of ``ref``'s values; computed once (without handing the array over
        when the store can) and kept."""
        ...

    def extent(self, ref: ArrayRef) -> Extent | None:
        """Where ``ref``'s values lie in a file as plain bytes; None when they do not (a
        derived view, a compressed or chunked array, an array in memory)."""
        ...

    def cached_stats(self, ref: ArrayRef) -> Stats | None:
        """The statistics of ``ref`` if computed already (nothing is read)."""
        ...

    def keep_stats(self, ref: ArrayRef, stats: Stats) -> None:
        """Take statistics computed earlier for these same values (the persisted cache)."""
        ...

    def is_loaded(self, ref: ArrayRef) -> bool:
        """Whether ``ref``'s values are held already."""
        ...

    def loaded_bytes(self) -> int:
        """Bytes of the arrays held now (what the app's caches count)."""
        ...

    def release(self, ref: ArrayRef) -> None:
        """Done with a full pass over ``ref``'s values: a memory-mapped array hands its pages
        back to the page cache (it stays valid); nothing otherwise."""
        ...

    def computed(self, ref: ArrayRef, key: str, make: Callable[[], T]) -> T:
        """A value derived from ``ref``'s values (a spectrum) by ``make``, made once and kept."""
        ...

    def keep_computed(self, ref: ArrayRef, key: str, value: Any) -> None:
        """Take a derived value computed earlier for these same values (the persisted cache)."""
        ...

    def has_computed(self, ref: ArrayRef, key: str) -> bool:
        """Whether the derived value ``key`` of ``ref`` is held."""
        ...

    def peek_computed(self, ref: ArrayRef, key: str) -> Any:
        """The derived value ``key`` of ``ref`` if held, else None (nothing is computed)."""
        ...

    def failure(self, ref: ArrayRef) -> Exception | None:
        """Why ``ref``'s stored values could not be read, once a read has failed (it is not
        tried again: a file that takes a worker 30 s to fail on costs that once); None
        otherwise, also before anything was read."""
        ...


class ArraySource:
    """How ``ArrayStore`` reads one stored array. A reader subclasses it to say what more it
    can do than ``read``; the defaults say "nothing more"."""

    def read(self) -> Array:
        """The stored values (called at most once per store while they are kept)."""
        raise NotImplementedError

    def extent(self) -> Extent | None:
        """Where the values lie in a file as plain bytes (contiguous HDF5 datasets, safetensors
        tensors), checked against the file; None otherwise."""
        return None

    def direct_dtype(self) -> np.dtype[Any] | None:
        """The dtype ``read_into`` fills (the stored one: uint16 under bfloat16); None when
        this source cannot read into a caller's buffer."""
        return None

    def read_into(self, out: Array) -> bool:
        """Fill ``out`` (the array's shape, ``direct_dtype()``) with the values, sparing a copy
        (the worker reads straight into the file it hands over); False when it cannot."""
        return False

    def release(self) -> None:
        """Hand a memory map's pages back after a full pass (see ``WeightStore.release``)."""


class InMemory(ArraySource):
    """An array that is already in memory."""

    def __init__(self, array: Array) -> None:
        self.values = array

    def read(self) -> Array:
        return self.values


class Deferred(ArraySource):
    """An array read by calling ``read`` (a reader's closure)."""

    def __init__(self, read: Callable[[], Array]) -> None:
        self._read = read

    def read(self) -> Array:
        return self._read()


def derive(values: Array, ref: ArrayRef) -> Array:
    """The view ``ref`` asks for of the stored ``values``: dequantized (in the stored axes,
    where the quantization axis is counted), then brought to Keras's axes."""
    if ref.dequantize is not None:
        values = ref.dequantize.dequantize(values)
    if ref.layout is not None:
        from ..layouts import to_keras_axes

        values = to_keras_axes(values, ref.layout)
    return values


class CachingStore:
    """The cache both stores share: arrays, statistics and derived views by ref.

    Subclasses say how to read a stored array (``_read``), how to get its statistics without
    keeping it (``_fetch_stats``), and where it lies (``extent``). One lock per stored array:
    two threads asking for one array read it once; different arrays are read at once.
    """

    def __init__(self) -> None:
        self._arrays: dict[ArrayRef, Array] = {}
        self._stats: dict[ArrayRef, Stats] = {}
        self._locks: dict[int, threading.RLock] = {}
        self._guard = threading.Lock()
        self._memos: dict[tuple[ArrayRef, str], Any] = {}
        self._failures: dict[int, Exception] = {}

    def _read(self, index: int) -> Array:
        raise NotImplementedError

    def failure(self, ref: ArrayRef) -> Exception | None:
        return self._failures.get(ref.index)

    def _reading(self, index: int, read: Callable[[], T]) -> T:
        """``read()`` of stored array ``index``; its failure is kept and raised again on later
        asks without reading (callers hold the array's lock)."""
        failed = self._failures.get(index)
        if failed is not None:
            raise failed.with_traceback(None)
        try:
            return read()
        except Exception as exc:  # any reader's failure on damaged bytes  # noqa: BLE001
            self._failures[index] = exc
            raise

    def _fetch_stats(self, index: int) -> Stats:
        """Statistics of stored array ``index``, which is not held: by default read and kept."""
        return compute_stats(self.array(ArrayRef(index)))

    def extent(self, ref: ArrayRef) -> Extent | None:
        raise NotImplementedError

    def release(self, ref: ArrayRef) -> None:
        return None

    def _lock(self, index: int) -> threading.RLock:
        with self._guard:
            lock = self._locks.get(index)
            if lock is None:
                lock = self._locks[index] = threading.RLock()
            return lock

    def array(self, ref: ArrayRef) -> Array:
        hit = self._arrays.get(ref)
        if hit is not None:
            return hit
        with self._lock(ref.index):
            hit = self._arrays.get(ref)
            if hit is None:
                if ref.is_stored:
                    value = np.asarray(self._reading(ref.index, partial(self._read, ref.index)))
                else:
                    value = np.asarray(derive(self.array(ref.stored), ref))
                if value.flags.writeable:
                    value.setflags(write=False)
                self._arrays[ref] = hit = value
            return hit

    def stats(self, ref: ArrayRef) -> Stats:
        hit = self._stats.get(ref)
        if hit is not None:
            return hit
        with self._lock(ref.index):
            hit = self._stats.get(ref)
            if hit is None:
                if ref.is_stored and ref not in self._arrays:
                    hit = self._reading(ref.index, partial(self._fetch_stats, ref.index))
                else:
                    hit = compute_stats(self.array(ref))
                self._stats[ref] = hit
                if ref.is_stored:
                    self.release(ref)
            return hit

    def cached_stats(self, ref: ArrayRef) -> Stats | None:
        return self._stats.get(ref)

    def computed(self, ref: ArrayRef, key: str, make: Callable[[], T]) -> T:
        # Under the array's lock: a costly spectrum is not made twice at once by the health
        # scan and the statistics job (the second waits for the first); other arrays' go on.
        if (ref, key) in self._memos:
            return self._memos[(ref, key)]  # type: ignore[no-any-return]
        with self._lock(ref.index):
            if (ref, key) not in self._memos:
                self._memos[(ref, key)] = make()
            return self._memos[(ref, key)]  # type: ignore[no-any-return]

    def keep_computed(self, ref: ArrayRef, key: str, value: Any) -> None:
        with self._lock(ref.index):
            self._memos.setdefault((ref, key), value)

    def has_computed(self, ref: ArrayRef, key: str) -> bool:
        return (ref, key) in self._memos

    def peek_computed(self, ref: ArrayRef, key: str) -> Any:
        return self._memos.get((ref, key))

    def keep_stats(self, ref: ArrayRef, stats: Stats) -> None:
        self._stats.setdefault(ref, stats)

    def is_loaded(self, ref: ArrayRef) -> bool:
        return ref in self._arrays

    def loaded_bytes(self) -> int:
        # A derived view that shares its stored array's memory (a transpose) is not counted
        # twice; a dequantized copy is.
        with self._guard:
            held = list(self._arrays.items())
        return sum(a.nbytes for ref, a in held if ref.is_stored or a.base is None)

    def forget(self, ref: ArrayRef) -> None:
        """Let the held values of ``ref`` and its views go (their statistics stay); the next
        ``array`` reads them again."""
        with self._lock(ref.index), self._guard:
            for key in [k for k in self._arrays if k.index == ref.index]:
                del self._arrays[key]


class ArrayStore(CachingStore):
    """The store in this process: one ``ArraySource`` per array, added by a reader.

    It keeps what reading needs (an open HDF5 file, a memory map, a temporary folder) while any
    record of it is in use: ``close_with`` ends those when the store is garbage-collected.
    """

    def __init__(self) -> None:
        super().__init__()
        self._sources: list[ArraySource] = []

    def add(self, source: ArraySource | Array) -> ArrayRef:
        """A new array of this store (an ndarray is kept as it is); returns its ref."""
        if isinstance(source, np.ndarray):
            source = InMemory(source)
        with self._guard:
            self._sources.append(source)
            return ArrayRef(len(self._sources) - 1)

    def weight(
        self,
        name: str,
        source: ArraySource | Array,
        *,
        shape: tuple[int, ...] | None = None,
        dtype: str | None = None,
        role: WeightRole | None = None,
        trainable: bool = True,
        quantization: Quantization | None = None,
        layout: str | None = None,
    ) -> Weight:
        """A ``Weight`` of this store over ``source``: shape and dtype from the array when it
        is one (a source's must be given, since it is not read now), role from the name."""
        if isinstance(source, np.ndarray):
            shape = tuple(source.shape) if shape is None else shape
            dtype = source.dtype.name if dtype is None else dtype
        if shape is None or dtype is None:
            raise ValueError(f"weight {name!r}: a source needs its shape and dtype given")
        return Weight(
            name,
            role_of(name) if role is None else role,
            shape,
            dtype,
            trainable,
            self.add(source),
            self,
            quantization,
            layout,
        )

    def source(self, ref: ArrayRef) -> ArraySource:
        """The source of stored array ``ref.index``.

        Raises:
            IndexError: no such array in this store.
        """
        if not 0 <= ref.index < len(self._sources):
            raise IndexError(f"no array {ref.index} in a store of {len(self._sources)}")
        return self._sources[ref.index]

    def __len__(self) -> int:
        return len(self._sources)

    def _read(self, index: int) -> Array:
        return self.source(ArrayRef(index)).read()

    def extent(self, ref: ArrayRef) -> Extent | None:
        return self.source(ref).extent() if ref.is_stored else None

    def release(self, ref: ArrayRef) -> None:
        if ref.is_stored:
            self.source(ref).release()

    def close_with(self, close: Callable[..., Any], *args: Any) -> None:
        """Call ``close(*args)`` when this store is garbage-collected (or at exit)."""
        weakref.finalize(self, close, *args)


__all__ = [
    "ArraySource",
    "ArrayStore",
    "CachingStore",
    "Deferred",
    "InMemory",
    "Stored",
    "WeightStore",
    "derive",
    "stored_arrays",
]
