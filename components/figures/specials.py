"""NaN, +Inf and -Inf in figures: one colour each, outside the diverging scale, with a legend
entry and counts for the caption. Every view (heatmap, filter grid, histogram) draws them the
same way, from here.

Decided (each has a test):
- Colours: NaN yellow, +Inf black, -Inf purple; none of them is on the red-white-blue diverging
  scale, and none is transparent, so a NaN is never mistaken for a 0 (white) or for the gaps
  between filter tiles (transparent).
- Where one pixel or cell stands for several values (a block, the channels of a tile), a NaN
  among them wins over +Inf, which wins over -Inf: the code is the maximum of ``CODES``.
- A legend entry is drawn only for a kind of value that is present.
- One cell of a large map is a pixel or less, so up to ``MARK_LIMIT`` special cells also get a
  square marker of their colour with a dark outline, visible at any size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

Array = np.ndarray[Any, Any]

CODES: dict[str, int] = {"-Inf": 1, "+Inf": 2, "NaN": 3}
"""Code of each special value in a code array (0: a finite value or nothing)."""
COLOURS: dict[str, str] = {"NaN": "#ffd600", "+Inf": "#111111", "-Inf": "#8e24aa"}
"""The colour each special value is drawn in."""


@dataclass(frozen=True)
class SpecialCounts:
    """How many values of an array are NaN, +Inf, -Inf."""

    nan: int
    posinf: int
    neginf: int

    @property
    def total(self) -> int:
        """All non-finite values."""
        return self.nan + self.posinf + self.neginf

    def by_name(self) -> dict[str, int]:
        """``{"NaN": n, "+Inf": n, "-Inf": n}``, only the kinds present."""
        named = {"NaN": self.nan, "+Inf": self.posinf, "-Inf": self.neginf}
        return {k: v for k, v in named.items() if v}

    def caption(self) -> str:
        """``3 NaN and 1 +Inf values`` ('' when every value is finite)."""
        parts = [f"{n:,} {name}" for name, n in self.by_name().items()]
        if not parts:
            return ""
        joined = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
        return f"{joined} value{'s' if self.total > 1 else ''}"


MARK_LIMIT = 2000
"""Special cells up to this many also get a marker; beyond it the painted cells and the counts
carry the message (markers would hide the map)."""
_CHUNK = 1 << 22
"""Values per step when counting, so a 100 M-value kernel needs no 100 MB mask."""


def special_counts(values: Array) -> SpecialCounts:
    """Count NaN, +Inf and -Inf in ``values`` (any dtype; integers have none).

    A finite float64 sum proves every value finite in one pass without a temporary; only
    otherwise are the values counted, chunk by chunk.
    """
    a = np.asarray(values)
    if a.dtype.kind in "biu":
        return SpecialCounts(0, 0, 0)
    if a.dtype.kind not in "fc":
        a = a.astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(a.sum(dtype=np.float64)):
            return SpecialCounts(0, 0, 0)
    flat = a.reshape(-1)
    nan = pos = neg = 0
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start : start + _CHUNK]
        nan += int(np.count_nonzero(np.isnan(chunk)))
        pos += int(np.count_nonzero(np.isposinf(chunk)))
        neg += int(np.count_nonzero(np.isneginf(chunk)))
    return SpecialCounts(nan, pos, neg)


def special_codes(values: Array) -> Array:
    """An int8 array of ``values``' shape: ``CODES`` where a value is special, else 0."""
    a = np.asarray(values)
    codes = np.zeros(a.shape, dtype=np.int8)
    if a.dtype.kind not in "fc":
        if a.dtype.kind in "biu":
            return codes
        a = a.astype(np.float32)
    codes[np.isneginf(a)] = CODES["-Inf"]
    codes[np.isposinf(a)] = CODES["+Inf"]
    codes[np.isnan(a)] = CODES["NaN"]
    return codes


def overlay_traces(
    codes: Array,
    *,
    x: Sequence[Any] | None = None,
    y: Sequence[Any] | None = None,
    customdata: Array | None = None,
    hovertemplate: str | None = None,
) -> list[go.Heatmap]:
    """One single-colour heatmap per special kind present in a 2-D ``codes``, to lay on top.

    Each is NaN where its kind is absent, so it covers only its own cells; hover says the kind.
    Up to ``MARK_LIMIT`` special cells in all also get markers (a scatter per kind).
    """
    traces: list[Any] = []
    marked = int(np.count_nonzero(codes)) <= MARK_LIMIT
    for name, code in CODES.items():
        hit = codes == code
        if not hit.any():
            continue
        colour = COLOURS[name]
        traces.append(
            go.Heatmap(
                z=np.where(hit, 1.0, np.nan).astype(np.float32),
                x=x,
                y=y,
                customdata=customdata,
                colorscale=[[0.0, colour], [1.0, colour]],
                zmin=0.0,
                zmax=1.0,
                showscale=False,
                hoverongaps=False,
                hovertemplate=(hovertemplate or "").replace("%{VALUE}", name)
                or f"{name}<extra></extra>",
                name=name,
            )
        )
        if marked:
            rows, cols = np.nonzero(hit)
            traces.append(
                go.Scatter(
                    x=[x[int(j)] for j in cols] if x is not None else cols,
                    y=[y[int(i)] for i in rows] if y is not None else rows,
                    mode="markers",
                    marker={
                        "symbol": "square",
                        "size": 10,
                        "color": colour,
                        "line": {"color": "#333333", "width": 1.5},
                    },
                    showlegend=False,
                    hoverinfo="skip",
                    name=f"{name} marker",
                )
            )
    return traces


def legend_traces(counts: SpecialCounts) -> list[go.Scatter]:
    """Legend entries (``NaN: 3 values``) for the special kinds present; they draw nothing."""
    return [
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            marker={"symbol": "square", "size": 12, "color": COLOURS[name]},
            name=f"{name}: {n:,} value{'s' if n > 1 else ''}",
            showlegend=True,
            hoverinfo="skip",
        )
        for name, n in counts.by_name().items()
    ]


def draw_specials_png(
    ax: Any,
    codes: Array,
    present: dict[str, int],
    *,
    extent: Any = None,
    aspect: Any = None,
    legend_y: float = -0.03,
) -> None:
    """Paint the special cells of a matplotlib image in their colours, with a legend below."""
    if not present:
        return
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    names = list(CODES)  # codes 1, 2, 3 in order
    cmap = ListedColormap([rgba(n) for n in names]).with_extremes(bad=(1, 1, 1, 0))
    masked = np.ma.masked_equal(codes.astype(np.float64), 0.0)
    ax.imshow(
        masked,
        cmap=cmap,
        vmin=0.5,
        vmax=len(names) + 0.5,
        interpolation="nearest",
        extent=extent,
        aspect=aspect,
    )
    rows, cols = np.nonzero(codes)
    if 0 < rows.size <= MARK_LIMIT:
        left, right, bottom, top = extent or (
            -0.5,
            codes.shape[1] - 0.5,
            codes.shape[0] - 0.5,
            -0.5,
        )
        xs = left + (cols + 0.5) * (right - left) / codes.shape[1]
        ys = top + (rows + 0.5) * (bottom - top) / codes.shape[0]
        colours = [rgba(names[c - 1]) for c in codes[rows, cols]]
        ax.scatter(xs, ys, s=40, marker="s", c=colours, edgecolors="#333333", linewidths=1.0)
    ax.legend(
        handles=[
            Patch(color=rgba(n), label=f"{n}: {present[n]:,}")
            for n in reversed(names)
            if n in present
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, legend_y),
        ncol=3,
        fontsize=8,
        frameon=False,
    )


def rgba(name: str) -> tuple[float, float, float, float]:
    """A special value's colour as RGBA in 0..1 (for matplotlib and RGB images)."""
    hex_colour = COLOURS[name].lstrip("#")
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255.0 for i in (0, 2, 4))
    return r, g, b, 1.0
