"""Place a ``ModelGraph`` with Graphviz's ``dot``: positions for nodes, edges and groups.

The layout is Graphviz's (the ``dot`` program, through the ``graphviz`` Python package); this
module only hands it the graph and reads back coordinates. Nodes are fixed-size boxes without
text, so their places do not depend on fonts; figures write the labels themselves. Edge labels
(tensor shapes) are given to Graphviz as text, so it keeps room for them, and the figure writes
them where it placed them.

Decided:
- Top to bottom (``TB``, inputs first) or left to right (``LR``, for deep models on a wide
  screen); every expanded nested model is a Graphviz cluster (a box round its layers); a
  collapsed one is a single node.
- With ``shapes``, each edge the config gives a shape for is labelled ``(None, 28, 28, 1)``
  (``graph.shape_text``); the others have no label.
- Left to right with ``wrap`` (points): a drawing wider than ``wrap`` is cut into rows that
  are read like lines of text, each at most ``wrap`` wide (one rank wider than that gets a row
  of its own). Cuts fall just before a rank's boxes, never through a node or an edge label;
  an edge that crosses
  a cut leaves its row at the right edge and goes on from the left edge of the next (its
  points hold None where it breaks); a nested model's box crossing a cut is drawn in each row.
- Coordinates are Graphviz points (1/72 inch), y growing upwards as Graphviz gives them.
- Without the ``dot`` program, ``layout_graph`` raises ``LayoutUnavailable`` saying how to
  install it; a graph with no nodes is an empty layout (no ``dot`` needed).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Literal

from .errors import KerascopeError
from .graph import GraphNode, ModelGraph, shape_text
from .readers.safety import MAX_GRAPH_NODES

Direction = Literal["TB", "LR"]
DIRECTIONS: tuple[Direction, ...] = ("TB", "LR")
LABEL_POINTS = 13
"""Font size Graphviz sizes edge labels for, points (figures draw them at ``PX_PER_POINT``)."""

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
    xs: tuple[float | None, ...]
    ys: tuple[float | None, ...]
    """Points of the curve; a None in both breaks it (where a wrapped row ends)."""
    label: str = ""
    """The tensor shape written on the edge; empty without one."""
    label_at: tuple[float, float] | None = None
    """Where Graphviz put the label's centre."""


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
    direction: Direction = "TB"
    """Which way the arrows run: top to bottom or left to right."""
    rows: int = 1
    """Rows a left-to-right drawing was wrapped into."""


def layout_graph(
    graph: ModelGraph,
    collapsed: Iterable[str] = (),
    *,
    direction: Direction = "TB",
    shapes: bool = False,
    wrap: float | None = None,
) -> GraphLayout:
    """Place ``graph`` with the groups in ``collapsed`` folded into single nodes, arrows
    running ``direction``, edges labelled with their tensor shapes when ``shapes``; left to
    right, rows at most ``wrap`` points wide (see the module doc).

    Raises:
        LayoutUnavailable: ``dot`` is not installed or failed, or the graph has more than
            ``MAX_GRAPH_NODES`` nodes (dot's time grows faster than the node count).
    """
    folded = set(collapsed)
    nodes, edges = graph.collapse(folded)
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}; received {direction!r}")
    if not nodes:
        return GraphLayout((), (), (), 0.0, 0.0, (), (), direction)
    if len(nodes) > MAX_GRAPH_NODES:
        raise LayoutUnavailable(
            f"the graph has {len(nodes):,} nodes, more than the {MAX_GRAPH_NODES:,} drawn; "
            "fold nested models or use the list of layers"
        )
    import graphviz

    dot = graphviz.Digraph(
        graph_attr={"rankdir": direction, "nodesep": "0.25", "ranksep": "0.3"},
        edge_attr={"fontsize": str(LABEL_POINTS), "fontname": "Helvetica"},
    )
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
    labels = {e: shape_text(s) for e, s in graph.edge_shapes(folded).items()} if shapes else {}
    for a, b in edges:
        if a in shown and b in shown:
            label = labels.get((a, b), "")
            dot.edge(index[a], index[b], **({"label": label} if label else {}))
    try:
        raw = dot.pipe(format="json0", engine="dot")
    except graphviz.ExecutableNotFound as exc:
        raise LayoutUnavailable(
            "the model graph needs Graphviz's dot program, which is not installed "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)"
        ) from exc
    except Exception as exc:  # CalledProcessError  # noqa: BLE001
        raise LayoutUnavailable(f"Graphviz could not lay the graph out ({exc})") from exc
    placed = _read(json.loads(raw), nodes, index, clusters, graph, direction)
    if direction == "LR" and wrap is not None and placed.width > wrap:
        return _wrap(placed, wrap)
    return placed


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
    direction: Direction,
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
        label, at = str(edge.get("label", "")), None
        if label and "lp" in edge:
            lx, ly = (float(v) for v in str(edge["lp"]).split(","))
            at = (lx, ly)
        edges.append(
            PlacedEdge(gvid[int(edge["tail"])], gvid[int(edge["head"])], xs, ys, label, at)
        )
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
        direction,
    )


ROW_GAP = 28.0
"""Points between two rows of a wrapped drawing."""
CUT_MARGIN = 6.0
"""Points between a cut and the first boxes of the row it starts."""


def _wrap(layout: GraphLayout, wrap: float) -> GraphLayout:
    """``layout`` cut into rows at most ``wrap`` wide, stacked top to bottom (module doc)."""
    half = 36 * NODE_WIDTH
    spans = sorted((p.x - half, p.x + half) for p in layout.nodes)
    ranks: list[list[float]] = []  # merged [x0, x1] of nodes side by side in x
    for x0, x1 in spans:
        if ranks and x0 <= ranks[-1][1]:
            ranks[-1][1] = max(ranks[-1][1], x1)
        else:
            ranks.append([x0, x1])
    starts = [0.0]  # left edge of each row, in the unwrapped drawing's x
    for rank in ranks[1:]:
        if rank[1] - starts[-1] > wrap:
            # Just before the rank's boxes: the label of the arrow into them (Graphviz puts
            # it in the gap) stays at the end of the row the arrow leaves.
            starts.append(rank[0] - CUT_MARGIN)
    if len(starts) == 1:
        return layout
    ends = [*starts[1:], layout.width]
    step = layout.height + ROW_GAP
    n = len(starts)

    def row(x: float) -> int:
        return max(0, bisect.bisect_right(starts, x) - 1)

    def move(x: float, y: float, r: int) -> tuple[float, float]:
        return x - starts[r], y + (n - 1 - r) * step

    nodes = []
    for p in layout.nodes:
        x, y = move(p.x, p.y, row(p.x))
        nodes.append(replace(p, x=x, y=y))
    edges = []
    for e in layout.edges:
        xs, ys = _wrapped_curve(e.xs, e.ys, starts, row, move)
        at = e.label_at and move(*e.label_at, row(e.label_at[0]))
        edges.append(replace(e, xs=xs, ys=ys, label_at=at))
    groups = []
    for g in layout.groups:
        for r in range(row(g.x0), row(g.x1) + 1):
            x0, x1 = max(g.x0, starts[r]), min(g.x1, ends[r])
            (a, b), (c, d) = move(x0, g.y0, r), move(x1, g.y1, r)
            groups.append(replace(g, x0=a, y0=b, x1=c, y1=d))
    width = max(end - start for start, end in zip(starts, ends, strict=True))
    return replace(
        layout,
        nodes=tuple(nodes),
        edges=tuple(edges),
        groups=tuple(groups),
        width=width,
        height=n * step - ROW_GAP,
        rows=n,
    )


def _wrapped_curve(
    xs: tuple[float | None, ...],
    ys: tuple[float | None, ...],
    starts: list[float],
    row: Callable[[float], int],
    move: Callable[[float, float, int], tuple[float, float]],
) -> tuple[tuple[float | None, ...], tuple[float | None, ...]]:
    """A curve's points moved into their rows; where it crosses a cut, it ends at the cut in
    one row and goes on from the cut in the next (a None between)."""
    out_x: list[float | None] = []
    out_y: list[float | None] = []
    last: tuple[float, float] | None = None
    for x, y in zip(xs, ys, strict=True):
        if x is None or y is None:
            out_x.append(None)
            out_y.append(None)
            last = None
            continue
        if last is not None:
            (lx, ly), (a, b) = last, sorted((row(last[0]), row(x)))
            forward = x >= lx
            cuts = [starts[r] for r in range(a + 1, b + 1)]
            for cut in cuts if forward else reversed(cuts):
                t = (cut - lx) / (x - lx) if x != lx else 0.0
                cy = ly + t * (y - ly)
                ending, starting = row(cut) - 1, row(cut)  # the rows either side of the cut
                first, second = (ending, starting) if forward else (starting, ending)
                for r, gap in ((first, True), (second, False)):
                    mx, my = move(cut, cy, r)
                    out_x.append(mx)
                    out_y.append(my)
                    if gap:
                        out_x.append(None)
                        out_y.append(None)
        mx, my = move(x, y, row(x))
        out_x.append(mx)
        out_y.append(my)
        last = (x, y)
    return tuple(out_x), tuple(out_y)


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
