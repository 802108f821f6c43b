"""How much a conv filter looks like an oriented edge detector, or a colour detector.

Two numbers per filter of a kernel ``(kh, kw, in_channels, filters)`` (Keras's Conv2D layout):

- ``orientation_selectivity``: the filter's 2-D power spectrum (mean removed, zero-padded to
  ``SPECTRUM_SIDE`` pixels, summed over input channels) as a distribution over orientation; the
  length of its mean resultant vector on the doubled angle. 1 means all the energy lies along
  one orientation (a grating or edge); a white-noise filter of 7x7 pixels scores about 0.1.
- ``colour_fraction``: the share of the filter's energy (mean removed) that lies off the grey
  axis of its input channels (the direction where every channel has the same weight). A pure
  light/dark edge scores 0, a filter that sees only colour differences 1, and a random RGB
  filter about 2/3. One-channel kernels score 0.

Decided: an all-zero (or constant) filter scores 0 on both; the kernel is not modified.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]
SPECTRUM_SIDE = 32
"""Side of the zero-padded FFT the orientation is read from."""


def orientation_selectivity(kernel: Array) -> Array:
    """Per filter, in ``[0, 1]``: how concentrated its spectral energy is on one orientation.

    Raises:
        ValueError: the kernel is not 4-D ``(kh, kw, in, filters)``.
    """
    k = _check(kernel)
    k = k - k.mean(axis=(0, 1, 2), keepdims=True)
    n = SPECTRUM_SIDE
    power = (np.abs(np.fft.fft2(k, s=(n, n), axes=(0, 1))) ** 2).sum(axis=2)  # (n, n, filters)
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.fftfreq(n)[None, :]
    phase = np.exp(2j * np.arctan2(fy, fx))
    phase[0, 0] = 0.0
    total = power.sum(axis=(0, 1))
    resultant = np.abs((power * phase[..., None]).sum(axis=(0, 1)))
    ratio: Array = np.divide(resultant, total, out=np.zeros_like(total), where=total > 0)
    return ratio


def colour_fraction(kernel: Array) -> Array:
    """Per filter, in ``[0, 1]``: the share of its energy that is not grey (see module doc).

    Raises:
        ValueError: the kernel is not 4-D ``(kh, kw, in, filters)``.
    """
    k = _check(kernel)
    if k.shape[2] < 2:
        return np.zeros(k.shape[3])
    k = k - k.mean(axis=(0, 1, 2), keepdims=True)
    grey = k.mean(axis=2, keepdims=True)
    total = (k**2).sum(axis=(0, 1, 2))
    chroma = ((k - grey) ** 2).sum(axis=(0, 1, 2))
    ratio: Array = np.divide(chroma, total, out=np.zeros_like(total), where=total > 0)
    return ratio


def _check(kernel: Array) -> Array:
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 4:
        raise ValueError(
            f"expected a conv kernel (kh, kw, in_channels, filters); received shape {k.shape}"
        )
    return k
