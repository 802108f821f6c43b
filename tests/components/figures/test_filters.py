"""The conv filter grid, tested by its data: tiles, scales, order, paging, every conv layout."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from kerascope.components.figures.filters import filter_grid_figure, filter_grid_png
from kerascope.components.figures.mosaic import filter_mosaic, page_count
from kerascope.extraction.layouts import filter_bank, filter_count, input_channels

keras = pytest.importorskip("keras")

TWO_MB = 2 * 1024 * 1024


def readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a)
    a.setflags(write=False)
    return a


def known_kernel(layer: keras.layers.Layer, input_shape: tuple[int, ...]) -> np.ndarray:
    """Build ``layer``, give its kernel distinct known values, return them as Keras holds them."""
    layer.build(input_shape)
    variable = layer.depthwise_kernel if hasattr(layer, "depthwise_kernel") else layer.kernel
    values = np.arange(np.prod(variable.shape), dtype=np.float32).reshape(variable.shape)
    values = (values - values.mean()) / values.size
    variable.assign(values)
    return readonly(keras.ops.convert_to_numpy(variable))


def tile(mosaic, k: int) -> np.ndarray:
    top, left = mosaic.origins[k]
    rows, cols = mosaic.tile_shape
    return mosaic.image[top : top + rows, left : left + cols]


def test_conv2d_transpose_filters_are_axis_2() -> None:
    layer = keras.layers.Conv2DTranspose(filters=5, kernel_size=3)
    kernel = known_kernel(layer, (None, 8, 8, 2))
    assert kernel.shape == (3, 3, 5, 2)  # (kh, kw, filters, in)
    assert filter_count(kernel.shape, "conv2d_transpose") == 5
    assert input_channels(kernel.shape, "conv2d_transpose") == 2
    for c in range(2):
        mosaic = filter_mosaic(kernel, kind="conv2d_transpose", channel=c, scale="shared")
        for k in range(5):
            np.testing.assert_array_equal(tile(mosaic, k), kernel[:, :, k, c])


@pytest.mark.parametrize(
    ("make", "input_shape", "kind", "n_filters", "expected_tile"),
    [
        (
            lambda: keras.layers.Conv2D(6, (3, 2)),
            (None, 9, 9, 4),
            "conv2d",
            6,
            lambda k, f: k[:, :, 2, f],
        ),
        (lambda: keras.layers.Conv1D(7, 5), (None, 20, 3), "conv1d", 7, lambda k, f: k[:, :, f]),
        (
            lambda: keras.layers.Conv3D(4, (2, 3, 3)),
            (None, 6, 6, 6, 3),
            "conv3d",
            4,
            lambda k, f: k[1, :, :, 2, f],
        ),
        (
            lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2),
            (None, 8, 8, 3),
            "depthwise_conv2d",
            6,
            lambda k, f: k[:, :, f // 2, f % 2],
        ),
        (
            lambda: keras.layers.SeparableConv2D(8, 3, depth_multiplier=2),
            (None, 8, 8, 3),
            "separable_conv2d",
            6,
            lambda k, f: k[:, :, f // 2, f % 2],
        ),
    ],
    ids=["conv2d", "conv1d", "conv3d", "depthwise", "separable"],
)
def test_every_conv_kind_lays_out_keras_tiles(make, input_shape, kind, n_filters, expected_tile):
    kernel = known_kernel(make(), input_shape)
    before = kernel.copy()
    multi_channel = kind in ("conv2d", "conv3d")
    mosaic = filter_mosaic(
        kernel, kind=kind, channel=2 if multi_channel else 0, depth=1, scale="shared"
    )
    assert mosaic.n_filters == n_filters == filter_count(kernel.shape, kind)
    for f in range(n_filters):
        np.testing.assert_array_equal(tile(mosaic, f), expected_tile(kernel, f))
    np.testing.assert_array_equal(kernel, before)


def test_figure_data_colour_range_and_scale_bar() -> None:
    kernel = readonly(np.random.default_rng(0).standard_normal((3, 3, 2, 10)))
    shared = filter_grid_figure(kernel, kind="conv2d", scale="shared")
    heat = shared.data[0]
    assert isinstance(heat, go.Heatmap)
    m = np.abs(kernel[:, :, 0, :]).max()  # channel 0 of every filter
    assert heat.zmin == -heat.zmax == pytest.approx(-m)
    assert heat.showscale is True and heat.zmid == 0
    mosaic = filter_mosaic(kernel, kind="conv2d")
    assert np.asarray(heat.z).shape == mosaic.image.shape
    assert [a.text for a in shared.layout.annotations] == [f"#{k}" for k in range(10)]
    # y is reversed (filter rows top-down) and leaves room under the last row's labels.
    bottom, top = shared.layout.yaxis.range
    assert top == -0.5 and bottom == mosaic.image.shape[0] - 0.5 + mosaic.label_space
    per = filter_grid_figure(kernel, kind="conv2d", scale="per_filter")
    assert per.data[0].showscale is False
    assert "own max" in per.layout.title.subtitle.text
    assert per.data[0].zmin == -1 and per.data[0].zmax == 1


def test_per_filter_scale_normalises_each_tile_and_keeps_zero_tiles() -> None:
    kernel = np.random.default_rng(1).standard_normal((3, 3, 1, 4)) * [1, 10, 0, 0.01]
    mosaic = filter_mosaic(kernel, kind="conv2d", scale="per_filter")
    for k in (0, 1, 3):
        assert np.abs(tile(mosaic, k)).max() == pytest.approx(1.0)
    np.testing.assert_array_equal(tile(mosaic, 2), 0.0)


def test_shared_scale_spans_the_whole_bank_across_pages() -> None:
    kernel = np.ones((3, 3, 1, 10))
    kernel[..., 9] = -4.0  # only on page 1
    assert filter_mosaic(kernel, kind="conv2d", page_size=5, page=0).zmax == 4.0


def test_hover_data_names_filter_position_norm_and_raw_value() -> None:
    kernel = np.random.default_rng(2).standard_normal((5, 5, 3, 6))
    mosaic = filter_mosaic(kernel, kind="conv2d", channel=1, scale="per_filter")
    top, left = mosaic.origins[4]
    index, row, col, norm, raw = mosaic.custom[top + 2, left + 3]
    assert (index, row, col) == (4, 2, 3)
    assert norm == pytest.approx(np.linalg.norm(kernel[..., 4]), rel=1e-6)
    assert raw == pytest.approx(kernel[2, 3, 1, 4], rel=1e-6)
    first_top, first_left = mosaic.origins[0]
    assert np.isnan(mosaic.custom[first_top + 5, first_left]).all()  # the gap below a tile


def test_order_by_l2_norm_largest_first() -> None:
    kernel = np.ones((2, 2, 3, 4)) * np.array([1.0, 3.0, 2.0, 3.0])
    mosaic = filter_mosaic(kernel, kind="conv2d", order="l2")
    assert mosaic.indices == (1, 3, 2, 0)  # ties keep index order
    assert mosaic.norms[0] == pytest.approx(np.sqrt(12 * 9))


def test_paging() -> None:
    kernel = np.zeros((3, 3, 1, 100))
    assert page_count(100, 64) == 2 and page_count(0, 64) == 1 and page_count(64, 64) == 1
    last = filter_mosaic(kernel, kind="conv2d", page=1, page_size=64)
    assert last.indices == tuple(range(64, 100)) and last.pages == 2
    assert "65-100 of 100" in last.title
    with pytest.raises(ValueError, match="page must be in 0..1"):
        filter_mosaic(kernel, kind="conv2d", page=2)


def test_rgb_composite_for_three_channels() -> None:
    kernel = np.random.default_rng(3).standard_normal((5, 5, 3, 8))
    fig = filter_grid_figure(kernel, kind="conv2d", channel_mode="rgb", scale="shared")
    assert isinstance(fig.data[0], go.Image)
    mosaic = filter_mosaic(kernel, kind="conv2d", channel_mode="rgb")
    values = mosaic.image[np.isfinite(mosaic.image)]
    assert values.min() >= 0.0 and values.max() <= 1.0
    np.testing.assert_allclose(tile(mosaic, 2), 0.5 + 0.5 * kernel[..., 2] / mosaic.zmax)


def test_rgb_refused_unless_three_input_channels() -> None:
    with pytest.raises(ValueError, match="exactly 3 input channels.*has 4"):
        filter_grid_figure(np.zeros((3, 3, 4, 8)), kind="conv2d", channel_mode="rgb")
    with pytest.raises(ValueError, match="exactly 3 input channels"):
        filter_mosaic(np.zeros((3, 3, 3, 2)), kind="depthwise_conv2d", channel_mode="rgb")


def test_mean_over_channels() -> None:
    kernel = np.random.default_rng(4).standard_normal((3, 3, 6, 2))
    mosaic = filter_mosaic(kernel, kind="conv2d", channel_mode="mean")
    np.testing.assert_allclose(tile(mosaic, 1), kernel[..., 1].mean(axis=-1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "conv2d", "channel": 5}, "channel must be in 0..3"),
        ({"kind": "dense"}, "no filter grid for kind"),
        ({"kind": "conv1d"}, "a conv1d kernel has 3 axes"),
    ],
)
def test_bad_requests_raise_clear_errors(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        filter_mosaic(np.zeros((3, 3, 4, 2)), **kwargs)


def test_conv3d_depth_out_of_range() -> None:
    with pytest.raises(ValueError, match="depth must be in 0..1"):
        filter_bank(np.zeros((2, 3, 3, 1, 4)), "conv3d", depth=2)


def test_nan_stays_a_gap_and_inf_is_clipped() -> None:
    kernel = np.random.default_rng(5).standard_normal((3, 3, 1, 3))
    kernel[0, 0, 0, 0] = np.nan
    kernel[1, 1, 0, 1] = np.inf
    mosaic = filter_mosaic(kernel, kind="conv2d", scale="shared")
    finite = kernel[np.isfinite(kernel)]
    assert mosaic.zmax == pytest.approx(np.abs(finite).max())
    assert np.isnan(tile(mosaic, 0)[0, 0])
    assert tile(mosaic, 1)[1, 1] == mosaic.zmax
    assert np.isfinite(mosaic.norms).all()


def test_large_bank_page_stays_under_two_megabytes() -> None:
    kernel = readonly(np.random.default_rng(6).standard_normal((3, 3, 512, 512)).astype("f4"))
    fig = filter_grid_figure(kernel, kind="conv2d", channel=100)
    assert len(pio.to_json(fig, validate=False)) < TWO_MB
    assert len(fig.data[0].customdata) > 0


def test_huge_tiles_are_reduced_to_the_budget() -> None:
    kernel = np.random.default_rng(7).standard_normal((5, 1024, 256)).astype("f4")
    mosaic = filter_mosaic(kernel, kind="conv1d")
    assert mosaic.tile_block != (1, 1)
    assert "1 pixel =" in mosaic.note
    fig = filter_grid_figure(kernel, kind="conv1d")
    assert len(pio.to_json(fig, validate=False)) < TWO_MB


def test_png_export_of_the_same_mosaic() -> None:
    kernel = np.random.default_rng(8).standard_normal((3, 3, 3, 16))
    for mode in ("channel", "rgb"):
        png = filter_grid_png(kernel, kind="conv2d", channel_mode=mode, scale="per_filter")
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
