"""The Graph tab: the model's layers and connections, coloured, a click opening a layer.

The structure comes from the file's config (``ModelWeights.graph``), the layout from Graphviz
(``extraction.graph_layout``, cached per model and folding), the figure from
``components.figures.graph``. A file without a config shows its layers as a list instead.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from kerascope.extraction.analysis.stats_job import StatsJob
from kerascope.extraction.graph import ModelGraph
from kerascope.extraction.graph_layout import GraphLayout, LayoutUnavailable, layout_graph
from kerascope.extraction.records import ModelWeights

from ..figures.graph import STATISTICS, graph_figure, node_health, node_values
from . import checks
from .messages import plain
from .navigation import open_layer
from .scope import model_key
from .sources import ModelRef

CHART_KEY = "graph-chart"
LIST_KEY = "graph-list"
FOLDED_KEY = "graph_folded"
COLOUR_KEY = "graph_colour"
"""Names of the graph's widgets; their keys are the open model's (``model_key``)."""
_COLOURINGS: dict[str, str] = {**{str(k): v for k, v in STATISTICS.items()}, "health": "health"}


def render(ref: ModelRef, model: ModelWeights, selected: str) -> None:
    """The graph of ``model`` (or its layer list), ``selected`` outlined."""
    if model.graph is None:
        _layer_list(model)
        return
    graph = model.graph
    groups = list(graph.groups)
    c1, c2 = st.columns([3, 2])
    colour = (
        c1.segmented_control(
            "Colour by",
            list(_COLOURINGS),
            default="params",
            required=True,
            format_func=_COLOURINGS.__getitem__,
            key=model_key(COLOUR_KEY),
        )
        or "params"
    )
    folded: list[str] = []
    if groups:
        folded_key = model_key(FOLDED_KEY)
        if folded_key not in st.session_state:
            st.session_state[folded_key] = []
        folded = c2.multiselect(
            "Folded nested models", groups, key=folded_key, placeholder="none: all expanded"
        )
    try:
        layout = _layout(_key(ref), tuple(sorted(folded)), graph)
    except LayoutUnavailable as exc:
        st.error(plain(f"The graph cannot be drawn: {exc}."))
        _layer_list(model)
        return
    if colour != "params" and not _ready(checks.job(ref, model), colour):
        # The model's check is still running: these colours come when it is done.
        checks.live(
            ref,
            model,
            lambda _: st.caption(
                f"The graph is coloured by {_COLOURINGS[colour]} once every layer is checked."
            ),
        )
        return
    if colour == "health":
        verdicts = checks.verdicts(ref, model) or {}
        fig = graph_figure(layout, health=node_health(model, layout, verdicts), selected=selected)
    else:
        values = node_values(model, layout, colour)  # type: ignore[arg-type]
        fig = graph_figure(
            layout,
            values=values,
            colour_label=_COLOURINGS[colour],
            selected=selected,
            log_scale=colour == "params",
        )
    st.caption(
        f"{len(layout.nodes)} nodes, {len(layout.edges)} connections, read from the file's "
        "model config and laid out by Graphviz. Arrows run from inputs (top) to outputs; "
        "dotted boxes are nested models. Click a layer to open it; click a folded model "
        "([+]) to unfold it."
    )
    with st.container(height=min(900, int(fig.layout.height) + 30), border=True):
        st.plotly_chart(
            fig,
            width="content",
            key=model_key(CHART_KEY),
            on_select=_on_click,
            selection_mode="points",
            config={"scrollZoom": False, "displayModeBar": False},
        )


def _ready(check: StatsJob, colour: str) -> bool:
    """Whether the model's check has what colouring by ``colour`` needs."""
    return check.checked if colour == "health" else check.stats_finished


def _on_click() -> None:
    """Open the clicked layer in the Layer tab, or unfold the clicked nested model."""
    event: Any = st.session_state.get(model_key(CHART_KEY))
    points = (event or {}).get("selection", {}).get("points", [])
    if not points or not points[0].get("customdata"):
        return
    node_id, is_group = points[0]["customdata"][:2]
    if is_group:
        folded_key = model_key(FOLDED_KEY)
        st.session_state[folded_key] = [
            g for g in st.session_state.get(folded_key, []) if g != node_id
        ]
        return
    open_layer(str(node_id))


def _layer_list(model: ModelWeights) -> None:
    st.info(
        "This file holds no model config (only weights, or a subclassed model), so the "
        "connections between layers are unknown. Its layers, in the order the file lists them:"
    )
    st.session_state[model_key(f"{LIST_KEY}-paths")] = [la.path for la in model.layers]
    table = pd.DataFrame(
        {
            "layer": [la.path for la in model.layers],
            "class": [la.class_name for la in model.layers],
            "params": [la.params for la in model.layers],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        key=model_key(LIST_KEY),
        on_select=_on_row,
        selection_mode="single-row",
    )
    st.caption("Click a row to open that layer.")


def _on_row() -> None:
    event: Any = st.session_state.get(model_key(LIST_KEY))
    rows = (event or {}).get("selection", {}).get("rows", [])
    paths = st.session_state.get(model_key(f"{LIST_KEY}-paths"))
    if rows and paths:
        open_layer(paths[rows[0]])


@st.cache_resource(max_entries=32, show_spinner="Laying the graph out...")
def _layout(key: str, folded: tuple[str, ...], _graph: ModelGraph) -> GraphLayout:
    return layout_graph(_graph, folded)


def _key(ref: ModelRef) -> str:
    return f"{ref.kind}|{ref.name}|{ref.token}"
