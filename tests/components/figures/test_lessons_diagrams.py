"""Explain's plain words and diagrams for every layer kind, built from real Keras layers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import pytest
from keras import layers
from test_explain import CASES, build

from kerascope.components.figures.diagrams import (
    HIGHLIGHT,
    MAX_WINDOW,
    diagram_for,
    flow_figure,
    matrix_vector_figure,
    window_figure,
)
from kerascope.components.figures.lessons import lesson_for
from kerascope.extraction.layouts import RNN_GATES
from kerascope.extraction.readers.live import read_live
from kerascope.extraction.records import LayerWeights


def live_layer(factory: Callable[[], Any], shape: tuple[int, ...]) -> LayerWeights:
    model, _ = build(factory, shape)
    return read_live(model).layer("layer")


def mha_layer() -> LayerWeights:
    x = keras.Input((4, 6))
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3, name="layer")
    return read_live(keras.Model(x, mha(x, x))).layer("layer")


def named(fig: Any, prefix: str) -> list[Any]:
    return [s for s in fig.layout.shapes if str(s.name or "").startswith(prefix)]


def arrows(fig: Any) -> list[Any]:
    return [a for a in fig.layout.annotations if str(a.name or "").startswith("arrow")]


@pytest.mark.parametrize(("case", "factory", "shape"), CASES, ids=[c[0] for c in CASES])
def test_every_kind_has_words_and_a_picture(
    case: str, factory: Callable[[], Any], shape: tuple[int, ...]
) -> None:
    layer = live_layer(factory, shape)
    lesson = lesson_for(layer)
    assert "no lesson" not in lesson.title, case
    for text in (lesson.computes, lesson.weights, lesson.look_for):
        assert len(text) > 40 and "None" not in text, (case, text)
    fig = diagram_for(layer).figure
    assert fig.layout.shapes and arrows(fig), case


def test_conv_lesson_uses_the_config_numbers() -> None:
    layer = live_layer(next(c for c in CASES if c[0] == "conv2d")[1], (8, 8, 1))
    lesson = lesson_for(layer)
    assert "16 filters" in lesson.weights and "3x3 window" in lesson.computes


@pytest.mark.parametrize(("kh", "kw"), [(3, 3), (1, 1), (5, 2), (7, 7)])
def test_sliding_window_lights_the_kernel_cells(kh: int, kw: int) -> None:
    fig = window_figure(kh, kw)
    lit = named(fig, "window")
    assert len(lit) == min(kh, MAX_WINDOW) * min(kw, MAX_WINDOW)
    assert all(s.fillcolor == HIGHLIGHT for s in lit)
    assert len(named(fig, "output cell")) == 1 and len(arrows(fig)) == 1
    inputs = named(fig, "input") + lit
    x0, x1 = min(s.x0 for s in inputs), max(s.x1 for s in inputs)
    assert all(x0 < s.x0 and s.x1 < x1 for s in lit)  # the window sits inside the input
    assert f"{kh}x{kw}" in fig.layout.title.text


def test_depthwise_has_a_window_per_channel_and_separable_mixes() -> None:
    depthwise = window_figure(3, 3, "depthwise")
    assert len(named(depthwise, "window")) == 18 and len(named(depthwise, "output cell")) == 2
    separable = window_figure(3, 3, "separable")
    assert len(named(separable, "box:mix")) == 1 and len(arrows(separable)) == 4
    assert len(named(window_figure(1, 4, "conv1d"), "window")) == 4
    with pytest.raises(ValueError, match="at least 1"):
        window_figure(0, 3)


def test_dense_lights_one_kernel_column_and_one_output() -> None:
    fig = matrix_vector_figure(64, 10)
    column = named(fig, "window")
    assert len(column) == 6 and len({s.x0 for s in column}) == 1  # one column, capped at 6
    assert len(named(fig, "output cell")) == 1
    assert "64 x 10" in " ".join(a.text for a in fig.layout.annotations)


def test_lstm_gates_and_attention_qkv() -> None:
    _, factory, shape = next(c for c in CASES if c[0] == "lstm")
    lstm = live_layer(factory, shape)
    assert lstm.kind == "lstm"
    fig = diagram_for(lstm)
    assert fig.wide
    labels = [a.text for a in fig.figure.layout.annotations if str(a.name).startswith("label:")]
    assert [t.split(":")[0][0] for t in labels[1:5]] == list(RNN_GATES["lstm"])  # Keras's order
    mha = diagram_for(mha_layer()).figure
    boxes = {s.name for s in named(mha, "box:")}
    assert {"box:q", "box:k", "box:v", "box:scores"} <= boxes
    assert {a.name for a in arrows(mha)} >= {"arrow:q->scores", "arrow:k->scores", "arrow:v->mix"}
    assert "2 heads" in lesson_for(mha_layer()).computes


def test_flow_refuses_arrows_to_missing_boxes() -> None:
    with pytest.raises(ValueError, match="unknown boxes"):
        flow_figure([], [("a", "b")], "t")


def test_weightless_and_unknown_layers_get_the_fallback() -> None:
    model = keras.Sequential([keras.Input((4,)), layers.ReLU(name="layer")])
    relu = read_live(model).layer("layer")
    assert lesson_for(relu).title == "A layer without weights"
    assert "no weights" in " ".join(a.text for a in diagram_for(relu).figure.layout.annotations)
