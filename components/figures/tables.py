"""Statistics tables: one row per layer of a model, or one row per weight of a layer.

Numbers come from ``Weight.stats()`` (one pass per array, cached), so building the table reads
every array once; pass ``on_progress`` to show how far it got.

Decided edge cases (each has a test):
- A layer without weights is a row with 0 params, no shapes and empty (NaN) statistics.
- A layer's mean, std, min and max pool its weights' finite values (the std is the pooled
  population std); ``zero fraction`` is over all its values; ``NaN``/``Inf`` count the NaN
  and +-Inf values of all its weights.
- A weight with no finite value has empty (NaN) mean, std, min, max and l2.
- A layer without an analysed weight (no 2-D weight, too few eigenvalues, NaN values) has
  empty (NaN) spectral metrics, an empty ``warning`` and ``spectrum of``.
- While statistics are still being computed (``computed_only``), a layer not done yet has every
  statistic empty (NaN), its NaN/Inf counts too: unknown, not zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from kerascope.extraction.analysis.spectrum import MEMO_KEY, primary_weight, spectral_stats
from kerascope.extraction.analysis.stats import Stats
from kerascope.extraction.records import LayerWeights, ModelWeights

LAYER_COLUMNS = (
    "path",
    "class",
    "kind",
    "shapes",
    "params",
    "mean",
    "std",
    "min",
    "max",
    "zero fraction",
    "NaN",
    "Inf",
)
SPECTRAL_COLUMNS = (
    "alpha",
    "alpha_weighted",
    "log_norm",
    "log_spectral_norm",
    "stable_rank",
    "matrix_rank",
    "num_pl_spikes",
    "D",
    "warning",
    "spectrum of",
)
"""WeightWatcher's metrics of the layer (its names), the weight they describe, which says
``(extension)`` when WeightWatcher does not analyse it."""
WEIGHT_COLUMNS = (
    "weight",
    "role",
    "shape",
    "dtype",
    "trainable",
    "params",
    "mean",
    "std",
    "min",
    "max",
    "l2",
    "zero fraction",
    "NaN count",
    "Inf count",
)


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


def pool_stats(stats: Sequence[Stats]) -> dict[str, float | int | bool]:
    """Mean, std, min, max, zero fraction and NaN/Inf counts of several arrays taken together."""
    size = sum(s.size for s in stats)
    finite = [(s.size - s.nan_count - s.inf_count, s) for s in stats]
    count = sum(n for n, s in finite if s.mean is not None)
    out: dict[str, float | int | bool] = {
        "mean": math.nan,
        "std": math.nan,
        "min": math.nan,
        "max": math.nan,
        "zero fraction": sum(s.zero_fraction * s.size for s in stats) / size if size else 0.0,
        "NaN": sum(s.nan_count for s in stats),
        "Inf": sum(s.inf_count for s in stats),
    }
    if count:
        mean = sum(n * (s.mean or 0.0) for n, s in finite) / count
        second = sum(n * ((s.std or 0.0) ** 2 + (s.mean or 0.0) ** 2) for n, s in finite)
        out["mean"] = mean
        out["std"] = math.sqrt(max(second / count - mean * mean, 0.0))
        out["min"] = min(s.min for s in stats if s.min is not None)
        out["max"] = max(s.max for s in stats if s.max is not None)
    return out


_UNKNOWN: dict[str, float | int | bool] = {c: math.nan for c in LAYER_COLUMNS[5:]}
"""The statistics of a layer not read yet."""


def layer_table(
    model: ModelWeights,
    on_progress: Callable[[int, int], None] | None = None,
    status: Mapping[str, str] | None = None,
    *,
    spectral: bool = True,
    compute_spectra: bool = True,
    computed_only: bool = False,
) -> pd.DataFrame:
    """One row per layer (weightless layers included), columns ``LAYER_COLUMNS`` then
    ``SPECTRAL_COLUMNS``.

    Args:
        model: the opened model.
        on_progress: called as ``on_progress(done, total)`` after each layer.
        status: each layer's verdict (``health.layer_verdicts``); when given, a ``status``
            column follows ``path``, ``ok`` for layers it does not name.
        spectral: add WeightWatcher's metrics of each layer's analysed weight (the one
            WeightWatcher reads, else the first extension; computed once per weight and kept),
            empty for layers without one.
        compute_spectra: compute the spectra not yet computed; when False only those already
            kept are shown (a background job is computing the rest).
        computed_only: read no array: a layer whose statistics are not all computed yet has
            empty (NaN) statistics, NaN and Inf counts included (the table is filling); no
            spectrum is computed either.
    """
    rows: list[dict[str, Any]] = []
    total = len(model.layers)
    for i, layer in enumerate(model.layers):
        known = not computed_only or all(w.has_stats for w in layer.weights)
        numbers = pool_stats([w.stats() for w in layer.weights]) if known else _UNKNOWN
        rows.append(
            {
                "path": layer.path,
                **({"status": status.get(layer.path, "ok")} if status is not None else {}),
                "class": layer.class_name,
                "kind": layer.kind,
                "shapes": "; ".join(f"{w.name} {w.shape}" for w in layer.weights),
                "params": layer.params,
                **numbers,
                **(_spectral_row(layer, compute_spectra and not computed_only) if spectral else {}),
            }
        )
        if on_progress is not None:
            on_progress(i + 1, total)
    columns = list(LAYER_COLUMNS) + (list(SPECTRAL_COLUMNS) if spectral else [])
    if status is not None:
        columns.insert(1, "status")
    return pd.DataFrame(rows, columns=columns)


def _spectral_row(layer: LayerWeights, compute: bool) -> dict[str, Any]:
    weight = primary_weight(layer)
    stats = None
    if weight is not None:
        kept = weight.peek_computed(MEMO_KEY)
        stats = spectral_stats(layer, weight) if compute else kept
    if weight is None or stats is None:
        return {name: math.nan for name in SPECTRAL_COLUMNS[:-2]} | {
            "warning": "",
            "spectrum of": "",
        }
    row: dict[str, Any] = {name: getattr(stats, name) for name in SPECTRAL_COLUMNS[:-2]}
    row["warning"] = stats.warning
    row["spectrum of"] = weight.name + (" (extension)" if stats.scope == "extension" else "")
    return row


def weight_stats_table(layer: LayerWeights) -> pd.DataFrame:
    """One row per weight of ``layer``, columns ``WEIGHT_COLUMNS``."""
    rows = []
    for w in layer.weights:
        s = w.stats()
        rows.append(
            {
                "weight": w.name,
                "role": w.role,
                "shape": str(w.shape),
                "dtype": w.dtype,
                "trainable": w.trainable,
                "params": w.size,
                "mean": _num(s.mean),
                "std": _num(s.std),
                "min": _num(s.min),
                "max": _num(s.max),
                "l2": _num(s.l2),
                "zero fraction": s.zero_fraction,
                "NaN count": s.nan_count,
                "Inf count": s.inf_count,
            }
        )
    return pd.DataFrame(rows, columns=list(WEIGHT_COLUMNS))
