"""Deep links: ``?model=NAME&layer=PATH`` opens a model and layer; the URL follows the user."""

from __future__ import annotations

import streamlit as st

from kerascope.extraction.errors import KerascopeError
from kerascope.extraction.records import ModelWeights

from .messages import error_line
from .session import switch_to
from .sources import ModelRef, parse_link

APPLIED = "deep_link_applied"
PENDING_LAYER = "deep_link_layer"
SOURCE_WIDGETS = {"demo": "demo_name", "folder": "folder_name", "application": "app_name"}


def apply_deep_link() -> None:
    """On a session's first run, open what the URL names; a bad name is an error box.

    Sets the sidebar widgets' state so they show what the link opened.
    """
    if st.session_state.get(APPLIED):
        return
    st.session_state[APPLIED] = True
    model = st.query_params.get("model")
    layer = st.query_params.get("layer")
    if model:
        try:
            ref = parse_link(model)
        except KerascopeError as exc:
            st.error(error_line("The link names a model that cannot be opened", exc))
            return
        if not switch_to(ref):
            return
        st.session_state["source_kind"] = ref.kind
        st.session_state[SOURCE_WIDGETS[ref.kind]] = ref.name
    if layer:
        st.session_state[PENDING_LAYER] = layer


def take_linked_layer(model: ModelWeights) -> str | None:
    """The layer a deep link asked for, once; an unknown one is an error box."""
    path = st.session_state.pop(PENDING_LAYER, None)
    if path is None:
        return None
    try:
        return model.layer(path).path
    except KerascopeError as exc:
        st.error(error_line("The link names a layer that does not exist", exc))
        return None


def sync_url(ref: ModelRef, layer: str | None) -> None:
    """Make the URL say what is on screen, so it can be shared."""
    wanted: dict[str, str | None] = {"model": ref.link, "layer": layer}
    for key, value in wanted.items():
        if value is None:
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != value:
            st.query_params[key] = value
