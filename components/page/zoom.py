"""Zoom into a heatmap: choose rows and columns of the full matrix, down to single weights.

The chosen window is re-read from the weight (a slice: a memory-mapped checkpoint reads only
those bytes) and reduced again, so a 128256 x 2048 embedding can be narrowed step by step to a
window small enough that each cell is one weight, with its exact value on hover.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ..figures.heatmaps import Heatmap, window_of_cells
from .scope import model_key

Window = tuple[int, int, int, int]
SINGLE = (40, 40)
"""Rows and columns of the 'single weights' window: one weight per cell, readable labels."""


def choose_window(base: str, shape: tuple[int, int]) -> Window | None:
    """Row and column ranges chosen for the heatmap of a ``shape`` matrix; None for all of it.

    ``base`` identifies the weight, so each weight keeps its own zoom (while its model is open).
    """
    rows, cols = shape
    if rows * cols <= SINGLE[0] * SINGLE[1]:
        return None  # already one weight per cell
    rows_key, cols_key = model_key("zoom_rows", base), model_key("zoom_cols", base)
    pending = st.session_state.pop(model_key("zoom_pending", base), None)
    if pending is not None:
        st.session_state[rows_key], st.session_state[cols_key] = pending[:2], pending[2:]
    st.session_state.setdefault(rows_key, (0, rows))
    st.session_state.setdefault(cols_key, (0, cols))
    r0, r1 = st.session_state[rows_key]
    c0, c1 = st.session_state[cols_key]
    zoomed = (r0, r1, c0, c1) != (0, rows, 0, cols)
    with st.expander("Zoom: rows and columns", expanded=zoomed):
        st.slider("Rows", 0, rows, key=rows_key)
        st.slider("Columns", 0, cols, key=cols_key)
        b1, b2 = st.columns(2)
        b1.button(
            f"Single weights ({SINGLE[0]} x {SINGLE[1]} around the centre)",
            key=model_key("zoom_single", base),
            on_click=_single,
            args=(rows_key, cols_key, shape),
        )
        b2.button(
            "Whole matrix",
            key=model_key("zoom_reset", base),
            on_click=_reset,
            args=(rows_key, cols_key, shape),
        )
        st.caption(
            "The window is read again from the file and reduced to fit; once it is small "
            "enough, one cell is one weight and its hover shows the exact value."
        )
    r0, r1 = st.session_state[rows_key]
    c0, c1 = st.session_state[cols_key]
    if r0 >= r1 or c0 >= c1:
        st.warning("The window is empty: choose at least one row and one column.")
        return None
    window = (int(r0), int(r1), int(c0), int(c1))
    return None if window == (0, rows, 0, cols) else window


def _single(rows_key: str, cols_key: str, shape: tuple[int, int]) -> None:
    """Centre a single-weight window on the middle of the current window."""
    for key, total, size in ((rows_key, shape[0], SINGLE[0]), (cols_key, shape[1], SINGLE[1])):
        lo, hi = st.session_state.get(key, (0, total))
        start = max(0, min(total - size, (lo + hi) // 2 - size // 2))
        st.session_state[key] = (start, min(total, start + size))


def _reset(rows_key: str, cols_key: str, shape: tuple[int, int]) -> None:
    st.session_state[rows_key] = (0, shape[0])
    st.session_state[cols_key] = (0, shape[1])


def apply_box(base: str, heatmap: Heatmap, box: dict[str, Any] | None) -> None:
    """Zoom to a box dragged on the heatmap: set the window and rerun. A box is applied once
    per window (the chart keeps reporting its last selection on every rerun)."""
    applied_key, seen = model_key("zoom_box", base), (heatmap.origin, heatmap.reduced.shape, box)
    if box is None or st.session_state.get(applied_key) == seen:
        return
    st.session_state[applied_key] = seen
    window = window_of_cells(heatmap, box["y"], box["x"])
    if window is None:
        return
    # The sliders already exist in this run: the window is handed to the next one.
    st.session_state[model_key("zoom_pending", base)] = window
    st.rerun()
