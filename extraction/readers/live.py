"""Records from a live ``keras.Model``: every layer, through nested models, weights by name.

Naming (the file readers follow the same rules, so a model read live or from its file looks the
same):
- A layer's path joins the names of the models that contain it, root excluded:
  ``block/inner_dense``. Nested models are walked into, not listed themselves.
- A weight's name is its variable's name, prefixed by the sub-layer that owns it
  (``query/kernel`` in MultiHeadAttention, ``forward_lstm/kernel`` in Bidirectional), except that
  an RNN cell and the layer wrapped by TimeDistributed add no prefix (an LSTM has ``kernel``,
  ``recurrent_kernel``, ``bias``).
- A variable reached twice (a shared layer, tied weights) is listed once, where first seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import ModelGraph, model_graph
from ..layouts import classify, layer_class
from ..records import Array, LayerWeights, ModelWeights, SourceFormat, Weight, unique_names
from .store import ArraySource, ArrayStore


def read_live(
    model: Any,
    *,
    source: str = "<live model>",
    fmt: SourceFormat = "live",
    notes: tuple[str, ...] = (),
) -> ModelWeights:
    """The records of a live Keras model (Sequential, Functional or subclassed).

    Arrays stay lazy: each is copied out of its variable when a view first asks for it (and
    kept); ``LiveVariable.read`` of the store's sources copies the values as they are now.
    """
    import keras

    seen: set[int] = set()
    store = ArrayStore()
    layers: list[LayerWeights] = []
    extra_notes = list(notes)
    if not model.built:
        extra_notes.append("the model is not built yet, so it has no weights to show")
    _walk_model(model, "", seen, layers, keras, store)
    return ModelWeights(
        source=source,
        format=fmt,
        name=model.name,
        layers=tuple(layers),
        notes=tuple(extra_notes),
        live_model=model,
        graph=_graph(model, keras),
        store=store,
    )


def _graph(model: Any, keras: Any) -> ModelGraph | None:
    """The graph from the model's own config, as a file of it would hold (None for subclassed
    models, whose config lists no layers, or when the config cannot be produced)."""
    try:
        config = keras.saving.serialize_keras_object(model)
    except Exception:  # custom layers may not serialize  # noqa: BLE001
        return None
    return model_graph(config)


def _walk_model(
    model: Any, prefix: str, seen: set[int], out: list[LayerWeights], keras: Any, store: ArrayStore
) -> None:
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        if isinstance(layer, keras.Model):
            _walk_model(layer, f"{path}/", seen, out, keras, store)
            continue
        out.append(_layer_record(layer, path, seen, store))
    # Variables a (subclassed) model creates itself, outside any of its layers.
    own = [v for v in _own_variables(model) if id(v) not in seen]
    if own:
        name = prefix.rstrip("/") or model.name
        weights = _weights([(v.name, v) for v in own], seen, store)
        out.append(
            LayerWeights(name.rsplit("/", 1)[-1], name, type(model).__name__, "other", {}, weights)
        )


def _layer_record(layer: Any, path: str, seen: set[int], store: ArrayStore) -> LayerWeights:
    class_name = type(layer).__name__
    config = _config(layer)
    kind, wrapped = classify(class_name, config)
    named = _named_variables(layer)
    return LayerWeights(
        name=layer.name,
        path=path,
        class_name=class_name,
        kind=kind,
        config=config,
        weights=_weights(named, seen, store),
        wrapped=wrapped,
    )


def _named_variables(layer: Any) -> list[tuple[str, Any]]:
    """(name, variable) for every variable of ``layer``, in ``layer.weights`` order."""
    by_id: dict[int, str] = {}
    for v in _own_variables(layer):
        by_id.setdefault(id(v), v.name)
    row = layer_class(type(layer).__name__)
    for sub in getattr(layer, "_layers", []):
        drop = (row.recurrent and type(sub).__name__.endswith("Cell")) or row.transparent
        for sub_name, v in _named_variables(sub):
            by_id.setdefault(id(v), sub_name if drop else f"{sub.name}/{sub_name}")
    named: list[tuple[str, Any]] = []
    for v in layer.weights:
        named.append((by_id.get(id(v), v.name), v))
    return named


def _own_variables(layer: Any) -> list[Any]:
    own = list(getattr(layer, "_trainable_variables", [])) + list(
        getattr(layer, "_non_trainable_variables", [])
    )
    return own


def _weights(named: list[tuple[str, Any]], seen: set[int], store: ArrayStore) -> tuple[Weight, ...]:
    weights: list[Weight] = []
    for name, v in named:
        if id(v) in seen:
            continue
        seen.add(id(v))
        weights.append(
            store.weight(
                name,
                LiveVariable(v),
                shape=tuple(int(d) for d in v.shape),
                dtype=_dtype_name(v),
                trainable=bool(v.trainable),
            )
        )
    return unique_names(weights)


def _dtype_name(v: Any) -> str:
    dtype = v.dtype
    name = dtype if isinstance(dtype, str) else getattr(dtype, "name", str(dtype))
    return str(name)


class LiveVariable(ArraySource):
    """A Keras variable: each ``read`` copies its values as they are now."""

    def __init__(self, variable: Any) -> None:
        self.variable = variable

    def read(self) -> Array:
        import keras

        if keras.backend.backend() == "tensorflow":
            # TensorFlow reads a variable into a fresh array already: one copy, not three
            # (VGG16's 550 MB took seconds more to copy twice again on a busy machine).
            return np.asarray(self.variable)
        # Other backends may hand out their own buffer, which training would change.
        return np.array(keras.ops.convert_to_numpy(self.variable))


def _config(layer: Any) -> dict[str, Any]:
    try:
        config = layer.get_config()
    except Exception:  # custom layers may not implement get_config  # noqa: BLE001
        return {}
    return dict(config) if isinstance(config, dict) else {}
