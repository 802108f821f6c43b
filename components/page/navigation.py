"""Moving the page to a layer from elsewhere (a health finding, a row of the All-layers table,
a node of the graph).

The sidebar's layer picker and the main tabs are widgets, so they are set from callbacks, which
run before the next script run draws them; the URL then follows (``links.sync_url``).
"""

from __future__ import annotations

import streamlit as st

from .scope import model_key

MAIN_TABS_KEY = "main_tab"
"""Session-state key of the main tabs (``app.py``)."""
LAYER_TAB = "Layer"
"""The label of the main tab that shows one layer."""


def layer_key() -> str:
    """Session-state key of the sidebar's layer picker (the open model's)."""
    return model_key("layer")


def weight_key(layer: str) -> str:
    """Session-state key of the weight picker of ``layer`` (its labels hold its shapes)."""
    return model_key("weight", layer)


def open_layer(path: str, weight: str | None = None) -> None:
    """Select layer ``path`` (and ``weight``) and show the Layer tab; call from a callback."""
    st.session_state[layer_key()] = path
    if weight:
        st.session_state[weight_key(path)] = weight
    st.session_state[MAIN_TABS_KEY] = LAYER_TAB
