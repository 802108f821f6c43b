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
from kerascope.extraction.attributes import config_attributes
from kerascope.extraction.graph import ModelGraph, Shape, shape_text
from kerascope.extraction.graph_layout import (
    DIRECTIONS,
    Direction,
    GraphLayout,
    LayoutUnavailable,
    layout_graph,
)
from kerascope.extraction.records import ModelWeights

from ..figures.graph import (
    FRAME_PX,
    PX_PER_POINT,
    STATISTICS,
    graph_figure,
    node_health,
    node_values,
)
from . import checks
from .messages import plain
from .navigation import layer_key, open_layer
from .scope import model_key
from .sidebar import SHOW_WEIGHTLESS
from .sources import ModelRef

CHART_KEY = "graph-chart"
LIST_KEY = "graph-list"
FOLDED_KEY = "graph_folded"
COLOUR_KEY = "graph_colour"
DIRECTION_KEY = "graph_direction"
SHAPES_KEY = "graph_shapes"
DETAILS_KEY = "graph-details"
WEIGHTLESS_PATHS = "graph_weightless"
"""Session key (the open model's): its layers without weights (a click on one shows them all)."""
DIRECTION_WORDS: dict[Direction, str] = {"TB": "top to bottom", "LR": "left to right"}
"""Names of the graph's widgets; the chart's, the list's, the colouring's and the folds' keys
are the open model's (``model_key``); the arrows' direction and shapes are the user's."""
_COLOURINGS: dict[str, str] = {**{str(k): v for k, v in STATISTICS.items()}, "health": "health"}


def render(ref: ModelRef, model: ModelWeights, selected: str) -> None:
    """The graph of ``model`` (or its layer list), ``selected`` outlined and described beside."""
    if model.graph is None:
        _layer_list(model)
        return
    graph = model.graph
    groups = list(graph.groups)
    st.session_state[model_key(WEIGHTLESS_PATHS)] = [
        la.path for la in model.layers if not la.weights
    ]
    c1, c2, c3 = st.columns([11, 6, 4], vertical_alignment="bottom")
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
    direction: Direction = (
        c2.segmented_control(
            "Arrows run",
            list(DIRECTIONS),
            default="TB",
            required=True,
            format_func=DIRECTION_WORDS.__getitem__,
            key=DIRECTION_KEY,
        )
        or "TB"
    )
    shapes = c3.toggle(
        "Shapes", value=True, key=SHAPES_KEY, help="Write each tensor's shape on its arrow."
    )
    folded: list[str] = []
    if groups:
        folded_key = model_key(FOLDED_KEY)
        if folded_key not in st.session_state:
            st.session_state[folded_key] = []
        folded = st.multiselect(
            "Folded nested models", groups, key=folded_key, placeholder="none: all expanded"
        )
    try:
        layout = _layout(_key(ref), tuple(sorted(folded)), direction, shapes, graph)
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
    flow = "top to bottom" if direction == "TB" else "left to right"
    st.caption(
        f"{len(layout.nodes)} nodes, {len(layout.edges)} connections, read from the file's "
        f"model config and laid out by Graphviz. Arrows run from inputs to outputs ({flow}), "
        "labelled with the tensor shapes the config gives; dotted boxes are nested models. "
        "Click a layer to see its attributes beside the graph; click a folded model ([+]) to "
        "unfold it."
    )
    left, right = st.columns([2, 1])
    with left, st.container(height=min(GRAPH_HEIGHT, int(fig.layout.height) + 30), border=True):
        st.plotly_chart(
            fig,
            width="content",
            key=model_key(CHART_KEY),
            on_select=_on_click,
            selection_mode="points",
            config={"scrollZoom": False, "displayModeBar": False},
        )
    with right:
        _details(model, graph, tuple(folded), selected)


GRAPH_HEIGHT = 640
"""Pixels of the scrolling box round the graph: the first screen at 1280x800 shows its top."""
GRAPH_WIDTH = 530
"""Pixels of the graph's column at 1280x800 (two thirds of the main area, the panel beside)."""


def _details(model: ModelWeights, graph: ModelGraph, folded: tuple[str, ...], path: str) -> None:
    """The side panel: the selected layer's class, tensors in and out, weights, attributes."""
    by_path = {la.path: la for la in model.layers}
    layer = by_path.get(path)
    if layer is None:
        st.caption("Click a layer to see its attributes here.")
        return
    with st.container(border=True):
        st.markdown(f"**{plain(layer.name)}** · {plain(layer.class_name)}")
        inputs, outputs = graph.neighbours(path, folded)
        lines = [f"from {plain(a)}: {_shape(s)}" for a, s in inputs]
        lines += [f"to {plain(b)}: {_shape(s)}" for b, s in outputs]
        lines += [
            f"{plain(w.name)} {plain(shape_text(w.shape))} {plain(w.dtype)}" for w in layer.weights
        ]
        if layer.weights:
            lines.append(f"{layer.params:,} parameters")
        st.caption("  \n".join(lines) or "No connections in the config.")
        rows = config_attributes(layer.config)
        if rows:
            st.dataframe(
                pd.DataFrame(rows, columns=["attribute", "value"]),
                hide_index=True,
                key=DETAILS_KEY,
                height=min(35 * len(rows) + 38, 420),
            )
        else:
            st.caption("The file records no attributes for this layer.")
        if layer.weights:
            st.button(
                "Open in the Layer tab",
                key=f"{DETAILS_KEY}-open",
                on_click=open_layer,
                args=(layer.path,),
                icon=":material/grid_on:",
            )


def _shape(shape: Shape | None) -> str:
    return plain(shape_text(shape)) if shape is not None else "shape not recorded"


def _ready(check: StatsJob, colour: str) -> bool:
    """Whether the model's check has what colouring by ``colour`` needs."""
    return check.checked if colour == "health" else check.stats_finished


def _on_click() -> None:
    """Select the clicked layer (the sidebar follows; the panel beside shows it), or unfold
    the clicked nested model."""
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
    select_layer(str(node_id))


def select_layer(path: str) -> None:
    """Make ``path`` the selected layer without leaving the tab (for widget callbacks); a
    layer without weights turns "show layers without weights" on, as a deep link does."""
    st.session_state[layer_key()] = path
    if path in st.session_state.get(model_key(WEIGHTLESS_PATHS), ()):
        st.session_state[model_key(SHOW_WEIGHTLESS)] = True


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
def _layout(
    key: str, folded: tuple[str, ...], direction: Direction, shapes: bool, _graph: ModelGraph
) -> GraphLayout:
    # Left to right, rows as wide as the graph's column: nothing to scroll sideways.
    wrap = (GRAPH_WIDTH - FRAME_PX["LR"]) / PX_PER_POINT
    return layout_graph(_graph, folded, direction=direction, shapes=shapes, wrap=wrap)


def _key(ref: ModelRef) -> str:
    return f"{ref.kind}|{ref.name}|{ref.token}"
