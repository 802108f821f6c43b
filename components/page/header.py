"""The page header: which model is open, how it was read, and what to know about it."""

from __future__ import annotations

import streamlit as st

from kerascope.extraction.readers import SOURCE_LABELS
from kerascope.extraction.records import ModelWeights

from .messages import plain
from .session import take_infos, take_notices
from .sources import ModelRef


def summary_line(model: ModelWeights) -> str:
    """``4 layers with weights of 7 · 38,282 parameters in 8 arrays · read from a .keras file``."""
    weighted = model.weighted_layers()
    arrays = sum(len(layer.weights) for layer in weighted)
    return (
        f"{len(weighted)} layers with weights of {len(model.layers)} · "
        f"{model.params:,} parameters in {arrays} arrays · read from "
        f"{SOURCE_LABELS.get(model.format, model.format)}"
    )


COMPACT_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; padding-bottom: 2rem; }
[data-testid="stSidebarUserContent"] { padding-top: 0.5rem; }
</style>"""
"""Less empty space above the page, so a filter grid starts on the first screen at 1280x800."""


def render(ref: ModelRef, model: ModelWeights) -> None:
    """Errors from this run, the title, one summary line, and the model's notes."""
    st.html(COMPACT_CSS)
    for line in take_notices():
        st.error(line, icon=":material/error:")
    for line in take_infos():
        st.info(line, icon=":material/cloud_off:")
    title = ref.name if ref.kind in ("folder", "upload") else model.name
    st.header(plain(title), anchor=False)
    inner = f"model {model.name!r} · " if title != model.name else ""
    st.caption(plain(f"{ref.label} · {inner}{summary_line(model)}"))
    for note in model.notes:
        st.info(plain(note), icon=":material/info:")
