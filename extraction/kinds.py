"""Layer kinds and weight roles: what a layer or an array *is*, decided by name, never position.

The kind of a Keras class is looked up in ``layouts.LAYER_CLASSES`` (``layouts.kind_of``); this
module holds the closed sets and what names alone tell (a weight's role, a layer named like an
embedding).
"""

from __future__ import annotations

import re
from typing import Literal, get_args

LayerKind = Literal[
    "conv1d",
    "conv2d",
    "conv3d",
    "conv1d_transpose",
    "conv2d_transpose",
    "conv3d_transpose",
    "depthwise_conv1d",
    "depthwise_conv2d",
    "separable_conv1d",
    "separable_conv2d",
    "dense",
    "embedding",
    "lstm",
    "gru",
    "simple_rnn",
    "bidirectional",
    "batch_norm",
    "layer_norm",
    "attention",
    "other",
]
WeightRole = Literal[
    "kernel",
    "bias",
    "recurrent_kernel",
    "depthwise_kernel",
    "pointwise_kernel",
    "embeddings",
    "gamma",
    "beta",
    "moving_mean",
    "moving_variance",
    "other",
]
LAYER_KINDS: tuple[LayerKind, ...] = get_args(LayerKind)
WEIGHT_ROLES: tuple[WeightRole, ...] = get_args(WeightRole)

_ROLE_BY_NAME: dict[str, WeightRole] = {
    "kernel": "kernel",
    "bias": "bias",
    "recurrent_kernel": "recurrent_kernel",
    "depthwise_kernel": "depthwise_kernel",
    "pointwise_kernel": "pointwise_kernel",
    "embeddings": "embeddings",
    "gamma": "gamma",
    "beta": "beta",
    "moving_mean": "moving_mean",
    "moving_variance": "moving_variance",
}


# Keras 1 named weights after the layer and the equation's letter, per gate: ``gru_1_W_z``
# (input weights of gate z), ``lstm_1_U_i`` (recurrent weights), ``dense_1_b``.
_KERAS1 = re.compile(r"(?:^|_)(W|U|b|running_mean|running_std)(?:_[a-z])?$")
_KERAS1_ROLES: dict[str, WeightRole] = {
    "W": "kernel",
    "U": "recurrent_kernel",
    "b": "bias",
    "running_mean": "moving_mean",
    "running_std": "moving_variance",
}


def role_of(weight_name: str) -> WeightRole:
    """The role of a weight from its name; the last path segment decides (``cell/kernel``).

    Keras 2 names end in ``:0`` (``kernel:0``); that suffix is ignored. Keras 1 names take the
    role of their letter: ``W`` kernel, ``U`` recurrent kernel, ``b`` bias (``gru_1_W_z``).
    """
    last = weight_name.rsplit("/", 1)[-1].split(":", 1)[0]
    role = _ROLE_BY_NAME.get(last)
    if role is not None:
        return role
    old = _KERAS1.search(last)
    return _KERAS1_ROLES[old.group(1)] if old else "other"


_EMBEDDING_NAME = re.compile(r"embed|^(wte|wpe|shared|tok_embeddings|word_embeddings)$")
_NORM_NAME = re.compile(r"norm|^ln(_?\d+|_f|_\w+)?$")
_BLOCK = re.compile(r"^(?P<prefix>.*?)[._/]?(?P<index>\d+)$")


def kind_by_name(layer_name: str) -> LayerKind | None:
    """``embedding`` or ``layer_norm`` when a layer's own name says so, for files that record no
    class (safetensors, custom classes): ``embed_tokens``, ``wte``, ``input_layernorm``,
    ``ln_f``; None otherwise. Only the last part of a dotted or slashed path is looked at.
    """
    last = re.split(r"[./]", layer_name)[-1].lower()
    if _EMBEDDING_NAME.search(last):
        return "embedding"
    if _NORM_NAME.search(last):
        return "layer_norm"
    return None


def block_position(path: str) -> tuple[str, int, str] | None:
    """Where a layer sits in a stack of repeated blocks: ``(stack, index, member)``.

    The last numbered part of the path is the block: ``model.layers.3.self_attn.q_proj`` ->
    ``("model.layers", 3, "self_attn.q_proj")``; KerasHub's ``transformer_layer_3/self_attention
    /query`` -> ``("transformer_layer", 3, "self_attention/query")``. None for a path without a
    numbered part, and for a numbered last part (``dense_3`` is a layer, not a block).
    """
    parts = re.split(r"([./])", path)
    names = parts[::2]
    for i in range(len(names) - 2, -1, -1):
        found = _BLOCK.match(names[i])
        if found:
            prefix = "".join(parts[: 2 * i]) + found["prefix"]
            member = "".join(parts[2 * i + 2 :])
            return prefix.rstrip("./_"), int(found["index"]), member
    return None
