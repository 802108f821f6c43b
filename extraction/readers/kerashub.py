"""Read KerasHub preset folders: ``config.json``, ``metadata.json`` and the backbone's weights.

KerasHub's ``backbone.save_to_preset(folder)`` writes the backbone's serialized config
(``{"module", "class_name": "LlamaBackbone", "config": {constructor arguments},
"registered_name": "keras_hub>LlamaBackbone"}``), ``metadata.json`` (Keras and KerasHub
versions, parameter count) and ``model.weights.h5``, or with ``max_shard_size`` the sharded
``model.weights.json`` and ``model_00000.weights.h5`` ... (see ``keras_sharded``); tokenizer
and task files may sit beside them and are not weights.

A backbone is a custom class whose code (keras_hub) is not loaded: its config lists no layers,
so layers come from the weights file as for any weights-only file, named by the names Keras
stored (``token_embedding``, ``transformer_layer_0``). Each sub-layer with arrays becomes a layer
of its own (``transformer_layer_0/self_attention/query``), the granularity of a Hugging Face
checkpoint, so repeated blocks can be compared by depth.

Decided edge cases:
- A top-level layer's class is its group's name in CamelCase (``llama_transformer_decoder`` ->
  ``LlamaTransformerDecoder``: Keras names the group after the class), a note says so.
- Without the classes' code, weights are named from shapes: a 2-D or 3-D first variable is
  ``kernel`` (class ``Dense`` or ``EinsumDense``), a 1-D variable after it ``bias``; in a layer
  whose name says embedding, ``embeddings`` (and ``reverse_embeddings``, KerasHub's untied
  output projection); in one whose name says norm, ``gamma`` then ``beta``. Anything else keeps
  its position (``vars/2``).
- Layers are ordered embedding first, then blocks by their number, then the rest in file order.
- A preset without ``model.weights.h5`` or ``model.weights.json`` is a CorruptFile.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import CorruptFile
from ..kinds import block_position, kind_by_name
from ..layouts import kind_of
from ..records import LayerWeights, ModelWeights, SourceFormat, Weight
from ._config import check_model_config, model_tree
from ._h5 import H5_ERRORS, attr_text, is_group, one_line, open_h5
from ._keras_layout import CONTAINERS, Layout, read_layout
from ._shards import read_index
from .keras_sharded import open_shards
from .sniff import KERASHUB_FILES

WEIGHTS_FILE = "model.weights.h5"
SHARDED_INDEX = "model.weights.json"
_VAR = re.compile(r"^(?:(?P<prefix>.*)/)?vars/(?P<index>\d+)$")


def read_kerashub_preset(path: Path, fmt: SourceFormat = "kerashub_preset") -> ModelWeights:
    """The records of a KerasHub preset folder; arrays are read when first asked for.

    Raises:
        CorruptFile: a config or metadata that is not a JSON object, or no weights file.
        UnsafeModel: oversized JSON; anything the HDF5 readers refuse.
    """
    config_path, metadata_path = (path / name for name in KERASHUB_FILES)
    config = read_index(config_path)
    metadata = read_index(metadata_path)
    class_name = config.get("class_name")
    if not isinstance(class_name, str):
        raise CorruptFile(f"{path.name}/config.json has no class_name; expected a KerasHub config")
    inner: dict[str, Any] = config["config"] if isinstance(config.get("config"), dict) else {}
    tree = None
    if isinstance(inner.get("layers"), list):  # a functional model saved as a preset
        check_model_config(config, f"{path.name}/config.json")
        tree = model_tree(config)
    root, close, budget = _open_weights(path)
    layout = Layout(3, path.name, budget)
    try:
        read_layout(root, tree, layout)
        classes = _group_classes(root)
    except H5_ERRORS as exc:
        close()
        raise CorruptFile(f"{path.name}: the HDF5 structure is damaged ({one_line(exc)})") from exc
    except BaseException:
        close()
        raise
    layers = layout.layers if tree is not None else _split(layout.layers, classes)
    notes = [n for n in layout.notes if "named by position" not in n]
    if tree is None:
        notes.append(
            f"{class_name} is a KerasHub class whose code is not loaded: layer classes come "
            "from group names, weight names from shapes"
        )
    versions = ", ".join(
        f"{k.replace('_version', '')} {metadata[k]}"
        for k in ("keras_version", "keras_hub_version")
        if isinstance(metadata.get(k), str)
    )
    if versions:
        notes.append(f"saved with {versions}")
    name = str(inner.get("name") or class_name)
    records = ModelWeights(str(path), fmt, name, tuple(layers), tuple(notes), store=layout.store)
    layout.store.close_with(close)
    return records


def _open_weights(path: Path) -> tuple[Any, Callable[[], None], int]:
    single, index = path / WEIGHTS_FILE, path / SHARDED_INDEX
    if single.is_file():
        h5 = open_h5(single, f"{path.name}/{WEIGHTS_FILE}")
        return h5, h5.close, single.stat().st_size
    if index.is_file():
        tree = open_shards(index)
        return tree.root, tree.close, tree.budget
    raise CorruptFile(
        f"{path.name} is a KerasHub preset without weights; expected {WEIGHTS_FILE} or "
        f"{SHARDED_INDEX} beside config.json"
    )


def _group_classes(root: Any) -> dict[str, str]:
    """Stored layer name -> class, from the top-level group names (Keras's snake case)."""
    container = next((root[c] for c in CONTAINERS if c in root), None)
    if container is None:
        return {}
    found = {}
    for key in container:
        group = container[key]
        if not is_group(group):
            continue
        own = group.get("vars")
        stored = attr_text(own, "name") if own is not None and is_group(own) else None
        camel = "".join(p.capitalize() for p in re.sub(r"_\d+$", "", key).split("_"))
        found[stored or key] = camel
    return found


def _split(layers: list[LayerWeights], classes: dict[str, str]) -> list[LayerWeights]:
    out: list[LayerWeights] = []
    for layer in layers:
        groups: dict[str, list[tuple[int, Weight]]] = {}
        for w in layer.weights:
            found = _VAR.match(w.name)
            prefix, index = (found["prefix"] or "", int(found["index"])) if found else ("", -1)
            groups.setdefault(prefix, []).append((index, w))
        if not groups:
            out.append(_renamed_layer(layer, layer.path, classes.get(layer.name), []))
        for prefix, weights in groups.items():
            path = f"{layer.path}/{prefix}" if prefix else layer.path
            top_class = classes.get(layer.name) if not prefix else None
            out.append(_renamed_layer(layer, path, top_class, weights))
    return sorted(out, key=_order)


def _renamed_layer(
    layer: LayerWeights, path: str, top_class: str | None, weights: list[tuple[int, Weight]]
) -> LayerWeights:
    by_name = kind_by_name(path)
    first = weights[0][1] if weights else None
    if top_class and (kind_of(top_class) != "other" or by_name is None):
        class_name = top_class
    elif by_name == "embedding":
        class_name = top_class or "Embedding"
    elif by_name == "layer_norm":
        class_name = top_class or "LayerNormalization"
    elif first is not None and len(first.shape) in (2, 3):
        class_name = "Dense" if len(first.shape) == 2 else "EinsumDense"
    else:
        class_name = layer.class_name if layer.class_name != "unknown" else "Layer"
    kind = kind_of(class_name) if kind_of(class_name) != "other" else by_name or "other"
    named = [_weight(w, i, kind, weights) for i, w in weights]
    return LayerWeights(path.rsplit("/", 1)[-1], path, class_name, kind, {}, tuple(named))


def _weight(w: Weight, index: int, kind: str, weights: list[tuple[int, Weight]]) -> Weight:
    if index < 0:
        return w
    ndims = [len(v.shape) for _, v in weights]
    name = f"vars/{index}"
    if kind == "embedding":
        name = {0: "embeddings", 1: "reverse_embeddings"}.get(index, name)
    elif kind in ("layer_norm", "batch_norm"):
        name = {0: "gamma", 1: "beta"}.get(index, name)
    elif index == 0 and ndims[0] >= 2:
        name = "kernel"
    elif index == 1 and ndims[0] >= 2 and ndims[1] == 1:
        name = "bias"
    return w.renamed(name)


def _order(layer: LayerWeights) -> tuple[int, int]:
    if layer.kind == "embedding":
        return (0, 0)
    block = block_position(layer.path)
    return (1, block[1]) if block else (2, 0)


__all__ = ["read_kerashub_preset"]
