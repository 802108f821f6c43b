"""Put prebuilt figures and tables on the page: the Streamlit half of every view."""

from __future__ import annotations

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


def show_heatmap(fig: go.Figure, heatmap: Heatmap, *, key: str) -> None:
    """Put a heatmap figure (drawn from ``heatmap``) on the page with a caption saying what one
    cell stands for."""
    import streamlit as st

    st.plotly_chart(fig, width="stretch", key=f"{key}-chart")
    how = plain(sentence(heatmap.note))
    st.caption(
        f"{how} Diverging colours centred on 0 (blue negative, red positive); hover a cell for "
        "the weights it pools."
    )


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


def show_table(table: pd.DataFrame, *, key: str) -> None:
    """Show a table from this module, sortable, numbers in 4 significant digits."""
    import streamlit as st

    number = st.column_config.NumberColumn(format="%.4g")
    config = {c: number for c in ("mean", "std", "min", "max", "l2") if c in table.columns}
    config["zero fraction"] = st.column_config.NumberColumn(format="percent")
    st.dataframe(table, hide_index=True, column_config=config, key=key)
