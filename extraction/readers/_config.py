"""A model's layer tree from the JSON config Keras stores beside the weights.

Keras 1-3 spell the config slightly differently; this module reads them all into one shape.

Decided edge cases:
- A Sequential's InputLayer is not one of its layers (Keras 2 and 3 ``Sequential.layers`` skip
  it); a Functional's InputLayers are (they have no weights, but they are part of the structure).
- Very old Sequential configs are a bare list of layers; they are read the same.
- A nested model is a layer whose class is Sequential/Functional/Model, or whose config holds a
  ``layers`` list; it is walked into, never listed itself.
- A custom class keeps the name the config gives, even when unregistered here; a registered
  name's package (``my_pkg>MyLayer``) is dropped, as a live model's class name has none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import CorruptFile, UnsafeModel
from ._layer_vars import is_model
from .safety import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH


@dataclass(frozen=True)
class LayerNode:
    """One layer of the config, or a nested model with its own layers."""

    name: str
    class_name: str
    config: Mapping[str, Any]
    children: tuple[LayerNode, ...] | None = None
    """The layers of a nested model; None for a plain layer."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def parse_json(raw: bytes | str, label: str) -> Any:
    """Parse a JSON config after bounding its size.

    Raises:
        UnsafeModel: larger than ``MAX_CONFIG_BYTES``.
        CorruptFile: not JSON.
    """
    if len(raw) > MAX_CONFIG_BYTES:
        raise UnsafeModel(
            f"{label}: the model config is {len(raw)} bytes, more than the "
            f"{MAX_CONFIG_BYTES} allowed"
        )
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptFile(f"{label}: the model config is not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise CorruptFile(f"{label}: the model config nests too deeply to be a model") from exc


def check_model_config(config: Any, label: str) -> None:
    """Refuse JSON that is not a Keras model config.

    A model config is an object with a string ``class_name``; its ``config`` is an object (or,
    for Keras 1-2.1 Sequentials, a list of layers); ``layers``, where present, is a list of
    objects, each checked the same way. Layers nest at most ``MAX_CONFIG_DEPTH`` deep.

    Raises:
        CorruptFile: anything else, naming what was found.
    """
    stack: list[tuple[Any, str, int]] = [(config, "the config", 0)]
    while stack:
        node, where, depth = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            raise CorruptFile(f"{label}: layers nest more than {MAX_CONFIG_DEPTH} levels deep")
        if not isinstance(node, dict):
            raise CorruptFile(
                f"{label}: {where} is a JSON {_json_type(node)}; expected an object with "
                "class_name and config, as Keras writes"
            )
        if not isinstance(node.get("class_name"), str):
            raise CorruptFile(
                f"{label}: {where} has class_name={node.get('class_name')!r}; expected the name "
                "of a Keras class"
            )
        inner = node.get("config", {})
        layers: Any = inner if isinstance(inner, list) else None
        if isinstance(inner, dict):
            layers = inner.get("layers")
        elif not isinstance(inner, list):
            raise CorruptFile(
                f"{label}: {where}'s config is a JSON {_json_type(inner)}; expected an object"
            )
        if layers is None:
            continue
        if not isinstance(layers, list):
            raise CorruptFile(
                f"{label}: {where}'s layers is a JSON {_json_type(layers)}; expected a list"
            )
        name = inner.get("name") if isinstance(inner, dict) else None
        stack.extend((layer, f"a layer of {name or where}", depth + 1) for layer in layers)


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def model_tree(model_config: Any) -> LayerNode | None:
    """The root model of a config, or None when it lists no layers (a subclassed model)."""
    if not isinstance(model_config, dict):
        return None
    node = _node(model_config)
    return node if node.children is not None else None


def _node(entry: Mapping[str, Any]) -> LayerNode:
    # "package>Name" (a registered custom class) shows as the live model shows it: "Name".
    class_name = str(entry.get("class_name", "")).rsplit(">", 1)[-1]
    config = entry.get("config")
    layers: Any = None
    if isinstance(config, list):  # Keras 1-2.1 Sequential
        layers, config = config, {}
    if not isinstance(config, dict):
        config = {}
    if layers is None and (is_model(class_name) or "layers" in config):
        layers = config.get("layers")
    name = str(config.get("name") or entry.get("name") or class_name.lower())
    if not isinstance(layers, list):
        return LayerNode(name, class_name, config)
    children = [_node(e) for e in layers if isinstance(e, dict)]
    if class_name == "Sequential":
        children = [c for c in children if c.class_name != "InputLayer"]
    return LayerNode(name, class_name, config, tuple(children))


def leaves(node: LayerNode, prefix: str = "") -> list[tuple[str, LayerNode]]:
    """(path, layer) for every plain layer under ``node``, nested models walked into."""
    out: list[tuple[str, LayerNode]] = []
    for child in node.children or ():
        path = f"{prefix}{child.name}"
        if child.children is not None:
            out.extend(leaves(child, f"{path}/"))
        else:
            out.append((path, child))
    return out


def keras_major(version: str | None) -> int:
    """The major version of the Keras that wrote a file (3 when it does not say)."""
    try:
        return int(str(version).split(".", 1)[0])
    except ValueError:
        return 3
