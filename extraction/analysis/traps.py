"""Correlation traps (WeightWatcher's ``randomize``): a weight's spectrum against the spectrum of
its own values randomly permuted, and the permuted spectrum's spikes past the Marchenko-Pastur
edge.

Permuting the values keeps every value and destroys every correlation, so the permuted matrix
should be a random matrix whose eigenvalues stay below the Marchenko-Pastur bulk edge. An
eigenvalue of the permuted matrix past that edge cannot come from learned structure: it comes
from a few values far larger than the rest (a "correlation trap", which Martin and Mahoney tie to
badly tuned training, such as too large a learning rate). Spikes of the original spectrum past the
same edge are the learned correlations.

How (decided, documented, tested):
- The ESD is formed as for alpha (``spectrum.esd_plan``: the same matrices and scale), but every
  slice of a stacked kernel is kept whole. The permutation is of all the weight's values at once
  (one seeded ``numpy`` generator, so the check is repeatable), then the matrices are cut again.
- The edge is not fitted (WeightWatcher fits the permuted ESD's width with a kernel density
  estimate): it follows from the values themselves. For ``N x M`` matrices of independent values
  of variance ``s2``, the largest eigenvalue of ``W^T W`` sits near ``s2 (sqrt(N) + sqrt(M))^2``
  (the bulk edge) with Tracy-Widom fluctuations; with Johnstone's centring and scaling the
  threshold is ``s2 (mu + TW_99 * sd)``, which a Gaussian matrix of that shape crosses once in a
  hundred. The values' common mean alone adds one spike of about ``mean^2 N M`` to any matrix,
  correlated or not, so it is taken out of the permuted matrices (never out of the original).
- ``traps`` counts permuted eigenvalues above the threshold; ``spikes`` the original ones; the
  values furthest from the mean (in standard deviations) are listed, since they make the traps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..records import LayerWeights, Weight
from .spectrum import EsdPlan, esd_matrices, esd_plan, matrix_eigenvalues

Array = np.ndarray[Any, Any]

TW1_99 = 2.0234
"""The 99% point of the Tracy-Widom law of real (GOE) matrices."""
LARGEST_SHOWN = 5
"""How many of the values furthest from the mean are listed."""


@dataclass(frozen=True)
class TrapCheck:
    """A weight's spectrum and its permuted spectrum against the random-matrix edge."""

    plan: EsdPlan
    """How the matrices were formed."""
    eigenvalues: Array
    """The weight's ESD (all eigenvalues of its matrices), ascending."""
    random_eigenvalues: Array
    """The ESD of the permuted (and centred) values, ascending."""
    bulk_edge: float
    """``s2 (sqrt(N) + sqrt(M))^2``: where a random matrix's bulk ends."""
    threshold: float
    """The bulk edge plus the Tracy-Widom 99% margin: past this is a spike."""
    traps: int
    """Permuted eigenvalues above ``threshold``: correlation traps."""
    spikes: int
    """Original eigenvalues above ``threshold``: learned correlations (and the mean's spike)."""
    largest: tuple[tuple[tuple[int, ...], float], ...]
    """The values furthest from the mean: (index in the weight, distance in standard
    deviations), largest first."""
    seed: int
    """The permutation's seed."""

    @property
    def summary(self) -> str:
        """One sentence for people."""
        if self.traps:
            worst = self.largest[0][1] if self.largest else math.nan
            return (
                f"{self.traps} correlation trap(s): the permuted weights still have "
                f"{self.traps} eigenvalue(s) past the random-matrix edge, so a few values are "
                f"far larger than the rest (the largest is {worst:.1f} standard deviations from "
                "the mean)."
            )
        return (
            "No correlation trap: once permuted, the weights look like a random matrix (no "
            f"eigenvalue past the edge); {self.spikes} eigenvalue(s) of the layer itself are "
            "past it, its learned correlations."
        )


def correlation_traps(layer: LayerWeights, weight: Weight, *, seed: int = 0) -> TrapCheck | None:
    """The trap check of ``weight`` (see the module docstring); None when it has no spectrum
    (fewer than 2 axes, quantized, not kernel-like) or holds NaN/Inf.

    Raises:
        CorruptFile: the weight's bytes cannot be read.
    """
    plan = esd_plan(layer, weight)
    if plan is None:
        return None
    values = np.asarray(weight.keras_axes().array(), dtype=np.float64)
    if values.size < 2 or not np.isfinite(values).all():
        return None
    mean = float(values.mean())
    std = float(values.std())
    plan = _whole_slices(plan)
    rng = np.random.default_rng(seed)
    permuted = rng.permutation(values.reshape(-1)).reshape(values.shape) - mean
    scale2 = plan.scale * plan.scale
    original = _pooled(plan, values, layer, weight) * scale2
    random = _pooled(plan, permuted, layer, weight) * scale2
    n, m = _matrix_sides(plan, values, layer, weight)
    edge = std * std * scale2 * (math.sqrt(n) + math.sqrt(m)) ** 2
    threshold = std * std * scale2 * _tw_threshold(n, m)
    return TrapCheck(
        plan, original, random, edge, threshold,
        int(np.count_nonzero(random > threshold)), int(np.count_nonzero(original > threshold)),
        _largest(values, mean, std), seed,
    )  # fmt: skip


def _whole_slices(plan: EsdPlan) -> EsdPlan:
    """A stacked plan's slices all kept (traps need every eigenvalue, not the top ``M``)."""
    return plan if plan.method != "stacked" else replace(plan, method="slices")


def _pooled(plan: EsdPlan, values: Array, layer: LayerWeights, weight: Weight) -> Array:
    mats = esd_matrices(plan, values, layer, weight)
    return np.sort(np.concatenate([matrix_eigenvalues(m) for m in mats]))


def _matrix_sides(
    plan: EsdPlan, values: Array, layer: LayerWeights, weight: Weight
) -> tuple[int, int]:
    first = esd_matrices(plan, values, layer, weight)[0]
    return max(first.shape), min(first.shape)


def _tw_threshold(n: int, m: int) -> float:
    """Johnstone's centring plus 99% Tracy-Widom margin for the largest eigenvalue of ``W^T W``
    of an ``n x m`` matrix of unit-variance values."""
    a = math.sqrt(max(n - 0.5, 0.5))
    b = math.sqrt(max(m - 0.5, 0.5))
    centre = (a + b) ** 2
    sd = (a + b) * (1.0 / a + 1.0 / b) ** (1.0 / 3.0)
    return float(centre + TW1_99 * sd)


def _largest(values: Array, mean: float, std: float) -> tuple[tuple[tuple[int, ...], float], ...]:
    if std <= 0:
        return ()
    dist = np.abs(values - mean).reshape(-1)
    count = min(LARGEST_SHOWN, dist.size)
    top = np.argpartition(dist, -count)[-count:]
    top = top[np.argsort(-dist[top])]
    return tuple(
        (tuple(int(i) for i in np.unravel_index(int(k), values.shape)), float(dist[k] / std))
        for k in top
    )
