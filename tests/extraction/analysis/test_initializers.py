"""What a fresh initializer gives, checked against real Keras draws and real layer configs."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
from keras import layers

from kerascope.extraction.analysis.initializers import compute_fans, init_scale
from kerascope.extraction.readers.live import read_live

SHAPES = [(300, 200), (3, 3, 16, 32), (3, 3, 64, 1), (5, 40, 8)]
INITIALIZERS: list[tuple[str, Any]] = [
    ("glorot_uniform", keras.initializers.GlorotUniform(seed=1)),
    ("glorot_normal", keras.initializers.GlorotNormal(seed=1)),
    ("he_uniform", keras.initializers.HeUniform(seed=1)),
    ("he_normal", keras.initializers.HeNormal(seed=1)),
    ("lecun_uniform", keras.initializers.LecunUniform(seed=1)),
    ("lecun_normal", keras.initializers.LecunNormal(seed=1)),
    ("uniform", keras.initializers.RandomUniform(-0.2, 0.2, seed=1)),
    ("normal", keras.initializers.RandomNormal(stddev=0.3, seed=1)),
    ("truncated_normal", keras.initializers.TruncatedNormal(stddev=0.3, seed=1)),
    ("orthogonal", keras.initializers.Orthogonal(gain=2.0, seed=1)),
    (
        "variance_scaling",
        keras.initializers.VarianceScaling(3.0, "fan_out", "untruncated_normal", seed=1),
    ),
]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(("name", "initializer"), INITIALIZERS, ids=[n for n, _ in INITIALIZERS])
def test_scale_matches_a_real_keras_draw(
    name: str, initializer: Any, shape: tuple[int, ...]
) -> None:
    config = {"kernel_initializer": keras.initializers.serialize(initializer)}
    scale = init_scale(config, "kernel", shape)
    assert scale is not None and scale.name == name and scale.from_config
    values = np.asarray(initializer(shape))
    assert values.std() == pytest.approx(scale.std, rel=0.08)
    if scale.bound is not None:
        assert np.abs(values).max() <= scale.bound * (1 + 1e-6)
        assert np.abs(values).max() > 0.8 * scale.bound  # the bound is tight, not loose


def test_fans_follow_keras() -> None:
    assert compute_fans((784, 64)) == (784, 64)
    assert compute_fans((3, 3, 16, 32)) == (144, 288)
    assert compute_fans((10,)) == (10, 10)


@pytest.mark.parametrize(
    "spec",
    [
        "he_normal",
        {"class_name": "HeNormal", "config": {"seed": None}},  # Keras 2 .h5
        {"module": "keras.initializers", "class_name": "HeNormal", "config": {"seed": None}},
    ],
    ids=["string", "keras2", "keras3"],
)
def test_every_serialized_form_is_read(spec: Any) -> None:
    scale = init_scale({"kernel_initializer": spec}, "kernel", (100, 10))
    assert scale is not None and scale.name == "he_normal"
    assert scale.std == pytest.approx(np.sqrt(2 / 100))


def test_defaults_and_scaleless_initializers() -> None:
    default = init_scale({}, "kernel", (100, 10))
    assert default is not None and default.name == "glorot_uniform" and not default.from_config
    assert init_scale({}, "recurrent_kernel", (16, 64)) is not None
    embedding = init_scale({}, "embeddings", (1000, 8))
    assert embedding is not None and embedding.bound == pytest.approx(0.05)
    assert init_scale({"kernel_initializer": "zeros"}, "kernel", (4, 4)) is None
    assert init_scale({"kernel_initializer": {"class_name": "MyInit"}}, "kernel", (4, 4)) is None
    assert init_scale({}, "bias", (4,)) is None
    assert init_scale({}, "kernel", (0, 4)) is None


def test_layer_configs_of_real_layers_are_read_through_wrappers() -> None:
    model = keras.Sequential(
        [
            keras.Input((5, 8)),
            layers.Bidirectional(layers.LSTM(4, kernel_initializer="he_uniform"), name="bi"),
            layers.Dense(3, kernel_initializer="lecun_normal", name="d"),
        ]
    )
    records = read_live(model)
    bi = records.layer("bi")
    kernel = next(w for w in bi.weights if w.role == "kernel")
    scale = init_scale(bi.config, kernel.role, kernel.shape)
    assert scale is not None and scale.name == "he_uniform"
    dense = records.layer("d")
    scale = init_scale(dense.config, "kernel", dense.weight("kernel").shape)
    assert scale is not None and scale.name == "lecun_normal"
