"""Per-array statistics in a single chunked pass over the values.

Decided edge cases (each has a test):
- NaN and Inf are counted, then left out of min, max, mean, std and l2, which describe the
  finite values; ``zero_fraction`` is over all values.
- No finite value (an empty array, or all NaN/Inf): min, max, mean, std and l2 are ``None``.
- A scalar is an array of one value; all-equal values give ``std == 0.0``.
- float16 and bfloat16 are widened to float32, integers and booleans to float64; float32 and
  float64 are read as they are.

How it stays fast and exact enough: the array is walked in cache-sized chunks, each chunk's
sums are taken with numpy's pairwise summation (error ~ log2(n) ulp, not n ulp) and added up in
Python floats (float64). Sums are of ``x - K`` with ``K`` the first finite value, so the variance
of values far from zero (a moving variance near 1.0) does not cancel away. Large arrays are
split between threads (numpy releases the GIL), and the partial sums simply add.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Values per chunk: a float32 chunk is 1 MB, so the passes over it stay in the CPU cache.
_CHUNK = 1 << 18
# Arrays at least this large are split between threads.
_PARALLEL_MIN = 1 << 23
_THREADS = max(1, min(4, os.cpu_count() or 1))


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


@dataclass
class _Partial:
    """Sums over part of an array, all of ``x - shift``; partials of one array add up."""

    count: int = 0
    s1: float = 0.0
    s2: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf
    zeros: int = 0
    nans: int = 0
    infs: int = 0

    def add(self, other: _Partial) -> None:
        self.count += other.count
        self.s1 += other.s1
        self.s2 += other.s2
        self.lo = min(self.lo, other.lo)
        self.hi = max(self.hi, other.hi)
        self.zeros += other.zeros
        self.nans += other.nans
        self.infs += other.infs


def compute_stats(array: np.ndarray[Any, Any]) -> Stats:
    """Statistics of ``array`` in one pass, chunk by chunk; the array is not modified."""
    flat = np.asarray(array).reshape(-1)
    size = int(flat.size)
    work = _working_dtype(flat.dtype)
    shift = _first_finite(flat, work)
    if size >= _PARALLEL_MIN and _THREADS > 1:
        bounds = np.linspace(0, size, _THREADS + 1, dtype=np.int64)
        with ThreadPoolExecutor(_THREADS) as pool:
            parts = list(
                pool.map(
                    lambda i: _scan(flat[bounds[i] : bounds[i + 1]], work, shift), range(_THREADS)
                )
            )
        total = _Partial()
        for part in parts:
            total.add(part)
    else:
        total = _scan(flat, work, shift)
    zero_fraction = total.zeros / size if size else 0.0
    if total.count == 0:
        return Stats(size, None, None, None, None, None, zero_fraction, total.nans, total.infs)
    n = total.count
    mean_d = total.s1 / n
    variance = max(total.s2 / n - mean_d * mean_d, 0.0)
    sumsq = total.s2 + 2.0 * shift * total.s1 + n * shift * shift
    return Stats(
        size,
        total.lo,
        total.hi,
        shift + mean_d,
        math.sqrt(variance),
        math.sqrt(max(sumsq, 0.0)),
        zero_fraction,
        total.nans,
        total.infs,
    )


def _scan(flat: np.ndarray[Any, Any], work: np.dtype[Any], shift: float) -> _Partial:
    total = _Partial()
    k = work.type(shift)
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start : start + _CHUNK]
        if chunk.dtype != work:
            chunk = chunk.astype(work)
        part = _Partial(zeros=int(np.count_nonzero(chunk == 0)))
        finite = np.isfinite(chunk)
        if not finite.all():
            nan = int(np.count_nonzero(np.isnan(chunk)))
            part.nans = nan
            part.infs = int(chunk.size - np.count_nonzero(finite) - nan)
            chunk = chunk[finite]
        if chunk.size:
            part.count = int(chunk.size)
            part.lo = float(chunk.min())
            part.hi = float(chunk.max())
            d = chunk - k
            part.s1 = float(d.sum(dtype=np.float64) if work == np.float64 else d.sum())
            np.square(d, out=d)
            part.s2 = float(d.sum())
        total.add(part)
    return total


def _working_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    if dtype == np.float64 or dtype.kind in "iub":
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def _first_finite(flat: np.ndarray[Any, Any], work: np.dtype[Any]) -> float:
    """The first finite value (the shift of the sums), 0.0 when there is none."""
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start : start + _CHUNK].astype(work, copy=False)
        hits = np.flatnonzero(np.isfinite(chunk))
        if hits.size:
            return float(chunk[hits[0]])
    return 0.0
