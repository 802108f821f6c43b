"""Figures of the Activations panel: a chosen input, the chosen layer's output for it, and for a
conv layer the filters that made each feature map beside the maps.

The builders are pure and tested; ``components.page.activations_view`` picks the input and puts
them on the page. Feature map ``#k`` is made by filter
``#k``: both grids use the same tile order.

Colours, decided: maps that are all >= 0 (after ReLU) use a sequential scale from 0; maps with
negative values use the diverging scale centred on 0, as weights do. A grey input is drawn as the
model sees it: 0 black, 1 white (the digits demo's samples are light strokes on black).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from kerascope.extraction.models.labels import Prediction

from . import filters
from .mosaic import Scale, filter_mosaic
from .text import plotly_text

Array = np.ndarray[Any, Any]


def input_figure(x: Array, title: str = "input", height: int = 300) -> go.Figure:
    """The input ``(H, W, 1)`` as a grey image, ``(H, W, 3)`` as RGB (values in ``[0, 1]``,
    clipped for display), enlarged to the figure; not modified."""
    a = np.asarray(x, dtype=np.float32)
    if a.ndim != 3 or a.shape[-1] not in (1, 3):
        raise ValueError(f"expected an (H, W, 1) or (H, W, 3) image; received {a.shape}")
    if a.shape[-1] == 3:
        trace: go.Image | go.Heatmap = go.Image(z=np.clip(a, 0, 1) * 255.0)
    else:
        trace = go.Heatmap(z=a[..., 0], colorscale="gray", zmin=0.0, zmax=1.0, showscale=False)
    fig = go.Figure(trace)
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_layout(
        title={"text": plotly_text(title), "font": {"size": 13}},
        height=height,
        margin={"l": 10, "r": 10, "t": 36, "b": 6},
    )
    return fig


def feature_maps_figure(
    maps: Array,
    *,
    scale: Scale = "shared",
    page: int = 0,
    page_size: int = 64,
    title: str = "",
    height: int | None = None,
    aspect: float = 1.0,
    width_hint: int = 380,
) -> go.Figure:
    """Feature maps ``(H, W, C)`` as a tile grid, one tile per channel, labelled ``#k``.

    Drawn as a filter grid is (``filters.mosaic_figure``): a ``(H, W, 1, C)`` "kernel" is laid
    out tile per channel exactly like a conv filter bank, so map ``#k`` sits where filter ``#k``
    does. ``aspect`` is the grid's width / height (as ``filter_mosaic``); ``width_hint`` the
    pixels it is expected to get, which sets its height unless ``height`` is given.

    Raises:
        ValueError: ``maps`` is not 3-D, or ``page`` out of range.
    """
    a = np.asarray(maps, dtype=np.float64)
    if a.ndim != 3:
        raise ValueError(f"expected feature maps (H, W, C); received shape {a.shape}")
    finite = a[np.isfinite(a)]
    signed = bool(finite.size and finite.min() < 0)
    first = page * page_size + 1
    last = min((page + 1) * page_size, a.shape[-1])
    mosaic = filter_mosaic(
        a[:, :, None, :],
        kind="conv2d",
        scale=scale,
        page=page,
        page_size=page_size,
        title=title or f"feature maps {first}-{last} of {a.shape[-1]} ({a.shape[0]}x{a.shape[1]})",
        aspect=aspect,
    )
    note = "one colour scale for all maps" if scale == "shared" else "each map scaled to its max"
    return filters.mosaic_figure(
        mosaic,
        subtitle=note + ("" if signed else "; all values >= 0"),
        height=height,
        unit="map",
        value_name="a",
        sequential=not signed,
        width_hint=width_hint,
    )


def map_figure(maps: Array, index: int) -> go.Figure:
    """One feature map ``maps[..., index]`` large, on the same colours as the grid's shared scale.

    Raises:
        ValueError: ``maps`` is not 3-D, or ``index`` out of range.
    """
    a = np.asarray(maps, dtype=np.float64)
    if a.ndim != 3:
        raise ValueError(f"expected feature maps (H, W, C); received shape {a.shape}")
    if not 0 <= index < a.shape[-1]:
        raise ValueError(f"index must be in 0..{a.shape[-1] - 1}; received index={index}")
    finite = a[np.isfinite(a)]
    zmax = float(np.max(np.abs(finite), initial=0.0)) or 1.0
    signed = bool(finite.size and finite.min() < 0)
    colours: dict[str, Any] = (
        {"colorscale": filters.COLORSCALE, "zmin": -zmax, "zmax": zmax, "zmid": 0.0}
        if signed
        else {"colorscale": "Viridis", "zmin": 0.0, "zmax": zmax}
    )
    fig = go.Figure(
        go.Heatmap(
            z=a[..., index].astype(np.float32),
            colorbar={"title": {"text": "a"}},
            hovertemplate="row %{y}, col %{x}<br>a = %{z:.4g}<extra></extra>",
            **colours,
        )
    )
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_layout(
        title={
            "text": f"map #{index} ({a.shape[0]}x{a.shape[1]})",
            "subtitle": {"text": "the colour scale shared by all maps of this layer"},
        },
        height=420,
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
    )
    return fig


def prediction_rows(predictions: Sequence[Prediction]) -> list[dict[str, str]]:
    """A table of top guesses: rank, class (name and output index), probability or raw score.

    Every cell is text, so no table shows ``None``: a probability below 0.1% reads ``<0.1%``;
    the index is added to a name that is not the index already (``tabby (281)``).
    """
    rows = []
    for rank, p in enumerate(predictions, start=1):
        if p.probability:
            value = "<0.1%" if p.score < 0.0005 else f"{p.score:.1%}"
        else:
            value = f"{p.score:.4g}"
        plain_index = p.name == str(p.index) or p.name == f"class {p.index}"
        rows.append(
            {
                "rank": str(rank),
                "class": p.name if plain_index else f"{p.name} ({p.index})",
                "probability" if p.probability else "score": value,
            }
        )
    return rows


def vector_figure(values: Array, title: str = "", labels: Sequence[str] | None = None) -> go.Figure:
    """One bar per unit; the largest value is drawn in a darker colour (the winner)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    names = list(labels) if labels is not None and len(labels) == v.size else list(range(v.size))
    top = int(np.nanargmax(v)) if v.size and np.isfinite(v).any() else -1
    fig = go.Figure(
        go.Bar(
            x=names,
            y=v,
            marker={"color": ["#d62728" if i == top else "#1f77b4" for i in range(v.size)]},
            hovertemplate="unit %{x}: %{y:.4g}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="unit", type="category" if labels is not None else "linear")
    fig.update_yaxes(title_text="activation")
    subtitle = f"{v.size} units; largest: unit {names[top]}" if top >= 0 else f"{v.size} units"
    fig.update_layout(
        title={"text": plotly_text(title or "activations"), "subtitle": {"text": subtitle}},
        height=340,
        margin={"t": 80},
        bargap=0.1 if v.size < 200 else 0,
    )
    return fig
