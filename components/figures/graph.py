"""The model graph as a plotly figure: Graphviz's layout, each node a box coloured by a statistic
or by its health, its name written inside; clicking a node selects its point.

``node_values`` and ``node_health`` turn records into one number or severity per node;
``graph_figure`` draws a ``GraphLayout`` (placed by ``extraction.graph_layout``) with them. Pure
(tested); ``components.page.graph_view`` puts it on the page and opens the clicked layer.

Decided:
- Statistics pool all of a layer's trainable weights (a BatchNorm's moving statistics are not
  learned, so they are left out); ``mean_abs`` is the mean of |w|. A layer without weights has
  no statistic, not even ``params`` (drawn grey, "no weights"); a folded nested model has only
  ``params``, summed over its layers.
- Health is each layer's verdict (``health.layer_verdicts``, as the All-layers table shows it:
  whole-model findings included, ``ok`` without findings, ``none`` without weights); a folded
  nested model takes the worst of its layers.
- Each point's ``customdata`` is ``[node id, is a folded group]``, so the page knows what a
  click meant without reading the figure back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from kerascope.extraction.analysis.diagnostics import SEVERITY_ORDER
from kerascope.extraction.analysis.health import Verdict
from kerascope.extraction.graph_layout import LABEL_POINTS, NODE_HEIGHT, NODE_WIDTH, GraphLayout
from kerascope.extraction.records import LayerWeights, ModelWeights

from .tables import pool_stats
from .text import plotly_text

Statistic = Literal["params", "mean_abs", "std", "l2"]
STATISTICS: dict[Statistic, str] = {
    "params": "parameters",
    "mean_abs": "mean |w|",
    "std": "std of w",
    "l2": "L2 norm",
}
Health = Verdict
HEALTH_COLOURS: dict[Health, str] = {
    "error": "#d62728",
    "warning": "#ff9f1c",
    "info": "#9ecae1",
    "ok": "#74c476",
    "none": "#e5e5e5",
}
HEALTH_WORDS: dict[Health, str] = {
    "error": "error",
    "warning": "warning",
    "info": "note",
    "ok": "no findings",
    "none": "no weights",
}
_RANK: dict[str, int] = {**dict(SEVERITY_ORDER.items()), "ok": 3, "none": 4}
# YlGnBu without its darkest blues, so black names stay readable on every box.
COLORSCALE = [
    [i / 8, c]
    for i, c in enumerate(sample_colorscale("YlGnBu", [0.05 + 0.7 * i / 8 for i in range(9)]))
]
NO_VALUE = "#e5e5e5"
PX_PER_POINT = 0.75
"""Screen pixels per Graphviz point (1/72 inch) at which the graph is drawn."""
FRAME_PX: dict[str, int] = {"TB": 160, "LR": 30}
"""Pixels of the figure's width besides the drawing: margins, and the colour bar at the right
of a top-to-bottom graph (a left-to-right one, as wide as the page, has it above)."""
BAR_ABOVE_PX = 70
"""Pixels above a left-to-right graph for its horizontal colour bar."""
LABEL_CHARS = 24


def _members(model: ModelWeights, node_id: str, is_group: bool) -> list[LayerWeights]:
    if not is_group:
        return [la for la in model.layers if la.path == node_id]
    return [la for la in model.layers if la.path.startswith(node_id + "/")]


def layer_statistic(layer: LayerWeights, statistic: Statistic) -> float:
    """One number for one layer (see the module doc); NaN when it has none."""
    if statistic == "params":
        return float(layer.params) if layer.weights else math.nan
    weights = [w for w in layer.weights if w.trainable and w.size]
    if not weights:
        return math.nan
    if statistic == "mean_abs":
        total = sum(float(np.nansum(np.abs(w.array().astype(np.float64)))) for w in weights)
        return total / sum(w.size for w in weights)
    stats = [w.stats() for w in weights]
    if statistic == "l2":
        return math.sqrt(sum((s.l2 or 0.0) ** 2 for s in stats))
    return float(pool_stats(stats)["std"])


def node_values(model: ModelWeights, layout: GraphLayout, statistic: Statistic) -> dict[str, float]:
    """The statistic of every placed node (NaN: none; folded models: see the module doc)."""
    out: dict[str, float] = {}
    for placed in layout.nodes:
        members = _members(model, placed.node.id, placed.node.is_group)
        if placed.node.is_group:
            params = float(sum(la.params for la in members))
            out[placed.node.id] = params if statistic == "params" else math.nan
        else:
            out[placed.node.id] = layer_statistic(members[0], statistic) if members else math.nan
    return out


def node_health(
    model: ModelWeights, layout: GraphLayout, verdicts: Mapping[str, Verdict]
) -> dict[str, Health]:
    """Every placed node's verdict (``health.layer_verdicts``: the table's status); a folded
    nested model takes the worst of its layers with weights (``none`` without any)."""
    out: dict[str, Health] = {}
    for placed in layout.nodes:
        members = [la for la in _members(model, placed.node.id, placed.node.is_group) if la.weights]
        found = [verdicts.get(la.path, "ok") for la in members]
        out[placed.node.id] = min(found, key=_RANK.__getitem__) if found else "none"
    return out


def graph_figure(
    layout: GraphLayout,
    *,
    values: Mapping[str, float] | None = None,
    health: Mapping[str, Health] | None = None,
    colour_label: str = "",
    selected: str | None = None,
    title: str = "",
    log_scale: bool = False,
) -> go.Figure:
    """The placed graph, nodes coloured by ``values`` (a continuous scale) or by ``health``.

    Edges are grey curves, labelled with their tensor shapes where the layout has them;
    expanded nested models are dashed boxes named at their top left; folded ones have a darker
    border, "[+]" before their name and "click to unfold" in their
    hover. ``selected`` gets a thick outline. Axes keep Graphviz's proportions, y up.
    ``log_scale`` colours by ``log10(1 + value)`` (parameter counts span orders of magnitude),
    the colour bar labelled in the values themselves.
    """
    xs: list[float | None] = []
    ys: list[float | None] = []
    for edge in layout.edges:
        xs += [*edge.xs, None]
        ys += [*edge.ys, None]
    traces: list[dict[str, object]] = [
        {
            "type": "scatter",
            "x": xs,
            "y": ys,
            "mode": "lines",
            "line": {"color": "#9a9a9a", "width": 1},
            "hoverinfo": "skip",
            "showlegend": False,
            "name": "edges",
        }
    ]
    labelled = [e for e in layout.edges if e.label and e.label_at is not None]
    if labelled:
        traces.append(
            {
                "type": "scatter",
                "x": [e.label_at[0] for e in labelled if e.label_at],
                "y": [e.label_at[1] for e in labelled if e.label_at],
                "mode": "text",
                "text": [e.label for e in labelled],
                "textfont": {"size": LABEL_POINTS * PX_PER_POINT, "color": "#444"},
                "hoverinfo": "skip",
                "showlegend": False,
                "name": "tensor shapes",
            }
        )
    fills, key_traces = _fills(layout, values, health, colour_label, log_scale, layout.direction)
    half_w, half_h = 36 * NODE_WIDTH, 36 * NODE_HEIGHT  # inches to points, halved
    shapes: list[dict[str, object]] = [
        {
            "type": "rect",
            "x0": g.x0,
            "y0": g.y0,
            "x1": g.x1,
            "y1": g.y1,
            "line": {"color": "#888", "dash": "dot", "width": 1},
            "layer": "below",
        }
        for g in layout.groups
    ]
    annotations: list[dict[str, object]] = [
        {
            "x": g.x0 + 4,
            "y": g.y1 - 2,
            "text": plotly_text(g.id),
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "top",
            "font": {"size": 10, "color": "#555"},
        }
        for g in layout.groups
    ]
    for placed, fill in zip(layout.nodes, fills, strict=True):
        node = placed.node
        outline = (
            {"color": "#222", "width": 3}
            if node.id == selected
            else {"color": "#333" if node.is_group else "#777", "width": 2 if node.is_group else 1}
        )
        shapes.append(
            {
                "type": "rect",
                "x0": placed.x - half_w,
                "x1": placed.x + half_w,
                "y0": placed.y - half_h,
                "y1": placed.y + half_h,
                "fillcolor": fill,
                "line": outline,
                "layer": "below",
            }
        )
    hover = [
        _hover(p.node.id, p.node.class_name, p.node.is_group, values, health) for p in layout.nodes
    ]
    traces.append(
        {
            "type": "scatter",
            "x": [p.x for p in layout.nodes],
            "y": [p.y for p in layout.nodes],
            "mode": "markers+text",
            "text": [_label(p.node.name, p.node.is_group) for p in layout.nodes],
            "textfont": {"size": 10, "color": "#111"},
            "marker": {"symbol": "square", "size": 24, "opacity": 0.01, "color": "#000"},
            "customdata": [[p.node.id, p.node.is_group] for p in layout.nodes],
            "hovertemplate": "%{hovertext}<extra></extra>",
            "hovertext": hover,
            "showlegend": False,
            "name": "layers",
        }
    )
    above = BAR_ABOVE_PX if layout.direction == "LR" else 0
    figure_layout = {
        "title": {"text": title},
        "shapes": shapes,
        "annotations": annotations,
        "width": max(420.0, layout.width * PX_PER_POINT + FRAME_PX[layout.direction]),
        "height": max(240.0, layout.height * PX_PER_POINT + 80 + above),
        "margin": {"l": 10, "r": 10, "t": (40 if title else 10) + above, "b": 10},
        "plot_bgcolor": "white",
        "dragmode": False,
        "clickmode": "event+select",
        "xaxis": {"visible": False, "range": [-10, layout.width + 10], "fixedrange": True},
        "yaxis": {"visible": False, "range": [-10, layout.height + 10], "fixedrange": True},
        "legend": {"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
    }
    # Built from plain dicts without plotly's per-property validation: a ResNet's ~180 boxes
    # take a second to validate and milliseconds to build. The keys above are all standard.
    return go.Figure({"data": [*traces, *key_traces], "layout": figure_layout}, _validate=False)


def _label(name: str, is_group: bool) -> str:
    text = name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"
    return plotly_text(f"[+] {text}" if is_group else text)


def _hover(
    node_id: str,
    class_name: str,
    is_group: bool,
    values: Mapping[str, float] | None,
    health: Mapping[str, Health] | None,
) -> str:
    # Layer names come from the file: escape the characters plotly would read as markup.
    lines = [f"<b>{plotly_text(node_id)}</b>", plotly_text(class_name)]
    if values is not None:
        v = values.get(node_id, math.nan)
        lines.append("no weights" if math.isnan(v) else f"{v:,.4g}")
    if health is not None:
        lines.append(HEALTH_WORDS[health.get(node_id, "none")])
    lines.append("nested model, folded: click to unfold" if is_group else "click to open")
    return "<br>".join(lines)


def _fills(
    layout: GraphLayout,
    values: Mapping[str, float] | None,
    health: Mapping[str, Health] | None,
    label: str,
    log_scale: bool,
    direction: str = "TB",
) -> tuple[list[str], list[dict[str, object]]]:
    """Each node's fill colour, and empty traces that carry the legend or the colour bar."""
    ids = [p.node.id for p in layout.nodes]
    if health is not None:
        present = set(health.values())
        legend: list[dict[str, object]] = [
            {
                "type": "scatter",
                "x": [None],
                "y": [None],
                "mode": "markers",
                "name": HEALTH_WORDS[h],
                "marker": {"symbol": "square", "size": 12, "color": colour},
            }
            for h, colour in HEALTH_COLOURS.items()
            if h in present
        ]
        return [HEALTH_COLOURS[health.get(i, "none")] for i in ids], legend
    raw = np.array([math.nan if values is None else values.get(i, math.nan) for i in ids])
    if log_scale:
        raw = np.log10(1 + np.abs(raw))
    ok = np.isfinite(raw)
    if not ok.any():
        return [NO_VALUE] * len(ids), []
    lo, hi = float(raw[ok].min()), float(raw[ok].max())
    span = hi - lo or 1.0
    colours = sample_colorscale(
        COLORSCALE, [float((v - lo) / span) if f else 0.0 for v, f in zip(raw, ok, strict=True)]
    )
    colorbar: dict[str, object] = {
        "title": {"text": label},
        "thickness": 12,
        "lenmode": "pixels",
        "len": 220,
        "y": 1.0,
        "yanchor": "top",
    }
    if direction == "LR":  # above the rows, which take the page's width
        colorbar |= {
            "orientation": "h",
            "x": 0.0,
            "xanchor": "left",
            "y": 1.0,
            "yanchor": "bottom",
            "title": {"text": label, "side": "top"},
        }
    if log_scale:
        powers = range(max(0, math.floor(lo) - 1), math.ceil(hi) + 1)
        colorbar |= {
            "tickvals": [math.log10(1 + 10**k) for k in powers],
            "ticktext": [f"{10**k:,}" for k in powers],
        }
    bar: dict[str, object] = {
        "type": "scatter",
        "x": [None],
        "y": [None],
        "mode": "markers",
        "showlegend": False,
        "hoverinfo": "skip",
        "marker": {
            "color": [lo, hi],
            "colorscale": COLORSCALE,
            "cmin": lo,
            "cmax": hi,
            "showscale": True,
            "colorbar": colorbar,
        },
    }
    return [c if f else NO_VALUE for c, f in zip(colours, ok, strict=True)], [bar]
