"""A tiny page for AppTest: the teaching tabs on the digits CNN demo, opened live."""

from __future__ import annotations

import streamlit as st

from kerascope.components.page.scope import enter
from kerascope.components.page.sources import DEFAULT
from kerascope.components.page.teaching import render_tabs
from kerascope.extraction import ModelWeights, open_model


@st.cache_resource
def demo() -> ModelWeights:
    return open_model(f"demo:{DEFAULT.name}", live=True)


model = demo()
enter(DEFAULT, model)
render_tabs(DEFAULT, model, model.layer(st.session_state.get("test_layer", "conv1")))
