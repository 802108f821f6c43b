"""Read Keras 3 sharded weights: ``NAME.weights.json`` and its ``NAME_00000.weights.h5`` shards.

``model.save_weights("x.weights.json", max_shard_size=GB)`` writes the index
``{"metadata": {...}, "weight_map": {"/layers/dense/vars": ["x_00000.weights.h5"], ...}}`` and
shards that each hold part of the saving library's HDF5 tree (see ``_keras_layout``). A layer's
group may be split between shards (its ``vars`` attributes in one, its arrays in the next), so
the shards are read as one tree (``MergedGroup``) by the same layout reader as a ``.weights.h5``.

Decided edge cases:
- The source is the index file, or a folder holding exactly one ``*.weights.json``; two or more
  in one folder are ambiguous and refused with their names.
- A ``config.json`` beside the index that is a Keras model config (``model.to_json()``, or the
  config.json of an unzipped ``.keras``) names and classes the layers; without one, classes
  come from group names, as for any ``.weights.h5``.
- Shard names are checked before anything is opened (``_shards``); every shard is opened with
  the same checks as a single HDF5 file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CorruptFile, UnsupportedFormat
from ..records import ModelWeights, SourceFormat
from ._config import LayerNode, check_model_config, model_tree
from ._h5 import H5_ERRORS, MergedGroup, one_line, open_h5
from ._keras_layout import Layout, read_layout
from ._optimizer import Described, read_hdf5_optimizer
from ._shards import read_index, shard_paths
from .sniff import KERAS_SHARDS_SUFFIX


@dataclass
class ShardedTree:
    """The shards of one index opened as one HDF5 tree; ``close`` closes every file."""

    index: Path
    root: MergedGroup
    files: list[Path]
    close: Callable[[], None]

    @property
    def budget(self) -> int:
        """The bytes the largest shard holds: no array of a shard can be larger."""
        return max(f.stat().st_size for f in self.files)


def find_index(path: Path) -> Path:
    """The ``.weights.json`` index ``path`` stands for (itself, or the one in a folder).

    Raises:
        UnsupportedFormat: a folder with none, or with several.
    """
    if not path.is_dir():
        return path
    found = sorted(path.glob(f"*{KERAS_SHARDS_SUFFIX}"))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise UnsupportedFormat(
            f"{path.name} should hold one {KERAS_SHARDS_SUFFIX} index of sharded Keras weights; "
            f"it holds {names}"
        )
    return found[0]


def open_shards(index: Path) -> ShardedTree:
    """Check the index, then open every shard it names.

    Raises:
        CorruptFile: an index without a weight map of group paths to ``.weights.h5`` files.
        UnsafeModel: a shard name leaving the folder; anything ``open_h5`` refuses.
    """
    mapping = read_index(index).get("weight_map")
    if not isinstance(mapping, dict) or not mapping:
        raise CorruptFile(
            f"{index.name} has no weight_map; expected the index Keras's save_weights writes "
            "with max_shard_size"
        )
    names: list[str] = []
    for value in mapping.values():
        for name in value if isinstance(value, list) else [value]:
            if not isinstance(name, str):
                raise CorruptFile(f"{index.name}: the weight_map names {name!r}, not a file")
            names.append(name)
    files = shard_paths(index, names)
    opened: list[Any] = []
    try:
        for file in files:
            opened.append(open_h5(file, file.name))
    except BaseException:
        for h5 in opened:
            h5.close()
        raise

    def close() -> None:
        for h5 in opened:
            h5.close()

    return ShardedTree(index, MergedGroup(opened), files, close)


def read_layers(tree: ShardedTree, model: LayerNode | None, label: str) -> Layout:
    """Every layer of the sharded tree, as ``read_layout`` finds them."""
    layout = Layout(3, label, tree.budget)
    try:
        read_layout(tree.root, model, layout)
        read_hdf5_optimizer(tree.root, layout, Described(None, {}), ordered=model is not None)
    except H5_ERRORS as exc:
        raise CorruptFile(f"{label}: the HDF5 structure is damaged ({one_line(exc)})") from exc
    return layout


def read_keras_sharded(path: Path, fmt: SourceFormat = "keras_sharded") -> ModelWeights:
    """The records of sharded Keras weights; arrays are read when first asked for.

    Raises:
        CorruptFile, UnsafeModel, UnsupportedFormat: see ``find_index`` and ``open_shards``.
    """
    index = find_index(path)
    model = _beside_config(index.parent)
    tree = open_shards(index)
    try:
        layout = read_layers(tree, model, index.name)
    except BaseException:
        tree.close()
        raise
    if model is None:
        layout.notes.append("a weights-only file: classes come from group names")
    layout.notes.append(f"read from {len(tree.files)} shards")
    name = model.name if model else index.name.removesuffix(KERAS_SHARDS_SUFFIX)
    records = ModelWeights(
        str(path), fmt, name, tuple(layout.layers), tuple(layout.notes), store=layout.store
    )
    layout.store.close_with(tree.close)
    return records


def _beside_config(folder: Path) -> LayerNode | None:
    path = folder / "config.json"
    if not path.is_file():
        return None
    config = read_index(path)
    if not isinstance(config.get("config"), dict) or "layers" not in config["config"]:
        return None
    check_model_config(config, path.name)
    return model_tree(config)
