"""Whole-model panels: the sortable table of every layer and the distribution overview.

Both read every array of the model once (statistics are cached per array), with progress.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from extraction.records import ModelWeights

from ..figures import overview, tables
from . import health_view, views
from .navigation import open_layer
from .sources import ModelRef

TABLE_KEY = "layers-table"


def render_table(ref: ModelRef, model: ModelWeights) -> None:
    """Every layer with its statistics and health status, sortable; a row opens its layer."""
    _compute_stats(model)
    status = health_view.layer_status(ref, model)
    table = tables.layer_table(model, status=status)
    paths = list(table["path"])

    def opened() -> None:
        rows = st.session_state[TABLE_KEY]["selection"]["rows"]
        if rows:
            open_layer(paths[rows[0]])

    st.caption(
        "Click a column header to sort (status: worst health finding of the layer, errors "
        "first). Select a row to open its layer. NaN / Inf columns flag layers holding such "
        "values."
    )
    views.show_table(table, key=TABLE_KEY, on_select=opened)


def render_overview(ref: ModelRef, model: ModelWeights) -> None:
    """A box per weighted layer, so a dead or exploding layer stands out."""
    scale = (
        st.segmented_control(
            "Axis",
            ["linear", "log_abs"],
            key="overview_scale",
            default="linear",
            required=True,
            format_func={"linear": "values", "log_abs": "|w| on a log scale"}.__getitem__,
        )
        or "linear"
    )
    _compute_stats(model)
    status = health_view.layer_status(ref, model)
    views.show_overview(_overview(_key(ref), scale, model, status), key="overview")


def _compute_stats(model: ModelWeights) -> None:
    """Read every array once for its statistics, with a progress bar if any is still unread."""
    pending = [(layer, w) for layer, w in model.iter_weights() if not w.has_stats]
    if not pending:
        return
    bar = st.progress(0.0, text="Reading every weight for its statistics...")
    for done, (layer, weight) in enumerate(pending, start=1):
        weight.stats()
        bar.progress(done / len(pending), text=f"Statistics: {layer.path}/{weight.name}")
    bar.empty()


@st.cache_resource(max_entries=16, show_spinner="Sampling every layer...")
def _overview(key: str, scale: str, _model: ModelWeights, _status: dict[str, str]) -> Any:
    # The status is derived from the model (cached per model too), so the key covers it.
    return overview.overview_figure(_model, scale=scale, status=_status)  # type: ignore[arg-type]


def _key(ref: ModelRef) -> str:
    return f"{ref.kind}|{ref.name}|{ref.token}"
