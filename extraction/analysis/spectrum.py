"""WeightWatcher's spectral analysis of a weight: which matrices form its empirical spectral
density (ESD), the power-law fit of that ESD, and WeightWatcher's per-layer metrics.

Matched to WeightWatcher 0.7.7's ``analyze()`` defaults (its source read, and its numbers on
real trained layers kept in ``tests/data/weightwatcher/``):

- **Which weight.** WeightWatcher reads a Keras layer's first array (``get_weights()[0]``) when
  the layer is a ``dense`` (Dense, EinsumDense; a PyTorch Linear), ``conv1d``, ``conv2d``
  (Conv2D, DepthwiseConv2D, SeparableConv2D's depthwise kernel, Conv2DTranspose) or
  ``embedding`` layer. Those are ``scope == "weightwatcher"``.
- **Its matrices.** A 2-D weight is one matrix. A ``conv2d`` kernel ``(kh, kw, a, b)`` is cut
  into its ``kh * kw`` slices ``W[i, j]`` and their eigenvalues are pooled (``pool=True``),
  after scaling by ``sqrt(1/2)`` (``conv2d_norm=True``, so eigenvalues are halved: this moves
  the norms, never alpha). A ``conv1d`` kernel ``(k, a, b)`` (or a 3-D EinsumDense kernel) is
  handed to the SVD whole: its ``k`` slices' singular values are taken together and only the
  largest ``min(k, a, b)`` are kept, as WeightWatcher does.
- **Which layers are skipped.** Fewer than ``MIN_EVALS`` (8) eigenvalues, more than
  ``MAX_EVALS`` (15000), or a longest side over ``MAX_N`` (50000), counted as WeightWatcher
  counts them (``M * rf`` with its own ``N`` and ``M``; for a conv kernel with an even number
  of kernel positions and more inputs than outputs, ``M`` is the larger side).
- **The fit.** ``extraction.analysis.power_law`` (eigenvalues above ``1e-5`` only).
- **The metrics** (WeightWatcher's names): ``log_norm = log10(sum(evals))``,
  ``log_spectral_norm = log10(max(evals))``, ``alpha_weighted = alpha * log_spectral_norm``,
  ``log_alpha_norm = log10(sum(evals ** alpha))``, ``stable_rank = sum / max``,
  ``matrix_rank`` (singular values above ``max * N * eps``), ``num_pl_spikes`` (eigenvalues
  at or above ``xmin``), ``D`` (the KS distance), ``sigma``, ``xmin``, ``xmax``, and its
  ``warning``: ``over-trained`` below alpha 2 (a failed fit, alpha -1, included, as
  WeightWatcher does), ``under-trained`` above 6.

Extensions (``scope == "extension"``, never mixed into WeightWatcher's averages): weights it
does not read get the same analysis on the matrix their layout gives (``layouts.to_2d``), a
conv kernel pooled over its kernel positions: recurrent kernels and recurrent layers' input
kernels, the layers inside ``TimeDistributed`` and ``Bidirectional`` wrappers, attention
projections, Conv3D, a separable conv's pointwise kernel, and Conv1D kernels WeightWatcher skips
(it keeps only ``min(k, a, b)`` eigenvalues, fewer than 8 for any kernel shorter than 8).

Decided edge cases: weights of fewer than 2 axes, quantized (stored as integers) or holding
NaN/Inf have no spectrum (``esd_plan`` or ``spectral_stats`` give None). Large matrices (more
than ``GRAM_MIN_VALUES`` values) get their eigenvalues from ``W^T W`` instead of an SVD (several
times faster on VGG16's fc layers); alpha and the norms agree to ~1e-12, but a singular value
below ``sqrt(N * eps)`` of the largest is lost in rounding there, so ``matrix_rank`` counts
eigenvalues above ``max * N * eps`` instead (the same count unless the matrix is numerically
rank deficient).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np

from ..layouts import RECURRENT_KINDS, conv_layout, to_2d
from ..records import LayerWeights, ModelWeights, Weight
from .power_law import PowerLawFit, fit_power_law
from .scale import KERNEL_ROLES, stored_as_float

Array = np.ndarray[Any, Any]
Scope = Literal["weightwatcher", "extension"]
Method = Literal["matrix", "slices", "stacked"]

MIN_EVALS = 8
"""WeightWatcher 0.7.7's ``min_evals``: fewer eigenvalues are not analysed."""
MAX_EVALS = 15000
"""WeightWatcher's ``max_evals``."""
MAX_N = 50000
"""WeightWatcher's ``max_N``: the longest side it analyses."""
OVER_TRAINED_THRESH = 2.0
"""Below this alpha WeightWatcher warns ``over-trained``."""
UNDER_TRAINED_THRESH = 6.0
"""Above this alpha WeightWatcher warns ``under-trained``."""
CONV2D_NORM = math.sqrt(0.5)
"""WeightWatcher scales conv2d slices by this before the SVD (``conv2d_norm``)."""
GRAM_MIN_VALUES = 1 << 22
"""Matrices with more values than this get their eigenvalues from ``W^T W``."""
SUMMARY_METRICS = (
    "log_norm",
    "alpha",
    "alpha_weighted",
    "log_alpha_norm",
    "log_spectral_norm",
    "stable_rank",
)
"""What ``get_summary`` averages, in its order."""
FLAT_TOLERANCE = 1e-4
"""Singular values whose largest is within this relative distance of their smallest are equal:
an orthogonal matrix (times its gain), as Keras's ``Orthogonal`` initializer draws."""
_WRAPPERS = ("TimeDistributed", "Bidirectional")
MEMO_KEY = "spectral"
"""The key of a weight's spectral statistics among its computed values (and in the cache)."""
_ESD_KEY = "esd"


@dataclass(frozen=True)
class EsdPlan:
    """How one weight's ESD is formed, decided from its layer and shape alone (nothing read)."""

    scope: Scope
    """``weightwatcher`` where WeightWatcher analyses this weight, else ``extension``."""
    method: Method
    """``matrix`` (one 2-D matrix), ``slices`` (one per kernel position, pooled) or
    ``stacked`` (WeightWatcher's whole-tensor SVD of a 3-D kernel, largest ``M`` kept)."""
    layer_type: str
    """WeightWatcher's layer type (``dense``, ``conv1d``, ``conv2d``, ``embedding``) or, for an
    extension, what it is (``recurrent``, ``wrapped dense`` ...)."""
    N: int  # WeightWatcher's name
    """The longer side, as WeightWatcher reports it."""
    M: int  # WeightWatcher's name
    """The shorter side, as WeightWatcher reports it."""
    rf: int
    """Kernel positions pooled (WeightWatcher's receptive field); 1 for a matrix."""
    num_evals: int
    """Eigenvalues the ESD holds."""
    scale: float
    """What the matrices are multiplied by first (``CONV2D_NORM`` for conv2d, else 1)."""
    basis: str
    """How the ESD is formed, for people."""
    skip: str | None
    """Why it is not analysed (too few or too many eigenvalues); None when it is."""


@dataclass(frozen=True)
class SpectralStats:
    """WeightWatcher's per-layer metrics of one weight (its ``details`` columns)."""

    scope: Scope
    """``weightwatcher`` or ``extension`` (see the module docstring)."""
    basis: str
    """How the ESD was formed, for people."""
    layer_type: str
    """WeightWatcher's layer type, or what the extension is."""
    N: int  # WeightWatcher's name
    M: int  # WeightWatcher's name
    rf: int
    num_evals: int
    alpha: float
    """The power-law exponent; -1 when the fit failed (WeightWatcher's value)."""
    alpha_weighted: float
    log_alpha_norm: float
    log_norm: float
    log_spectral_norm: float
    stable_rank: float
    matrix_rank: int
    num_pl_spikes: int
    """Eigenvalues in the power-law tail; -1 when the fit failed."""
    D: float  # WeightWatcher's name
    """Kolmogorov-Smirnov distance of the fit; -1 when it failed."""
    sigma: float
    xmin: float
    xmax: float
    warning: str
    """``over-trained``, ``under-trained`` or ``""``, as WeightWatcher's ``warning`` column."""

    def as_dict(self) -> dict[str, Any]:
        """The metrics under WeightWatcher's names, plus ``spectral_scope`` and
        ``spectral_basis`` saying whether and how WeightWatcher would compute them; a value
        that is not finite (the log of an all-zero weight's norm) is None, as JSON needs."""
        out = {
            k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in asdict(self).items()
        }
        out["spectral_scope"] = out.pop("scope")
        out["spectral_basis"] = out.pop("basis")
        return out

    @classmethod
    def from_dict(cls, data: Any) -> SpectralStats | None:
        """The record ``as_dict`` gave, or None if ``data`` is not one (a damaged cache)."""
        if not isinstance(data, dict):
            return None
        names = {f.name for f in fields(cls)} - {"scope", "basis"}
        if set(data) != names | {"spectral_scope", "spectral_basis"}:
            return None
        values = {k: data[k] for k in names}
        ints = ("N", "M", "rf", "num_evals", "matrix_rank", "num_pl_spikes")
        texts = ("layer_type", "warning")
        for key, value in values.items():
            if key in ints and not isinstance(value, int):
                return None
            if key in texts and not isinstance(value, str):
                return None
            if key not in ints + texts:
                if value is None:
                    values[key] = math.nan
                elif not isinstance(value, (int, float)):
                    return None
        if data["spectral_scope"] not in ("weightwatcher", "extension"):
            return None
        if not isinstance(data["spectral_basis"], str):
            return None
        return cls(scope=data["spectral_scope"], basis=data["spectral_basis"], **values)


@dataclass(frozen=True)
class Esd:
    """A weight's ESD and its fit, for the plot."""

    plan: EsdPlan
    eigenvalues: Array
    """Ascending, scaled as the plan says."""
    fit: PowerLawFit
    stats: SpectralStats


def esd_plan(layer: LayerWeights, weight: Weight) -> EsdPlan | None:
    """How ``weight``'s ESD is formed, or None when it has none (fewer than 2 axes, quantized,
    not a kernel-like weight). Reads no array; a file's own axis order (TFLite) is read as
    Keras's (``Weight.keras_axes``)."""
    shape = weight.keras_axes().shape
    if len(shape) < 2 or weight.size == 0 or not stored_as_float(weight):
        return None
    ww_type = _ww_type(layer, weight)
    if ww_type == "conv2d" and len(shape) == 4:
        n, m, rf = _ww_conv2d_dims(shape)
        kh, kw, a, b = shape
        count = kh * kw * min(a, b)
        basis = f"{kh * kw} kernel positions of {a} x {b}, pooled, scaled by sqrt(1/2)"
        return _plan("weightwatcher", "slices", "conv2d", n, m, rf, count, CONV2D_NORM, basis)
    if ww_type in ("dense", "embedding", "conv1d") and len(shape) == 2:
        n, m = max(shape), min(shape)
        basis = f"the {shape[0]} x {shape[1]} matrix"
        return _plan("weightwatcher", "matrix", str(ww_type), n, m, 1, m, 1.0, basis)
    if ww_type in ("dense", "embedding", "conv1d") and min(shape) >= MIN_EVALS:
        n, m = max(shape), min(shape)
        lead = math.prod(shape[:-2])
        basis = (
            f"the largest {m} singular values of its {lead} slices of {shape[-2]} x {shape[-1]}, "
            "taken together (WeightWatcher's whole-tensor SVD)"
        )
        return _plan("weightwatcher", "stacked", str(ww_type), n, m, 1, m, 1.0, basis)
    if ww_type == "conv1d":
        return _extension_slices(shape, "conv1d", 1.0, "Conv1D, which WeightWatcher skips here")
    if weight.role not in KERNEL_ROLES and ww_type is None:
        return None
    return _extension(layer, weight, shape)


def _ww_type(layer: LayerWeights, weight: Weight) -> str | None:
    """WeightWatcher's layer type when it reads this weight (its layer's first array)."""
    if layer.class_name.rsplit(".", 1)[-1] in _WRAPPERS or not layer.weights:
        return None
    if layer.weights[0] is not weight:
        return None
    if layer.kind in ("dense", "embedding"):
        return layer.kind
    conv = conv_layout(layer.kind)
    # WeightWatcher types Keras layers by class name: "conv1d" and "conv2d" in it, whatever
    # else (transposed, depthwise, separable); Conv3D is not analysed.
    if conv is not None and conv.conv_rank in (1, 2):
        return f"conv{conv.conv_rank}d"
    return None


def _ww_conv2d_dims(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """WeightWatcher's ``N, M, rf`` of a Keras conv2d kernel (``conv2D_Wmats`` with Keras's
    ``channels=FIRST``), quirks included."""
    kh, kw, a, b = shape
    if kh + kw >= a + b:  # detected "channels last": WeightWatcher flips back
        return a, b, kh * kw
    n, m = b, a
    if b < a and (kh * kw) % 2 == 1:  # swapped once per slice
        n, m = m, n
    return n, m, kh * kw


def _plan(
    scope: Scope,
    method: Method,
    layer_type: str,
    n: int,
    m: int,
    rf: int,
    count: int,
    scale: float,
    basis: str,
) -> EsdPlan:
    skip = None
    if m * rf < MIN_EVALS or count < MIN_EVALS:
        skip = f"{count} eigenvalues, fewer than WeightWatcher's min_evals ({MIN_EVALS})"
    elif m * rf > MAX_EVALS:
        skip = f"{m * rf} eigenvalues, more than WeightWatcher's max_evals ({MAX_EVALS})"
    elif n > MAX_N:
        skip = f"a side of {n}, longer than WeightWatcher's max_N ({MAX_N})"
    return EsdPlan(scope, method, layer_type, n, m, rf, count, scale, basis, skip)


def _extension(layer: LayerWeights, weight: Weight, shape: tuple[int, ...]) -> EsdPlan:
    wrapper = layer.class_name.rsplit(".", 1)[-1]
    if layer.kind in RECURRENT_KINDS:
        what = "recurrent kernel" if weight.role == "recurrent_kernel" else "recurrent input"
    elif wrapper in _WRAPPERS:
        what = f"{layer.kind} inside {wrapper}"
    elif weight.role == "pointwise_kernel":
        what = "pointwise kernel"
    elif _ww_type(layer, weight) is not None:
        what = f"{layer.kind} kernel of {len(shape)} axes"
    else:
        what = layer.kind
    conv = conv_layout(layer.kind)
    if conv is not None and weight.role == "kernel" and len(shape) >= 3:
        scale = CONV2D_NORM if conv.conv_rank == 2 else 1.0
        return _extension_slices(shape, what, scale, what)
    if weight.role == "depthwise_kernel" and len(shape) == 4:
        return _extension_slices(shape, what, CONV2D_NORM, what)
    if weight.role == "pointwise_kernel" and len(shape) >= 3:
        return _extension_slices(shape, what, CONV2D_NORM, what)
    matrix_shape = _matrix_shape(layer, weight, shape)
    n, m = max(matrix_shape), min(matrix_shape)
    basis = f"the {matrix_shape[0]} x {matrix_shape[1]} matrix of its {what} (an extension)"
    return _plan("extension", "matrix", what, n, m, 1, m, 1.0, basis)


def _extension_slices(shape: tuple[int, ...], what: str, scale: float, why: str) -> EsdPlan:
    """Pooled kernel-position slices of a conv-like kernel, as an extension."""
    a, b = shape[-2], shape[-1]
    rf = math.prod(shape[:-2])
    n, m = max(a, b), min(a, b)
    scaled = ", scaled by sqrt(1/2)" if scale != 1.0 else ""
    basis = f"{rf} kernel positions of {a} x {b}, pooled{scaled} (an extension: {why})"
    return _plan("extension", "slices", what, n, m, rf, rf * m, scale, basis)


def _matrix_shape(layer: LayerWeights, weight: Weight, shape: tuple[int, ...]) -> tuple[int, int]:
    matrix, _, _ = to_2d(np.empty(shape, dtype=np.uint8), weight.role, layer.kind,
                         name=weight.name)  # fmt: skip
    return int(matrix.shape[0]), int(matrix.shape[1])


def is_flat(singular_values: Array) -> bool:
    """Whether every singular value is within ``FLAT_TOLERANCE`` of the others (and not 0): an
    orthogonal matrix, for which a power law says nothing."""
    sv = np.asarray(singular_values, dtype=np.float64)
    if sv.size < 2 or not np.isfinite(sv).all():
        return False
    low, high = float(sv.min()), float(sv.max())
    return low > 0 and high <= low * (1.0 + FLAT_TOLERANCE)


def flat_spectrum(stats: SpectralStats) -> bool:
    """Whether the ESD was flat (every eigenvalue equal within ``FLAT_TOLERANCE``): its stable
    rank is then its number of eigenvalues. WeightWatcher fits it anyway (alpha runs off to
    infinity); the health scan says nothing of such an alpha."""
    return stats.stable_rank >= stats.num_evals / (1.0 + FLAT_TOLERANCE) ** 2


def esd_eigenvalues(plan: EsdPlan, values: Array, layer: LayerWeights, weight: Weight) -> Array:
    """The ESD of ``values`` (the weight's array) as ``plan`` forms it, ascending.

    Raises:
        ValueError: the values hold NaN or Inf.
    """
    w = np.asarray(values, dtype=np.float64)
    if not np.isfinite(w).all():
        raise ValueError("the weight holds NaN or Inf values, so it has no spectrum")
    if plan.scale != 1.0:
        w = w * plan.scale
    if plan.method == "stacked":
        sv = np.sort(np.linalg.svd(w, compute_uv=False).reshape(-1))[-plan.M :]
        return np.sort(sv * sv)
    mats = esd_matrices(plan, w, layer, weight)
    return np.sort(np.concatenate([matrix_eigenvalues(m) for m in mats]))


def esd_matrices(plan: EsdPlan, values: Array, layer: LayerWeights, weight: Weight) -> list[Array]:
    """The 2-D matrices whose eigenvalues pool into the ESD (``stacked``: the slices)."""
    if plan.method == "matrix":
        matrix, _, _ = to_2d(values, weight.role, layer.kind, name=weight.name)
        return [matrix]
    # A slice and its transpose have the same eigenvalues: Conv2DTranspose needs no swap.
    return list(values.reshape(-1, values.shape[-2], values.shape[-1]))


def matrix_eigenvalues(matrix: Array) -> Array:
    """Eigenvalues of ``W^T W`` (``min(N, M)`` of them): squared singular values."""
    m = matrix if matrix.shape[0] >= matrix.shape[1] else matrix.T
    if m.size > GRAM_MIN_VALUES:
        return np.clip(np.linalg.eigvalsh(m.T @ m), 0.0, None)
    sv = np.linalg.svd(m, compute_uv=False)
    return sv * sv


def metrics(plan: EsdPlan, evals: Array, fit: PowerLawFit) -> SpectralStats:
    """WeightWatcher's metrics from the ESD and its fit (``apply_norm_metrics``)."""
    norm = float(np.sum(evals))
    spectral_norm = float(np.max(evals))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_norm = float(np.log10(norm))
        log_spectral = float(np.log10(spectral_norm))
        log_alpha_norm = float(np.log10(np.sum(evals**fit.alpha)))
    stable = norm / spectral_norm if spectral_norm > 0 else 0.0
    eps = float(np.finfo(np.float64).eps)
    if _gram_used(plan):
        rank = int(np.count_nonzero(evals > spectral_norm * plan.N * eps))
    else:
        sv = np.sqrt(evals)
        rank = int(np.count_nonzero(sv > np.max(sv) * plan.N * eps))
    warning = ""
    if fit.alpha < OVER_TRAINED_THRESH:
        warning = "over-trained"
    elif fit.alpha > UNDER_TRAINED_THRESH:
        warning = "under-trained"
    spikes = -1 if fit.failed else int(np.count_nonzero(evals >= fit.xmin))
    return SpectralStats(
        plan.scope, plan.basis, plan.layer_type, plan.N, plan.M, plan.rf, int(evals.size),
        fit.alpha, fit.alpha * log_spectral, log_alpha_norm, log_norm, log_spectral, stable,
        rank, spikes, fit.D, fit.sigma, fit.xmin, fit.xmax, warning,
    )  # fmt: skip


def _gram_used(plan: EsdPlan) -> bool:
    return plan.method != "stacked" and plan.N * plan.M > GRAM_MIN_VALUES


def layer_esd(layer: LayerWeights, weight: Weight) -> Esd | None:
    """The weight's ESD, fit and metrics (computed once per weight and kept), or None when it
    has no spectrum or is not analysed (see ``esd_plan``; NaN/Inf values give None too).

    Raises:
        CorruptFile: the weight's bytes cannot be read.
    """
    plan = esd_plan(layer, weight)
    if plan is None or plan.skip is not None:
        return None
    stats = weight.stats()
    if stats.nan_count or stats.inf_count:
        return None

    def make() -> Esd:
        evals = esd_eigenvalues(plan, weight.keras_axes().array(), layer, weight)
        fit = fit_power_law(evals)
        return Esd(plan, evals, fit, metrics(plan, evals, fit))

    esd = weight.computed(_ESD_KEY, make)
    weight.keep_computed(MEMO_KEY, esd.stats)
    return esd


def spectral_stats(layer: LayerWeights, weight: Weight) -> SpectralStats | None:
    """The weight's spectral metrics (kept on the weight, and in the statistics cache of a big
    file), or None when it has no spectrum (see ``layer_esd``) or its values cannot be read
    (``Weight.failure``: whole-model views show it as unreadable)."""
    kept = weight.peek_computed(MEMO_KEY)
    if isinstance(kept, SpectralStats):
        return kept
    plan = esd_plan(layer, weight)
    if plan is None or plan.skip is not None or weight.readable_stats() is None:
        return None
    esd = layer_esd(layer, weight)
    return esd.stats if esd is not None else None


def analysed_weights(model: ModelWeights) -> Iterable[tuple[LayerWeights, Weight, EsdPlan]]:
    """Every weight that gets a spectral analysis, with its plan, in model order."""
    for layer, weight in model.iter_weights():
        plan = esd_plan(layer, weight)
        if plan is not None and plan.skip is None:
            yield layer, weight, plan


def primary_weight(layer: LayerWeights) -> Weight | None:
    """The weight whose metrics stand for the layer (one row per layer, as WeightWatcher's):
    the one WeightWatcher reads, else the first analysed extension."""
    first: Weight | None = None
    for weight in layer.weights:
        plan = esd_plan(layer, weight)
        if plan is None or plan.skip is not None:
            continue
        if plan.scope == "weightwatcher":
            return weight
        first = first or weight
    return first


def spectral_summary(model: ModelWeights) -> dict[str, Any]:
    """WeightWatcher's ``get_summary()``: the mean of each metric over the weights it analyses
    (failed fits included, as it does), with ``layers`` counted and ``extensions`` (weights
    analysed only here, left out of the means). Computes any spectrum not yet computed."""
    rows: list[SpectralStats] = []
    extensions = 0
    for layer, weight, plan in analysed_weights(model):
        stats = spectral_stats(layer, weight)
        if stats is None:
            continue
        if plan.scope == "weightwatcher":
            rows.append(stats)
        else:
            extensions += 1
    summary: dict[str, Any] = {"layers": len(rows), "extensions": extensions}
    for name in SUMMARY_METRICS:
        values = [float(getattr(s, name)) for s in rows]
        summary[name] = float(np.mean(values)) if values else None
    return summary
