"""Kerascope: see every weight of a Keras model. This file only wires the page together."""

from __future__ import annotations

import streamlit as st

from kerascope.components.page import (
    graph_view,
    header,
    layer_view,
    links,
    model_panels,
    run_panels,
    run_view,
    sidebar,
    teaching,
)
from kerascope.components.page.session import current, current_ref

st.set_page_config(page_title="Kerascope", page_icon=":material/grid_on:", layout="wide")

links.apply_deep_link()
with st.sidebar:
    st.title("Kerascope")
    sidebar.choose_source(current_ref())
ref, model = current()
shown = run_view.choose(ref)  # a run: the slider picks the snapshot every view shows
if shown is not None:
    ref, model = shown.view_ref, shown.model
header.render(ref, model)
if not model.layers:
    st.warning("This model has no layers to show.")
    st.stop()
with st.sidebar:
    layer = sidebar.choose_layer(model, links.take_linked_layer(model))
links.sync_url(ref, layer.path)
run_view.sync_url(shown)

# Only the open tab is computed: the table and overview read every array of the model.
layer_tab, table_tab, overview_tab, graph_tab, teach_tab, *run_tab = st.tabs(
    ["Layer", "All layers", "Model overview", "Graph", "Explain, diagnose, compare, train"]
    + (["Run over time"] if shown else []),
    key="main_tab",
    on_change="rerun",
)
if layer_tab.open:
    with layer_tab:
        if shown is not None:
            run_panels.render_layer(shown, layer)
        else:
            layer_view.render(ref, model, layer)
if table_tab.open:
    with table_tab:
        model_panels.render_table(ref, model)
if overview_tab.open:
    with overview_tab:
        model_panels.render_overview(ref, model)
if graph_tab.open:
    with graph_tab:
        graph_view.render(ref, model, layer.path)
if teach_tab.open:
    with teach_tab:
        teaching.render_tabs(ref, model, layer)
if shown is not None and run_tab[0].open:
    with run_tab[0]:
        run_panels.render_run(shown)
