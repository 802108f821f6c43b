"""The model overview: one box per weighted layer, so a dead or exploding layer stands out.

Each box is drawn from precomputed statistics, so the browser gets five numbers per layer
whatever the model's size.

Decided edge cases (each has a test):
- A layer's values are its *trainable* weights taken together (kernel and bias, BatchNorm's
  gamma and beta; not its moving statistics); a layer with only non-trainable weights uses
  those. Layers without weights are not drawn.
- Quartiles come from all the finite values when a layer has at most ``max_points_per_layer``,
  else from a deterministic sample (a fixed seed) of that many; whiskers always reach the exact
  finite min and max (from ``Weight.stats()``), so one exploding weight is visible.
- ``scale="log_abs"`` draws ``|w|`` on a log axis; zeros have no logarithm and are left out
  (an all-zero layer then has no box, and its label says so).
- Labels flag what a user must see: ``(all zero)``, ``(NaN)``, ``(Inf)``.
- Given the health scan's worst severity per layer (``status``), a flagged layer's label ends
  with it (``(error)``) and a marker of its severity's colour sits at its upper whisker (at 0
  when the layer has no finite value), one legend entry per severity present.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import plotly.graph_objects as go

from extraction.records import LayerWeights, ModelWeights, Weight

from .health import SEVERITY_COLOURS
from .text import plotly_text

Array = np.ndarray[Any, Any]
OverviewScale = Literal["linear", "log_abs"]
SEED = 0


@dataclass(frozen=True)
class LayerBox:
    """The box of one layer."""

    label: str
    """The layer's path, with flags such as ``(all zero)``."""
    q1: float
    median: float
    q3: float
    low: float
    """Lower whisker: the smallest finite value (or smallest nonzero ``|w|``)."""
    high: float
    """Upper whisker: the largest finite value (or ``|w|``)."""
    mean: float
    count: int
    """Values the box describes (before sampling)."""


def _shown_weights(layer: LayerWeights) -> list[Weight]:
    return [w for w in layer.weights if w.trainable] or list(layer.weights)


def _sample(weights: list[Weight], max_points: int, rng: np.random.Generator) -> Array:
    total = sum(w.size for w in weights)
    parts = []
    for w in weights:
        flat = np.asarray(w.array()).reshape(-1)
        if total > max_points:
            take = max(1, round(max_points * w.size / total)) if w.size else 0
            flat = flat[rng.integers(0, w.size, size=take)] if take else flat[:0]
        parts.append(flat.astype(np.float64))
    values = np.concatenate(parts) if parts else np.zeros(0)
    return values[np.isfinite(values)]


def layer_box(
    layer: LayerWeights, max_points: int = 100_000, scale: OverviewScale = "linear"
) -> LayerBox:
    """The box statistics of one layer; NaN quartiles when there is nothing to draw."""
    weights = _shown_weights(layer)
    stats = [w.stats() for w in weights]
    values = _sample(weights, max_points, np.random.default_rng(SEED))
    lows = [s.min for s in stats if s.min is not None]
    highs = [s.max for s in stats if s.max is not None]
    flags = []
    if stats and all(s.zero_fraction == 1.0 for s in stats):
        flags.append("all zero")
    if any(s.nan_count for s in stats):
        flags.append("NaN")
    if any(s.inf_count for s in stats):
        flags.append("Inf")
    label = layer.path + "".join(f" ({f})" for f in flags)
    low, high = (min(lows), max(highs)) if lows else (np.nan, np.nan)
    if scale == "log_abs":
        values = np.abs(values[values != 0])
        high = max(abs(low), abs(high)) if lows else np.nan
        low = float(values.min()) if values.size else np.nan
    if values.size == 0:
        return LayerBox(label, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, 0)
    q1, median, q3 = (float(v) for v in np.quantile(values, [0.25, 0.5, 0.75]))
    return LayerBox(
        label,
        q1,
        median,
        q3,
        float(low),
        float(high),
        float(values.mean()),
        sum(w.size for w in weights),
    )


def overview_figure(
    model: ModelWeights,
    max_points_per_layer: int = 100_000,
    scale: OverviewScale = "linear",
    status: Mapping[str, str] | None = None,
) -> go.Figure:
    """One horizontal box per weighted layer, in model order from the top.

    Args:
        model: the opened model; every weighted layer's arrays are read.
        max_points_per_layer: values sampled per layer for the quartiles.
        scale: ``linear`` values, or ``log_abs`` for ``|w|`` on a log axis.
        status: the worst finding's severity per layer path; flagged layers are marked.
    """
    weighted = model.weighted_layers()
    boxes = [layer_box(layer, max_points_per_layer, scale) for layer in weighted]
    marks = status or {}
    boxes = [
        replace(b, label=f"{b.label} ({marks[layer.path]})") if layer.path in marks else b
        for b, layer in zip(boxes, weighted, strict=True)
    ]
    labels = [b.label for b in boxes]

    def column(field: str) -> list[float]:
        return [getattr(b, field) for b in boxes]

    fig = go.Figure(
        go.Box(
            y=[plotly_text(label) for label in labels],
            q1=column("q1"),
            median=column("median"),
            q3=column("q3"),
            lowerfence=column("low"),
            upperfence=column("high"),
            mean=column("mean"),
            orientation="h",
            boxpoints=False,
            boxmean=True,
            name="weights",
            showlegend=False,
        )
    )
    for severity, colour in SEVERITY_COLOURS.items():
        hit = [
            b for b, layer in zip(boxes, weighted, strict=True) if marks.get(layer.path) == severity
        ]
        if hit:
            fig.add_trace(
                go.Scatter(
                    x=[b.high if np.isfinite(b.high) else 0.0 for b in hit],
                    y=[b.label for b in hit],
                    mode="markers",
                    marker={"color": colour, "size": 12, "symbol": "diamond"},
                    name=f"{severity} finding",
                    hovertemplate="%{y}<extra></extra>",
                )
            )
    axis = "|w| (log scale, zeros left out)" if scale == "log_abs" else "weight value"
    fig.update_xaxes(title_text=axis, type="log" if scale == "log_abs" else "linear", zeroline=True)
    fig.update_yaxes(title_text="layer", type="category", autorange="reversed")
    fig.update_layout(
        title={
            "text": plotly_text(f"Weight distribution per layer: {model.name}"),
            "subtitle": {"text": "box: quartiles; whiskers: min and max; dashed: mean"},
        },
        height=int(np.clip(140 + 26 * len(boxes), 300, 2400)),
        margin={"t": 80},
    )
    return fig
