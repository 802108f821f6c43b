"""What crosses between the sandboxed worker and the caller: JSON, never a pickle.

The worker parses a stranger's file, so whatever it sends back is treated as untrusted too:
messages are JSON (a crashed or subverted worker can at worst send wrong numbers), and records
are rebuilt field by field from it. Every dataclass field of ``ModelWeights``, ``LayerWeights``
and ``Weight`` crosses generically (``dataclasses.fields``), except the loaders, caches, owners
and the live model, so a field added to the records later crosses without changes here.

Values are JSON's own types plus, tagged: tuples, dicts with non-string keys, small numeric
numpy arrays and scalars, and frozen dataclasses defined in ``extraction`` (a field may hold a
record of its own, such as quantization parameters).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..analysis.stats import Stats
from ..records import Array, LayerWeights, ModelWeights, Weight

_LIBRARY = (__package__ or "extraction.readers").rpartition(".")[0]
"""The library's own package (``kerascope.extraction``; ``extraction`` under ``python -m``)."""

SKIPPED = frozenset({"layers", "weights", "loader", "stats_loader", "release", "live_model"})
"""Fields that never cross: nesting (rebuilt), loaders (replaced), a memory map's page release
(the worker's own), the live model (in process)."""
MAX_INLINE_VALUES = 1 << 16
"""A numpy array inside a record field (a per-channel scale) crosses inline up to this size."""

_TUPLE = "\x00tuple"
_DICT = "\x00dict"
_ARRAY = "\x00ndarray"
_RECORD = "\x00record"


class WireError(ValueError):
    """A message that is not what this protocol sends."""


def encode(value: Any) -> Any:
    """``value`` as JSON-ready data; raises WireError for anything else (a bug, not input)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
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
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {_RECORD: [f"{cls.__module__}:{cls.__qualname__}", fields]}
    raise WireError(f"cannot send a {type(value).__name__} from the worker")


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
    kind = np.dtype(dtype)
    if kind.kind not in "biuf" or len(values) > MAX_INLINE_VALUES:
        raise WireError(f"an inline array of {kind} or of {len(values)} values")
    if not all(isinstance(d, int) and d >= 0 for d in shape) or math.prod(shape) != len(values):
        raise WireError("an inline array whose shape does not match its values")
    return np.asarray(values, dtype=kind).reshape(shape)


def _record(body: Any) -> Any:
    name, fields = _list(body) if len(_list(body)) == 2 else (None, None)
    if not isinstance(name, str) or not isinstance(fields, dict):
        raise WireError("a malformed record")
    module, _, qualname = name.partition(":")
    # Only Kerascope's own record types are rebuilt, by calling their constructor with data.
    if not (module == _LIBRARY or module.startswith(_LIBRARY + ".")) or "." in qualname:
        raise WireError(f"a record of type {name!r}, which is not one of Kerascope's")
    cls = getattr(importlib.import_module(module), qualname, None)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise WireError(f"{name!r} is not a record type")
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    if set(fields) - known:
        raise WireError(f"{name!r} has no fields {sorted(set(fields) - known)}")
    return cls(**{k: decode(v) for k, v in fields.items()})


def _crossing(record: Any) -> list[str]:
    """The names of a record's fields that cross (see the module docstring)."""
    return [
        f.name
        for f in dataclasses.fields(record)
        if f.init and f.name not in SKIPPED and not f.name.startswith("_")
    ]


def manifest(records: ModelWeights) -> dict[str, Any]:
    """Every crossing field of the records, layers and weights, as JSON-ready data."""
    return {
        "model": {k: encode(getattr(records, k)) for k in _crossing(records)},
        "layers": [
            {
                "layer": {k: encode(getattr(layer, k)) for k in _crossing(layer)},
                "weights": [
                    {k: encode(getattr(w, k)) for k in _crossing(w)} for w in layer.weights
                ],
            }
            for layer in records.layers
        ],
    }


LoaderFactory = Callable[
    [int, int, str, tuple[int, ...], dict[str, Any]], tuple[Callable[[], Array], Any, Any]
]
"""``(layer index, weight index, "weight 'kernel' of layer 'fc1'", its shape, cache) ->
(loader, stats_loader, cache)`` for one weight."""


def rebuild(message: Any, loaders: LoaderFactory) -> ModelWeights:
    """Records from a ``manifest``, with loaders from ``loaders``.

    Raises:
        WireError: the message is not a manifest (a worker that went wrong).
    """
    if not isinstance(message, dict) or not isinstance(message.get("layers"), list):
        raise WireError("the worker's answer is not a manifest")
    layers = []
    for i, entry in enumerate(message["layers"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("weights"), list):
            raise WireError("a layer of the manifest without weights")
        layer = _fields(LayerWeights, entry.get("layer"))
        weights = []
        for j, fields in enumerate(entry["weights"]):
            values = _fields(Weight, fields)
            what = f"weight {values.get('name')!r} of layer {layer.get('path')!r}"
            loader, stats_loader, cache = loaders(i, j, what, values["shape"], {})
            weights.append(Weight(**values, loader=loader, stats_loader=stats_loader, _cache=cache))
        layers.append(LayerWeights(**layer, weights=tuple(weights)))
    return ModelWeights(**_fields(ModelWeights, message.get("model")), layers=tuple(layers))


def _fields(cls: type, fields: Any) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise WireError(f"the manifest's {cls.__name__} is not an object")
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    allowed = {k for k in known if k not in SKIPPED and not k.startswith("_")}
    if not set(fields) <= allowed:
        raise WireError(f"unexpected {cls.__name__} fields: {sorted(set(fields) - allowed)}")
    values = {k: decode(v) for k, v in fields.items()}
    if cls is Weight:
        values["shape"] = _shape(values.get("shape"))
    return values


def _shape(shape: Any) -> tuple[int, ...]:
    if not isinstance(shape, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise WireError(f"a weight shape that is not a tuple of sizes: {shape!r}")
    return shape


def names_dtype(name: str, dtype: np.dtype[Any]) -> bool:
    """Whether the records' dtype ``name`` is ``dtype`` as numpy reads it (``float32``, or
    ``>f4`` as HDF5 files written on big-endian machines name theirs); False for a type the
    bytes cross as unsigned integers (bfloat16), viewed back by its name."""
    return name in (dtype.name, str(dtype))


def stats_to_wire(stats: Stats) -> dict[str, Any]:
    """A ``Stats`` as JSON-ready data."""
    return stats.as_dict()


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


def dumps(message: Any) -> bytes:
    """One message as bytes (NaN and infinities allowed: a config may hold them)."""
    return json.dumps(message, separators=(",", ":")).encode()


def loads(data: bytes) -> Any:
    """One message from bytes.

    Raises:
        WireError: not JSON.
    """
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise WireError(f"the worker sent a message that is not JSON ({exc})") from exc
