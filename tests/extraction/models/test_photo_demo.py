"""The RGB demo: patches of scikit-learn's sample photos, learned colour and edge filters."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from kerascope.extraction import open_model
from kerascope.extraction.models import demos
from kerascope.extraction.models.activations import layer_activation
from kerascope.extraction.models.demos import demo_info, ensure_demo, sample_inputs, train_demo

NAME = "photo_patches"


def low_frequency_share(kernel: np.ndarray[Any, Any]) -> float:
    """Median over filters of the spectral energy at spatial frequencies 0 and +-1 of a 5x5
    filter (9 of 25 bins): about 9/25 for random weights, near 1 for smooth filters."""
    power = np.abs(np.fft.fft2(kernel, axes=(0, 1))) ** 2  # (5, 5, channels, filters)
    low = power[np.ix_([0, 1, -1], [0, 1, -1])].sum(axis=(0, 1, 2))
    total = power.sum(axis=(0, 1, 2))
    alive = total > 0  # a filter decayed to all zeros has no spectrum to judge
    return float(np.median(low[alive] / total[alive]))


def test_trains_accurately_with_held_out_patches_from_unseen_pixels() -> None:
    ensure_demo(NAME)
    info = demo_info(NAME)
    assert info["test_accuracy"] >= 0.9 and info["test_samples"] == 600
    x, y = sample_inputs(NAME)
    again, _ = sample_inputs(NAME)
    assert x.shape == (600, 16, 16, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and set(y.tolist()) == {0, 1}
    np.testing.assert_array_equal(x, again)
    assert demos.DEMOS[NAME].label(1) == "flower.jpg"


def test_filters_are_smooth_colour_structure_not_their_random_start() -> None:
    records = open_model(f"demo:{NAME}")  # kept: arrays are read lazily from its file
    kernel = records.layer("conv1").weight("kernel").array()
    assert kernel.shape == (5, 5, 3, 16)
    start = demos.DEMOS[NAME].build().get_layer("conv1").get_weights()[0]
    trained, random = low_frequency_share(kernel), low_frequency_share(start)
    assert random < 0.5 and trained > 0.7, (trained, random)
    # Colour: the three channels of a filter differ (not grey detectors only).
    per_channel = kernel.mean(axis=(0, 1))  # (3, filters)
    assert np.ptp(per_channel, axis=0).max() > 0.2 * np.abs(kernel).max()


def test_activations_run_on_a_held_out_patch() -> None:
    model = open_model(f"demo:{NAME}", live=True).live_model
    x, _ = sample_inputs(NAME)
    maps = layer_activation(model, "conv1", x[0])
    assert maps.kind == "maps" and maps.values.shape == (12, 12, 16)
    assert layer_activation(model, "photo", x[0]).values.sum() == pytest.approx(1.0, abs=1e-5)


def test_training_is_deterministic_from_the_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    short = dataclasses.replace(demos.DEMOS[NAME], epochs=1)
    monkeypatch.setitem(demos.DEMOS, NAME, short)
    a, _ = train_demo(NAME, seed=3)
    b, _ = train_demo(NAME, seed=3)
    for va, vb in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(va), np.asarray(vb))
