"""Quantization debugging: what an export (TFLite, TF.js, ...) did to each weight of a float
model, matched across formats.

Layers are matched by name first (a TFLite scope ``cnn_1/conv_1`` spells the Keras layer
``conv``: the ``_N`` TensorFlow adds to each scope is dropped), then the rest in model order when
their kernels have the same shape in Keras's axes. Weights of a matched pair are matched by role
in order (kernel to kernel, bias to bias) with equal shapes in Keras's axes.

The export's values are its dequantized floats when it stores integers (never the integers), in
Keras's axis order. Decided edge cases:
- relative L2 is ``||Q - W|| / ||W||`` in float64; ``||W|| = 0`` gives 0 when nothing changed
  and ``inf`` otherwise; NaN or Inf on either side gives NaN.
- per-channel errors are given where the export's scales are per channel, along its
  quantized axis (the reference is laid out as the file stores it to find the channels).
- a layer's error pools its matched weights: ``sqrt(sum ||dW||^2 / sum ||W||^2)``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..layouts import from_keras_axes
from ..records import LayerWeights, ModelWeights, Weight

Array = np.ndarray[Any, Any]
MatchedBy = Literal["name", "order"]
_TF_SUFFIX = re.compile(r"_\d+$")


@dataclass(frozen=True)
class WeightError:
    """How far one exported weight is from its float original."""

    layer: str
    """The reference layer's path."""
    weight: str
    """The reference weight's name."""
    other_layer: str
    """The matched layer's path in the export."""
    other_weight: str
    """The matched weight's name in the export."""
    matched_by: MatchedBy
    """How the layers were paired."""
    shape: tuple[int, ...]
    """The shape in Keras's axes."""
    stored_dtype: str
    """How the export stores it (``int8``, ``float16`` ...)."""
    norm: float
    """``||W||`` of the reference."""
    error: float
    """``||Q - W||``."""
    max_abs: float
    """``max |Q - W|``."""
    per_channel: tuple[float, ...] | None
    """Relative L2 per channel where the export has per-channel scales; else None."""

    @property
    def relative(self) -> float:
        """``||Q - W|| / ||W||`` (see the module docstring for 0 and NaN)."""
        return _ratio(self.error**2, self.norm**2)


@dataclass(frozen=True)
class QuantizationReport:
    """Every matched weight of a float model and its export, and what did not match."""

    reference: str
    """The float model's name."""
    other: str
    """The export's name."""
    errors: tuple[WeightError, ...]
    """Reference order."""
    unmatched: tuple[str, ...]
    """Reference layers with weights that found no counterpart."""

    def layer_errors(self) -> list[tuple[str, float]]:
        """``(layer path, pooled relative L2)``, largest loss first (NaN last)."""
        sums: dict[str, list[float]] = {}
        for e in self.errors:
            acc = sums.setdefault(e.layer, [0.0, 0.0])
            acc[0] += e.error**2
            acc[1] += e.norm**2
        pooled = [(p, _ratio(num, den)) for p, (num, den) in sums.items()]
        return sorted(pooled, key=lambda pv: (math.isnan(pv[1]), -pv[1] if pv[1] == pv[1] else 0))

    def ranked(self) -> list[WeightError]:
        """The weights, largest relative error first (NaN last)."""
        return sorted(
            self.errors,
            key=lambda e: (math.isnan(e.relative), -e.relative if e.relative == e.relative else 0),
        )


def match_layers(
    reference: ModelWeights, other: ModelWeights
) -> list[tuple[LayerWeights, LayerWeights, MatchedBy]]:
    """Pairs (reference layer, export layer, how) of layers with weights."""
    refs = [layer for layer in reference.layers if layer.weights and layer.class_name != "Constant"]
    others = [layer for layer in other.layers if layer.weights and layer.class_name != "Constant"]
    pairs: list[tuple[LayerWeights, LayerWeights, MatchedBy]] = []
    taken: set[int] = set()
    for ref in refs:
        for j, o in enumerate(others):
            if j not in taken and (o.path == ref.path or ref.name in _names(o, other.format)):
                pairs.append((ref, o, "name"))
                taken.add(j)
                break
    left = [r for r in refs if all(r is not p[0] for p in pairs)]
    rest = [o for j, o in enumerate(others) if j not in taken]
    i = 0
    for ref in left:
        for k in range(i, len(rest)):
            if _kernel_shape(ref) is not None and _kernel_shape(ref) == _kernel_shape(rest[k]):
                pairs.append((ref, rest[k], "order"))
                i = k + 1
                break
    order = {id(r): n for n, r in enumerate(refs)}
    return sorted(pairs, key=lambda p: order[id(p[0])])


def _names(layer: LayerWeights, fmt: str) -> set[str]:
    segments = layer.path.split("/")
    if fmt == "tflite":
        return {_TF_SUFFIX.sub("", s) for s in segments[1:] or segments}
    return {layer.name}


def _kernel_shape(layer: LayerWeights) -> tuple[int, ...] | None:
    for w in layer.weights:
        if w.role in ("kernel", "embeddings", "depthwise_kernel"):
            return w.keras_axes().shape
    return None


def quantization_error(reference: ModelWeights, other: ModelWeights) -> QuantizationReport:
    """Match ``other`` (an export) to ``reference`` (the float model) and measure every matched
    weight; reads every matched array."""
    errors: list[WeightError] = []
    matched_layers: set[str] = set()
    for ref, o, how in match_layers(reference, other):
        free = list(o.weights)
        for w in ref.weights:
            shape = w.keras_axes().shape
            hit = next(
                (c for c in free if c.role == w.role and c.keras_axes().shape == shape), None
            )
            if hit is None:
                continue
            free.remove(hit)
            errors.append(_measure(ref, w, o, hit, how))
            matched_layers.add(ref.path)
    unmatched = tuple(
        layer.path
        for layer in reference.layers
        if layer.weights and layer.class_name != "Constant" and layer.path not in matched_layers
    )
    return QuantizationReport(reference.name, other.name, tuple(errors), unmatched)


def real_values(weight: Weight) -> Array:
    """What a stored weight means, as float64 in Keras's axes: dequantized when quantized."""
    real = weight.dequantized() if weight.quantization is not None else weight
    return np.asarray(real.keras_axes().array(), dtype=np.float64)


def _measure(
    ref: LayerWeights, w: Weight, o: LayerWeights, q: Weight, how: MatchedBy
) -> WeightError:
    a = real_values(w)
    b = real_values(q)
    finite = bool(np.isfinite(a).all() and np.isfinite(b).all())
    diff = b - a
    norm = float(np.linalg.norm(a.ravel())) if finite else math.nan
    error = float(np.linalg.norm(diff.ravel())) if finite else math.nan
    max_abs = float(np.max(np.abs(diff), initial=0.0)) if finite else math.nan
    per_channel = None
    quant = q.quantization
    if finite and quant is not None and quant.per_channel and quant.axis is not None:
        stored_ref = from_keras_axes(a, q.layout, q.shape)
        stored_diff = from_keras_axes(diff, q.layout, q.shape)
        ax = quant.axis
        num = np.sqrt(np.sum(np.moveaxis(stored_diff, ax, 0).reshape(q.shape[ax], -1) ** 2, axis=1))
        den = np.sqrt(np.sum(np.moveaxis(stored_ref, ax, 0).reshape(q.shape[ax], -1) ** 2, axis=1))
        per_channel = tuple(
            _ratio(float(n) ** 2, float(d) ** 2) for n, d in zip(num, den, strict=True)
        )
    return WeightError(
        ref.path, w.name, o.path, q.name, how, a.shape, q.dtype, norm, error, max_abs, per_channel
    )


def weight_difference(reference: Weight, other: Weight) -> tuple[Array, Array]:
    """``(W, Q)`` in float64 and Keras's axes, ready to subtract.

    Raises:
        ValueError: the shapes differ in Keras's axes.
    """
    a, b = real_values(reference), real_values(other)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}")
    return a, b


def _ratio(change_sq: float, norm_sq: float) -> float:
    if math.isnan(change_sq) or math.isnan(norm_sq):
        return math.nan
    if norm_sq == 0.0:
        return 0.0 if change_sq == 0.0 else math.inf
    return math.sqrt(change_sq / norm_sq)
