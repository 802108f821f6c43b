"""The Optimizer view's builders, tested by their data: each panel has the weight's shape and
role, gradient RMS is drawn on a sequential scale and the step on the diverging one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kerascope.components.figures import optimizer as figures
from kerascope.extraction.readers import read_file
from kerascope.extraction.records import ModelWeights


@pytest.fixture(scope="module")
def cnn(realworld: Path) -> ModelWeights:
    return read_file(realworld / "mnist_cnn.keras", "keras_zip")


def test_derived_panels_have_the_weights_shape_and_role(cnn: ModelWeights) -> None:
    layer = cnn.weighted_layers()[0]
    kernel = layer.weight("kernel")
    rms, step = figures.derived_panels(kernel)
    assert (rms.title, step.title) == ("gradient RMS", "next step")
    for panel in (rms, step):
        assert panel.weight.shape == kernel.shape and panel.weight.role == kernel.role
    assert rms.nonnegative and not step.nonnegative
    assert float(rms.weight.array().min()) >= 0
    assert figures.panel_choices(kernel) == [figures.DERIVED, "m", "v"]
    v = figures.slot_panel(kernel, "v")
    np.testing.assert_allclose(v.weight.array(), kernel.optimizer_slot("v").array())
    assert v.nonnegative


def test_each_view_draws_a_panel_like_the_weight(cnn: ModelWeights) -> None:
    conv = cnn.weighted_layers()[0]
    rms, step = figures.derived_panels(conv.weight("kernel"))
    fig, mosaic = figures.panel_figure(rms, conv, "filters", page_size=16)
    assert (
        fig.data[0].colorscale[0][1]
        != figures.filters.go.Heatmap(colorscale="RdBu_r").colorscale[0][1]
    )
    assert fig.data[0].zmin == 0.0 and mosaic is not None
    fig, _ = figures.panel_figure(step, conv, "filters", page_size=16)
    assert fig.data[0].zmid == 0.0 and fig.data[0].zmin == -fig.data[0].zmax
    dense = cnn.weighted_layers()[-1]
    rms, _ = figures.derived_panels(dense.weight("kernel"))
    fig, heat = figures.panel_figure(rms, dense, "heatmap")
    assert heat is not None and np.asarray(fig.data[0].z).shape == heat.reduced.values.shape
    assert fig.data[0].zmin == 0.0
    assert fig.data[0].colorbar.title.text == "rms"  # named as the filter grid names it, not w
    fig, none = figures.panel_figure(rms, dense, "histogram", bins=20)
    assert none is None and fig.data[0].type == "bar"


def test_summary_says_class_steps_and_settings(cnn: ModelWeights) -> None:
    line = figures.summary(cnn.weighted_layers()[0].weight("kernel"))
    assert line.startswith("Adam · 16,500 steps · learning_rate 0.001")
    assert "beta_2 0.999" in line
