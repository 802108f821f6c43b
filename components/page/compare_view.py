"""The Compare panel on the page."""

from __future__ import annotations

import numpy as np

from extraction.analysis.compare import compare_models, difference
from extraction.records import ModelWeights

from ..figures.compare import change_bar_figure, change_rows, difference_figures
from .messages import plain


def render(before: ModelWeights, after: ModelWeights, path: str, *, key: str) -> None:
    """The comparison table, the per-layer bar chart and one layer's difference (``path`` first,
    when both models have it)."""
    import streamlit as st

    comparison = compare_models(before, after)
    unmatched = comparison.unmatched()
    matched = comparison.matched()
    if len(matched) < len(unmatched):
        st.error(
            f"Only {len(matched)} of {len(matched) + len(unmatched)} weights of "
            f"{plain(repr(before.name))} and {plain(repr(after.name))} match by layer path, name "
            "and shape: these are not the same architecture, so a change per layer would mislead. "
            "The table lists what differs."
        )
        st.dataframe(change_rows(comparison), hide_index=True, key=f"{key}-table")
        return
    else:
        st.plotly_chart(change_bar_figure(comparison), width="stretch", key=f"{key}-bars")
    if unmatched:
        st.warning(
            f"{len(unmatched)} weight(s) could not be compared (missing on one side or another "
            "shape); they are listed in the table."
        )
    st.dataframe(change_rows(comparison), hide_index=True, key=f"{key}-table")
    paths = list(dict.fromkeys(c.layer for c in comparison.matched()))
    if not paths:
        return
    if st.session_state.get(f"{key}-layer") not in paths:
        st.session_state[f"{key}-layer"] = path if path in paths else paths[0]
    path = st.selectbox("Layer to compare", paths, key=f"{key}-layer")
    layer = before.layer(path)
    names = [c.weight for c in comparison.matched() if c.layer == path]
    name = st.selectbox("Weight to compare", names, key=f"{key}-weight")
    w0 = layer.weight(name)
    w1 = after.layer(path).weight(name)
    diff = difference(before, after, path, name)
    figs = difference_figures(
        w0.array(),
        w1.array(),
        kind=layer.kind,
        role=w0.role,
        name=name,
        titles=(f"{before.name}", f"{after.name}"),
    )
    cols = st.columns(3)
    for i, (col, fig) in enumerate(zip(cols, figs, strict=True)):
        with col:
            st.plotly_chart(fig, width="stretch", key=f"{key}-fig{i}")
    st.caption(
        f"The two originals share one colour scale; the difference has its own. "
        f"Largest |change| {float(np.max(np.abs(diff), initial=0.0)):.4g}."
    )
