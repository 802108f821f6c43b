"""Figures of quantization debugging: which layers an export (TFLite, TF.js) damaged most, and
how the error spreads over one weight's channels.

Pure builders over ``extraction.analysis.quantization.QuantizationReport``; the page module
``components.page.quantization_view`` shows them. The difference heatmap of one layer reuses
``compare.difference_figures``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go

from kerascope.extraction.analysis.quantization import QuantizationReport, WeightError


def error_rows(report: QuantizationReport) -> list[dict[str, Any]]:
    """One row per matched weight, largest relative error first."""
    rows = []
    for e in report.ranked():
        worst = max(e.per_channel, default=None, key=_sortable) if e.per_channel else None
        rows.append(
            {
                "layer": e.layer,
                "weight": e.weight,
                "in the export": f"{e.other_layer} / {e.other_weight}",
                "matched by": e.matched_by,
                "stored as": e.stored_dtype,
                "relative L2": _text(e.relative),
                "max |error|": e.max_abs,
                "worst channel (relative L2)": _text(worst) if worst is not None else "",
            }
        )
    return rows


def _sortable(value: float) -> float:
    return -math.inf if math.isnan(value) else value


def _text(value: float) -> str:
    if math.isnan(value):
        return "NaN/Inf in a weight"
    if math.isinf(value):
        return "reference all zeros"
    return f"{value:.4g}"


def layer_error_figure(report: QuantizationReport) -> go.Figure:
    """A horizontal bar per layer, largest pooled relative L2 error on top."""
    pairs = report.layer_errors()
    names = [p for p, _ in pairs]
    values = [v if math.isfinite(v) else None for _, v in pairs]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            text=[_text(v) for _, v in pairs],
            textposition="outside",
            hovertemplate="%{y}: ||Q - W|| / ||W|| = %{x:.4g}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="relative L2 error ||Q - W|| / ||W||", rangemode="tozero")
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(
        title={
            "text": f"What the export lost, layer by layer: {report.reference} -> {report.other}",
            "subtitle": {"text": "Q: the export's dequantized weights; W: the float model's"},
        },
        height=int(np.clip(140 + 28 * len(names), 260, 900)),
        margin={"t": 80, "r": 60},
    )
    return fig


def channel_error_figure(error: WeightError) -> go.Figure | None:
    """A bar per output channel (relative L2), for weights with per-channel scales; else None."""
    if not error.per_channel:
        return None
    values = [v if math.isfinite(v) else None for v in error.per_channel]
    fig = go.Figure(
        go.Bar(
            x=list(range(len(values))),
            y=values,
            hovertemplate="channel %{x}: %{y:.4g}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="channel (the export's quantized axis)")
    fig.update_yaxes(title_text="relative L2 error", rangemode="tozero")
    fig.update_layout(
        title={"text": f"{error.layer} / {error.weight}: error per channel"}, height=300
    )
    return fig
