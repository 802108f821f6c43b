"""Downloads of the selected layer: its arrays (.npy, .npz, .csv) and the figure as PNG.

The bytes are built only when the user clicks (Streamlit calls the function then), so a large
layer costs nothing until it is asked for.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from extraction.records import LayerWeights, ModelWeights, Weight

CSV_MAX_VALUES = 2_000_000
"""Above this many values a CSV is not offered (it would be hundreds of MB of text)."""


def npy_bytes(array: np.ndarray[Any, Any]) -> bytes:
    """One array as a ``.npy`` file (bfloat16, which ``.npy`` cannot describe, as float32)."""
    buffer = io.BytesIO()
    np.save(buffer, _plain(array), allow_pickle=False)
    return buffer.getvalue()


def npz_bytes(layer: LayerWeights) -> bytes:
    """Every weight of ``layer`` in one ``.npz``, keyed by weight name."""
    buffer = io.BytesIO()
    np.savez(buffer, **{w.name: _plain(w.array()) for w in layer.weights})  # type: ignore[arg-type]
    return buffer.getvalue()


def csv_bytes(array: np.ndarray[Any, Any]) -> bytes | None:
    """A 1-D array as one column, a 2-D array as rows; None for other ranks or too many values."""
    if array.ndim not in (1, 2) or array.size > CSV_MAX_VALUES:
        return None
    buffer = io.StringIO()
    matrix = array.reshape(-1, 1) if array.ndim == 1 else array
    np.savetxt(buffer, _plain(matrix).astype(np.float64), delimiter=",", fmt="%.9g")
    return buffer.getvalue().encode()


def file_stem(model: ModelWeights, layer: LayerWeights, weight: Weight | None = None) -> str:
    """A safe file name stem: ``digits_cnn-conv1-kernel``."""
    parts = [model.name, layer.path] + ([weight.name] if weight is not None else [])
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(parts)).strip("_") or "weights"


def _plain(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if array.dtype.kind == "V" or array.dtype.name == "bfloat16":
        return array.astype(np.float32)
    return array


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
