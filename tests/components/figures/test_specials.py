"""NaN and +-Inf are visible in every figure: their own colour, a legend entry, counts in the
caption; gaps between filter tiles stay distinguishable from NaN. Health marks in the overview
and the layer table."""

from __future__ import annotations

import numpy as np
import pytest

from kerascope.components.figures.filters import filter_grid_figure, filter_grid_png
from kerascope.components.figures.histograms import histogram_figure, histogram_png
from kerascope.components.figures.mosaic import PIXEL_BUDGET, filter_mosaic
from kerascope.components.figures.specials import (
    CODES,
    COLOURS,
    SpecialCounts,
    special_codes,
    special_counts,
)

PNG = b"\x89PNG\r\n\x1a\n"


def odd_kernel() -> np.ndarray:  # type: ignore[type-arg]
    kernel = np.random.default_rng(0).standard_normal((3, 3, 2, 6)).astype(np.float32)
    kernel[0, 0, 0, 1] = np.nan
    kernel[1, 1, 0, 2] = np.inf
    kernel[2, 2, 0, 4] = -np.inf
    kernel[0, 1, 1, 5] = np.nan  # channel 1 only
    return kernel


def test_counts_codes_and_caption() -> None:
    values = np.array([1.0, np.nan, np.inf, -np.inf, np.nan, 0.0])
    counts = special_counts(values)
    assert counts == SpecialCounts(2, 1, 1)
    assert counts.caption() == "2 NaN, 1 +Inf and 1 -Inf values"
    assert special_codes(values).tolist() == [0, 3, 2, 1, 3, 0]
    assert special_counts(np.arange(4)).total == 0 and SpecialCounts(0, 0, 0).caption() == ""
    assert len(set(COLOURS.values())) == 3 and "#ffffff" not in COLOURS.values()


def test_mosaic_marks_special_pixels_apart_from_gaps() -> None:
    kernel = odd_kernel()
    before = kernel.copy()
    mosaic = filter_mosaic(kernel, kind="conv2d", channel=0)
    np.testing.assert_array_equal(kernel, before)
    assert mosaic.counts == SpecialCounts(2, 1, 1)  # the whole bank, both channels
    special = mosaic.special
    assert special.shape == mosaic.image.shape
    by_filter = {i: origin for i, origin in zip(mosaic.indices, mosaic.origins, strict=True)}
    top, left = by_filter[1]
    assert special[top + 0, left + 0] == CODES["NaN"]
    top, left = by_filter[2]
    assert special[top + 1, left + 1] == CODES["+Inf"]
    top, left = by_filter[4]
    assert special[top + 2, left + 2] == CODES["-Inf"]
    assert np.count_nonzero(special) == 3  # channel 1's NaN is not on this channel's page
    gaps = np.isnan(mosaic.image) & (special == 0)
    assert gaps.any()  # gaps: NaN in the image but no special code
    assert "2 NaN, 1 +Inf and 1 -Inf values in this bank" in mosaic.note


def test_mean_of_channels_keeps_a_nan_of_any_channel_visible() -> None:
    mosaic = filter_mosaic(odd_kernel(), kind="conv2d", channel_mode="mean")
    top, left = mosaic.origins[mosaic.indices.index(5)]
    assert mosaic.special[top + 0, left + 1] == CODES["NaN"]


def test_a_reduced_page_keeps_a_single_nan() -> None:
    kernel = np.ones((64, 64, 1, 32), dtype=np.float32)
    kernel[10, 10, 0, 7] = np.nan
    mosaic = filter_mosaic(kernel, kind="conv2d", page_size=32)
    assert mosaic.tile_block != (1, 1) and mosaic.image.size <= PIXEL_BUDGET * 2
    assert np.count_nonzero(mosaic.special == CODES["NaN"]) == 1


def test_filter_figure_draws_overlays_and_legend_entries() -> None:
    fig = filter_grid_figure(odd_kernel(), kind="conv2d")
    overlays = {t.name: t for t in fig.data if t.type == "heatmap" and t.name}
    assert set(overlays) == {"NaN", "+Inf", "-Inf"}
    nan = overlays["NaN"]
    assert nan.colorscale[0][1] == COLOURS["NaN"] and nan.showscale is False
    assert np.count_nonzero(np.isfinite(np.asarray(nan.z, dtype=float))) == 1
    legend = [t.name for t in fig.data if t.type == "scatter" and t.showlegend]
    assert legend == ["NaN: 2 values", "+Inf: 1 value", "-Inf: 1 value"]
    markers = {
        t.name: (list(t.x), list(t.y)) for t in fig.data if (t.name or "").endswith("marker")
    }
    mosaic = filter_mosaic(odd_kernel(), kind="conv2d")
    top, left = mosaic.origins[mosaic.indices.index(1)]
    assert markers["NaN marker"] == ([left], [top])  # filter 1's NaN at its (0, 0)
    assert "2 NaN, 1 +Inf and 1 -Inf values" in fig.layout.title.subtitle.text


def test_rgb_grid_paints_special_pixels_opaque() -> None:
    kernel = np.random.default_rng(1).standard_normal((3, 3, 3, 4)).astype(np.float32)
    kernel[1, 1, 2, 0] = np.nan
    fig = filter_grid_figure(kernel, kind="conv2d", channel_mode="rgb")
    z = np.asarray(fig.data[0].z)
    assert z[1, 1, 3] == 1.0 and tuple(z[1, 1, :3]) == (255.0, 214.0, 0.0)  # NaN yellow
    assert any(t.name == "NaN: 1 value" for t in fig.data)


def test_pngs_render_with_specials() -> None:
    assert filter_grid_png(odd_kernel(), kind="conv2d").startswith(PNG)
    values = np.array([0.1, 0.2, 0.3, np.nan, np.inf])
    assert histogram_png(values).startswith(PNG)


def test_histogram_draws_each_special_kind_as_its_own_bar() -> None:
    values = np.concatenate([np.linspace(-1, 1, 100), [np.nan, np.nan, np.inf, -np.inf]])
    fig = histogram_figure(values, bins=10)
    extra = {t.name: t for t in fig.data[1:]}
    assert set(extra) == {"NaN: 2 values", "+Inf: 1 value", "-Inf: 1 value"}
    assert list(extra["NaN: 2 values"].y) == [2]
    assert extra["NaN: 2 values"].marker.color == COLOURS["NaN"]
    assert extra["-Inf: 1 value"].x[0] < -1 < 1 < extra["+Inf: 1 value"].x[0]
    assert "2 NaN and 2 Inf left out" in fig.layout.title.subtitle.text
    assert fig.data[0].showlegend is False
    assert len(histogram_figure(np.linspace(0, 1, 10)).data) == 1  # nothing special: one trace


@pytest.mark.parametrize("scale", ["linear", "log_abs"])
def test_overview_marks_layers_with_findings(scale: str) -> None:
    from kerascope.components.figures.overview import overview_figure
    from kerascope.extraction.readers.store import ArrayStore
    from kerascope.extraction.records import LayerWeights, ModelWeights

    store = ArrayStore()

    def layer(path: str, values: np.ndarray) -> LayerWeights:  # type: ignore[type-arg]
        w = store.weight("kernel", values)
        return LayerWeights(path, path, "Dense", "dense", {}, (w,))

    rng = np.random.default_rng(0)
    layers = tuple(layer(p, rng.standard_normal((4, 4))) for p in ("a", "b", "c"))
    model = ModelWeights("x", "live", "m", layers, store=store)
    fig = overview_figure(model, scale=scale, status={"b": "error", "c": "info"})  # type: ignore[arg-type]
    assert list(fig.data[0].y) == ["a", "b (error)", "c (info)"]
    marks = {t.name: list(t.y) for t in fig.data[1:]}
    assert marks == {"error finding": ["b (error)"], "info finding": ["c (info)"]}
    assert len(overview_figure(model, scale=scale).data) == 1  # type: ignore[arg-type]


def test_layer_table_status_column() -> None:
    from kerascope.components.figures.tables import layer_table
    from kerascope.extraction.readers.store import ArrayStore
    from kerascope.extraction.records import LayerWeights, ModelWeights

    values = np.array([[1.0, np.nan], [np.inf, 2.0]])
    store = ArrayStore()
    w = store.weight("kernel", values)
    model = ModelWeights(
        "x",
        "live",
        "m",
        (
            LayerWeights("a", "a", "Dense", "dense", {}, (w,)),
            LayerWeights("flat", "flat", "Flatten", "other", {}, ()),
        ),
        store=store,
    )
    table = layer_table(model, status={"a": "error"})
    assert list(table.columns[:2]) == ["path", "status"]
    assert list(table["status"]) == ["error", "ok"]
    assert table.loc[0, "NaN"] == 1 and table.loc[0, "Inf"] == 1
    assert "status" not in layer_table(model).columns


def test_heatmap_marks_nan_and_inf_cells_even_when_reduced() -> None:
    from kerascope.components.figures.heatmaps import heatmap_data, heatmap_figure, heatmap_png

    matrix = np.random.default_rng(2).standard_normal((600, 400)).astype(np.float32)
    matrix[5, 7] = np.nan
    matrix[300, 200] = np.inf
    matrix[599, 0] = -np.inf
    before = matrix.copy()
    heatmap = heatmap_data(matrix)
    np.testing.assert_array_equal(matrix, before)
    assert heatmap.reduced.block == (2, 2) and heatmap.special.shape == (300, 200)
    assert heatmap.special[2, 3] == CODES["NaN"]
    assert heatmap.special[150, 100] == CODES["+Inf"]
    assert heatmap.special[299, 0] == CODES["-Inf"]
    assert np.count_nonzero(heatmap.special) == 3
    assert heatmap.note.endswith("1 NaN, 1 +Inf and 1 -Inf values in their own colours")
    fig = heatmap_figure(matrix)
    overlays = {t.name: t for t in fig.data if t.type == "heatmap" and t.name}
    assert set(overlays) == {"NaN", "+Inf", "-Inf"}
    assert overlays["NaN"].colorscale[-1][1] == COLOURS["NaN"]
    assert "own colours" in fig.layout.title.subtitle.text
    nan_marker = next(t for t in fig.data if t.name == "NaN marker")
    assert (list(nan_marker.x), list(nan_marker.y)) == (["6-7"], ["4-5"])  # row 5, column 7
    assert heatmap_png(matrix).startswith(PNG)


def test_a_finite_heatmap_has_no_special_traces() -> None:
    from kerascope.components.figures.heatmaps import heatmap_data, heatmap_figure

    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert heatmap_data(matrix).counts.total == 0
    assert len(heatmap_figure(matrix).data) == 1
