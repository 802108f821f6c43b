"""Per-layer health checks: findings a user can act on, each with one sentence of meaning.

Pure numpy: the checks read arrays and return records; the page decides how to show them.
The spectral diagnostics (singular values, stable rank, WeightWatcher's alpha) are computed on
demand in ``extraction.analysis.spectrum``.

What each check looks at, and the thresholds (decided; each has a test):
- ``nan_inf``: any NaN or +-Inf value (severity ``error``); indices are the units that hold one
  (for a 1-D weight, the positions).
- ``dead_units``: a unit (conv filter, Dense output unit, depthwise channel, embedding row)
  whose L2 norm is exactly 0, or below ``DEAD_RATIO`` (1e-3) times the median unit norm of the
  weight. A unit that small contributes nothing its neighbours would notice, so it is dead in
  practice. The relative test needs at least 2 units and a median above 0; all-zero units are
  reported whatever the median. Biases are not part of a unit's norm. Severity: ``error`` when
  every unit is dead (the layer outputs only its bias), ``warning`` from ``DEAD_WARN_FRACTION``
  (10%) of the units, ``info`` below it (trained ReLU networks often lose a few units, and
  weight decay then shrinks them to zero).
- ``exploding_norm``: a unit whose norm is above ``EXPLODE_RATIO`` (100) times the median, or
  any finite value of magnitude above ``ABS_LIMIT`` (1e4), far beyond any trained float32
  network's usual weights.
- ``constant_bias``: a bias or BatchNorm beta of at least 2 values whose finite values have a
  standard deviation at most ``CONST_TOL`` (1e-6) times ``max(1, |mean|)`` (severity ``info``):
  at its initial value, so untrained, frozen, or starved of gradient.
- ``bn_variance``: BatchNorm moving variance below ``VAR_FLOOR`` (1e-5) per channel: the
  channel barely varied on the training data (often fed by dead filters), and normalization
  divides by about ``sqrt(epsilon)``, magnifying any noise in it.
- ``unreadable``: the weight's values cannot be read (damaged bytes found when they are read,
  or the reader crashed on them; severity ``error``); none of its other checks can run, and the
  other weights are still checked.
Weights of fewer than 2 units, scalars and empty arrays only get the NaN/Inf check.

NaN and Inf are never "dead" (decided, tested): a unit holding any NaN or Inf gets the
``nan_inf`` finding only. ``dead_units`` and ``exploding_norm`` compare the finite units (those
without NaN/Inf) with each other, so a kernel that is all NaN has no dead units; ``constant_bias``
and ``bn_variance`` skip a weight holding NaN/Inf (its finite values say nothing reliable once
training diverged).

``CHEAP_CHECKS`` are the checks a run's first pass over every snapshot computes
(``extraction.analysis.snapshots``); the rest are computed when a snapshot's health is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from ..errors import KerascopeError
from ..layouts import unit_matrix
from ..records import LayerWeights, Weight
from .stats import Stats

Array = np.ndarray[Any, Any]
Severity = Literal["error", "warning", "info"]
Check = Literal[
    "nan_inf",
    "dead_units",
    "exploding_norm",
    "constant_bias",
    "bn_variance",
    "scale",
    "untrained",
    "fresh_layer",
    "spectral_alpha",
    "unreadable",
    "no_gradient",
    "gradient_scale",
]
"""The per-layer checks here; ``scale``, ``untrained``, ``fresh_layer`` and ``spectral_alpha``
look across layers (``extraction.analysis.health``); ``no_gradient`` and ``gradient_scale``
read the optimizer's state (``extraction.analysis.optimizer``)."""

DEAD_RATIO = 1e-3
"""A unit is dead when its norm is below this times the median unit norm of its weight."""
DEAD_WARN_FRACTION = 0.1
"""Dead units are a ``warning`` from this share of a weight's units on, ``info`` below it."""
EXPLODE_RATIO = 100.0
"""A unit is exploding when its norm is above this times the median unit norm of its weight."""
ABS_LIMIT = 1e4
"""Any finite value of larger magnitude is exploding, whatever its neighbours."""
CONST_TOL = 1e-6
"""A bias is constant when its std is at most this times ``max(1, |mean|)``."""
VAR_FLOOR = 1e-5
"""A BatchNorm moving variance below this is a channel that barely varied."""
SEVERITY_ORDER: dict[Severity, int] = {"error": 0, "warning": 1, "info": 2}
CHEAP_CHECKS: frozenset[Check] = frozenset({"nan_inf", "exploding_norm"})
"""The per-weight checks of a run's first pass: one look at the values, no per-unit verdicts
that need the whole layer (with ``scale``, which compares statistics only)."""
ALL_CHECKS: frozenset[Check] = frozenset(
    {"nan_inf", "dead_units", "exploding_norm", "constant_bias", "bn_variance"}
)
"""The per-weight checks ``weight_findings`` runs by default."""


@dataclass(frozen=True)
class Finding:
    """One thing worth knowing about one weight of a layer."""

    check: Check
    """Which check found it."""
    severity: Severity
    """``error`` (the model computes garbage), ``warning`` (likely a problem), ``info``."""
    weight: str
    """The weight's name within its layer (``kernel``, ``bias`` ...)."""
    message: str
    """One sentence: what was found and what it means."""
    indices: tuple[int, ...]
    """The affected units (filters, output units, channels) or, for 1-D weights, positions."""
    unit: str
    """What an index counts: ``filter``, ``unit``, ``channel``, ``token``, ``position``."""
    layer: str = ""
    """The layer's path; empty for a finding about the whole model (``untrained``)."""


def layer_findings(layer: LayerWeights, checks: frozenset[Check] = ALL_CHECKS) -> list[Finding]:
    """Every finding for every weight of ``layer``, most severe first (stable otherwise); a
    weight whose values cannot be read is one ``unreadable`` finding."""
    found: list[Finding] = []
    for weight in layer.weights:
        try:
            array = weight.array()  # a failure kept on the weight is raised again, not re-read
        except KerascopeError:
            found.append(unreadable_finding(weight, layer.path))
            continue
        # Statistics already computed (the app's background check has them) spare two passes.
        stats = weight.stats() if weight.has_stats else None
        for finding in weight_findings(array, weight, layer.kind, checks, stats):
            found.append(replace(finding, layer=layer.path))
    return sorted(found, key=lambda f: SEVERITY_ORDER[f.severity])


def unreadable_finding(weight: Weight, layer: str = "") -> Finding:
    """The ``unreadable`` finding of a weight whose read failed (``Weight.failure``)."""
    return Finding(
        "unreadable",
        "error",
        weight.name,
        f"Not checked: {weight.failure or f'weight {weight.name!r} cannot be read'}.",
        (),
        "position",
        layer,
    )


def weight_findings(
    array: Array,
    weight: Weight,
    kind: str,
    checks: frozenset[Check] = ALL_CHECKS,
    stats: Stats | None = None,
) -> list[Finding]:
    """The findings for one weight's values; ``array`` is not modified.

    Args:
        array: the weight's values.
        weight: its record (name, role).
        kind: its layer's kind.
        checks: which checks to run (``CHEAP_CHECKS`` for a run's first pass).
        stats: the values' statistics when already computed (spares two passes over them).
    """
    values = _floats(array)
    found: list[Finding] = []
    if values.size == 0:
        return found
    units, unit = unit_matrix(values, weight.role, kind, weight.name)
    if stats is not None:
        all_finite = not (stats.nan_count or stats.inf_count)
        largest = max(abs(stats.min or 0.0), abs(stats.max or 0.0))
    else:
        all_finite = bool(np.isfinite(values).all())
        largest = None
    finite = None if all_finite else np.isfinite(values)
    good_units: Array | None = None
    if units is None:
        bad = np.flatnonzero(~finite.reshape(-1)) if finite is not None else np.zeros(0, int)
        unit = "position"
    else:
        good_units = np.ones(units.shape[1], bool)
        if finite is not None:
            good_units = np.asarray(np.isfinite(units).all(axis=0))
        bad = np.flatnonzero(~good_units)
    if bad.size and "nan_inf" in checks and finite is not None:
        n_bad = int(np.count_nonzero(~finite))
        found.append(
            Finding(
                "nan_inf",
                "error",
                weight.name,
                f"{n_bad:,} of {values.size:,} values are NaN or Inf, in {bad.size} {unit}(s): "
                "every output they touch is NaN, so training diverged or the file is damaged.",
                _ints(bad),
                unit,
            )
        )
    if units is not None and good_units is not None and units.shape[1] >= 2:
        found.extend(_norm_findings(units, good_units, unit, weight.name, checks, largest))
    elif "exploding_norm" in checks and (largest or _largest(values)) > ABS_LIMIT:
        found.append(_huge(values, weight.name))
    if not all_finite:
        return found  # NaN/Inf: no verdict from the values that are left
    if (
        "constant_bias" in checks
        and weight.role in ("bias", "beta")
        and values.ndim == 1
        and values.size >= 2
    ):
        found.extend(_constant(values, weight.name))
    if weight.role == "moving_variance" and "bn_variance" in checks:
        low = np.flatnonzero(np.isfinite(values.reshape(-1)) & (values.reshape(-1) < VAR_FLOOR))
        if low.size:
            found.append(
                Finding(
                    "bn_variance",
                    "warning",
                    weight.name,
                    f"{low.size} channel(s) have moving variance below {VAR_FLOOR:g}: their input "
                    "barely varied in training (often fed by dead filters), and normalization "
                    "divides by about sqrt(epsilon), magnifying any noise.",
                    _ints(low),
                    "channel",
                )
            )
    return found


def _norm_findings(
    units: Array,
    good: Array,
    unit: str,
    weight: str,
    checks: frozenset[Check],
    largest: float | None = None,
) -> list[Finding]:
    """Dead and exploding units among the finite ones (``good``: units without NaN/Inf);
    indices count all units."""
    found: list[Finding] = []
    kept = np.flatnonzero(good)
    if kept.size == 0:
        return found
    finite = units if kept.size == units.shape[1] else units[:, kept]
    norms = np.sqrt(np.einsum("ij,ij->j", finite, finite, dtype=np.float64))
    median = float(np.median(norms))
    dead = kept[(norms == 0.0) | (norms < DEAD_RATIO * median)]
    if dead.size and "dead_units" in checks:
        dead_norms = norms[np.searchsorted(kept, dead)]
        zero = int(np.count_nonzero(dead_norms == 0.0))
        how = "all zero" if zero == dead.size else f"{zero} all zero, the rest near zero"
        severity: Severity = "info"
        if dead.size == units.shape[1]:
            severity = "error"
            meaning = "every one is, so the layer outputs only its bias whatever its input."
        else:
            if dead.size >= DEAD_WARN_FRACTION * units.shape[1]:
                severity = "warning"
            meaning = "they output nothing and no longer learn, capacity the layer has lost."
        found.append(
            Finding(
                "dead_units",
                severity,
                weight,
                f"{dead.size} of {units.shape[1]} {unit}s are dead ({how}; norm below "
                f"{DEAD_RATIO:g} x the median {median:.3g}): {meaning}",
                _ints(dead),
                unit,
            )
        )
    if "exploding_norm" not in checks:
        return found
    big = kept[norms > EXPLODE_RATIO * median] if median > 0 else np.array([], int)
    if big.size:
        found.append(
            Finding(
                "exploding_norm",
                "warning",
                weight,
                f"{big.size} {unit}(s) have a norm over {EXPLODE_RATIO:g} x the median "
                f"{median:.3g} (largest {norms.max():.3g}): they dominate the layer's output, a "
                "sign of exploding gradients or a too-high learning rate.",
                _ints(big),
                unit,
            )
        )
    elif (largest if largest is not None else _largest(finite)) > ABS_LIMIT:
        found.append(_huge(units, weight))
    return found


def _floats(array: Array) -> Array:
    """``array`` as floats of at least 32 bits, not copied when it already is (a float32 kernel
    is checked as float32; unit norms are summed in float64)."""
    values = np.asarray(array)
    if values.dtype.kind != "f":
        return values.astype(np.float64)
    return values if values.dtype.itemsize >= 4 else values.astype(np.float32)


def _largest(values: Array) -> float:
    """The largest finite magnitude (0.0 without finite values); min and max, not ``abs``, so
    that no temporary the size of the weight is made."""
    finite = values if np.isfinite(values).all() else values[np.isfinite(values)]
    return max(-float(finite.min()), float(finite.max())) if finite.size else 0.0


def _huge(values: Array, weight: str) -> Finding:
    flat = values.reshape(-1)
    where = np.flatnonzero(np.isfinite(flat) & (np.abs(flat) > ABS_LIMIT))
    return Finding(
        "exploding_norm",
        "warning",
        weight,
        f"{where.size} value(s) exceed {ABS_LIMIT:g} in magnitude: far beyond usual trained "
        "weights, a sign of exploding gradients or missing normalization.",
        _ints(where),
        "position",
    )


def _constant(values: Array, weight: str) -> list[Finding]:
    finite = values[np.isfinite(values)].astype(np.float64)
    if finite.size < 2:
        return []
    mean, std = float(finite.mean()), float(finite.std())
    if std > CONST_TOL * max(1.0, abs(mean)):
        return []
    return [
        Finding(
            "constant_bias",
            "info",
            weight,
            f"All {finite.size} values are (nearly) equal to {mean:.4g}: still at their initial "
            "value, so the layer is untrained, frozen, or gets no gradient.",
            (),
            "position",
        )
    ]


def _ints(indices: Array) -> tuple[int, ...]:
    return tuple(int(i) for i in indices)
