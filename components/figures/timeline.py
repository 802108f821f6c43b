"""Figures of a run over time: a weight at one epoch on the run's colour scale, its change since
the snapshot before, histograms over time (TensorBoard's offset view), small multiples of L2,
std and update ratio, and the training logs.

Pure builders over ``extraction.analysis.timeline`` records; ``components.page.run_view`` puts
them on the page. Decided edge cases (each has a test):
- One colour scale for the run: a weight's view uses ``[-m, m]`` with ``m`` the largest finite
  ``|w|`` of any snapshot; the change uses the largest ``|W_t - W_(t-1)|`` of the run.
- The update ratio is drawn on a log axis with the usual reference: a dashed line at 1e-3 and a
  band from 1e-4 to 1e-2; undefined ratios (first snapshot, a zero norm before) are gaps.
- Histograms over time draw at most ``MAX_RIDGES`` snapshots (evenly chosen, the marked one
  and the first holding NaN/Inf always among them); each is scaled to its own peak, as
  TensorBoard's offset view does.
- NaN and Inf over time (``run_specials``): lines break at a snapshot holding them, with a
  marker in the heatmaps' colour for the kind; a ridge gets its NaN/Inf count beside it, and a
  snapshot with nothing finite only that count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kerascope.extraction.analysis.diagnostics import Finding
from kerascope.extraction.analysis.timeline import WeightTimeline
from kerascope.extraction.layouts import is_filter_bank, to_2d

from . import filters, heatmaps, run_specials
from .text import plotly_text

Array = np.ndarray[Any, Any]
METRICS = {
    "l2": "L2 norm",
    "std": "std",
    "update_ratio": "update ratio ||ΔW|| / ||W||",
    "grad_rms": "gradient RMS (optimizer state)",
}
"""The small multiples' metrics and their axis titles (``grad_rms`` only for runs whose
snapshots keep the optimizer's state)."""
LOG_METRICS = ("update_ratio", "grad_rms")
"""Metrics drawn on a log axis (they span orders of magnitude)."""
RATIO_REFERENCE = 1e-3
RATIO_BAND = (1e-4, 1e-2)
MAX_RIDGES = 40
MAX_PANELS = 48
MARKER = "#d62728"


def weight_figure(
    values: Array,
    *,
    kind: str,
    role: str,
    name: str,
    limit: float,
    title: str,
    subtitle: str,
    height: int = 420,
    width_hint: float = heatmaps.WIDTH_HINT,
) -> go.Figure:
    """A weight as its filter grid (conv kernels) or heatmap, on the colour range ``[-limit,
    limit]``; a 1-D weight is one row. ``values`` is not modified. A heatmap's labels fit
    ``width_hint``, the figure's width on the page."""
    if is_filter_bank(kind, role, np.ndim(values)):
        return filters.filter_grid_figure(
            values,
            kind=kind,
            scale="shared",
            page_size=64,
            zmax=limit,
            title=title,
            subtitle=subtitle,
            height=height,
        )
    matrix, rows, cols = to_2d(values, role, kind, name=name)
    return heatmaps.heatmap_figure(
        matrix,
        row_label=rows or "row",
        col_label=cols,
        limit=limit,
        title=title,
        subtitle=subtitle,
        height=height,
        width_hint=width_hint,
    )


def ridgeline_figure(
    line: WeightTimeline, steps: Sequence[int], labels: Sequence[str], marker: int
) -> go.Figure:
    """Histograms over time: one filled curve per snapshot, the oldest at the back (top).

    ``marker`` is the index of the snapshot shown now, drawn in red. A snapshot holding NaN/Inf
    gets its count right of its ridge, in the heatmaps' colour for it; one with nothing finite
    has no curve, only that label. The first such snapshot is always among those drawn.
    """
    n = len(line.points)
    bad = [i for i, p in enumerate(line.points) if p.nan_count or p.inf_count]
    chosen = _ridges(n, marker, bad[:1])
    fig = go.Figure()
    annotations: list[dict[str, Any]] = []
    for rank, i in enumerate(chosen):
        point = line.points[i]
        base = float(len(chosen) - 1 - rank)  # newest lowest, in front
        label = run_specials.ridge_label(point, base)
        if label is not None:
            annotations.append(label)
        if point.hist_range is None or not point.hist:
            continue
        counts = np.asarray(point.hist, dtype=np.float64)
        lo, hi = point.hist_range
        centres = np.linspace(lo, hi, len(counts) + 1)
        centres = (centres[:-1] + centres[1:]) / 2
        peak = counts.max() or 1.0
        y = base + 1.6 * counts / peak
        colour = MARKER if i == marker else _shade(i, n)
        fig.add_trace(
            go.Scatter(
                x=[lo, *centres, hi],
                y=[base, *y, base],
                mode="lines",
                fill="toself",
                fillcolor=_fill(colour),
                line={"color": colour, "width": 2 if i == marker else 1},
                name=plotly_text(labels[i]),
                hovertemplate=f"{plotly_text(labels[i])}<br>value %{{x:.4g}}<extra></extra>",
                showlegend=False,
            )
        )
    ticks = [float(len(chosen) - 1 - r) for r in range(len(chosen))]
    every = max(1, len(chosen) // 10)
    fig.update_yaxes(
        tickvals=ticks[::every],
        ticktext=[plotly_text(labels[i]) for i in chosen][::every],
        showgrid=False,
        title_text="",
    )
    fig.update_xaxes(title_text="value")
    subtitle = f"{len(chosen)} of {n} snapshots; each scaled to its own peak"
    if bad:
        subtitle += (
            f"; {len(bad)} hold NaN or Inf, from {plotly_text(labels[bad[0]])} (counts at the "
            "right: their finite values are drawn)"
        )
    fig.update_layout(
        title={
            "text": plotly_text(f"{line.key}: histograms over time"),
            "subtitle": {"text": subtitle},
        },
        annotations=annotations,
        height=max(320, min(700, 80 + 14 * len(chosen))),
        margin={"t": 80, "r": 170 if annotations else 20},
    )
    return fig


def _ridges(n: int, marker: int, also: Sequence[int] = ()) -> list[int]:
    """The snapshots a ridgeline draws: all, or ``MAX_RIDGES`` evenly spread plus ``marker``
    and ``also`` (the first snapshot holding NaN/Inf)."""
    if n <= MAX_RIDGES:
        return list(range(n))
    picked = {int(round(x)) for x in np.linspace(0, n - 1, MAX_RIDGES - 1 - len(also))}
    return sorted(picked | {marker, *also})


def _shade(i: int, n: int) -> str:
    """Old snapshots light, new ones dark (TensorBoard's orange ramp)."""
    t = i / max(1, n - 1)
    r, g, b = (int(255 - (255 - c) * (0.25 + 0.75 * t)) for c in (230, 85, 13))
    return f"rgb({r},{g},{b})"


def _fill(colour: str) -> str:
    if colour.startswith("#"):
        r, g, b = (int(colour[k : k + 2], 16) for k in (1, 3, 5))
        return f"rgba({r},{g},{b},0.35)"
    return colour.replace("rgb(", "rgba(").replace(")", ",0.35)")


def multiples_figure(
    lines: Sequence[WeightTimeline],
    steps: Sequence[int],
    metrics: Sequence[str],
    *,
    marker: int | None = None,
    step_title: str = "epoch",
) -> go.Figure:
    """Small multiples: a row per weight and a column per metric, or, for one metric, a grid of
    three columns; at most ``MAX_PANELS`` panels.

    Raises:
        ValueError: an unknown metric.
    """
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"unknown metric {m!r}; expected one of {', '.join(METRICS)}")
    panels = [(w, m) for w in lines for m in metrics][:MAX_PANELS]
    cols = len(metrics) if len(metrics) > 1 else max(1, min(3, len(panels)))
    rows = max(1, math.ceil(len(panels) / cols))
    titles = [plotly_text(f"{w.key} · {METRICS[m].split(' ||')[0]}") for w, m in panels]
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles or None,
        vertical_spacing=min(0.16, 0.9 / rows),
        horizontal_spacing=0.08,
    )
    x = list(steps)
    shapes: list[dict[str, Any]] = []
    axes: dict[str, Any] = {}
    labels: list[dict[str, Any]] = []
    for n, (w, metric) in enumerate(panels):
        r, c = n // cols + 1, n % cols + 1
        log = metric in LOG_METRICS
        broken = run_specials.broken_series(w, metric, log=log)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[math.nan if v is None else v for v in broken.y],
                mode="lines+markers",
                marker={"size": 4},
                line={"color": "#1f77b4", "width": 1.5},
                name=plotly_text(f"{w.key} {metric}"),
                showlegend=False,
                hovertemplate=f"{step_title} %{{x}}<br>%{{y:.4g}}<extra></extra>",
            ),
            row=r,
            col=c,
        )
        # Shapes are added in one go below: plotly's add_hline per subplot is slow.
        xa, ya = ("x", "y") if n == 0 else (f"x{n + 1}", f"y{n + 1}")
        if broken.marks:
            trace = run_specials.mark_trace(
                broken.marks, x, step_title=step_title, name=f"{w.key} {metric} NaN/Inf"
            )
            fig.add_trace(trace, row=r, col=c)
            first = broken.marks[0]
            labels.append(run_specials.first_label(first, x[first.index], xa, ya, log=log))
        if log:
            axes[f"yaxis{'' if n == 0 else n + 1}"] = {"type": "log"}
        if metric == "update_ratio":
            shapes.append(
                {
                    "type": "rect",
                    "xref": f"{xa} domain",
                    "yref": ya,
                    "x0": 0,
                    "x1": 1,
                    "y0": RATIO_BAND[0],
                    "y1": RATIO_BAND[1],
                    "fillcolor": "green",
                    "opacity": 0.08,
                    "line": {"width": 0},
                }
            )
            shapes.append(_line_shape(f"{xa} domain", ya, (0, 1), (RATIO_REFERENCE,) * 2, "green"))
        if marker is not None:
            shapes.append(_line_shape(xa, f"{ya} domain", (x[marker],) * 2, (0, 1), MARKER))
    fig.update_layout(shapes=shapes, **axes)
    fig.update_xaxes(title_text=step_title, row=rows)
    fig.update_annotations(font_size=11)
    for label in labels:  # after the titles' font: these keep their own size
        fig.add_annotation(label)
    fig.update_layout(height=60 + 230 * rows, margin={"t": 40, "b": 40}, showlegend=False)
    return fig


def health_figure(
    findings: Sequence[Mapping[str, Sequence[Finding]]],
    steps: Sequence[int],
    *,
    marker: int | None = None,
    step_title: str = "epoch",
) -> go.Figure:
    """Health over time: per snapshot, the layers' findings counted by severity (stacked)."""
    colours = {"error": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}
    fig = go.Figure()
    for severity, colour in colours.items():
        counts = [sum(f.severity == severity for fs in s.values() for f in fs) for s in findings]
        fig.add_trace(go.Bar(x=list(steps), y=counts, name=severity, marker_color=colour))
    if marker is not None:
        fig.add_vline(x=steps[marker], line={"color": "grey", "dash": "dot"})
    fig.update_xaxes(title_text=step_title)
    fig.update_yaxes(title_text="findings")
    fig.update_layout(
        barmode="stack",
        title={"text": "health over time", "subtitle": {"text": "findings of every layer"}},
        height=260,
        margin={"t": 70, "b": 10},
    )
    return fig


def _line_shape(
    xref: str, yref: str, xs: tuple[float, float], ys: tuple[float, float], colour: str
) -> dict[str, Any]:
    dash = "dot" if colour == MARKER else "dash"
    return {
        "type": "line",
        "xref": xref,
        "yref": yref,
        "x0": xs[0],
        "x1": xs[1],
        "y0": ys[0],
        "y1": ys[1],
        "line": {"color": colour, "width": 1, "dash": dash},
    }


def logs_figure(
    logs: Sequence[Mapping[str, float]],
    steps: Sequence[int],
    *,
    marker: int | None = None,
    step_title: str = "epoch",
) -> go.Figure | None:
    """The recorder's logs (loss, metrics) over the run; None when no snapshot has any."""
    keys = sorted({k for entry in logs for k in entry})
    if not keys:
        return None
    fig = go.Figure()
    for key in keys:
        fig.add_trace(
            go.Scatter(
                x=list(steps),
                y=[entry.get(key, math.nan) for entry in logs],
                mode="lines+markers",
                name=plotly_text(key),
                line={"dash": "dot" if key.startswith("val_") else "solid"},
            )
        )
    if marker is not None:
        fig.add_vline(x=steps[marker], line={"color": MARKER, "dash": "dot"})
    fig.update_xaxes(title_text=step_title)
    fig.update_layout(
        title={"text": "training logs"}, height=300, margin={"t": 50, "b": 10}, legend={"y": 1}
    )
    return fig


__all__ = [
    "METRICS",
    "health_figure",
    "RATIO_BAND",
    "RATIO_REFERENCE",
    "logs_figure",
    "multiples_figure",
    "ridgeline_figure",
    "weight_figure",
]
