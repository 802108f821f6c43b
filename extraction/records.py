"""The records every reader yields: a model is layers, a layer is named weights.

Records are plain frozen data. Values are not in them: each ``Weight`` names its array in a
``WeightStore`` (``ref``), which reads it the first time something asks and keeps it (see
``extraction.readers.store``: one store in this process, one through the sandboxed worker).
Records are shared between threads (the app serves many sessions from one opened model); the
stores guard their caches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .analysis.stats import Stats
from .errors import CorruptFile, KerascopeError, LayerNotFound, fault_text
from .kinds import LayerKind, WeightRole, role_of

if TYPE_CHECKING:
    from .graph import ModelGraph
    from .readers.store import WeightStore

SourceFormat = str
"""How records were read: ``live``, ``demo``, ``application``, or the id of a file format in
``extraction.readers.FORMATS`` (``keras_zip``, ``h5_model`` ...)."""

Array = np.ndarray[Any, Any]
_T = TypeVar("_T")
ML_DTYPES_ITEMSIZES = {"bfloat16": 2, "float8_e4m3fn": 1, "float8_e5m2": 1, "float8_e8m0fnu": 1}
"""Dtypes numpy holds only through ``ml_dtypes``, by name, with their bytes per value: known
without importing ``ml_dtypes`` (0.7 costs about 0.5 s of CPU), which only reading such an array
needs."""


@dataclass(frozen=True)
class Extent:
    """Where a weight's values lie in a file as plain bytes: ``prod(shape)`` values of
    ``dtype`` in C order from ``offset``, so one plain read gives the array with no parsing.

    A reader that knows this says so through its ``ArraySource.extent()`` (HDF5 contiguous
    datasets, safetensors tensors); the sandboxed worker sends it instead of copying the array.
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


@dataclass(frozen=True)
class ArrayRef:
    """Which array of its store some values are, and how they are viewed: plain data, so it
    crosses from the sandboxed worker as it is."""

    index: int
    """The array's number in its store (in the order the reader found the arrays)."""
    dequantize: Quantization | None = None
    """Derived: the stored integers turned into real values with these parameters."""
    layout: str | None = None
    """Derived: the stored axis order (``OHWI``) brought to Keras's (``layouts.to_keras_axes``),
    after any dequantization."""

    @property
    def stored(self) -> ArrayRef:
        """The stored array this one is derived from (itself when it is not derived)."""
        return self if self.is_stored else ArrayRef(self.index)

    @property
    def is_stored(self) -> bool:
        """Whether these are the stored values, not derived ones."""
        return self.dequantize is None and self.layout is None


@dataclass(frozen=True)
class OptimizerSlot:
    """One array an optimizer keeps for a weight (Adam's ``m`` and ``v``, SGD's ``momentum``)."""

    name: str
    """The slot's name (``m``, ``v``, ``vhat``, ``momentum``, ``mg``, ``accumulator`` ...; see
    ``extraction.optimizers``); ``slot_1`` ... when the file does not say which it is."""
    shape: tuple[int, ...]
    """Its shape: the weight's, as stored."""
    dtype: str
    """Its dtype as numpy spells it."""
    ref: ArrayRef
    """Which array of the weight's store holds it."""


@dataclass(frozen=True)
class OptimizerState:
    """What the optimizer kept for one weight when the file was saved."""

    class_name: str
    """The optimizer's Keras class (``Adam``); ``unknown`` when the file does not say."""
    iterations: int | None
    """Steps taken (the optimizer's ``iterations``); None when the file does not keep them."""
    slots: tuple[OptimizerSlot, ...]
    """Its arrays for this weight, in the order the optimizer created them."""
    hyper: tuple[tuple[str, float], ...] = ()
    """Its settings as saved (``learning_rate`` at the saved step, ``epsilon``, ``beta_1`` ...),
    sorted by name; a setting not saved is absent (``extraction.optimizers.setting`` gives
    Keras's default)."""
    iterations_ref: ArrayRef | None = None
    """Where the step count is stored (a scalar of the same store), so a file of the same layout
    (the next snapshot of a run) reads its own; None when the file keeps none."""

    def slot(self, name: str) -> OptimizerSlot | None:
        """The slot called ``name``, if this state has one."""
        return next((s for s in self.slots if s.name == name), None)


@dataclass(frozen=True)
class Weight:
    """One named weight array of a layer: plain data, and the store its values come from.

    ``array()`` and ``stats()`` ask ``store`` for ``ref``: arrays are read lazily, the first
    time something asks, and the store keeps them (see ``extraction.readers.store``).
    """

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
    ref: ArrayRef
    """Which of ``store``'s arrays holds the values."""
    store: WeightStore = field(repr=False)
    """Answers for the values: in this process, or through the sandboxed worker."""
    quantization: Quantization | None = None
    """How stored integers map to real values (TFLite); None for plain float weights."""
    layout: str | None = None
    """The axis order the file stores (``OHWI`` for a TFLite conv filter, see
    ``extraction.layouts``); None when it is Keras's own."""
    optimizer: OptimizerState | None = None
    """What the optimizer kept for this weight; None when the file keeps no optimizer state
    (or none for this weight: a frozen one)."""

    @property
    def size(self) -> int:
        """Number of values, from the shape alone."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the array takes in memory, from shape and dtype alone."""
        return self.size * itemsize(self.dtype)

    def array(self) -> Array:
        """The values (``store.array(ref)``), read on first use and kept by the store;
        read-only so no view can alter them.

        Raises:
            CorruptFile: the file's bytes for this array cannot be read (damaged data found
                only now, since arrays are read lazily).
            KerascopeError: reading failed earlier (``failure``): the same error again, without
                reading the bytes again.
        """
        with _reading(self.name):
            return self.store.array(self.ref)

    def stats(self) -> Stats:
        """Statistics of the values (``store.stats(ref)``), computed on first use and kept.

        Raises:
            CorruptFile, KerascopeError: as ``array()``.
        """
        with _reading(self.name):
            return self.store.stats(self.ref)

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
        anything was read). The store keeps the failure, so a failed read is not tried again:
        a file that takes a worker 30 s to fail on (millions of tiny compressed chunks) costs
        that once, not on every view."""
        failed = self.store.failure(self.ref)
        return str(unreadable(self.name, failed)) if failed is not None else None

    @property
    def has_stats(self) -> bool:
        """Whether the statistics have been computed already."""
        return self.store.cached_stats(self.ref) is not None

    @property
    def is_loaded(self) -> bool:
        """Whether the array has been read already (for tests of laziness)."""
        return self.store.is_loaded(self.ref)

    def computed(self, key: str, make: Callable[[], _T]) -> _T:
        """A value derived from this weight's values (its spectrum), made on first use and kept
        by the store (``store.computed(ref, key, make)``): two threads asking at once make it
        once, the second waiting for the first."""
        return self.store.computed(self.ref, key, make)

    def keep_computed(self, key: str, value: Any) -> None:
        """Take a derived value computed earlier for these same bytes (the persisted cache)."""
        self.store.keep_computed(self.ref, key, value)

    def has_computed(self, key: str) -> bool:
        """Whether the derived value ``key`` has been made (or kept) already."""
        return self.store.has_computed(self.ref, key)

    def peek_computed(self, key: str) -> Any:
        """The derived value ``key`` if it has been made, else None (nothing is computed)."""
        return self.store.peek_computed(self.ref, key)

    def keras_axes(self) -> Weight:
        """This weight with its axes in Keras's order (what the views expect).

        Itself when the file stores Keras's layout; otherwise a derived weight whose array is a
        transposed or reshaped view of the stored one, never a copy of other values.
        """
        if self.layout is None:
            return self
        from .layouts import keras_shape

        return replace(
            self,
            shape=keras_shape(self.shape, self.layout),
            ref=replace(self.ref, layout=self.layout),
            layout=None,
        )

    def dequantized(self) -> Weight:
        """A float32 weight derived from the stored integers and ``quantization``, with the
        stored axes (``keras_axes()`` of it brings them to Keras's order).

        Raises:
            ValueError: the weight is not quantized.
        """
        q = self.quantization
        if q is None:
            raise ValueError(f"weight {self.name!r} is not quantized; it has no float view")
        ref = replace(self.ref, dequantize=q)
        return replace(self, dtype="float32", ref=ref, quantization=None)

    def optimizer_slot(self, name: str) -> Weight:
        """The optimizer's slot ``name`` of this weight as a weight of its own (same store,
        layout and quantization; named ``<weight>/optimizer/<slot>``), so every view of a
        weight draws it alike.

        Raises:
            LayerNotFound: the weight has no such slot; the message lists those it has.
        """
        slot = self.optimizer.slot(name) if self.optimizer is not None else None
        if slot is None:
            have = ", ".join(s.name for s in self.optimizer.slots) if self.optimizer else "none"
            raise LayerNotFound(
                f"weight {self.name!r} has no optimizer slot {name!r}; it has: {have}"
            )
        return replace(
            self,
            name=f"{self.name}/optimizer/{slot.name}",
            role="other",
            shape=self.shape if self.ref.layout else slot.shape,
            dtype=slot.dtype,
            trainable=False,
            ref=ArrayRef(slot.ref.index, layout=self.ref.layout),  # the weight's axes, if moved
            quantization=None,
            optimizer=None,
        )

    def renamed(self, name: str, *, keep_role: bool = False) -> Weight:
        """A copy called ``name`` (every other field kept); its role is decided again from the
        new name unless ``keep_role`` (a de-duplicated ``kernel_1`` is still a kernel)."""
        if name == self.name:
            return self
        return replace(self, name=name, role=self.role if keep_role else role_of(name))


@contextmanager
def _reading(name: str) -> Iterator[None]:
    """Any reader's failure on damaged bytes as one ``CorruptFile`` line naming the weight."""
    try:
        yield
    except KerascopeError:
        raise
    except Exception as exc:  # any reader's failure on damaged bytes  # noqa: BLE001
        raise unreadable(name, exc) from exc


def itemsize(dtype: str) -> int:
    """Bytes per value of the dtype named ``dtype`` (``ML_DTYPES_ITEMSIZES`` for the dtypes only
    ``ml_dtypes`` holds, without importing it; 4 for a name numpy does not know)."""
    known = ML_DTYPES_ITEMSIZES.get(dtype)
    if known is not None:
        return known
    try:
        return np.dtype(dtype).itemsize
    except TypeError:
        return 4


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
    store: WeightStore = field(kw_only=True, repr=False)
    """Where the weights' values come from (each ``Weight.store`` is this one). It keeps what
    lazy reading needs (an open file, a temporary folder, a worker) while any record of it is
    in use."""

    def derive(self, **changes: Any) -> ModelWeights:
        """A copy with some fields changed (the same store)."""
        return replace(self, **changes)

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
        """The key of one array in an export: ``<layer path>/<weight name>``; an optimizer
        slot's (``weight.optimizer_slot``) is ``<layer path>/<weight name>/optimizer/<slot>``."""
        return f"{layer.path}/{weight.name}"

    @property
    def has_optimizer_state(self) -> bool:
        """Whether any weight carries optimizer state."""
        return any(w.optimizer is not None for _, w in self.iter_weights())


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
