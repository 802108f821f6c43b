"""The whole-model health scan: every layer's own checks, then what only shows across layers.

``model_findings(model)`` runs ``layer_findings`` on every layer with weights and adds:

- ``scale``, ``untrained`` and ``fresh_layer``: how each kernel-like weight compares with what
  its initializer gave it, and with its peers (``extraction.analysis.scale``). When the whole
  model looks untrained, the per-layer ``constant_bias`` and ``spectral_alpha`` findings, which
  would only repeat it, are left out.
- ``spectral_alpha`` (``info``): WeightWatcher's alpha (``extraction.analysis.spectrum``) for
  weights whose spectrum has at least ``SPECTRAL_MIN_EIGENVALUES`` eigenvalues and at most
  ``SPECTRAL_MAX_VALUES`` values, stored as floats (not quantized); reported only outside
  2..6 by more than one standard error.
- ``fresh_layer`` also for one weight: a kernel whose initializer is ``orthogonal`` (Keras's
  default for recurrent kernels) and whose singular values are still all equal (within
  ``spectrum.FLAT_TOLERANCE``) is still at its initial weights, whatever the rest of its layer
  did (an LSTM's input kernel and forget-gate bias of 1 move or start apart; its recurrence
  may not have learned). Weights over ``SPECTRAL_MAX_VALUES`` values are not checked.
- A depthwise layer's dead channels that are exactly the dead filters of the layer before it
  are a consequence, not a second fault: that finding becomes ``info`` and says so.

Findings are sorted by severity, then by the layer's position in the model (the model-level
finding first), then by check.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from ..layouts import SPATIAL_CONV_KINDS, to_2d
from ..records import LayerWeights, ModelWeights, Weight
from .diagnostics import SEVERITY_ORDER, Finding, Severity, layer_findings
from .initializers import init_scale
from .scale import (
    KERNEL_ROLES,
    KernelScale,
    fresh_layer_findings,
    kernel_scales,
    scale_findings,
    stored_as_float,
    untrained_finding,
)
from .spectrum import FLAT_TOLERANCE, esd_matrices, fit_power_law, is_flat, read_alpha

Progress = Callable[[float, str], None]
"""Called with the fraction done (0..1) and a short message."""

SPECTRAL_MIN_EIGENVALUES = 50
"""WeightWatcher's own minimum (``min_evals``): smaller spectra give no trustworthy alpha."""
SPECTRAL_MAX_VALUES = 1_000_000
"""Weights larger than this are not fitted in the scan, which must stay quick on a VGG16 (a
3x3x512x512 kernel's nine 512 x 512 eigenproblems take seconds on a busy machine); the Health
tab's spectrum fits any weight on demand."""


def model_findings(model: ModelWeights, progress: Progress | None = None) -> list[Finding]:
    """Every finding about ``model``, most severe first (see the module docstring).

    Reads every weight once (arrays and statistics are cached on the records).

    Args:
        model: the opened model.
        progress: called with ``(fraction, message)`` as the scan moves through the layers.
    """
    weighted = model.weighted_layers()
    order = {layer.path: i for i, layer in enumerate(model.layers)}
    found: list[Finding] = []
    scales: list[KernelScale] = []
    for i, layer in enumerate(weighted):
        if progress is not None:
            progress(i / max(1, len(weighted)), f"Checking {layer.path}")
        found.extend(layer_findings(layer))
        scales.extend(kernel_scales(layer))
    found = _consequences(found, weighted)
    untrained = untrained_finding(model, scales)
    if untrained is not None:
        found = [f for f in found if f.check != "constant_bias"] + [untrained]
    else:
        found += fresh_layer_findings(weighted, scales)
        flagged = {f.layer for f in found if f.check == "fresh_layer"}
        found += [f for f in orthogonal_findings(weighted) if f.layer not in flagged]
        found += _spectral_findings(weighted, progress)
    found += scale_findings(scales)
    if progress is not None:
        progress(1.0, "Done")
    return sorted(
        found,
        key=lambda f: (SEVERITY_ORDER[f.severity], order.get(f.layer, -1), f.check),
    )


def worst_by_layer(findings: list[Finding]) -> dict[str, Severity]:
    """The most severe finding's severity per layer path (model-level findings left out)."""
    worst: dict[str, Severity] = {}
    for f in findings:
        if f.layer and (
            f.layer not in worst or SEVERITY_ORDER[f.severity] < SEVERITY_ORDER[worst[f.layer]]
        ):
            worst[f.layer] = f.severity
    return worst


def findings_json(findings: list[Finding]) -> dict[str, Any]:
    """The ``health --json`` object (the CLI contract in DESIGN.md), plus indices and unit."""
    return {
        "findings": [
            {
                "layer": f.layer,
                "weight": f.weight,
                "check": f.check,
                "severity": f.severity,
                "message": f.message,
                "indices": list(f.indices),
                "unit": f.unit,
            }
            for f in findings
        ]
    }


def _spectral_findings(layers: list[LayerWeights], progress: Progress | None) -> list[Finding]:
    found = []
    for layer in layers:
        for weight in layer.weights:
            if weight.role not in KERNEL_ROLES or len(weight.shape) < 2:
                continue
            if not stored_as_float(weight):
                continue
            if weight.size > SPECTRAL_MAX_VALUES or not _esd_big_enough(layer, weight):
                continue
            if weight.stats().nan_count or weight.stats().inf_count:
                continue
            if progress is not None:
                progress(0.99, f"Spectrum of {layer.path}/{weight.name}")
            finding = alpha_finding(layer, weight)
            if finding is not None:
                found.append(finding)
    return found


def orthogonal_findings(layers: list[LayerWeights]) -> list[Finding]:
    """``fresh_layer`` findings for kernels still exactly orthogonal as initialised (see the
    module docstring)."""
    found = []
    for layer in layers:
        for weight in layer.weights:
            if weight.role not in KERNEL_ROLES or len(weight.shape) < 2:
                continue
            init = init_scale(layer.config, weight.role, weight.shape)
            if init is None or init.name != "orthogonal" or weight.size > SPECTRAL_MAX_VALUES:
                continue
            if not stored_as_float(weight) or weight.stats().nan_count or weight.stats().inf_count:
                continue
            values = np.asarray(weight.array(), dtype=np.float64)
            matrix = values.reshape(-1, values.shape[-1])
            sv = np.linalg.svd(matrix, compute_uv=False)
            if not is_flat(sv):
                continue
            found.append(
                Finding(
                    "fresh_layer",
                    "warning",
                    weight.name,
                    f"{weight.name} is still exactly orthogonal, as its initializer drew it (all "
                    f"{sv.size} singular values equal {float(sv.mean()):.4g} within "
                    f"{FLAT_TOLERANCE:g}): it is at its initial weights and has not learned "
                    "(frozen, or cut off from the gradient).",
                    (),
                    "position",
                    layer.path,
                )
            )
    return found


def alpha_finding(layer: LayerWeights, weight: Weight) -> Finding | None:
    """A ``spectral_alpha`` finding when alpha is outside 2..6 by more than its std error."""
    values = np.asarray(weight.array(), dtype=np.float64)
    matrix, _, _ = to_2d(values, weight.role, layer.kind, name=weight.name)
    mats = esd_matrices(values, weight.role, layer.kind, matrix)
    # Eigenvalues of W^T W directly: the same ESD as squared singular values, far cheaper.
    evals = np.concatenate([np.linalg.eigvalsh(m.T @ m) for m in mats])
    fit = fit_power_law(np.clip(evals, 0.0, None))
    reading = read_alpha(fit)
    if fit is None or reading in ("well_trained", "too_small"):
        return None
    edge = 2.0 if reading == "over_trained" else 6.0
    if abs(fit.alpha - edge) <= fit.sigma:
        return None
    meaning = (
        "a very heavy-tailed spectrum, which WeightWatcher reads as over-trained or over-fit"
        if reading == "over_trained"
        else "close to a random matrix, which WeightWatcher reads as having learned little"
    )
    return Finding(
        "spectral_alpha",
        "info",
        weight.name,
        f"alpha = {fit.alpha:.2f} +- {fit.sigma:.2f} (power law fitted to {fit.n_tail} of "
        f"{evals.size} eigenvalues): {meaning}.",
        (),
        "position",
        layer.path,
    )


def _esd_big_enough(layer: LayerWeights, weight: Weight) -> bool:
    shape = weight.shape
    if layer.kind in SPATIAL_CONV_KINDS and len(shape) >= 3:
        slices = math.prod(shape[:-2])
        return slices * min(shape[-2], shape[-1]) >= SPECTRAL_MIN_EIGENVALUES
    rows = math.prod(shape[:-1])
    return min(rows, shape[-1]) >= SPECTRAL_MIN_EIGENVALUES


def _consequences(found: list[Finding], layers: list[LayerWeights]) -> list[Finding]:
    """A depthwise layer's dead channels equal to the previous layer's dead filters -> info."""
    dead = {f.layer: f for f in found if f.check == "dead_units" and f.unit == "filter"}
    previous = {
        later.path: earlier.path for earlier, later in zip(layers[:-1], layers[1:], strict=True)
    }
    out = []
    for f in found:
        before = dead.get(previous.get(f.layer, ""))
        if (
            f.check == "dead_units"
            and f.unit == "channel"
            and f.severity != "error"
            and before is not None
            and before.indices == f.indices
        ):
            f = replace(
                f,
                severity="info",
                message=f"{f.message} These are exactly the dead filters of {before.layer}: a "
                "consequence, not a second fault.",
            )
        out.append(f)
    return out
