"""Weights stored as ``model.weights.npz`` inside a ``.keras`` zip, plain arrays only.

Keras 3's own npz writer pickles a dict per layer, which is refused before this module runs
(see ``keras_zip``). An npz of plain arrays keyed ``<group path>/vars/<i>`` or
``<group path>/<name>`` is read here with ``allow_pickle=False``; each key's group path becomes
a layer (matched to the config by name where possible) and the rest its weight name.

Decided edge cases:
- Shapes and dtypes come from each ``.npy`` header; no array is read until asked for.
- A ``.npy`` header numpy cannot parse safely (or format 3.0) counts as an object array.
"""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..layouts import classify
from ..records import Array, LayerWeights, Weight
from ._config import LayerNode, leaves
from ._layer_vars import is_trainable
from .store import ArrayStore, Deferred


def _header(f: IO[bytes]) -> tuple[tuple[int, ...], np.dtype[Any]]:
    version = np.lib.format.read_magic(f)
    read = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, _, dtype = read(f)
    return tuple(int(d) for d in shape), dtype


def npz_layers(
    path: Path, info: zipfile.ZipInfo, tree: LayerNode | None, store: ArrayStore
) -> tuple[tuple[LayerWeights, ...], tuple[str, ...]]:
    """Layers from a plain-array npz member (already checked to hold no pickle), their arrays
    read through ``store``."""
    lock = threading.Lock()
    groups: dict[str, list[Weight]] = {}
    with zipfile.ZipFile(path) as zf, zipfile.ZipFile(zf.open(info)) as inner:
        for member in inner.infolist():
            key = member.filename.removesuffix(".npy")
            with inner.open(member) as f:
                shape, dtype = _header(f)
            group, _, name = key.rpartition("/")
            if group.endswith("/vars") or group == "vars":
                group, name = group.removesuffix("vars").rstrip("/"), f"vars/{name}"
            source = Deferred(_loader(path, info, key, lock))
            groups.setdefault(group, []).append(
                store.weight(name, source, shape=shape, dtype=str(dtype),
                             trainable=is_trainable(name))
            )  # fmt: skip
    by_name = {p.rsplit("/", 1)[-1]: (p, n) for p, n in leaves(tree)} if tree else {}
    layers = []
    for group, weights in groups.items():
        short = group.rsplit("/", 1)[-1] or "model"
        layer_path, node = by_name.get(short, (group.removeprefix("layers/") or short, None))
        class_name = node.class_name if node else "unknown"
        config = node.config if node else {}
        kind, wrapped = classify(class_name, config)
        layers.append(
            LayerWeights(short, layer_path, class_name, kind, config, tuple(weights), wrapped)
        )
    note = "weights read from model.weights.npz; names are the file's own keys"
    return tuple(layers), (note,)


def _loader(
    path: Path, info: zipfile.ZipInfo, key: str, lock: threading.Lock
) -> Callable[[], Array]:
    def load() -> Array:
        with lock, zipfile.ZipFile(path) as zf, zf.open(info) as member:
            with np.load(member, allow_pickle=False) as npz:
                return np.asarray(npz[key])

    return load
