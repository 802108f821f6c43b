"""Layers and named weights from the HDF5 layout of Keras's saving library.

Every ``.keras`` zip and every Keras 3 ``.weights.h5`` stores a model as groups: a container
(``layers`` since Keras 2.15 and in Keras 3; ``_layer_checkpoint_dependencies`` in Keras
2.13-2.14) holds one group per layer, named after the layer's class in snake case with a counter
(``conv2d``, ``conv2d_1``; in 2.13-2.14 a layer with weights takes two counter values, because
that container lists it twice). A layer group holds ``vars/0..n`` and its sub-layers' groups.

Decided edge cases:
- When the file records each layer's name (the ``name`` attribute of ``vars``, Keras >= 3.10),
  that name decides which config layer a group belongs to; otherwise the counter is replayed
  over the config's layers.
- A group that no config layer claims, and the model's own ``vars``, still show, as layers
  named after their group, with a note: an array is never dropped.
- The optimizer, metrics, loss trackers and random-seed state are not weights and are skipped.
- Without a config (a ``.weights.h5``), classes come from the group names and layer names from
  the ``name`` attributes; layers are then in the file's (alphabetical) order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import CorruptFile
from ..layouts import classify, kind_of, layer_class
from ..records import LayerWeights, Weight, unique_names
from ._config import LayerNode
from ._h5 import attr_text, dataset_weight, has_datasets, is_dataset, is_group
from ._layer_vars import (
    SKIPPED_ATTRS,
    class_from_name,
    is_model,
    own_variable_names,
    sub_layer,
    sub_layer_rank,
    to_snake_case,
)
from ._windows import normalise, windows_tree
from .notes import grouped
from .store import ArrayStore

CONTAINERS = ("layers", "_layer_checkpoint_dependencies")
_NOT_WEIGHTS = frozenset(
    {"optimizer", "_optimizer", "metrics", "_metrics", "compile_metrics", "_compile_metrics",
     "compiled_metrics", "compiled_loss", "_compile_loss", "loss_tracker", "_loss_tracker",
     "_tracker", *SKIPPED_ATTRS}
)  # fmt: skip


@dataclass
class Layout:
    """What one walk found."""

    keras_major: int
    label: str
    budget: int
    store: ArrayStore = field(default_factory=ArrayStore)
    """Where the weights found are read from."""
    stored_names: dict[int, str] = field(default_factory=dict)
    """A weight's name as the file stores it (``dense/kernel:0``), by array index, where it
    differs from the name it is given (legacy files; optimizer variables refer to it)."""
    layers: list[LayerWeights] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    issues: dict[str, list[str]] = field(default_factory=dict)
    """A kind of problem -> the layers it touches; one note each (``all_notes``)."""

    def flag(self, kind: str, where: str) -> None:
        """Record that ``where`` has a problem of ``kind`` (notes are grouped by kind)."""
        self.issues.setdefault(kind, []).append(where)

    def all_notes(self) -> tuple[str, ...]:
        """The notes, then one grouped note per kind of problem."""
        return (*self.notes, *(n for k, items in self.issues.items() for n in grouped(k, items)))


def read_layout(root: Any, tree: LayerNode | None, out: Layout) -> None:
    """Append every layer under the HDF5 ``root`` to ``out.layers``."""
    root, backslashed = windows_tree(root)
    if backslashed:
        out.notes.append(
            f"written on Windows: {len(backslashed)} group names such as "
            f"{backslashed[0]!r} were read as paths ({normalise(backslashed[0])!r})"
        )
    if tree is not None:
        _walk_model(root, tree, "", out)
    else:
        _walk_unknown(root, "", out)
    for key in root:
        if key in (*CONTAINERS, "vars") or key in _NOT_WEIGHTS or tree is None:
            continue
        if is_group(root[key]) and has_datasets(root[key]):
            out.flag("groups that belong to no layer of the config, shown as is", key)
            out.layers.append(_record(root[key], key, "", {}, out))


def _container(group: Any) -> tuple[Any, bool]:
    for name in CONTAINERS:
        if name in group:
            if not is_group(group[name]):
                raise CorruptFile(f"{group[name].name} is not a group; expected layer groups")
            return group[name], name == "_layer_checkpoint_dependencies"
    return None, False


def _stored_name(group: Any) -> str | None:
    if "vars" in group and is_group(group["vars"]):
        return attr_text(group["vars"], "name")
    return None


def _walk_model(group: Any, node: LayerNode, prefix: str, out: Layout) -> None:
    container, twice = _container(group) if group is not None else (None, False)
    children = node.children or ()
    groups = _assign(container, children, twice) if container is not None else {}
    for i, child in enumerate(children):
        path = f"{prefix}{child.name}"
        g = groups.pop(i, None)
        if child.children is not None:
            _walk_model(g, child, f"{path}/", out)
        else:
            out.layers.append(_record(g, child.name, path, child.config, out, child.class_name))
    if group is not None:
        _own_vars(group, node.name, prefix, out)
    if container is None:
        return
    for key in sorted(set(container) - set(groups.get(-1, ()))):
        g = container[key]
        if has_datasets(g):
            out.flag("groups that no layer of the config matches, shown as is", f"{prefix}{key}")
            out.layers.append(_record(g, key, f"{prefix}{key}", {}, out))


def _assign(container: Any, children: tuple[LayerNode, ...], twice: bool) -> dict[int, Any]:
    """Config-layer index -> its group; key -1 holds the names of the claimed groups."""
    by_name: dict[str, str] = {}
    for key in container:
        stored = _stored_name(container[key])
        if stored is not None:
            by_name.setdefault(stored, key)
    counters: dict[str, int] = {}
    found: dict[int, Any] = {}
    claimed: list[str] = []
    for i, child in enumerate(children):
        snake = to_snake_case(child.class_name.rsplit(">", 1)[-1]) or "layer"
        k = counters.get(snake, 0)
        guess = snake if k == 0 else f"{snake}_{k}"
        counters[snake] = k + 1
        key = by_name.get(child.name)
        if key is None and guess in container and _stored_name(container[guess]) in (None,):
            key = guess
        if twice and guess in container and has_datasets(container[guess]):
            counters[snake] = k + 2  # listed as layer_with_weights-N and as layer-M
        if key is not None and key not in claimed:
            found[i] = container[key]
            claimed.append(key)
    found[-1] = claimed
    return found


def _own_vars(group: Any, model_name: str, prefix: str, out: Layout) -> None:
    own = group.get("vars")
    if own is not None and is_group(own) and len(own):
        name = prefix.rstrip("/") or model_name
        weights = _named(own, [], out, f"{name}: the model's own variables")
        layer_name = name.rsplit("/", 1)[-1]
        out.layers.append(LayerWeights(layer_name, name, "Model", "other", {}, tuple(weights)))


def _walk_unknown(group: Any, prefix: str, out: Layout) -> None:
    container, _ = _container(group)
    keys = sorted(container) if container is not None else []
    if container is None:  # a subclassed model: its layers are its attributes
        container = group
        keys = [k for k in sorted(group) if k not in (*CONTAINERS, "vars", *_NOT_WEIGHTS)]
    for key in keys:
        g = container[key]
        if not is_group(g):
            continue
        name = _stored_name(g) or key
        class_name = class_from_name(key)
        if is_model(class_name) or _container(g)[0] is not None:
            _walk_unknown(g, f"{prefix}{name}/", out)
            _own_vars(g, name, f"{prefix}{name}/", out)
            continue
        record = _record(g, name, f"{prefix}{name}", {}, out, class_name)
        wrapped = class_from_name(_wrapped_name(g, layer_class(class_name).wraps))
        if wrapped:  # no config says what a wrapper wraps: its sub-layer's group does
            record = replace(record, kind=kind_of(class_name, wrapped), wrapped=wrapped)
        out.layers.append(record)
    if not prefix:
        _own_vars(group, _stored_name(group) or "model", "", out)


def _wrapped_name(group: Any, wraps: str) -> str | None:
    """The stored name of the layer a wrapper's group holds under ``wraps`` (or, for a
    Bidirectional, under ``forward_layer``); None when it holds none."""
    for attr in (wraps, "forward_layer") if wraps else ():
        if attr in group and is_group(group[attr]):
            stored = _stored_name(group[attr])
            return stored.removeprefix("forward_") if stored else None
    return None


def _record(
    group: Any, name: str, path: str, config: Any, out: Layout, class_name: str = ""
) -> LayerWeights:
    path = path or name
    weights = _collect(group, class_name, config, [], out, path) if group is not None else []
    kind, wrapped = classify(class_name, config or {})
    return LayerWeights(
        name=name,
        path=path,
        class_name=class_name or "unknown",
        kind=kind,
        config=config,
        weights=unique_names(weights),
        wrapped=wrapped,
    )


def _collect(
    group: Any, class_name: str, config: Any, prefix: list[str], out: Layout, where: str
) -> list[Weight]:
    weights: list[Weight] = []
    own = group.get("vars")
    if own is not None and not is_group(own):
        raise CorruptFile(f"{out.label}: {own.name} is not a group; expected variable datasets")
    if own is not None:
        keys = _var_keys(own)
        names = own_variable_names(class_name, config, len(keys), out.keras_major)
        if names is None and keys:
            out.flag(
                "layers whose variables are named by position (vars/0 ...), their class "
                "or count unknown",
                f"{where} ({class_name or 'unknown class'}, {len(keys)})",
            )
        plain = names or [f"vars/{k}" for k in keys]
        weights.extend(_named(own, [(p, k) for p, k in zip(plain, keys, strict=True)], out, where))
        weights = [w.renamed("/".join([*prefix, w.name])) for w in weights]
    subs = [k for k in group if k != "vars" and k not in SKIPPED_ATTRS and is_group(group[k])]
    for key in sorted(subs, key=lambda k: sub_layer_rank(class_name, k)):
        sub = sub_layer(class_name, config, key, _stored_name(group[key]))
        inner = [*prefix, sub.prefix] if sub.prefix else prefix
        weights.extend(_collect(group[key], sub.class_name, sub.config, inner, out, where))
    return weights


def _var_keys(own: Any) -> list[str]:
    keys = [k for k in own if is_dataset(own[k])]
    if len(keys) != len(own):
        odd = next(k for k in own if k not in keys)
        raise CorruptFile(f"{own[odd].name} is not a dataset; a vars group holds only arrays")
    return sorted(keys, key=lambda k: (0, int(k), "") if k.isdigit() else (1, 0, k))


def _named(own: Any, pairs: list[tuple[str, str]], out: Layout, where: str) -> list[Weight]:
    if not pairs:
        pairs = [(f"vars/{k}", k) for k in _var_keys(own)]
    return [dataset_weight(name, own[key], out.budget, out.label, out.store) for name, key in pairs]
