"""Read safetensors checkpoints by their bytes: one file, or a sharded folder with its index.

The format: 8 bytes (little-endian ``u64``) giving the header's length ``N``, ``N`` bytes of JSON
(``{"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__":
{...}}``), then the data section, to which the offsets are relative. Values are little-endian.

Nothing is trusted before it is checked: the header length against the file size and
``MAX_SAFETENSORS_HEADER_BYTES``, every tensor's offsets against the data section and against
``prod(shape) * itemsize``, no two tensors overlapping. Arrays are never read whole: each is a
read-only view into a memory map of its shard, mapped on first use, so a 2.5 GB checkpoint lists
in milliseconds and statistics walk it chunk by chunk.

Naming (DESIGN.md): tensor ``a.b.c.weight`` is weight ``weight`` of layer ``a.b.c``. With no
classes in the file, a layer's class comes from its name and shapes, using the names Hugging Face
users know: ``Embedding`` (``embed_tokens``, ``wte``), ``RMSNorm``/``LayerNorm`` (names holding
``norm``, ``ln_f``; LayerNorm when it has a bias), ``Linear`` for any other 2-D weight (stored
``(out, in)`` as PyTorch does), ``Tensor`` otherwise.

Decided edge cases:
- A tensor without a dot in its name is its own layer, and its weight has its name.
- Within a layer, ``weight`` comes first, then ``bias``, then the rest in file order (the
  writer sorts names alphabetically, which would put ``bias`` first).
- Layers are listed in natural order of their paths (``layers.2`` before ``layers.10``).
- Sharded: ``model.safetensors.index.json`` names the shard files, which must be plain names in
  the same folder; every tensor of every listed shard is read, and a tensor the index places in a
  shard that does not hold it is a CorruptFile. A folder without an index reads every
  ``.safetensors`` file in it, in name order.
- Dtypes: every one the format defines that numpy or ``ml_dtypes`` can hold (BF16 and the F8
  variants through ``ml_dtypes``); a packed sub-byte dtype (F4, F6) is an UnsupportedFormat
  naming the tensor. Listing knows each dtype's name and size from tables: ``ml_dtypes`` is
  imported only to read such an array (or to check a header's F8_E8M0, which older releases
  lack).
- A ``config.json`` beside the weights (Hugging Face's) names the model by its architecture and
  says whether the output projection is tied to the embedding; it is optional.
"""

from __future__ import annotations

import functools
import json
import math
import mmap
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptFile, UnsafeModel, UnsupportedFormat
from ..kinds import kind_by_name, role_of
from ..layouts import kind_of
from ..records import ML_DTYPES_ITEMSIZES, Array, Extent, LayerWeights, ModelWeights, SourceFormat
from ._shards import read_index, shard_paths
from .safety import MAX_ARRAY_BYTES, MAX_SAFETENSORS_HEADER_BYTES, MAX_SHARDS
from .sniff import SAFETENSORS_INDEX
from .store import ArraySource, ArrayStore

SUFFIX = ".safetensors"
HEADER_PREFIX = 8
"""Bytes of the little-endian header length at the start of every file."""


_NUMPY_CODES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
}
"""The format's dtype codes numpy itself holds, by numpy's name."""
_ML_DTYPES_CODES = {
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "F8_E8M0": "float8_e8m0fnu",
}
"""The codes ``ml_dtypes`` holds, by its name (sizes in ``ML_DTYPES_ITEMSIZES``). Listing needs
only names and sizes: ``ml_dtypes`` is imported when such an array is read (``Tensor.dtype``)."""
_NEWER_ML_DTYPES = {"F8_E8M0"}
"""Codes whose type older ``ml_dtypes`` releases lack (``float8_e8m0fnu`` came in 0.5, and
TensorFlow 2.18 pins 0.4): only a header that uses one imports ``ml_dtypes`` to check."""


def _known(code: str) -> bool:
    if code in _NUMPY_CODES:
        return True
    if code not in _ML_DTYPES_CODES:
        return False
    if code in _NEWER_ML_DTYPES:
        import ml_dtypes

        return hasattr(ml_dtypes, _ML_DTYPES_CODES[code])
    return True


@functools.cache
def _dtype(code: str) -> np.dtype[Any]:
    """The little-endian numpy dtype of a known code (``ml_dtypes`` imported for its codes)."""
    if code in _NUMPY_CODES:
        return np.dtype(_NUMPY_CODES[code]).newbyteorder("<")
    import ml_dtypes

    kind: np.dtype[Any] = np.dtype(getattr(ml_dtypes, _ML_DTYPES_CODES[code]))
    return kind.newbyteorder("<")


@dataclass(frozen=True)
class Tensor:
    """One tensor as a header declares it, after checking."""

    name: str
    code: str
    """The header's dtype code (``BF16``), one ``_known`` accepts."""
    shape: tuple[int, ...]
    start: int
    """Byte offset of its first value in the file (not the data section)."""

    @property
    def dtype_name(self) -> str:
        """numpy's name of its dtype (``bfloat16``), known without importing ``ml_dtypes``."""
        return _NUMPY_CODES.get(self.code) or _ML_DTYPES_CODES[self.code]

    @property
    def itemsize(self) -> int:
        """Bytes per value."""
        if self.code in _ML_DTYPES_CODES:
            return ML_DTYPES_ITEMSIZES[_ML_DTYPES_CODES[self.code]]
        return _dtype(self.code).itemsize

    @property
    def dtype(self) -> np.dtype[Any]:
        """Its numpy dtype, to read its values (imports ``ml_dtypes`` for bfloat16, float8)."""
        return _dtype(self.code)


@dataclass
class _Shard:
    """One safetensors file; mapped into memory on the first array read, then shared."""

    path: Path
    size: int
    _map: mmap.mmap | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def view(self, tensor: Tensor) -> Array:
        with self._lock:
            if self._map is None:
                with self.path.open("rb") as f:
                    if f.seek(0, 2) < self.size:
                        raise CorruptFile(f"{self.path.name} shrank since it was opened")
                    self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        count = math.prod(tensor.shape)
        if count == 0:
            return np.zeros(tensor.shape, tensor.dtype)
        values = np.frombuffer(self._map, tensor.dtype, count, tensor.start)
        return values.reshape(tensor.shape)

    def release(self, tensor: Tensor) -> None:
        """Drop the tensor's pages from this process's resident memory (they stay cached by
        the kernel); neighbours sharing its first or last page are simply re-read."""
        if self._map is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        start = tensor.start - tensor.start % mmap.PAGESIZE
        end = tensor.start + math.prod(tensor.shape) * tensor.dtype.itemsize
        if end > start:
            self._map.madvise(mmap.MADV_DONTNEED, start, end - start)


def read_header(path: Path) -> list[Tensor]:
    """The checked tensor table of one safetensors file, reading only its header.

    Raises:
        CorruptFile: a header that disagrees with the file (length, JSON, offsets, shapes).
        UnsafeModel: a header or a tensor larger than any real one.
        UnsupportedFormat: a dtype Kerascope cannot hold.
    """
    label = path.name
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(HEADER_PREFIX)
        if len(head) < HEADER_PREFIX:
            raise CorruptFile(f"{label} is {size} bytes, too short for a safetensors header")
        length = int.from_bytes(head, "little")
        if length > MAX_SAFETENSORS_HEADER_BYTES:
            raise UnsafeModel(
                f"{label}: the safetensors header declares {length} bytes, more than the "
                f"{MAX_SAFETENSORS_HEADER_BYTES} allowed"
            )
        if HEADER_PREFIX + length > size:
            raise CorruptFile(
                f"{label}: the safetensors header declares {length} bytes but the file has "
                f"only {size - HEADER_PREFIX} after the length; the file is cut short"
            )
        raw = f.read(length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CorruptFile(f"{label}: the safetensors header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise CorruptFile(f"{label}: the safetensors header is not a JSON object")
    data_start = HEADER_PREFIX + length
    return _tensors(header, data_start, size - data_start, label)


def _tensors(header: dict[str, Any], data_start: int, data_size: int, label: str) -> list[Tensor]:
    tensors: list[Tensor] = []
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict):
            raise CorruptFile(f"{label}: tensor {name!r} is not described by a JSON object")
        code, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(code, str) or not _known(code):
            known = ", ".join(c for c in [*_NUMPY_CODES, *_ML_DTYPES_CODES] if _known(c))
            raise UnsupportedFormat(
                f"{label}: tensor {name!r} has dtype {code!r}; Kerascope reads {known}"
            )
        if not (isinstance(shape, list) and all(_is_count(d) for d in shape)):
            raise CorruptFile(f"{label}: tensor {name!r} has shape {shape!r}; expected a list")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
            raise CorruptFile(
                f"{label}: tensor {name!r} has data_offsets {offsets!r}; expected [begin, end]"
            )
        tensor = Tensor(name, code, tuple(shape), data_start + offsets[0])
        begin, end = offsets
        declared = math.prod(shape) * tensor.itemsize
        if declared > MAX_ARRAY_BYTES:
            raise UnsafeModel(
                f"{label}: tensor {name!r} declares {declared} bytes (shape {tuple(shape)}), "
                f"more than the {MAX_ARRAY_BYTES} allowed for one array"
            )
        if not begin <= end <= data_size or end - begin != declared:
            raise CorruptFile(
                f"{label}: tensor {name!r} ({code} {tuple(shape)}, {declared} bytes) has "
                f"data_offsets [{begin}, {end}] in a data section of {data_size} bytes"
            )
        spans.append((begin, end, name))
        tensors.append(tensor)
    spans.sort()
    for (_, end, first), (begin, _, second) in zip(spans, spans[1:], strict=False):
        if begin < end:
            raise CorruptFile(f"{label}: tensors {first!r} and {second!r} overlap in the file")
    return tensors


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_safetensors(path: Path, fmt: SourceFormat = "safetensors") -> ModelWeights:
    """The records of a safetensors file, its index file, or a folder of shards.

    Raises:
        CorruptFile, UnsafeModel, UnsupportedFormat: see ``read_header`` and ``shard_files``.
    """
    folder = path if path.is_dir() else path.parent
    files = shard_files(path)
    shards: list[tuple[_Shard, list[Tensor]]] = []
    for file in files:
        shards.append((_Shard(file, file.stat().st_size), read_header(file)))
    if path.is_dir() or path.name.endswith(".json"):
        _check_index(folder, shards)
    notes: list[str] = []
    config = _hf_config(folder) if (path.is_dir() or len(files) > 1) else None
    by_layer: dict[str, list[tuple[str, Tensor, _Shard]]] = {}
    for shard, tensors in shards:
        for t in tensors:
            layer, _, weight = t.name.rpartition(".")
            by_layer.setdefault(layer or t.name, []).append((weight, t, shard))
    store = ArrayStore()
    layers = [_layer(p, by_layer[p], store) for p in sorted(by_layer, key=natural_key)]
    if config is not None and config.get("tie_word_embeddings") and "lm_head" not in by_layer:
        notes.append("the output projection is tied to the embedding (tie_word_embeddings)")
    name = _model_name(path, config)
    if len(files) > 1:
        notes.append(f"read from {len(files)} shards")
    return ModelWeights(str(path), fmt, name, tuple(layers), tuple(notes), store=store)


def shard_files(path: Path) -> list[Path]:
    """The safetensors files a path stands for: itself, its index's shards, or a folder's.

    Raises:
        CorruptFile: an index that is not a weight map, or names a shard that is missing.
        UnsafeModel: a shard name that would leave the folder, or too many shards.
        UnsupportedFormat: a folder without any safetensors file.
    """
    if path.is_file() and not path.name.endswith(".json"):
        return [path]
    folder = path if path.is_dir() else path.parent
    index = path if path.is_file() else folder / SAFETENSORS_INDEX
    if not index.is_file():
        found = sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIX) and p.is_file())
        if not found:
            raise UnsupportedFormat(
                f"{folder.name} holds no {SUFFIX} file and no {SAFETENSORS_INDEX}"
            )
        if len(found) > MAX_SHARDS:
            raise UnsafeModel(f"{folder.name} holds {len(found)} shards, more than {MAX_SHARDS}")
        return found
    return shard_paths(index, list(weight_map(index).values()))


def weight_map(index: Path) -> dict[str, str]:
    """The ``weight_map`` (tensor name -> shard file name) of a safetensors index file.

    Raises:
        CorruptFile: not JSON, or no weight map of names to file names.
    """
    mapping = read_index(index).get("weight_map")
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise CorruptFile(
            f"{index.name} has no weight_map of tensor names to shard files; expected a "
            f"safetensors index such as {SAFETENSORS_INDEX}"
        )
    return {str(k): v for k, v in mapping.items()}


def _check_index(folder: Path, shards: list[tuple[_Shard, list[Tensor]]]) -> None:
    index = folder / SAFETENSORS_INDEX
    if not index.is_file():
        return
    held = {shard.path.name: {t.name for t in tensors} for shard, tensors in shards}
    for tensor, file in weight_map(index).items():
        if tensor not in held.get(file, set()):
            raise CorruptFile(
                f"{SAFETENSORS_INDEX} places {tensor!r} in {file}, which does not hold it"
            )


def _hf_config(folder: Path) -> dict[str, Any] | None:
    path = folder / "config.json"
    if not path.is_file():
        return None
    try:
        return read_index(path)
    except CorruptFile:
        return None  # the weights are what was asked for; a broken config only loses a name


def _model_name(path: Path, config: dict[str, Any] | None) -> str:
    if config is not None:
        arch = config.get("architectures")
        if isinstance(arch, list) and arch and isinstance(arch[0], str):
            return arch[0]
    base = path if path.is_dir() else path.parent if path.name.endswith(".json") else path
    return base.name.removesuffix(SUFFIX)


def natural_key(text: str) -> list[Any]:
    """Sort key putting ``layers.2`` before ``layers.10``."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text)]


def _layer(path: str, entries: list[tuple[str, Tensor, _Shard]], store: ArrayStore) -> LayerWeights:
    entries = sorted(entries, key=lambda e: {"weight": 0, "bias": 1}.get(e[0], 2))
    names = [w for w, _, _ in entries]
    main = next((t for w, t, _ in entries if w == "weight"), entries[0][1])
    class_name = _class(path, len(main.shape), "bias" in names)
    kind = kind_of(class_name)
    weights = tuple(
        store.weight(
            w, TensorSource(shard, t), shape=t.shape, dtype=t.dtype_name, role=_role(w, kind)
        )
        for w, t, shard in entries
    )
    return LayerWeights(path.rpartition(".")[2], path, class_name, kind, {}, weights)


def _class(path: str, ndim: int, has_bias: bool) -> str:
    by_name = kind_by_name(path)
    if by_name == "embedding" and ndim == 2:
        return "Embedding"
    if by_name == "layer_norm" and ndim == 1:
        return "LayerNorm" if has_bias else "RMSNorm"
    return "Linear" if ndim == 2 else "Tensor"


def _role(weight: str, kind: str) -> Any:
    if weight == "weight":
        return {"dense": "kernel", "embedding": "embeddings", "layer_norm": "gamma"}.get(
            kind, "other"
        )
    if weight == "bias" and kind == "layer_norm":
        return "beta"
    return role_of(weight)


class TensorSource(ArraySource):
    """Reads one tensor (a view of the shard's memory map); ``extent`` says where it lies, and
    ``release`` hands the tensor's mapped pages back after a full pass."""

    def __init__(self, shard: _Shard, tensor: Tensor) -> None:
        self.shard, self.tensor = shard, tensor

    def read(self) -> Array:
        return self.shard.view(self.tensor)

    def release(self) -> None:
        self.shard.release(self.tensor)

    def extent(self) -> Extent | None:
        if not math.prod(self.tensor.shape):
            return None
        return Extent(str(self.shard.path), self.tensor.start, _spelling(self.tensor))


def _spelling(tensor: Tensor) -> str:
    """numpy's spelling of ``tensor``'s dtype that reads back as it, or unsigned integers of its
    size for the ``ml_dtypes`` types, which have none (``float8_e5m2`` spells as ``<f1``)."""
    if tensor.code in _ML_DTYPES_CODES:
        return np.dtype(f"<u{tensor.itemsize}").str
    return tensor.dtype.str
