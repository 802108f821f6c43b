"""The weight heatmap, tested by its data: cells, colour range, labels, budget, gates."""

from __future__ import annotations

import numpy as np
import plotly.io as pio
import pytest

from kerascope.components.figures.heatmaps import (
    MAX_CELLS,
    heatmap_figure,
    heatmap_png,
    reduce_matrix,
)
from kerascope.extraction.layouts import kind_of, rnn_gates, to_2d

keras = pytest.importorskip("keras")


def readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a)
    a.setflags(write=False)
    return a


def test_small_matrix_is_shown_cell_for_cell() -> None:
    m = readonly(np.random.default_rng(0).standard_normal((12, 5)))
    before = m.copy()
    fig = heatmap_figure(m, title="dense kernel")
    heat = fig.data[0]
    np.testing.assert_allclose(np.asarray(heat.z), m, rtol=1e-6)
    limit = np.abs(m).max()
    assert heat.zmin == pytest.approx(-limit) and heat.zmax == pytest.approx(limit)
    assert heat.zmid == 0
    assert fig.layout.xaxis.title.text == "output unit"
    assert fig.layout.yaxis.title.text == "input unit"
    assert fig.layout.title.text == "dense kernel"
    assert "1 cell = 1 weight" in fig.layout.title.subtitle.text
    np.testing.assert_array_equal(m, before)


def test_custom_axis_titles_and_hover() -> None:
    fig = heatmap_figure(np.eye(3), row_label="token id", col_label="embedding dim")
    assert fig.layout.xaxis.title.text == "embedding dim"
    assert "token id %{y}" in fig.data[0].hovertemplate
    assert "embedding dim %{x}" in fig.data[0].hovertemplate


def test_reduced_matrix_hover_names_original_ranges() -> None:
    m = np.random.default_rng(1).standard_normal((490, 80))
    fig = heatmap_figure(m, max_cells=(10, 10), reduce_mode="max_abs")
    heat = fig.data[0]
    assert np.asarray(heat.z).shape == (10, 10)
    assert list(heat.y)[:2] == ["0-48", "49-97"]
    assert list(heat.x)[-1] == "72-79"
    assert "1 cell = 49 x 8 weights (max-abs)" in fig.layout.title.subtitle.text
    # max-abs keeps the sign of the strongest weight of each block.
    block = m[:49, :8]
    assert heat.z[0][0] == pytest.approx(block.flat[np.abs(block).argmax()], rel=1e-6)


def test_uneven_reduction_by_value() -> None:
    m = np.arange(7 * 5, dtype=float).reshape(7, 5)
    fig = heatmap_figure(m, max_cells=(3, 2))
    z = np.asarray(fig.data[0].z)
    assert z.shape == (3, 2)  # blocks 3 x 3: the last row block holds 1 row, last col block 2
    assert z[2, 1] == pytest.approx(m[6:, 3:].mean())
    assert list(fig.data[0].y) == ["0-2", "3-5", "6"]


def test_huge_dense_kernel_stays_under_two_megabytes() -> None:
    # 25088 x 4096 (VGG16's fc1) without allocating 400 MB: a strided Toeplitz view.
    base = np.random.default_rng(2).standard_normal(25088 + 4096).astype(np.float32)
    big = np.lib.stride_tricks.as_strided(base, (25088, 4096), (4, 4), writeable=False)
    fig = heatmap_figure(big, reduce_mode="max_abs")
    assert len(pio.to_json(fig, validate=False)) < 2 * 1024 * 1024
    assert np.asarray(fig.data[0].z).size <= MAX_CELLS
    assert "25088 x 4096 weights; 1 cell = 84 x 14 weights" in fig.layout.title.subtitle.text


def test_cell_budget_caps_any_request() -> None:
    reduced = reduce_matrix(np.zeros((2000, 2000)), "mean", (2000, 2000))
    assert reduced.values.size <= MAX_CELLS


def test_nan_inf_and_all_zero() -> None:
    m = np.array([[1.0, np.nan], [np.inf, -2.0]])
    heat = heatmap_figure(m).data[0]
    assert heat.zmax == 2.0 and heat.zmin == -2.0
    z = np.asarray(heat.z, dtype=float)
    assert np.isnan(z[0, 1]) and z[1, 0] == 2.0  # Inf clipped for colour
    zero = heatmap_figure(np.zeros((3, 3))).data[0]
    assert (zero.zmin, zero.zmax) == (-1.0, 1.0)


def test_empty_matrix_says_so() -> None:
    fig = heatmap_figure(np.zeros((0, 4)))
    assert "empty matrix (0 x 4)" in fig.layout.title.subtitle.text


@pytest.mark.parametrize(
    ("layer", "gates"),
    [
        (keras.layers.LSTM(6), ["i", "f", "c", "o"]),
        (keras.layers.GRU(6), ["z", "r", "h"]),
        (keras.layers.SimpleRNN(6), []),
    ],
    ids=["lstm", "gru", "simple_rnn"],
)
def test_rnn_gate_boundaries_on_real_layers(layer, gates) -> None:
    layer.build((None, 4, 5))
    kernel = keras.ops.convert_to_numpy(layer.cell.recurrent_kernel)
    kind = kind_of(type(layer).__name__)
    matrix, row_label, col_label = to_2d(kernel, "recurrent_kernel", kind)
    bounds, names = rnn_gates(kind, matrix.shape[1])
    assert names == gates
    assert bounds == [6 * g for g in range(1, len(gates))]
    fig = heatmap_figure(
        matrix, row_label=row_label, col_label=col_label, gate_boundaries=bounds, gate_names=names
    )
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert [s.x0 for s in lines] == [b - 0.5 for b in bounds]
    assert [a.text for a in fig.layout.annotations] == [f"<b>{g}</b>" for g in gates]


def test_gate_lines_follow_reduction() -> None:
    fig = heatmap_figure(np.zeros((4, 400)), max_cells=(4, 100), gate_boundaries=[100, 200, 300])
    assert [s.x0 for s in fig.layout.shapes] == [24.5, 49.5, 74.5]


def test_png_export() -> None:
    png = heatmap_png(
        np.random.default_rng(3).standard_normal((40, 80)),
        gate_boundaries=[20, 40, 60],
        gate_names=["i", "f", "c", "o"],
    )
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
