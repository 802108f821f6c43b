"""Whole-model panels: the sortable table of every layer and the distribution overview.

Both read every array of the model once (statistics are cached per array), with progress.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from extraction.records import ModelWeights

from ..figures import overview, tables
from . import views
from .sources import ModelRef


def render_table(ref: ModelRef, model: ModelWeights) -> None:
    """Every layer with its statistics, sortable by any column."""
    _compute_stats(model)
    table = tables.layer_table(model)
    st.caption("Click a column header to sort. NaN / Inf columns flag layers holding such values.")
    views.show_table(table, key="layers-table")


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
    views.show_overview(_overview(_key(ref), scale, model), key="overview")


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
def _overview(key: str, scale: str, _model: ModelWeights) -> Any:
    return overview.overview_figure(_model, scale=scale)  # type: ignore[arg-type]


def _key(ref: ModelRef) -> str:
    return f"{ref.kind}|{ref.name}|{ref.token}"
