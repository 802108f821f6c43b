"""Spectral diagnostics of a 2-D (or conv) weight, computed on demand: singular values, stable
rank, and WeightWatcher's power-law exponent alpha of the eigenvalue spectrum.

How the matrices are chosen (decided, documented, tested):
- Singular values and the stable rank ``||W||_F^2 / ||W||_2^2`` describe the weight as the
  heatmap shows it (``extraction.layouts.to_2d``): a conv kernel ``(kh, kw, in, out)``
  is the ``(kh*kw*in, out)`` map a filter bank applies to one input patch.
- Alpha follows WeightWatcher: a conv kernel is cut into ``kh*kw`` slices ``(in, out)``, one
  per kernel position, and the eigenvalues of every slice's ``W^T W`` are pooled into one
  empirical spectral density (ESD), as WeightWatcher does by default (``pool=True``). Any other
  weight uses its 2-D form. Each matrix is oriented so that ``N >= M``; its ESD holds the ``M``
  squared singular values. WeightWatcher does not normalize by default, and alpha does not
  depend on the scale anyway.
- The fit is the Clauset-Shalizi-Newman method as WeightWatcher's own fitter runs it: for every
  candidate ``xmin`` among the sorted eigenvalues the continuous power-law MLE
  ``alpha = 1 + n / sum(ln(x_i / xmin))`` over the tail ``x >= xmin``, and the ``xmin`` whose
  fit has the smallest Kolmogorov-Smirnov distance to the tail's empirical CDF wins; ``xmax`` is
  the largest eigenvalue. Unlike WeightWatcher, candidates leaving fewer than ``MIN_TAIL``
  eigenvalues in the tail are skipped (a 2-point tail fits any exponent). Eigenvalues at or
  below ``1e-10`` times the largest are dropped first (numerical zeros of a low-rank matrix).
- Fewer than ``MIN_EIGENVALUES`` usable eigenvalues: no fit (``fit is None``), reading
  ``too_small``.
- A flat spectrum (every singular value within ``FLAT_TOLERANCE`` of the others, as an
  orthogonal matrix has: a recurrent kernel at its ``orthogonal`` initialization): no fit, reading
  ``flat``. A power law fitted to equal values is meaningless (it gave alpha ~4e6).
- Non-finite weights: no spectrum at all (``ValueError``); fix the NaN first.
The reading is WeightWatcher's: alpha < 2 over-trained (or over-fit), 2..6 well trained,
alpha > 6 under-trained (close to a random matrix).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..layouts import SPATIAL_CONV_KINDS, conv_layout, to_2d

Array = np.ndarray[Any, Any]
Reading = Literal["over_trained", "well_trained", "under_trained", "too_small", "flat"]

MIN_TAIL = 10
MIN_EIGENVALUES = 20
FLAT_TOLERANCE = 1e-4
"""Singular values whose largest is within this relative distance of their smallest are equal:
an orthogonal matrix (times its gain), as Keras's ``Orthogonal`` initializer draws."""
_MAX_CANDIDATES = 2000  # candidate xmins tried; keeps the fit O(n * 2000) on large spectra

READINGS: dict[Reading, str] = {
    "over_trained": "alpha below 2: a very heavy tail, typical of over-trained or over-fit layers.",
    "well_trained": "alpha between 2 and 6: the heavy-tailed spectrum of a well-trained layer.",
    "under_trained": "alpha above 6: close to a random matrix, the layer has learned little.",
    "too_small": "too few eigenvalues for a power-law fit.",
    "flat": "all singular values are equal (an orthogonal matrix, as its initializer drew it): "
    "there is no power law to fit, and the weight has not moved from its start.",
}


def is_flat(singular_values: Array) -> bool:
    """Whether every singular value is within ``FLAT_TOLERANCE`` of the others (and not 0)."""
    sv = np.asarray(singular_values, dtype=np.float64)
    if sv.size < 2 or not np.isfinite(sv).all():
        return False
    low, high = float(sv.min()), float(sv.max())
    return low > 0 and high <= low * (1.0 + FLAT_TOLERANCE)


@dataclass(frozen=True)
class PowerLawFit:
    """A power law ``p(x) ~ x^-alpha`` fitted to the tail ``x >= xmin`` of a spectrum."""

    alpha: float
    """The exponent."""
    xmin: float
    """Where the tail starts (chosen by the smallest KS distance)."""
    ks_distance: float
    """Kolmogorov-Smirnov distance between the fit and the tail's empirical CDF."""
    n_tail: int
    """Eigenvalues in the tail."""
    sigma: float
    """Standard error of alpha: ``(alpha - 1) / sqrt(n_tail)``."""


@dataclass(frozen=True)
class Spectrum:
    """Spectral facts about one weight."""

    singular_values: Array
    """Of the 2-D form, descending."""
    stable_rank: float
    """``||W||_F^2 / ||W||_2^2``: between 1 (one direction dominates) and the rank."""
    eigenvalues: Array
    """The ESD that alpha is fitted to (pooled over conv slices), ascending."""
    slices: int
    """How many matrices the ESD pools (``kh*kw`` for a conv kernel, else 1)."""
    fit: PowerLawFit | None
    """None when the spectrum is too small to fit."""
    reading: Reading
    """WeightWatcher's reading of alpha."""

    @property
    def meaning(self) -> str:
        """One sentence for the page."""
        return READINGS[self.reading]


def spectrum(array: Array, role: str, kind: str, *, name: str = "") -> Spectrum:
    """Singular values, stable rank and alpha of a weight of 2 or more axes.

    Raises:
        ValueError: the weight has fewer than 2 axes, no values, or NaN/Inf values.
    """
    values = np.asarray(array, dtype=np.float64)
    if values.ndim < 2 or values.size == 0:
        raise ValueError(f"a spectrum needs a weight of 2 or more axes; received {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("the weight holds NaN or Inf values, so it has no spectrum")
    matrix, _, _ = to_2d(values, role, kind, name=name)
    sv = np.linalg.svd(matrix, compute_uv=False)
    top = float(sv[0]) if sv.size else 0.0
    stable = float(np.sum(sv**2) / top**2) if top > 0 else 0.0
    mats = esd_matrices(values, role, kind, matrix)
    evals = np.sort(np.concatenate([np.linalg.svd(m, compute_uv=False) ** 2 for m in mats]))
    if is_flat(np.sqrt(np.clip(evals, 0.0, None))):
        return Spectrum(sv, stable, evals, len(mats), None, "flat")
    fit = fit_power_law(evals)
    return Spectrum(sv, stable, evals, len(mats), fit, read_alpha(fit))


def esd_matrices(values: Array, role: str, kind: str, matrix: Array) -> list[Array]:
    """The matrices whose eigenvalues form the ESD: conv slices per kernel position, else one."""
    if kind in SPATIAL_CONV_KINDS and role == "kernel" and values.ndim >= 3:
        conv = conv_layout(kind)
        kernel = np.swapaxes(values, -1, -2) if conv and conv.transposed else values
        slices = kernel.reshape(-1, kernel.shape[-2], kernel.shape[-1])
        return [s if s.shape[0] >= s.shape[1] else s.T for s in slices]
    return [matrix if matrix.shape[0] >= matrix.shape[1] else matrix.T]


def fit_power_law(eigenvalues: Array) -> PowerLawFit | None:
    """WeightWatcher's power-law fit of a spectrum (see the module docstring); None if too small."""
    x = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    x = x[np.isfinite(x)]
    if x.size == 0:
        return None
    x = x[x > 1e-10 * x[-1]]
    n = x.size
    if n < MIN_EIGENVALUES or is_flat(np.sqrt(x)):
        return None
    logs = np.log(x)
    # Tail sums of log(x) from each candidate position to the end.
    tail_log = np.cumsum(logs[::-1])[::-1]
    last = n - MIN_TAIL
    candidates = np.unique(np.linspace(0, last, min(last + 1, _MAX_CANDIDATES)).astype(int))
    best: PowerLawFit | None = None
    for i in candidates:
        count = n - i
        denom = tail_log[i] - count * logs[i]
        if denom <= 0:  # all tail values equal xmin: no power law to fit
            continue
        alpha = 1.0 + count / denom
        tail = x[i:]
        model_cdf = 1.0 - (tail / x[i]) ** (1.0 - alpha)
        empirical = np.arange(count) / count
        ks = float(np.max(np.abs(model_cdf - empirical)))
        if best is None or ks < best.ks_distance:
            sigma = (alpha - 1.0) / np.sqrt(count)
            best = PowerLawFit(float(alpha), float(x[i]), ks, int(count), float(sigma))
    return best


def read_alpha(fit: PowerLawFit | None) -> Reading:
    """WeightWatcher's reading: < 2 over-trained, 2..6 well trained, > 6 under-trained."""
    if fit is None:
        return "too_small"
    if fit.alpha < 2.0:
        return "over_trained"
    if fit.alpha <= 6.0:
        return "well_trained"
    return "under_trained"
