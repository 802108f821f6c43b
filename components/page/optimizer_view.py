"""The Optimizer view of the selected weight: its gradient RMS and next step (or any slot its
optimizer kept), side by side, drawn as the weight is drawn (filter grid, heatmap, histogram).

A file without optimizer state, or a weight the optimizer kept nothing for, says so.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from kerascope.extraction.errors import KerascopeError
from kerascope.extraction.layouts import filter_count
from kerascope.extraction.records import LayerWeights, ModelWeights, Weight

from ..figures import optimizer as figures
from ..figures.heatmaps import Heatmap, column_width
from ..figures.mosaic import Mosaic, page_count
from ..figures.weight_views import View
from . import views
from .messages import error_line, plain
from .scope import model_key

PAGE_STATE = "opt_grid_page"
"""Name of the Optimizer view's filter-grid page, counted from 1, kept per weight
(``model_key(PAGE_STATE, layer, weight)``)."""
NO_STATE = (
    "This file keeps no optimizer state. Keras saves it with the weights when a compiled model "
    "is saved (model.save to .keras or .h5, model.save_weights to .weights.h5, a TF "
    "checkpoint of model and optimizer); TFLite, TF.js and safetensors files never keep it."
)


def no_state_message(model: ModelWeights, weight: Weight) -> str:
    """Why ``weight`` has no optimizer state to show."""
    if not model.has_optimizer_state:
        return NO_STATE
    if not weight.trainable:
        return (
            f"{weight.name} is not trained by the optimizer (a statistic such as a moving mean), "
            "so it has no optimizer state."
        )
    return (
        f"The optimizer kept nothing for {weight.name}: the layer was frozen when the model was "
        "compiled, or this weight was added later."
    )


def render(
    base: str,
    model: ModelWeights,
    layer: LayerWeights,
    weight: Weight,
    ways: list[View],
    tools: Any,
) -> None:
    """The panel for ``weight`` (Keras's axes), drawn in one of the weight's own ``ways``;
    options go in ``tools``; ``base`` names the model, layer and weight for the caches."""
    if weight.optimizer is None:
        st.info(plain(no_state_message(model, weight)))
        return
    drawable = [v for v in ways if v != "value"] or ["histogram"]
    own = (layer.path, weight.name)
    view_key = model_key("opt_view")  # kept over Next, as the View is
    if st.session_state.get(view_key) not in drawable:
        st.session_state[view_key] = drawable[0]
    with tools:
        view: View = (
            st.segmented_control(
                "Draw as", drawable, key=view_key, required=True,
                format_func={"filters": "Filter grid", "heatmap": "Heatmap",
                             "histogram": "Histogram"}.__getitem__,
            )
            or drawable[0]
        )  # fmt: skip
    choices = figures.panel_choices(weight)
    arrays_key = model_key("opt_arrays")
    if st.session_state.get(arrays_key) not in choices:
        st.session_state[arrays_key] = choices[0]
    with tools:
        chosen = st.segmented_control(
            "Arrays",
            choices,
            key=arrays_key,
            required=True,
            format_func=lambda c: "gradient RMS · next step" if c == figures.DERIVED else f"{c}",
        )
    options = _options(layer, weight, view, tools)
    st.caption(plain(figures.summary(weight)))
    try:
        panels = _cached_panels(base, chosen or choices[0], weight)
    except KerascopeError as exc:
        st.error(error_line(f"Could not read the optimizer state of {plain(weight.name)}", exc))
        return
    if view == "filters":
        shown = panels[0].weight
        count = filter_count(shown.shape, layer.kind)
        pages = page_count(count, options["page_size"])
        page_key = model_key(PAGE_STATE, *own)
        options["page"] = views.pager(tools, pages, state=page_key, key=f"{page_key}-top")
    columns = st.columns(len(panels))
    options["width_hint"] = column_width(1 / len(panels), len(panels))
    for i, (column, panel) in enumerate(zip(columns, panels, strict=True)):
        with column:
            fig, record = _cached_figure(base, panel.title, view, tuple(sorted(options.items())),
                                         panel, layer)  # fmt: skip
            _show(fig, record, key=model_key(f"opt-{i}", *own), sequential=panel.nonnegative)
            st.caption(plain(f"{panel.title}: {panel.formula}."))
    if figures.DERIVED == chosen:
        _explain(panels)


def _options(layer: LayerWeights, weight: Weight, view: View, tools: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"page": 0, "page_size": 64, "channel_mode": "mean", "bins": 50}
    if view == "filters":
        with tools, st.popover("Display", icon=":material/tune:"):
            options["channel_mode"] = st.selectbox(
                "Input channels", ["mean", "channel"],
                key=model_key("opt_grid_mode", layer.path, weight.name),
                format_func={"mean": "mean over channels", "channel": "first channel"}.__getitem__,
            )  # fmt: skip
            options["page_size"] = st.selectbox("Filters per page", (16, 32, 64), index=1,
                                                key=model_key("opt_grid_page_size"))  # fmt: skip
    elif view == "histogram":
        with tools, st.popover("Bins", icon=":material/tune:"):
            options["bins"] = st.slider("Bins", 5, 200, 50, key=model_key("opt_hist_bins"))
    return options


def _show(fig: Any, record: Mosaic | Heatmap | None, *, key: str, sequential: bool) -> None:
    if isinstance(record, Mosaic):
        views.show_filters(fig, record, key=key)
    elif isinstance(record, Heatmap):
        views.show_heatmap(fig, record, key=key, sequential=sequential)
    else:
        views.show_histogram(fig, key=key)


def _explain(panels: list[figures.Panel]) -> None:
    titles = {p.title for p in panels}
    parts = []
    if "gradient RMS" in titles:
        parts.append(
            "Gradient RMS is how large this weight's gradients were, averaged by the optimizer "
            "over recent steps: 0 means no gradient ever reached it; a weight far above its "
            "peers had exploding gradients (the Health tab compares them)."
        )
    if "next step" in titles:
        parts.append(
            "The next step is the change the optimizer would make to each value from its state "
            "alone: where it is tiny next to the weight, training had settled there."
        )
    if parts:
        st.caption(" ".join(parts))


@st.cache_resource(max_entries=32, show_spinner=False)
def _cached_panels(base: str, chosen: str, _weight: Weight) -> list[figures.Panel]:
    if chosen == figures.DERIVED:
        return figures.derived_panels(_weight)
    return [figures.slot_panel(_weight, chosen)]


@st.cache_resource(max_entries=32, show_spinner=False)
def _cached_figure(
    base: str,
    title: str,
    view: View,
    options: tuple[tuple[str, Any], ...],
    _panel: figures.Panel,
    _layer: LayerWeights,
) -> tuple[Any, Mosaic | Heatmap | None]:
    return figures.panel_figure(_panel, _layer, view, **dict(options))


__all__ = ["NO_STATE", "no_state_message", "render"]
