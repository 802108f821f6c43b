"""Figures of the Compare panel: how far each layer moved between two models, and one weight's
difference beside both originals.

Builders are pure (tested); ``components.page.compare_view`` puts them on the page. The two
originals share one symmetric colour range, so equal colours mean equal values; the difference has
its own."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import plotly.graph_objects as go

from kerascope.extraction.analysis.compare import STATUS_TEXT, Comparison
from kerascope.extraction.layouts import is_filter_bank, to_2d

from . import filters, heatmaps
from .mosaic import filter_mosaic
from .text import plotly_text

Array = np.ndarray[Any, Any]
DiffMode = Literal["mean", "channel"]


def change_rows(comparison: Comparison) -> list[dict[str, str]]:
    """One row per weight: layer, weight, shapes, status, ``||W0||``, ``||dW||``, relative.

    Every cell is text, so a weight missing on one side reads ``—`` (a dash), never ``None``.
    """
    rows = []
    for c in comparison.changes:
        rows.append(
            {
                "layer": c.layer,
                "weight": c.weight,
                "status": STATUS_TEXT[c.status],
                "shape": str(c.shape_before or c.shape_after),
                "other shape": str(c.shape_after) if c.status == "shape_differs" else MISSING,
                "||W0||": _number_text(c.norm_before),
                "||W1 - W0||": _number_text(c.change),
                "relative change": _relative_text(c.relative),
            }
        )
    return rows


MISSING = "\u2014"
"""What a table cell says when there is nothing to compare (a dash, not ``None``)."""


def _number_text(value: float | None) -> str:
    return MISSING if value is None else f"{value:.4g}"


def _relative_text(value: float | None) -> str:
    """The relative change for people: ``inf`` is a weight that started all zero."""
    if value is None:
        return MISSING
    if math.isinf(value):
        return "from all zeros"
    if math.isnan(value):
        return "NaN in a weight"
    return f"{value:.4g}"


def change_bar_figure(comparison: Comparison, labels: tuple[str, str] | None = None) -> go.Figure:
    """A horizontal bar per layer: its pooled relative change. ``inf`` (from all zeros) and NaN
    get no bar, and their label says why."""
    first, second = labels or (comparison.before, comparison.after)
    pairs = comparison.layer_changes()
    names = [p for p, _ in pairs]
    values = [v if math.isfinite(v) else None for _, v in pairs]
    text = [_bar_text(v) for _, v in pairs]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=[plotly_text(n) for n in names],
            orientation="h",
            text=text,
            textposition="outside",
            hovertemplate="%{y}: ||W1 - W0|| / ||W0|| = %{x:.4g}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="relative change ||W1 - W0|| / ||W0||", rangemode="tozero")
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(
        title={
            "text": plotly_text(f"How far each layer moved: {first} -> {second}"),
            "subtitle": {"text": "0 = unchanged; 1 = the change is as large as the weight"},
        },
        height=int(np.clip(140 + 28 * len(names), 260, 900)),
        margin={"t": 80, "r": 60},
    )
    return fig


def _bar_text(value: float) -> str:
    if math.isnan(value):
        return "NaN/Inf inside"
    if math.isinf(value):
        return "moved from all zeros"
    return f"{value:.3g}"


def difference_figures(
    w0: Array,
    w1: Array,
    *,
    kind: str,
    role: str,
    name: str = "",
    channel_mode: DiffMode = "mean",
    titles: tuple[str, str] = ("before", "after"),
) -> tuple[go.Figure, go.Figure, go.Figure]:
    """Before, after and ``after - before`` of one weight, as filter grids or heatmaps.

    Conv kernels (and depthwise kernels) are filter grids, with input channels averaged
    (``mean``) or channel 0 (``channel``); anything else is its 2-D heatmap. Inputs are not
    modified.

    Raises:
        ValueError: the shapes differ.
    """
    a = np.asarray(w0, dtype=np.float64)
    b = np.asarray(w1, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot subtract shapes {a.shape} and {b.shape}")
    diff = b - a
    is_grid = is_filter_bank(kind, role, a.ndim)
    both = "one colour scale for both models"
    titles3 = (titles[0], titles[1], "difference (after - before)")
    if is_grid:
        mosaics = [
            filter_mosaic(v, kind=kind, channel_mode=channel_mode, scale="shared", title=t)
            for v, t in zip((a, b, diff), titles3, strict=True)
        ]
        # A shared-scale mosaic holds raw values clipped to its own limit, so raising the limit
        # to the larger of the two changes only the colour range, never the values.
        shared = max(mosaics[0].zmax, mosaics[1].zmax)
        grids = [replace(m, zmax=shared) for m in mosaics[:2]] + [mosaics[2]]
        subtitles = (both, both, "its own colour scale")
        before, after, change = (
            filters.mosaic_figure(m, subtitle=sub, height=380)
            for m, sub in zip(grids, subtitles, strict=True)
        )
        return before, after, change
    maps = []
    third = heatmaps.column_width(1 / 3, 3)  # the page shows the three side by side
    for values, title in zip((a, b, diff), titles3, strict=True):
        matrix, rows, cols = to_2d(values, role, kind, name=name)
        maps.append(
            heatmaps.heatmap_data(matrix, row_label=rows or "row", col_label=cols, title=title)
        )
    limit = max(maps[0].limit, maps[1].limit)
    return (
        heatmaps.heatmap_plot(replace(maps[0], limit=limit), subtitle=both, width_hint=third),
        heatmaps.heatmap_plot(replace(maps[1], limit=limit), subtitle=both, width_hint=third),
        heatmaps.heatmap_plot(maps[2], subtitle="its own colour scale", width_hint=third),
    )
