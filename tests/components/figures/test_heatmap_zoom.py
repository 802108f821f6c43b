"""Zooming a heatmap to a window of the full matrix, down to one weight per cell."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from kerascope.components.figures.heatmaps import heatmap_data, heatmap_image, heatmap_plot


def matrix() -> np.ndarray:  # type: ignore[type-arg]
    rng = np.random.default_rng(0)
    return rng.standard_normal((3000, 1000)).astype(ml_dtypes.bfloat16)


def test_a_small_window_shows_every_weight_with_full_indices() -> None:
    m = matrix()
    before = m.copy()
    heat = heatmap_data(m, window=(1200, 1240, 500, 530))
    assert heat.reduced.block == (1, 1) and heat.reduced.values.shape == (40, 30)
    np.testing.assert_array_equal(heat.reduced.values, m[1200:1240, 500:530].astype(np.float64))
    assert heat.origin == (1200, 500) and heat.full_shape == (3000, 1000)
    assert heat.note.startswith("rows 1200-1239, columns 500-529 of 3000 x 1000 weights")
    fig = heatmap_plot(heat)
    trace = fig.data[0]
    assert list(trace.y[:2]) == ["1200", "1201"] and trace.x[-1] == "529"
    assert "%{z:.7g}" in trace.hovertemplate
    np.testing.assert_array_equal(m, before)


def test_a_large_window_is_reduced_with_offset_ranges() -> None:
    heat = heatmap_data(matrix(), window=(1000, 3000, 0, 1000), max_cells=(100, 100))
    assert heat.reduced.block == (20, 10)
    trace = heatmap_plot(heat).data[0]
    assert trace.y[0] == "1000-1019" and trace.y[-1] == "2980-2999"
    assert "mean w %{z:.4g}" in trace.hovertemplate


def test_whole_matrix_window_is_the_unzoomed_map() -> None:
    m = matrix()
    heat = heatmap_data(m, window=(0, 3000, 0, 1000))
    assert heat.full_shape is None and heat.note == heatmap_data(m).note


@pytest.mark.parametrize("window", [(5, 5, 0, 10), (0, 3001, 0, 10), (-1, 10, 0, 10)])
def test_empty_or_outside_windows_are_refused(window: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match="window"):
        heatmap_data(matrix(), window=window)


def test_gate_lines_follow_the_window() -> None:
    m = np.zeros((10, 40), dtype=np.float32)
    heat = heatmap_data(
        m, gate_boundaries=[10, 20, 30], gate_names=list("ifco"), window=(0, 10, 15, 40)
    )
    assert heat.gate_boundaries == (5, 15) and heat.gate_names == ()
    assert heatmap_image(heat)[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_box_on_the_cells_maps_to_the_weights_they_pool() -> None:
    from kerascope.components.figures.heatmaps import window_of_cells

    heat = heatmap_data(matrix(), max_cells=(100, 100))  # 1 cell = 30 x 10 weights
    assert window_of_cells(heat, (9.6, 20.2), (-3.0, 0.4)) == (300, 630, 0, 10)
    assert window_of_cells(heat, (98.7, 140.0), (99.2, 99.4)) == (2970, 3000, 990, 1000)
    assert window_of_cells(heat, (150.0, 160.0), (0.0, 1.0)) is None  # below every cell
    zoomed = heatmap_data(matrix(), window=(1200, 1240, 500, 530))  # one weight per cell
    assert window_of_cells(zoomed, (2.0, 3.0), (0.0, 0.0)) == (1202, 1204, 500, 501)
    assert heatmap_plot(zoomed, select_to_zoom=True).layout.dragmode == "select"
