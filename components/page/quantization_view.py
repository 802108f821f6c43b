"""Quantized and re-laid-out weights on the page: the stored values or their real values, the
scales beside them, and the Compare panel for a float model and its export."""

from __future__ import annotations

import numpy as np
import streamlit as st

from kerascope.extraction.analysis.quantization import quantization_error, weight_difference
from kerascope.extraction.records import ModelWeights, Weight

from ..figures.compare import difference_figures
from ..figures.quantization import channel_error_figure, error_rows, layer_error_figure
from .messages import plain

EXPORT_FORMATS = ("tflite", "tfjs")
"""Formats whose weights an exporter changed (quantized, re-laid-out): Compare measures what
the export lost instead of how far a checkpoint moved."""


def values_to_show(weight: Weight, *, key: str) -> Weight:
    """The weight the views draw: stored values, or the dequantized floats when the user asks;
    in Keras's axis order either way. Shows the quantization parameters beside it."""
    shown = weight
    q = weight.quantization
    if q is not None:
        how = "per channel along stored axis " + str(q.axis) if q.per_channel else "per tensor"
        scales = np.asarray(q.scale)
        st.caption(
            plain(
                f"{weight.name} is stored as {weight.dtype} with {len(q.scale)} scale(s) {how}: "
                f"scale {scales.min():.4g} to {scales.max():.4g}, zero point "
                f"{min(q.zero_point, default=0)} to {max(q.zero_point, default=0)}. "
                "real = scale x (stored - zero point)."
            )
        )
        mode = st.segmented_control(
            "Values",
            ["stored", "dequantized"],
            key=key,
            default="stored",
            required=True,
            format_func={
                "stored": f"stored ({weight.dtype})",
                "dequantized": "dequantized (float32)",
            }.__getitem__,
        )
        if mode == "dequantized":
            shown = weight.dequantized()
        with st.expander("Scales and zero points"):
            st.dataframe(
                {"scale": list(q.scale), "zero point": list(q.zero_point) or [0] * len(q.scale)},
                key=f"{key}-scales",
            )
    if weight.layout is not None:
        keras = weight.keras_axes()
        st.caption(
            plain(
                f"Stored as {weight.shape} ({weight.layout}); shown in Keras's axis order "
                f"{keras.shape}."
            )
        )
    return shown.keras_axes()


def render(reference: ModelWeights, other: ModelWeights, path: str, *, key: str) -> None:
    """Per-layer error of ``other`` (an export) against ``reference`` (the float model), ranked;
    the table of weights; one weight's original, export and difference."""
    report = quantization_error(reference, other)
    if not report.errors:
        st.error(
            plain(
                f"No layer of {other.name!r} matches a layer of {reference.name!r} by name or by "
                "order and kernel shape: is it an export of this model?"
            )
        )
        return
    st.plotly_chart(layer_error_figure(report), width="stretch", key=f"{key}-qbars")
    if report.unmatched:
        st.warning(
            plain(
                f"{len(report.unmatched)} layer(s) with weights found no counterpart in the "
                f"export: {', '.join(report.unmatched[:6])}"
            )
        )
    st.dataframe(error_rows(report), hide_index=True, key=f"{key}-qtable")
    paths = [p for p, _ in report.layer_errors()]
    if st.session_state.get(f"{key}-qlayer") not in paths:
        st.session_state[f"{key}-qlayer"] = path if path in paths else paths[0]
    chosen = st.selectbox("Layer to inspect (largest loss first)", paths, key=f"{key}-qlayer")
    errors = [e for e in report.errors if e.layer == chosen]
    name = st.selectbox("Weight", [e.weight for e in errors], key=f"{key}-qweight")
    error = next(e for e in errors if e.weight == name)
    layer = reference.layer(chosen)
    original = layer.weight(error.weight)
    exported = other.layer(error.other_layer).weight(error.other_weight)
    a, b = weight_difference(original, exported)
    figs = difference_figures(
        a,
        b,
        kind=layer.kind,
        role=original.role,
        name=error.weight,
        titles=(reference.name, f"{other.name} ({error.stored_dtype}, dequantized)"),
    )
    cols = st.columns(3)
    for i, (col, fig) in enumerate(zip(cols, figs, strict=True)):
        with col:
            st.plotly_chart(fig, width="stretch", key=f"{key}-qfig{i}")
    st.caption(
        f"Largest |error| {error.max_abs:.4g}; relative L2 {error.relative:.4g}. The export's "
        "values are its dequantized floats, in Keras's axis order."
    )
    channels = channel_error_figure(error)
    if channels is not None:
        st.plotly_chart(channels, width="stretch", key=f"{key}-qchannels")
