"""The value histogram of a weight (biases, BatchNorm gamma/beta/moving statistics, LayerNorm).

Values are binned here with numpy and only the bar counts go to the browser, so ten million
values cost one pass and a few hundred numbers of JSON.

Decided edge cases (each has a test):
- NaN and +-Inf are left out of the bins and counted in the caption; the figure draws each kind
  present as one bar of its own colour (``specials.COLOURS``) beside the value axis, -Inf to
  the left, +Inf then NaN to the right, each with a legend entry and its count.
- All finite values equal (a zero-initialised bias, BatchNorm's gamma of ones): a histogram says
  nothing, so ``describe_constant`` returns a sentence for the page to show instead; the figure
  is still well formed (one bar), in case a caller draws it anyway.
- No values, or no finite value: ``describe_constant`` says so; the figure has no bars.
- A scalar is one value. Any shape is flattened. The input is never modified.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from .specials import COLOURS, special_counts
from .text import mpl_text, plotly_text

Array = np.ndarray[Any, Any]
DEFAULT_BINS = 50
_CHUNK = 1 << 22
"""Values widened to float32 at a time (16 MB)."""


@dataclass(frozen=True)
class Histogram:
    """Bar counts of the finite values of one array."""

    edges: Array
    """``bins + 1`` bin edges, increasing (empty when there is no finite value)."""
    counts: Array
    """``bins`` counts, int64."""
    size: int
    """Values in the array, finite or not."""
    nan_count: int
    """NaN values, left out of the bins."""
    inf_count: int
    """+-Inf values, left out of the bins."""

    @property
    def finite(self) -> int:
        """Values counted in the bins."""
        return self.size - self.nan_count - self.inf_count

    def caption(self) -> str:
        """``1,000 values; 3 NaN and 1 Inf left out`` (the second part only when they exist)."""
        text = f"{self.size:,} values"
        left_out = [
            f"{n:,} {what}" for n, what in ((self.nan_count, "NaN"), (self.inf_count, "Inf")) if n
        ]
        if left_out:
            text += f"; {' and '.join(left_out)} left out"
        return text


def _split(values: Array) -> tuple[Array, int, int]:
    """(finite values, NaN count, Inf count) of ``values`` flattened."""
    flat = np.asarray(values).reshape(-1)
    if flat.dtype.kind not in "fc" or flat.dtype.itemsize < 4:
        flat = flat.astype(np.float32)  # bool, int, float16, bfloat16 (ml_dtypes)
    mask = np.isfinite(flat)
    finite_n = int(np.count_nonzero(mask))
    if finite_n == flat.size:
        return flat, 0, 0
    nan_n = int(np.count_nonzero(np.isnan(flat)))
    return flat[mask], nan_n, flat.size - finite_n - nan_n


def histogram_data(values: Array, bins: int = DEFAULT_BINS) -> Histogram:
    """Bin the finite values of ``values`` into ``bins`` equal-width bins.

    All-equal values get one bin around the value (numpy's ``value +- 0.5``). The values are
    walked in chunks of ``_CHUNK`` (two passes: range, then counts), so a memory-mapped
    bfloat16 embedding of 262 M values is never copied whole into float32.

    Raises:
        ValueError: ``bins`` is below 1.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1; received bins={bins}")
    flat = np.asarray(values).reshape(-1)
    chunks = [flat[i : i + _CHUNK] for i in range(0, flat.size, _CHUNK)]
    lo, hi, finite_n, nan_n = np.inf, -np.inf, 0, 0
    for chunk in chunks:
        finite, nans, _ = _split(chunk)
        finite_n, nan_n = finite_n + finite.size, nan_n + nans
        if finite.size:
            lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
    inf_n = flat.size - finite_n - nan_n
    if finite_n == 0:
        return Histogram(np.zeros(0), np.zeros(0, dtype=np.int64), flat.size, nan_n, inf_n)
    if lo == hi:
        bins, span = 1, (lo - 0.5, hi + 0.5)
    else:
        span = (lo, hi)
    counts = np.zeros(bins, dtype=np.int64)
    edges = np.histogram_bin_edges(np.zeros(0), bins=bins, range=span)
    for chunk in chunks:
        counts += np.histogram(_split(chunk)[0], bins=bins, range=span)[0]
    return Histogram(edges.astype(np.float64), counts, flat.size, nan_n, inf_n)


def describe_constant(values: Array) -> str | None:
    """A sentence for values a histogram cannot show, or None when a histogram makes sense.

    ``"All 32 values equal 0 (a zero initialisation: untrained, or a dead unit)."``
    """
    finite, nan_n, inf_n = _split(values)
    size = finite.size + nan_n + inf_n
    if size == 0:
        return "No values (an empty array)."
    if finite.size == 0:
        return f"All {size:,} values are NaN or Inf ({nan_n:,} NaN, {inf_n:,} Inf)."
    lo, hi = finite.min(), finite.max()
    if lo != hi:
        return None
    value = float(lo)
    if size == 1:
        return f"A single value: {value:g}."
    subject = (
        f"All {size:,} values" if finite.size == size else (f"All {finite.size:,} finite values")
    )
    why = ""
    if value == 0.0:
        why = " (a zero initialisation: untrained, or a dead unit)"
    elif value == 1.0:
        why = " (a ones initialisation, as BatchNorm's gamma and moving variance start)"
    tail = "" if finite.size == size else f"; {size - finite.size:,} NaN/Inf left out"
    return f"{subject} equal {value:g}{why}{tail}."


def histogram_figure(
    values: Array,
    *,
    bins: int = DEFAULT_BINS,
    title: str = "",
    log_count: bool = False,
    x_range: tuple[float, float] | None = None,
) -> go.Figure:
    """A plotly bar chart of the binned values; hover gives a bar's range and count.

    ``x_range`` fixes the value axis (to compare histograms of several epochs); by default it
    fits the values.
    """
    hist = histogram_data(values, bins)
    lo, hi = hist.edges[:-1], hist.edges[1:]
    fig = go.Figure(
        go.Bar(
            x=(lo + hi) / 2,
            y=hist.counts,
            width=hi - lo,
            customdata=np.stack([lo, hi], axis=-1),
            hovertemplate="%{customdata[0]:.4g} to %{customdata[1]:.4g}: %{y:,}<extra></extra>",
            marker={"line": {"width": 0}},
            showlegend=False,
        )
    )
    subtitle = hist.caption()
    specials = special_counts(values) if hist.nan_count or hist.inf_count else None
    if specials is not None:
        subtitle += " of the bins, drawn apart in their own colours"
        width = float(hi[0] - lo[0]) if hist.counts.size else 1.0
        left = float(hist.edges[0]) if hist.counts.size else 0.0
        right = float(hist.edges[-1]) if hist.counts.size else 0.0
        slots = {"-Inf": left - 2 * width, "+Inf": right + 2 * width, "NaN": right + 4 * width}
        for name, n in specials.by_name().items():
            fig.add_trace(
                go.Bar(
                    x=[slots[name]],
                    y=[n],
                    width=width,
                    name=f"{name}: {n:,} value{'s' if n > 1 else ''}",
                    marker={"color": COLOURS[name], "line": {"width": 0}},
                    hovertemplate=f"{name}: %{{y:,}}<extra></extra>",
                    text=[name],
                    textposition="outside",
                )
            )
    fig.update_xaxes(title_text="value", range=list(x_range) if x_range else None)
    fig.update_yaxes(title_text="count", type="log" if log_count else "linear")
    fig.update_layout(
        title={"text": plotly_text(title or "values"), "subtitle": {"text": subtitle}},
        bargap=0,
        height=360,
        margin={"t": 80},
    )
    return fig


def histogram_png(
    values: Array, *, bins: int = DEFAULT_BINS, title: str = "", dpi: int = 110
) -> bytes:
    """The same histogram rendered with matplotlib (Agg) as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    hist = histogram_data(values, bins)
    fig = Figure(figsize=(7.0, 3.6), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if hist.counts.size:
        ax.stairs(hist.counts, hist.edges, fill=True)
    caption = hist.caption()
    if hist.nan_count or hist.inf_count:
        caption += " of the bins, drawn apart"
        width = float(hist.edges[1] - hist.edges[0]) if hist.counts.size else 1.0
        left = float(hist.edges[0]) if hist.counts.size else 0.0
        right = float(hist.edges[-1]) if hist.counts.size else 0.0
        slots = {"-Inf": left - 2 * width, "+Inf": right + 2 * width, "NaN": right + 4 * width}
        for name, n in special_counts(values).by_name().items():
            ax.bar(slots[name], n, width=width, color=COLOURS[name], label=f"{name}: {n:,}")
        ax.legend(fontsize=8)
    ax.set_xlabel("value")
    ax.set_ylabel("count")
    ax.set_title(mpl_text(f"{title or 'values'}\n{caption}"), fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
