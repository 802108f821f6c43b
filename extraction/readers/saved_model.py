"""Read TensorFlow SavedModels and checkpoints through the checkpoint reader only.

Never ``tf.saved_model.load`` or ``keras.models.load_model``: the variables are read with
``tf.train.load_checkpoint``, and names come from what the folder records beside them:
- Keras 2 SavedModels carry ``keras_metadata.pb`` (each layer's class, name and config by
  object path): layers and weights are named exactly as the model named them.
- Keras 3 ``model.export`` folders record each variable's path (``conv/kernel``) in
  ``saved_model.pb``: layers are cut from those paths (a note says so).
- Bare checkpoints record only the object graph: a layer is named by its object path
  (``model/layer_with_weights-0``) and a note says so.

Decided edge cases:
- A variable reachable twice (``variables`` and ``_all_variables`` of an export, a layer
  shared between models) is listed once.
- Optimizer slots and state, metrics, ``save_counter``, seed-generator state and
  ``_CHECKPOINTABLE_OBJECT_GRAPH`` are not weights.
- A zipped SavedModel is extracted, bounded, to a private temporary folder removed with the
  records; a member that points outside the folder is refused.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from ..errors import CorruptFile, UnsafeModel, UnsupportedFormat
from ..graph import model_graph
from ..layouts import ATTENTION_SUBLAYERS, classify, layer_class
from ..records import LayerWeights, ModelWeights, SourceFormat, Weight, unique_names
from ._config import LayerNode, check_model_config, leaves, model_tree
from ._h5 import one_line
from ._layer_vars import guess_class, is_trainable
from ._optimizer import Described, SavedArray, described, read_checkpoint_optimizer
from ._saved_graph import Graph, Variable, keras_metadata, saved_variable_names
from .safety import ARRAY_SLACK_BYTES, MAX_ARRAY_BYTES, MAX_INFLATED_BYTES, ZIP_ERRORS
from .store import ArrayStore, Deferred

_SKIP_ROOTS = {"optimizer", "keras_api", "save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH"}
_SKIP_SEGMENT = re.compile(
    r"^(_?seed_generator.*|\.OPTIMIZER_SLOT|_?iterations|_?metrics|_?compile_metrics"
    r"|_?compiled_metrics|_?loss_tracker|_?compile_loss|_?optimizer)$"
)
_CELL = re.compile(r"^(cell|.*_cell(_\d+)?)$")
# Attention sub-layers as checkpoints name them (with or without a leading underscore).
_MHA = {**ATTENTION_SUBLAYERS, **{f"_{k}": v for k, v in ATTENTION_SUBLAYERS.items()}}
_MODEL_IDS = {"_tf_keras_network", "_tf_keras_model", "_tf_keras_sequential"}


def read_saved_model(path: Path, fmt: SourceFormat) -> ModelWeights:
    """The records of a SavedModel folder, a zipped one, or a bare checkpoint.

    Raises:
        CorruptFile: the variables cannot be read.
        UnsafeModel: a zip that inflates beyond bounds or escapes its folder.
    """
    tmp: str | None = None
    folder = path
    if path.is_file() and zipfile.is_zipfile(path):
        tmp = tempfile.mkdtemp(prefix="kerascope-savedmodel-")
        try:
            folder = _unzip(path, Path(tmp))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    store = ArrayStore()
    try:
        records = _read(folder, path, fmt, store)
    except BaseException:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    if tmp:
        store.close_with(shutil.rmtree, tmp, True)
    return records


def _read(folder: Path, source: Path, fmt: SourceFormat, store: ArrayStore) -> ModelWeights:
    prefix = _checkpoint_prefix(folder, fmt)
    notes: list[str] = []
    graph = Graph.load(prefix, source.name)
    tree: LayerNode | None = None
    saved = fmt == "saved_model"
    meta = keras_metadata(folder / "keras_metadata.pb", source.name) if saved else {}
    var_names = saved_variable_names(folder / "saved_model.pb", source.name) if saved else {}
    if "root" in meta:
        root = meta["root"].get("metadata")
        check_model_config(root, f"{source.name}: keras_metadata.pb")
        tree = model_tree(root)
    variables = [v for v in graph.variables() if not _skipped(v.path)]
    budget = graph.data_bytes
    records: dict[str, tuple[str, Any, list[Weight]]] = {}  # layer path -> (class, config, w)
    if meta:
        place = _by_metadata(meta, graph)
    elif var_names:
        place = _by_variable_names(var_names, graph, notes)
    else:
        place = _by_object_path
        notes.append("the checkpoint records no layer names: layers are named by object path")
    seen: set[int] = set()
    by_node: dict[int, int] = {}
    for var in variables:
        if var.node_id in seen:
            continue
        seen.add(var.node_id)
        placed = place(var)
        if placed is None:
            continue
        layer_path, class_name, config, name = placed
        weight = _weight(name, var, graph, budget, source.name, store)
        by_node[var.node_id] = weight.ref.index
        records.setdefault(layer_path, (class_name, config, []))[2].append(weight)
    layers = _layers(tree, records)

    def make(name: str, key: str) -> SavedArray:
        w = _weight(name, Variable(-1, [], key), graph, budget, source.name, store)
        return SavedArray(w.shape, w.dtype, w.ref, name)

    about = described(meta["root"].get("metadata"), "training_config") if "root" in meta else None
    found, more = read_checkpoint_optimizer(
        graph, by_node, layers, make, about or Described(None, {}), store
    )
    layers, notes = list(found), [*notes, *more]
    if not meta and records:
        notes.append("layer classes are guessed from weight names and shapes")
    name = tree.name if tree else source.name
    structure = model_graph(meta["root"].get("metadata")) if "root" in meta else None
    return ModelWeights(
        str(source), fmt, name, tuple(layers), tuple(notes), graph=structure, store=store
    )


def _checkpoint_prefix(folder: Path, fmt: SourceFormat) -> str:
    if fmt == "saved_model":
        base = folder / "variables" / "variables"
        if not base.with_suffix(".index").is_file():
            raise CorruptFile(f"{folder.name} is a SavedModel without variables/variables.index")
        return str(base)
    if folder.is_dir():
        indexes = sorted(folder.glob("*.index"), key=lambda p: p.stat().st_mtime)
        if not indexes:
            raise UnsupportedFormat(f"{folder.name} holds no checkpoint .index file")
        return str(indexes[-1].with_suffix(""))
    name = folder.name
    stem = name[: name.index(".data-")] if ".data-" in name else name.removesuffix(".index")
    return str(folder.with_name(stem))


def _skipped(path: list[str]) -> bool:
    return not path or path[0] in _SKIP_ROOTS or any(_SKIP_SEGMENT.match(s) for s in path)


def _by_metadata(meta: dict[str, Any], graph: Graph) -> Any:
    """Place a variable by the Keras layer nodes on its object path."""
    by_node = {graph.node_at(p.split(".")[1:]): m for p, m in meta.items()}

    def place(var: Any) -> tuple[str, str, Any, str] | None:
        node_path: list[str] = []
        names: list[str] = []
        leaf: dict[str, Any] | None = None
        rest: list[str] = []
        for i, seg in enumerate(var.path):
            node_path.append(seg)
            info = by_node.get(graph.node_at(node_path))
            if info is None or leaf is not None:
                continue
            if info["identifier"] in _MODEL_IDS:
                names.append(info["name"])
            elif info["identifier"].startswith("_tf_keras"):
                leaf, rest = info, var.path[i + 1 :]
                names.append(info["name"])
        if leaf is None:
            return "/".join(var.path[:-1]) or "model", "unknown", {}, var.path[-1]
        parts, parent = [], leaf
        for j, seg in enumerate(rest[:-1]):
            sub = by_node.get(
                graph.node_at([*var.path[: len(var.path) - len(rest)], *rest[: j + 1]])
            )
            drop = layer_class(str(parent["class_name"])).transparent or (
                sub is not None and sub["class_name"].endswith("Cell")
            )
            if not drop:
                parts.append(sub["name"] if sub else _MHA.get(seg, seg))
            parent = sub or parent
        name = "/".join([*parts, rest[-1] if rest else var.path[-1]])
        return "/".join(names), leaf["class_name"], leaf["config"], name

    return place


def _by_variable_names(
    var_names: dict[tuple[str, ...], str], graph: Graph, notes: list[str]
) -> Any:
    """Place a variable by the Keras path recorded for it (``bilstm/forward_lstm/...``)."""
    notes.append("layers are cut from the variable paths the SavedModel records")
    seen: set[tuple[str, tuple[int, ...]]] = set()

    def place(var: Any) -> tuple[str, str, Any, str] | None:
        full = var_names.get(tuple(var.path))
        if full is None:
            return _by_object_path(var)
        key = (full, graph.shape(var.key))
        if key in seen:  # the same variable under variables/ and _all_variables/
            return None
        seen.add(key)
        segs = [s for s in full.split(":", 1)[0].split("/") if s]
        if any(_SKIP_SEGMENT.match(s) for s in segs):
            return None
        segs = [s for s in segs[:-1] if not _CELL.match(s)] + segs[-1:]
        cut = len(segs) - 1
        if len(segs) >= 3 and (
            segs[-2] in _MHA.values() or segs[-2].startswith(("forward_", "backward_"))
        ):
            cut = len(segs) - 2
        return "/".join(segs[:cut]) or segs[0], "", {}, "/".join(segs[cut:])

    return place


def _by_object_path(var: Any) -> tuple[str, str, Any, str]:
    """Without names: the layer is the object path up to its last numbered segment."""
    path = var.path
    marks = [
        i
        for i, s in enumerate(path[:-1])
        if s.isdigit() or re.match(r"^layer(_with_weights)?-\d+$", s)
    ]
    cut = marks[-1] + 1 if marks else max(len(path) - 1, 1)
    rest = [_MHA.get(s, s) for s in path[cut:-1] if s != "cell"]
    if rest[:1] == ["layer"]:  # a wrapper's (TimeDistributed's) inner layer adds no prefix
        rest = rest[1:]
    name = "/".join([*rest, path[-1].lstrip("_") or path[-1]])
    return "/".join(path[:cut]), "", {}, name


def _weight(
    name: str, var: Any, graph: Graph, budget: int, label: str, store: ArrayStore
) -> Weight:
    shape = graph.shape(var.key)
    dtype = graph.dtype(var.key)
    declared = graph.nbytes(var.key)
    if declared > MAX_ARRAY_BYTES or declared > budget + ARRAY_SLACK_BYTES:
        raise UnsafeModel(
            f"{label}: variable {var.key!r} declares {declared} bytes (shape {shape}) but the "
            f"checkpoint holds {budget}; refused, expected arrays that fit in the data files"
        )
    source = Deferred(graph.loader(var.key))
    return store.weight(name, source, shape=shape, dtype=dtype, trainable=is_trainable(name))


def _layers(
    tree: LayerNode | None, records: dict[str, tuple[str, Any, list[Weight]]]
) -> list[LayerWeights]:
    out: list[LayerWeights] = []
    for path, node in leaves(tree) if tree else []:
        _, _, weights = records.pop(path, ("", {}, []))
        kind, wrapped = classify(node.class_name, node.config)
        out.append(
            LayerWeights(
                node.name, path, node.class_name, kind, node.config, unique_names(weights), wrapped
            )
        )
    for path, (class_name, config, weights) in records.items():
        cls = class_name if class_name not in ("", "unknown") else _guess(weights)
        kind, wrapped = classify(cls, config)
        out.append(
            LayerWeights(
                path.rsplit("/", 1)[-1], path, cls, kind, config, unique_names(weights), wrapped
            )
        )
    return out


def _guess(weights: list[Weight]) -> str:
    names = [w.name for w in weights]
    if any(n.startswith(("forward_", "backward_")) for n in names):
        return "Bidirectional"
    if any(n.split("/", 1)[0] in _MHA.values() for n in names):
        return "MultiHeadAttention"
    return guess_class(names, [w.shape for w in weights])


def _unzip(path: Path, out: Path) -> Path:
    from .safety import check_zip

    check_zip(path)  # zip bombs (members inflating hundreds of times), pickles
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            if total > MAX_INFLATED_BYTES:
                raise UnsafeModel(f"{path.name} would inflate to {total} bytes; refused")
            for info in infos:
                target = (out / info.filename).resolve()
                if not target.is_relative_to(out.resolve()):
                    raise UnsafeModel(
                        f"{path.name}: member {info.filename!r} points outside the zip"
                    )
            zf.extractall(out)
    except ZIP_ERRORS as exc:
        raise CorruptFile(f"{path.name} is a damaged zip ({one_line(exc)})") from exc
    roots = sorted(p.parent for p in out.rglob("saved_model.pb"))
    if not roots:
        raise CorruptFile(f"{path.name}: a zip without saved_model.pb")
    return roots[0]
