"""Every component's ``render`` puts its element on a real Streamlit page without an exception."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

SCRIPT = """
import numpy as np
from kerascope.components.figures import filters
from kerascope.components.figures import heatmaps
from kerascope.components.figures import histograms
from kerascope.components.figures import overview
from kerascope.components.figures import tables
from kerascope.components.page import views
from kerascope.extraction.layouts import rnn_gates
from kerascope.extraction.readers.store import ArrayStore
from kerascope.extraction.records import LayerWeights, ModelWeights

rng = np.random.default_rng(0)
kernel = rng.standard_normal((3, 3, 3, 8)).astype("f4")
bias = np.zeros(8, dtype="f4")
dense = rng.standard_normal((20, 12)).astype("f4")
store = ArrayStore()
layers = (
    LayerWeights("conv", "conv", "Conv2D", "conv2d", {}, (
        store.weight("kernel", kernel),
        store.weight("bias", bias),
    )),
    LayerWeights("flat", "flat", "Flatten", "other", {}, ()),
    LayerWeights("lstm", "lstm", "LSTM", "lstm", {}, (
        store.weight("kernel", dense),
    )),
)
model = ModelWeights("<test>", "live", "m", layers, store=store)
mosaic = filters.filter_mosaic(kernel, kind="conv2d", channel_mode="rgb", scale="per_filter")
views.show_filters(filters.mosaic_figure(mosaic), mosaic, key="grid")
bounds, names = rnn_gates("lstm", dense.shape[1])
heat = heatmaps.heatmap_data(dense, gate_boundaries=bounds, gate_names=names, title="lstm")
views.show_heatmap(heatmaps.heatmap_plot(heat), heat, key="heat")
views.show_histogram(None, key="bias", sentence=histograms.describe_constant(bias))
views.show_histogram(histograms.histogram_figure(dense, title="dense"), key="dense-hist")
views.show_table(tables.layer_table(model), key="layers")
views.show_table(tables.weight_stats_table(layers[0]), key="weights")
views.show_overview(overview.overview_figure(model), key="overview")
"""


def test_every_render_runs_on_a_page() -> None:
    at = AppTest.from_string(SCRIPT, default_timeout=60).run()
    assert not at.exception, at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # filter grid, heatmap, one histogram, overview
    assert any("All 8 values equal 0" in info.value for info in at.info)
    assert len(at.dataframe) >= 2  # two tables
    assert any("1 cell = 1 weight" in c.value for c in at.caption)
