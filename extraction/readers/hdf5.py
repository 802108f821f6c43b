"""Read HDF5 model files without Keras: legacy ``.h5`` models and weights-only files.

Layouts:
- Legacy (Keras 1-3 ``model.save("x.h5")`` and Keras 2 ``save_weights("x.h5")``): a group per
  top-level layer, its ``weight_names`` attribute listing the arrays by variable name
  (``dense/kernel:0``, ``sequential/dense/kernel``, ``bilstm/forward_lstm/lstm_cell/kernel``).
  Full models keep this under ``model_weights`` with the config in ``model_config``.
- Keras 3 ``save_weights("x.weights.h5")``: the saving-library layout (see ``_keras_layout``).

Decided edge cases:
- Weight names drop the model and layer scopes, a ``:0`` suffix, an RNN cell's scope and
  TimeDistributed's inner layer, so they read as a live model names them.
- A nested model's arrays are given to its inner layers by the layer name inside each variable
  name; one that matches no inner layer stays on the nested model's path under its full name.
- Without a config (weights-only files) a layer's class is guessed from its weights' names and
  shapes, and a note says so.
- ``optimizer_weights`` and ``top_level_model_weights`` of the optimizer are not weights; the
  model's own top-level variables are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CorruptFile, UnsupportedFormat
from ..graph import model_graph
from ..layouts import classify
from ..records import LayerWeights, ModelWeights, SourceFormat, Weight, unique_names
from ._config import LayerNode, check_model_config, keras_major, leaves, model_tree, parse_json
from ._h5 import (
    H5_ERRORS,
    attr_list,
    attr_text,
    dataset_weight,
    is_dataset,
    is_group,
    one_line,
    open_h5,
)
from ._keras_layout import CONTAINERS, Layout, read_layout
from ._layer_vars import guess_class, local_segments
from ._optimizer import described, read_hdf5_optimizer
from ._windows import windows_tree


def read_hdf5(path: Path, fmt: SourceFormat) -> ModelWeights:
    """The records of an HDF5 model or weights file; arrays are read when first asked for.

    Raises:
        CorruptFile: unreadable HDF5, or a config that is not JSON.
        UnsupportedFormat: HDF5 that holds no Keras weights.
        UnsafeModel: a dataset that declares more bytes than the file could hold.
    """
    h5 = open_h5(path, path.name)
    try:
        return _read(h5, path, fmt)
    except H5_ERRORS as exc:
        h5.close()
        raise CorruptFile(f"{path.name}: the HDF5 structure is damaged ({one_line(exc)})") from exc
    except BaseException:
        h5.close()
        raise


def _read(h5: Any, path: Path, fmt: SourceFormat) -> ModelWeights:
    if "model_config" in h5.attrs and attr_text(h5, "model_config") is None:
        raise CorruptFile(f"{path.name}: the model_config attribute is not text; expected JSON")
    raw_config = attr_text(h5, "model_config")
    config = parse_json(raw_config, path.name) if raw_config else None
    if raw_config:
        check_model_config(config, f"{path.name}:model_config")
    tree = model_tree(config) if raw_config else None
    if tree is not None and "model_weights" not in h5:
        raise CorruptFile(
            f"{path.name} has a model_config but no model_weights group; expected a Keras .h5 "
            "model saved whole"
        )
    root = h5["model_weights"] if "model_weights" in h5 else h5
    major = keras_major(attr_text(root, "keras_version") or attr_text(h5, "keras_version"))
    layout = Layout(major, path.name, path.stat().st_size)
    if "layer_names" in root.attrs:
        _read_legacy(root, tree, layout)
        optimizer = described({"training_config": _training_config(h5, path)}, "training_config")
    elif any(name in windows_tree(h5)[0] for name in (*CONTAINERS, "vars")):
        read_layout(h5, tree, layout)
        if tree is None:
            layout.notes.append("a weights-only file: classes come from group names")
        optimizer = described(config)
    else:
        raise UnsupportedFormat(
            f"{path.name} is HDF5 but holds no Keras weights (no layer_names, no layers/ "
            "group); expected a Keras .h5 model or .weights.h5 file"
        )
    read_hdf5_optimizer(h5, layout, optimizer, ordered=tree is not None)
    name = tree.name if tree else path.name.split(".", 1)[0]
    records = ModelWeights(
        str(path),
        fmt,
        name,
        tuple(layout.layers),
        layout.all_notes(),
        graph=model_graph(config) if tree is not None else None,
        store=layout.store,
    )
    layout.store.close_with(h5.close)
    return records


def _training_config(h5: Any, path: Path) -> Any:
    """The legacy file's ``training_config`` (its optimizer's class and settings); None when
    it has none or it is not JSON (only the optimizer's names are lost)."""
    text = attr_text(h5, "training_config")
    try:
        return parse_json(text, path.name) if text else None
    except CorruptFile:
        return None


def _read_legacy(root: Any, tree: LayerNode | None, out: Layout) -> None:
    names = attr_list(root, "layer_names")
    nodes = {c.name: c for c in tree.children or ()} if tree else {}
    order = [c.name for c in tree.children or ()] if tree else []
    order += [n for n in names if n not in nodes]
    seen: set[tuple[str, tuple[int, ...]]] = set()
    if tree is None:
        out.notes.append("the file holds no model config: layer classes are guessed")
    for layer_name in order:
        group = root.get(layer_name)
        if group is None and layer_name in names:
            raise CorruptFile(
                f"{out.label}: layer_names lists {layer_name!r} but the file has no such group"
            )
        if group is not None and not is_group(group):
            raise CorruptFile(f"{out.label}: {group.name} is not a group of layer weights")
        node = nodes.get(layer_name)
        pairs = _arrays(group, out, seen) if group is not None else []
        if node is not None and node.children is not None:
            _nested(node, layer_name, pairs, out)
            continue
        class_name = node.class_name if node else _guess(pairs)
        config = node.config if node else {}
        weights = [w.renamed(_local(segs, layer_name, class_name, out)) for segs, w in pairs]
        out.layers.append(_layer(layer_name, layer_name, class_name, config, weights))
    top = root.get("top_level_model_weights")
    if top is not None and attr_list(top, "weight_names"):
        own = [w.renamed("/".join(segs)) for segs, w in _arrays(top, out, seen)]
        model = tree.name if tree else "model"
        out.layers.append(_layer(model, model, "Model", {}, own))


def _arrays(
    group: Any, out: Layout, seen: set[tuple[str, tuple[int, ...]]]
) -> list[tuple[list[str], Weight]]:
    """(name segments, weight) for each array a layer group lists, each array once."""
    pairs = []
    for full in attr_list(group, "weight_names"):
        ds = group.get(full)
        if ds is None or not is_dataset(ds):
            raise CorruptFile(f"{out.label}: {group.name} lists {full!r} but has no such array")
        key = (full, tuple(ds.shape))
        if key in seen:  # a layer shared with a nested model is stored twice
            continue
        seen.add(key)
        segs = [s for s in full.split(":", 1)[0].split("/") if s]
        weight = dataset_weight(full, ds, out.budget, out.label, out.store)
        out.stored_names[weight.ref.index] = full
        pairs.append((segs, weight))
    return pairs


def _local(segs: list[str], layer_name: str, class_name: str, out: Layout) -> str:
    """A weight's name within its layer, from its variable name's segments."""
    idx = [i for i, s in enumerate(segs[:-1]) if s == layer_name]
    if idx:
        rest = segs[idx[-1] + 1 :]
    elif len(segs) == 1 and segs[0].startswith(f"{layer_name}_"):
        return segs[0]  # Keras 1: the layer's name, then W/U/b and the gate (gru_1_W_z)
    else:
        rest = segs[1:] if len(segs) > 1 else segs
        out.flag("weights named outside their layer's scope (kept as the file names them)",
                 f"{layer_name}: {'/'.join(segs)}")  # fmt: skip
    return "/".join(local_segments(class_name, rest))


def _nested(
    node: LayerNode, model_name: str, pairs: list[tuple[list[str], Weight]], out: Layout
) -> None:
    """Give a nested model's arrays to its inner layers, by the layer names in their paths."""
    inner = leaves(node)
    found: dict[str, list[Weight]] = {p: [] for p, _ in inner}
    stray: list[Weight] = []
    for segs, w in pairs:
        match = None
        for j, seg in enumerate(segs[:-1]):
            hits = [(p, n) for p, n in inner if n.name == seg]
            if hits:
                ancestors = set(segs[:j])
                hits.sort(key=lambda h: -len(ancestors & set(h[0].split("/")[:-1])))
                match = hits[0]
                break
        if match is None:
            stray.append(w)
            continue
        rel, leaf = match
        segs_from = segs[segs.index(leaf.name) :]
        found[rel].append(w.renamed(_local(segs_from, leaf.name, leaf.class_name, out)))
    for rel, leaf in inner:
        path = f"{model_name}/{rel}"
        out.layers.append(_layer(leaf.name, path, leaf.class_name, leaf.config, found[rel]))
    if stray:
        out.flag("nested models with arrays that match no inner layer (kept as named)",
                 f"{model_name} ({len(stray)})")  # fmt: skip
        out.layers.append(_layer(model_name, model_name, node.class_name, {}, stray))


def _guess(pairs: list[tuple[list[str], Weight]]) -> str:
    if not pairs:
        return "Layer"
    return guess_class([w.name.split(":", 1)[0] for _, w in pairs], [w.shape for _, w in pairs])


def _layer(
    name: str, path: str, class_name: str, config: Any, weights: list[Weight]
) -> LayerWeights:
    kind, wrapped = classify(class_name, config)
    return LayerWeights(name, path, class_name, kind, config, unique_names(weights), wrapped)
