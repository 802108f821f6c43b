"""The records every reader yields: a model is layers, a layer is named weights.

Arrays are read lazily: a ``Weight`` holds a loader, and the array is read (and its statistics
computed) the first time something asks, then kept. Records are shared between threads (the app
serves many sessions from one opened model), so the caches are guarded by a lock.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .analysis.stats import Stats, compute_stats
from .errors import CorruptFile, KerascopeError, LayerNotFound, fault_text
from .kinds import LayerKind, WeightRole, role_of

if TYPE_CHECKING:
    from .graph import ModelGraph

SourceFormat = str
"""How records were read: ``live``, ``demo``, ``application``, or the id of a file format in
``extraction.readers.FORMATS`` (``keras_zip``, ``h5_model`` ...)."""

Array = np.ndarray[Any, Any]
_T = TypeVar("_T")
_MISSING = object()
ML_DTYPES_ITEMSIZES = {"bfloat16": 2, "float8_e4m3fn": 1, "float8_e5m2": 1, "float8_e8m0fnu": 1}
"""Dtypes numpy holds only through ``ml_dtypes``, by name, with their bytes per value: known
without importing ``ml_dtypes`` (0.7 costs about 0.5 s of CPU), which only reading such an array
needs."""


@dataclass(frozen=True)
class Extent:
    """Where a weight's values lie in a file as plain bytes: ``prod(shape)`` values of
    ``dtype`` in C order from ``offset``, so one plain read gives the array with no parsing.

    A loader that knows this offers it as ``loader.extent()`` (HDF5 contiguous datasets,
    safetensors tensors); the sandboxed worker sends it instead of copying the array.
    """

    path: str
    """The file holding the bytes."""
    offset: int
    """Byte offset of the first value in that file."""
    dtype: str
    """numpy's spelling with byte order (``<f4``); unsigned integers of the same size for a
    type numpy cannot spell (bfloat16 is ``<u2``)."""


@dataclass(frozen=True)
class Quantization:
    """Affine quantization of stored integers: ``real = scale * (stored - zero_point)``.

    Plain tuples only, so the record pickles and compares by value.
    """

    scale: tuple[float, ...]
    """One scale per tensor, or one per channel along ``axis``."""
    zero_point: tuple[int, ...]
    """One zero point per scale (TFLite's int8 weights use 0)."""
    axis: int | None = None
    """The stored axis the per-channel scales run along; None for one scale per tensor."""

    @property
    def per_channel(self) -> bool:
        """Whether there is one scale per channel."""
        return self.axis is not None and len(self.scale) > 1

    def dequantize(self, stored: Array) -> Array:
        """The real values of ``stored`` as float32 (computed in float64, as TFLite's
        reference kernels do); ``stored`` is not modified.

        Raises:
            ValueError: per-channel scales that do not match the axis length.
        """
        values = np.asarray(stored, dtype=np.float64)
        scale = np.asarray(self.scale, dtype=np.float64)
        zero = np.asarray(self.zero_point or (0,) * len(self.scale), dtype=np.float64)
        if self.per_channel and self.axis is not None:
            if values.ndim <= self.axis or values.shape[self.axis] != scale.size:
                raise ValueError(
                    f"{scale.size} per-channel scales along axis {self.axis} do not fit an array "
                    f"of shape {values.shape}"
                )
            shape = [1] * values.ndim
            shape[self.axis] = scale.size
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        else:
            scale, zero = scale.reshape(-1)[:1], zero.reshape(-1)[:1]
        return ((values - zero) * scale).astype(np.float32)


@dataclass(frozen=True, eq=False)
class Weight:
    """One named weight array of a layer."""

    name: str
    """Name within its layer: ``kernel``, ``bias``, ``forward_lstm/kernel``; ``vars/0`` when the
    file only knows the index."""
    role: WeightRole
    """What the array is for, decided from its name."""
    shape: tuple[int, ...]
    """The array's shape, known without reading it."""
    dtype: str
    """The array's dtype as numpy spells it (``float32``, ``bfloat16`` ...)."""
    trainable: bool
    """False for statistics such as BatchNorm's moving mean and variance."""
    loader: Callable[[], Array] = field(repr=False)
    """Reads the array; called at most once."""
    quantization: Quantization | None = None
    """How stored integers map to real values (TFLite); None for plain float weights."""
    layout: str | None = None
    """The axis order the file stores (``OHWI`` for a TFLite conv filter, see
    ``extraction.layouts``); None when it is Keras's own."""
    stats_loader: Callable[[], Stats] | None = field(default=None, repr=False)
    """Computes the statistics without handing the array over (the sandboxed worker computes
    them beside its read); None: they are computed from ``array()``."""
    release: Callable[[], None] | None = field(default=None, repr=False)
    """For an array that is a view of a memory-mapped file: hands its pages back to the page
    cache after a full pass (statistics), so walking a checkpoint larger than memory keeps the
    process's resident memory to about one array. The array stays valid (pages are re-read on
    the next touch)."""
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _memo_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _owner: Any = field(default=None, repr=False)
    """The records this weight belongs to, kept alive while the weight is (see ModelWeights)."""

    @property
    def size(self) -> int:
        """Number of values, from the shape alone."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the array takes in memory, from shape and dtype alone."""
        itemsize = ML_DTYPES_ITEMSIZES.get(self.dtype)
        if itemsize is None:
            try:
                itemsize = np.dtype(self.dtype).itemsize
            except TypeError:
                itemsize = 4
        return self.size * itemsize

    def array(self) -> Array:
        """The values, read on first use and kept; read-only so no view can alter them.

        Raises:
            CorruptFile: the file's bytes for this array cannot be read (damaged data found
                only now, since arrays are read lazily).
            KerascopeError: reading failed earlier (``failure``): the same error again, without
                reading the bytes again.
        """
        with self._lock:
            if "array" not in self._cache:
                self._raise_failure()
                try:
                    value = np.asarray(self.loader())
                except Exception as exc:  # any reader's failure on damaged bytes  # noqa: BLE001
                    raise self._failed(exc) from exc
                if value.flags.writeable:
                    value.setflags(write=False)
                self._cache["array"] = value
            return self._cache["array"]  # type: ignore[no-any-return]

    def stats(self) -> Stats:
        """Statistics of the values, computed on first use and kept.

        Raises:
            CorruptFile, KerascopeError: as ``array()``.
        """
        cached = self._cache.get("stats")
        if cached is None:
            self._raise_failure()
            if self.stats_loader is not None and "array" not in self._cache:
                try:
                    cached = self.stats_loader()
                except Exception as exc:  # as array()  # noqa: BLE001
                    raise self._failed(exc) from exc
            else:
                cached = compute_stats(self.array())
            self._cache["stats"] = cached
            if self.release is not None:
                self.release()
        return cached  # type: ignore[no-any-return]

    def readable_stats(self) -> Stats | None:
        """The statistics, or None when the values cannot be read (``failure`` then says why).

        For views of a whole model: one damaged weight shows as unreadable there, and the
        others are still shown.
        """
        try:
            return self.stats()
        except KerascopeError:
            return None

    @property
    def failure(self) -> str | None:
        """Why the values cannot be read, once a read has failed; None otherwise (also before
        anything was read). A failed read is not tried again: a file that takes a worker 30 s to
        fail on (millions of tiny compressed chunks) costs that once, not on every view."""
        failed = self._cache.get("failed")
        return str(failed) if failed is not None else None

    def _failed(self, exc: BaseException) -> KerascopeError:
        """The error for a read that raised ``exc`` (kept: ``failure``)."""
        error = unreadable(self.name, exc)
        self._cache["failed"] = error
        return error

    def _raise_failure(self) -> None:
        failed = self._cache.get("failed")
        if failed is not None:
            raise type(failed)(*failed.args)

    def keep_stats(self, stats: Stats) -> None:
        """Take statistics computed earlier for these same bytes (the persisted cache)."""
        self._cache.setdefault("stats", stats)

    @property
    def has_stats(self) -> bool:
        """Whether the statistics have been computed already."""
        return "stats" in self._cache

    def computed(self, key: str, make: Callable[[], _T]) -> _T:
        """A value derived from this weight's values (its spectrum), made on first use and kept.

        Two threads asking at once make it once: the second waits for the first (a costly
        spectrum is not computed twice by the health scan and the statistics job). ``key``
        must not be one of the weight's own cache entries (``array``, ``stats``).
        """
        memo = self._cache.get(f"memo:{key}", _MISSING)
        if memo is not _MISSING:
            return memo  # type: ignore[no-any-return]
        with self._memo_lock:
            memo = self._cache.get(f"memo:{key}", _MISSING)
            if memo is _MISSING:
                memo = make()
                self._cache[f"memo:{key}"] = memo
            return memo  # type: ignore[no-any-return]

    def keep_computed(self, key: str, value: Any) -> None:
        """Take a derived value computed earlier for these same bytes (the persisted cache)."""
        self._cache.setdefault(f"memo:{key}", value)

    def has_computed(self, key: str) -> bool:
        """Whether the derived value ``key`` has been made (or kept) already."""
        return f"memo:{key}" in self._cache

    def peek_computed(self, key: str) -> Any:
        """The derived value ``key`` if it has been made, else None (nothing is computed)."""
        return self._cache.get(f"memo:{key}")

    def keras_axes(self) -> Weight:
        """This weight with its axes in Keras's order (what the views expect).

        Itself when the file stores Keras's layout; otherwise a derived weight (kept) whose
        array is a transposed or reshaped view of the stored one, never a copy of other values.
        """
        if self.layout is None:
            return self
        from .layouts import keras_shape, to_keras_axes

        return self._derived(
            "keras_axes",
            lambda: Weight(
                self.name, self.role, keras_shape(self.shape, self.layout or ""), self.dtype,
                self.trainable, lambda: to_keras_axes(self.array(), self.layout or ""),
                self.quantization, None, _owner=self._owner,
            ),
        )  # fmt: skip

    def dequantized(self) -> Weight:
        """A float32 weight derived from the stored integers and ``quantization`` (kept).

        Raises:
            ValueError: the weight is not quantized.
        """
        q = self.quantization
        if q is None:
            raise ValueError(f"weight {self.name!r} is not quantized; it has no float view")
        return self._derived(
            "dequantized",
            lambda: Weight(
                self.name, self.role, self.shape, "float32", self.trainable,
                lambda: q.dequantize(self.array()), None, self.layout, _owner=self._owner,
            ),
        )  # fmt: skip

    def _derived(self, key: str, make: Callable[[], Weight]) -> Weight:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make()
            return self._cache[key]  # type: ignore[no-any-return]

    @property
    def is_loaded(self) -> bool:
        """Whether the array has been read already (for tests of laziness)."""
        return "array" in self._cache

    def unload(self) -> None:
        """Forget the array read (its statistics stay); ``array()`` reads it again. For a
        process that reads every weight once in turn (the sandboxed worker)."""
        with self._lock:
            self._cache.pop("array", None)

    def renamed(self, name: str, *, keep_role: bool = False) -> Weight:
        """A copy called ``name`` (every other field kept); its role is decided again from the
        new name unless ``keep_role`` (a de-duplicated ``kernel_1`` is still a kernel)."""
        if name == self.name:
            return self
        role = self.role if keep_role else role_of(name)
        return replace(
            self, name=name, role=role, _cache={}, _lock=threading.Lock(),
            _memo_lock=threading.RLock(), _owner=None,
        )  # fmt: skip


@dataclass(frozen=True, eq=False)
class LayerWeights:
    """One layer of a model and its own weights."""

    name: str
    """The layer's own name."""
    path: str
    """Names from the outermost model down, joined by ``/`` (``encoder/block/dense``)."""
    class_name: str
    """The Keras class, such as ``Conv2D``; a custom class keeps its registered name."""
    kind: LayerKind
    """What views make sense for it."""
    config: Mapping[str, Any]
    """The layer's config as the source records it; empty when the source does not say."""
    weights: tuple[Weight, ...]
    """Its weights, in the order Keras lists them; empty for layers without weights."""
    wrapped: str = ""
    """The class a wrapper wraps (``LSTM`` for ``Bidirectional(LSTM)``, ``Conv2D`` for
    ``TimeDistributed(Conv2D)``, seen through an ``RNN`` to its cell), decided with ``kind``
    when the record is made (``layouts.classify``); empty for a layer that wraps nothing or
    a source that does not say."""
    _owner: Any = field(default=None, repr=False)
    """The records this layer belongs to, kept alive while the layer is."""

    @property
    def params(self) -> int:
        """Number of values in all its weights."""
        return sum(w.size for w in self.weights)

    def weight(self, name: str) -> Weight:
        """The weight called ``name``.

        Raises:
            LayerNotFound: no weight has that name; the message lists those that exist.
        """
        for w in self.weights:
            if w.name == name:
                return w
        have = ", ".join(w.name for w in self.weights) or "none"
        raise LayerNotFound(f"layer {self.path!r} has no weight {name!r}; it has: {have}")

    def by_role(self, role: WeightRole) -> list[Weight]:
        """Its weights with the given role, in order."""
        return [w for w in self.weights if w.role == role]


@dataclass(frozen=True, eq=False)
class ModelWeights:
    """Everything Kerascope knows about one opened model."""

    source: str
    """Where it came from: a path, ``demo:NAME``, ``<upload>``, or ``<live model>``."""
    format: SourceFormat
    """How it was read."""
    name: str
    """The model's name, as the source records it."""
    layers: tuple[LayerWeights, ...]
    """Every layer, nested models flattened into paths, in model order."""
    notes: tuple[str, ...] = ()
    """Things a user should know about how this was read (a fallback taken, a name guessed)."""
    live_model: Any = field(default=None, repr=False)
    """The ``keras.Model`` when one was loaded; None when the file was only read."""
    graph: ModelGraph | None = field(default=None, repr=False)
    """Layers and their connections from the model config; None when the source has none."""
    _origin: Any = field(default=None, repr=False)
    """The records these were derived from (see ``derive``)."""

    def __post_init__(self) -> None:
        # Readers tie the open file behind lazy arrays to the records they return. A caller may
        # keep only a layer or a weight (`open_model(p).layer("d").weight("kernel").array()`),
        # so each of those keeps its records, and with them the file, alive.
        for layer in self.layers:
            object.__setattr__(layer, "_owner", self)
            for weight in layer.weights:
                object.__setattr__(weight, "_owner", self)

    def derive(self, **changes: Any) -> ModelWeights:
        """A copy with some fields changed that keeps these records alive.

        Readers tie what lazy loading needs (an open HDF5 file, a temporary folder) to the
        records they return; a derived copy must not let those go while it is in use.
        """
        return replace(self, _origin=self, **changes)

    @property
    def params(self) -> int:
        """Number of weight values in the model, each shared weight counted once."""
        return sum(layer.params for layer in self.layers)

    def layer(self, path: str) -> LayerWeights:
        """The layer at ``path``.

        Raises:
            LayerNotFound: no such layer; the message names a few that exist.
        """
        for layer in self.layers:
            if layer.path == path:
                return layer
        have = [layer.path for layer in self.layers]
        sample = ", ".join(have[:8]) + (" ..." if len(have) > 8 else "")
        raise LayerNotFound(f"no layer {path!r} in model {self.name!r}; layers are: {sample}")

    def weighted_layers(self) -> list[LayerWeights]:
        """The layers that have at least one weight."""
        return [layer for layer in self.layers if layer.weights]

    def iter_weights(self) -> Iterator[tuple[LayerWeights, Weight]]:
        """Every (layer, weight) pair, in order."""
        for layer in self.layers:
            for w in layer.weights:
                yield layer, w

    def export_key(self, layer: LayerWeights, weight: Weight) -> str:
        """The key of one array in an export: ``<layer path>/<weight name>``."""
        return f"{layer.path}/{weight.name}"


def unreadable(name: str, exc: BaseException) -> KerascopeError:
    """The error for array ``name`` whose read failed with ``exc``: itself when it is one of
    ours, else one ``CorruptFile`` line that says what is wrong with the bytes (since arrays
    are read lazily, damaged bytes are found only now)."""
    if isinstance(exc, KerascopeError):
        return exc
    return CorruptFile(f"weight {name!r} cannot be read ({fault_text(exc)})")


def unique_names(weights: Iterable[Weight]) -> tuple[Weight, ...]:
    """The weights in order, a repeated name made unique (``kernel``, ``kernel_1`` ...) with
    its role kept: a layer's weights are found by name, so no two may share one."""
    used: set[str] = set()
    out: list[Weight] = []
    for w in weights:
        name, n = w.name, 1
        while name in used:
            name, n = f"{w.name}_{n}", n + 1
        used.add(name)
        out.append(w.renamed(name, keep_role=True))
    return tuple(out)


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape for people: ``(3, 3, 1, 16)``; ``scalar`` for ``()``."""
    return "(" + ", ".join(str(d) for d in shape) + ")" if shape else "scalar"


def storable(array: Array) -> Array:
    """``array`` as a ``.npy`` file can hold it: bfloat16 (which ``.npy`` cannot describe, and
    numpy reads back as raw void) widened to float32; any other dtype unchanged, not copied."""
    if array.dtype.kind == "V" or array.dtype.name == "bfloat16":
        return array.astype(np.float32)
    return array


def eager(array: Array) -> Callable[[], Array]:
    """A loader for an array that is already in memory."""
    return lambda: array
