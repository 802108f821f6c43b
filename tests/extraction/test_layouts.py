"""Keras layout facts: a weight as a 2-D matrix, a kernel as filters, recurrent gates."""

from __future__ import annotations

import numpy as np
import pytest

from kerascope.extraction.layouts import kind_of, rnn_gates, to_2d, unit_matrix


def readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@pytest.mark.parametrize(
    ("shape", "role", "class_name", "name", "expected", "labels"),
    [
        ((8, 4), "kernel", "Dense", "kernel", (8, 4), ("input unit", "output unit")),
        (
            (100, 16),
            "embeddings",
            "Embedding",
            "embeddings",
            (100, 16),
            ("token id", "embedding dim"),
        ),
        ((3, 3, 2, 5), "kernel", "Conv2D", "kernel", (18, 5), None),
        ((3, 4, 2), "kernel", "Conv1D", "kernel", (12, 2), None),
        ((2, 3, 3, 4, 6), "kernel", "Conv3D", "kernel", (72, 6), None),
        ((3, 3, 4, 2), "depthwise_kernel", "SeparableConv2D", "depthwise_kernel", (9, 8), None),
        ((1, 1, 8, 16), "pointwise_kernel", "SeparableConv2D", "pointwise_kernel", (8, 16), None),
        ((3, 4, 2), "kernel", "Conv1DTranspose", "kernel", (6, 4), None),  # (k, filters, in)
        ((2, 3, 3, 4, 6), "kernel", "Conv3DTranspose", "kernel", (108, 4), None),
        ((3, 4, 2), "kernel", "DepthwiseConv1D", "kernel", (3, 8), None),  # (k, in, mult)
        ((3, 4, 2), "depthwise_kernel", "SeparableConv1D", "depthwise_kernel", (3, 8), None),
        ((1, 8, 16), "pointwise_kernel", "SeparableConv1D", "pointwise_kernel", (8, 16), None),
        ((16, 4, 8), "kernel", "MultiHeadAttention", "query/kernel", (16, 32), None),
        ((4, 8, 16), "kernel", "MultiHeadAttention", "attention_output/kernel", (32, 16), None),
        ((5, 12), "kernel", "LSTM", "kernel", (5, 12), ("input feature", "gate x unit")),
        (
            (3, 9),
            "recurrent_kernel",
            "GRU",
            "recurrent_kernel",
            (3, 9),
            ("hidden unit", "gate x unit"),
        ),
        ((7,), "bias", "Dense", "bias", (1, 7), None),
        ((), "other", "Custom", "scale", (1, 1), None),
    ],
)
def test_to_2d_shapes(shape, role, class_name, name, expected, labels) -> None:
    a = readonly(np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape))
    m, row_label, col_label = to_2d(a, role, kind_of(class_name), name=name)
    assert m.shape == expected
    assert row_label is not None and col_label
    if labels:
        assert (row_label, col_label) == labels


def test_to_2d_conv_transpose_rows_are_spatial_by_input() -> None:
    k = np.random.default_rng(0).standard_normal((3, 3, 5, 2))  # (kh, kw, filters, in)
    m, _, col = to_2d(k, "kernel", "conv2d_transpose")
    assert m.shape == (18, 5) and col == "output filter"
    # Column f is filter f; row (i, j, c) is kernel[i, j, f, c].
    np.testing.assert_array_equal(m[:, 4], k[:, :, 4, :].reshape(-1))


def test_to_2d_conv1d_transpose_columns_are_its_filters() -> None:
    k = np.random.default_rng(1).standard_normal((3, 5, 2))  # (k, filters, in)
    m, rows, col = to_2d(k, "kernel", "conv1d_transpose")
    units, unit = unit_matrix(k, "kernel", "conv1d_transpose")
    assert m.shape == (6, 5) and col == "output filter" and unit == "filter"
    np.testing.assert_array_equal(m[:, 4], k[:, 4, :].reshape(-1))
    assert units is not None and units.shape == (6, 5)


def test_to_2d_attention_keeps_values() -> None:
    k = np.arange(4 * 2 * 3).reshape(4, 2, 3)  # (d_model, heads, head_dim)
    m, _, _ = to_2d(k, "kernel", "attention", name="value/kernel")
    assert m[1, 3 + 2] == k[1, 1, 2]


def test_to_2d_refuses_a_class_name_for_a_kind() -> None:
    with pytest.raises(ValueError, match="pass LayerWeights.kind"):
        to_2d(np.zeros((3, 3, 1, 2)), "kernel", "Conv2D")


def test_time_distributed_conv_keeps_its_kind_in_every_view() -> None:
    # The kind is decided once, from the wrapped class; the views never re-derive it.
    kind = kind_of("TimeDistributed", "Conv2D")
    kernel = np.arange(3 * 3 * 2 * 4, dtype=float).reshape(3, 3, 2, 4)
    matrix, _, col = to_2d(kernel, "kernel", kind)
    units, unit = unit_matrix(kernel, "kernel", kind)
    assert matrix.shape == (18, 4) and col == "output filter"
    assert units is not None and units.shape == (18, 4) and unit == "filter"


@pytest.mark.parametrize(
    ("kind", "n_cols", "expected"),
    [
        ("lstm", 12, ([3, 6, 9], ["i", "f", "c", "o"])),
        ("gru", 9, ([3, 6], ["z", "r", "h"])),
        ("simple_rnn", 4, ([], [])),
        ("lstm", 10, ([], [])),  # not divisible by 4: no gates rather than wrong ones
    ],
)
def test_rnn_gates(kind: str, n_cols: int, expected: tuple[list[int], list[str]]) -> None:
    assert rnn_gates(kind, n_cols) == expected
