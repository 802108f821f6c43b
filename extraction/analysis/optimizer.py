"""What an optimizer's saved state says about training: gradient RMS, the next step, and the
health findings that follow from them.

Formulas (Keras 3's and Keras 2's own, for the state after ``t`` = ``iterations`` steps):
- gradient RMS: ``sqrt(v / (1 - beta_2 ** t))`` for the Adam family (Adam, AdamW, Nadam, Lamb:
  ``v`` is a running mean of squared gradients started at zero, corrected as Adam corrects it);
  ``sqrt(v)`` for RMSprop and ``sqrt(accum_grad)`` for Adadelta (running means they do not
  correct); ``sqrt((accumulator - initial_accumulator_value) / t)`` for Adagrad (a sum).
- the next step, the change the optimizer adds to the weight given its state (the new gradient
  aside): ``-lr * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) * m / (sqrt(v) + epsilon)`` for the
  Adam family (Keras's form of ``lr * m_hat / (sqrt(v_hat) + eps)``; AdamW's weight decay not
  included); ``-lr / (1 - beta_1 ** t) * m / (u + epsilon)`` for Adamax; the ``momentum`` slot
  for SGD (Keras adds it to the weight) and minus it for RMSprop (Keras subtracts it).
  Other classes' next step needs the gradient itself: there is none.

Health checks (``optimizer_findings``):
- ``no_gradient``: units (filters, output units, embedding rows; positions of a 1-D weight)
  whose second moment is exactly 0 after at least one step: no gradient ever reached them
  (dead ReLU units, embedding rows of tokens never seen, a branch cut off from the loss).
  ``error`` when it is every unit, ``warning`` from ``DEAD_WARN_FRACTION`` (10%) of them,
  ``info`` below (as ``dead_units``: trained ReLU networks often lose a few units).
- ``gradient_scale``: a weight whose gradient RMS (the mean over its values) is at least
  ``GRADIENT_RATIO`` (10) times the median of its peers (the same role: kernels with kernels,
  biases with biases; at least 3 of them), or at most a tenth of it: gradients exploding into
  it, or vanishing before they reach it. ``warning``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..layouts import unit_matrix
from ..optimizers import bias_correction, facts, setting
from ..records import LayerWeights, ModelWeights, OptimizerState, Weight
from .diagnostics import DEAD_WARN_FRACTION, Finding, Severity

Array = np.ndarray[Any, Any]

GRADIENT_RATIO = 10.0
"""A weight's gradient RMS this many times its peers' median (or a tenth of it) is a finding."""
MIN_PEERS = 3
"""Peers needed (the weight included) before a gradient RMS is judged against them."""


@dataclass(frozen=True)
class Derived:
    """One array derived from a weight's optimizer state, with what it is."""

    values: Array
    """Same shape as the weight (Keras's axes)."""
    title: str
    """What it is, for a figure title: ``gradient RMS sqrt(v_hat)``."""
    formula: str
    """How it was computed, with the settings used."""


def gradient_rms(weight: Weight) -> Derived | None:
    """The per-value gradient RMS the state implies (see the module docstring); None when the
    weight has no state or its class keeps no second moment."""
    state = weight.optimizer
    if state is None:
        return None
    return gradient_rms_of(state, lambda slot: _slot(weight, slot), state.iterations)


def gradient_rms_of(
    state: OptimizerState, slot: Callable[[str], Array], iterations: int | None
) -> Derived | None:
    """``gradient_rms`` from the values ``slot(name)`` gives for each slot of ``state``, after
    ``iterations`` steps (another snapshot of the same layout: its own arrays and step)."""
    hyper, t = dict(state.hyper), iterations
    name = state.class_name
    f = facts(name)
    if f is not None and f.second_moment is not None and state.slot(f.second_moment):
        v = np.asarray(slot(f.second_moment), dtype=np.float64)
        if f.step == "adam" or name == "Lamb":
            correction = bias_correction(setting(name, hyper, "beta_2"), t)
            values = np.sqrt(np.maximum(v, 0) / correction)
            return Derived(values, "gradient RMS", f"sqrt(v / (1 - beta_2^t)), t = {_t(t)}")
        return Derived(np.sqrt(np.maximum(v, 0)), "gradient RMS", f"sqrt({f.second_moment})")
    if name == "Adagrad" and state.slot("accumulator") and t:
        acc = np.asarray(slot("accumulator"), dtype=np.float64)
        init = setting(name, hyper, "initial_accumulator_value") or 0.0
        values = np.sqrt(np.maximum(acc - init, 0) / t)
        return Derived(values, "gradient RMS", f"sqrt((accumulator - {init:g}) / {t:,})")
    return None


def next_step(weight: Weight) -> Derived | None:
    """The change the optimizer would add to the weight next, from its state alone (see the
    module docstring); None when that needs the gradient, or a setting is unknown."""
    state = weight.optimizer
    f = facts(state.class_name) if state is not None else None
    if state is None or f is None or f.step is None:
        return None
    hyper, t, name = dict(state.hyper), state.iterations, state.class_name
    lr, eps = setting(name, hyper, "learning_rate"), setting(name, hyper, "epsilon")
    if f.step == "momentum":
        if not state.slot("momentum"):
            return None
        sign = -1.0 if name == "RMSprop" else 1.0
        values = sign * _slot(weight, "momentum")
        return Derived(values, "next step", "momentum" if sign > 0 else "-momentum")
    if lr is None or eps is None or not state.slot("m"):
        return None
    m = _slot(weight, "m")
    b1 = bias_correction(setting(name, hyper, "beta_1"), t)
    if f.step == "adamax":
        if not state.slot("u"):
            return None
        values = -lr / b1 * m / (_slot(weight, "u") + eps)
        return Derived(values, "next step", f"-lr/(1-beta_1^t) * m/(u+eps), lr = {lr:.3g}")
    if not state.slot("v"):
        return None
    b2 = bias_correction(setting(name, hyper, "beta_2"), t)
    values = -lr * math.sqrt(b2) / b1 * m / (np.sqrt(np.maximum(_slot(weight, "v"), 0)) + eps)
    return Derived(
        values,
        "next step",
        f"-lr * m_hat / (sqrt(v_hat) + eps), lr = {lr:.3g}, eps = {eps:.3g}, t = {_t(t)}",
    )


def _slot(weight: Weight, name: str) -> Array:
    return np.asarray(weight.optimizer_slot(name).keras_axes().array(), dtype=np.float64)


def _t(t: int | None) -> str:
    return f"{t:,}" if t is not None else "unknown"


def optimizer_findings(model: ModelWeights) -> list[Finding]:
    """The ``no_gradient`` and ``gradient_scale`` findings (see the module docstring)."""
    found: list[Finding] = []
    scales: list[tuple[LayerWeights, Weight, float]] = []
    for layer, weight in model.iter_weights():
        state = weight.optimizer
        if state is None or not weight.trainable or not state.iterations:
            continue
        rms = gradient_rms(weight)
        if rms is None:
            continue
        found.extend(_no_gradient(layer, weight, rms.values))
        finite = rms.values[np.isfinite(rms.values)]
        if finite.size:
            scales.append((layer, weight, float(finite.mean())))
    return found + _scale_findings(scales)


def _no_gradient(layer: LayerWeights, weight: Weight, rms: Array) -> list[Finding]:
    units, unit = unit_matrix(rms, weight.role, layer.kind, weight.name)
    if units is None:
        cold = np.flatnonzero(rms.reshape(-1) == 0)
        unit, total = "position", rms.size
    else:
        cold = np.flatnonzero((units == 0).all(axis=0))
        total = units.shape[1]
    if not cold.size:
        return []
    steps = weight.optimizer.iterations if weight.optimizer is not None else 0
    every = cold.size == total
    severity: Severity = (
        "error" if every else "warning" if cold.size >= DEAD_WARN_FRACTION * total else "info"
    )
    message = (
        f"{'every' if every else f'{cold.size:,} of {total:,}'} {unit}(s) of {weight.name} "
        f"{'has' if every else 'have'} a second moment of exactly 0 after {steps:,} steps: no "
        "gradient ever reached them (dead units, rows never looked up, or a path cut off "
        "from the loss)."
    )
    indices = tuple(int(i) for i in cold[:1000])
    return [Finding("no_gradient", severity, weight.name, message, indices, unit, layer.path)]


def _scale_findings(scales: list[tuple[LayerWeights, Weight, float]]) -> list[Finding]:
    found: list[Finding] = []
    for role in sorted({w.role for _, w, _ in scales}):
        peers = [(la, w, s) for la, w, s in scales if w.role == role]
        positive = [s for _, _, s in peers if s > 0]
        if len(positive) < MIN_PEERS:
            continue
        median = statistics.median(positive)
        for layer, weight, rms in peers:
            ratio = rms / median if median > 0 else math.inf
            if GRADIENT_RATIO > ratio > 1 / GRADIENT_RATIO:
                continue
            if ratio >= GRADIENT_RATIO:
                how = f"{ratio:,.0f}x the median of the model's {role}s: gradients explode here"
            else:
                how = (
                    f"1/{1 / ratio:,.0f} of the median of the model's {role}s: gradients "
                    "vanish before they reach it"
                    if ratio > 0
                    else f"0 while the model's other {role}s got gradients"
                )
            message = f"the gradient RMS of {weight.name} ({rms:.3g}) is {how}."
            found.append(
                Finding("gradient_scale", "warning", weight.name, message, (), "", layer.path)
            )
    return found


__all__ = [
    "GRADIENT_RATIO",
    "Derived",
    "gradient_rms",
    "gradient_rms_of",
    "next_step",
    "optimizer_findings",
]
