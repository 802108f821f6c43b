"""What crosses between the sandboxed worker and the caller: a few typed messages in JSON.

The worker parses a stranger's file, so whatever it sends back is treated as untrusted: messages
are JSON (never a pickle), each has a ``type`` naming one of the kinds below, and each kind's
fields are checked by type before anything is built from them. A crashed or subverted worker
can at worst send wrong numbers.

Requests (caller -> worker): ``open`` a file; ``array`` (read one stored array, into a ``.npy``
file the caller names, or say where it lies); ``stats`` (its statistics only); ``extent`` (where
it lies, if it does); ``scan_run`` (a run's snapshot files, each one's numbers: ``run_scan``).
Replies (worker -> caller): ``sniffed``, ``preloading`` and ``ready`` (progress), ``manifest``
(the records), ``extent``, ``npy``, ``stats``, ``snapshot`` and ``scan_done`` (a scan's),
``error``, ``memory``.

Records cross field by field, from explicit field lists (``MODEL_FIELDS`` ...). Values inside
them are JSON's own types plus, tagged: tuples, dicts with non-string keys, small numeric
arrays, and records of the types in ``RECORD_TYPES`` (an allowlist: nothing else is built).
A weight's ``store`` never crosses: rebuilt records are bound to the caller's ``WorkerStore``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from .. import errors
from ..analysis.stats import Stats
from ..graph import GraphNode, ModelGraph
from ..kinds import LAYER_KINDS, WEIGHT_ROLES
from ..records import (
    Array,
    ArrayRef,
    Extent,
    LayerWeights,
    ModelWeights,
    OptimizerSlot,
    OptimizerState,
    Quantization,
    Weight,
)
from .confine import Confinement
from .store import WeightStore

MAX_INLINE_VALUES = 1 << 16
"""A numpy array inside a record field (a per-channel scale) crosses inline up to this size."""

RECORD_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (ArrayRef, Quantization, ModelGraph, GraphNode, OptimizerState, OptimizerSlot)
}
"""The only record types a message may hold inside a field, by the name they cross under."""

MODEL_FIELDS = ("source", "format", "name", "notes", "graph")
LAYER_FIELDS = ("name", "path", "class_name", "kind", "config", "wrapped")
WEIGHT_FIELDS = (
    "name", "role", "shape", "dtype", "trainable", "ref", "quantization", "layout", "optimizer"
)  # fmt: skip
LOCAL_FIELDS = frozenset({"layers", "weights", "store", "live_model"})
"""Fields that never cross: nesting (crosses as lists), the store (the caller's own), the live
model (in process only)."""

ERROR_TYPES: dict[str, type[errors.KerascopeError]] = {
    cls.__name__: cls
    for cls in (
        errors.SourceNotFound,
        errors.UnsupportedFormat,
        errors.CorruptFile,
        errors.UnsafeModel,
        errors.LayerNotFound,
        errors.ModelNeedsLiveKeras,
        errors.SandboxUnavailable,
    )
}
"""The errors a worker may name in an ``error`` reply (raised again here as that type)."""

_TUPLE = "\x00tuple"
_DICT = "\x00dict"
_ARRAY = "\x00ndarray"
_RECORD = "\x00record"


class WireError(ValueError):
    """A message that is not what this protocol sends."""


# --- messages ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenFile:
    """Request: confine the worker to the file at ``path`` (and to writing in ``folders``),
    then sniff and read it; answered by ``Confined``, then ``Manifest``."""

    path: str
    folders: list[str]


@dataclass(frozen=True)
class ReadArray:
    """Request: stored array ``index``, written to the ``.npy`` file ``out`` (``ArrayFile``),
    or, when it lies in the file as plain bytes, only where (``ArrayAt``)."""

    index: int
    out: str


@dataclass(frozen=True)
class ReadStats:
    """Request: the statistics of stored array ``index`` (``StatsOnly``); the worker may read
    the array straight into ``out`` and keep it there for a following ``ReadArray``."""

    index: int
    out: str


@dataclass(frozen=True)
class FindExtent:
    """Request: where stored array ``index`` lies as plain bytes (``ArrayAt``)."""

    index: int


@dataclass(frozen=True)
class ScanRun:
    """Request: the numbers of each run snapshot file in turn, each measured against the file
    before it (or none); answered by a ``SnapshotRead`` per file, then ``ScanDone``."""

    files: list[tuple[str, str | None]]
    folders: list[str]
    """Where the worker may write (its temporary files)."""


@dataclass(frozen=True)
class Confined:
    """Progress: what the worker's sandbox holds, before it reads a byte of the file."""

    confinement: Confinement


@dataclass(frozen=True)
class Sniffed:
    """Progress: the file's format is known; ``preload``: the reader's modules are imported
    first (TensorFlow), under a longer allowance."""

    format: str
    label: str
    preload: bool


@dataclass(frozen=True)
class Ready:
    """Progress: the reader's modules are imported; the read starts now."""


@dataclass(frozen=True)
class Preloading:
    """Progress: a reader's slow modules (TensorFlow) are being imported, no file parsed."""


@dataclass(frozen=True)
class SnapshotRead:
    """Reply (one per file of a ``ScanRun``): the numbers of file ``index``, JSON data checked
    by ``analysis.snapshots``; or why it could not be read."""

    index: int
    entry: dict[str, Any] | None
    error: Failed | None


@dataclass(frozen=True)
class ScanDone:
    """Reply: every file of a ``ScanRun`` was answered."""

    count: int


@dataclass(frozen=True)
class Manifest:
    """Reply to ``OpenFile``: the records, as ``manifest`` writes them."""

    model: dict[str, Any]
    layers: list[Any]


@dataclass(frozen=True)
class ArrayReply:
    """What ``ReadArray`` is answered by: ``ArrayAt`` or ``ArrayFile``."""

    dtype: str
    """The records' name of the array's dtype (``bfloat16`` crosses as ``uint16``)."""


@dataclass(frozen=True)
class ArrayAt(ArrayReply):
    """Reply: where an array lies as plain bytes (None: it does not; only to ``FindExtent``)."""

    extent: Extent | None


@dataclass(frozen=True)
class ArrayFile(ArrayReply):
    """Reply to ``ReadArray``: the array is in the ``.npy`` file asked for; its statistics."""

    stats: Stats


@dataclass(frozen=True)
class StatsOnly:
    """Reply to ``ReadStats``."""

    stats: Stats


@dataclass(frozen=True)
class Failed:
    """Reply: the request failed; ``kind`` is one of ``ERROR_TYPES`` or empty (any other
    failure, described in ``message``)."""

    kind: str
    message: str


@dataclass(frozen=True)
class OutOfMemory:
    """Reply: an allocation failed at the worker's address-space ``limit``; it exits."""

    limit: int


Request = OpenFile | ReadArray | ReadStats | FindExtent | ScanRun
Reply = (
    Confined | Sniffed | Preloading | Ready | Manifest | ArrayReply | StatsOnly | SnapshotRead
    | ScanDone | Failed | OutOfMemory
)  # fmt: skip

_KINDS: dict[type, str] = {
    OpenFile: "open",
    ReadArray: "array",
    ReadStats: "stats",
    FindExtent: "extent",
    ScanRun: "scan_run",
    Confined: "confined",
    Sniffed: "sniffed",
    Preloading: "preloading",
    SnapshotRead: "snapshot",
    ScanDone: "scan_done",
    Ready: "ready",
    Manifest: "manifest",
    ArrayAt: "extent",
    ArrayFile: "npy",
    StatsOnly: "stats",
    Failed: "error",
    OutOfMemory: "memory",
}


def to_wire(message: Request | Reply) -> dict[str, Any]:
    """``message`` as JSON-ready data with its ``type``."""
    body: dict[str, Any] = {"type": _KINDS[type(message)]}
    for f in dataclasses.fields(message):
        value = getattr(message, f.name)
        if isinstance(value, Stats):
            value = value.as_dict()
        elif isinstance(value, (Extent, Failed)):
            value = dataclasses.asdict(value)
        elif isinstance(value, Confinement):
            value = value.to_wire()
        body[f.name] = value
    return body


T = TypeVar("T")


def _get(data: dict[str, Any], name: str, kind: type[T], what: str) -> T:
    value = data.get(name)
    if type(value) is not kind:  # exact: a bool is no int here
        raise WireError(f"a {what} message whose {name} is {value!r}")
    return value  # type: ignore[return-value]


def _index(data: dict[str, Any], what: str) -> int:
    index = _get(data, "index", int, what)
    if index < 0:
        raise WireError(f"a {what} message for array {index}")
    return index


def _exactly(data: dict[str, Any], names: tuple[str, ...], what: str) -> None:
    if set(data) != {"type", *names}:
        raise WireError(f"a {what} message with fields {sorted(data)}")


def _parse(data: Any, parsers: Mapping[str, Callable[[dict[str, Any]], T]]) -> T:
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise WireError("a message without a type")
    parse = parsers.get(data["type"])
    if parse is None:
        raise WireError(f"a message of unknown type {data['type']!r}")
    return parse(data)


def _folders(d: dict[str, Any], what: str) -> list[str]:
    folders = _get(d, "folders", list, what)
    if not folders or not all(isinstance(f, str) for f in folders):
        raise WireError(f"a {what} request without the folders the worker may write in")
    return folders


def _open(d: dict[str, Any]) -> OpenFile:
    _exactly(d, ("path", "folders"), "open")
    return OpenFile(_get(d, "path", str, "open"), _folders(d, "open"))


def _read_array(d: dict[str, Any]) -> ReadArray:
    _exactly(d, ("index", "out"), "array")
    return ReadArray(_index(d, "array"), _get(d, "out", str, "array"))


def _read_stats(d: dict[str, Any]) -> ReadStats:
    _exactly(d, ("index", "out"), "stats")
    return ReadStats(_index(d, "stats"), _get(d, "out", str, "stats"))


def _find_extent(d: dict[str, Any]) -> FindExtent:
    _exactly(d, ("index",), "extent")
    return FindExtent(_index(d, "extent"))


def _scan_run(d: dict[str, Any]) -> ScanRun:
    _exactly(d, ("files", "folders"), "scan_run")
    files = _get(d, "files", list, "scan_run")
    if not all(
        isinstance(f, list) and len(f) == 2 and isinstance(f[0], str)
        and (f[1] is None or isinstance(f[1], str)) for f in files
    ):  # fmt: skip
        raise WireError("a scan_run request whose files are not [path, before] pairs")
    return ScanRun([(f[0], f[1]) for f in files], _folders(d, "scan_run"))


def _confined(d: dict[str, Any]) -> Confined:
    _exactly(d, ("confinement",), "confined")
    report = Confinement.from_wire(d["confinement"])
    if report is None:
        raise WireError("a sandbox report that is not one")
    return Confined(report)


def _preloading(d: dict[str, Any]) -> Preloading:
    _exactly(d, (), "preloading")
    return Preloading()


def _snapshot(d: dict[str, Any]) -> SnapshotRead:
    _exactly(d, ("index", "entry", "error"), "snapshot")
    entry, error = d["entry"], d["error"]
    if (entry is None) == (error is None) or not (entry is None or isinstance(entry, dict)):
        raise WireError("a snapshot reply without exactly one of its numbers and an error")
    parsed = _failed({"type": "error", **error}) if isinstance(error, dict) else None
    if error is not None and parsed is None:
        raise WireError("a snapshot reply whose error is not one")
    return SnapshotRead(_index(d, "snapshot"), entry, parsed)


def _scan_done(d: dict[str, Any]) -> ScanDone:
    _exactly(d, ("count",), "scan_done")
    return ScanDone(_get(d, "count", int, "scan_done"))


def _sniffed(d: dict[str, Any]) -> Sniffed:
    _exactly(d, ("format", "label", "preload"), "sniffed")
    return Sniffed(
        _get(d, "format", str, "sniffed")[:200],
        _get(d, "label", str, "sniffed")[:200],
        _get(d, "preload", bool, "sniffed"),
    )


def _ready(d: dict[str, Any]) -> Ready:
    _exactly(d, (), "ready")
    return Ready()


def _manifest(d: dict[str, Any]) -> Manifest:
    _exactly(d, ("model", "layers"), "manifest")
    return Manifest(_get(d, "model", dict, "manifest"), _get(d, "layers", list, "manifest"))


def _array_at(d: dict[str, Any]) -> ArrayAt:
    _exactly(d, ("dtype", "extent"), "extent")
    raw = d["extent"]
    if raw is None:
        return ArrayAt(_get(d, "dtype", str, "extent"), None)
    if not isinstance(raw, dict) or set(raw) != {"path", "offset", "dtype"}:
        raise WireError(f"an extent that is not a place in a file: {raw!r}")
    extent = Extent(
        _get(raw, "path", str, "extent"),
        _get(raw, "offset", int, "extent"),
        _get(raw, "dtype", str, "extent"),
    )
    return ArrayAt(_get(d, "dtype", str, "extent"), extent)


def _array_file(d: dict[str, Any]) -> ArrayFile:
    _exactly(d, ("dtype", "stats"), "npy")
    return ArrayFile(_get(d, "dtype", str, "npy"), stats_from_wire(d["stats"]))


def _stats_only(d: dict[str, Any]) -> StatsOnly:
    _exactly(d, ("stats",), "stats")
    return StatsOnly(stats_from_wire(d["stats"]))


def _failed(d: dict[str, Any]) -> Failed:
    _exactly(d, ("kind", "message"), "error")
    kind = _get(d, "kind", str, "error")
    if kind and kind not in ERROR_TYPES:
        raise WireError(f"an error of unknown kind {kind[:80]!r}")
    return Failed(kind, _get(d, "message", str, "error")[:1000])


def _memory(d: dict[str, Any]) -> OutOfMemory:
    _exactly(d, ("limit",), "memory")
    return OutOfMemory(max(0, _get(d, "limit", int, "memory")))


_REQUESTS: dict[str, Callable[[dict[str, Any]], Request]] = {
    "open": _open,
    "array": _read_array,
    "stats": _read_stats,
    "extent": _find_extent,
    "scan_run": _scan_run,
}
_REPLIES: dict[str, Callable[[dict[str, Any]], Reply]] = {
    "confined": _confined,
    "sniffed": _sniffed,
    "preloading": _preloading,
    "ready": _ready,
    "manifest": _manifest,
    "extent": _array_at,
    "npy": _array_file,
    "stats": _stats_only,
    "snapshot": _snapshot,
    "scan_done": _scan_done,
    "error": _failed,
    "memory": _memory,
}


def request_from_wire(data: Any) -> Request:
    """The request ``data`` holds (the worker's side).

    Raises:
        WireError: not one of the request kinds, or a field of the wrong type.
    """
    return _parse(data, _REQUESTS)


def reply_from_wire(data: Any) -> Reply:
    """The reply ``data`` holds (the caller's side), every field type-checked.

    Raises:
        WireError: not one of the reply kinds, or a field of the wrong type.
    """
    return _parse(data, _REPLIES)


def error_of(failed: Failed) -> errors.KerascopeError | None:
    """The error a ``Failed`` names, to raise here; None when it names none of ours."""
    cls = ERROR_TYPES.get(failed.kind)
    return cls(failed.message) if cls is not None else None


def failed(exc: BaseException) -> Failed:
    """The reply for a request that raised ``exc`` (the worker's side)."""
    cls = type(exc)
    if ERROR_TYPES.get(cls.__name__) is cls:
        return Failed(cls.__name__, " ".join(str(exc).split())[:500] or cls.__name__)
    # Any other failure says what is wrong with the file in plain words (errors.fault_text),
    # never a Python exception's name or an object's address.
    return Failed("", errors.fault_text(exc))


# --- values inside records ---------------------------------------------------------------------


def encode(value: Any) -> Any:
    """``value`` as JSON-ready data; raises WireError for anything else (a bug, not input)."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, np.generic):
        return encode(value.item())
    if isinstance(value, tuple):
        return {_TUPLE: [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        if all(isinstance(k, str) and not k.startswith("\x00") for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {_DICT: [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size:
        if value.size > MAX_INLINE_VALUES:
            raise WireError(f"an array of {value.size} values in a record field")
        return {_ARRAY: [value.dtype.str, list(value.shape), value.ravel().tolist()]}
    name = type(value).__name__
    cls = RECORD_TYPES.get(name)
    if cls is type(value) and dataclasses.is_dataclass(cls):
        names = tuple(f.name for f in dataclasses.fields(cls))
        return {_RECORD: [name, _encoded(value, names)]}
    raise WireError(f"cannot send a {name} from the worker")


def decode(value: Any) -> Any:
    """The value ``encode`` made; raises WireError for anything ``encode`` does not make."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        raise WireError(f"unexpected {type(value).__name__} in a message")
    if len(value) == 1:
        ((tag, body),) = value.items()
        if tag == _TUPLE:
            return tuple(decode(v) for v in _list(body))
        if tag == _DICT:
            return {_hashable(decode(k)): decode(v) for k, v in (_pair(p) for p in _list(body))}
        if tag == _ARRAY:
            return _array(body)
        if tag == _RECORD:
            return _record(body)
    if any(k.startswith("\x00") for k in value):
        raise WireError("an unknown tag in a message")
    return {k: decode(v) for k, v in value.items()}


def _list(body: Any) -> list[Any]:
    if not isinstance(body, list):
        raise WireError("a tagged value without its list")
    return body


def _pair(pair: Any) -> tuple[Any, Any]:
    if not isinstance(pair, list) or len(pair) != 2:
        raise WireError("a dict entry that is not a pair")
    return pair[0], pair[1]


def _hashable(key: Any) -> Any:
    try:
        hash(key)
    except TypeError as exc:
        raise WireError("a dict key that cannot be a key") from exc
    return key


def _array(body: Any) -> Array:
    dtype, shape, values = _list(body) if len(_list(body)) == 3 else (None, None, None)
    if not isinstance(dtype, str) or not isinstance(shape, list) or not isinstance(values, list):
        raise WireError("a malformed inline array")
    try:
        kind = np.dtype(dtype)
    except TypeError as exc:
        raise WireError(f"an inline array of dtype {dtype[:40]!r}") from exc
    if kind.kind not in "biuf" or len(values) > MAX_INLINE_VALUES:
        raise WireError(f"an inline array of {kind} or of {len(values)} values")
    if not all(type(d) is int and d >= 0 for d in shape) or math.prod(shape) != len(values):
        raise WireError("an inline array whose shape does not match its values")
    return np.asarray(values, dtype=kind).reshape(shape)


def _record(body: Any) -> Any:
    name, fields = _list(body) if len(_list(body)) == 2 else (None, None)
    if not isinstance(name, str) or not isinstance(fields, dict):
        raise WireError("a malformed record")
    cls = RECORD_TYPES.get(name)
    if cls is None:
        raise WireError(f"a record of type {name[:80]!r}, which is not one that may cross")
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    if set(fields) - known:
        raise WireError(f"{name} has no fields {sorted(set(fields) - known)}")
    try:
        return cls(**{k: decode(v) for k, v in fields.items()})
    except TypeError as exc:  # a required field missing
        raise WireError(f"a malformed {name} ({exc})") from exc


# --- records -----------------------------------------------------------------------------------


def manifest(records: ModelWeights) -> Manifest:
    """The ``Manifest`` reply for ``records``: every crossing field, as JSON-ready data."""
    return Manifest(
        model=_encoded(records, MODEL_FIELDS),
        layers=[
            {
                **_encoded(layer, LAYER_FIELDS),
                "weights": [_encoded(w, WEIGHT_FIELDS) for w in layer.weights],
            }
            for layer in records.layers
        ],
    )


def _encoded(record: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {k: encode(getattr(record, k)) for k in names}


def rebuild(message: Manifest, store: WeightStore) -> ModelWeights:
    """Records from a ``Manifest``, every weight bound to ``store``.

    Raises:
        WireError: a field missing, unknown or of the wrong type (a worker that went wrong).
    """
    layers = []
    for entry in message.layers:
        fields = _fields(entry, (*LAYER_FIELDS, "weights"), "layer")
        if not isinstance(fields["weights"], list):
            raise WireError("a layer of the manifest without its weights")
        weights = tuple(_weight(w, store) for w in fields.pop("weights"))
        for key in ("name", "path", "class_name", "wrapped"):
            _text(fields, key, "layer")
        if fields["kind"] not in LAYER_KINDS:
            raise WireError(f"a layer of unknown kind {fields['kind']!r}")
        if not isinstance(fields["config"], dict):
            raise WireError("a layer config that is not a mapping")
        layers.append(LayerWeights(**fields, weights=weights))
    model = _fields(message.model, MODEL_FIELDS, "model")
    for key in ("source", "format", "name"):
        _text(model, key, "model")
    notes = model["notes"]
    if not isinstance(notes, tuple) or not all(isinstance(n, str) for n in notes):
        raise WireError("model notes that are not text")
    if model["graph"] is not None and not isinstance(model["graph"], ModelGraph):
        raise WireError("a model graph that is not one")
    return ModelWeights(**model, layers=tuple(layers), store=store)


def _fields(data: Any, names: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(data, dict) or set(data) != set(names):
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise WireError(f"a manifest {what} with fields {got}; expected {sorted(names)}")
    return {k: (v if k == "weights" else decode(v)) for k, v in data.items()}


def _text(fields: dict[str, Any], key: str, what: str) -> None:
    if not isinstance(fields[key], str):
        raise WireError(f"a manifest {what} whose {key} is not text")


def _weight(data: Any, store: WeightStore) -> Weight:
    f = _fields(data, WEIGHT_FIELDS, "weight")
    _text(f, "name", "weight")
    _text(f, "dtype", "weight")
    if f["role"] not in WEIGHT_ROLES or type(f["trainable"]) is not bool:
        raise WireError(f"a weight of role {f['role']!r}, trainable {f['trainable']!r}")
    if f["quantization"] is not None and not isinstance(f["quantization"], Quantization):
        raise WireError("a weight quantization that is not one")
    if f["layout"] is not None and not isinstance(f["layout"], str):
        raise WireError("a weight layout that is not text")
    if f["optimizer"] is not None:
        f["optimizer"] = _optimizer(f["optimizer"])
    return Weight(**{**f, "shape": _shape(f["shape"]), "ref": stored_ref(f["ref"])}, store=store)


def _optimizer(state: Any) -> OptimizerState:
    """``state`` checked to be optimizer state made of plain values and stored refs."""
    if not isinstance(state, OptimizerState) or not isinstance(state.class_name, str):
        raise WireError("weight optimizer state that is not one")
    if state.iterations is not None and type(state.iterations) is not int:
        raise WireError(f"optimizer iterations of {state.iterations!r}")
    hyper = state.hyper
    if not isinstance(hyper, tuple) or not all(
        isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str)
        and type(p[1]) in (int, float) for p in hyper
    ):  # fmt: skip
        raise WireError("optimizer settings that are not (name, number) pairs")
    if not isinstance(state.slots, tuple) or not all(
        isinstance(s, OptimizerSlot) and isinstance(s.name, str) and isinstance(s.dtype, str)
        for s in state.slots
    ):
        raise WireError("optimizer slots that are not slots")
    slots = tuple(
        OptimizerSlot(s.name, _shape(s.shape), s.dtype, stored_ref(s.ref)) for s in state.slots
    )
    steps = stored_ref(state.iterations_ref) if state.iterations_ref is not None else None
    return OptimizerState(state.class_name, state.iterations, slots, hyper, steps)


def stored_ref(ref: Any) -> ArrayRef:
    """``ref`` checked to name a stored array (the worker never sends a derived view)."""
    if not isinstance(ref, ArrayRef) or type(ref.index) is not int or ref.index < 0:
        raise WireError(f"an array ref that is not one: {ref!r}")
    if not ref.is_stored:
        raise WireError("an array ref to a derived view")
    return ref


def _shape(shape: Any) -> tuple[int, ...]:
    if not isinstance(shape, tuple) or not all(type(d) is int and d >= 0 for d in shape):
        raise WireError(f"a weight shape that is not a tuple of sizes: {shape!r}")
    return shape


def names_dtype(name: str, dtype: np.dtype[Any]) -> bool:
    """Whether the records' dtype ``name`` is ``dtype`` as numpy reads it (``float32``, or
    ``>f4`` as HDF5 files written on big-endian machines name theirs); False for a type the
    bytes cross as unsigned integers (bfloat16), viewed back by its name."""
    return name in (dtype.name, str(dtype))


def named_dtype(name: str, itemsize: int) -> np.dtype[Any] | None:
    """The dtype a records' name spells that ``.npy`` cannot (bfloat16, the float8 types: the
    ``ml_dtypes`` types, which cross as unsigned integers of their size); None for any other
    name, or one whose size is not ``itemsize``."""
    import ml_dtypes

    try:
        dtype = np.dtype(name)
    except TypeError:
        return None
    if dtype.type.__module__ != ml_dtypes.__name__ or dtype.itemsize != itemsize:
        return None
    return dtype


def stats_from_wire(data: Any) -> Stats:
    """The ``Stats`` the worker sent, each field type-checked."""
    names = [f.name for f in dataclasses.fields(Stats)]
    if not isinstance(data, dict) or sorted(data) != sorted(names):
        raise WireError("statistics without the expected fields")
    for key, value in data.items():
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok and not (value is None and key in ("min", "max", "mean", "std", "l2")):
            raise WireError(f"statistic {key} is {value!r}")
    return Stats(**data)


def dumps(message: Request | Reply) -> bytes:
    """One message as bytes (NaN and infinities allowed: a config may hold them)."""
    return json.dumps(to_wire(message), separators=(",", ":")).encode()


def loads(data: bytes) -> Any:
    """One message's JSON data from bytes (then ``request_from_wire``/``reply_from_wire``).

    Raises:
        WireError: not JSON.
    """
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise WireError(f"the worker sent a message that is not JSON ({exc})") from exc
