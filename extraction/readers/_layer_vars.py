"""What Keras calls each variable of a layer when a file only stores them by position.

Keras's ``.keras`` format (all versions) stores a layer's own variables as ``vars/0``,
``vars/1`` ... in the order the layer created them (trainable first, then non-trainable), and
the variables of its sub-layers under further groups named after the attribute that holds the
sub-layer (``cell``, ``forward_layer``, ``query_dense``, ``layer``). This module maps both back to
the names a live model shows.

Decided edge cases:
- A class not in the table, or a stored count that disagrees with the table (a quantized Dense,
  a LoRA-enabled layer), keeps the positional names ``vars/0`` ...; the caller adds a note.
- DepthwiseConv's kernel is ``kernel`` in Keras 3 and ``depthwise_kernel`` in Keras 2: the
  Keras version that wrote the file decides.
- An RNN's ``cell`` and TimeDistributed's ``layer`` add no prefix, as in the live reader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..layouts import ATTENTION_SUBLAYERS, LAYER_CLASSES, conv_class, layer_class

NON_TRAINABLE = frozenset({"moving_mean", "moving_variance", "mean", "variance", "count"})
# Attributes that hold state which is not a weight (random seeds).
SKIPPED_ATTRS = frozenset({"seed_generator", "_seed_generator", "seed_generators"})
_CELL_GROUP = re.compile(r".*cell(_\d+)?$")
"""A cell's scope in a variable's path (``lstm_cell``, ``gru_cell_2``, ``cell``)."""


def to_snake_case(name: str) -> str:
    """Keras's own ``to_snake_case``: the group name of a layer inside a ``.keras`` file."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


CLASS_BY_SNAKE = {to_snake_case(c): c for c in LAYER_CLASSES}


def own_variable_names(
    class_name: str, config: Mapping[str, Any], count: int, keras_major: int = 3
) -> list[str] | None:
    """Names of a layer's ``count`` own variables in stored order, or None when unknown.

    Without a config (a weights-only file) the flags are unknown: the one variant of
    ``use_bias``/``center``/``scale`` whose count matches is taken; two matches give None.
    """
    if config:
        return _names(class_name, config, count, keras_major)
    variants = [{}, {"use_bias": False}, {"center": False}, {"scale": False}]
    variants.append({"center": False, "scale": False})
    found = {tuple(n) for v in variants if (n := _names(class_name, v, count, keras_major))}
    return list(found.pop()) if len(found) == 1 else None


def class_from_name(stored: str | None) -> str:
    """A Keras class from a snake-case layer or group name (``lstm_cell_2`` -> LSTMCell)."""
    if not stored:
        return ""
    return CLASS_BY_SNAKE.get(stored) or CLASS_BY_SNAKE.get(re.sub(r"_\d+$", "", stored), "")


def _names(
    class_name: str, config: Mapping[str, Any], count: int, keras_major: int
) -> list[str] | None:
    scheme = layer_class(class_name).variables
    if not scheme and class_name.endswith("Cell"):  # a custom RNN cell, named as Keras's are
        scheme = "cell"
    flag = config.get
    bias = ["bias"] if flag("use_bias", True) else []
    names: list[str]
    if scheme == "kernel":
        names = ["kernel", *bias]
    elif scheme == "einsum":
        names = ["kernel", "bias"] if flag("bias_axes") else ["kernel"]
    elif scheme == "depthwise":
        names = ["kernel" if keras_major >= 3 else "depthwise_kernel", *bias]
    elif scheme == "separable":
        names = ["depthwise_kernel", "pointwise_kernel", *bias]
    elif scheme in ("batch_norm", "norm"):
        names = ["gamma"] if flag("scale", True) else []
        names += ["beta"] if flag("center", True) and not flag("rms_scaling") else []
        names += ["moving_mean", "moving_variance"] if scheme == "batch_norm" else []
    elif scheme == "cell":
        names = ["kernel", "recurrent_kernel", *bias]
    elif scheme == "scores":
        names = ["scale"] if flag("use_scale") else []
        names += ["concat_score_weight"] if flag("score_mode") == "concat" else []
    elif scheme == "statistics":
        names = ["mean", "variance", "count"][:count]
    elif scheme == "none":
        names = []
    elif scheme:  # one variable named as its scheme: alpha, scale, embeddings
        names = [scheme]
    else:
        return None
    return names if len(names) == count else None


@dataclass(frozen=True)
class SubLayer:
    """How a sub-layer attribute of a layer shows in weight names."""

    prefix: str
    """Prefix of its weights' names (``query``, ``forward_lstm``); empty when it adds none."""
    class_name: str
    """Its Keras class, when known (empty otherwise)."""
    config: Mapping[str, Any]
    """Its config, when known."""


def sub_layer(
    class_name: str, config: Mapping[str, Any], attr: str, stored_name: str | None
) -> SubLayer:
    """The sub-layer held in attribute ``attr`` of a layer of ``class_name``.

    ``stored_name`` is the sub-layer's name when the file records it (Keras >= 3.10 does).
    """
    row = layer_class(class_name)
    bare = attr.lstrip("_")
    if attr == "cell" and (row.recurrent or not config):
        cell = config.get("cell")
        if isinstance(cell, dict) and isinstance(cell.get("class_name"), str):
            return SubLayer("", cell["class_name"], cell.get("config") or {})
        return SubLayer("", class_from_name(stored_name) or _cell_class(class_name), config)
    if row.wraps and bare in ("forward_layer", "backward_layer"):  # Bidirectional's two copies
        inner_class, inner_config = _wrapped(config.get(row.wraps))
        direction = bare.split("_", 1)[0]
        if direction == "backward" and isinstance(config.get("backward_layer"), dict):
            inner_class, inner_config = _wrapped(config["backward_layer"])
        inner_name = str(inner_config.get("name", "layer"))
        prefix = stored_name or f"{direction}_{inner_name.removeprefix(direction + '_')}"
        return SubLayer(
            prefix, inner_class or class_from_name(prefix.split("_", 1)[-1]), inner_config
        )
    if row.wraps and attr == row.wraps:  # the wrapped layer (TimeDistributed's ...)
        inner_class, inner_config = _wrapped(config.get(row.wraps))
        prefix = "" if row.transparent else stored_name or str(inner_config.get("name", bare))
        return SubLayer(prefix, inner_class or class_from_name(stored_name), inner_config)
    if row.attention and bare in ATTENTION_SUBLAYERS:
        sub_config = {"bias_axes": "x" if config.get("use_bias", True) else None}
        return SubLayer(stored_name or ATTENTION_SUBLAYERS[bare], "EinsumDense", sub_config)
    return SubLayer(stored_name or bare, class_from_name(stored_name), {})


def sub_layer_rank(class_name: str, attr: str) -> tuple[int, str]:
    """Sort key that puts sub-layers in the order a live layer lists their weights."""
    order = ["forward_layer", "backward_layer", *ATTENTION_SUBLAYERS]
    bare = attr.lstrip("_")
    return (order.index(bare), "") if bare in order else (len(order), bare)


def _cell_class(rnn_class: str) -> str:
    return layer_class(rnn_class).cell or rnn_class.rsplit(">", 1)[-1] + "Cell"


def _wrapped(node: Any) -> tuple[str, Mapping[str, Any]]:
    if isinstance(node, dict):
        inner = node.get("config")
        return str(node.get("class_name", "")), inner if isinstance(inner, dict) else {}
    return "", {}


def local_segments(class_name: str, segments: list[str]) -> list[str]:
    """A weight's name segments below its layer without what a live layer leaves out: the
    cell of a recurrent layer (``forward_lstm/lstm_cell/kernel`` -> ``forward_lstm/kernel``),
    the layer a transparent wrapper wraps (TimeDistributed's ``dense/kernel`` -> ``kernel``)."""
    row = layer_class(class_name)
    if row.recurrent:
        segments = [s for s in segments[:-1] if not _CELL_GROUP.match(s)] + segments[-1:]
    if row.transparent and len(segments) > 1:
        segments = segments[1:]
    return segments


def is_model(class_name: str) -> bool:
    """Whether ``class_name`` is a model class (its layers are records of their own)."""
    return layer_class(class_name).model


def is_trainable(weight_name: str) -> bool:
    """Whether Keras trains a variable of this name (BatchNorm statistics it does not)."""
    return weight_name.split(":", 1)[0].rsplit("/", 1)[-1] not in NON_TRAINABLE


_KERAS1_GATES = {frozenset("zrh"): "GRU", frozenset("ifco"): "LSTM"}
_KERAS1_NAME = re.compile(r"(?:^|_)(W|U|b|running_mean|running_std)$")
_KERAS1_NAMES = {"W": "kernel", "U": "recurrent_kernel", "b": "bias",
                 "running_mean": "moving_mean", "running_std": "moving_variance"}  # fmt: skip


def guess_class(weight_names: list[str], shapes: list[tuple[int, ...]]) -> str:
    """A likely Keras class from weight names and shapes, for files that record no config.

    Keras 1 per-gate names decide by their gate letters (``W_z``, ``U_r``, ``b_h``: GRU;
    ``i f c o``: LSTM); otherwise ``W``, ``U``, ``b`` read as kernel, recurrent kernel, bias.
    """
    last = [n.rsplit("/", 1)[-1] for n in weight_names]
    letters = frozenset(m.group(2) for n in last if (m := re.search(r"_([WUb])_([a-z])$", n)))
    if letters in _KERAS1_GATES:
        return _KERAS1_GATES[letters]
    last = [_KERAS1_NAMES.get(m.group(1), n) if (m := _KERAS1_NAME.search(n)) else n for n in last]
    by_name = dict(zip(last, shapes, strict=False))
    depthwise = by_name.get("depthwise_kernel")
    if depthwise is not None:  # its rank says 1-D or 2-D; a pointwise kernel says separable
        rank = max(len(depthwise) - 2, 1)
        separable = "pointwise_kernel" in by_name
        return conv_class(rank, depthwise=not separable, separable=separable) or "Layer"
    if "pointwise_kernel" in by_name:
        return "SeparableConv2D"
    if "recurrent_kernel" in by_name:
        kernel = by_name["recurrent_kernel"]
        gates = kernel[-1] // max(kernel[0], 1) if len(kernel) == 2 else 0
        return {4: "LSTM", 3: "GRU", 1: "SimpleRNN"}.get(gates, "RNN")
    if "moving_mean" in by_name:
        return "BatchNormalization"
    if "gamma" in by_name or "beta" in by_name:
        return "LayerNormalization"
    if "embeddings" in by_name:
        return "Embedding"
    if "kernel" in by_name and len(last) <= 2:
        ndim = len(by_name["kernel"])
        return "Dense" if ndim == 2 else conv_class(ndim - 2) or "Layer"
    return "Layer"
