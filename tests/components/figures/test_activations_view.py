"""Activation figures by their data: tiles, colour ranges, winners; inputs left unmodified."""

from __future__ import annotations

import numpy as np
import pytest

from kerascope.components.figures.activations import (
    feature_maps_figure,
    input_figure,
    vector_figure,
)


def test_input_figure_grey_and_rgb() -> None:
    grey = np.linspace(0, 1, 64, dtype="float32").reshape(8, 8, 1)
    before = grey.copy()
    fig = input_figure(grey, "sample 3")
    assert fig.data[0].type == "heatmap" and np.asarray(fig.data[0].z).shape == (8, 8)
    assert fig.layout.title.text == "sample 3"
    np.testing.assert_array_equal(grey, before)
    rgb = input_figure(np.full((4, 6, 3), 2.0))  # out of range: clipped for display
    assert rgb.data[0].type == "image" and np.asarray(rgb.data[0].z).max() == 255
    with pytest.raises(ValueError, match=r"\(H, W, 1\)"):
        input_figure(np.zeros((4, 4)))


def test_feature_maps_tile_per_channel_sequential_colours_when_non_negative() -> None:
    maps = np.zeros((8, 8, 16), dtype="float32")
    maps[..., 5] = 3.0
    before = maps.copy()
    fig = feature_maps_figure(maps)
    trace = fig.data[0]
    assert trace.zmin == 0.0 and trace.zmax == 3.0 and trace.zmid is None
    labels = [a.text for a in fig.layout.annotations]
    assert labels == [f"#{k}" for k in range(16)]
    assert "feature maps 1-16 of 16 (8x8)" in fig.layout.title.text
    z = np.asarray(trace.z, dtype=float)
    assert np.nansum(z) == pytest.approx(3.0 * 64)  # only map #5 is lit
    np.testing.assert_array_equal(maps, before)


def test_feature_maps_signed_use_a_symmetric_scale_and_pages() -> None:
    maps = np.random.default_rng(0).normal(size=(4, 4, 70))
    fig = feature_maps_figure(maps, scale="shared")
    assert fig.data[0].zmin == -fig.data[0].zmax and fig.data[0].zmid == 0.0
    second = feature_maps_figure(maps, page=1)
    assert "feature maps 65-70 of 70" in second.layout.title.text
    per = feature_maps_figure(maps, scale="per_filter")
    assert per.data[0].showscale is False and "each map" in per.layout.title.subtitle.text
    with pytest.raises(ValueError, match="page"):
        feature_maps_figure(maps, page=2)
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        feature_maps_figure(np.zeros(5))


def test_vector_figure_marks_the_winner() -> None:
    values = np.array([0.1, 0.7, 0.2])
    fig = vector_figure(values, "digit output", labels=["a", "b", "c"])
    bar = fig.data[0]
    assert list(bar.x) == ["a", "b", "c"] and list(bar.marker.color).count("#d62728") == 1
    assert list(bar.marker.color).index("#d62728") == 1
    assert "largest: unit b" in fig.layout.title.subtitle.text
    empty = vector_figure(np.array([np.nan, np.nan]))
    assert "#d62728" not in list(empty.data[0].marker.color)
