"""Put prebuilt figures and tables on the page: the Streamlit half of every view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from ..figures.heatmaps import Heatmap
from ..figures.mosaic import Mosaic
from .messages import plain, sentence


def show_filters(fig: go.Figure, mosaic: Mosaic, *, key: str) -> None:
    """Put a filter-grid figure (drawn from ``mosaic``) on the page with a caption on how to
    read it."""
    import streamlit as st

    st.plotly_chart(fig, width="stretch", key=f"{key}-chart")
    st.caption(
        f"{mosaic.n_filters} filters, page {mosaic.page + 1} of {mosaic.pages}. "
        f"{plain(sentence(mosaic.note))} Hover a pixel for its filter, position, value and the "
        "filter's L2 norm."
    )


def show_heatmap(
    fig: go.Figure,
    heatmap: Heatmap,
    *,
    key: str,
    selectable: bool = False,
    sequential: bool = False,
) -> dict[str, list[float]] | None:
    """Put a heatmap figure (drawn from ``heatmap``) on the page with a caption saying what one
    cell stands for. With ``selectable``, a box dragged on it is returned (cell positions
    ``{"x": [x0, x1], "y": [y0, y1]}``), else None. ``sequential``: the figure colours values
    >= 0 from 0 up (``heatmap_plot(sequential=True)``)."""
    import streamlit as st

    if not selectable:
        st.plotly_chart(fig, width="stretch", key=f"{key}-chart")
        box = None
    else:
        event = st.plotly_chart(
            fig, width="stretch", key=f"{key}-chart", on_select="rerun", selection_mode="box"
        )
        boxes = event.selection.get("box") or []
        box = {"x": list(boxes[-1]["x"]), "y": list(boxes[-1]["y"])} if boxes else None
    how = plain(sentence(heatmap.note))
    colours = (
        "Sequential colours from 0 (dark) up (light)"
        if sequential
        else "Diverging colours centred on 0 (blue negative, red positive)"
    )
    st.caption(
        f"{how} {colours}; hover a cell for the weights it pools."
        + (
            " Drag a box on the map to read that region again, down to single weights."
            if selectable
            else ""
        )
    )
    return box


def show_histogram(fig: go.Figure | None, *, key: str, sentence: str | None = None) -> None:
    """Put a histogram on the page, or the sentence that stands in for constant values."""
    import streamlit as st

    if sentence is not None or fig is None:
        st.info(sentence or "No values to show.")
        return
    st.plotly_chart(fig, width="stretch", key=f"{key}-chart")


def show_overview(fig: go.Figure, *, key: str, max_points_per_layer: int = 100_000) -> None:
    """Put the overview on the page with a caption on how to read it."""
    import streamlit as st

    st.plotly_chart(fig, width="stretch", key=f"{key}-chart")
    st.caption(
        "Each box is one layer's trainable weights: box = quartiles, whiskers = min and max, "
        "dashed = mean. A flat box at 0 is a dead layer; whiskers far beyond the rest are "
        f"exploding weights. Quartiles from up to {max_points_per_layer:,} values per layer."
    )


STATUS_ORDER = ("error", "warning", "info", "ok", "none")
"""A ``status`` column (``health.Verdict``) sorts in this order: it is stored as the rank and
shown as the word (``STATUS_WORDS``)."""
STATUS_WORDS = {**{s: s for s in STATUS_ORDER}, "none": "no weights"}
"""How the table says each verdict (``none``: nothing to check)."""


def show_table(
    table: pd.DataFrame, *, key: str, on_select: Callable[[], None] | None = None
) -> None:
    """Show a table from this module, sortable, numbers in 4 significant digits.

    A ``status`` column (a severity per row) is coloured and sorts by severity; with
    ``on_select`` one row can be selected and the callback runs when it is.
    """
    import streamlit as st

    from ..figures.health import SEVERITY_COLOURS

    number = st.column_config.NumberColumn(format="%.4g")
    config: dict[str, Any] = {
        c: number for c in ("mean", "std", "min", "max", "l2") if c in table.columns
    }
    config["zero fraction"] = st.column_config.NumberColumn(format="percent")
    shown: Any = table
    alarm = f"color: {SEVERITY_COLOURS['error']}; font-weight: bold"
    counts = [c for c in ("NaN", "Inf", "NaN count", "Inf count") if c in table.columns]
    if "status" in table.columns or counts:
        ranked = table
        if "status" in table.columns:
            ranked = table.assign(status=[STATUS_ORDER.index(s) for s in table["status"]])
        style = ranked.style
        if "status" in table.columns:
            style = style.format({"status": lambda rank: STATUS_WORDS[STATUS_ORDER[rank]]}).map(
                lambda rank: f"color: {SEVERITY_COLOURS[STATUS_ORDER[rank]]}; font-weight: bold",
                subset=["status"],
            )
        # A count is NaN while unknown (the table is filling): only a positive count alarms.
        shown = style.map(lambda n: alarm if n > 0 else "", subset=counts)
    if on_select is None:
        st.dataframe(shown, hide_index=True, column_config=config, key=key)
    else:
        st.dataframe(
            shown,
            hide_index=True,
            column_config=config,
            key=key,
            on_select=on_select,
            selection_mode="single-row",
        )


def pager(where: Any, pages: int, *, state: str, key: str, noun: str = "page") -> int:
    """Previous / next buttons around ``page k of n``; returns the page, counted from 0.

    Every pager sharing ``state`` (the session key of the page, counted from 1) moves with the
    others, so paging below a grid moves the one above it too. ``noun`` names what a page holds
    in the buttons' help (``Previous page``, ``Previous maps``).
    """
    import streamlit as st

    current = min(max(int(st.session_state.get(state, 1)), 1), pages)
    st.session_state[state] = current
    if pages <= 1:
        return 0

    def step(delta: int) -> None:
        st.session_state[state] = min(max(current + delta, 1), pages)

    label = "page" if noun == "page" else f"{noun} page"
    with where:
        row = st.container(horizontal=True, vertical_alignment="center", width="content")
        row.button(
            "",
            icon=":material/chevron_left:",
            key=f"{key}-prev",
            help=f"Previous {noun}",
            disabled=current <= 1,
            on_click=step,
            args=(-1,),
        )
        row.markdown(f"{label} **{current}** of {pages}", width="content")
        row.button(
            "",
            icon=":material/chevron_right:",
            key=f"{key}-next",
            help=f"Next {noun}",
            disabled=current >= pages,
            on_click=step,
            args=(1,),
        )
    return current - 1
