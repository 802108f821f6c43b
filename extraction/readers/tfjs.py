"""Read a TensorFlow.js model: ``model.json`` and its binary weight shards.

Three ways to bring one: the folder the converter wrote, its ``model.json`` (the shards beside
it), or a zip of that folder. Nothing is run and no JavaScript is involved.

- Layers models (``"format": "layers-model"``): ``modelTopology`` is a Keras config, read with
  the same code as a ``.keras`` file's, so layers have their names and classes and every view
  works as for a ``.keras`` file. Weight names (``dense/kernel``, ``lstm/lstm_cell/kernel``) are
  given to the layer named in them and shortened to what a live model calls them.
- Graph models (``"format": "graph-model"``): weights are listed by node name; a node's name
  scope is its layer.
- Shards are joined in manifest order, group by group, and each weight takes the next bytes of
  its group, as TF.js's ``decodeWeights`` does.
- Quantized weights are dequantized exactly as TF.js does: ``uint8``/``uint16`` as ``value *
  scale + min`` in double precision, stored as float32 (or truncated to int32 when the original
  dtype was int32); ``float16`` widened to float32. A note says which weights were quantized.

Decided edge cases:
- A manifest that declares more bytes than its shards hold, a missing shard, or a shard path
  leaving the folder is a CorruptFile / UnsafeModel; string weights are not read.
"""

from __future__ import annotations

import math
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..errors import CorruptFile, UnsafeModel, UnsupportedFormat
from ..layouts import classify
from ..records import Array, LayerWeights, ModelWeights, SourceFormat, Weight
from ._config import check_model_config, leaves, model_tree, parse_json
from ._layer_vars import is_trainable, local_segments
from .notes import grouped
from .safety import MAX_ARRAY_BYTES, MAX_CONFIG_BYTES, ZIP_ERRORS, check_zip
from .store import ArrayStore, Deferred

MODEL_JSON = "model.json"
_ITEMSIZE = {"float32": 4, "int32": 4, "bool": 1, "uint8": 1, "uint16": 2, "float16": 2}
_NUMPY = {"float32": "<f4", "int32": "<i4", "bool": "?", "uint8": "u1", "uint16": "<u2",
          "float16": "<f2"}  # fmt: skip


@dataclass(frozen=True)
class _Spec:
    """One weight of the manifest and where its bytes are in its group."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    group: int
    start: int
    nbytes: int
    quantization: dict[str, Any] | None


class _Source:
    """The files of a TF.js model: a folder or a zip, read by relative name."""

    def __init__(self, path: Path) -> None:
        self.zip: Path | None = None
        self.root = ""
        self.lock = threading.Lock()
        if path.is_dir():
            self.folder = path
        elif zipfile.is_zipfile(path):
            check_zip(path)
            self.zip, self.folder = path, path.parent
            with zipfile.ZipFile(path) as zf:
                tops = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == MODEL_JSON]
            if not tops:
                raise UnsupportedFormat(f"{path.name} is a zip without a {MODEL_JSON}")
            best = min(tops, key=lambda n: n.count("/"))
            self.root = best[: -len(MODEL_JSON)]
        else:
            self.folder = path.parent
        self.label = path.name

    def size(self, name: str) -> int:
        if self.zip is not None:
            try:
                with zipfile.ZipFile(self.zip) as zf:
                    return zf.getinfo(self.root + name).file_size
            except KeyError as exc:
                raise CorruptFile(f"{self.label}: the shard {name!r} is missing") from exc
        path = self._path(name)
        if not path.is_file():
            raise CorruptFile(
                f"{self.label}: the weight shard {name!r} is missing beside {MODEL_JSON}; "
                "upload a zip of the whole model folder"
            )
        return path.stat().st_size

    def read(self, name: str, start: int, n: int) -> bytes:
        if self.zip is not None:
            with self.lock, zipfile.ZipFile(self.zip) as zf, zf.open(self.root + name) as f:
                f.seek(start)
                return f.read(n)
        with self._path(name).open("rb") as f:
            f.seek(start)
            return f.read(n)

    def _path(self, name: str) -> Path:
        path = (self.folder / name).resolve()
        if not path.is_relative_to(self.folder.resolve()):
            raise UnsafeModel(f"{self.label}: the shard path {name!r} leaves the model folder")
        return path


def read_tfjs(path: Path, fmt: SourceFormat = "tfjs") -> ModelWeights:
    """The records of a TF.js model (folder, ``model.json`` or zip); arrays read lazily.

    Raises:
        CorruptFile: a manifest that does not match its shards, JSON that is not a TF.js model.
        UnsafeModel: shard paths that leave the folder, sizes beyond the limits.
    """
    try:
        return _read(path, fmt)
    except ZIP_ERRORS as exc:
        if isinstance(exc, OSError) and not isinstance(exc, zipfile.BadZipFile):
            raise
        raise CorruptFile(f"{path.name}: the zip is damaged ({exc})") from exc


def _read(path: Path, fmt: SourceFormat) -> ModelWeights:
    source = _Source(path)
    doc = _model_json(source, path)
    if not isinstance(doc, dict) or not isinstance(doc.get("weightsManifest"), list):
        raise CorruptFile(f"{path.name}: {MODEL_JSON} has no weightsManifest list")
    specs, sizes = _manifest(doc["weightsManifest"], source)
    store = ArrayStore()
    weights = {s.name: _weight(s, source, sizes, store) for s in specs}
    quantized = [s.name for s in specs if s.quantization]
    notes = ["read from a TensorFlow.js model (model.json and its weight shards)"]
    notes += grouped(
        "weights quantized by the TF.js converter, dequantized as TF.js does", quantized
    )
    kind = str(doc.get("format", "layers-model"))
    topology = doc.get("modelTopology")
    if kind == "graph-model" or not isinstance(topology, dict):
        layers = _by_scope(list(weights.values()))
        return ModelWeights(str(path), fmt, path.stem, layers, (*notes, "a graph model: "
                            "weights are listed by node name"), store=store)  # fmt: skip
    config = topology.get("model_config", topology)
    check_model_config(config, f"{path.name}:modelTopology")
    tree = model_tree(config)
    if tree is None:
        layers = _by_scope(list(weights.values()))
        return ModelWeights(str(path), fmt, path.stem, layers, tuple(notes), store=store)
    layers, stray = _by_config(tree, weights)
    notes += grouped("weights that match no layer of modelTopology, kept as named", stray)
    return ModelWeights(str(path), fmt, tree.name, layers, tuple(notes), store=store)


def _model_json(source: _Source, path: Path) -> Any:
    if source.zip is not None:
        with zipfile.ZipFile(source.zip) as zf:
            info = zf.getinfo(source.root + MODEL_JSON)
            if info.file_size > MAX_CONFIG_BYTES:
                raise UnsafeModel(f"{path.name}: {MODEL_JSON} is {info.file_size} bytes; refused")
            raw = zf.read(info)
    else:
        json_path = path if path.is_file() else path / MODEL_JSON
        if json_path.stat().st_size > MAX_CONFIG_BYTES:
            raise UnsafeModel(f"{path.name}: {MODEL_JSON} is larger than {MAX_CONFIG_BYTES}")
        raw = json_path.read_bytes()
    return parse_json(raw, f"{path.name}:{MODEL_JSON}")


def _manifest(
    groups: list[Any], source: _Source
) -> tuple[list[_Spec], list[list[tuple[str, int]]]]:
    specs: list[_Spec] = []
    sizes: list[list[tuple[str, int]]] = []
    for g, group in enumerate(groups):
        if not isinstance(group, dict):
            raise CorruptFile(f"{source.label}: weightsManifest[{g}] is not an object")
        paths = group.get("paths", [])
        entries = group.get("weights", [])
        if not isinstance(paths, list) or not isinstance(entries, list):
            raise CorruptFile(f"{source.label}: weightsManifest[{g}] lacks paths or weights")
        for p in paths:
            if not isinstance(p, str) or PurePosixPath(p).is_absolute() or ".." in p.split("/"):
                raise UnsafeModel(f"{source.label}: the shard path {p!r} leaves the model folder")
        parts = [(p, source.size(p)) for p in paths]
        sizes.append(parts)
        total, offset = sum(n for _, n in parts), 0
        for e in entries:
            spec = _spec(e, g, offset, source.label)
            offset += spec.nbytes
            if offset > total:
                raise CorruptFile(
                    f"{source.label}: weight {spec.name!r} ends at byte {offset} of group {g}, "
                    f"but its shards hold {total} bytes"
                )
            specs.append(spec)
    return specs, sizes


def _spec(entry: Any, group: int, start: int, label: str) -> _Spec:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise CorruptFile(f"{label}: a manifest entry has no name")
    name = entry["name"]
    shape_raw = entry.get("shape", [])
    if not isinstance(shape_raw, list) or not all(isinstance(d, int) and d >= 0 for d in shape_raw):
        raise CorruptFile(f"{label}: weight {name!r} has shape {shape_raw!r}")
    shape = tuple(shape_raw)
    dtype = str(entry.get("dtype", "float32"))
    q = entry.get("quantization")
    q = q if isinstance(q, dict) else None
    stored = str(q.get("dtype")) if q else dtype
    if stored not in _ITEMSIZE or dtype not in _ITEMSIZE:
        raise CorruptFile(
            f"{label}: weight {name!r} has dtype {stored!r}; expected one of "
            f"{', '.join(_ITEMSIZE)} (string weights are not read)"
        )
    if (
        q
        and stored in ("uint8", "uint16")
        and not all(isinstance(q.get(k), (int, float)) for k in ("scale", "min"))
    ):
        raise CorruptFile(f"{label}: weight {name!r} is quantized without a scale and min")
    nbytes = math.prod(shape) * _ITEMSIZE[stored]
    if nbytes > MAX_ARRAY_BYTES:
        raise UnsafeModel(f"{label}: weight {name!r} declares {nbytes} bytes; refused")
    return _Spec(name, shape, dtype, group, start, nbytes, q)


def _weight(
    spec: _Spec, source: _Source, sizes: list[list[tuple[str, int]]], store: ArrayStore
) -> Weight:
    dtype = "float32" if spec.quantization else spec.dtype
    if spec.quantization and spec.quantization.get("original_dtype") == "int32":
        dtype = "int32"
    return store.weight(
        spec.name,
        Deferred(_loader(spec, source, sizes[spec.group])),
        shape=spec.shape,
        dtype=np.dtype(_NUMPY[dtype]).name,
        trainable=is_trainable(spec.name),
    )


def _loader(spec: _Spec, source: _Source, parts: list[tuple[str, int]]) -> Callable[[], Array]:
    def load() -> Array:
        raw = _group_bytes(source, parts, spec.start, spec.nbytes)
        q = spec.quantization
        stored = str(q["dtype"]) if q else spec.dtype
        values = np.frombuffer(raw, dtype=_NUMPY[stored]).reshape(spec.shape)
        if q and stored in ("uint8", "uint16"):
            real = values.astype(np.float64) * float(q["scale"]) + float(q["min"])
            if q.get("original_dtype") == "int32":
                return np.trunc(real).astype(np.int32)
            return real.astype(np.float32)
        if q and stored == "float16":
            return values.astype(np.float32)
        return values.copy()

    return load


def _group_bytes(source: _Source, parts: list[tuple[str, int]], start: int, n: int) -> bytes:
    """``n`` bytes from ``start`` of a group's shards taken as one stream."""
    out = bytearray()
    offset = 0
    for name, size in parts:
        lo, hi = max(start, offset), min(start + n, offset + size)
        if lo < hi:
            out += source.read(name, lo - offset, hi - lo)
        offset += size
    if len(out) != n:
        raise CorruptFile(f"{source.label}: a weight shard is shorter than its manifest says")
    return bytes(out)


def _by_scope(weights: list[Weight]) -> tuple[LayerWeights, ...]:
    scopes: dict[str, list[Weight]] = {}
    for w in weights:
        scope, _, last = w.name.rpartition("/")
        scopes.setdefault(scope or last, []).append(w.renamed(last or w.name))
    return tuple(
        LayerWeights(p.rsplit("/", 1)[-1], p, "unknown", "other", {}, tuple(ws))
        for p, ws in scopes.items()
    )


def _by_config(tree: Any, weights: dict[str, Weight]) -> tuple[tuple[LayerWeights, ...], list[str]]:
    inner = leaves(tree)
    by_name = {node.name: (path, node) for path, node in inner}
    found: dict[str, list[Weight]] = {path: [] for path, _ in inner}
    stray: list[Weight] = []
    for full, w in weights.items():
        segs = [s for s in full.split(":", 1)[0].split("/") if s]
        hit = next((j for j, s in enumerate(segs[:-1]) if s in by_name), None)
        if hit is None:
            stray.append(w)
            continue
        path, node = by_name[segs[hit]]
        rest = local_segments(node.class_name, segs[hit + 1 :])
        found[path].append(w.renamed("/".join(rest)))
    layers = []
    for path, node in inner:
        kind, wrapped = classify(node.class_name, node.config)
        layers.append(
            LayerWeights(
                node.name, path, node.class_name, kind, node.config, tuple(found[path]), wrapped
            )
        )
    if stray:
        layers.extend(_by_scope(stray))
    return tuple(layers), [w.name for w in stray]
