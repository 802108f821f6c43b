"""Download buttons for the selected layer's arrays and figure."""

from __future__ import annotations

from collections.abc import Callable

from kerascope.extraction.records import LayerWeights, ModelWeights, Weight

from ..figures.downloads import CSV_MAX_VALUES, csv_bytes, file_stem, npy_bytes, npz_bytes


def render(
    model: ModelWeights,
    layer: LayerWeights,
    weight: Weight,
    png: Callable[[], bytes] | None,
    *,
    key: str,
) -> None:
    """A row of download buttons for the selected weight and layer."""
    import streamlit as st

    stem = file_stem(model, layer, weight)
    cols = st.columns(4)
    with cols[0]:
        st.download_button(
            f"{weight.name}.npy",
            lambda: npy_bytes(weight.array()),
            file_name=f"{stem}.npy",
            mime="application/octet-stream",
            key=f"{key}-npy",
            on_click="ignore",
            icon=":material/download:",
        )
    with cols[1]:
        st.download_button(
            "layer .npz",
            lambda: npz_bytes(layer),
            file_name=f"{file_stem(model, layer)}.npz",
            mime="application/octet-stream",
            key=f"{key}-npz",
            on_click="ignore",
            icon=":material/download:",
        )
    with cols[2]:
        if len(weight.shape) in (1, 2) and weight.size <= CSV_MAX_VALUES:
            st.download_button(
                f"{weight.name}.csv",
                lambda: csv_bytes(weight.array()) or b"",
                file_name=f"{stem}.csv",
                mime="text/csv",
                key=f"{key}-csv",
                on_click="ignore",
                icon=":material/download:",
            )
        else:
            st.caption(
                f"CSV is offered for 1-D and 2-D weights of up to {CSV_MAX_VALUES:,} values."
            )
    with cols[3]:
        if png is not None:
            st.download_button(
                "figure .png",
                png,
                file_name=f"{stem}.png",
                mime="image/png",
                key=f"{key}-png",
                on_click="ignore",
                icon=":material/image:",
            )
