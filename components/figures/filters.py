"""The conv filter grid: one tile per filter, as a plotly figure and a PNG.

The data (tiles, gaps, scales, hover values) comes from ``mosaic.filter_mosaic``; this module
only draws it. Diverging colours centred on 0 (red positive, blue negative); gaps are
transparent; NaN, +Inf and -Inf weights have their own colours and legend entries
(``specials``).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import plotly.graph_objects as go

from .mosaic import (
    LABEL_LIMIT,
    RGB_LEGEND,
    ChannelMode,
    Mosaic,
    Order,
    Scale,
    filter_mosaic,
    page_count,
)
from .specials import CODES, draw_specials_png, legend_traces, overlay_traces, rgba
from .text import mpl_text, plotly_text

Array = np.ndarray[Any, Any]
COLORSCALE = "RdBu_r"  # negative blue, zero white, positive red
SEQUENTIAL = "Viridis"  # values that are all >= 0 (feature maps after ReLU)


def _hover(unit: str, value_name: str) -> str:
    norm = "<br>L2 norm %{customdata[3]:.4g}" if unit == "filter" else ""
    return (
        f"{unit} #%{{customdata[0]}}<br>row %{{customdata[1]}}, col %{{customdata[2]}}"
        f"<br>{value_name} = %{{customdata[4]:.4g}}{norm}<extra></extra>"
    )


_SPECIAL_HOVER = (
    "filter #%{customdata[0]}<br>row %{customdata[1]}, col %{customdata[2]}"
    "<br>w = %{VALUE}<br>L2 norm %{customdata[3]:.4g}<extra></extra>"
)

__all__ = [
    "filter_grid_figure",
    "filter_grid_png",
    "filter_mosaic",
    "mosaic_figure",
    "mosaic_png",
    "page_count",
]


def filter_grid_figure(
    kernel: Array,
    *,
    kind: str,
    channel_mode: ChannelMode = "channel",
    channel: int = 0,
    scale: Scale = "shared",
    order: Order = "index",
    page: int = 0,
    page_size: int = 64,
    depth: int = 0,
    zmax: float | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    height: int | None = None,
    aspect: float = 1.0,
    width_hint: int = 700,
) -> go.Figure:
    """One page of a conv kernel's filters as a plotly figure (a heatmap, or an image for RGB).

    Arguments are those of ``filter_mosaic`` (which documents the layouts and edge cases) and
    of ``mosaic_figure``.

    Raises:
        ValueError: as ``filter_mosaic``.
    """
    mosaic = filter_mosaic(
        kernel,
        kind=kind,
        channel_mode=channel_mode,
        channel=channel,
        scale=scale,
        order=order,
        page=page,
        page_size=page_size,
        depth=depth,
        zmax=zmax,
        title=title,
        aspect=aspect,
    )
    return mosaic_figure(mosaic, subtitle=subtitle, height=height, width_hint=width_hint)


def rgb_legend_html() -> str:
    """``RGB_LEGEND`` as one line of coloured squares with their meaning (plotly HTML)."""
    return "   ".join(
        f"<span style='color:rgb({round(r * 255)},{round(g * 255)},{round(b * 255)})'>"
        f"\u25a0</span> {label}"
        for label, (r, g, b) in RGB_LEGEND
    )


def mosaic_figure(
    mosaic: Mosaic,
    *,
    subtitle: str | None = None,
    height: int | None = None,
    unit: str = "filter",
    value_name: str = "w",
    sequential: bool = False,
    width_hint: int = 700,
) -> go.Figure:
    """Draw a ``Mosaic``: shared scale gets a colour bar; per-filter scale says so instead; an
    RGB composite gets a legend of its colours above the grid.

    Args:
        mosaic: the page to draw.
        subtitle: replaces the mosaic's note.
        height: pixels; by default fitted to the mosaic's aspect at ``width_hint`` pixels wide.
        unit, value_name: what a tile and a value are called in the hover (``filter``/``w``;
            feature maps are ``map``/``a``). Filters also show their L2 norm.
        sequential: colour ``[0, zmax]`` on a sequential scale (values known to be >= 0)
            instead of the diverging scale centred on 0.
        width_hint: the width in pixels the figure is expected to get.
    """
    hover = _hover(unit, value_name)
    image = mosaic.image
    if image.ndim == 3:
        alpha = np.isfinite(image[..., :1]).astype(np.float32)
        pixels = np.concatenate([np.nan_to_num(image) * 255.0, alpha], axis=-1)
        for name, code in CODES.items():
            pixels[mosaic.special == code] = np.array(rgba(name)) * (255, 255, 255, 1)
        trace: go.Image | go.Heatmap = go.Image(
            z=pixels.astype(np.float32),
            colormodel="rgba",
            customdata=mosaic.custom,
            hovertemplate=hover,
        )
    else:
        colours: dict[str, Any] = (
            {"colorscale": SEQUENTIAL, "zmin": 0.0, "zmax": mosaic.zmax}
            if sequential
            else {"colorscale": COLORSCALE, "zmin": -mosaic.zmax, "zmax": mosaic.zmax, "zmid": 0.0}
        )
        trace = go.Heatmap(
            z=image.astype(np.float32),
            customdata=mosaic.custom,
            showscale=mosaic.scale == "shared",
            colorbar={"title": {"text": value_name}, "len": 0.8, "thickness": 14},
            hoverongaps=False,
            hovertemplate=hover,
            **colours,
        )
    fig = go.Figure(trace)
    if image.ndim == 2:
        for overlay in overlay_traces(
            mosaic.special, customdata=mosaic.custom, hovertemplate=_SPECIAL_HOVER
        ):
            fig.add_trace(overlay)
    fig.add_traces(legend_traces(mosaic.counts))
    pixels_high, pixels_wide = image.shape[:2]
    rows, cols = mosaic.tile_shape
    if len(mosaic.origins) <= LABEL_LIMIT:
        # Set at once: add_annotation validates every label again each time (quadratic, 1 s
        # for 64 tiles).
        fig.update_layout(
            annotations=[
                {
                    "x": left + (cols - 1) / 2,
                    "y": top + rows - 0.5,
                    "text": label,
                    "showarrow": False,
                    "yanchor": "top",
                    "font": {"size": 10},
                }
                for (top, left), label in zip(mosaic.origins, mosaic.labels, strict=True)
            ]
        )
    fig.update_xaxes(visible=False, range=[-0.5, pixels_wide - 0.5], constrain="domain")
    # Reversed range with room under the last row for its labels.
    bottom = pixels_high - 0.5 + mosaic.label_space
    fig.update_yaxes(visible=False, range=[bottom, -0.5], scaleanchor="x", constrain="domain")
    top_margin = 80
    if image.ndim == 3:
        # The legend sits under the subtitle, so it is on screen with the first rows.
        top_margin = 108
        fig.add_annotation(
            text=rgb_legend_html(),
            xref="paper",
            yref="paper",
            x=0.0,
            y=1.0,
            xanchor="left",
            yanchor="bottom",
            yshift=4,
            showarrow=False,
            bgcolor="#f0f0f0",
            font={"size": 12},
        )
    fig.update_layout(
        title={
            "text": plotly_text(mosaic.title),
            "subtitle": {"text": plotly_text(mosaic.note if subtitle is None else subtitle)},
        },
        height=height
        or int(np.clip(top_margin + 10 + width_hint * pixels_high / max(pixels_wide, 1), 240, 950)),
        margin={"l": 10, "r": 10, "t": top_margin, "b": 10},
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return fig


def filter_grid_png(kernel: Array, *, kind: str, dpi: int = 110, **options: Any) -> bytes:
    """The same page as ``filter_grid_figure`` rendered with matplotlib (Agg) as PNG bytes.

    ``options`` are ``filter_mosaic``'s keyword arguments (channel_mode, scale, page ...).
    """
    return mosaic_png(filter_mosaic(kernel, kind=kind, **options), dpi=dpi)


def mosaic_png(mosaic: Mosaic, *, dpi: int = 110) -> bytes:
    """Draw a ``Mosaic`` with matplotlib (Agg) as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    height, width = mosaic.image.shape[:2]
    fig_w = 8.0
    fig = Figure(figsize=(fig_w, float(np.clip(1.4 + fig_w * height / width, 2.5, 12))), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if mosaic.image.ndim == 3:
        alpha = np.isfinite(mosaic.image[..., :1]).astype(np.float64)
        ax.imshow(
            np.concatenate([np.nan_to_num(mosaic.image), alpha], axis=-1), interpolation="nearest"
        )
    else:
        import matplotlib as mpl

        cmap = mpl.colormaps[COLORSCALE].with_extremes(bad=(1, 1, 1, 0))
        shown = ax.imshow(
            mosaic.image, cmap=cmap, vmin=-mosaic.zmax, vmax=mosaic.zmax, interpolation="nearest"
        )
        if mosaic.scale == "shared":
            fig.colorbar(shown, ax=ax, fraction=0.04, pad=0.02, label="w")
    draw_specials_png(ax, mosaic.special, mosaic.counts.by_name())
    rows, cols = mosaic.tile_shape
    if len(mosaic.origins) <= LABEL_LIMIT:
        for (top, left), label in zip(mosaic.origins, mosaic.labels, strict=True):
            ax.text(
                left + (cols - 1) / 2, top + rows - 0.5, label, ha="center", va="top", fontsize=7
            )
    if mosaic.image.ndim == 3:
        from matplotlib.patches import Patch

        handles = [Patch(color=rgb, label=label) for label, rgb in RGB_LEGEND]
        ax.legend(
            handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=5, fontsize=7
        )
    ax.set_axis_off()
    ax.set_title(mpl_text(f"{mosaic.title}\n{mosaic.note}"), fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
