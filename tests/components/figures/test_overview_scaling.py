"""The overview at scale: kinds as traces, per-kind or per-layer scale, small multiples by depth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.llama_layout import TINY, write_llama_checkpoint
from kerascope.components.figures.overview import (
    box_figure,
    depth_figure,
    depth_series,
    layer_box,
    normalized,
    overview_figure,
)
from kerascope.extraction import open_model
from kerascope.extraction.records import ModelWeights

keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def convnet() -> ModelWeights:
    keras.utils.set_random_seed(0)
    net = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(8, 3, name="conv_a"),
            keras.layers.BatchNormalization(name="bn_a"),
            keras.layers.Conv2D(8, 3, name="conv_b"),
            keras.layers.BatchNormalization(name="bn_b"),
        ]
    )
    return open_model(net)


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> ModelWeights:
    return open_model(write_llama_checkpoint(tmp_path_factory.mktemp("l") / "m", TINY, seed=2))


def test_per_kind_scale_keeps_batchnorm_from_squashing_convolutions(convnet: ModelWeights) -> None:
    layers = convnet.weighted_layers()
    boxes = [layer_box(la) for la in layers]
    kinds = [la.kind for la in layers]
    raw_conv = max(
        max(abs(b.low), abs(b.high)) for b, k in zip(boxes, kinds, strict=True) if k == "conv2d"
    )
    assert raw_conv < 0.5  # on one axis BatchNorm's gamma of 1 would dwarf them
    by_kind, factors = normalized(boxes, kinds, "kind")
    conv_reach = [max(abs(b.low), abs(b.high)) for b, k in zip(by_kind, kinds, strict=True)]
    assert max(r for r, k in zip(conv_reach, kinds, strict=True) if k == "conv2d") == 1.0
    assert factors[1] == factors[3] == 1.0  # gamma 1 is the batch_norm kind's largest |w|
    assert factors[0] == factors[2] == pytest.approx(raw_conv)
    by_layer, _ = normalized(boxes, kinds, "layer")
    assert all(max(abs(b.low), abs(b.high)) == pytest.approx(1.0) for b in by_layer)
    fig = box_figure(boxes, kinds, title="t", normalize="kind")
    assert "largest |w| of its kind" in fig.layout.xaxis.title.text
    assert [t.name for t in fig.data] == ["conv2d", "batch_norm"]


def test_an_all_zero_layer_is_left_unscaled(convnet: ModelWeights) -> None:
    box = layer_box(convnet.layer("conv_a"))
    zero = box.__class__("z (all zero)", 0, 0, 0, 0, 0, 0, 4)
    out, factors = normalized([box, zero], ["conv2d", "dense"], "layer")
    assert factors[1] == 1.0 and out[1] == zero


def test_filtering_layers_draws_only_those(convnet: ModelWeights) -> None:
    convs = [la for la in convnet.layers if la.kind == "conv2d"]
    fig = overview_figure(convnet, layers=convs)
    assert list(fig.layout.yaxis.categoryarray) == ["conv_a", "conv_b"]


def test_depth_series_of_a_llama_layout_checkpoint(llama: ModelWeights) -> None:
    series = {s.member: s for s in depth_series(llama, "std")}
    assert {"self_attn.q_proj", "self_attn.o_proj", "mlp.up_proj", "input_layernorm"} <= set(series)
    up = series["mlp.up_proj"]
    assert up.stack == "model.layers" and up.blocks == tuple(range(TINY.layers))
    expected = [
        float(
            llama.layer(f"model.layers.{i}.mlp.up_proj").weights[0].array().astype(np.float64).std()
        )
        for i in range(TINY.layers)
    ]
    np.testing.assert_allclose(up.values, expected, rtol=1e-5)
    fig = depth_figure(list(series.values()), "std")
    assert len(fig.data) == len(series)
    assert fig.layout.annotations[0].text in series  # panel titles are the members
    rms = {s.member: s for s in depth_series(llama, "rms")}["mlp.up_proj"]
    assert all(math.isfinite(v) and v > 0 for v in rms.values)


def test_depth_series_is_empty_without_repeated_blocks(convnet: ModelWeights) -> None:
    assert depth_series(convnet) == []
    assert len(depth_figure([]).data) == 0


@pytest.mark.slow
def test_resnet50_overview_has_a_box_per_weighted_layer() -> None:
    net = keras.applications.ResNet50(weights=None)
    model = open_model(net)
    fig = overview_figure(model, max_points_per_layer=2_000, normalize="kind")
    counts = {t.name: len(t.y) for t in fig.data}
    assert counts == {"conv2d": 53, "batch_norm": 53, "dense": 1}
    assert sum(counts.values()) == len(model.weighted_layers()) == 107
