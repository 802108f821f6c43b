"""NaN and Inf over a run: which snapshots of a weight hold them, where its lines break, and the
markers and labels that say so in the heatmaps' colours (``specials.COLOURS``).

Pure data and plotly pieces for ``timeline`` (small multiples, histograms over time). Decided
(each has a test):
- A snapshot whose weight holds any NaN or Inf breaks the weight's lines there (no segment
  joins through it), and gets a marker of the worst kind it holds (NaN over +Inf over -Inf, as
  in the heatmaps). The update ratio also breaks after such a snapshot: a change measured from
  NaN says nothing (it read as a drop to the floor, "stopped learning").
- The marker sits at the metric's value over the finite values when there is one (drawable: > 0
  on a log axis); else at the level where the line ended, so the eye follows the line to it;
  else (nothing finite in the whole run) at 0, or 1 on a log axis.
- The first marker of a panel is labelled with its kind, where the line ends.
- The timeline records count Inf without its sign: an Inf is drawn as +Inf, and hover says
  "Inf".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from kerascope.extraction.analysis.timeline import WeightPoint, WeightTimeline

from .specials import CODES, COLOURS, SpecialCounts
from .text import plotly_text

INK = {"NaN": "#111111", "+Inf": "#ffffff", "-Inf": "#ffffff"}
"""Text colour on each special colour (yellow takes dark text)."""


def point_counts(point: WeightPoint) -> SpecialCounts:
    """NaN and Inf of one weight in one snapshot (Inf without its sign: as +Inf)."""
    return SpecialCounts(point.nan_count, point.inf_count, 0)


def worst(counts: SpecialCounts) -> str | None:
    """The kind a marker shows: NaN over +Inf over -Inf; None when every value is finite."""
    present = counts.by_name()
    return max(present, key=CODES.__getitem__) if present else None


def count_text(counts: SpecialCounts) -> str:
    """``3 NaN, 1 Inf``."""
    parts = [f"{counts.nan:,} NaN"] if counts.nan else []
    if counts.posinf or counts.neginf:
        parts.append(f"{counts.posinf + counts.neginf:,} Inf")
    return ", ".join(parts)


@dataclass(frozen=True)
class Mark:
    """A snapshot where a metric's line breaks for NaN/Inf."""

    index: int
    """The snapshot, an index into the run."""
    y: float
    """Where the marker sits (see the module docstring)."""
    kind: str
    """``NaN``, ``+Inf`` or ``-Inf``: its colour."""
    text: str
    """Hover text: the counts, and what the value at the marker is."""


@dataclass(frozen=True)
class BrokenSeries:
    """A metric over the run, broken where the weight holds NaN/Inf."""

    y: list[float | None]
    """The line: None where it breaks (and where the metric is undefined)."""
    marks: list[Mark]


def broken_series(line: WeightTimeline, metric: str, *, log: bool) -> BrokenSeries:
    """``line``'s ``metric`` per snapshot, broken and marked at NaN/Inf snapshots."""
    values = line.series(metric)
    counts = [point_counts(p) for p in line.points]
    y: list[float | None] = []
    bad: list[int] = []
    for i, value in enumerate(values):
        after = metric == "update_ratio" and i > 0 and counts[i - 1].total > 0
        hit = counts[i].total > 0 or after
        drawable = value is not None and (value > 0 or not log)
        if hit:
            bad.append(i)
        y.append(value if drawable and not hit else None)
    marks: list[Mark] = []
    for i in bad:
        value = values[i]
        if value is not None and (value > 0 or not log):
            level, note = value, f"over the finite values: {value:.4g}"
        else:
            level, note = _level(y, i, log), "no value: the line ends here"
        kind = worst(counts[i]) or worst(counts[i - 1]) or "NaN"
        what = count_text(counts[i]) or f"{count_text(counts[i - 1])} in the snapshot before"
        marks.append(Mark(i, level, kind, f"{what}<br>{note}"))
    return BrokenSeries(y, marks)


def _level(y: Sequence[float | None], i: int, log: bool) -> float:
    """The last drawn value before ``i``, else the first after, else 0 (1 on a log axis)."""
    for value in reversed(y[:i]):
        if value is not None:
            return value
    for value in y[i + 1 :]:
        if value is not None:
            return value
    return 1.0 if log else 0.0


def mark_trace(
    marks: Sequence[Mark], x: Sequence[float], *, step_title: str, name: str
) -> go.Scatter:
    """The markers of one panel: a diamond per broken snapshot in its kind's colour."""
    return go.Scatter(
        x=[x[m.index] for m in marks],
        y=[m.y for m in marks],
        mode="markers",
        marker={
            "symbol": "diamond",
            "size": 9,
            "color": [COLOURS[m.kind] for m in marks],
            "line": {"color": "#444444", "width": 1},
        },
        text=[m.text for m in marks],
        name=plotly_text(name),
        showlegend=False,
        hovertemplate=f"{step_title} %{{x}}<br>%{{text}}<extra></extra>",
    )


def first_label(mark: Mark, x: float, xref: str, yref: str, *, log: bool) -> dict[str, Any]:
    """An annotation naming the kind at a panel's first marker (``NaN from here``)."""
    kind = "Inf" if mark.kind != "NaN" else "NaN"
    return {
        "x": x,
        "y": math.log10(mark.y) if log and mark.y > 0 else mark.y,
        "xref": xref,
        "yref": yref,
        "text": f"{kind} from here",
        "showarrow": True,
        "arrowhead": 0,
        "ax": -28,
        "ay": -22,
        "font": {"size": 10, "color": INK[mark.kind]},
        "bgcolor": COLOURS[mark.kind],
        "bordercolor": "#444444",
    }


def ridge_label(point: WeightPoint, y: float) -> dict[str, Any] | None:
    """An annotation right of a ridge: the snapshot's NaN/Inf count, and that nothing finite was
    left to draw when so; None when every value is finite."""
    counts = point_counts(point)
    kind = worst(counts)
    if kind is None:
        return None
    text = count_text(counts) + (" (nothing finite to draw)" if point.hist_range is None else "")
    return {
        "x": 1.0,
        "y": y,
        "xref": "paper",
        "yref": "y",
        "xanchor": "left",
        "yanchor": "bottom",
        "showarrow": False,
        "text": text,
        "font": {"size": 10, "color": INK[kind]},
        "bgcolor": COLOURS[kind],
        "bordercolor": "#444444",
    }


__all__ = [
    "BrokenSeries",
    "Mark",
    "broken_series",
    "count_text",
    "first_label",
    "mark_trace",
    "point_counts",
    "ridge_label",
    "worst",
]
