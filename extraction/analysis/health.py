"""The whole-model health scan: every layer's own checks, then what only shows across layers.

``model_findings(model)`` runs ``layer_findings`` on every layer with weights and adds:

- ``scale``, ``untrained`` and ``fresh_layer``: how each kernel-like weight compares with what
  its initializer gave it, and with its peers (``extraction.analysis.scale``). When the whole
  model looks untrained, the per-layer ``constant_bias`` and ``spectral_alpha`` findings, which
  would only repeat it, are left out.
- ``spectral_alpha`` (``info``): every weight on which WeightWatcher 0.7.7's analysis warns
  (``extraction.analysis.spectrum``): alpha below 2 (``over-trained``, a failed fit's alpha of -1
  included) or above 6 (``under-trained``), with its standard error, tail and KS distance; the
  same on this project's extensions (recurrent kernels, wrapped layers ...), which say so. A
  flat spectrum (an orthogonal matrix: WeightWatcher's alpha runs off to infinity) gets none.
  The spectra are computed once per weight and kept (``Weight.computed``).
- ``fresh_layer`` also for one weight: a kernel whose initializer is ``orthogonal`` (Keras's
  default for recurrent kernels) and whose singular values are still all equal (within
  ``spectrum.FLAT_TOLERANCE``) is still at its initial weights, whatever the rest of its layer
  did (an LSTM's input kernel and forget-gate bias of 1 move or start apart; its recurrence
  may not have learned). Weights over ``SPECTRAL_MAX_VALUES`` values are not checked.
- ``no_gradient`` and ``gradient_scale``: from the optimizer's saved state, when the file keeps
  it (``extraction.analysis.optimizer``).
- A depthwise layer's dead channels that are exactly the dead filters of the layer before it
  are a consequence, not a second fault: that finding becomes ``info`` and says so.

Findings are sorted by severity, then by the layer's position in the model (the model-level
finding first), then by check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from ..records import LayerWeights, ModelWeights, Weight
from .diagnostics import SEVERITY_ORDER, Finding, Severity, layer_findings
from .initializers import init_scale
from .optimizer import optimizer_findings
from .scale import (
    KERNEL_ROLES,
    KernelScale,
    fresh_layer_findings,
    kernel_scales,
    scale_findings,
    stored_as_float,
    untrained_finding,
)
from .spectrum import (
    FLAT_TOLERANCE,
    MEMO_KEY,
    analysed_weights,
    flat_spectrum,
    is_flat,
    spectral_stats,
)

Progress = Callable[[float, str], None]
"""Called with the fraction done (0..1) and a short message."""

SPECTRAL_MAX_VALUES = 1_000_000
"""Weights larger than this are not checked for an orthogonal start (one SVD each)."""
SHORT_TAIL = 10
"""A warning from a power-law tail shorter than this says so (few eigenvalues fit any alpha)."""


def model_findings(
    model: ModelWeights, progress: Progress | None = None, *, spectra: bool = True
) -> list[Finding]:
    """Every finding about ``model``, most severe first (see the module docstring).

    Reads every weight once (arrays and statistics are cached on the records).

    Args:
        model: the opened model.
        progress: called with ``(fraction, message)`` as the scan moves through the layers.
        spectra: include the ``spectral_alpha`` findings (computing every spectrum not yet
            computed); without, a caller adds them with ``spectral_findings``.
    """
    weighted = model.weighted_layers()
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
        if spectra:
            found += spectral_findings(model, progress=progress)[0]
    found += scale_findings(scales)
    found += optimizer_findings(model)
    if progress is not None:
        progress(1.0, "Done")
    return ranked(model, found)


def ranked(model: ModelWeights, found: list[Finding]) -> list[Finding]:
    """Findings by severity, then by the layer's position in the model, then by check."""
    order = {layer.path: i for i, layer in enumerate(model.layers)}
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


Verdict = Literal["error", "warning", "info", "ok", "none"]
"""What a layer's status says: its worst severity, ``ok`` without findings, ``none`` without
weights (nothing to check)."""


def layer_verdicts(model: ModelWeights, findings: list[Finding]) -> dict[str, Verdict]:
    """Every layer's verdict, the one the table, the overview and the graph all show.

    A layer with weights gets the worst of its own findings and of the findings about the whole
    model (an untrained model's every layer is ``error``, as Health says of the model); ``ok``
    without any; a layer without weights ``none``.
    """
    own = worst_by_layer(findings)
    whole = [f.severity for f in findings if not f.layer]
    out: dict[str, Verdict] = {}
    for layer in model.layers:
        if not layer.weights:
            out[layer.path] = "none"
            continue
        found = sorted(
            (s for s in (own.get(layer.path), *whole) if s is not None),
            key=SEVERITY_ORDER.__getitem__,
        )
        out[layer.path] = found[0] if found else "ok"
    return out


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


def spectral_findings(
    model: ModelWeights, *, progress: Progress | None = None, compute_up_to: int | None = None
) -> tuple[list[Finding], int]:
    """The ``spectral_alpha`` findings of every analysed weight, and how many weights were left
    out because their spectrum is not computed yet and they hold more than ``compute_up_to``
    values (None: every spectrum is computed now; the app leaves big ones to its background
    job and adds their findings when they are done)."""
    found = []
    pending = 0
    for layer, weight, _ in analysed_weights(model):
        if not weight.has_computed(MEMO_KEY):
            if compute_up_to is not None and weight.size > compute_up_to:
                pending += 1
                continue
            if progress is not None:
                progress(0.99, f"Spectrum of {layer.path}/{weight.name}")
        finding = alpha_finding(layer, weight)
        if finding is not None:
            found.append(finding)
    return found, pending


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
            stats = weight.readable_stats()
            if not stored_as_float(weight) or stats is None or stats.nan_count or stats.inf_count:
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
    """A ``spectral_alpha`` finding wherever WeightWatcher's analysis warns (alpha below 2,
    ``over-trained``, failed fits included, or above 6, ``under-trained``), on the weights it
    reads and on the extensions (said so)."""
    stats = spectral_stats(layer, weight)
    if stats is None or not stats.warning or flat_spectrum(stats):
        return None
    extension = (
        f" (An extension: WeightWatcher does not analyse this weight; the ESD is {stats.basis}.)"
        if stats.scope == "extension"
        else ""
    )
    if stats.num_pl_spikes < 0:
        message = (
            f"WeightWatcher's power-law fit fails here: none of the {stats.num_evals} "
            f"eigenvalues (largest {stats.xmax if stats.xmax > 0 else 0.0:.2g}) is above its "
            "1e-5 floor, so it reports alpha = -1 and warns over-trained; the weights are too "
            "small for their spectrum to say anything."
        )
    else:
        meaning = (
            "a very heavy-tailed spectrum, which WeightWatcher reads as over-trained or over-fit"
            if stats.warning == "over-trained"
            else "close to a random matrix, which WeightWatcher reads as having learned little"
        )
        small = " So short a tail says little." if stats.num_pl_spikes < SHORT_TAIL else ""
        message = (
            f"alpha = {stats.alpha:.2f} +- {stats.sigma:.2f} (power law fitted to the top "
            f"{stats.num_pl_spikes} of {stats.num_evals} eigenvalues, KS distance "
            f"{stats.D:.3f}): {meaning}; WeightWatcher warns {stats.warning}.{small}"
        )
    return Finding(
        "spectral_alpha", "info", weight.name, message + extension, (), "position", layer.path
    )


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
