"""Orientation selectivity and colour fraction of conv filters, on filters of known shape."""

from __future__ import annotations

import numpy as np
import pytest

from kerascope.extraction.analysis.orientation import colour_fraction, orientation_selectivity


def gabor(angle: float, size: int = 7, colour: tuple[float, ...] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """A grey (or coloured) Gabor patch, shape (size, size, channels)."""
    r = np.arange(size) - size // 2
    y, x = np.meshgrid(r, r, indexing="ij")
    u = x * np.cos(angle) + y * np.sin(angle)
    g = np.exp(-(x**2 + y**2) / 8.0) * np.cos(2 * np.pi * u / 4.0)
    return g[..., None] * np.array(colour)


def bank(*filters: np.ndarray) -> np.ndarray:
    return np.stack(filters, axis=-1)


def test_gabors_are_selective_and_noise_is_not() -> None:
    gabors = bank(*(gabor(a) for a in np.linspace(0, np.pi, 6, endpoint=False)))
    noise = np.random.default_rng(0).normal(size=(7, 7, 3, 32))
    before = gabors.copy()
    assert np.all(orientation_selectivity(gabors) > 0.8)
    assert np.median(orientation_selectivity(noise)) < 0.25
    assert np.array_equal(gabors, before)  # the kernel is not modified


def test_a_round_blob_and_a_zero_filter_have_no_orientation() -> None:
    r = np.arange(7) - 3
    blob = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / 4.0)[..., None]
    scores = orientation_selectivity(bank(blob, np.zeros((7, 7, 1))))
    assert scores[0] < 0.05 and scores[1] == 0.0


def test_colour_fraction_grey_colour_and_random() -> None:
    grey = gabor(0.3)
    opponent = gabor(0.3, colour=(1.0, -1.0, 0.0))
    random = np.random.default_rng(1).normal(size=(7, 7, 3, 64))
    scores = colour_fraction(bank(grey, opponent))
    assert scores[0] == pytest.approx(0.0, abs=1e-9)
    assert scores[1] == pytest.approx(1.0, abs=1e-9)
    assert abs(float(np.median(colour_fraction(random))) - 2 / 3) < 0.05
    assert np.all(colour_fraction(np.ones((3, 3, 1, 2))) == 0)  # one channel: no colour


def test_not_a_conv2d_kernel_names_the_shape() -> None:
    with pytest.raises(ValueError, match=r"received shape \(3, 4\)"):
        orientation_selectivity(np.zeros((3, 4)))
