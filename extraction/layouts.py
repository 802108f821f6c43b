"""Layout facts: how a file's stored axis order maps onto Keras's, in one place.

Keras's layouts are the truth the views are built for: Dense ``(in, units)``; Conv2D ``(kh, kw,
in, filters)``; Conv2DTranspose ``(kh, kw, filters, in)``; DepthwiseConv2D ``(kh, kw, in,
multiplier)``. Other formats store other orders; a reader records the order it found in
``Weight.layout`` and keeps the array exactly as stored. ``to_keras_axes`` turns a stored array
into a view in Keras's order (a transpose or reshape of the same values, never new values).

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

from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]

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
