"""Place a ``ModelGraph`` with Graphviz's ``dot``: positions for nodes, edges and groups.

The layout is Graphviz's (the ``dot`` program, through the ``graphviz`` Python package); this
module only hands it the graph and reads back coordinates. Nodes are fixed-size boxes without
text, so the layout does not depend on fonts; figures write the labels themselves.

Decided:
- Top to bottom, inputs first; every expanded nested model is a Graphviz cluster (a box round
  its layers); a collapsed one is a single node.
- Coordinates are Graphviz points (1/72 inch), y growing upwards as Graphviz gives them.
- Without the ``dot`` program, ``layout_graph`` raises ``LayoutUnavailable`` saying how to
  install it; a graph with no nodes is an empty layout (no ``dot`` needed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import KerascopeError
from .graph import GraphNode, ModelGraph
from .readers.safety import MAX_GRAPH_NODES

NODE_WIDTH = 1.9
"""Node box width, inches."""
NODE_HEIGHT = 0.32
"""Node box height, inches."""


class LayoutUnavailable(KerascopeError):
    """Graphviz's ``dot`` program is missing or failed, so the graph cannot be placed."""


@dataclass(frozen=True)
class PlacedNode:
    """A node and where ``dot`` put its centre."""

    node: GraphNode
    x: float
    y: float


@dataclass(frozen=True)
class PlacedEdge:
    """An edge and the points of its curve, tail to head."""

    source: str
    target: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]


@dataclass(frozen=True)
class PlacedGroup:
    """An expanded nested model: the box round its layers."""

    id: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class GraphLayout:
    """Everything a figure needs to draw the graph."""

    nodes: tuple[PlacedNode, ...]
    edges: tuple[PlacedEdge, ...]
    groups: tuple[PlacedGroup, ...]
    width: float
    """Width of the whole drawing, points."""
    height: float
    """Height of the whole drawing, points."""
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def layout_graph(graph: ModelGraph, collapsed: Iterable[str] = ()) -> GraphLayout:
    """Place ``graph`` with the groups in ``collapsed`` folded into single nodes.

    Raises:
        LayoutUnavailable: ``dot`` is not installed or failed, or the graph has more than
            ``MAX_GRAPH_NODES`` nodes (dot's time grows faster than the node count).
    """
    folded = set(collapsed)
    nodes, edges = graph.collapse(folded)
    if not nodes:
        return GraphLayout((), (), (), 0.0, 0.0, (), ())
    if len(nodes) > MAX_GRAPH_NODES:
        raise LayoutUnavailable(
            f"the graph has {len(nodes):,} nodes, more than the {MAX_GRAPH_NODES:,} drawn; "
            "fold nested models or use the list of layers"
        )
    import graphviz

    dot = graphviz.Digraph(graph_attr={"rankdir": "TB", "nodesep": "0.25", "ranksep": "0.3"})
    dot.attr(
        "node",
        shape="box",
        fixedsize="true",
        width=str(NODE_WIDTH),
        height=str(NODE_HEIGHT),
        label="",
    )
    index = {n.id: f"n{i}" for i, n in enumerate(nodes)}
    shown = set(index)
    expanded = [g for g in graph.groups if g not in folded and not _inside(g, folded)]
    clusters = {g: f"cluster_{i}" for i, g in enumerate(expanded)}
    _add_nodes(dot, nodes, index, clusters)
    for a, b in edges:
        if a in shown and b in shown:
            dot.edge(index[a], index[b])
    try:
        raw = dot.pipe(format="json0", engine="dot")
    except graphviz.ExecutableNotFound as exc:
        raise LayoutUnavailable(
            "the model graph needs Graphviz's dot program, which is not installed "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)"
        ) from exc
    except Exception as exc:  # CalledProcessError  # noqa: BLE001
        raise LayoutUnavailable(f"Graphviz could not lay the graph out ({exc})") from exc
    return _read(json.loads(raw), nodes, index, clusters, graph)


def _inside(group: str, folded: set[str]) -> bool:
    return any(group.startswith(f + "/") for f in folded)


def _add_nodes(
    dot: object, nodes: tuple[GraphNode, ...], index: dict[str, str], clusters: dict[str, str]
) -> None:
    """Nodes at top level, or inside the cluster of the innermost expanded group holding them
    (clusters nest as the models do)."""
    children: dict[str, list[str]] = {}
    for group in clusters:
        parent = next(
            (g for g in sorted(clusters, key=len, reverse=True) if group.startswith(g + "/")), ""
        )
        children.setdefault(parent, []).append(group)
    members: dict[str, list[GraphNode]] = {}
    for node in nodes:
        holder = next(
            (g for g in sorted(clusters, key=len, reverse=True) if node.id.startswith(g + "/")),
            "",
        )
        members.setdefault(holder, []).append(node)

    def fill(target: object, group: str) -> None:
        for node in members.get(group, []):
            target.node(index[node.id])  # type: ignore[attr-defined]
        for sub in children.get(group, []):
            with target.subgraph(name=clusters[sub]) as inner:  # type: ignore[attr-defined]
                inner.attr(label="", margin="10")
                fill(inner, sub)

    fill(dot, "")


def _read(
    data: dict[str, object],
    nodes: tuple[GraphNode, ...],
    index: dict[str, str],
    clusters: dict[str, str],
    graph: ModelGraph,
) -> GraphLayout:
    by_name = {v: k for k, v in index.items()}
    by_cluster = {v: k for k, v in clusters.items()}
    node_by_id = {n.id: n for n in nodes}
    placed: list[PlacedNode] = []
    groups: list[PlacedGroup] = []
    gvid: dict[int, str] = {}
    for obj in data.get("objects", []):  # type: ignore[attr-defined]
        name = str(obj.get("name", ""))
        if name in by_name and "pos" in obj:
            x, y = (float(v) for v in str(obj["pos"]).split(","))
            placed.append(PlacedNode(node_by_id[by_name[name]], x, y))
            gvid[int(obj["_gvid"])] = by_name[name]
        elif name in by_cluster and "bb" in obj:
            x0, y0, x1, y1 = (float(v) for v in str(obj["bb"]).split(","))
            groups.append(PlacedGroup(by_cluster[name], x0, y0, x1, y1))
    edges: list[PlacedEdge] = []
    for edge in data.get("edges", []):  # type: ignore[attr-defined]
        xs, ys = _spline(str(edge.get("pos", "")))
        edges.append(PlacedEdge(gvid[int(edge["tail"])], gvid[int(edge["head"])], xs, ys))
    order = {n.id: i for i, n in enumerate(nodes)}
    placed.sort(key=lambda p: order[p.node.id])
    _, _, width, height = (float(v) for v in str(data.get("bb", "0,0,0,0")).split(","))
    shown = set(order)
    return GraphLayout(
        tuple(placed),
        tuple(edges),
        tuple(groups),
        width,
        height,
        tuple(i for i in graph.inputs if i in shown),
        tuple(o for o in graph.outputs if o in shown),
    )


def _spline(pos: str, steps: int = 6) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Points along a Graphviz edge spline (``e,x,y`` end point, then cubic Bezier controls)."""
    end: tuple[float, float] | None = None
    controls: list[tuple[float, float]] = []
    for part in pos.split():
        bits = part.split(",")
        if bits[0] == "e":
            end = (float(bits[1]), float(bits[2]))
        elif bits[0] == "s":
            continue
        else:
            controls.append((float(bits[0]), float(bits[1])))
    points: list[tuple[float, float]] = controls[:1]
    for i in range(1, len(controls) - 2, 3):
        p0, p1, p2, p3 = controls[i - 1 : i + 3]
        for step in range(1, steps + 1):
            t = step / steps
            u = 1 - t
            points.append(
                (
                    u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0],
                    u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1],
                )
            )
    if end is not None:
        points.append(end)
    return tuple(p[0] for p in points), tuple(p[1] for p in points)
