"""WeightWatcher 0.7.7's power-law fit of an eigenvalue spectrum, re-implemented without the
``powerlaw`` package (WeightWatcher's own default fitter, ``WWFit``, does not use it either).

What it does, exactly as ``weightwatcher.WW_powerlaw.WWFit`` with ``analyze()``'s defaults:

- The eigenvalues at or below ``EVALS_THRESH`` (an absolute ``1e-5``) are dropped; the rest,
  sorted, are the data. ``xmax`` is their largest, never clipped.
- 20 or more values (``SMALL_N_CUTOFF``): every value but the largest is a candidate ``xmin``.
  For each, the continuous power-law MLE ``alpha = 1 + n / sum(ln(x_i / xmin))`` over the tail
  ``x >= xmin`` (``n`` values), and, where ``alpha > 1``, the Kolmogorov-Smirnov distance ``D``
  between the fitted CDF ``1 - (x / xmin)^(1 - alpha)`` and the tail's empirical CDF
  ``0, 1/n, ..., (n-1)/n``. The first candidate with the smallest ``D`` wins.
- Fewer than 20 values (WeightWatcher's small-N fit): only tails of at least 8 values are
  candidates and alpha is the bias-corrected ``1 + (n - 1) / sum(ln(x_i / xmin))``. Its
  objective ``D - 0.868 / sqrt(n)`` is computed but then overridden, as in WeightWatcher: the
  first candidate with the smallest ``D`` wins here too. With no usable candidate the whole
  spectrum takes the first candidate's place (a flat spectrum leaves alpha 0 and ``D`` 1).
- ``sigma = (alpha - 1) / sqrt(n)`` as WeightWatcher computes it (where the small-N fallback
  decides, it is the value WeightWatcher reports, ``-1 / sqrt(n)``).
- No value above the threshold, or only one: the fit fails and WeightWatcher reports ``alpha =
  -1`` (which its warning then reads as over-trained); ``PowerLawFit.failed`` says so.

The arithmetic follows WeightWatcher's order of operations (``np.sum`` per tail, the same CDF
expression), so alpha and the chosen ``xmin`` are WeightWatcher's to the last bits; the KS
distances are computed for blocks of candidates at once instead of one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]

EVALS_THRESH = 1e-5
"""Eigenvalues at or below this are left out of the fit (WeightWatcher's ``EVALS_THRESH``)."""
SMALL_N_CUTOFF = 20
"""Below this many eigenvalues WeightWatcher uses its small-N fit."""
SMALL_N_MIN_TAIL = 8
"""The small-N fit's shortest tail (its ``k_min``)."""
_BLOCK_VALUES = 1 << 21
"""Values per block of the vectorised KS distances (16 MB of float64)."""


@dataclass(frozen=True)
class PowerLawFit:
    """A power law ``p(x) ~ x^-alpha`` fitted to the tail ``x >= xmin`` of a spectrum."""

    alpha: float
    """The exponent; ``-1.0`` when the fit failed (WeightWatcher's value)."""
    xmin: float
    """Where the tail starts; ``-1.0`` when the fit failed."""
    xmax: float
    """The largest eigenvalue fitted; ``-1.0`` when the fit failed."""
    D: float  # WeightWatcher's name
    """Kolmogorov-Smirnov distance between the fit and the tail; ``-1.0`` when it failed."""
    sigma: float
    """Standard error of alpha, ``(alpha - 1) / sqrt(n_tail)``; ``-1.0`` when it failed."""
    n_tail: int
    """Eigenvalues in the tail (``x >= xmin``, ties with ``xmin`` included); 0 when it failed."""
    n_fitted: int
    """Eigenvalues above ``EVALS_THRESH``, the data the fit saw; 0 when the fit failed."""

    @property
    def failed(self) -> bool:
        """Whether the fit failed (WeightWatcher's ``status == "failed"``)."""
        return self.n_fitted == 0


def fit_power_law(eigenvalues: Array) -> PowerLawFit:
    """WeightWatcher's power-law fit of ``eigenvalues`` (any order; see the module docstring).

    Non-finite values are the caller's to refuse (a weight with NaN has no spectrum).
    """
    evals = np.asarray(eigenvalues, dtype=np.float64).reshape(-1)
    data = np.sort(evals[evals > EVALS_THRESH])
    n = int(data.size)
    if n == 0:
        return PowerLawFit(-1.0, -1.0, -1.0, -1.0, -1.0, 0, 0)
    if n < SMALL_N_CUTOFF:
        small = _fit_small(data)
        if small is None:
            return PowerLawFit(-1.0, -1.0, -1.0, -1.0, -1.0, 0, 0)
        i, alpha, d, sigma = small
    else:
        i, alpha, d, sigma = _fit_standard(data)
    xmin = float(data[i])
    tail = int(np.count_nonzero(data >= xmin))
    return PowerLawFit(float(alpha), xmin, float(data[-1]), float(d), float(sigma), tail, n)


def _tail_sums(log_data: Array) -> Array:
    """``np.sum(log_data[i:])`` for every ``i`` but the last, as WeightWatcher sums each."""
    return np.array([np.sum(log_data[i:]) for i in range(log_data.size - 1)], dtype=np.float64)


def _fit_standard(data: Array) -> tuple[int, float, float, float]:
    n_all = data.size
    log_data = np.log(data, dtype=np.float64)
    counts = (n_all - np.arange(n_all - 1)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        alphas = 1 + counts / (_tail_sums(log_data) - counts * log_data[:-1])
    ds = np.ones(n_all - 1, dtype=np.float64)
    valid = alphas > 1
    rows = max(1, _BLOCK_VALUES // n_all)
    for start in range(0, n_all - 1, rows):
        stop = min(start + rows, n_all - 1)
        idx = np.arange(start, stop)
        keep = valid[idx]
        if not keep.any():
            continue
        idx = idx[keep]
        ds[idx] = _ks_block(data, idx, alphas[idx], counts[idx])
    best = int(np.argmin(ds))
    sigma = (alphas[best] - 1) / np.sqrt(n_all - best)
    return best, float(alphas[best]), float(ds[best]), float(sigma)


def _ks_block(data: Array, idx: Array, alphas: Array, counts: Array) -> Array:
    """The KS distance of the fit at each candidate ``idx`` (a block), as WeightWatcher's
    ``max |1 - (x / xmin)^(-alpha + 1) - arange(n) / n|`` over each tail."""
    first = int(idx[0])
    tail = data[first:]
    j = np.arange(first, data.size)
    xmins = data[idx][:, None]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        model = 1 - (tail[None, :] / xmins) ** (-alphas + 1)[:, None]
        empirical = (j[None, :] - idx[:, None]).astype(np.float64) / counts[:, None]
        dist = np.abs(model - empirical)
    dist[j[None, :] < idx[:, None]] = 0.0  # before each candidate's own tail
    return np.asarray(np.max(dist, axis=1), dtype=np.float64)


def _fit_small(data: Array) -> tuple[int, float, float, float] | None:
    """WeightWatcher's small-N fit as it behaves: its objective only decides which candidate
    the fallback replaces; the winner is then, as in every fit, the first smallest ``D``.
    None for a single value (WeightWatcher's fit fails on it)."""
    n_all = data.size
    if n_all < 2:
        return None
    log_data = np.log(data, dtype=np.float64)
    alphas = np.zeros(n_all - 1, dtype=np.float64)
    ds = np.ones(n_all - 1, dtype=np.float64)
    usable = False
    for i in range(n_all - 1):
        count = n_all - i
        if count < SMALL_N_MIN_TAIL:
            continue
        n = float(count)
        s = np.sum(log_data[i:]) - n * log_data[i]
        if s <= 1e-12:
            continue
        alpha = 1.0 + (n - 1.0) / s
        alphas[i] = alpha
        if alpha <= 1.0:
            continue
        model = 1.0 - (data[i:] / data[i]) ** (1.0 - alpha)
        ds[i] = float(np.max(np.abs(np.arange(count, dtype=np.float64) / n - model)))
        usable = True
    # Sigma comes from the alphas as they stand before the fallback below.
    sigmas = (alphas - 1.0) / np.sqrt(n_all - np.arange(n_all - 1))
    if not usable:  # no tail qualifies: the whole spectrum replaces the first candidate
        n = float(n_all)
        s = np.sum(log_data) - n * log_data[0]
        if s > 1e-12:
            alphas[0] = 1.0 + (n - 1.0) / s
            model = 1.0 - (data / data[0]) ** (1.0 - alphas[0])
            ds[0] = float(np.max(np.abs(np.arange(n_all, dtype=np.float64) / n - model)))
    best = int(np.argmin(ds))
    return best, float(alphas[best]), float(ds[best]), float(sigmas[best])
