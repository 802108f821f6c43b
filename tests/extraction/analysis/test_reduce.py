"""Block reduction for display and reshaping any weight to 2-D, checked by value."""

from __future__ import annotations

import numpy as np
import pytest

from kerascope.extraction.analysis.reduce import reduce_blocks


def readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a)
    a.setflags(write=False)
    return a


def test_mean_of_even_blocks() -> None:
    m = readonly(np.arange(16, dtype=np.float32).reshape(4, 4))
    r = reduce_blocks(m, 2, 2, "mean")
    assert r.block == (2, 2) and r.shape == (4, 4)
    np.testing.assert_array_equal(r.values, [[2.5, 4.5], [10.5, 12.5]])


def test_uneven_shape_pools_last_blocks_over_what_they_hold() -> None:
    m = readonly(np.arange(35, dtype=np.float64).reshape(5, 7))
    r = reduce_blocks(m, 2, 3, "mean")
    assert r.block == (3, 3)
    assert r.values.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            (r0, r1), (c0, c1) = r.row_range(i), r.col_range(j)
            assert r.values[i, j] == pytest.approx(m[r0:r1, c0:c1].mean())
    # The last column block holds one column, the last row block two rows: no padding zeros.
    assert r.col_range(2) == (6, 7) and r.row_range(1) == (3, 5)
    assert r.values[1, 2] == pytest.approx((27 + 34) / 2)


def test_max_abs_keeps_sign_and_handles_uneven_blocks() -> None:
    m = readonly(
        np.array(
            [
                [1.0, -5.0, 2.0, 0.5, 9.0],
                [3.0, 4.0, -1.0, 0.0, -0.1],
                [-7.0, 0.0, 6.0, -6.5, 0.2],
            ]
        )
    )
    r = reduce_blocks(m, 2, 3, "max_abs")
    assert r.block == (2, 2)
    np.testing.assert_array_equal(r.values, [[-5.0, 2.0, 9.0], [-7.0, -6.5, 0.2]])


def test_max_abs_tie_prefers_positive() -> None:
    r = reduce_blocks(np.array([[-2.0, 2.0]]), 1, 1, "max_abs")
    assert r.values[0, 0] == 2.0


@pytest.mark.parametrize("mode", ["mean", "max_abs"])
def test_nan_ignored_and_all_nan_block_is_nan(mode: str) -> None:
    m = readonly(np.array([[np.nan, 4.0, np.nan, np.nan], [2.0, np.nan, np.nan, np.nan]]))
    r = reduce_blocks(m, 1, 2, mode)  # type: ignore[arg-type]
    assert r.values[0, 0] == (3.0 if mode == "mean" else 4.0)
    assert np.isnan(r.values[0, 1])


def test_inf_propagates() -> None:
    m = np.array([[np.inf, 1.0, -np.inf, np.inf]])
    assert reduce_blocks(m, 1, 2, "mean").values[0, 0] == np.inf
    assert np.isnan(reduce_blocks(m, 1, 2, "mean").values[0, 1])
    assert reduce_blocks(m, 1, 2, "max_abs").values[0, 1] == np.inf  # tie: positive wins


def test_small_matrix_is_a_float_copy() -> None:
    m = readonly(np.arange(6, dtype=np.int32).reshape(2, 3))
    r = reduce_blocks(m, 10, 10, "mean")
    assert r.block == (1, 1) and not r.is_reduced
    assert r.values.dtype == np.float64
    np.testing.assert_array_equal(r.values, m)
    assert r.describe() == "1 cell = 1 weight"


def test_describe_says_what_one_cell_stands_for() -> None:
    r = reduce_blocks(np.zeros((490, 80)), 10, 10, "max_abs")
    assert r.describe() == "1 cell = 49 x 8 weights (max-abs)"


def test_chunked_path_matches_a_direct_computation() -> None:
    rng = np.random.default_rng(1)
    m = rng.standard_normal((3001, 1500)).astype(np.float32)  # > one 4M-value chunk
    r = reduce_blocks(m, 100, 100, "mean")
    br, bc = r.block
    assert r.values.shape == (int(np.ceil(3001 / br)), int(np.ceil(1500 / bc)))
    assert r.values[-1, -1] == pytest.approx(m[-(3001 % br or br) :, 1485:].mean(), rel=1e-5)
    assert r.values[17, 3] == pytest.approx(m[17 * br : 18 * br, 3 * bc : 4 * bc].mean(), rel=1e-5)


def test_empty_matrix() -> None:
    r = reduce_blocks(np.zeros((0, 5)), 3, 3, "mean")
    assert r.values.shape == (0, 5) and r.block == (1, 1)


@pytest.mark.parametrize(
    "args",
    [(np.zeros(3), 2, 2, "mean"), (np.zeros((2, 2)), 0, 2, "mean"), (np.zeros((2, 2)), 1, 1, "x")],
)
def test_bad_arguments_raise(args: tuple) -> None:
    with pytest.raises(ValueError):
        reduce_blocks(*args)
