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
- Labels flag what a user must see: ``(all zero)``, ``(NaN)``, ``(Inf)``; a layer with a
  weight whose values cannot be read (``Weight.failure``) is labelled ``(unreadable)`` and
  gets no box, and the other layers are drawn as usual.
- Arrays larger than the sample are sampled in contiguous runs of ``_RUN`` values at seeded
  random places, so a memory-mapped array is touched in a few hundred places, not everywhere.
- ``normalize="layer"`` divides each box by its own largest ``|w|`` (every box then spans at
  most [-1, 1]); ``"kind"`` by the largest ``|w|`` of all shown layers of its kind, so
  BatchNorm's gamma near 1 no longer squashes the conv boxes, while layers of one kind stay
  comparable. A box whose largest ``|w|`` is 0 or not finite is left as it is.
- Each kind is its own trace (its own colour and legend entry; a click on the legend hides it).
- ``depth_figure``: for layers in stacks of numbered blocks (``model.layers.3.mlp.up_proj``,
  ``transformer_layer_3/self_attention/query``; see ``extraction.kinds.block_position``), one
  small panel per block member (``self_attn.q_proj``) with a statistic against the block index,
  from ``Weight.stats()`` only; members found in fewer than two blocks are not drawn.
- Given the health scan's worst severity per layer (``status``), a flagged layer's label ends
  with it (``(error)``) and a marker of its severity's colour sits at its upper whisker (at 0
  when the layer has no finite value), one legend entry per severity present.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kerascope.extraction.kinds import block_position
from kerascope.extraction.records import LayerWeights, ModelWeights, Weight

from .health import SEVERITY_COLOURS
from .text import plotly_text

Array = np.ndarray[Any, Any]
OverviewScale = Literal["linear", "log_abs"]
Normalize = Literal["none", "layer", "kind"]
DepthMeasure = Literal["std", "mean", "max_abs", "rms"]
SEED = 0
FLAGGED = ("error", "warning", "info")
"""The verdicts that mark a box (``ok`` and ``none`` do not)."""
_RUN = 256
"""Contiguous values per sampled run."""


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
            flat = _runs(flat, take, rng) if take else flat[:0]
        parts.append(flat.astype(np.float64))
        w.store.release(w.ref)  # the sample is a copy: a memory map's pages can go
    values = np.concatenate(parts) if parts else np.zeros(0)
    return values[np.isfinite(values)]


def _runs(flat: Array, take: int, rng: np.random.Generator) -> Array:
    """``take`` values in runs of ``_RUN`` at sorted random starts (fewer when ``flat`` is
    short), read front to back."""
    if take >= flat.size:
        return flat
    n_runs = max(1, math.ceil(take / _RUN))
    length = min(_RUN, take)
    starts = np.sort(rng.integers(0, flat.size - length + 1, size=n_runs))
    return np.concatenate([flat[s : s + length] for s in starts])[:take]


def layer_box(
    layer: LayerWeights, max_points: int = 100_000, scale: OverviewScale = "linear"
) -> LayerBox:
    """The box statistics of one layer; NaN quartiles when there is nothing to draw."""
    weights = _shown_weights(layer)
    read = [w.readable_stats() for w in weights]
    stats = [s for s in read if s is not None]
    if len(stats) < len(read):
        return LayerBox(f"{layer.path} (unreadable)", *(np.nan,) * 6, 0)
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
    *,
    layers: Sequence[LayerWeights] | None = None,
    normalize: Normalize = "none",
    status: Mapping[str, str] | None = None,
) -> go.Figure:
    """One horizontal box per weighted layer, in model order from the top.

    Args:
        model: the opened model; every shown layer's arrays are read.
        max_points_per_layer: values sampled per layer for the quartiles.
        scale: ``linear`` values, or ``log_abs`` for ``|w|`` on a log axis.
        layers: the layers to draw (a filter or a group); all weighted layers by default.
        normalize: ``none``, or divide by the largest ``|w|`` per ``layer`` or per ``kind``.
        status: the worst finding's severity per layer path; flagged layers are marked.
    """
    shown = [la for la in (layers if layers is not None else model.layers) if la.weights]
    boxes = [layer_box(layer, max_points_per_layer, scale) for layer in shown]
    marks = [(status or {}).get(la.path) for la in shown]
    return box_figure(
        boxes,
        [la.kind for la in shown],
        title=model.name,
        scale=scale,
        normalize=normalize,
        marks=marks,
    )


def normalized(
    boxes: Sequence[LayerBox], kinds: Sequence[str], normalize: Normalize
) -> tuple[list[LayerBox], list[float]]:
    """The boxes divided per ``normalize``, and the divisor of each (1.0 when unchanged)."""
    reach = [max(abs(b.low), abs(b.high)) for b in boxes]
    if normalize == "kind":
        by_kind: dict[str, float] = {}
        for r, k in zip(reach, kinds, strict=True):
            if math.isfinite(r):
                by_kind[k] = max(by_kind.get(k, 0.0), r)
        reach = [by_kind.get(k, math.nan) for k in kinds]
    if normalize == "none":
        return list(boxes), [1.0] * len(boxes)
    factors = [r if math.isfinite(r) and r > 0 else 1.0 for r in reach]
    out = [
        replace(
            b,
            **{f: getattr(b, f) / d for f in ("q1", "median", "q3", "low", "high", "mean")},
        )
        for b, d in zip(boxes, factors, strict=True)
    ]
    return out, factors


def box_figure(
    boxes: Sequence[LayerBox],
    kinds: Sequence[str],
    *,
    title: str,
    scale: OverviewScale = "linear",
    normalize: Normalize = "none",
    marks: Sequence[str | None] | None = None,
) -> go.Figure:
    """The overview from boxes already computed (the page keeps them per layer, so a partial
    overview grows while statistics are still being computed); one trace per kind. ``marks``
    gives each box's verdict (or None): a severity ends its label and puts a marker of the
    severity's colour at its upper whisker."""
    # Only a finding marks a box: ``ok`` and ``none`` verdicts leave it as it is.
    severities = [m if m in FLAGGED else None for m in (marks or [None] * len(boxes))]
    boxes = [
        replace(b, label=f"{b.label} ({m})") if m else b
        for b, m in zip(boxes, severities, strict=True)
    ]
    shown, factors = normalized(boxes, kinds, normalize)
    fig = go.Figure()
    order = list(dict.fromkeys(kinds))
    for kind in order:
        idx = [i for i, k in enumerate(kinds) if k == kind]

        def column(field: str, idx: list[int] = idx) -> list[float]:
            return [getattr(shown[i], field) for i in idx]

        fig.add_trace(
            go.Box(
                y=[plotly_text(label) for label in column("label")],
                q1=column("q1"),
                median=column("median"),
                q3=column("q3"),
                lowerfence=column("low"),
                upperfence=column("high"),
                mean=column("mean"),
                orientation="h",
                boxpoints=False,
                boxmean=True,
                name=kind,
                showlegend=len(order) > 1,
                customdata=[[factors[i], boxes[i].count] for i in idx],
                hovertemplate="%{y}<br>divided by %{customdata[0]:.4g}<br>"
                "%{customdata[1]:,} values<extra>%{fullData.name}</extra>"
                if normalize != "none"
                else None,
            )
        )
    for severity in FLAGGED:
        colour = SEVERITY_COLOURS[severity]
        hit = [b for b, m in zip(shown, severities, strict=True) if m == severity]
        if hit:
            fig.add_trace(
                go.Scatter(
                    x=[b.high if np.isfinite(b.high) else 0.0 for b in hit],
                    y=[plotly_text(b.label) for b in hit],
                    mode="markers",
                    marker={"color": colour, "size": 12, "symbol": "diamond"},
                    name=f"{severity} finding",
                    hovertemplate="%{y}<extra></extra>",
                )
            )
    axis = "|w| (log scale, zeros left out)" if scale == "log_abs" else "weight value"
    if normalize != "none":
        axis += f" / largest |w| of its {'layer' if normalize == 'layer' else 'kind'}"
    fig.update_xaxes(title_text=axis, type="log" if scale == "log_abs" else "linear", zeroline=True)
    labels = [plotly_text(b.label) for b in shown]
    fig.update_yaxes(
        title_text="layer",
        type="category",
        autorange="reversed",
        categoryorder="array",
        categoryarray=labels,
    )
    fig.update_layout(
        title={
            "text": plotly_text(f"Weight distribution per layer: {title}"),
            "subtitle": {"text": "box: quartiles; whiskers: min and max; dashed: mean"},
        },
        height=int(np.clip(140 + 26 * len(boxes), 300, 2400)),
        margin={"t": 80},
        boxmode="overlay",
        legend={"title": {"text": "kind (click to hide)"}},
    )
    return fig


@dataclass(frozen=True)
class DepthSeries:
    """One block member's statistic against the block index."""

    stack: str
    """The stack of blocks (``model.layers``)."""
    member: str
    """The layer within each block (``mlp.up_proj``), with its weight when not the only one."""
    blocks: tuple[int, ...]
    values: tuple[float, ...]


def depth_series(model: ModelWeights, measure: DepthMeasure = "std") -> list[DepthSeries]:
    """Every block member's ``measure`` by block, from ``Weight.stats()`` (computed if needed).

    ``rms`` is ``l2 / sqrt(size)``; ``max_abs`` the larger of ``|min|`` and ``|max|``.
    """
    found: dict[tuple[str, str], dict[int, float]] = {}
    for layer in model.layers:
        position = block_position(layer.path)
        if position is None:
            continue
        stack, index, member = position
        several = len(layer.weights) > 1
        for weight in layer.weights:
            name = f"{member} {weight.name}" if several else member
            if weight.readable_stats() is not None:  # an unreadable one is left out
                found.setdefault((stack, name), {})[index] = _measure(weight, measure)
    return [
        DepthSeries(stack, member, tuple(sorted(v)), tuple(v[i] for i in sorted(v)))
        for (stack, member), v in found.items()
        if len(v) >= 2
    ]


def _measure(weight: Weight, measure: DepthMeasure) -> float:
    s = weight.stats()
    if measure == "rms":
        return s.l2 / math.sqrt(s.size) if s.l2 is not None and s.size else math.nan
    if measure == "max_abs":
        return max(abs(s.min), abs(s.max)) if s.min is not None and s.max is not None else math.nan
    value = s.std if measure == "std" else s.mean
    return math.nan if value is None else value


def depth_figure(series: Sequence[DepthSeries], measure: DepthMeasure = "std") -> go.Figure:
    """Small multiples: one panel per block member, ``measure`` against the block index."""
    cols = min(3, max(1, len(series)))
    rows = max(1, math.ceil(len(series) / cols))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[plotly_text(s.member) for s in series] or [""],
        horizontal_spacing=0.08,
        vertical_spacing=min(0.12, 0.6 / rows),
    )
    for i, s in enumerate(series):
        fig.add_trace(
            go.Scatter(
                x=list(s.blocks),
                y=list(s.values),
                mode="lines+markers",
                name=plotly_text(s.member),
                showlegend=False,
                hovertemplate=f"{plotly_text(s.stack)} %{{x}} / {plotly_text(s.member)}<br>"
                f"{measure} %{{y:.4g}}"
                "<extra></extra>",
            ),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    fig.update_xaxes(title_text="block", dtick=max(1, len(series[0].blocks) // 8) if series else 1)
    fig.update_layout(
        title={
            "text": f"{measure} by depth",
            "subtitle": {"text": "one panel per repeated layer; x = its block's number"},
        },
        height=int(np.clip(120 + 220 * rows, 300, 3000)),
        margin={"t": 90},
    )
    return fig
