"""A model's layers and their connections, read from the model config Keras stores.

``model_graph(config)`` turns the JSON config of a ``.keras`` file, a legacy HDF5 model or a live
model into a ``ModelGraph``: one node per layer (nested models walked into, as the records do)
and one edge per tensor passed from a layer to the next. ``extraction.graph_layout`` places it.

What is read (decided, tested):
- Functional models: every layer's ``inbound_nodes``, in the Keras 2 spelling (lists of
  ``[layer, node, tensor, kwargs]``) and the Keras 3 one (``args``/``kwargs`` holding
  ``__keras_tensor__`` objects whose ``keras_history`` names the layer), tensors in keyword
  arguments included (MultiHeadAttention's ``value``). ``input_layers``/``output_layers`` may be
  one ``[name, node, tensor]`` triple (Keras 3, one input) or a list of them.
- Sequential models: a chain in order; their InputLayer is not a node (as in the records).
- A nested model is a group: edges into it go to its inputs (by argument position), edges out
  of it leave from the output its tensor index names. ``collapse`` folds a group into one node.
- A shared layer is one node with every caller's edges. Duplicate edges are kept once; an edge
  naming a layer the config does not have is dropped (a damaged config still draws).
- An edge's tensor shape is what the config says of it, nothing inferred: the tensor's own
  ``shape`` (Keras 3 functional configs), else the receiving layer's ``build_config``
  ``input_shape`` (for its argument position when it has several), else an InputLayer's
  ``batch_shape``/``batch_input_shape`` for what leaves it; a config that says none (Keras 2's
  legacy HDF5 Sequential) has edges without shapes. Entries that are not lists of integers
  and nulls are ignored.
- A config without a layer list (a subclassed model), or one that is not a dict, has no graph:
  ``model_graph`` returns None. The walk is iterative, so a config nested however deep cannot
  exhaust the stack; its size is already bounded by ``readers.safety.MAX_CONFIG_BYTES``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .readers.safety import MAX_CONFIG_DEPTH

Edge = tuple[str, str]
"""(from node id, to node id)."""
Shape = tuple[int | None, ...]
"""A tensor's shape as the config writes it; None for a dimension it leaves open (the batch)."""


@dataclass(frozen=True)
class GraphNode:
    """One layer, or one nested model (a group), of the graph."""

    id: str
    """The layer's path through nested models, as in ``LayerWeights.path`` (``base/conv1``)."""
    name: str
    """The layer's own name."""
    class_name: str
    """The Keras class (``Conv2D``, ``Functional`` for a group)."""
    group: str
    """The path of the nested model holding it; ``""`` at the top level."""
    is_group: bool = False
    """True for a nested model: drawn only when collapsed, its layers otherwise."""


@dataclass(frozen=True)
class ModelGraph:
    """Layers and the tensors between them, nested models fully expanded."""

    name: str
    """The model's name."""
    nodes: tuple[GraphNode, ...]
    """Every layer and every nested model, in config order."""
    edges: tuple[tuple[str, str], ...]
    """(from layer id, to layer id) between plain layers, each once."""
    inputs: tuple[str, ...]
    """Ids of the layers the model's inputs enter."""
    outputs: tuple[str, ...]
    """Ids of the layers whose tensors the model returns."""
    shapes: tuple[tuple[Edge, Shape], ...] = ()
    """The tensor shape of each edge the config gives one for (see the module doc)."""

    @property
    def groups(self) -> tuple[str, ...]:
        """Ids of the nested models, outermost first."""
        return tuple(n.id for n in self.nodes if n.is_group)

    def collapse(self, collapsed: Iterable[str]) -> tuple[tuple[GraphNode, ...], list[Edge]]:
        """The nodes and edges to draw when the groups in ``collapsed`` are folded.

        A layer inside a folded group (at any depth) is replaced by its outermost folded group;
        edges between layers of one folded group disappear; the rest are kept once. Unknown
        group ids are ignored.
        """
        owner = self._owner(collapsed)
        hidden = {n.id for n in self.nodes if owner(n.id) != n.id}
        folded = set(collapsed)
        nodes = tuple(
            n for n in self.nodes if n.id not in hidden and (not n.is_group or n.id in folded)
        )
        edges: list[Edge] = []
        seen: set[Edge] = set()
        for a, b in self.edges:
            edge = (owner(a), owner(b))
            if edge[0] != edge[1] and edge not in seen:
                seen.add(edge)
                edges.append(edge)
        return nodes, edges

    def edge_shapes(self, collapsed: Iterable[str] = ()) -> dict[Edge, Shape]:
        """The shapes of the edges ``collapse`` draws: an edge into or out of a folded group
        carries the shape of the first tensor it stands for."""
        owner = self._owner(collapsed)
        out: dict[Edge, Shape] = {}
        for (a, b), shape in self.shapes:
            out.setdefault((owner(a), owner(b)), shape)
        return out

    def neighbours(
        self, node_id: str, collapsed: Iterable[str] = ()
    ) -> tuple[list[tuple[str, Shape | None]], list[tuple[str, Shape | None]]]:
        """What enters ``node_id`` and where it goes, as drawn with ``collapsed`` folded:
        ``(inputs, outputs)``, each a list of (other node id, tensor shape or None)."""
        _, edges = self.collapse(collapsed)
        shapes = self.edge_shapes(collapsed)
        inputs = [(a, shapes.get((a, b))) for a, b in edges if b == node_id]
        outputs = [(b, shapes.get((a, b))) for a, b in edges if a == node_id]
        return inputs, outputs

    def _owner(self, collapsed: Iterable[str]) -> Callable[[str], str]:
        """Maps a node id to the outermost folded group holding it (itself if none)."""
        folded = sorted(set(collapsed) & set(self.groups), key=len)

        def owner(node_id: str) -> str:
            for group in folded:
                if node_id.startswith(group + "/"):
                    return group
            return node_id

        return owner


def shape_text(shape: Shape) -> str:
    """A shape as Keras's model summary writes it: ``(None, 28, 28, 1)``."""
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def model_graph(config: Any) -> ModelGraph | None:
    """The graph of a model config (``{"class_name": ..., "config": {...}}``), or None.

    None when the config lists no layers (a subclassed model) or is not a Keras model config.
    Never raises on odd JSON: unknown shapes are skipped.
    """
    if not isinstance(config, Mapping) or not _is_model(config):
        return None
    builder = _Builder()
    inputs, outputs = builder.add_model(config, "", "")
    name = _name(config) or "model"
    return ModelGraph(
        name,
        tuple(builder.nodes),
        tuple(builder.edges),
        tuple(dict.fromkeys(inputs)),
        tuple(dict.fromkeys(outputs)),
        tuple(builder.shapes.items()),
    )


def _is_model(entry: Mapping[str, Any]) -> bool:
    inner = entry.get("config")
    if isinstance(inner, list):  # Keras 1-2.1 Sequential: a bare list of layers
        return True
    return isinstance(inner, Mapping) and isinstance(inner.get("layers"), list)


def _class(entry: Mapping[str, Any]) -> str:
    return str(entry.get("class_name", "")).rsplit(">", 1)[-1]


def _name(entry: Mapping[str, Any]) -> str:
    inner = entry.get("config")
    name = inner.get("name") if isinstance(inner, Mapping) else None
    return str(name or entry.get("name") or _class(entry).lower())


def _layer_list(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    inner = entry.get("config")
    layers = inner if isinstance(inner, list) else inner.get("layers", [])  # type: ignore[union-attr]
    return [e for e in layers if isinstance(e, Mapping)]


class _Builder:
    """Walks a config once, nested models included, collecting nodes and edges."""

    def __init__(self) -> None:
        self.nodes: list[GraphNode] = []
        self.edges: list[Edge] = []
        self.shapes: dict[Edge, Shape] = {}
        self._seen: set[Edge] = set()
        # For each nested model id: (its input ids, its output ids), once walked.
        self._ports: dict[str, tuple[list[str], list[str]]] = {}

    def add_model(
        self, entry: Mapping[str, Any], prefix: str, group: str, depth: int = 0
    ) -> tuple[list[str], list[str]]:
        """Add a model's layers under ``prefix``; returns its (input ids, output ids).

        Recursion follows nested models only, at most ``MAX_CONFIG_DEPTH`` deep (deeper ones
        are drawn as one node), so the stack is bounded.
        """
        layers = _layer_list(entry)
        sequential = _class(entry) == "Sequential" or isinstance(entry.get("config"), list)
        if sequential:
            layers = [e for e in layers if _class(e) != "InputLayer"]
        names = {_name(e) for e in layers}
        given = {_name(e): _given_shapes(e) for e in layers}
        for e in layers:
            path = prefix + _name(e)
            nested = _is_model(e) and depth < MAX_CONFIG_DEPTH
            self.nodes.append(GraphNode(path, _name(e), _class(e), group, nested))
            if nested:
                self._ports[path] = self.add_model(e, path + "/", path, depth + 1)
        if sequential:
            ids = [prefix + _name(e) for e in layers]
            for e, a, b in zip(layers[1:], ids, ids[1:], strict=False):
                shape = _one(given[_name(e)][0], 0)
                self._edge(self._out(a, 0), self._in(b, 0), shape)
            if not ids:
                return [], []
            return [self._in(ids[0], 0)], [self._out(ids[-1], 0)]
        for e in layers:
            target = prefix + _name(e)
            inputs_given = given[_name(e)][0]
            for position, (source, tensor, shape) in enumerate(_inbound(e.get("inbound_nodes"))):
                if source in names:
                    shape = shape or _one(inputs_given, position) or given[source][1]
                    self._edge(
                        self._out(prefix + source, tensor), self._in(target, position), shape
                    )
        inner = entry.get("config")
        inner = inner if isinstance(inner, Mapping) else {}
        ins = [self._in(prefix + n, 0) for n, _ in _endpoints(inner.get("input_layers"))]
        outs = [self._out(prefix + n, t) for n, t in _endpoints(inner.get("output_layers"))]
        known = {n.id for n in self.nodes}
        return [i for i in ins if i in known], [o for o in outs if o in known]

    def _in(self, node_id: str, position: int) -> str:
        ports = self._ports.get(node_id)
        if ports is None or not ports[0]:
            return node_id
        return ports[0][min(position, len(ports[0]) - 1)]

    def _out(self, node_id: str, tensor: int) -> str:
        ports = self._ports.get(node_id)
        if ports is None or not ports[1]:
            return node_id
        return ports[1][min(tensor, len(ports[1]) - 1)]

    def _edge(self, a: str, b: str, shape: Shape | None = None) -> None:
        if a != b and (a, b) not in self._seen:
            self._seen.add((a, b))
            self.edges.append((a, b))
        if a != b and shape is not None:
            self.shapes.setdefault((a, b), shape)


def _shape(value: Any) -> Shape | None:
    """``value`` as a shape: a list of integers and nulls (nothing else is one)."""
    if not isinstance(value, (list, tuple)) or len(value) > 32:
        return None
    if not all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in value):
        return None
    return tuple(value)


def _given_shapes(entry: Mapping[str, Any]) -> tuple[Any, Shape | None]:
    """What a layer's config says of its shapes: its ``build_config`` ``input_shape`` (one
    shape or a list of them, as written) and, for an InputLayer, the shape it gives out."""
    build = entry.get("build_config")
    inputs = build.get("input_shape") if isinstance(build, Mapping) else None
    out = None
    inner = entry.get("config")
    if _class(entry) == "InputLayer" and isinstance(inner, Mapping):
        out = _shape(inner.get("batch_shape")) or _shape(inner.get("batch_input_shape"))
    return inputs, out


def _one(given: Any, position: int) -> Shape | None:
    """The input shape at ``position`` of a ``build_config`` ``input_shape``."""
    single = _shape(given)
    if single is not None:
        return single
    if isinstance(given, (list, tuple)) and 0 <= position < len(given):
        return _shape(given[position])
    if isinstance(given, Mapping):  # inputs by name: their order is the call's
        values = list(given.values())
        return _shape(values[position]) if position < len(values) else None
    return None


def _inbound(nodes: Any) -> list[tuple[str, int, Shape | None]]:
    """(layer name, tensor index, shape if given) of every tensor a layer receives, in
    argument order."""
    found: list[tuple[str, int, Shape | None]] = []
    if not isinstance(nodes, (list, tuple)):
        return found
    stack: list[Any] = list(reversed(nodes))
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            history = _history(item)
            if history is not None:
                inner = item.get("config")
                found.append((*history, _shape(inner.get("shape")) if inner else None))
                continue
            # Keras 3 node ({"args", "kwargs"}) or a kwargs dict: look inside, in order.
            stack.extend(reversed([v for k, v in item.items() if k != "config"]))
            inner = item.get("config")
            if isinstance(inner, (list, tuple, Mapping)):
                stack.append(inner)
        elif isinstance(item, (list, tuple)):  # live models serialize args as tuples
            ref = _triple(item)
            if ref is not None:
                found.append((*ref, None))
                if len(item) > 3:  # Keras 2 keeps call kwargs (MHA's value) in a 4th slot
                    stack.append(item[3])
                continue
            stack.extend(reversed(item))
    return found


def _history(item: Mapping[str, Any]) -> tuple[str, int] | None:
    inner = item.get("config")
    if item.get("class_name") != "__keras_tensor__" or not isinstance(inner, Mapping):
        return None
    return _triple(inner.get("keras_history"))


def _triple(item: Any) -> tuple[str, int] | None:
    """``[layer, node, tensor, ...]`` as (layer, tensor), or None if ``item`` is not one."""
    if (
        isinstance(item, (list, tuple))
        and len(item) >= 3
        and isinstance(item[0], str)
        and isinstance(item[1], int)
        and isinstance(item[2], int)
    ):
        return item[0], item[2]
    return None


def _endpoints(value: Any) -> list[tuple[str, int]]:
    """Model inputs or outputs: one triple, or a list (or dict) of triples."""
    one = _triple(value)
    if one is not None:
        return [one]
    items: Iterable[Any] = value.values() if isinstance(value, Mapping) else value or ()
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        return []
    return [t for t in (_triple(v) for v in items) if t is not None]
