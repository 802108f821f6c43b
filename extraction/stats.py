"""Per-array statistics in a single chunked pass over the values.

Decided edge cases (each has a test):
- NaN and Inf are counted, then left out of min, max, mean, std and l2, which describe the
  finite values; ``zero_fraction`` is over all values.
- No finite value (an empty array, or all NaN/Inf): min, max, mean, std and l2 are ``None``.
- A scalar is an array of one value; all-equal values give ``std == 0.0``.
- Integer, boolean, float16 and bfloat16 arrays are accumulated in float64.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Values per chunk: bounds the float64 scratch memory to a few MB whatever the array's size.
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Stats:
    """Summary of one weight array."""

    size: int
    """Number of values, finite or not."""
    min: float | None
    """Smallest finite value; None when there is none."""
    max: float | None
    """Largest finite value; None when there is none."""
    mean: float | None
    """Mean of the finite values."""
    std: float | None
    """Population standard deviation of the finite values."""
    l2: float | None
    """Euclidean norm of the finite values."""
    zero_fraction: float
    """Share of values exactly equal to 0 (0.0 for an empty array)."""
    nan_count: int
    """Number of NaN values."""
    inf_count: int
    """Number of +Inf or -Inf values."""

    def as_dict(self) -> dict[str, Any]:
        """The statistics as a JSON-ready dict (None stays None)."""
        return asdict(self)


def compute_stats(array: np.ndarray[Any, Any]) -> Stats:
    """Statistics of ``array`` in one pass, chunk by chunk; the array is not modified."""
    flat = np.asarray(array).reshape(-1)
    size = int(flat.size)
    count = 0
    mean = 0.0
    m2 = 0.0  # sum of squared deviations from the running mean (Chan et al.)
    sumsq = 0.0
    lo = math.inf
    hi = -math.inf
    zeros = nans = infs = 0
    for start in range(0, size, _CHUNK):
        chunk = flat[start : start + _CHUNK].astype(np.float64)
        zeros += int(np.count_nonzero(chunk == 0.0))
        finite_mask = np.isfinite(chunk)
        n_finite = int(np.count_nonzero(finite_mask))
        if n_finite != chunk.size:
            n_nan = int(np.count_nonzero(np.isnan(chunk)))
            nans += n_nan
            infs += chunk.size - n_finite - n_nan
            chunk = chunk[finite_mask]
        if n_finite == 0:
            continue
        c_mean = float(chunk.mean())
        c_m2 = float(np.square(chunk - c_mean).sum())
        delta = c_mean - mean
        total = count + n_finite
        mean += delta * n_finite / total
        m2 += c_m2 + delta * delta * count * n_finite / total
        count = total
        sumsq += float(np.dot(chunk, chunk))
        lo = min(lo, float(chunk.min()))
        hi = max(hi, float(chunk.max()))
    if count == 0:
        return Stats(size, None, None, None, None, None, _fraction(zeros, size), nans, infs)
    std = math.sqrt(max(m2 / count, 0.0))
    return Stats(size, lo, hi, mean, std, math.sqrt(sumsq), _fraction(zeros, size), nans, infs)


def _fraction(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
