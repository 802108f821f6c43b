"""Files on which a parser raises a Python exception of its own, made with the real tools.

Each reproduces a message users once got with a Python exception's name or an address in it:

- ``bad_link_name``: an HDF5 group whose name is not UTF-8. h5py's link walk leaves the decode
  error set and its lock then reports ``<cyfunction FastRLock.__exit__ at 0x7f...> returned a
  result with an exception set`` (as some of the HDF5 project's CVE files do).
- ``saved_model_outside``: a SavedModel whose object graph (``saved_model.pb``) names a child
  node past its last node (``IndexError``).
- ``checkpoint_outside``: the same in a checkpoint's own object graph.
- ``saved_model_deep``: a Keras 2 SavedModel whose ``keras_metadata.pb`` nests its layers
  1,200 levels deep (``RecursionError`` when its JSON is parsed).

The SavedModels are copies of the public Keras 2 SavedModel in ``../shared/realworld``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import h5py

from kerascope.extraction.readers._saved_graph import _fields  # the reader's own parser

OUTSIDE = 10**6
"""The node id the damaged graphs point at."""


def bad_link_name(src: Path, out: Path) -> Path:
    """``src`` (an HDF5 model file) with an empty group whose name is not UTF-8."""
    shutil.copy(src, out)
    with h5py.File(out, "r+") as f:
        f["layers" if "layers" in f else "/"].create_group(b"bad\xe5name")
    return out


def _copy(folder: Path, out: Path) -> Path:
    shutil.copytree(folder, out)
    for path in [out, *out.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # the corpus is read-only
    return out


def saved_model_outside(saved_model: Path, out: Path) -> Path:
    """A copy of ``saved_model`` (without ``keras_metadata.pb``, so names come from
    ``saved_model.pb``) whose root's first child is node ``OUTSIDE``."""
    from tensorflow.core.protobuf import saved_model_pb2

    folder = _copy(saved_model, out)
    (folder / "keras_metadata.pb").unlink()
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((folder / "saved_model.pb").read_bytes())
    proto.meta_graphs[0].object_graph_def.nodes[0].children[0].node_id = OUTSIDE
    (folder / "saved_model.pb").write_bytes(proto.SerializeToString())
    return folder


def checkpoint_outside(saved_model: Path, out: Path) -> Path:
    """The checkpoint of ``saved_model`` written again with its object graph's root's first
    child at node ``OUTSIDE``; returns its ``.index`` file."""
    import tensorflow as tf
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    out.mkdir()
    reader = tf.train.load_checkpoint(str(saved_model / "variables" / "variables"))
    names = sorted(reader.get_variable_to_shape_map())
    values: list[Any] = [reader.get_tensor(name) for name in names]
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    key = "_CHECKPOINTABLE_OBJECT_GRAPH"
    graph.ParseFromString(values[names.index(key)])
    graph.nodes[0].children[0].node_id = OUTSIDE
    values[names.index(key)] = graph.SerializeToString()
    prefix = str(out / "ckpt")
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(v) for v in values],
    )
    return out / "ckpt.index"


def saved_model_deep(saved_model: Path, out: Path, depth: int = 400) -> Path:
    """A copy of ``saved_model`` whose root metadata holds Sequentials nested ``depth`` deep
    (three JSON levels each)."""
    folder = _copy(saved_model, out)
    path = folder / "keras_metadata.pb"
    nodes = []
    for number, node in _fields(path.read_bytes()):
        fields = _fields(node)
        if number == 1 and bytes(dict(fields).get(3, b"")) == b"root":
            meta = json.loads(dict(fields)[5])
            meta["config"]["layers"].append("DEEP")
            level = '{"class_name": "Sequential", "config": {"name": "s", "layers": ['
            text = json.dumps(meta).replace('"DEEP"', level * depth + "]}}" * depth)
            fields = [(n, text.encode() if n == 5 else v) for n, v in fields]
        nodes.append(_field(number, b"".join(_field(n, v) for n, v in fields)))
    path.write_bytes(b"".join(nodes))
    return folder


def _field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)
