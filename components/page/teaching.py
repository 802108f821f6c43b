"""The teaching and debugging tabs (Explain, Health, Compare, Train, Activations) for the
selected layer.

``app.py`` calls ``render_tabs(ref, model, layer)`` once; only the open tab computes.
"""

from __future__ import annotations

import streamlit as st

from kerascope.extraction.records import LayerWeights, ModelWeights

from . import activations_view, compare_view, explain_view, health_view, training_view
from .scope import model_key
from .sources import ModelRef

TAB_KEY = "teaching_tab"
"""The tab stays open when another model opens; what each tab holds is the model's
(``scope.model_key``), except the Train tab, which trains a model of its own."""


def render_tabs(ref: ModelRef, model: ModelWeights, layer: LayerWeights) -> None:
    """Draw the Explain, Health, Compare, Train and Activations tabs."""
    explain_tab, health_tab, compare_tab, train_tab, act_tab = st.tabs(
        ["Explain", "Health", "Compare", "Train", "Activations"], key=TAB_KEY, on_change="rerun"
    )
    if explain_tab.open:
        with explain_tab:
            explain_view.render(layer)
    if health_tab.open:
        with health_tab:
            health_view.render(ref, model, layer, key=model_key("health"))
    if compare_tab.open:
        with compare_tab:
            _compare(ref, model, layer)
    if train_tab.open:
        with train_tab:
            training_view.render(key="train")
    if act_tab.open:
        with act_tab:
            activations_view.render(ref, model, layer, key=model_key("act"))


def _compare(ref: ModelRef, model: ModelWeights, layer: LayerWeights) -> None:
    compare_view.render_choice(ref, model, layer, st.session_state.get(training_view.RUN_KEY))
