"""Read a TensorFlow Lite flatbuffer (``.tflite``) through its schema, never the interpreter.

The file is parsed with the ``tflite`` package (the flatbuffer binding generated from TFLite's
schema); the interpreter is never built, so files that need Flex or custom ops open as well.

What becomes what:
- Every subgraph is walked (a recurrent layer's weights may live only in a WHILE body).
- Every tensor with constant data is a weight, exactly as stored (int8 stays int8, float16
  stays float16, int32 biases stay int32), named as the file names it. A buffer shared by
  several tensors is one weight, listed once under the first tensor that uses it.
- Tensors are grouped into layers by the op that uses them: the weight and bias inputs of
  FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, CONV_3D, EMBEDDING_LOOKUP, a
  GATHER from a constant table and UNIDIRECTIONAL_SEQUENCE_LSTM get their roles from the
  op's input slot. A layer's path is the name scope of its weight tensor
  (``model_1/conv_1/convolution`` -> ``model_1/conv_1``); weights of several ops in one scope
  (an LSTM cell's ``MatMul`` and ``MatMul_1``) form one layer. A constant input reached
  through a DEQUANTIZE op (float16 weights) belongs to the op that consumes the DEQUANTIZE.
- Other constants join the layer whose path prefixes their name, or a ``<subgraph>/constants``
  layer.
- The stored axis order is recorded in ``Weight.layout`` (see ``extraction.layouts``);
  quantization parameters in ``Weight.quantization``.

Decided edge cases:
- Every offset is checked against the file size before it is followed: a buffer stored outside
  the flatbuffer (``offset``/``size``, for files over 2 GB) must lie inside the file; a tensor's
  declared shape must match its buffer's byte count; vector lengths must fit in the file. A
  damaged file is a CorruptFile, a declared size beyond the file an UnsafeModel.
- Sparse tensors and packed int4 keep their stored bytes as a flat array, with a note.
- Strings, resources and variants are not numbers and are skipped.
"""

from __future__ import annotations

import math
import mmap
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import layouts
from ..errors import CorruptFile, UnsafeModel, fault_text
from ..kinds import WeightRole
from ..records import (
    Array,
    LayerWeights,
    ModelWeights,
    Quantization,
    SourceFormat,
    Weight,
    unique_names,
)
from ._layer_vars import class_from_name
from .notes import grouped
from .safety import MAX_ARRAY_BYTES
from .store import ArrayStore, Deferred

# TensorType -> numpy dtype (little-endian, as the schema stores). Missing: not numbers.
_DTYPES: dict[int, str] = {
    0: "<f4", 1: "<f2", 2: "<i4", 3: "u1", 4: "<i8", 6: "?", 7: "<i2", 8: "<c8", 9: "i1",
    10: "<f8", 11: "<c16", 12: "<u8", 15: "<u4", 16: "<u2", 17: "u1", 18: "bfloat16",
}  # fmt: skip
_INT4 = 17

# op name -> (Keras class the views treat it as, {input slot: (role, layout)})
_LAYER_OPS: dict[str, tuple[str, dict[int, tuple[WeightRole, str | None]]]] = {
    "FULLY_CONNECTED": ("Dense", {1: ("kernel", layouts.FULLY_CONNECTED), 2: ("bias", None)}),
    "CONV_2D": ("Conv2D", {1: ("kernel", layouts.CONV), 2: ("bias", None)}),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2D", {1: ("kernel", "depthwise"), 2: ("bias", None)}),
    "TRANSPOSE_CONV": (
        "Conv2DTranspose",
        {1: ("kernel", layouts.TRANSPOSE_CONV), 3: ("bias", None)},
    ),
    "CONV_3D": ("Conv3D", {1: ("kernel", None), 2: ("bias", None)}),
    "EMBEDDING_LOOKUP": ("Embedding", {1: ("embeddings", None)}),
    "GATHER": ("Embedding", {0: ("embeddings", None)}),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": (
        "LSTM",
        {
            **{i: ("kernel", layouts.FULLY_CONNECTED) for i in range(1, 5)},
            **{i: ("recurrent_kernel", layouts.FULLY_CONNECTED) for i in range(5, 9)},
            **{i: ("bias", None) for i in range(12, 16)},
        },
    ),
}
_ROLE_ORDER: list[WeightRole] = ["kernel", "recurrent_kernel", "embeddings", "bias", "other"]


@dataclass
class _Layer:
    path: str
    class_name: str
    ops: list[str] = field(default_factory=list)
    weights: list[Weight] = field(default_factory=list)


@dataclass
class _Reader:
    model: Any
    size: int
    label: str
    buf: Any
    layers: dict[str, _Layer] = field(default_factory=dict)
    used: dict[int, str] = field(default_factory=dict)
    """buffer index -> the tensor name it was first listed under"""
    aliases: list[str] = field(default_factory=list)
    odd: list[str] = field(default_factory=list)
    dequantized: list[str] = field(default_factory=list)
    store: ArrayStore = field(default_factory=ArrayStore)


def read_tflite(path: Path, fmt: SourceFormat = "tflite") -> ModelWeights:
    """The records of a ``.tflite`` file; arrays are read when first asked for.

    Raises:
        CorruptFile: not a readable TFLite flatbuffer.
        UnsafeModel: a buffer or tensor that declares more bytes than the file holds.
    """
    import tflite

    size = path.stat().st_size
    if size < 8:
        raise CorruptFile(f"{path.name} is {size} bytes, too short for a TFLite flatbuffer")
    with path.open("rb") as f:
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        reader = _Reader(model, size, path.name, buf)
        _read(reader)
        name = _text(model.Description()) or path.stem
        layers = tuple(_record(layer) for layer in reader.layers.values())
    except (IndexError, ValueError, TypeError, AttributeError, OverflowError, struct.error) as exc:
        # flatbuffers raises these when an offset points somewhere it should not
        _close(buf)
        text = fault_text(exc)
        raise CorruptFile(f"{path.name}: the TFLite flatbuffer is damaged ({text})") from exc
    except BaseException:
        _close(buf)
        raise
    notes = _notes(reader)
    records = ModelWeights(str(path), fmt, path.stem if name.startswith("MLIR") else name,
                           layers, tuple(notes), store=reader.store)  # fmt: skip
    reader.store.close_with(_close, buf)
    return records


def _close(buf: Any) -> None:
    try:
        buf.close()
    except BufferError:  # an array view still exported; the mapping goes with the process
        pass


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value or "")


def _count(n: int, what: str, r: _Reader, each: int = 4) -> int:
    if n < 0 or n * each > r.size:
        raise CorruptFile(f"{r.label}: {what} claims {n} entries, more than the file can hold")
    return n


def _read(r: _Reader) -> None:
    import tflite

    model = r.model
    codes = [
        max(model.OperatorCodes(i).BuiltinCode(), model.OperatorCodes(i).DeprecatedBuiltinCode())
        for i in range(_count(model.OperatorCodesLength(), "operator codes", r))
    ]
    n_buffers = _count(model.BuffersLength(), "buffers", r)
    for s in range(_count(model.SubgraphsLength(), "subgraphs", r)):
        g = model.Subgraphs(s)
        sub = _text(g.Name()) or f"subgraph_{s}"
        n_tensors = _count(g.TensorsLength(), f"{sub}'s tensors", r)
        tensors = [g.Tensors(i) for i in range(n_tensors)]
        ops = [g.Operators(i) for i in range(_count(g.OperatorsLength(), f"{sub}'s ops", r))]
        producer: dict[int, tuple[str, Any]] = {}
        names = {c: tflite.BUILTIN_OPCODE2NAME.get(c, f"OP_{c}") for c in set(codes)}
        for op in ops:
            code = codes[op.OpcodeIndex()] if op.OpcodeIndex() < len(codes) else -1
            for out in _ints(op.OutputsAsNumpy() if op.OutputsLength() else ()):
                producer[out] = (names.get(code, "?"), op)
        for i, op in enumerate(ops):
            code = codes[op.OpcodeIndex()] if op.OpcodeIndex() < len(codes) else -1
            op_name = names.get(code, f"OP_{code}")
            if op_name not in _LAYER_OPS:
                continue
            inputs = _ints(op.InputsAsNumpy() if op.InputsLength() else ())
            _layer_op(r, sub, i, op_name, op, inputs, tensors, producer, n_buffers)
        for t in tensors:
            _constant(r, sub, t, n_buffers)


def _ints(values: Any) -> list[int]:
    return [int(v) for v in np.asarray(values).reshape(-1)]


def _layer_op(
    r: _Reader,
    sub: str,
    index: int,
    op_name: str,
    op: Any,
    inputs: list[int],
    tensors: list[Any],
    producer: dict[int, tuple[str, Any]],
    n_buffers: int,
) -> None:
    class_name, slots = _LAYER_OPS[op_name]
    found: list[tuple[Any, WeightRole, str | None, bool]] = []
    for slot, (role, layout) in slots.items():
        if slot >= len(inputs) or not 0 <= inputs[slot] < len(tensors):
            continue
        t, via = tensors[inputs[slot]], False
        if not _has_data(r, t, n_buffers):
            made = producer.get(inputs[slot])
            if made is None or made[0] != "DEQUANTIZE" or not made[1].InputsLength():
                continue
            src = int(made[1].Inputs(0))
            if not 0 <= src < len(tensors) or not _has_data(r, tensors[src], n_buffers):
                continue
            t, via = tensors[src], True
        if layout == "depthwise":
            layout = layouts.depthwise(_multiplier(t, inputs, tensors))
        found.append((t, role, layout, via))
    if not found or (op_name == "GATHER" and found[0][1] != "embeddings"):
        return
    scope = _scope(_text(found[0][0].Name())) or f"{sub}/{op_name.lower()}_{index}"
    layer = r.layers.get(scope)
    if layer is None:
        layer = r.layers[scope] = _Layer(scope, _cell_class(scope) or class_name)
    layer.ops.append(op_name)
    cell = _cell_class(scope) is not None
    for t, role, layout, via in found:
        if t.Buffer() in r.used:
            continue
        if cell and role == "kernel" and _text(t.Name()).rsplit("/", 1)[-1].startswith("MatMul_"):
            role = "recurrent_kernel"  # Keras cells: MatMul is x @ kernel, MatMul_1 h @ recurrent
        w = _weight(r, t, scope, role, layout)
        if w is not None:
            layer.weights.append(w)
            if via:
                r.dequantized.append(f"{w.name} ({w.dtype}) -> {op_name} in {scope}")


def _multiplier(t: Any, inputs: list[int], tensors: list[Any]) -> int:
    channels_out = int(t.Shape(t.ShapeLength() - 1)) if t.ShapeLength() else 0
    x = tensors[inputs[0]] if inputs and 0 <= inputs[0] < len(tensors) else None
    channels_in = int(x.Shape(x.ShapeLength() - 1)) if x is not None and x.ShapeLength() else 0
    if channels_in > 0 and channels_out % channels_in == 0:
        return channels_out // channels_in
    return 1


def _scope(name: str) -> str:
    first = name.split(";", 1)[0]
    return first.rsplit("/", 1)[0] if "/" in first else ""


def _cell_class(scope: str) -> str | None:
    """The recurrent layer whose cell a name scope is (``lstm_cell_3`` -> LSTM); None else."""
    return layouts.layer_of_cell(class_from_name(scope.rsplit("/", 1)[-1])) or None


def _constant(r: _Reader, sub: str, t: Any, n_buffers: int) -> None:
    if not _has_data(r, t, n_buffers):
        return
    name = _text(t.Name())
    if t.Buffer() in r.used:
        if r.used[t.Buffer()] != name:
            r.aliases.append(f"{name} = {r.used[t.Buffer()]}")
        return
    owner = max(
        (p for p in r.layers if name.startswith(p + "/")), key=len, default=f"{sub}/constants"
    )
    layer = r.layers.get(owner)
    if layer is None:
        layer = r.layers[owner] = _Layer(owner, "Constant")
    role: WeightRole = "bias" if re.search(r"(^|/)(BiasAdd|bias)", name) else "other"
    w = _weight(r, t, owner, role if layer.class_name != "Constant" else "other", None)
    if w is not None:
        layer.weights.append(w)


def _has_data(r: _Reader, t: Any, n_buffers: int) -> bool:
    b = t.Buffer()
    if not 0 < b < n_buffers:
        return False
    if b in r.used:
        return True
    buffer = r.model.Buffers(b)
    return bool(buffer.DataLength() or buffer.Offset() > 1)


def _weight(r: _Reader, t: Any, scope: str, role: WeightRole, layout: str | None) -> Weight | None:
    b = t.Buffer()
    name = _text(t.Name()) or f"tensor_{b}"
    if b in r.used:
        r.aliases.append(f"{name} = {r.used[b]}")
        return None
    dtype = _DTYPES.get(t.Type())
    if dtype is None:
        return None
    r.used[b] = name
    shape = tuple(int(d) for d in _ints(t.ShapeAsNumpy())) if t.ShapeLength() else ()
    start, nbytes = _span(r, b, name)
    itemsize = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
    declared = math.prod(shape) * itemsize
    if any(d < 0 for d in shape) or declared > MAX_ARRAY_BYTES:
        raise UnsafeModel(f"{r.label}: tensor {name!r} declares shape {shape}; refused")
    if t.Sparsity() is not None or t.Type() == _INT4 or declared != nbytes:
        if t.Sparsity() is None and t.Type() != _INT4:
            raise CorruptFile(
                f"{r.label}: tensor {name!r} of shape {shape} ({dtype}) needs {declared} bytes "
                f"but its buffer holds {nbytes}"
            )
        r.odd.append(name)
        dtype, shape, layout = "u1", (nbytes,), None
    local = name[len(scope) + 1 :] if name.startswith(scope + "/") else name
    np_dtype = _numpy_dtype(dtype)
    return r.store.weight(
        local,
        Deferred(_loader(r.buf, start, shape, np_dtype)),
        shape=shape,
        dtype=np_dtype.name,
        role=role,
        quantization=_quantization(t, len(shape)),
        layout=layout if len(shape) >= 2 else None,
    )


def _numpy_dtype(dtype: str) -> np.dtype[Any]:
    if dtype == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)  # type: ignore[no-any-return]
    return np.dtype(dtype)


def _span(r: _Reader, b: int, name: str) -> tuple[int, int]:
    """(byte offset in the file, byte count) of buffer ``b``, checked against the file."""
    buffer = r.model.Buffers(b)
    offset = int(buffer.Offset())
    if offset > 1:
        nbytes = int(buffer.Size())
        if offset + nbytes > r.size:
            raise UnsafeModel(
                f"{r.label}: tensor {name!r} points at bytes {offset}..{offset + nbytes} of a "
                f"file of {r.size}; refused"
            )
        return offset, nbytes
    nbytes = int(buffer.DataLength())
    vector = buffer._tab.Offset(4)  # the schema's Buffer.data field
    start = int(buffer._tab.Vector(vector)) if vector else 0
    if start + nbytes > r.size:
        raise UnsafeModel(
            f"{r.label}: tensor {name!r} claims {nbytes} bytes at {start}, beyond the file's "
            f"{r.size}; refused"
        )
    return start, nbytes


def _loader(
    buf: Any, start: int, shape: tuple[int, ...], dtype: np.dtype[Any]
) -> Callable[[], Array]:
    def load() -> Array:
        count = math.prod(shape)
        raw = bytes(buf[start : start + count * dtype.itemsize])
        return np.frombuffer(raw, dtype=dtype, count=count).reshape(shape)

    return load


def _quantization(t: Any, ndim: int) -> Quantization | None:
    q = t.Quantization()
    if q is None or not q.ScaleLength():
        return None
    scale = tuple(float(s) for s in q.ScaleAsNumpy())
    zero = tuple(int(z) for z in q.ZeroPointAsNumpy()) if q.ZeroPointLength() else ()
    if len(zero) not in (0, len(scale)):
        zero = zero[:1] * len(scale)
    axis = int(q.QuantizedDimension()) if len(scale) > 1 else None
    if axis is not None and not 0 <= axis < ndim:
        axis = None
    return Quantization(scale, zero, axis)


def _record(layer: _Layer) -> LayerWeights:
    name = layer.path.rsplit("/", 1)[-1]
    config = {"tflite_ops": list(dict.fromkeys(layer.ops))} if layer.ops else {}
    weights = sorted(layer.weights, key=lambda w: _ROLE_ORDER.index(w.role))
    return LayerWeights(
        name, layer.path, layer.class_name, layouts.kind_of(layer.class_name), config,
        unique_names(weights),
    )  # fmt: skip


def _notes(r: _Reader) -> list[str]:
    notes = ["read from the TFLite flatbuffer (not run): weights as stored, named as the file"]
    notes += grouped("tensors share one buffer and are listed once", r.aliases)
    notes += grouped(
        "float weights stored at lower precision behind DEQUANTIZE ops (shown as stored)",
        r.dequantized,
    )
    notes += grouped("sparse or packed int4 tensors shown as their stored bytes", r.odd)
    return notes
