"""The figures a class reads first: wide grids, the RGB legend, one map enlarged, top-5 rows."""

from __future__ import annotations

import numpy as np
import pytest

from kerascope.components.figures.activations import map_figure, prediction_rows
from kerascope.components.figures.compare import change_bar_figure, change_rows
from kerascope.components.figures.filters import filter_grid_figure, filter_grid_png
from kerascope.components.figures.mosaic import RGB_LEGEND, filter_mosaic
from kerascope.extraction.analysis.compare import compare_models
from kerascope.extraction.models.labels import Prediction
from kerascope.extraction.readers.live import read_live


def test_a_wide_aspect_puts_more_filters_in_a_row() -> None:
    kernel = np.random.default_rng(0).normal(size=(3, 3, 1, 16))
    square = filter_mosaic(kernel, kind="conv2d")
    wide = filter_mosaic(kernel, kind="conv2d", aspect=2.6)
    per_row = lambda m: len({left for _, left in m.origins})  # noqa: E731
    assert per_row(square) == 4 and per_row(wide) == 6
    h, w = wide.image.shape
    assert w / h > 1.5 and sorted(wide.indices) == list(range(16))
    with pytest.raises(ValueError, match="aspect"):
        filter_mosaic(kernel, kind="conv2d", aspect=0)


def test_rgb_grid_says_how_colour_maps_to_value() -> None:
    kernel = np.zeros((3, 3, 3, 4))
    kernel[..., 0, 0] = 1.0  # filter 0: only red, positive
    before = kernel.copy()
    mosaic = filter_mosaic(kernel, kind="conv2d", channel_mode="rgb")
    top, left = mosaic.origins[0]
    np.testing.assert_allclose(mosaic.image[top, left], RGB_LEGEND[1][1])  # "R +"
    np.testing.assert_allclose(mosaic.image[mosaic.origins[1]], RGB_LEGEND[0][1])  # grey = 0
    assert "red, green, blue = the weight on input channel R, G, B" in mosaic.note
    fig = filter_grid_figure(kernel, kind="conv2d", channel_mode="rgb")
    legend = [a.text for a in fig.layout.annotations if "R +" in a.text]
    assert len(legend) == 1 and all(label in legend[0] for label, _ in RGB_LEGEND)
    assert filter_grid_png(kernel, kind="conv2d", channel_mode="rgb")[:4] == b"\x89PNG"
    np.testing.assert_array_equal(kernel, before)


def test_one_map_enlarged_keeps_the_layers_scale() -> None:
    maps = np.zeros((5, 7, 3))
    maps[..., 2] = 4.0
    maps[0, 0, 1] = -2.0
    fig = map_figure(maps, 1)
    assert np.asarray(fig.data[0].z).shape == (5, 7)
    assert fig.data[0].zmax == 4.0 and fig.data[0].zmin == -4.0  # shared by all maps
    assert fig.layout.title.text == "map #1 (5x7)"
    with pytest.raises(ValueError, match="index"):
        map_figure(maps, 3)


def test_prediction_rows_are_text_never_none() -> None:
    rows = prediction_rows(
        [
            Prediction(281, "tabby", 0.43, True),
            Prediction(7, "7", 0.0001, True),
            Prediction(716, "class 716", 0.0, True),
        ]
    )
    assert rows[0] == {"rank": "1", "class": "tabby (281)", "probability": "43.0%"}
    assert rows[1]["class"] == "7" and rows[1]["probability"] == "<0.1%"
    assert rows[2]["class"] == "class 716"
    scores = prediction_rows([Prediction(1, "a", 3.5, False)])
    assert scores == [{"rank": "1", "class": "a (1)", "score": "3.5"}]


def test_compare_rows_and_bars_name_the_files_and_show_no_none() -> None:
    import keras
    from keras import layers

    def model(units: int) -> object:
        inputs = keras.Input((3,))
        return keras.Model(inputs, layers.Dense(units, name="d")(inputs), name="sequential")

    comparison = compare_models(read_live(model(2)), read_live(model(4)))
    rows = change_rows(comparison)
    assert all(v is not None and v != "None" for row in rows for v in row.values())
    assert {r["||W1 - W0||"] for r in rows} == {"\u2014"}
    fig = change_bar_figure(comparison, ("a.keras", "b.keras"))
    assert fig.layout.title.text == "How far each layer moved: a.keras -&gt; b.keras"  # as text
