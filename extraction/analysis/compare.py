"""Compare two models of the same architecture (two checkpoints, two epochs): how far each
weight moved, and which layers or weights do not match.

Layers are matched by path and weights by name, never by position. Decided edge cases (each
has a test):
- A layer or weight present in only one model, or with another shape, is listed with its
  status and no numbers; it never stops the comparison. So is a weight whose values cannot be
  read on either side (``unreadable``).
- The relative change is ``||W1 - W0|| / ||W0||`` (Frobenius norms, in float64). When
  ``||W0|| = 0`` (a zero-initialised bias) it is ``inf`` if anything changed and ``0.0`` if
  nothing did; the absolute change ``||W1 - W0||`` is always given beside it.
- NaN or Inf in either array makes both numbers NaN: the change is undefined, not zero.
- A layer's change pools its matched weights: ``sqrt(sum ||dW||^2) / sqrt(sum ||W0||^2)``, with
  the same rules for a zero denominator; a layer with an unreadable weight has none (its other
  weights alone would say it moved less than it may have).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..records import LayerWeights, ModelWeights

Array = np.ndarray[Any, Any]
Status = Literal["matched", "only_before", "only_after", "shape_differs", "unreadable"]
STATUS_TEXT: dict[Status, str] = {
    "matched": "matched",
    "only_before": "only in the first model",
    "only_after": "only in the second model",
    "shape_differs": "shapes differ",
    "unreadable": "cannot be read",
}


@dataclass(frozen=True)
class WeightChange:
    """How one weight moved between the two models."""

    layer: str
    """The layer's path."""
    weight: str
    """The weight's name within its layer."""
    status: Status
    """Whether it could be compared."""
    shape_before: tuple[int, ...] | None
    """Its shape in the first model (None when absent there)."""
    shape_after: tuple[int, ...] | None
    """Its shape in the second model (None when absent there)."""
    norm_before: float | None
    """``||W0||``; None unless matched."""
    change: float | None
    """``||W1 - W0||``; None unless matched."""

    @property
    def relative(self) -> float | None:
        """``||W1 - W0|| / ||W0||`` (see the module docstring for 0 and NaN)."""
        if self.change is None or self.norm_before is None:
            return None
        return _ratio(self.change**2, self.norm_before**2)


@dataclass(frozen=True)
class Comparison:
    """Every weight of both models, matched or not."""

    before: str
    """The first model's name."""
    after: str
    """The second model's name."""
    changes: tuple[WeightChange, ...]
    """First model's order, then what only the second model has."""

    def matched(self) -> list[WeightChange]:
        """The weights that could be compared."""
        return [c for c in self.changes if c.status == "matched"]

    def unmatched(self) -> list[WeightChange]:
        """The weights that could not (missing on one side, or another shape)."""
        return [c for c in self.changes if c.status != "matched"]

    def layer_changes(self) -> list[tuple[str, float]]:
        """``(layer path, pooled relative change)`` for each layer with a matched weight and no
        unreadable one."""
        lost = {c.layer for c in self.changes if c.status == "unreadable"}
        sums: dict[str, list[float]] = {}
        for c in self.matched():
            if c.layer in lost:
                continue
            acc = sums.setdefault(c.layer, [0.0, 0.0])
            acc[0] += (c.change or 0.0) ** 2
            acc[1] += (c.norm_before or 0.0) ** 2
        return [(path, _ratio(num, den)) for path, (num, den) in sums.items()]


def compare_models(before: ModelWeights, after: ModelWeights) -> Comparison:
    """Match ``before`` and ``after`` layer by layer and weight by weight; read every array."""
    after_layers = {layer.path: layer for layer in after.layers}
    changes: list[WeightChange] = []
    seen: set[tuple[str, str]] = set()
    for layer in before.layers:
        other = after_layers.get(layer.path)
        for w in layer.weights:
            seen.add((layer.path, w.name))
            o = _find(other, w.name)
            if o is None:
                changes.append(
                    WeightChange(layer.path, w.name, "only_before", w.shape, None, None, None)
                )
            elif o.shape != w.shape:
                changes.append(
                    WeightChange(layer.path, w.name, "shape_differs", w.shape, o.shape, None, None)
                )
            elif w.readable_stats() is None or o.readable_stats() is None:
                changes.append(
                    WeightChange(layer.path, w.name, "unreadable", w.shape, o.shape, None, None)
                )
            else:
                norm, change = _norms(w.array(), o.array())
                changes.append(
                    WeightChange(layer.path, w.name, "matched", w.shape, o.shape, norm, change)
                )
    for layer, w in after.iter_weights():
        if (layer.path, w.name) not in seen:
            changes.append(
                WeightChange(layer.path, w.name, "only_after", None, w.shape, None, None)
            )
    return Comparison(before.name, after.name, tuple(changes))


def difference(before: ModelWeights, after: ModelWeights, path: str, weight: str) -> Array:
    """``W1 - W0`` of one weight, in float64.

    Raises:
        LayerNotFound: either model lacks the layer or the weight.
        ValueError: the shapes differ (the message gives both).
    """
    w0 = before.layer(path).weight(weight)
    w1 = after.layer(path).weight(weight)
    if w0.shape != w1.shape:
        raise ValueError(
            f"{path}/{weight} has shape {w0.shape} in the first model and {w1.shape} in the "
            "second, so they cannot be subtracted"
        )
    return np.asarray(w1.array(), dtype=np.float64) - np.asarray(w0.array(), dtype=np.float64)


def _find(layer: LayerWeights | None, name: str) -> Any:
    if layer is None:
        return None
    return next((w for w in layer.weights if w.name == name), None)


def _norms(w0: Array, w1: Array) -> tuple[float, float]:
    a = np.asarray(w0, dtype=np.float64)
    b = np.asarray(w1, dtype=np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return math.nan, math.nan
    return float(np.linalg.norm(a.ravel())), float(np.linalg.norm((b - a).ravel()))


def _ratio(change_sq: float, norm_sq: float) -> float:
    if math.isnan(change_sq) or math.isnan(norm_sq):
        return math.nan
    if norm_sq == 0.0:
        return 0.0 if change_sq == 0.0 else math.inf
    return math.sqrt(change_sq / norm_sq)
