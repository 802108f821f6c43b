"""Which views suit a weight, and the arguments its figures take: shared by the page and the
notebook module (``kerascope``), so both draw a weight the same way.

Pure: records in, names and keyword arguments out; no Streamlit.
"""

from __future__ import annotations

from typing import Any, Literal

from kerascope.extraction.analysis.reduce import ReduceMode
from kerascope.extraction.layouts import gate_kind, is_filter_bank, rnn_gates, to_2d
from kerascope.extraction.records import LayerWeights, Weight

View = Literal["filters", "heatmap", "histogram", "value"]
Array = Any


def views_for(layer: LayerWeights, weight: Weight) -> list[View]:
    """The views that make sense for ``weight``, best first.

    Conv kernels (and depthwise kernels) are filter grids, except 1x1 kernels, whose heatmap
    comes first; any weight of 2 or more axes can be a heatmap; any weight with values can be
    a histogram; a scalar or empty weight is a value.
    """
    views: list[View] = []
    if len(weight.shape) >= 2 and weight.size > 0:
        views.append("heatmap")
    if is_filter_bank(layer.kind, weight.role, len(weight.shape)):
        # A 1x1 kernel's tiles are single pixels: its heatmap (in x out) says more.
        spatial = weight.shape[:-2]
        views.insert(1 if all(d == 1 for d in spatial) else 0, "filters")
    if weight.size > 1:
        views.append("histogram")
    if not views:
        views.append("value")
    return views


def gates_for(layer: LayerWeights, weight: Weight, n_cols: int) -> tuple[list[int], list[str]]:
    """Gate boundaries for recurrent kernels and biases (Bidirectional: its wrapped class's)."""
    if weight.role not in ("kernel", "recurrent_kernel", "bias"):
        return [], []
    return rnn_gates(gate_kind(layer.kind, layer.wrapped), n_cols)


def heatmap_args(
    layer: LayerWeights, weight: Weight, reduce_mode: ReduceMode = "mean"
) -> tuple[Array, dict[str, Any]]:
    """``weight`` as the 2-D matrix a heatmap shows, and ``heatmap_figure``'s keyword arguments
    for it (axis titles, gate boundaries, title). Reads the array."""
    matrix, rows, cols = to_2d(weight.array(), weight.role, layer.kind, name=weight.name)
    bounds, names = gates_for(layer, weight, matrix.shape[1])
    kwargs: dict[str, Any] = dict(
        reduce_mode=reduce_mode,
        row_label=rows or "row",
        col_label=cols,
        gate_boundaries=bounds or None,
        gate_names=names or None,
        title=f"{layer.path} / {weight.name}",
    )
    return matrix, kwargs
