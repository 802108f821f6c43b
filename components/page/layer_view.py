"""The selected layer on the page: a view per weight (filter grid, heatmap, histogram), its
statistics and downloads.

Which view suits a weight is decided in ``views_for`` (pure, tested); figures are cached per
(model, layer, weight, options), so coming back to a layer is immediate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from extraction.analysis.reduce import ReduceMode
from extraction.errors import WeightscopeError
from extraction.layouts import filter_count, input_channels
from extraction.records import LayerWeights, ModelWeights, Weight, shape_text

from ..figures import filters, heatmaps, histograms, tables
from ..figures.mosaic import Mosaic, filter_mosaic, page_count
from ..figures.weight_views import View, filter_kind, heatmap_args, views_for
from . import downloads as page_downloads
from . import quantization_view, views
from .messages import error_line, plain
from .sources import ModelRef

Png = Callable[[], bytes] | None
"""Renders the figure as PNG when the user asks for it (downloads are generated lazily)."""
VIEW_LABELS: dict[View, str] = {
    "filters": "Filter grid",
    "heatmap": "Heatmap",
    "histogram": "Histogram",
    "value": "Value",
}
PAGE_SIZES = (16, 32, 64, 128)


def render(ref: ModelRef, model: ModelWeights, layer: LayerWeights) -> None:
    """The layer panel."""
    st.subheader(plain(f"{layer.path} · {layer.class_name}"), anchor=False)
    if not layer.weights:
        st.info(
            f"{plain(layer.class_name)} layers have no weights: this one only transforms its "
            "input. Pick a layer with parameters in the sidebar to see its weights."
        )
        return
    names = [w.name for w in layer.weights]
    if st.session_state.get("weight") not in names:
        st.session_state["weight"] = names[0]
    name = st.segmented_control(
        "Weight",
        names,
        key="weight",
        required=True,
        format_func=lambda n: plain(f"{n} {shape_text(layer.weight(n).shape)}"),
    )
    stored = layer.weight(name or names[0])
    weight = quantization_view.values_to_show(stored, key="values")  # Keras axes, maybe real
    views = views_for(layer, weight)
    view_key = f"view:{weight.role}:{len(weight.shape)}:{layer.kind}"
    if st.session_state.get(view_key) not in views:
        st.session_state[view_key] = views[0]
    view: View = (
        st.segmented_control(
            "View", views, key=view_key, required=True, format_func=VIEW_LABELS.__getitem__
        )
        or views[0]
    )
    base = f"{ref.kind}|{ref.name}|{ref.token}|{layer.path}|{weight.name}|{weight.dtype}"
    with st.spinner(f"Reading {plain(weight.name)} ({weight.nbytes / 1e6:,.1f} MB)..."):
        try:
            png = _VIEWS[view](base, layer, weight)
        except WeightscopeError as exc:  # damaged bytes found only now, or the reader crashed
            st.error(error_line(f"Could not show {plain(weight.name)}", exc))
            return
    st.dataframe(tables.weight_stats_table(layer), hide_index=True, key="weight-stats")
    page_downloads.render(model, layer, stored, png, key="downloads")


def _filters_view(base: str, layer: LayerWeights, weight: Weight) -> Png:
    kind = filter_kind(layer, weight)
    shape = weight.shape
    n_filters = filter_count(shape, kind)
    channels = input_channels(shape, kind)
    c1, c2, c3, c4 = st.columns(4)
    modes = ["channel"] + (["mean"] if channels > 1 else []) + (["rgb"] if channels == 3 else [])
    with c1:
        mode = st.selectbox(
            "Input channels",
            modes,
            key="grid_mode",
            format_func={
                "channel": "one channel",
                "mean": "mean over channels",
                "rgb": "RGB composite",
            }.__getitem__,
        )
    channel = 0
    with c2:
        if mode == "channel" and channels > 1:
            channel = st.number_input("Channel", 0, channels - 1, 0, key="grid_channel")
        scale = st.selectbox(
            "Colour scale",
            ["shared", "per_filter"],
            key="grid_scale",
            format_func={
                "shared": "one scale for the bank",
                "per_filter": "per filter",
            }.__getitem__,
        )
    with c3:
        order = st.selectbox(
            "Order",
            ["index", "l2"],
            key="grid_order",
            format_func={"index": "by index", "l2": "by L2 norm"}.__getitem__,
        )
        page_size = st.selectbox("Filters per page", PAGE_SIZES, index=2, key="grid_page_size")
    with c4:
        pages = page_count(n_filters, page_size)
        page = 0
        if pages > 1:
            page = st.number_input(f"Page (of {pages})", 1, pages, 1, key="grid_page") - 1
        depth = 0
        if kind == "conv3d":
            depth = st.slider("Depth slice", 0, shape[0] - 1, 0, key="grid_depth")
    options: dict[str, Any] = dict(
        channel_mode=mode,
        channel=min(channel, channels - 1),
        scale=scale,
        order=order,
        page=min(page, pages - 1),
        page_size=page_size,
        depth=depth,
    )
    mosaic, fig = _cached_filters(base, _hashable(options), weight, kind)
    views.show_filters(fig, mosaic, key="grid")
    return lambda: filters.mosaic_png(mosaic)


@st.cache_resource(max_entries=64, show_spinner=False)
def _cached_filters(
    base: str, options: tuple[tuple[str, Any], ...], _weight: Weight, kind: str
) -> tuple[Mosaic, Any]:
    mosaic = filter_mosaic(_weight.array(), kind=kind, **dict(options))
    return mosaic, filters.mosaic_figure(mosaic)


def _heatmap_view(base: str, layer: LayerWeights, weight: Weight) -> Png:
    reduce_mode: ReduceMode = (
        st.segmented_control(
            "Pooling when reduced",
            ["mean", "max_abs"],
            key="heat_mode",
            default="mean",
            required=True,
            format_func={"mean": "mean", "max_abs": "max |w| (keeps outliers)"}.__getitem__,
        )
        or "mean"
    )
    heatmap, fig = _cached_heatmap(base, reduce_mode, weight, layer)
    views.show_heatmap(fig, heatmap, key="heat")
    return lambda: heatmaps.heatmap_image(heatmap)


@st.cache_resource(max_entries=64, show_spinner=False)
def _cached_heatmap(
    base: str, reduce_mode: ReduceMode, _weight: Weight, _layer: LayerWeights
) -> tuple[heatmaps.Heatmap, Any]:
    matrix, kwargs = heatmap_args(_layer, _weight, reduce_mode)
    heatmap = heatmaps.heatmap_data(matrix, **kwargs)
    return heatmap, heatmaps.heatmap_plot(heatmap)


def _histogram_view(base: str, layer: LayerWeights, weight: Weight) -> Png:
    c1, c2 = st.columns([3, 1])
    with c2:
        bins = st.slider("Bins", 5, 200, histograms.DEFAULT_BINS, key="hist_bins")
        log_count = st.toggle("Log count", key="hist_log")
    stats = weight.stats()  # cached: spares a pass over the values on every rerun
    varied = stats.min is not None and stats.min != stats.max
    sentence = None if varied else histograms.describe_constant(weight.array())
    with c1:
        fig = None if sentence else _cached_histogram(base, bins, log_count, weight, layer.path)
        views.show_histogram(fig, key="hist", sentence=sentence)
        if sentence is not None:
            return None
    title = f"{layer.path} / {weight.name}"
    return lambda: histograms.histogram_png(weight.array(), bins=bins, title=title)


@st.cache_resource(max_entries=64, show_spinner=False)
def _cached_histogram(base: str, bins: int, log_count: bool, _weight: Weight, path: str) -> Any:
    title = f"{path} / {_weight.name}"
    return histograms.histogram_figure(_weight.array(), bins=bins, title=title, log_count=log_count)


def _value_view(base: str, layer: LayerWeights, weight: Weight) -> Png:
    values = weight.array()
    if values.size == 0:
        st.info(f"{plain(weight.name)} is empty: shape {shape_text(weight.shape)} holds no values.")
    else:
        st.metric(
            plain(weight.name), f"{float(np.asarray(values, dtype=np.float64).reshape(-1)[0]):.6g}"
        )
    return None


_VIEWS = {
    "filters": _filters_view,
    "heatmap": _heatmap_view,
    "histogram": _histogram_view,
    "value": _value_view,
}


def _hashable(options: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(options.items()))
