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

from kerascope.extraction.analysis.reduce import ReduceMode
from kerascope.extraction.errors import KerascopeError
from kerascope.extraction.layouts import conv_layout, filter_count, input_channels
from kerascope.extraction.records import LayerWeights, ModelWeights, Weight, shape_text

from ..figures import filters, heatmaps, histograms, tables
from ..figures.mosaic import Mosaic, filter_mosaic, page_count
from ..figures.weight_views import View, heatmap_args, views_for
from . import downloads as page_downloads
from . import optimizer_view, quantization_view, views, zoom
from .messages import error_line, plain
from .navigation import weight_key
from .scope import model_key
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
OPTIMIZER = "optimizer"
"""The View choice that shows the weight's optimizer state (``optimizer_view``)."""


def _view_label(choice: str) -> str:
    return "Optimizer" if choice == OPTIMIZER else VIEW_LABELS[choice]  # type: ignore[index]


def render(ref: ModelRef, model: ModelWeights, layer: LayerWeights) -> None:
    """The layer panel: one compact toolbar (weight, view, options, pages), then the view."""
    if not layer.weights:
        st.markdown(f"**{plain(layer.path)} · {plain(layer.class_name)}**")
        st.info(
            f"{plain(layer.class_name)} layers have no weights: this one only transforms its "
            "input. Pick a layer with parameters in the sidebar to see its weights."
        )
        return
    names = [w.name for w in layer.weights]
    picked = weight_key(layer.path)
    if st.session_state.get(picked) not in names:
        st.session_state[picked] = names[0]
    # One row that wraps when narrow: weight, view, then the view's own options and pages.
    toolbar = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
    with toolbar:
        name = st.segmented_control(
            f"{plain(layer.path)} · {plain(layer.class_name)}: weight",
            names,
            key=picked,
            required=True,
            format_func=lambda n: plain(f"{n} {shape_text(layer.weight(n).shape)}"),
        )
    stored = layer.weight(name or names[0])
    # Keras axes, maybe real values; the choice's label names the weight's dtype.
    weight = quantization_view.values_to_show(
        stored, key=model_key("values", layer.path, stored.name)
    )
    views = views_for(layer, weight)
    # The view is kept per kind of weight: Next keeps heatmaps for the next dense kernel.
    view_key = model_key(f"view:{weight.role}:{len(weight.shape)}:{layer.kind}")
    choices: list[str] = [*views, OPTIMIZER]  # the optimizer's state of this weight, if any
    if st.session_state.get(view_key) not in choices:
        st.session_state[view_key] = views[0]
    with toolbar:
        chosen = (
            st.segmented_control(
                "View", choices, key=view_key, required=True, format_func=_view_label
            )
            or views[0]
        )
    base = f"{ref.kind}|{ref.name}|{ref.token}|{layer.path}|{weight.name}|{weight.dtype}"
    failed: KerascopeError | None = None
    if chosen == OPTIMIZER:
        with st.spinner(f"Reading the optimizer state of {plain(weight.name)}..."):
            try:
                optimizer_view.render(base, model, layer, weight, views, toolbar)
            except KerascopeError as exc:  # as below: said once the spinner has gone
                failed = exc
        if failed is not None:
            st.error(
                error_line(f"Could not show the optimizer state of {plain(weight.name)}", failed)
            )
        return
    view: View = chosen  # type: ignore[assignment]  # (one of ``views``)
    with st.spinner(f"Reading {plain(weight.name)} ({weight.nbytes / 1e6:,.1f} MB)..."):
        try:
            png = _VIEWS[view](base, layer, weight, toolbar)
        except KerascopeError as exc:  # damaged bytes found only now, or the reader crashed
            failed = exc
    if failed is not None:  # said once the spinner has gone: it ends with its request
        st.error(error_line(f"Could not show {plain(weight.name)}", failed))
        return
    st.dataframe(
        tables.weight_stats_table(layer),
        hide_index=True,
        key=model_key("weight-stats", layer.path),
    )
    lost = [w.name for w in layer.weights if w.failure is not None]
    if lost:
        st.caption(plain(f"Empty rows: {', '.join(lost)} cannot be read."))
    page_downloads.render(model, layer, stored, png, key="downloads")


GRID_PAGE = "grid_page"
"""Name of the filter grid's page, counted from 1 (shared by the pagers above and below), kept
per weight (``model_key(GRID_PAGE, layer, weight)``)."""
GRID_ASPECT = 2.6
"""Width / height the page's filter grid aims for: wide, so it starts on the first screen."""
GRID_WIDTH = 820
"""Pixels the grid is expected to get in the main column at 1280 wide (sets its height)."""


def _filters_view(base: str, layer: LayerWeights, weight: Weight, tools: Any) -> Png:
    kind = layer.kind
    shape = weight.shape
    n_filters = filter_count(shape, kind)
    channels = input_channels(shape, kind)
    # A 3-channel first layer sees colour: its filters are shown in colour first.
    modes = (["rgb"] if channels == 3 else []) + ["channel"] + (["mean"] if channels > 1 else [])
    # What depends on the bank's shape is kept per weight; the rest is a preference.
    own = (layer.path, weight.name)
    mode_key = model_key("grid_mode", *own)
    if st.session_state.get(mode_key) not in modes:
        st.session_state[mode_key] = modes[0]
    with tools, st.popover("Display", icon=":material/tune:", help="Channels, colour scale, order"):
        mode = st.selectbox(
            "Input channels",
            modes,
            key=mode_key,
            format_func={
                "channel": "one channel",
                "mean": "mean over channels",
                "rgb": "RGB composite",
            }.__getitem__,
        )
        channel = 0
        if mode == "channel" and channels > 1:
            channel = st.number_input(
                "Channel", 0, channels - 1, 0, key=model_key("grid_channel", *own)
            )
        scale = st.selectbox(
            "Colour scale",
            ["shared", "per_filter"],
            key=model_key("grid_scale"),
            format_func={
                "shared": "one scale for the bank",
                "per_filter": "per filter",
            }.__getitem__,
        )
        order = st.selectbox(
            "Order",
            ["index", "l2"],
            key=model_key("grid_order"),
            format_func={"index": "by index", "l2": "by L2 norm"}.__getitem__,
        )
        page_size = st.selectbox(
            "Filters per page", PAGE_SIZES, index=2, key=model_key("grid_page_size")
        )
        depth = 0
        conv = conv_layout(kind)
        if conv and conv.conv_rank == 3:
            depth = st.slider("Depth slice", 0, shape[0] - 1, 0, key=model_key("grid_depth", *own))
    pages = page_count(n_filters, page_size)
    page_key = model_key(GRID_PAGE, *own)
    page = views.pager(tools, pages, state=page_key, key=f"{page_key}-top")
    options: dict[str, Any] = dict(
        channel_mode=mode,
        channel=min(channel, channels - 1),
        scale=scale,
        order=order,
        page=page,
        page_size=page_size,
        depth=depth,
        aspect=GRID_ASPECT,
    )
    mosaic, fig = _cached_filters(base, _hashable(options), weight, kind)
    views.show_filters(fig, mosaic, key=model_key("grid", *own))
    if pages > 1:
        views.pager(st.container(), pages, state=page_key, key=f"{page_key}-bottom")
    return lambda: filters.mosaic_png(mosaic)


@st.cache_resource(max_entries=64, show_spinner=False)
def _cached_filters(
    base: str, options: tuple[tuple[str, Any], ...], _weight: Weight, kind: str
) -> tuple[Mosaic, Any]:
    mosaic = filter_mosaic(_weight.array(), kind=kind, **dict(options))
    return mosaic, filters.mosaic_figure(mosaic, width_hint=GRID_WIDTH)


def _heatmap_view(base: str, layer: LayerWeights, weight: Weight, tools: Any) -> Png:
    reduce_mode: ReduceMode = (
        tools.segmented_control(
            "Pooling when reduced",
            ["mean", "max_abs"],
            key=model_key("heat_mode"),
            default="mean",
            required=True,
            format_func={"mean": "mean", "max_abs": "max |w| (keeps outliers)"}.__getitem__,
        )
        or "mean"
    )
    matrix_shape = heatmap_args(layer, weight, reduce_mode)[0].shape
    window = zoom.choose_window(base, matrix_shape)
    heatmap, fig = _cached_heatmap(base, reduce_mode, window, weight, layer)
    # A chart per window: a new window starts without the box that made it.
    box = views.show_heatmap(
        fig, heatmap, key=model_key("heat", layer.path, weight.name, str(window)), selectable=True
    )
    zoom.apply_box(base, heatmap, box)
    return lambda: heatmaps.heatmap_image(heatmap)


@st.cache_resource(max_entries=64, show_spinner=False)
def _cached_heatmap(
    base: str,
    reduce_mode: ReduceMode,
    window: zoom.Window | None,
    _weight: Weight,
    _layer: LayerWeights,
) -> tuple[heatmaps.Heatmap, Any]:
    matrix, kwargs = heatmap_args(_layer, _weight, reduce_mode)
    heatmap = heatmaps.heatmap_data(matrix, **kwargs, window=window)
    return heatmap, heatmaps.heatmap_plot(heatmap, select_to_zoom=True)


def _histogram_view(base: str, layer: LayerWeights, weight: Weight, tools: Any) -> Png:
    with tools, st.popover("Bins", icon=":material/tune:"):
        bins = st.slider("Bins", 5, 200, histograms.DEFAULT_BINS, key=model_key("hist_bins"))
        log_count = st.toggle("Log count", key=model_key("hist_log"))
    c1 = st.container()
    stats = weight.stats()  # cached: spares a pass over the values on every rerun
    varied = stats.min is not None and stats.min != stats.max
    sentence = None if varied else histograms.describe_constant(weight.array())
    with c1:
        fig = None if sentence else _cached_histogram(base, bins, log_count, weight, layer.path)
        views.show_histogram(fig, key=model_key("hist", layer.path, weight.name), sentence=sentence)
        if sentence is not None:
            return None
    title = f"{layer.path} / {weight.name}"
    return lambda: histograms.histogram_png(weight.array(), bins=bins, title=title)


@st.cache_resource(max_entries=64, show_spinner=False)
def _cached_histogram(base: str, bins: int, log_count: bool, _weight: Weight, path: str) -> Any:
    title = f"{path} / {_weight.name}"
    return histograms.histogram_figure(_weight.array(), bins=bins, title=title, log_count=log_count)


def _value_view(base: str, layer: LayerWeights, weight: Weight, tools: Any) -> Png:
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
