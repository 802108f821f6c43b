"""Reduce weights for display: any array to a 2-D matrix, any matrix to a bounded cell count.

Decided edge cases (each has a test):
- Shapes that do not divide evenly: the last block in each direction holds what is left
  (``rows % block``) and is pooled over those values only; nothing is padded.
- NaN is ignored: a block's mean or max-abs is over its non-NaN values; a block holding only
  NaN gives NaN (a gap in a heatmap).
- Inf is a value like any other, so an exploding weight stays visible: a block's mean with one
  +Inf is +Inf, with both +Inf and -Inf it is NaN; max-abs returns the Inf with its sign.
- ``max_abs`` returns the value of largest magnitude *with its sign*; on a tie between ``+a``
  and ``-a`` the positive value wins.
- An empty matrix (a zero-length axis) reduces to an empty matrix with block ``(1, 1)``.
- Integer, boolean, float16 and bfloat16 inputs are pooled in float64; the result is float64.
- The input is never modified.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

ReduceMode = Literal["mean", "max_abs"]
Array = np.ndarray[Any, Any]

# Values pooled per step: bounds the float64 scratch memory to ~32 MB whatever the input size.
_CHUNK_VALUES = 1 << 22
_THREADS = max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class Reduced:
    """A matrix block-pooled for display."""

    values: Array
    """The pooled matrix, float64, at most ``max_rows x max_cols``."""
    block: tuple[int, int]
    """``(rows_per_cell, cols_per_cell)``: how many input values one cell pools (the last row
    and column of cells may pool fewer)."""
    shape: tuple[int, int]
    """The shape of the matrix before reduction."""
    mode: ReduceMode
    """How each block was pooled."""

    @property
    def is_reduced(self) -> bool:
        """Whether one cell stands for more than one value."""
        return self.block != (1, 1)

    def row_range(self, i: int) -> tuple[int, int]:
        """Original rows ``[start, stop)`` pooled into cell row ``i``."""
        return _span(i, self.block[0], self.shape[0])

    def col_range(self, j: int) -> tuple[int, int]:
        """Original columns ``[start, stop)`` pooled into cell column ``j``."""
        return _span(j, self.block[1], self.shape[1])

    def describe(self) -> str:
        """One line for a caption: ``1 cell = 49 x 8 weights (max-abs)``."""
        if not self.is_reduced:
            return "1 cell = 1 weight"
        how = "max-abs" if self.mode == "max_abs" else "mean"
        return f"1 cell = {self.block[0]} x {self.block[1]} weights ({how})"


def _span(i: int, block: int, total: int) -> tuple[int, int]:
    return i * block, min((i + 1) * block, total)


def reduce_blocks(matrix: Array, max_rows: int, max_cols: int, mode: ReduceMode) -> Reduced:
    """Pool ``matrix`` in blocks so that the result has at most ``max_rows x max_cols`` cells.

    The block size is the smallest that fits: ``ceil(rows / max_rows)`` by
    ``ceil(cols / max_cols)``. A matrix already small enough comes back as a float64 copy with
    block ``(1, 1)``.

    Args:
        matrix: a 2-D array of any numeric dtype (read-only arrays are fine).
        max_rows: the most cell rows wanted, at least 1.
        max_cols: the most cell columns wanted, at least 1.
        mode: ``"mean"`` (the block's average) or ``"max_abs"`` (the block's value of largest
            magnitude, sign kept, so outliers stay visible).

    Raises:
        ValueError: ``matrix`` is not 2-D, a limit is below 1, or ``mode`` is unknown.
    """
    array = np.asarray(matrix)
    if array.ndim != 2:
        raise ValueError(
            f"reduce_blocks expects a 2-D matrix; received shape {array.shape} (use to_2d first)"
        )
    if max_rows < 1 or max_cols < 1:
        raise ValueError(
            f"max_rows and max_cols must be at least 1; received {max_rows} x {max_cols}"
        )
    if mode not in ("mean", "max_abs"):
        raise ValueError(f"mode must be 'mean' or 'max_abs'; received {mode!r}")
    rows, cols = (int(n) for n in array.shape)
    if rows == 0 or cols == 0:
        return Reduced(np.zeros((rows, cols)), (1, 1), (rows, cols), mode)
    br, bc = math.ceil(rows / max_rows), math.ceil(cols / max_cols)
    col_starts = np.arange(0, cols, bc)
    # Whole row-blocks per chunk, so no block straddles two chunks.
    step = br * max(1, _CHUNK_VALUES // (br * cols))
    if array.dtype.kind not in "fc" or array.dtype.itemsize < 4:
        array = array.astype(np.float32 if array.dtype.itemsize <= 4 else np.float64)
    starts = range(0, rows, step)
    if len(starts) > 1:  # numpy releases the GIL in reduceat: chunks pool in parallel
        with ThreadPoolExecutor(_THREADS) as pool:
            parts = list(
                pool.map(lambda s: _pool(array[s : s + step], br, col_starts, mode), starts)
            )
    else:
        parts = [_pool(array, br, col_starts, mode)]
    return Reduced(np.concatenate(parts, axis=0), (br, bc), (rows, cols), mode)


def _pool(chunk: Array, br: int, col_starts: Array, mode: ReduceMode) -> Array:
    """Pool one chunk of whole row-blocks; float32 input is reduced without a float64 copy."""
    row_starts = np.arange(0, chunk.shape[0], br)
    if mode == "mean":
        # Fast path: sums accumulate in float64 straight from the input; block sizes are known.
        # Rows are summed in the input's precision (float32: a relative error ~1e-6 per block,
        # invisible in a colour), columns of those partial sums in float64.
        with np.errstate(invalid="ignore", over="ignore"):  # +Inf with -Inf: NaN, handled below
            partial = np.add.reduceat(chunk, row_starts, axis=0).astype(np.float64)
            sums = np.add.reduceat(partial, col_starts, axis=1)
        if not np.isnan(sums).any():
            rows_in = np.diff(np.append(row_starts, chunk.shape[0]))
            cols_in = np.diff(np.append(col_starts, chunk.shape[1]))
            result: Array = sums / np.outer(rows_in, cols_in)
            return result
        return _pool_mean_with_nan(chunk.astype(np.float64), row_starts, col_starts)
    # fmax/fmin skip NaN, and give NaN only for a block holding nothing else.
    hi = np.fmax.reduceat(np.fmax.reduceat(chunk, row_starts, axis=0), col_starts, axis=1)
    lo = np.fmin.reduceat(np.fmin.reduceat(chunk, row_starts, axis=0), col_starts, axis=1)
    with np.errstate(invalid="ignore"):
        return np.where(hi >= -lo, hi, lo).astype(np.float64)


def _pool_mean_with_nan(chunk: Array, row_starts: Array, col_starts: Array) -> Array:
    nan = np.isnan(chunk)

    def pooled(values: Array) -> Array:
        return np.add.reduceat(np.add.reduceat(values, row_starts, axis=0), col_starts, axis=1)

    counts = pooled((~nan).astype(np.float64))
    with np.errstate(invalid="ignore"):  # +Inf and -Inf in one block: NaN, as documented
        sums = pooled(np.where(nan, 0.0, chunk))
        return np.where(counts > 0, sums / np.maximum(counts, 1.0), np.nan)
