"""Layer kinds and weight roles: what a layer or an array *is*, decided by name, never position."""

from __future__ import annotations

import re
from typing import Literal, get_args

LayerKind = Literal[
    "conv1d",
    "conv2d",
    "conv3d",
    "depthwise_conv2d",
    "separable_conv2d",
    "conv2d_transpose",
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
CONV_KINDS: tuple[LayerKind, ...] = (
    "conv1d",
    "conv2d",
    "conv3d",
    "depthwise_conv2d",
    "separable_conv2d",
    "conv2d_transpose",
)
"""The kinds whose kernels are banks of spatial filters."""
WEIGHT_ROLES: tuple[WeightRole, ...] = get_args(WeightRole)

# Class names across Keras 2 and 3 (aliases such as Convolution2D included).
_KIND_BY_CLASS: dict[str, LayerKind] = {
    "Conv1D": "conv1d",
    "Convolution1D": "conv1d",
    "Conv2D": "conv2d",
    "Convolution2D": "conv2d",
    "Conv3D": "conv3d",
    "Convolution3D": "conv3d",
    "DepthwiseConv2D": "depthwise_conv2d",
    "SeparableConv2D": "separable_conv2d",
    "SeparableConvolution2D": "separable_conv2d",
    "Conv2DTranspose": "conv2d_transpose",
    "Convolution2DTranspose": "conv2d_transpose",
    "Dense": "dense",
    "EinsumDense": "dense",
    "Embedding": "embedding",
    "LSTM": "lstm",
    "CuDNNLSTM": "lstm",
    "LSTMCell": "lstm",
    "GRU": "gru",
    "CuDNNGRU": "gru",
    "GRUCell": "gru",
    "SimpleRNN": "simple_rnn",
    "SimpleRNNCell": "simple_rnn",
    "Bidirectional": "bidirectional",
    "BatchNormalization": "batch_norm",
    "SyncBatchNormalization": "batch_norm",
    "LayerNormalization": "layer_norm",
    "MultiHeadAttention": "attention",
    "GroupQueryAttention": "attention",
    "Attention": "attention",
    "AdditiveAttention": "attention",
}

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


def kind_of(class_name: str, wrapped_class: str | None = None) -> LayerKind:
    """The kind of a layer from its class name.

    ``TimeDistributed`` takes the kind of the layer it wraps (pass its class as
    ``wrapped_class``); unknown and custom classes are ``"other"``.
    """
    if class_name == "TimeDistributed" and wrapped_class:
        return kind_of(wrapped_class)
    short = class_name.rsplit(">", 1)[-1].rsplit(".", 1)[-1]
    return _KIND_BY_CLASS.get(short, "other")


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
