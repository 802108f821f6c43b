"""Every Keras layout fact, once: which classes are convolutions and recurrent layers, the axes
of each kernel, the gate order of recurrent weights, the sub-layers of attention, and the views
derived from them (a weight as a 2-D matrix, a conv kernel as a bank of filters, a weight as one
column per unit).

Keras's own layouts are the truth (STYLE.md): Dense kernel ``(in, units)``; Conv ``(..spatial..,
in // groups, filters)``; Conv2DTranspose ``(kh, kw, filters, in)``; DepthwiseConv2D ``(kh, kw,
in, multiplier)``; LSTM kernel ``(in, 4 * units)`` with gates i, f, c, o; GRU ``(in, 3 * units)``
with gates z, r, h; attention projections ``(d_model, heads, head_dim)`` and the output
projection ``(heads, head_dim, d_model)``.

Views take the layer's *kind*, decided once when the records are made (``kinds.kind_of``), never
a class name: a ``TimeDistributed(Conv2D)`` is a ``conv2d`` everywhere.

Other formats store other axis orders. A reader records the order it found in ``Weight.layout``
and keeps the array exactly as stored; ``to_keras_axes`` turns it into a view in Keras's order
(a transpose or reshape of the same values, never new values), which is what the views get.

TFLite layouts (from its schema and kernels):
- ``OI``: FULLY_CONNECTED weights ``(units, in)``, and the per-gate matrices of
  UNIDIRECTIONAL_SEQUENCE_LSTM -> Keras ``(in, units)``: the two axes swapped.
- ``OHWI``: CONV_2D filters ``(out, kh, kw, in)`` -> Keras ``(kh, kw, in, out)``.
- ``OHWI>T``: TRANSPOSE_CONV filters ``(out, kh, kw, in)`` -> Conv2DTranspose ``(kh, kw, out,
  in)``.
- ``1HW(C*M):M``: DEPTHWISE_CONV_2D filters ``(1, kh, kw, channels * multiplier)`` with the
  multiplier after the colon -> Keras ``(kh, kw, channels, multiplier)``; TFLite's channel index
  ``c * M + m`` is exactly a C-order reshape of the last axis.
- CONV_3D stores ``(kd, kh, kw, in, out)`` as Keras does: no layout is recorded.
"""

from __future__ import annotations

from typing import Any, get_args

import numpy as np

from .kinds import CONV_KINDS, LayerKind

Array = np.ndarray[Any, Any]

CONV_CLASSES: frozenset[str] = frozenset(
    (
        "Conv1D Conv2D Conv3D Conv1DTranspose Conv2DTranspose Conv3DTranspose Convolution1D "
        "Convolution2D Convolution3D Convolution2DTranspose Convolution3DTranspose"
    ).split()
)
"""Plain convolution classes (Keras 1-3 spellings): a ``kernel`` and an optional ``bias``."""
RNN_CLASSES: frozenset[str] = frozenset(
    {"LSTM", "GRU", "SimpleRNN", "RNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "CuDNNLSTM"}
)
"""Recurrent layers whose weights live in a cell that adds no prefix to their names."""
RNN_GATES: dict[str, tuple[str, ...]] = {"lstm": ("i", "f", "c", "o"), "gru": ("z", "r", "h")}
"""Gate order within a recurrent kernel's columns, by layer kind (Keras 2 and 3)."""
GATE_MEANINGS: dict[str, str] = {
    "lstm": "4 gates (i, f, c, o) x units",
    "gru": "3 gates (z, r, h) x units",
}
"""How the gate axis of an LSTM or GRU kernel reads, for people."""
ATTENTION_SUBLAYERS: dict[str, str] = {
    "query_dense": "query",
    "key_dense": "key",
    "value_dense": "value",
    "output_dense": "attention_output",
}
"""MultiHeadAttention's sub-layer attributes and the prefix each gives its weights' names."""
ATTENTION_OUTPUTS: tuple[str, ...] = ("attention_output", "output_dense")
"""Sub-layer prefixes of the output projection, whose kernel is ``(heads, head_dim, d_model)``."""
SPATIAL_CONV_KINDS: tuple[LayerKind, ...] = ("conv1d", "conv2d", "conv3d", "conv2d_transpose")
"""Conv kinds whose kernel maps ``in`` to ``out`` channels at every kernel position (not
depthwise or separable)."""
_CONV_RANK: dict[str, int] = {"conv1d": 3, "conv3d": 5}
"""Axes of a conv kernel by kind; every other conv kind has 4."""


def rnn_gates(kind: str, n_cols: int) -> tuple[list[int], list[str]]:
    """Gate boundaries (first column of each gate after the first) and gate names.

    ``kind`` is the layer's kind, or for ``Bidirectional`` the wrapped layer's kind. SimpleRNN
    and other kinds have no gates: ``([], [])``; so does a width that does not divide evenly.
    """
    names = RNN_GATES.get(kind)
    if not names or n_cols % len(names):
        return [], []
    units = n_cols // len(names)
    return [units * g for g in range(1, len(names))], list(names)


def _check_kind(kind: str) -> None:
    if kind not in get_args(LayerKind):
        raise ValueError(
            f"expected a layer kind ({', '.join(get_args(LayerKind))}); received {kind!r} "
            "(pass LayerWeights.kind, not the class name)"
        )


def to_2d(array: Array, role: str, kind: str, *, name: str = "") -> tuple[Array, str, str]:
    """Reshape any weight to the 2-D matrix a heatmap shows, with its axis titles.

    Keras layouts decide the reshape (the result is a view when numpy can make one):
    - 2-D weights stay as they are: Dense ``(in, units)``, Embedding ``(vocab, dim)``, LSTM/GRU
      kernels ``(in, gates * units)`` and recurrent kernels ``(units, gates * units)``.
    - Conv kernels ``(..spatial.., in, out)`` become ``(spatial * in, out)``; Conv2DTranspose
      ``(kh, kw, out, in)`` has its axes swapped first so rows are again ``spatial * in``.
    - Depthwise kernels ``(kh, kw, in, mult)`` become ``(kh * kw, in * mult)``: a column per
      depthwise filter. Pointwise kernels ``(1, 1, in, out)`` become ``(in, out)``.
    - Attention and EinsumDense (``dense``) projections ``(d_model, heads, head_dim)`` become
      ``(d_model, heads * head_dim)``; an output projection (weight ``name`` under
      ``attention_output/`` or ``output_dense/``) ``(heads, head_dim, d_model)`` becomes
      ``(heads * head_dim, d_model)``.
    - Any other array of 3 or more axes: all axes but the last become the rows.
    - A 1-D array is one row ``(1, n)``; a scalar is ``(1, 1)``.

    Args:
        array: the weight's values; not modified.
        role: the weight's role (``kernel``, ``depthwise_kernel`` ...).
        kind: the layer's kind (``LayerWeights.kind``).
        name: the weight's name within its layer; tells attention output projections apart.

    Raises:
        ValueError: ``kind`` is not a layer kind.
    """
    _check_kind(kind)
    a = np.asarray(array)
    sublayer = name.rsplit("/", 1)[0] if "/" in name else ""
    if a.ndim == 0:
        return a.reshape(1, 1), "", "value"
    if a.ndim == 1:
        return a.reshape(1, -1), "", "index"
    if role == "depthwise_kernel" or (kind == "depthwise_conv2d" and role == "kernel"):
        return a.reshape(-1, a.shape[-2] * a.shape[-1]), "kernel position", "channel x multiplier"
    if role == "pointwise_kernel":
        return a.reshape(-1, a.shape[-1]), "input channel", "output filter"
    if a.ndim == 2:
        return a, *_labels_2d(role, kind)
    if kind == "conv2d_transpose":
        a = np.swapaxes(a, -1, -2)
    if kind in CONV_KINDS:
        return a.reshape(-1, a.shape[-1]), "kernel position x input channel", "output filter"
    if kind in ("attention", "dense"):
        if sublayer.endswith(ATTENTION_OUTPUTS):
            return a.reshape(-1, a.shape[-1]), "head x head dim", "model dim"
        return a.reshape(a.shape[0], -1), "model dim", "head x head dim"
    return a.reshape(-1, a.shape[-1]), "flattened leading axes", "last axis"


def _labels_2d(role: str, kind: str) -> tuple[str, str]:
    if role == "embeddings" or kind == "embedding":
        return "token id", "embedding dim"
    gated = kind in ("lstm", "gru", "bidirectional")
    out = "gate x unit" if gated else "unit"
    if role == "recurrent_kernel":
        return "hidden unit", out
    if kind in ("simple_rnn", "lstm", "gru", "bidirectional"):
        return "input feature", out
    if role in ("kernel", "other"):
        return "input unit", "output unit"
    return "row", "column"


def filter_bank(kernel: Array, kind: str, depth: int = 0) -> Array:
    """The filters of a conv kernel as ``(n_filters, rows, cols, channels)`` (a view).

    - Conv2D ``(kh, kw, in, out)``: ``out`` filters of ``kh x kw`` over ``in`` channels.
    - Conv2DTranspose ``(kh, kw, out, in)``: the filters are axis 2.
    - Conv3D ``(kd, kh, kw, in, out)``: the ``depth`` slice, then as Conv2D.
    - Conv1D ``(k, in, out)``: each filter is one ``k x in`` image (a single channel).
    - DepthwiseConv2D / SeparableConv2D depthwise ``(kh, kw, in, mult)``: one single-channel
      tile per (channel, multiplier), index ``channel * mult + multiplier`` as Keras orders
      the outputs.

    Raises:
        ValueError: unknown kind, a shape that does not fit it, or ``depth`` out of range.
    """
    k = np.asarray(kernel)
    if kind not in CONV_KINDS:
        raise ValueError(f"no filter grid for kind {kind!r}; expected one of {CONV_KINDS}")
    rank = _CONV_RANK.get(kind, 4)
    if k.ndim != rank:
        raise ValueError(f"a {kind} kernel has {rank} axes; received shape {k.shape}")
    if kind == "conv3d":
        if not 0 <= depth < k.shape[0]:
            raise ValueError(f"depth must be in 0..{k.shape[0] - 1}; received depth={depth}")
        k = k[depth]
    if kind == "conv1d":
        return np.transpose(k, (2, 0, 1))[..., np.newaxis]
    if kind == "conv2d_transpose":
        return np.transpose(k, (2, 0, 1, 3))
    if kind in ("depthwise_conv2d", "separable_conv2d"):
        kh, kw, cin, mult = k.shape
        return np.transpose(k.reshape(kh, kw, cin * mult), (2, 0, 1))[..., np.newaxis]
    return np.transpose(k, (3, 0, 1, 2))


def filter_count(shape: tuple[int, ...], kind: str) -> int:
    """Number of tiles a kernel of this shape shows (without reading the array)."""
    return int(filter_bank(np.empty(shape, dtype=np.uint8), kind).shape[0])


def input_channels(shape: tuple[int, ...], kind: str) -> int:
    """Channels per tile that a channel picker chooses from (1 for Conv1D and depthwise)."""
    return int(filter_bank(np.empty(shape, dtype=np.uint8), kind).shape[-1])


def unit_matrix(values: Array, role: str, kind: str, name: str = "") -> tuple[Array | None, str]:
    """The weight as ``(values_per_unit, n_units)``: one column per filter or unit.

    Conv kernels give a column per output filter (Conv2DTranspose's filters are its third
    axis), depthwise kernels one per channel x multiplier, 2-D kernels one per output unit,
    embeddings one per token. Weights of fewer than 2 axes have no units: ``(None, "")``.
    """
    if np.ndim(values) < 2:
        return None, ""
    matrix, _, _ = to_2d(values, role, kind, name=name)
    if role == "embeddings" or kind == "embedding":
        return matrix.T, "token"
    if role in ("depthwise_kernel", "pointwise_kernel") or kind in CONV_KINDS:
        return matrix, "channel" if role == "depthwise_kernel" else "filter"
    return matrix, "unit"


# Stored layouts of other formats (TFLite) and their way to Keras's axes.

FULLY_CONNECTED = "OI"
CONV = "OHWI"
TRANSPOSE_CONV = "OHWI>T"
DEPTHWISE_PREFIX = "1HW(C*M):"


def depthwise(multiplier: int) -> str:
    """The layout of a TFLite depthwise filter with this depth multiplier."""
    return f"{DEPTHWISE_PREFIX}{multiplier}"


def _perm(layout: str, ndim: int) -> tuple[int, ...] | None:
    if layout == FULLY_CONNECTED and ndim == 2:
        return (1, 0)
    if layout == CONV and ndim == 4:
        return (1, 2, 3, 0)
    if layout == TRANSPOSE_CONV and ndim == 4:
        return (1, 2, 0, 3)
    return None


def keras_shape(shape: tuple[int, ...], layout: str) -> tuple[int, ...]:
    """The shape of a stored array of ``shape`` once in Keras's axis order.

    A layout that does not fit the shape (a damaged file) leaves the shape as stored.
    """
    perm = _perm(layout, len(shape))
    if perm is not None:
        return tuple(shape[i] for i in perm)
    if layout.startswith(DEPTHWISE_PREFIX) and len(shape) == 4 and shape[0] == 1:
        m = _multiplier(layout)
        if m and shape[3] % m == 0:
            return (shape[1], shape[2], shape[3] // m, m)
    return shape


def to_keras_axes(array: Array, layout: str) -> Array:
    """``array`` (stored in ``layout``) as a view in Keras's axis order; not copied."""
    a = np.asarray(array)
    perm = _perm(layout, a.ndim)
    if perm is not None:
        return a.transpose(perm)
    target = keras_shape(a.shape, layout)
    return a.reshape(target) if target != a.shape else a


def stored_channel_axis(layout: str | None, ndim: int) -> int:
    """The stored axis that holds output channels (what per-channel scales run along)."""
    if layout in (FULLY_CONNECTED, CONV, TRANSPOSE_CONV):
        return 0
    return ndim - 1


def _multiplier(layout: str) -> int:
    try:
        return int(layout[len(DEPTHWISE_PREFIX) :])
    except ValueError:
        return 0


def from_keras_axes(array: Array, layout: str | None, stored_shape: tuple[int, ...]) -> Array:
    """The inverse of ``to_keras_axes``: an array in Keras's order laid out as the file stores
    it (to compare a Keras weight with a stored one channel by channel)."""
    a = np.asarray(array)
    if not layout:
        return a
    perm = _perm(layout, a.ndim)
    if perm is not None:
        return a.transpose(np.argsort(perm))
    return a.reshape(stored_shape)
