"""Moving the page to a layer from elsewhere (a health finding, a row of the All-layers table).

The sidebar's layer picker and the main tabs are widgets, so they are set from callbacks, which
run before the next script run draws them; the URL then follows (``links.sync_url``).
"""

from __future__ import annotations

import streamlit as st

LAYER_KEY = "layer"
"""Session-state key of the sidebar's layer picker."""
WEIGHT_KEY = "weight"
"""Session-state key of the layer view's weight picker."""
MAIN_TABS_KEY = "main_tab"
"""Session-state key of the main tabs (``app.py``)."""
LAYER_TAB = "Layer"
"""The label of the main tab that shows one layer."""


def open_layer(path: str, weight: str | None = None) -> None:
    """Select layer ``path`` (and ``weight``) and show the Layer tab; call from a callback."""
    st.session_state[LAYER_KEY] = path
    if weight:
        st.session_state[WEIGHT_KEY] = weight
    st.session_state[MAIN_TABS_KEY] = LAYER_TAB
