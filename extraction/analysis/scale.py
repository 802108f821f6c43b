"""How trained weights compare with what their initializers gave them: the ``scale``,
``untrained`` and ``fresh_layer`` checks of the whole-model scan (``extraction.analysis.health``).

- ``scale`` (per kernel-like weight): the weight's std against what its initializer would give
  for its fans (``extraction.analysis.initializers``), as the ratio ``r = std / init_std``, and
  against its peers, the median ``r`` of the model's other weights of the same role (of all
  kernel-like weights when fewer than ``MIN_ROLE_PEERS`` share its role). Embeddings are left
  out (``SCALED_ROLES``). A layer is flagged only when it is off from *both* by the same
  factor: trained weights routinely grow several times past their initial scale (the shared
  corpus has a whole LSTM at 10x), but then so do their peers. ``error`` from
  ``SCALE_ERROR_FACTOR`` (10x, an order of magnitude), ``warning`` from ``SCALE_WARNING_FACTOR``
  (5x); either direction (too large or too small). A model with one
  such weight has no peers: it is then judged against its initializer alone, and only from
  ``SCALE_ALONE_FACTOR`` (100x) on. A weight uniformly scaled inside its layer passes the
  per-layer checks, which compare a layer's units with each other; this one catches it.
- ``untrained`` (one finding for the whole model, ``layer == ""``, ``error``): every kernel-like
  weight is distributed like a fresh draw of its initializer (std within
  ``FRESH_STD_TOLERANCE`` of the initializer's, and no value beyond a bounded initializer's
  limit), every bias whose initializer is zeros is exactly 0, and every BatchNorm is at gamma 1,
  beta 0, moving mean 0, moving variance 1. At least one kernel must have been judged. Then the
  per-layer ``constant_bias`` and ``spectral_alpha`` findings, which would only repeat it, are
  left out.
- ``fresh_layer`` (``warning``): in a model that is not untrained, a layer whose kernels all
  look fresh and whose biases are all 0: it did not train (frozen, or cut off from gradients).

Weights with fewer than ``MIN_SCALE_VALUES`` values, with no finite spread, stored quantized
(int8 and other integer values, in units of their scale), or whose initializer is unknown
(custom, constant) take no part in these checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..records import LayerWeights, ModelWeights, Weight
from .diagnostics import Finding, Severity
from .initializers import InitScale, init_scale
from .stats import Stats

SCALE_ERROR_FACTOR = 10.0
"""Off from its initializer and its peers by this factor (either way): an ``error``."""
SCALE_WARNING_FACTOR = 5.0
"""Off from its initializer and its peers by this factor (either way): a ``warning``."""
SCALE_ALONE_FACTOR = 100.0
"""With no peers, a weight is an ``error`` only this far from its initializer."""
MIN_SCALE_VALUES = 32
"""Weights with fewer values have too noisy a std for the scale and freshness checks."""
FRESH_STD_TOLERANCE = 0.25
"""A fresh weight's std is within this relative distance of its initializer's."""
BOUND_SLACK = 1e-5
"""Relative slack on a bounded initializer's limit (float32 rounding of the drawn values)."""
KERNEL_ROLES = ("kernel", "recurrent_kernel", "depthwise_kernel", "pointwise_kernel", "embeddings")
"""The roles whose scale an initializer sets (all judged for freshness)."""
SCALED_ROLES = ("kernel", "recurrent_kernel", "depthwise_kernel", "pointwise_kernel")
"""The roles judged for scale. Embeddings are not: their initial range is a constant, not set
by fans, and trained embeddings routinely grow far past it while the kernels do not."""
MIN_ROLE_PEERS = 2
"""A weight's peers are the other weights of its role when there are at least this many (a
depthwise kernel grows further past Keras's fan-based start than a pointwise one), else all."""


@dataclass(frozen=True)
class KernelScale:
    """How one kernel-like weight compares with its initializer."""

    layer: str
    """The layer's path."""
    weight: str
    """The weight's name."""
    role: str
    """The weight's role (``kernel``, ``depthwise_kernel`` ...)."""
    std: float
    """Std of its finite values."""
    init: InitScale
    """What its initializer gives."""
    fresh: bool
    """Whether it is distributed like a fresh draw of ``init``."""

    @property
    def log_ratio(self) -> float:
        """``log10(std / init.std)``."""
        return math.log10(self.std / self.init.std)


def stored_as_float(weight: Weight) -> bool:
    """False for quantized weights (int8 ...), stored in units of per-channel scales: their
    spread and spectrum say nothing until dequantized."""
    return weight.dtype.startswith(("float", "bfloat"))


def kernel_scales(layer: LayerWeights) -> list[KernelScale]:
    """The kernel-like weights of ``layer`` whose initializer has a known scale."""
    out: list[KernelScale] = []
    for weight in layer.weights:
        if weight.role not in KERNEL_ROLES or weight.size < MIN_SCALE_VALUES:
            continue
        if not stored_as_float(weight):
            continue
        stats = weight.readable_stats()
        found = kernel_scale(layer, weight, stats) if stats is not None else None
        if found is not None:
            out.append(found)
    return out


def kernel_scale(layer: LayerWeights, weight: Weight, stats: Stats) -> KernelScale | None:
    """How ``weight`` (of ``layer``, with statistics ``stats``) compares with its initializer;
    None when it takes no part (see the module docstring). A weight holding NaN or Inf takes
    no part: it gets the NaN finding only."""
    if weight.role not in KERNEL_ROLES or weight.size < MIN_SCALE_VALUES:
        return None
    if not stored_as_float(weight) or stats.nan_count or stats.inf_count:
        return None
    init = init_scale(layer.config, weight.role, weight.shape)
    if init is None or init.std <= 0 or not stats.std:
        return None
    fresh = abs(stats.std / init.std - 1.0) <= FRESH_STD_TOLERANCE
    if fresh and init.bound is not None:
        biggest = max(abs(stats.min or 0.0), abs(stats.max or 0.0))
        fresh = biggest <= init.bound * (1.0 + BOUND_SLACK)
    return KernelScale(layer.path, weight.name, weight.role, stats.std, init, fresh)


def scale_findings(scales: list[KernelScale]) -> list[Finding]:
    """``scale`` findings: weights off from their initializer and their peers alike."""
    found: list[Finding] = []
    scaled = [s for s in scales if s.role in SCALED_ROLES]
    logs = np.array([s.log_ratio for s in scaled])
    roles = np.array([s.role for s in scaled])
    for i, s in enumerate(scaled):
        own = float(logs[i])
        mask = np.arange(len(scaled)) != i
        same = mask & (roles == s.role)
        others = logs[same] if np.count_nonzero(same) >= MIN_ROLE_PEERS else logs[mask]
        if others.size:
            peer = float(np.median(others))
            off = min(abs(own), abs(own - peer))
            severity: Severity | None = (
                "error"
                if off >= math.log10(SCALE_ERROR_FACTOR)
                else "warning"
                if off >= math.log10(SCALE_WARNING_FACTOR)
                else None
            )
            peers = f", and its {others.size} peers are at {10**peer:.3g}x theirs"
        else:
            severity = "error" if abs(own) >= math.log10(SCALE_ALONE_FACTOR) else None
            peers = ""
        if severity is None:
            continue
        ratio = 10**own
        way = "larger" if own > 0 else "smaller"
        cause = (
            "weights blown up by a too-high learning rate or a bad edit, or a file from another "
            "model"
            if own > 0
            else "weights shrunk by too much weight decay, a vanishing signal, or a bad edit"
        )
        found.append(
            Finding(
                "scale",
                severity,
                s.weight,
                f"std {s.std:.3g} is {_times(ratio)} {way} than {s.init.name} gives for its "
                f"fan-in and fan-out ({s.init.std:.3g}){peers}: this layer is out of line, "
                f"{cause}.",
                (),
                "position",
                s.layer,
            )
        )
    return found


def untrained_finding(model: ModelWeights, scales: list[KernelScale]) -> Finding | None:
    """One ``untrained`` finding when the whole model looks freshly initialised, else None.

    Judged on the weights that can be read (an unreadable one is its own finding)."""
    if not scales or not all(s.fresh for s in scales):
        return None
    readable = [(la, w) for la, w in model.iter_weights() if w.readable_stats() is not None]
    if any(w.stats().nan_count or w.stats().inf_count for _, w in readable):
        return None  # NaN/Inf is its own finding, never "untrained"
    biases = 0
    for layer, weight in readable:
        if weight.role == "bias" and _zero_init(layer, "bias_initializer"):
            if not _all_equal(weight, 0.0):
                return None
            biases += 1
        if layer.kind == "batch_norm" and not _bn_fresh(weight):
            return None
    names = sorted({s.init.name for s in scales})
    what = f"all {biases} biases are exactly 0" if biases else "it has no biases"
    return Finding(
        "untrained",
        "error",
        "",
        f"This model looks untrained: all {len(scales)} kernels are distributed like a fresh "
        f"{' / '.join(names)} draw (std within {FRESH_STD_TOLERANCE:.0%} of the initializer's, "
        f"no value beyond its limit), {what}, and any BatchNorm is at gamma 1, beta 0. Its "
        "outputs are random: was it saved before training, or built without its weights?",
        (),
        "position",
        "",
    )


def fresh_layer_findings(layers: list[LayerWeights], scales: list[KernelScale]) -> list[Finding]:
    """``fresh_layer`` findings: layers still at their initial weights in a trained model."""
    by_layer: dict[str, list[KernelScale]] = {}
    for s in scales:
        by_layer.setdefault(s.layer, []).append(s)
    found = []
    for layer in layers:
        mine = by_layer.get(layer.path)
        if not mine or not all(s.fresh for s in mine):
            continue
        if not all(_all_equal(w, 0.0) for w in layer.by_role("bias")):
            continue
        names = ", ".join(s.weight for s in mine)
        found.append(
            Finding(
                "fresh_layer",
                "warning",
                mine[0].weight,
                f"{names} still look freshly initialised ({mine[0].init.name}, std within "
                f"{FRESH_STD_TOLERANCE:.0%}, no value beyond its limit) and the bias is 0, while "
                "other layers trained: this layer did not learn (frozen, or cut off from the "
                "gradient).",
                (),
                "position",
                layer.path,
            )
        )
    return found


def _zero_init(layer: LayerWeights, key: str) -> bool:
    """Whether ``key``'s initializer is zeros (also when the config does not say)."""
    spec: Any = layer.config.get(key)
    if spec is None:
        return True
    name = spec if isinstance(spec, str) else spec.get("class_name", "") if spec else ""
    return str(name).lower() in ("zeros", "zero")


def _all_equal(weight: Weight, value: float) -> bool:
    stats = weight.readable_stats()
    return stats is not None and stats.size > 0 and stats.min == value and stats.max == value


def _bn_fresh(weight: Weight) -> bool:
    wanted = {"gamma": 1.0, "beta": 0.0, "moving_mean": 0.0, "moving_variance": 1.0}
    value = wanted.get(weight.role)
    return value is None or _all_equal(weight, value)


def _times(ratio: float) -> str:
    return f"{ratio:.3g}x" if ratio >= 1 else f"{1 / ratio:.3g}x"
