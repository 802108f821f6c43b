"""Compare figures by their data: bars per layer, before/after sharing a scale, the difference."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from kerascope.components.figures.compare import change_bar_figure, change_rows, difference_figures
from kerascope.extraction.analysis.compare import compare_models
from kerascope.extraction.readers.live import read_live


def conv_model(scale: float) -> keras.Model:
    m = keras.Sequential(
        [keras.Input((6, 6, 1)), layers.Conv2D(4, 3, name="conv"), layers.Dense(2, name="head")]
    )
    conv = m.get_layer("conv")
    k, b = conv.get_weights()
    conv.set_weights([np.arange(k.size, dtype="float32").reshape(k.shape) * scale, b])
    return m


def test_bars_one_per_layer_with_the_pooled_change() -> None:
    before, after = read_live(conv_model(1.0)), read_live(conv_model(2.0))
    after.layer("head").weight("kernel")  # present, same shape
    cmp = compare_models(before, after)
    fig = change_bar_figure(cmp)
    bar = fig.data[0]
    assert list(bar.y) == ["conv", "head"]
    assert bar.x[0] == 1.0  # doubled: ||2W - W|| / ||W|| = 1
    assert "relative change" in fig.layout.xaxis.title.text
    rows = change_rows(cmp)
    assert {r["status"] for r in rows} == {"matched"} and len(rows) == 4


def test_inf_change_has_no_bar_but_a_label() -> None:
    before = read_live(conv_model(0.0))
    after = read_live(conv_model(1.0))
    fig = change_bar_figure(compare_models(before, after))
    assert fig.data[0].x[0] is None and fig.data[0].text[0] == "moved from all zeros"


def test_conv_difference_grids_share_the_originals_scale() -> None:
    w0 = np.random.default_rng(0).normal(size=(3, 3, 2, 4))
    w1 = w0 * 3.0
    keep = w0.copy()
    before, after, diff = difference_figures(
        w0, w1, kind="conv2d", role="kernel", titles=("a", "b")
    )
    assert before.data[0].zmax == after.data[0].zmax  # one scale for both originals
    assert before.layout.title.text == "a" and diff.layout.title.text.startswith("difference")
    z = np.asarray(diff.data[0].z, dtype=float)
    zb = np.asarray(before.data[0].z, dtype=float)
    np.testing.assert_allclose(z[np.isfinite(z)], 2 * zb[np.isfinite(zb)], rtol=1e-5)
    np.testing.assert_array_equal(w0, keep)


def test_dense_difference_is_a_heatmap() -> None:
    w0 = np.eye(3)
    w1 = np.eye(3) * 0.5
    _, _, diff = difference_figures(w0, w1, kind="dense", role="kernel")
    assert diff.data[0].type == "heatmap"
    np.testing.assert_allclose(np.asarray(diff.data[0].z, dtype=float), -0.5 * np.eye(3))
