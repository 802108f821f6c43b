"""The Activations panel: a chosen input, the chosen layer's output for it, and for a conv layer
the filters that made each feature map beside the maps.

Builders (``input_figure``, ``feature_maps_figure``, ``vector_figure``) are pure and tested;
``render`` picks the input and puts them on the page. Feature map ``#k`` is made by filter
``#k``: both grids use the same tile order.

Colours, decided: maps that are all >= 0 (after ReLU) use a sequential scale from 0; maps with
negative values use the diverging scale centred on 0, as weights do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from extraction.activations import (
    PIXEL_RANGES,
    Activation,
    fit_image,
    input_shape,
    is_image_input,
    run_activation,
    scale_pixels,
)
from extraction.errors import WeightscopeError
from extraction.kinds import CONV_KINDS
from extraction.records import LayerWeights, ModelWeights

from . import filters, heatmaps
from .mosaic import Scale, filter_mosaic
from .sources import ModelRef

Array = np.ndarray[Any, Any]
_HOVER = "map #%{customdata[0]}<br>row %{customdata[1]}, col %{customdata[2]}<br>a = %{z:.4g}"


def input_figure(x: Array, title: str = "input") -> go.Figure:
    """The input ``(H, W, 1)`` as a grey image, ``(H, W, 3)`` as RGB (values in ``[0, 1]``,
    clipped for display); not modified."""
    a = np.asarray(x, dtype=np.float32)
    if a.ndim != 3 or a.shape[-1] not in (1, 3):
        raise ValueError(f"expected an (H, W, 1) or (H, W, 3) image; received {a.shape}")
    if a.shape[-1] == 3:
        trace: go.Image | go.Heatmap = go.Image(z=np.clip(a, 0, 1) * 255.0)
    else:
        trace = go.Heatmap(z=a[..., 0], colorscale="gray_r", showscale=False)
    fig = go.Figure(trace)
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_layout(
        title={"text": title}, height=300, margin={"l": 10, "r": 10, "t": 50, "b": 10}
    )
    return fig


def feature_maps_figure(
    maps: Array, *, scale: Scale = "shared", page: int = 0, page_size: int = 64, title: str = ""
) -> go.Figure:
    """Feature maps ``(H, W, C)`` as a tile grid, one tile per channel, labelled ``#k``.

    Raises:
        ValueError: ``maps`` is not 3-D, or ``page`` out of range.
    """
    a = np.asarray(maps, dtype=np.float64)
    if a.ndim != 3:
        raise ValueError(f"expected feature maps (H, W, C); received shape {a.shape}")
    # A (H, W, 1, C) "kernel" is laid out tile per channel exactly like a conv filter bank.
    mosaic = filter_mosaic(
        a[:, :, None, :], kind="conv2d", scale=scale, page=page, page_size=page_size
    )
    z = mosaic.image
    finite = a[np.isfinite(a)]
    signed = bool(finite.size and finite.min() < 0)
    colours: dict[str, Any] = (
        {"colorscale": filters.COLORSCALE, "zmin": -mosaic.zmax, "zmax": mosaic.zmax, "zmid": 0.0}
        if signed
        else {"colorscale": "Viridis", "zmin": 0.0, "zmax": mosaic.zmax}
    )
    fig = go.Figure(
        go.Heatmap(
            z=z.astype(np.float32),
            customdata=mosaic.custom,
            showscale=scale == "shared",
            colorbar={"title": {"text": "a"}},
            hoverongaps=False,
            hovertemplate=_HOVER + "<extra></extra>",
            **colours,
        )
    )
    rows, cols = mosaic.tile_shape
    if len(mosaic.origins) <= 144:
        for (top, left), label in zip(mosaic.origins, mosaic.labels, strict=True):
            fig.add_annotation(
                x=left + (cols - 1) / 2, y=top + rows - 0.5, text=label, showarrow=False,
                yanchor="top", font={"size": 10},
            )  # fmt: skip
    height, width = z.shape
    fig.update_xaxes(visible=False, range=[-0.5, width - 0.5], constrain="domain")
    bottom = height - 0.5 + mosaic.label_space
    fig.update_yaxes(visible=False, range=[bottom, -0.5], scaleanchor="x", constrain="domain")
    first, last = mosaic.indices[0] + 1, mosaic.indices[-1] + 1
    note = "one colour scale for all maps" if scale == "shared" else "each map scaled to its max"
    fig.update_layout(
        title={
            "text": title
            or f"feature maps {first}-{last} of {a.shape[-1]} ({a.shape[0]}x{a.shape[1]})",
            "subtitle": {"text": note + ("" if signed else "; all values >= 0")},
        },
        height=int(np.clip(120 + 380 * height / max(width, 1), 280, 700)),
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
    )
    return fig


def vector_figure(values: Array, title: str = "", labels: Sequence[str] | None = None) -> go.Figure:
    """One bar per unit; the largest value is drawn in a darker colour (the winner)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    names = list(labels) if labels is not None and len(labels) == v.size else list(range(v.size))
    top = int(np.nanargmax(v)) if v.size and np.isfinite(v).any() else -1
    fig = go.Figure(
        go.Bar(
            x=names,
            y=v,
            marker={"color": ["#d62728" if i == top else "#1f77b4" for i in range(v.size)]},
            hovertemplate="unit %{x}: %{y:.4g}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="unit", type="category" if labels is not None else "linear")
    fig.update_yaxes(title_text="activation")
    subtitle = f"{v.size} units; largest: unit {names[top]}" if top >= 0 else f"{v.size} units"
    fig.update_layout(
        title={"text": title or "activations", "subtitle": {"text": subtitle}},
        height=340,
        margin={"t": 80},
        bargap=0.1 if v.size < 200 else 0,
    )
    return fig


def render(ref: ModelRef, records: ModelWeights, layer: LayerWeights, *, key: str = "act") -> None:
    """The whole Activations panel."""
    import streamlit as st

    from .live import live_model, sub_model

    model, reason = live_model(ref, records)
    if model is None:
        st.info(f"This file can be read but not run: {reason}.", icon=":material/info:")
        return
    try:
        shape = input_shape(model)
        sub = sub_model(ref, model, layer.path)
    except WeightscopeError as exc:
        st.info(f"No activations for {layer.path}: {exc}.", icon=":material/info:")
        return
    picked = _pick_input(ref, shape, key)
    if picked is None:
        return
    x, shown, caption = picked
    try:
        act = run_activation(sub, layer.path, x)
    except (WeightscopeError, ValueError) as exc:
        st.info(f"No activations for {layer.path}: {exc}.", icon=":material/info:")
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
    maps = feature_maps_figure(act.values, scale=scale, page=int(page) - 1)
    kernel = next((w for w in layer.weights if w.role == "kernel"), None)
    if layer.kind not in CONV_KINDS or kernel is None:
        st.plotly_chart(maps, width="stretch", key=f"{key}-maps")
        return
    maps_col, filters_col = st.columns(2)
    maps_col.plotly_chart(maps, width="stretch", key=f"{key}-maps")
    k = kernel.array()
    rgb = filters.input_channels(k.shape, layer.kind) == 3
    grid = filters.filter_grid_figure(
        k, kind=layer.kind, channel_mode="rgb" if rgb else "mean", scale=scale, page=int(page) - 1
    )
    grid.update_layout(height=maps.layout.height)  # side by side at one height
    filters_col.plotly_chart(grid, width="stretch", key=f"{key}-filters")
    st.caption("Map #k is made by filter #k: each filter slides over the layer's input.")


def _pick_input(
    ref: ModelRef, shape: tuple[int | None, ...], key: str
) -> tuple[Array, Array | None, str] | None:
    """``(model input, image to show or None, caption)``; None when waiting for an upload."""
    import streamlit as st

    from extraction.demos import DEMOS

    from .live import demo_samples
    from .live import photos as cached_photos

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
            st.error(f"Could not read {upload.name} as an image: {exc}")
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
    from extraction.demos import DEMOS

    top = int(out.argmax())
    name = DEMOS[ref.name].label(top) if ref.kind == "demo" and ref.name in DEMOS else str(top)
    return f" The model says {name} ({out[top]:.0%})."
