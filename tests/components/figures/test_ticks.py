"""Axis ticks chosen to fit: no two labels overlap, for any axis length and label set.

Widths are measured independently of the builder's estimate, with a real font (matplotlib's
DejaVu Sans, wider than the Source Sans a browser draws plotly's ticks in) through Pillow.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest
from PIL import ImageFont

from kerascope.components.figures import heatmaps
from kerascope.components.figures.ticks import (
    FONT_SIZE,
    GAP,
    LINE,
    fitted_ticks,
    text_width,
    tick_step,
)

FONT = ImageFont.truetype(
    str(Path(mpl.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), int(FONT_SIZE)
)


def drawn_width(text: str) -> float:
    return float(FONT.getlength(text))


def range_labels(n: int, block: int, offset: int = 0) -> list[str]:
    out = []
    for i in range(n):
        a = offset + i * block
        out.append(str(a) if block == 1 else f"{a}-{a + block - 1}")
    return out


@pytest.mark.parametrize(
    "text",
    ["0", "1050-1063", "23940-24023", "input unit", "W", "output unit 7", "gate x unit", "%@MW"],
)
def test_estimate_is_never_narrower_than_the_font(text: str) -> None:
    assert text_width(text) >= drawn_width(text)


def assert_no_overlap(labels: list[str], chosen: list[str], length: float) -> None:
    cell = length / len(labels)
    where = [labels.index(t) for t in chosen]
    for a, b in zip(where, where[1:], strict=False):
        room = (b - a) * cell
        assert room >= (drawn_width(labels[a]) + drawn_width(labels[b])) / 2 + GAP, (
            labels[a],
            labels[b],
            room,
        )


@pytest.mark.parametrize("n", [1, 2, 7, 50, 292, 300, 1000, 4096])
@pytest.mark.parametrize("block", [1, 14, 84, 1000])
@pytest.mark.parametrize("length", [40.0, 150.0, 350.0, 600.0, 1400.0])
def test_horizontal_labels_never_overlap(n: int, block: int, length: float) -> None:
    labels = range_labels(n, block, offset=block * 3)
    chosen = fitted_ticks(labels, length, horizontal=True)
    assert chosen[0] == labels[0]
    assert_no_overlap(labels, chosen, length)


def test_ticks_are_as_dense_as_fit() -> None:
    labels = range_labels(292, 14)  # VGG16 fc1's columns, 1 cell = 14 weights
    step = tick_step(labels, 600.0, horizontal=True)
    assert step > 1
    # One step less would collide somewhere: the step is the smallest that fits.
    cell = 600.0 / len(labels)
    smaller = step - 1
    assert any(
        smaller * cell < (text_width(labels[i]) + text_width(labels[i + smaller])) / 2 + GAP
        for i in range(0, len(labels) - smaller, smaller)
    )
    assert len(fitted_ticks(labels, 600.0, horizontal=True)) >= 5


@pytest.mark.parametrize("n", [2, 16, 300, 2000])
@pytest.mark.parametrize("length", [30.0, 150.0, 600.0])
def test_vertical_labels_keep_a_line_apart(n: int, length: float) -> None:
    labels = range_labels(n, 84)
    chosen = fitted_ticks(labels, length, horizontal=False)
    where = [labels.index(t) for t in chosen]
    cell = length / n
    assert all(
        (b - a) * cell >= LINE * FONT_SIZE + GAP for a, b in zip(where, where[1:], strict=False)
    )


def test_nothing_fits_leaves_the_first_label() -> None:
    labels = range_labels(20, 1000)
    assert fitted_ticks(labels, 10.0, horizontal=True) == [labels[0]]
    assert fitted_ticks(labels, 0.0, horizontal=False) == [labels[0]]
    assert fitted_ticks([], 100.0, horizontal=True) == []


def test_vgg16_fc1_heatmap_labels_fit_the_main_area() -> None:
    # 25088 x 4096 without allocating 400 MB: a strided Toeplitz view.
    base = np.random.default_rng(2).standard_normal(25088 + 4096).astype(np.float32)
    big = np.lib.stride_tricks.as_strided(base, (25088, 4096), (4, 4), writeable=False)
    heat = heatmaps.heatmap_data(big)
    fig = heatmaps.heatmap_plot(heat)
    xs, ys = list(fig.data[0].x), list(fig.data[0].y)
    x_ticks, y_ticks = list(fig.layout.xaxis.tickvals), list(fig.layout.yaxis.tickvals)
    assert fig.layout.xaxis.tickmode == "array" and x_ticks[0] == "0-13"
    assert all(t in xs for t in x_ticks) and all(t in ys for t in y_ticks)
    across = heatmaps.WIDTH_HINT - max(map(text_width, ys)) - heatmaps.LEFT_ROOM
    across -= heatmaps.COLORBAR_ROOM
    assert_no_overlap(xs, x_ticks, across)
    assert 5 <= len(x_ticks) <= 12
    assert (x_ticks, y_ticks) == tuple(map(list, heatmaps.axis_ticks(heat)))


@pytest.mark.parametrize("width", [262.0, 402.0, 820.0, 1400.0])
def test_narrower_figures_get_fewer_labels(width: float) -> None:
    m = np.zeros((4000, 3000), dtype=np.float32)
    heat = heatmaps.heatmap_data(m)
    x_ticks, _ = heatmaps.axis_ticks(heat, width_hint=width)
    wider, _ = heatmaps.axis_ticks(heat, width_hint=width * 2)
    assert 1 <= len(x_ticks) <= len(wider)


def test_zoomed_window_labels_keep_full_indices() -> None:
    m = np.arange(2000 * 50, dtype=np.float32).reshape(2000, 50)
    heat = heatmaps.heatmap_data(m, window=(1500, 1900, 10, 40))
    x_ticks, y_ticks = heatmaps.axis_ticks(heat)
    assert x_ticks[0] == "10" and y_ticks[0].startswith("1500")
