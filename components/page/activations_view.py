"""The Activations panel: picks an input, runs the model to the layer, shows the maps."""

from __future__ import annotations

from typing import Any

import numpy as np

from extraction.errors import WeightscopeError
from extraction.kinds import CONV_KINDS
from extraction.layouts import input_channels
from extraction.models.activations import (
    PIXEL_RANGES,
    Activation,
    fit_image,
    input_shape,
    is_image_input,
    run_activation,
    scale_pixels,
)
from extraction.records import LayerWeights, ModelWeights

from ..figures import filters, heatmaps
from ..figures.activations import Array, feature_maps_figure, input_figure, vector_figure
from ..figures.mosaic import Scale
from .messages import plain
from .sources import ModelRef

_SIDE_HEIGHT = 520
"""Pixels high of the feature maps and the filters that made them, drawn side by side."""


def render(ref: ModelRef, records: ModelWeights, layer: LayerWeights, *, key: str = "act") -> None:
    """The whole Activations panel."""
    import streamlit as st

    from ..page.runnable import live_model, sub_model

    model, reason = live_model(ref, records)
    if model is None:
        st.info(f"This file can be read but not run: {plain(reason)}.", icon=":material/info:")
        return
    try:
        shape = input_shape(model)
        sub = sub_model(ref, model, layer.path)
    except WeightscopeError as exc:
        st.info(f"No activations for {plain(layer.path)}: {plain(exc)}.", icon=":material/info:")
        return
    picked = _pick_input(ref, shape, key)
    if picked is None:
        return
    x, shown, caption = picked
    try:
        act = run_activation(sub, layer.path, x)
    except (WeightscopeError, ValueError) as exc:
        st.info(f"No activations for {plain(layer.path)}: {plain(exc)}.", icon=":material/info:")
        return
    left, right = st.columns([1, 3])
    with left:
        if shown is not None:
            st.plotly_chart(input_figure(shown, "input"), width="stretch", key=f"{key}-input")
        st.caption(caption + _prediction(model, x, ref))
    with right:
        _draw_activation(act, layer, key)


def _draw_activation(act: Activation, layer: LayerWeights, key: str) -> None:
    import streamlit as st

    if act.kind == "vector":
        fig = vector_figure(act.values, f"{act.path} output ({layer.class_name})")
        st.plotly_chart(fig, width="stretch", key=f"{key}-bars")
        return
    if act.kind == "matrix":
        fig = heatmaps.heatmap_figure(
            act.values, row_label="step", col_label="feature", title=f"{act.path} output"
        )
        st.plotly_chart(fig, width="stretch", key=f"{key}-matrix")
        return
    channels = act.values.shape[-1]
    c1, c2 = st.columns(2)
    per = c1.toggle("Scale each map on its own", key=f"{key}-per-map")
    pages = filters.page_count(channels)
    page = c2.number_input("Page", 1, pages, 1, key=f"{key}-page") if pages > 1 else 1
    scale: Scale = "per_filter" if per else "shared"
    side_by_side = layer.kind in CONV_KINDS and any(w.role == "kernel" for w in layer.weights)
    height = _SIDE_HEIGHT if side_by_side else None
    maps = feature_maps_figure(act.values, scale=scale, page=int(page) - 1, height=height)
    kernel = next((w for w in layer.weights if w.role == "kernel"), None)
    if layer.kind not in CONV_KINDS or kernel is None:
        st.plotly_chart(maps, width="stretch", key=f"{key}-maps")
        return
    maps_col, filters_col = st.columns(2)
    maps_col.plotly_chart(maps, width="stretch", key=f"{key}-maps")
    k = kernel.array()
    rgb = input_channels(k.shape, layer.kind) == 3
    grid = filters.filter_grid_figure(
        k,
        kind=layer.kind,
        channel_mode="rgb" if rgb else "mean",
        scale=scale,
        page=int(page) - 1,
        height=height,
    )
    filters_col.plotly_chart(grid, width="stretch", key=f"{key}-filters")
    st.caption("Map #k is made by filter #k: each filter slides over the layer's input.")


def _pick_input(
    ref: ModelRef, shape: tuple[int | None, ...], key: str
) -> tuple[Array, Array | None, str] | None:
    """``(model input, image to show or None, caption)``; None when waiting for an upload."""
    import streamlit as st

    from extraction.models.demos import DEMOS

    from ..page.runnable import demo_samples
    from ..page.runnable import photos as cached_photos

    image = is_image_input(shape)
    sources = (["held-out sample"] if ref.kind == "demo" and ref.name in DEMOS else []) + (
        ["sample photo", "uploaded image"] if image else []
    )
    sources.append("random input")
    source = st.radio("Input", sources, horizontal=True, key=f"{key}-source")
    if source == "held-out sample":
        xs, ys = demo_samples(ref.name)
        i = int(st.slider("Sample", 0, len(xs) - 1, 0, key=f"{key}-sample"))
        x = np.asarray(xs[i], dtype=np.float32)
        shown = _showable(x, shape)
        return x, shown, f"held-out sample {i}, label {DEMOS[ref.name].label(int(ys[i]))}."
    if source == "random input":
        sizes = tuple(d or 32 for d in shape)
        x = np.random.default_rng(0).random(sizes, dtype=np.float32)
        return x, _showable(x, shape), "uniform random values in [0, 1), seed 0."
    if source == "sample photo":
        photos = cached_photos()
        name = st.selectbox("Photo", sorted(photos), key=f"{key}-photo")
        pixels, what = fit_image(photos[name], shape), f"scikit-learn's {name}"
    else:
        upload = st.file_uploader("An image", ["png", "jpg", "jpeg"], key=f"{key}-upload")
        if upload is None:
            st.info("Upload a PNG or JPEG image; it is cropped and resized to the model's input.")
            return None
        from PIL import Image, UnidentifiedImageError

        try:
            pixels = fit_image(np.asarray(Image.open(upload).convert("RGB")), shape)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            st.error(f"Could not read {plain(upload.name)} as an image: {plain(exc)}")
            return None
        what = upload.name
    rng = st.selectbox("Pixel range the model expects", PIXEL_RANGES, key=f"{key}-range")
    x = scale_pixels(pixels, rng)
    return x, pixels, f"{what}, cropped and resized to {pixels.shape[0]}x{pixels.shape[1]}."


def _showable(x: Array, shape: tuple[int | None, ...]) -> Array | None:
    if is_image_input(shape):
        return x
    side = int(np.sqrt(x.size))
    return x.reshape(side, side, 1) if x.ndim == 1 and side * side == x.size else None


def _prediction(model: Any, x: Array, ref: ModelRef) -> str:
    """`` The model says 3 (97%).`` when its output is one probability vector, else ``""``."""
    try:
        out = np.asarray(model(x[np.newaxis], training=False), dtype=np.float64)[0]
    except Exception:  # noqa: BLE001 - a model that cannot say is not an error here
        return ""
    if out.ndim != 1 or out.size < 2 or not np.isclose(out.sum(), 1.0, atol=1e-3):
        return ""
    from extraction.models.demos import DEMOS

    top = int(out.argmax())
    name = DEMOS[ref.name].label(top) if ref.kind == "demo" and ref.name in DEMOS else str(top)
    return f" The model says {name} ({out[top]:.0%})."
