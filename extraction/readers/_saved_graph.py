"""The object graph of a TF checkpoint, and the names a SavedModel records beside it.

Only TensorFlow's checkpoint reader and protobuf parsers are used: nothing is loaded or run.

Decided edge cases:
- A node reachable by several paths gets the first path in breadth-first order (the one TF
  itself uses for the checkpoint key).
- A checkpoint without an object graph (TF1, name-based) lists its keys as paths.
- ``keras_metadata.pb`` is parsed by hand (its message is three strings and an id), so no Keras
  2 protobuf module is needed; a malformed one is ignored with the names then unknown, but one
  whose JSON nests too deeply to parse is refused (CorruptFile), as a deep config is.
- An object graph (the checkpoint's, or ``saved_model.pb``'s) whose nodes name a child that is
  not one of its nodes is refused (CorruptFile: "the object graph points outside itself").
"""

from __future__ import annotations

import glob
import json
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptFile
from ..records import Array
from .safety import MAX_PROTOBUF_BYTES

_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
LATE_EDGES = frozenset(
    {"optimizer", "_optimizer", "keras_api", "save_counter", "_all_variables", "_tracker"}
)


@dataclass(frozen=True)
class Variable:
    node_id: int
    path: list[str]
    key: str


@dataclass(frozen=True)
class SlotVariable:
    """An optimizer slot TF records against the variable it belongs to (Keras 2)."""

    owner: int
    """The node of the variable it belongs to."""
    name: str
    """The slot's name (``m``, ``v``, ``momentum``, ``rms`` ...)."""
    key: str
    """Its checkpoint key (``.../.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE``)."""
    optimizer: int
    """The node of the optimizer that keeps it."""


class Graph:
    """A checkpoint's variables with their object paths; reads values on demand."""

    def __init__(self, reader: Any, children: list[list[tuple[int, str]]], data_bytes: int):
        self._reader = reader
        self._children = children
        self._lock = threading.Lock()
        self._shapes = reader.get_variable_to_shape_map()
        self._dtypes = reader.get_variable_to_dtype_map()
        self.data_bytes = data_bytes
        self._vars: list[Variable] = []
        self.keys: dict[int, str] = {}
        """Every variable node's checkpoint key, reachable by a path or not (slots)."""
        self.slots: list[SlotVariable] = []

    @classmethod
    def load(cls, prefix: str, label: str) -> Graph:
        """Open the checkpoint at ``prefix`` (``.../variables/variables``)."""
        from .._native import import_tensorflow, quiet_native_stderr

        tf = import_tensorflow()
        try:
            with quiet_native_stderr():
                reader = tf.train.load_checkpoint(prefix)
        except Exception as exc:  # TF raises several types for a bad checkpoint  # noqa: BLE001
            raise CorruptFile(f"{label}: the checkpoint cannot be read ({exc})") from exc
        data = sum(Path(p).stat().st_size for p in glob.glob(glob.escape(prefix) + ".data-*"))
        graph = cls(reader, [], data)
        if reader.has_tensor(_GRAPH_KEY):
            from tensorflow.core.protobuf import trackable_object_graph_pb2

            proto = trackable_object_graph_pb2.TrackableObjectGraph()
            proto.ParseFromString(reader.get_tensor(_GRAPH_KEY))
            graph._children = [[(c.node_id, c.local_name) for c in n.children] for n in proto.nodes]
            check_children(graph._children, f"{label}: the checkpoint")
            paths = graph._paths()
            for i, node in enumerate(proto.nodes):
                for attr in node.attributes:
                    if attr.name == "VARIABLE_VALUE":
                        graph.keys[i] = attr.checkpoint_key
                        if i in paths:
                            graph._vars.append(Variable(i, paths[i], attr.checkpoint_key))
            for i, node in enumerate(proto.nodes):
                for slot in node.slot_variables:
                    key = graph.keys.get(slot.slot_variable_node_id)
                    if key is not None:
                        graph.slots.append(
                            SlotVariable(slot.original_variable_node_id, slot.slot_name, key, i)
                        )
        else:
            for n, key in enumerate(sorted(graph._shapes)):
                if key != _GRAPH_KEY:
                    graph._vars.append(Variable(-1 - n, key.split("/"), key))
        return graph

    def _paths(self) -> dict[int, list[str]]:
        """First breadth-first path of each node, found through the model before the rest.

        An optimizer tracks the model's variables too (a shorter path): those must still be
        found under the model, so the bookkeeping edges are walked only afterwards.
        """
        paths: dict[int, list[str]] = {0: []}
        for allow_late in (False, True):
            queue, visited = deque([0]), {0}
            while queue:
                node = queue.popleft()
                for child, name in self._children[node]:
                    if name in LATE_EDGES and not allow_late:
                        continue
                    paths.setdefault(child, [*paths[node], name])
                    if child not in visited:
                        visited.add(child)
                        queue.append(child)
        return paths

    def variables(self) -> list[Variable]:
        """Every variable node, in breadth-first order of its path."""
        return sorted(self._vars, key=lambda v: (len(v.path), v.node_id))

    @property
    def node_count(self) -> int:
        """Nodes of the object graph (0 without one)."""
        return len(self._children)

    def children(self, node: int) -> list[tuple[int, str]]:
        """(child node, local name) of ``node``; none for a checkpoint without object graph."""
        return list(self._children[node]) if 0 <= node < len(self._children) else []

    def node_at(self, path: list[str]) -> int | None:
        """The node reached from the root by the local names in ``path``."""
        node = 0
        for name in path:
            nxt = [c for c, n in self._children[node] if n == name] if self._children else []
            if not nxt:
                return None
            node = nxt[0]
        return node

    def shape(self, key: str) -> tuple[int, ...]:
        return tuple(int(d) for d in self._shapes[key])

    def dtype(self, key: str) -> str:
        return str(self._dtypes[key].name)

    def nbytes(self, key: str) -> int:
        try:
            itemsize = int(self._dtypes[key].size)
        except (TypeError, ValueError):
            itemsize = 8
        return math.prod(self.shape(key)) * itemsize

    def loader(self, key: str) -> Callable[[], Array]:
        def load() -> Array:
            with self._lock:
                return np.asarray(self._reader.get_tensor(key))

        return load


def check_children(children: list[list[tuple[int, str]]], what: str) -> None:
    """Refuse an object graph whose nodes name children that are not among its nodes.

    Raises:
        CorruptFile: the first such child, with the node that names it.
    """
    count = len(children)
    for node, named in enumerate(children):
        for child, name in named:
            if not 0 <= child < count:
                raise CorruptFile(
                    f"{what}: the object graph points outside itself (node {node} names node "
                    f"{child} as {name!r}, but the graph has {count} nodes)"
                )


def _fields(data: bytes) -> list[tuple[int, Any]]:
    """(field number, value) of one protobuf message: varints and length-delimited only."""
    out: list[tuple[int, Any]] = []
    i = 0

    def varint() -> int:
        nonlocal i
        value = shift = 0
        while True:
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while i < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, varint()))
        elif wire == 2:
            size = varint()
            out.append((number, data[i : i + size]))
            i += size
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError(f"wire type {wire}")
    return out


def keras_metadata(path: Path, label: str) -> dict[str, dict[str, Any]]:
    """Keras 2's ``keras_metadata.pb``: node path (``root.layer-0``) -> identifier, metadata.

    Raises:
        CorruptFile: metadata that nests too deeply to parse (``label`` names the model).
    """
    if not path.is_file() or path.stat().st_size > MAX_PROTOBUF_BYTES:
        return {}
    out: dict[str, dict[str, Any]] = {}
    try:
        for number, node in _fields(path.read_bytes()):
            if number != 1 or not isinstance(node, bytes):
                continue
            fields = dict(_fields(node))
            meta = json.loads(fields.get(5, b"{}") or b"{}")
            node_path = bytes(fields.get(3, b"")).decode()
            out[node_path] = {
                "identifier": bytes(fields.get(4, b"")).decode(),
                "name": str(meta.get("name", "")),
                "class_name": str(meta.get("class_name", "")).rsplit(">", 1)[-1],
                "config": meta.get("config") if isinstance(meta.get("config"), dict) else {},
                "metadata": meta,
            }
    except (ValueError, IndexError, UnicodeDecodeError):
        return {}
    except RecursionError as exc:
        raise CorruptFile(
            f"{label}: {path.name} nests too deeply to describe a Keras model"
        ) from exc
    return out


def saved_variable_names(path: Path, label: str) -> dict[tuple[str, ...], str]:
    """Object path -> variable name, from a SavedModel's object graph (Keras 3 exports).

    Raises:
        CorruptFile: the object graph points outside itself (``label`` names the model).
    """
    if not path.is_file() or path.stat().st_size > MAX_PROTOBUF_BYTES:
        return {}
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString(path.read_bytes())
    except Exception:  # noqa: BLE001 - protobuf's DecodeError; names are then unknown
        return {}
    if not proto.meta_graphs:
        return {}
    nodes = proto.meta_graphs[0].object_graph_def.nodes
    children = [[(c.node_id, c.local_name) for c in n.children] for n in nodes]
    check_children(children, f"{label}: {path.name}")
    out: dict[tuple[str, ...], str] = {}
    paths: dict[int, tuple[str, ...]] = {0: ()}
    queue = deque([0])
    while queue:
        i = queue.popleft()
        if nodes[i].WhichOneof("kind") == "variable" and nodes[i].variable.name:
            out[paths[i]] = nodes[i].variable.name
        for child in nodes[i].children:
            if child.node_id not in paths:
                paths[child.node_id] = (*paths[i], child.local_name)
                queue.append(child.node_id)
    return out
