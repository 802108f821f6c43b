"""The weight heatmap: any 2-D weight (Dense, Embedding, RNN, pointwise, attention) as colours.

A matrix larger than the display budget is block-reduced first
(``extraction.analysis.reduce``), and the figure says how many weights one cell stands for.
Colours are diverging and centred on 0 with a symmetric range ``[-m, m]``, ``m`` the largest
finite ``|value|`` of the cells shown.

Decided edge cases (each has a test):
- NaN and +-Inf are never mistaken for values: ``Heatmap.special`` marks every cell whose
  block holds one (``specials.CODES``; NaN wins over +Inf over -Inf), the figures paint those
  cells in their own colours with a legend entry, and ``counts`` (the whole matrix's) ends the
  note and so the subtitle and caption. Under them, +-Inf are clipped to ``+-m`` for colour.
- An all-zero or all-NaN matrix uses ``m = 1`` (a blank, white map rather than an error).
- An empty matrix gives a figure without cells whose title says so.
- The hover of a cell names the original index ranges it pools (``input unit 0-48``).
- The browser never gets more than ``MAX_CELLS`` cells, whatever ``max_cells`` asks: z is
  float32, binary-encoded by plotly, so 250k cells are about 1.3 MB of JSON.
- Zoom: a ``window`` (rows ``[r0, r1)``, columns ``[c0, c1)`` of the full matrix) reduces only
  that region, read from the array as a slice (a memory map reads only those bytes); labels and
  hovers keep the full matrix's indices. A window that fits the cell budget shows one weight per
  cell, and its hover gives the value to 7 significant digits (float32 exactly enough; bfloat16
  exactly). Gate lines outside the window are dropped, and gate names with them. A window that
  is empty or leaves the matrix is a ValueError.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go

from kerascope.extraction.analysis.reduce import Reduced, ReduceMode, reduce_blocks

from .filters import SEQUENTIAL
from .specials import (
    SpecialCounts,
    draw_specials_png,
    legend_traces,
    overlay_traces,
    special_codes,
    special_counts,
)
from .text import mpl_text, plotly_text
from .ticks import fitted_ticks, text_width

Array = np.ndarray[Any, Any]
COLORSCALE = "RdBu_r"  # negative blue, zero white, positive red
MAX_CELLS = 250_000
WIDTH_HINT = 820
"""Pixels a heatmap gets on the page by default: the main area at 1280 wide, sidebar open."""
COLUMN_GAP = 16
"""Pixels between two of the page's columns."""
COLORBAR_ROOM = 110
"""Pixels right of the cells: the colour bar, its ticks and title."""
LEFT_ROOM = 45
"""Pixels left of the cells besides the widest row label: the axis title and tick marks."""
MARGIN_TOP = 90
MARGIN_BOTTOM = 80
"""Pixels above (title and subtitle) and below (column labels and axis title) the cells."""


def reduce_matrix(
    matrix: Array, reduce_mode: ReduceMode = "mean", max_cells: tuple[int, int] = (300, 300)
) -> Reduced:
    """``matrix`` pooled to at most ``max_cells`` and never more than ``MAX_CELLS`` cells."""
    rows, cols = max(1, max_cells[0]), max(1, max_cells[1])
    if rows * cols > MAX_CELLS:
        shrink = math.sqrt(rows * cols / MAX_CELLS)
        rows, cols = max(1, int(rows / shrink)), max(1, int(cols / shrink))
    return reduce_blocks(matrix, rows, cols, reduce_mode)


def caption(reduced: Reduced) -> str:
    """``25088 x 4096 weights; 1 cell = 84 x 14 weights (mean)``."""
    rows, cols = reduced.shape
    return f"{rows} x {cols} weights; {reduced.describe()}"


def _range_labels(n: int, span: Any, offset: int = 0) -> list[str]:
    labels = []
    for i in range(n):
        start, stop = (v + offset for v in span(i))
        labels.append(str(start) if stop - start == 1 else f"{start}-{stop - 1}")
    return labels


def _bar_title(reduced: Reduced, value_name: str = "w") -> str:
    if not reduced.is_reduced:
        return value_name
    return f"max-abs {value_name}" if reduced.mode == "max_abs" else f"mean {value_name}"


def color_limit(values: Array) -> float:
    """The symmetric colour limit ``m`` of ``values``: the largest finite ``|value|`` (1.0 when
    there is none or all are 0, so an all-zero map is white rather than undefined)."""
    finite = np.asarray(values)[np.isfinite(values)]
    return float(np.max(np.abs(finite), initial=0.0)) or 1.0


@dataclass(frozen=True)
class Heatmap:
    """A 2-D weight ready to draw: both the plotly figure and the PNG are drawn from it."""

    reduced: Reduced
    """The block-reduced cells and how they map to the original rows and columns."""
    limit: float
    """The colour range is ``[-limit, limit]``; values beyond are clipped for colour only."""
    row_label: str
    """What a row is (``input unit``)."""
    col_label: str
    """What a column is (``output unit``, ``gate x unit``)."""
    gate_boundaries: tuple[int, ...]
    """Original column indices where a new gate starts; empty without gates."""
    gate_names: tuple[str, ...]
    """One name per gate, or empty."""
    title: str
    """What is shown (file-derived text: drawn as text)."""
    origin: tuple[int, int] = (0, 0)
    """Row and column, in the full matrix, of the first weight shown (not 0 when zoomed)."""
    full_shape: tuple[int, int] | None = None
    """The full matrix's shape when a window of it is shown; None when all of it is."""
    special: Array = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int8))
    """Cells of ``reduced.values``' shape: ``specials.CODES`` where the block holds NaN/+-Inf."""
    counts: SpecialCounts = SpecialCounts(0, 0, 0)
    """NaN, +Inf and -Inf values in the whole matrix."""

    @property
    def note(self) -> str:
        """How to read the cells: the reduction caption, or what an empty matrix is."""
        rows, cols = self.reduced.shape
        if self.reduced.values.size == 0:
            return f"empty matrix ({rows} x {cols})"
        specials = f"; {self.counts.caption()} in their own colours" if self.counts.total else ""
        if self.full_shape is None:
            return caption(self.reduced) + specials
        (r0, c0), (fr, fc) = self.origin, self.full_shape
        return (
            f"rows {r0}-{r0 + rows - 1}, columns {c0}-{c0 + cols - 1} of {fr} x {fc} weights; "
            f"{self.reduced.describe()}{specials}"
        )


def heatmap_data(
    matrix: Array,
    *,
    reduce_mode: ReduceMode = "mean",
    max_cells: tuple[int, int] = (300, 300),
    row_label: str = "input unit",
    col_label: str = "output unit",
    gate_boundaries: Sequence[int] | None = None,
    gate_names: Sequence[str] | None = None,
    title: str = "",
    limit: float | None = None,
    window: tuple[int, int, int, int] | None = None,
) -> Heatmap:
    """Reduce a 2-D weight for display and decide its colour range; ``matrix`` is not modified.

    Args:
        matrix: the 2-D weight (see ``extraction.layouts.to_2d``).
        reduce_mode: how a block of weights becomes one cell: ``mean`` or ``max_abs``.
        max_cells: at most this many (rows, columns) of cells.
        row_label, col_label: the axis titles.
        gate_boundaries: original column indices where a new gate starts
            (``extraction.layouts.rnn_gates``).
        gate_names: one name per gate (one more than boundaries), written above the map.
        title: the figure's title; the reduction note becomes its subtitle.
        limit: the colour limit, when several maps must share one scale; by default the
            largest finite ``|cell|`` of this map.
        window: ``(r0, r1, c0, c1)``: show only rows ``[r0, r1)`` and columns ``[c0, c1)``.

    Raises:
        ValueError: ``matrix`` is not 2-D, ``reduce_mode`` is unknown, or ``window`` is empty
            or leaves the matrix.
    """
    bounds = tuple(int(b) for b in gate_boundaries or ())
    names = tuple(gate_names or ())
    origin, full = (0, 0), None
    if window is not None:
        array = np.asarray(matrix)
        r0, r1, c0, c1 = (int(v) for v in window)
        rows, cols = array.shape if array.ndim == 2 else (0, 0)
        if array.ndim != 2 or not (0 <= r0 < r1 <= rows and 0 <= c0 < c1 <= cols):
            raise ValueError(
                f"window rows {r0}-{r1}, columns {c0}-{c1} is empty or outside the "
                f"{rows} x {cols} matrix; expected 0 <= r0 < r1 <= rows, 0 <= c0 < c1 <= cols"
            )
        if (r0, r1, c0, c1) != (0, rows, 0, cols):
            matrix, origin, full = array[r0:r1, c0:c1], (r0, c0), (rows, cols)
            inside = tuple(b - c0 for b in bounds if c0 < b < c1)
            names = () if inside != bounds else names
            bounds = inside
    reduced = reduce_matrix(matrix, reduce_mode, max_cells)
    counts = special_counts(matrix)
    special = np.zeros(reduced.values.shape, dtype=np.int8)
    if counts.total:
        # Codes are non-negative: max-abs pooling keeps each block's strongest special value.
        codes = reduce_matrix(special_codes(matrix), "max_abs", max_cells)
        special = codes.values.astype(np.int8)
    if names and len(names) != len(bounds) + 1:
        names = ()
    return Heatmap(
        reduced=reduced,
        limit=color_limit(reduced.values) if limit is None else float(limit) or 1.0,
        row_label=row_label,
        col_label=col_label,
        gate_boundaries=bounds,
        gate_names=names,
        title=title or "weights",
        origin=origin,
        full_shape=full,
        special=special,
        counts=counts,
    )


def window_of_cells(
    heatmap: Heatmap, rows: Sequence[float], cols: Sequence[float]
) -> tuple[int, int, int, int] | None:
    """The window of the full matrix under a box drawn on the plotted cells.

    ``rows`` and ``cols`` are the box's ``(start, end)`` in cell positions as plotly reports
    them on category axes (cell ``i`` spans ``i - 0.5`` to ``i + 0.5``); every cell the box
    touches is included. None when the box misses every cell.
    """
    n_rows, n_cols = heatmap.reduced.values.shape
    spans = []
    for (a, b), n in ((rows, n_rows), (cols, n_cols)):
        lo, hi = sorted((float(a), float(b)))
        first, last = max(0, math.floor(lo + 0.5)), min(n - 1, math.ceil(hi - 0.5))
        if n == 0 or first > last:
            return None
        spans.append((first, last))
    (i0, i1), (j0, j1) = spans
    r0, c0 = heatmap.origin
    rr, cc = heatmap.reduced.row_range, heatmap.reduced.col_range
    return r0 + rr(i0)[0], r0 + rr(i1)[1], c0 + cc(j0)[0], c0 + cc(j1)[1]


def axis_ticks(
    heatmap: Heatmap, *, width_hint: float = WIDTH_HINT, height: float | None = None
) -> tuple[list[str], list[str]]:
    """The column and row labels to show, chosen so that no two overlap (``ticks``).

    The cells get ``width_hint`` (the figure's width on the page) less the widest row label,
    the axis title and the colour bar, and ``height`` (``plot_height``'s by default) less the
    title and the column labels.
    """
    reduced = heatmap.reduced
    n_rows, n_cols = reduced.values.shape
    x = _range_labels(n_cols, reduced.col_range, heatmap.origin[1])
    y = _range_labels(n_rows, reduced.row_range, heatmap.origin[0])
    widest_row = max((text_width(t) for t in y), default=0.0)
    across = width_hint - widest_row - LEFT_ROOM - COLORBAR_ROOM
    legend = 60 if heatmap.counts.total else 0
    down = (height or plot_height(n_rows)) - MARGIN_TOP - MARGIN_BOTTOM - legend
    return fitted_ticks(x, across, horizontal=True), fitted_ticks(y, down, horizontal=False)


def column_width(share: float, columns: int) -> float:
    """The width hint of a figure in a column taking ``share`` of the main area, beside
    ``columns - 1`` others."""
    return WIDTH_HINT * share - COLUMN_GAP * (columns - 1) / columns


def plot_height(n_rows: int) -> int:
    """The figure's height for ``n_rows`` rows of cells, when the caller does not set one."""
    return int(np.clip(160 + 3 * n_rows, 320, 800))


def heatmap_plot(
    heatmap: Heatmap,
    *,
    subtitle: str | None = None,
    height: int | None = None,
    select_to_zoom: bool = False,
    sequential: bool = False,
    width_hint: float = WIDTH_HINT,
    value_name: str = "w",
) -> go.Figure:
    """Draw a ``Heatmap`` with plotly; ``subtitle`` replaces the reduction note. With
    ``select_to_zoom`` a drag draws a selection box (the page reads that region again, see
    ``window_of_cells``) instead of plotly's own zoom, which could only enlarge cells. With
    ``sequential``, values known to be >= 0 (a gradient RMS) are coloured ``[0, limit]`` on
    the sequential scale instead of the diverging one. ``width_hint`` is the figure's width on
    the page, pixels: the labels are chosen to fit it (``axis_ticks``); narrower, plotly tilts
    them rather than overlap them. ``value_name`` is what a value is called on the colour bar
    and in the hover (``w``; ``rms`` for a gradient RMS), as in the filter grid."""
    reduced, limit = heatmap.reduced, heatmap.limit
    z = reduced.values
    n_rows, n_cols = z.shape
    row_label, col_label = plotly_text(heatmap.row_label), plotly_text(heatmap.col_label)
    bar = _bar_title(reduced, value_name)
    what = "value %{z:.7g}" if not reduced.is_reduced else f"{bar} %{{z:.4g}}"
    fig = go.Figure(
        go.Heatmap(
            z=np.clip(z, -limit, limit).astype(np.float32),
            x=_range_labels(n_cols, reduced.col_range, heatmap.origin[1]),
            y=_range_labels(n_rows, reduced.row_range, heatmap.origin[0]),
            colorscale=SEQUENTIAL if sequential else COLORSCALE,
            zmin=0.0 if sequential else -limit,
            zmax=limit,
            zmid=None if sequential else 0.0,
            colorbar={"title": {"text": bar}},
            hoverongaps=False,
            hovertemplate=f"{row_label} %{{y}}<br>{col_label} %{{x}}<br>{what}<extra></extra>",
        )
    )
    special_hover = f"{row_label} %{{y}}<br>{col_label} %{{x}}<br>holds %{{VALUE}}<extra></extra>"
    for overlay in overlay_traces(
        heatmap.special,
        x=_range_labels(n_cols, reduced.col_range, heatmap.origin[1]),
        y=_range_labels(n_rows, reduced.row_range, heatmap.origin[0]),
        hovertemplate=special_hover,
    ):
        fig.add_trace(overlay)
    fig.add_traces(legend_traces(heatmap.counts))
    if heatmap.counts.total:
        fig.update_layout(legend={"orientation": "h", "x": 0.0, "y": -0.18, "yanchor": "top"})
    bc = reduced.block[1]
    for b in heatmap.gate_boundaries:
        fig.add_vline(x=b / bc - 0.5, line={"color": "black", "width": 1.5, "dash": "dot"})
    edges = [0, *heatmap.gate_boundaries, reduced.shape[1]]
    for name, lo, hi in zip(heatmap.gate_names, edges[:-1], edges[1:], strict=False):
        fig.add_annotation(
            x=(lo + hi) / 2 / bc - 0.5,
            y=1.0,
            yref="paper",
            yanchor="bottom",
            text=f"<b>{plotly_text(name)}</b>",
            showarrow=False,
        )
    height = height or plot_height(n_rows)
    x_ticks, y_ticks = axis_ticks(heatmap, width_hint=width_hint, height=height)
    fig.update_xaxes(title_text=col_label, type="category", tickmode="array", tickvals=x_ticks)
    fig.update_yaxes(
        title_text=row_label,
        type="category",
        autorange="reversed",
        tickmode="array",
        tickvals=y_ticks,
    )
    fig.update_layout(
        title={
            "text": plotly_text(heatmap.title),
            "subtitle": {"text": plotly_text(heatmap.note if subtitle is None else subtitle)},
        },
        height=height,
        margin={"t": MARGIN_TOP, "b": MARGIN_BOTTOM},
        dragmode="select" if select_to_zoom else "zoom",
    )
    return fig


def heatmap_figure(
    matrix: Array,
    *,
    subtitle: str | None = None,
    height: int | None = None,
    width_hint: float = WIDTH_HINT,
    **options: Any,
) -> go.Figure:
    """A 2-D weight as a diverging heatmap, block-reduced to fit the display budget.

    ``options`` are ``heatmap_data``'s keyword arguments; the figure is ``heatmap_plot``'s.
    """
    return heatmap_plot(
        heatmap_data(matrix, **options), subtitle=subtitle, height=height, width_hint=width_hint
    )


def heatmap_image(heatmap: Heatmap, *, dpi: int = 110) -> bytes:
    """Draw a ``Heatmap`` with matplotlib (Agg) as PNG bytes; axes in original rows/columns."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    reduced, limit = heatmap.reduced, heatmap.limit
    rows, cols = reduced.shape
    r0, c0 = heatmap.origin
    fig = Figure(figsize=(8.0, 6.0), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    cmap = mpl.colormaps[COLORSCALE].with_extremes(bad=(0.85, 0.85, 0.85, 1.0))
    shown = ax.imshow(
        reduced.values,
        cmap=cmap,
        vmin=-limit,
        vmax=limit,
        aspect="auto",
        interpolation="nearest",
        extent=(c0 - 0.5, c0 + cols - 0.5, r0 + rows - 0.5, r0 - 0.5),
    )
    draw_specials_png(
        ax,
        heatmap.special,
        heatmap.counts.by_name(),
        extent=(c0 - 0.5, c0 + cols - 0.5, r0 + rows - 0.5, r0 - 0.5),
        aspect="auto",
        legend_y=-0.1,
    )
    for b in heatmap.gate_boundaries:
        ax.axvline(c0 + b - 0.5, color="black", linewidth=1.2, linestyle=":")
    edges = [0, *heatmap.gate_boundaries, cols]
    for name, lo, hi in zip(heatmap.gate_names, edges[:-1], edges[1:], strict=False):
        ax.text(
            c0 + (lo + hi) / 2 - 0.5, r0 - 0.5, name, ha="center", va="bottom", fontweight="bold"
        )
    fig.colorbar(shown, ax=ax, label=_bar_title(reduced))
    ax.set_xlabel(mpl_text(heatmap.col_label))
    ax.set_ylabel(mpl_text(heatmap.row_label))
    ax.set_title(mpl_text(f"{heatmap.title}\n{heatmap.note}"), fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def heatmap_png(matrix: Array, *, dpi: int = 110, **options: Any) -> bytes:
    """The same heatmap as ``heatmap_figure`` rendered as PNG bytes."""
    return heatmap_image(heatmap_data(matrix, **options), dpi=dpi)
