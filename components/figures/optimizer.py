"""The Optimizer view's records and figures: a weight's gradient RMS and next step (or any of
its optimizer's slots), drawn as the weight itself is drawn (filter grid, heatmap, histogram)
on the same axes.

Each panel is a ``Weight`` of its own, bound to an in-memory store and carrying the weight's
role and shape, so the builders that draw weights draw it unchanged. Pure: no Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from kerascope.extraction.analysis.optimizer import Derived, gradient_rms, next_step
from kerascope.extraction.optimizers import setting
from kerascope.extraction.readers.store import ArrayStore
from kerascope.extraction.records import LayerWeights, Weight

from . import filters, heatmaps, histograms
from .mosaic import ChannelMode, Mosaic, filter_mosaic
from .weight_views import View, heatmap_args

DERIVED = "derived"
"""The panels' key for gradient RMS and next step together (the others are slot names)."""


@dataclass(frozen=True)
class Panel:
    """One array of a weight's optimizer state, ready to draw like the weight."""

    title: str
    """What it is: ``gradient RMS``, ``next step``, ``slot v``."""
    formula: str
    """How it was computed (shown under the figure)."""
    weight: Weight
    """The values as a weight of the same role and shape (Keras's axes)."""
    nonnegative: bool
    """Whether every value is >= 0 (drawn on a sequential scale)."""


def derived_panels(weight: Weight) -> list[Panel]:
    """The gradient RMS and the next step of ``weight`` (those its optimizer's state gives)."""
    out = []
    for derived, nonnegative in ((gradient_rms(weight), True), (next_step(weight), False)):
        if derived is not None:
            out.append(_panel(weight, derived, nonnegative))
    return out


def slot_panel(weight: Weight, slot: str) -> Panel:
    """One slot of ``weight``'s optimizer state as it is stored (Keras's axes)."""
    values = np.asarray(weight.optimizer_slot(slot).keras_axes().array(), dtype=np.float64)
    finite = values[np.isfinite(values)]
    derived = Derived(values, f"slot {slot}", f"{slot} as the optimizer kept it")
    return _panel(weight, derived, bool(finite.size and finite.min() >= 0))


def _panel(weight: Weight, derived: Derived, nonnegative: bool) -> Panel:
    store = ArrayStore()
    values = derived.values.astype(np.float32)
    name = f"{weight.name} · {derived.title}"
    shown = store.weight(name, values, role=weight.role, trainable=weight.trainable)
    return Panel(derived.title, derived.formula, shown, nonnegative)


def panel_choices(weight: Weight) -> list[str]:
    """What the view can draw for ``weight``: ``DERIVED`` (when its optimizer's state gives a
    gradient RMS or a next step), then each slot by name."""
    if weight.optimizer is None:
        return []
    slots = [s.name for s in weight.optimizer.slots]
    return ([DERIVED] if derived_panels(weight) else []) + slots


def summary(weight: Weight) -> str:
    """One line on the optimizer: class, steps, learning rate and the other settings used."""
    state = weight.optimizer
    if state is None:
        return ""
    hyper = dict(state.hyper)
    parts = [state.class_name if state.class_name != "unknown" else "an unnamed optimizer"]
    if state.iterations is not None:
        parts.append(f"{state.iterations:,} steps")
    for key in ("learning_rate", "epsilon", "beta_1", "beta_2", "momentum", "rho"):
        value = setting(state.class_name, hyper, key)
        if value is not None:
            saved = "" if key in hyper else " (Keras's default)"
            parts.append(f"{key} {value:.3g}{saved}")
    return " · ".join(parts)


def panel_figure(
    panel: Panel,
    layer: LayerWeights,
    view: View,
    *,
    page: int = 0,
    page_size: int = 64,
    channel_mode: ChannelMode = "mean",
    bins: int = histograms.DEFAULT_BINS,
    width_hint: float = 420,
) -> tuple[go.Figure, Mosaic | heatmaps.Heatmap | None]:
    """The figure of ``panel`` as ``view`` draws the weight, and its record (the mosaic or the
    heatmap; None for a histogram). ``width_hint``: the figure's width on the page, pixels."""
    weight, title = panel.weight, f"{layer.path} / {panel.weight.name}"
    values = weight.array()
    if view == "filters":
        kind = layer.kind
        channels = values.shape[-2] if values.ndim >= 3 else 1
        mode: ChannelMode = channel_mode if channels > 1 else "channel"
        mosaic = filter_mosaic(
            values, kind=kind, channel_mode=mode, page=page, page_size=page_size, title=title,
            aspect=1.3,
        )  # fmt: skip
        fig = filters.mosaic_figure(
            mosaic,
            sequential=panel.nonnegative,
            value_name=_short(panel),
            width_hint=int(width_hint),
        )
        return fig, mosaic
    if view == "heatmap":
        matrix, kwargs = heatmap_args(layer, weight)
        heat = heatmaps.heatmap_data(matrix, **{**kwargs, "title": title})
        fig = heatmaps.heatmap_plot(
            heat, sequential=panel.nonnegative, width_hint=width_hint, value_name=_short(panel)
        )
        return fig, heat
    fig = histograms.histogram_figure(np.asarray(values).reshape(-1), bins=bins, title=title)
    return fig, None


def _short(panel: Panel) -> str:
    return {"gradient RMS": "rms", "next step": "step"}.get(panel.title, "value")


__all__ = [
    "DERIVED",
    "Panel",
    "derived_panels",
    "panel_choices",
    "panel_figure",
    "slot_panel",
    "summary",
]
