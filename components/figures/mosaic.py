"""The data of a conv filter grid: a bank of filters laid out as one image with gaps.

A kernel of any conv kind is first turned into a *bank* ``(n_filters, rows, cols, channels)``
in Keras's layouts (``filter_bank``), then one page of it is laid out as a *mosaic*: tiles in a
grid separated by NaN gaps (``filter_mosaic``). The plotly figure and the PNG export both draw
the same ``Mosaic``, so a test of the data is a test of both.

Decided edge cases (each has a test):
- Shared scale: symmetric ``[-m, m]`` with ``m`` the largest finite ``|w|`` over the *whole*
  bank (every page), so paging does not change colours; an all-zero bank uses ``m = 1``.
- Per-filter scale: each tile divided by its own largest finite ``|w|``; an all-zero tile
  stays 0.
- NaN weights stay NaN in ``image`` and +-Inf are clipped to the scale's ends, but ``special``
  marks every NaN, +Inf and -Inf pixel (``specials.CODES``; a pixel of several channels or a
  reduced block takes the strongest code among them, NaN first), so the figures draw them in
  their own colours, never like the transparent gaps; ``counts`` has the whole bank's counts
  (all channels, all pages) for the caption, also in ``note``. Special values are left out of
  scales and norms. Hover still shows the raw value.
- ``order="l2"``: by the L2 norm of the whole filter (all input channels), largest first,
  ties by index. The norm is shown on hover.
- A page of more pixels than the display budget has each tile block-reduced (max-abs, so
  strong weights stay visible); ``Mosaic.tile_block`` says by how much.
- ``aspect`` is the width / height the grid aims for (1 = square, for a PNG; the page asks for
  a wide grid so it uses the screen's width); a page never has more tiles per row than tiles.
- RGB: a pixel's red, green and blue are the weights on the input's R, G and B channels, mapped
  ``0.5 + 0.5 * w / zmax``: mid-grey is 0, brighter is positive, darker negative; ``RGB_LEGEND``
  names the colours a reader meets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from kerascope.extraction.analysis.reduce import reduce_blocks
from kerascope.extraction.layouts import filter_bank

from .specials import SpecialCounts, special_codes, special_counts

Array = np.ndarray[Any, Any]
ChannelMode = Literal["channel", "mean", "rgb"]
Scale = Literal["per_filter", "shared"]
Order = Literal["index", "l2"]

# Pixels (tiles and gaps) per page: keeps z plus 5 float32 hover fields far below 2 MB.
PIXEL_BUDGET = 40_000
LABEL_LIMIT = 144  # more tiles than this on a page: no "#k" labels, hover only


RGB_LEGEND: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("all 3 channels 0", (0.5, 0.5, 0.5)),
    ("R +", (1.0, 0.5, 0.5)),
    ("G +", (0.5, 1.0, 0.5)),
    ("B +", (0.5, 0.5, 1.0)),
    ("R \u2212", (0.0, 0.5, 0.5)),
    ("G \u2212", (0.5, 0.0, 0.5)),
    ("B \u2212", (0.5, 0.5, 0.0)),
    ("all +", (1.0, 1.0, 1.0)),
    ("all \u2212", (0.0, 0.0, 0.0)),
)
"""What an RGB composite's colours mean: each entry's colour is ``0.5 + 0.5 * w / zmax`` for
weights at 0 or at the scale's ends (``+`` = ``zmax``, ``\u2212`` = ``-zmax``) on R, G, B."""
RGB_NOTE = "RGB: red, green, blue = the weight on input channel R, G, B; grey = 0"


@dataclass(frozen=True)
class Mosaic:
    """One page of a filter bank, laid out as an image."""

    image: Array
    """``(H, W)`` display values (raw, or divided by the tile's scale), or ``(H, W, 3)`` in
    ``[0, 1]`` for RGB; NaN in the gaps."""
    custom: Array
    """``(H, W, 5)`` float32 hover data: filter index, row, col, L2 norm, raw value (for RGB
    the mean of the three channels)."""
    scale: Scale
    """``shared`` (one colour scale, shown with a colour bar) or ``per_filter``."""
    zmax: float
    """The colour range is ``[-zmax, zmax]`` (1.0 for per-filter scale)."""
    origins: tuple[tuple[int, int], ...]
    """Top-left pixel of each tile on the page."""
    indices: tuple[int, ...]
    """Filter index of each tile on the page."""
    norms: tuple[float, ...]
    """L2 norm of each tile's whole filter."""
    tile_shape: tuple[int, int]
    """Pixels per tile (after any reduction)."""
    label_space: int
    """Rows of gap below each tile row, where its ``#k`` labels go (also below the last)."""
    tile_block: tuple[int, int]
    """Weights per pixel: ``(1, 1)`` unless the page was reduced to fit the budget."""
    n_filters: int
    """Filters in the whole bank."""
    page: int
    """This page, from 0."""
    pages: int
    """Number of pages."""
    title: str
    """What is shown: kind, filters on this page, channel mode."""
    note: str
    """How colours map to values, for a subtitle or caption."""
    special: Array = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int8))
    """``(H, W)`` int8: ``specials.CODES`` where the pixel holds NaN/+Inf/-Inf, else 0."""
    counts: SpecialCounts = SpecialCounts(0, 0, 0)
    """NaN, +Inf and -Inf values in the whole bank."""

    @property
    def labels(self) -> tuple[str, ...]:
        """``#k`` for each tile."""
        return tuple(f"#{i}" for i in self.indices)


def page_count(n_filters: int, page_size: int = 64) -> int:
    """Pages needed to show ``n_filters`` tiles ``page_size`` at a time (at least 1)."""
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1; received {page_size}")
    return max(1, math.ceil(n_filters / page_size))


def filter_mosaic(
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
    aspect: float = 1.0,
) -> Mosaic:
    """Lay out one page of a kernel's filters as an image; see the module notes.

    ``zmax`` fixes the shared colour range (to compare several banks on one scale); by default
    it is the bank's largest finite ``|w|``. ``title`` replaces the generated title.

    Raises:
        ValueError: a bad kind or shape, ``channel``/``page``/``depth`` out of range, or RGB
            asked of a bank whose tiles do not have exactly 3 input channels.
    """
    bank = filter_bank(kernel, kind, depth).astype(np.float64)
    n, _, _, channels = bank.shape
    norms = np.sqrt(np.sum(np.square(_finite(bank)), axis=(1, 2, 3)))
    shown = _select_channels(bank, kind, channel_mode, channel)
    pages = page_count(n, page_size)
    if not 0 <= page < pages:
        raise ValueError(f"page must be in 0..{pages - 1}; received page={page}")
    ordered = np.argsort(-norms, kind="stable") if order == "l2" else np.arange(n)
    picked = ordered[page * page_size : (page + 1) * page_size]
    tiles = shown[picked]  # (m, rows, cols, c) with c = 1 or 3
    counts = special_counts(bank)
    if channel_mode == "mean":  # the mean skips NaN, so a tile's code comes from all channels
        codes = special_codes(bank[picked]).max(axis=-1)
    else:
        codes = special_codes(tiles).max(axis=-1)
    if scale == "shared":
        zmax = (bank_limit(shown) if zmax is None else float(zmax)) or 1.0
        display = np.clip(tiles, -zmax, zmax)
    else:
        per = np.max(np.abs(_finite(tiles)), axis=(1, 2, 3), initial=0.0)
        per[per == 0] = 1.0
        display = np.clip(tiles / per[:, None, None, None], -1.0, 1.0)
        zmax = 1.0
    tiles, display, codes, block = _fit_budget(tiles, display, codes)
    if channel_mode == "rgb":
        display = 0.5 + 0.5 * display / zmax
    image, custom, origins = _layout(tiles, display, picked, norms[picked], block, aspect)
    special = np.zeros(image.shape[:2], dtype=np.int8)
    rows_t, cols_t = tiles.shape[1], tiles.shape[2]
    for (top, left), code in zip(origins, codes, strict=True):
        special[top : top + rows_t, left : left + cols_t] = code
    first, last = page * page_size + 1, page * page_size + len(picked)
    what = (
        "mean of channels"
        if channel_mode == "mean"
        else "RGB"
        if channel_mode == "rgb"
        else (f"channel {channel}" if channels > 1 else "")
    )
    title = title or f"{kind} filters {first}-{last} of {n}" + (f", {what}" if what else "")
    note = (
        "one colour scale for the whole bank"
        if scale == "shared"
        else "each filter scaled to its own max |w|"
    ) + (", ordered by L2 norm" if order == "l2" else "")
    if channel_mode == "rgb":
        note = f"{RGB_NOTE}, brighter = positive, darker = negative; {note}"
    if block != (1, 1):
        note += f"; 1 pixel = {block[0]} x {block[1]} weights (max-abs)"
    if counts.total:
        note += f"; {counts.caption()} in this bank, in their own colours"
    return Mosaic(
        image=image[..., 0] if channel_mode != "rgb" else image,
        custom=custom,
        scale=scale,
        zmax=zmax,
        origins=origins,
        indices=tuple(int(i) for i in picked),
        norms=tuple(float(v) for v in norms[picked]),
        tile_shape=(int(tiles.shape[1]), int(tiles.shape[2])),
        label_space=_label_space(int(tiles.shape[1])),
        tile_block=block,
        n_filters=n,
        page=page,
        pages=pages,
        title=title,
        note=note,
        special=special,
        counts=counts,
    )


def bank_limit(values: Array) -> float:
    """The shared colour limit of a bank (or several): the largest finite ``|w|``, 0 if none."""
    return float(np.max(np.abs(_finite(np.asarray(values, dtype=np.float64))), initial=0.0))


def _finite(a: Array) -> Array:
    return np.where(np.isfinite(a), a, 0.0)


def _select_channels(bank: Array, kind: str, mode: ChannelMode, channel: int) -> Array:
    channels = bank.shape[-1]
    if mode == "rgb":
        if channels != 3:
            raise ValueError(
                f"an RGB composite needs exactly 3 input channels; this {kind} bank has "
                f"{channels} per filter (use channel_mode='channel' or 'mean')"
            )
        return bank
    if mode == "mean":
        return np.nanmean(bank, axis=-1, keepdims=True) if channels > 1 else bank
    if mode != "channel":
        raise ValueError(f"channel_mode must be 'channel', 'mean' or 'rgb'; received {mode!r}")
    if not 0 <= channel < channels:
        raise ValueError(f"channel must be in 0..{channels - 1}; received channel={channel}")
    return bank[..., channel : channel + 1]


def _label_space(rows: int) -> int:
    return max(1, math.ceil(rows * 0.25))


def _grid(n: int, rows: int, cols: int, gap: int, aspect: float = 1.0) -> int:
    """Tiles per grid row so that the mosaic's width / height comes out near ``aspect``."""
    if aspect <= 0:
        raise ValueError(f"aspect must be positive; received aspect={aspect}")
    return max(1, min(n, round(math.sqrt(aspect * n * (rows + gap) / (cols + 1)))))


def _fit_budget(
    tiles: Array, display: Array, codes: Array
) -> tuple[Array, Array, Array, tuple[int, int]]:
    m, rows, cols, c = tiles.shape
    per_tile = PIXEL_BUDGET // max(m, 1)
    if rows * cols <= per_tile // 2 or m == 0:
        return tiles, display, codes, (1, 1)
    shrink = math.sqrt(rows * cols / max(per_tile // 2, 1))
    max_r, max_c = max(1, int(rows / shrink)), max(1, int(cols / shrink))

    def reduce(stack: Array) -> Array:
        out = [
            np.stack(
                [reduce_blocks(t[..., ch], max_r, max_c, "max_abs").values for ch in range(c)],
                axis=-1,
            )
            for t in stack
        ]
        return np.stack(out)

    block = reduce_blocks(tiles[0, ..., 0], max_r, max_c, "max_abs").block
    # Codes are non-negative, so max-abs keeps the strongest special value of each block.
    reduced_codes = np.stack(
        [reduce_blocks(t, max_r, max_c, "max_abs").values.astype(np.int8) for t in codes]
    )
    return reduce(tiles), reduce(display), reduced_codes, block


def _layout(
    tiles: Array,
    display: Array,
    indices: Array,
    norms: Array,
    block: tuple[int, int],
    aspect: float = 1.0,
) -> tuple[Array, Array, tuple[tuple[int, int], ...]]:
    m, rows, cols, c = tiles.shape
    gap_x, gap_y = 1, _label_space(rows)
    per_row = _grid(m, rows, cols, gap_y, aspect)
    grid_rows = max(1, math.ceil(m / per_row))
    height = grid_rows * rows + (grid_rows - 1) * gap_y
    width = per_row * cols + (per_row - 1) * gap_x
    image = np.full((height, width, c), np.nan)
    custom = np.full((height, width, 5), np.nan, dtype=np.float32)
    # Hover gives the weight's own row and column (the block's first when reduced).
    rr, cc = np.meshgrid(np.arange(rows) * block[0], np.arange(cols) * block[1], indexing="ij")
    raw = tiles.mean(axis=-1) if c == 3 else tiles[..., 0]
    origins = []
    for t in range(m):
        top, left = (t // per_row) * (rows + gap_y), (t % per_row) * (cols + gap_x)
        origins.append((top, left))
        image[top : top + rows, left : left + cols] = display[t]
        cell = custom[top : top + rows, left : left + cols]
        cell[..., 0], cell[..., 1], cell[..., 2] = indices[t], rr, cc
        cell[..., 3], cell[..., 4] = norms[t], raw[t]
    return image, custom, tuple(origins)
