"""The bytes of the selected layer's downloads: its arrays as .npy, .npz and .csv.

``components.page.downloads`` offers them and builds the bytes only when the user clicks, so a
large layer costs nothing until it is asked for.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np

from kerascope.extraction.records import LayerWeights, ModelWeights, Weight, storable

CSV_MAX_VALUES = 2_000_000
"""Above this many values a CSV is not offered (it would be hundreds of MB of text)."""


def npy_bytes(array: np.ndarray[Any, Any]) -> bytes:
    """One array as a ``.npy`` file (bfloat16, which ``.npy`` cannot describe, as float32)."""
    buffer = io.BytesIO()
    np.save(buffer, storable(array), allow_pickle=False)
    return buffer.getvalue()


def npz_bytes(layer: LayerWeights) -> bytes:
    """Every weight of ``layer`` in one ``.npz``, keyed by weight name."""
    buffer = io.BytesIO()
    np.savez(buffer, **{w.name: storable(w.array()) for w in layer.weights})  # type: ignore[arg-type]
    return buffer.getvalue()


def csv_bytes(array: np.ndarray[Any, Any]) -> bytes | None:
    """A 1-D array as one column, a 2-D array as rows; None for other ranks or too many values."""
    if array.ndim not in (1, 2) or array.size > CSV_MAX_VALUES:
        return None
    buffer = io.StringIO()
    matrix = array.reshape(-1, 1) if array.ndim == 1 else array
    np.savetxt(buffer, storable(matrix).astype(np.float64), delimiter=",", fmt="%.9g")
    return buffer.getvalue().encode()


def file_stem(model: ModelWeights, layer: LayerWeights, weight: Weight | None = None) -> str:
    """A safe file name stem: ``digits_cnn-conv1-kernel``."""
    parts = [model.name, layer.path] + ([weight.name] if weight is not None else [])
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(parts)).strip("_") or "weights"
