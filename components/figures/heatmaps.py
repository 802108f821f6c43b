"""The weight heatmap: any 2-D weight (Dense, Embedding, RNN, pointwise, attention) as colours.

A matrix larger than the display budget is block-reduced first
(``extraction.analysis.reduce``), and the figure says how many weights one cell stands for.
Colours are diverging and centred on 0 with a symmetric range ``[-m, m]``, ``m`` the largest
finite ``|value|`` of the cells shown.

Decided edge cases (each has a test):
- NaN cells (a block of NaN only) are gaps; +-Inf cells are clipped to ``+-m`` for colour and
  shown as they are on hover.
- An all-zero or all-NaN matrix uses ``m = 1`` (a blank, white map rather than an error).
- An empty matrix gives a figure without cells whose title says so.
- The hover of a cell names the original index ranges it pools (``input unit 0-48``).
- The browser never gets more than ``MAX_CELLS`` cells, whatever ``max_cells`` asks: z is
  float32, binary-encoded by plotly, so 250k cells are about 1.3 MB of JSON.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from extraction.analysis.reduce import Reduced, ReduceMode, reduce_blocks

Array = np.ndarray[Any, Any]
COLORSCALE = "RdBu_r"  # negative blue, zero white, positive red
MAX_CELLS = 250_000
# Keras 3 gate order within the kernel's columns.
GATES = {"LSTM": ("i", "f", "c", "o"), "GRU": ("z", "r", "h")}


def rnn_gates(class_name: str, n_cols: int) -> tuple[list[int], list[str]]:
    """Gate boundaries (first column of each gate after the first) and gate names.

    LSTM kernels hold gates i, f, c, o; GRU kernels z (update), r (reset), h (candidate), each
    ``n_cols / gates`` columns wide. SimpleRNN and other classes have no gates: ``([], [])``.
    For ``Bidirectional`` pass the wrapped layer's class (its config's ``layer.class_name``).
    """
    names = GATES.get(class_name.removesuffix("Cell").removeprefix("CuDNN"))
    if not names or n_cols % len(names):
        return [], []
    units = n_cols // len(names)
    return [units * g for g in range(1, len(names))], list(names)


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


def _range_labels(n: int, span: Any) -> list[str]:
    labels = []
    for i in range(n):
        start, stop = span(i)
        labels.append(str(start) if stop - start == 1 else f"{start}-{stop - 1}")
    return labels


def _bar_title(reduced: Reduced) -> str:
    if not reduced.is_reduced:
        return "w"
    return "max-abs w" if reduced.mode == "max_abs" else "mean w"


def _color_limit(values: Array) -> float:
    finite = values[np.isfinite(values)]
    return float(np.max(np.abs(finite), initial=0.0)) or 1.0


def heatmap_figure(
    matrix: Array,
    *,
    reduce_mode: ReduceMode = "mean",
    max_cells: tuple[int, int] = (300, 300),
    row_label: str = "input unit",
    col_label: str = "output unit",
    gate_boundaries: Sequence[int] | None = None,
    gate_names: Sequence[str] | None = None,
    title: str = "",
) -> go.Figure:
    """A 2-D weight as a diverging heatmap, block-reduced to fit the display budget.

    Args:
        matrix: the 2-D weight (see ``extraction.analysis.reduce.to_2d``); not modified.
        reduce_mode: how a block of weights becomes one cell: ``mean`` or ``max_abs``.
        max_cells: at most this many (rows, columns) of cells.
        row_label, col_label: the axis titles.
        gate_boundaries: original column indices where a new gate starts (``rnn_gates``).
        gate_names: one name per gate (one more than boundaries), written above the map.
        title: the figure's title; the reduction note becomes its subtitle.

    Raises:
        ValueError: ``matrix`` is not 2-D or ``reduce_mode`` is unknown.
    """
    reduced = reduce_matrix(matrix, reduce_mode, max_cells)
    z = reduced.values
    limit = _color_limit(z)
    n_rows, n_cols = z.shape
    xs = _range_labels(n_cols, reduced.col_range)
    ys = _range_labels(n_rows, reduced.row_range)
    fig = go.Figure(
        go.Heatmap(
            z=np.clip(z, -limit, limit).astype(np.float32),
            x=xs,
            y=ys,
            colorscale=COLORSCALE,
            zmin=-limit,
            zmax=limit,
            zmid=0.0,
            colorbar={"title": {"text": _bar_title(reduced)}},
            hoverongaps=False,
            hovertemplate=(
                f"{row_label} %{{y}}<br>{col_label} %{{x}}<br>value %{{z:.4g}}<extra></extra>"
            ),
        )
    )
    bc = reduced.block[1]
    bounds = list(gate_boundaries or [])
    for b in bounds:
        fig.add_vline(x=b / bc - 0.5, line={"color": "black", "width": 1.5, "dash": "dot"})
    if gate_names and len(gate_names) == len(bounds) + 1:
        edges = [0, *bounds, reduced.shape[1]]
        for name, lo, hi in zip(gate_names, edges[:-1], edges[1:], strict=True):
            fig.add_annotation(
                x=(lo + hi) / 2 / bc - 0.5,
                y=1.0,
                yref="paper",
                yanchor="bottom",
                text=f"<b>{name}</b>",
                showarrow=False,
            )
    rows, cols = reduced.shape
    note = caption(reduced) if n_rows and n_cols else f"empty matrix ({rows} x {cols})"
    fig.update_xaxes(title_text=col_label, type="category", nticks=12, tickangle=0)
    fig.update_yaxes(title_text=row_label, type="category", autorange="reversed", nticks=16)
    fig.update_layout(
        title={"text": title or "weights", "subtitle": {"text": note}},
        height=int(np.clip(160 + 3 * n_rows, 320, 800)),
        margin={"t": 90},
    )
    return fig


def heatmap_png(
    matrix: Array,
    *,
    reduce_mode: ReduceMode = "mean",
    max_cells: tuple[int, int] = (300, 300),
    row_label: str = "input unit",
    col_label: str = "output unit",
    gate_boundaries: Sequence[int] | None = None,
    gate_names: Sequence[str] | None = None,
    title: str = "",
    dpi: int = 110,
) -> bytes:
    """The same heatmap rendered with matplotlib (Agg) as PNG bytes; axes in original units."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    reduced = reduce_matrix(matrix, reduce_mode, max_cells)
    limit = _color_limit(reduced.values)
    rows, cols = reduced.shape
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
        extent=(-0.5, cols - 0.5, rows - 0.5, -0.5),
    )
    bounds = list(gate_boundaries or [])
    for b in bounds:
        ax.axvline(b - 0.5, color="black", linewidth=1.2, linestyle=":")
    if gate_names and len(gate_names) == len(bounds) + 1:
        edges = [0, *bounds, cols]
        for name, lo, hi in zip(gate_names, edges[:-1], edges[1:], strict=True):
            ax.text((lo + hi) / 2 - 0.5, -0.5, name, ha="center", va="bottom", fontweight="bold")
    fig.colorbar(shown, ax=ax, label=_bar_title(reduced))
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    ax.set_title(f"{title or 'weights'}\n{caption(reduced)}", fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
