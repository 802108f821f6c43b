"""Every Keras layout fact, once: one table of layer classes (``LAYER_CLASSES``: kind, conv
rank, transposed, depthwise, separable, recurrent, attention, what a wrapper wraps, how its
variables are named), the axes of each kernel, the gate order of recurrent weights, the
sub-layers of attention, and the views derived from them (a weight as a 2-D matrix, a conv kernel
as a bank of filters, a weight as one column per unit).

Keras's own layouts are the truth (STYLE.md): Dense kernel ``(in, units)``; Conv ``(..spatial..,
in // groups, filters)``; ConvNDTranspose ``(..spatial.., filters, in)``; DepthwiseConvND
``(..spatial.., in, multiplier)``; SeparableConvND a depthwise ``(..spatial.., in, multiplier)``
and a pointwise ``(1.., in * multiplier, filters)``; LSTM kernel ``(in, 4 * units)`` with gates
i, f, c, o; GRU ``(in, 3 * units)`` with gates z, r, h; attention projections ``(d_model, heads,
head_dim)`` and the output projection ``(heads, head_dim, d_model)``.

Views take the layer's *kind*, decided once when the records are made (``classify``), never a
class name: a ``TimeDistributed(Conv2D)`` is a ``conv2d`` everywhere. A conv kind's facts (rank,
transposed, depthwise, separable) are its classes' row of the table (``conv_layout``).

Other formats store other axis orders. A reader records the order it found in ``Weight.layout``
and keeps the array exactly as stored; ``to_keras_axes`` turns it into a view in Keras's order
(a transpose or reshape of the same values, never new values), which is what the views get.

TFLite layouts (from its schema and kernels):
- ``OI``: FULLY_CONNECTED weights ``(units, in)``, and the per-gate matrices of
  UNIDIRECTIONAL_SEQUENCE_LSTM -> Keras ``(in, units)``: the two axes swapped.
- ``OHWI``: CONV_2D filters ``(out, kh, kw, in)`` -> Keras ``(kh, kw, in, out)``.
- ``OHWI>T``: TRANSPOSE_CONV filters ``(out, kh, kw, in)`` -> Conv2DTranspose ``(kh, kw, out,
  in)``.
- ``1HW(C*M):M``: DEPTHWISE_CONV_2D filters ``(1, kh, kw, channels * multiplier)`` with the
  multiplier after the colon -> Keras ``(kh, kw, channels, multiplier)``; TFLite's channel index
  ``c * M + m`` is exactly a C-order reshape of the last axis.
- CONV_3D stores ``(kd, kh, kw, in, out)`` as Keras does: no layout is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from .kinds import LayerKind

Array = np.ndarray[Any, Any]

Variables = Literal[
    "",
    "none",
    "kernel",
    "einsum",
    "depthwise",
    "separable",
    "batch_norm",
    "norm",
    "scale",
    "embeddings",
    "cell",
    "alpha",
    "scores",
    "statistics",
]
"""How a class's own variables are named, in the order Keras creates them (see
``readers._layer_vars.own_variable_names``): ``kernel`` is a kernel, then a bias unless
``use_bias`` is off; ``none`` holds no variables of its own (its sub-layers or cell do); ``""``
is not known."""


@dataclass(frozen=True)
class LayerClass:
    """What Kerascope knows of one Keras layer class: one row of ``LAYER_CLASSES``."""

    kind: LayerKind | None = "other"
    """The kind its records get (which views suit it); None for a wrapper that takes the kind
    of the layer it wraps (TimeDistributed, RNN)."""
    conv_rank: int = 0
    """Spatial axes of its kernel (1, 2 or 3); 0 for a layer that is not a convolution."""
    transposed: bool = False
    """Its kernel is ``(..spatial.., filters, in)``: filters before input channels."""
    depthwise: bool = False
    """Its kernel is ``(..spatial.., in, multiplier)``: a filter per input channel, none mixing
    channels (Keras 3 calls it ``kernel``, Keras 2 ``depthwise_kernel``)."""
    separable: bool = False
    """A depthwise kernel ``(..spatial.., in, multiplier)`` then a pointwise kernel ``(1..,
    in * multiplier, filters)``."""
    recurrent: bool = False
    """A recurrent layer or cell; a cell inside it adds no prefix to its weights' names."""
    attention: bool = False
    """Multi-head attention: query, key, value and output projections (``ATTENTION_SUBLAYERS``)."""
    wraps: str = ""
    """The config key that holds the layer it wraps (``layer``, ``cell``); empty for none."""
    transparent: bool = False
    """The layer it wraps adds no prefix to its weights' names (TimeDistributed)."""
    cell: str = ""
    """The class of the cell a recurrent layer keeps its weights in."""
    variables: Variables = ""
    """How its own variables are named (``Variables``)."""
    model: bool = False
    """A model: its layers are its own records."""
    preprocessing: bool = False
    """It only prepares the input (EfficientNet's Normalization holds a mean and variance):
    never the layer a model opens on, even when it holds weights."""


def _conv(
    kind: LayerKind,
    rank: int,
    *,
    transposed: bool = False,
    depthwise: bool = False,
    separable: bool = False,
) -> LayerClass:
    variables: Variables = "separable" if separable else "depthwise" if depthwise else "kernel"
    return LayerClass(kind, rank, transposed, depthwise, separable, variables=variables)


def _rnn(kind: LayerKind, cell: str, rank: int = 0) -> LayerClass:
    return LayerClass(kind, conv_rank=rank, recurrent=True, cell=cell, variables="none")


UNKNOWN_CLASS = LayerClass("other")
"""The row of a class not in the table (custom layers): kind ``other``, nothing else known."""
_NO_KIND = (
    "Activation ActivityRegularization AdaptiveAveragePooling1D AdaptiveAveragePooling2D "
    "AdaptiveAveragePooling3D AdaptiveMaxPooling1D AdaptiveMaxPooling2D AdaptiveMaxPooling3D Add "
    "AlphaDropout AugMix AutoContrast Average AveragePooling1D AveragePooling2D AveragePooling3D "
    "CategoryEncoding Concatenate ContrastLimitedAdaptiveHistogramEqualization Cropping1D "
    "Cropping2D Cropping3D CutMix Discretization Dot Dropout ELU Equalization Flatten FlaxLayer "
    "GaussianDropout GaussianNoise GlobalAveragePooling1D GlobalAveragePooling2D "
    "GlobalAveragePooling3D GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D "
    "HashedCrossing Hashing Identity IntegerLookup JaxLayer Lambda LeakyReLU Masking "
    "MaxNumBoundingBoxes MaxPooling1D MaxPooling2D MaxPooling3D Maximum Minimum MixUp Multiply "
    "Permute Pipeline RandAugment RandomBrightness RandomColorDegeneration RandomColorJitter "
    "RandomContrast RandomCrop RandomElasticTransform RandomErasing RandomFlip RandomGaussianBlur "
    "RandomGrayscale RandomHue RandomInvert RandomPerspective RandomPosterization RandomRotation "
    "RandomSaturation RandomSharpness RandomShear RandomTranslation RandomZoom ReLU RepeatVector "
    "Reshape Softmax Solarization SpatialDropout1D SpatialDropout2D SpatialDropout3D StringLookup "
    "Subtract TFSMLayer TextVectorization TorchModuleWrapper UnitNormalization UpSampling1D "
    "UpSampling2D UpSampling3D ZeroPadding1D ZeroPadding2D ZeroPadding3D MelSpectrogram "
    # Weights shown as plain arrays: a fixed Fourier basis, Keras 2's unshared convolutions.
    "STFTSpectrogram LocallyConnected1D LocallyConnected2D"
).split()
"""Keras classes with no kind of their own: most hold no weights; the last few hold weights
that no kind's views fit."""

LAYER_CLASSES: dict[str, LayerClass] = {
    "Conv1D": _conv("conv1d", 1),
    "Conv2D": _conv("conv2d", 2),
    "Conv3D": _conv("conv3d", 3),
    "Conv1DTranspose": _conv("conv1d_transpose", 1, transposed=True),
    "Conv2DTranspose": _conv("conv2d_transpose", 2, transposed=True),
    "Conv3DTranspose": _conv("conv3d_transpose", 3, transposed=True),
    "DepthwiseConv1D": _conv("depthwise_conv1d", 1, depthwise=True),
    "DepthwiseConv2D": _conv("depthwise_conv2d", 2, depthwise=True),
    "SeparableConv1D": _conv("separable_conv1d", 1, separable=True),
    "SeparableConv2D": _conv("separable_conv2d", 2, separable=True),
    "Dense": LayerClass("dense", variables="kernel"),
    "EinsumDense": LayerClass("dense", variables="einsum"),
    "Embedding": LayerClass("embedding", variables="embeddings"),
    "ReversibleEmbedding": LayerClass("embedding", variables="embeddings"),
    "LSTM": _rnn("lstm", "LSTMCell"),
    "GRU": _rnn("gru", "GRUCell"),
    "SimpleRNN": _rnn("simple_rnn", "SimpleRNNCell"),
    "ConvLSTM1D": _rnn("lstm", "ConvLSTMCell", 1),
    "ConvLSTM2D": _rnn("lstm", "ConvLSTMCell", 2),
    "ConvLSTM3D": _rnn("lstm", "ConvLSTMCell", 3),
    "LSTMCell": LayerClass("lstm", recurrent=True, variables="cell"),
    "GRUCell": LayerClass("gru", recurrent=True, variables="cell"),
    "SimpleRNNCell": LayerClass("simple_rnn", recurrent=True, variables="cell"),
    "ConvLSTMCell": LayerClass("lstm", recurrent=True, variables="cell"),
    "CuDNNLSTM": LayerClass("lstm", recurrent=True, variables="cell"),
    "CuDNNGRU": LayerClass("gru", recurrent=True, variables="cell"),
    "RNN": LayerClass(None, recurrent=True, wraps="cell", variables="none"),
    "StackedRNNCells": LayerClass("other", variables="none"),
    "Bidirectional": LayerClass("bidirectional", recurrent=True, wraps="layer", variables="none"),
    "TimeDistributed": LayerClass(None, wraps="layer", transparent=True, variables="none"),
    "SpectralNormalization": LayerClass(None, wraps="layer"),
    "BatchNormalization": LayerClass("batch_norm", variables="batch_norm"),
    "SyncBatchNormalization": LayerClass("batch_norm", variables="batch_norm"),
    "LayerNormalization": LayerClass("layer_norm", variables="norm"),
    "GroupNormalization": LayerClass("layer_norm", variables="norm"),
    "RMSNormalization": LayerClass("layer_norm", variables="scale"),
    "MultiHeadAttention": LayerClass("attention", attention=True, variables="none"),
    "GroupedQueryAttention": LayerClass("attention", attention=True, variables="none"),
    "Attention": LayerClass("attention", variables="scores"),
    "AdditiveAttention": LayerClass("attention", variables="scores"),
    "PReLU": LayerClass("other", variables="alpha"),
    "Normalization": LayerClass("other", variables="statistics", preprocessing=True),
    "InputLayer": LayerClass("other", variables="none", preprocessing=True),
    "Rescaling": LayerClass("other", variables="none", preprocessing=True),
    "Resizing": LayerClass("other", variables="none", preprocessing=True),
    "CenterCrop": LayerClass("other", variables="none", preprocessing=True),
    "Sequential": LayerClass("other", variables="none", model=True),
    "Functional": LayerClass("other", variables="none", model=True),
    "Model": LayerClass("other", variables="none", model=True),
    # Hugging Face (PyTorch) module classes, which safetensors checkpoints are saved from.
    "Linear": LayerClass("dense"),
    "LayerNorm": LayerClass("layer_norm"),
    "RMSNorm": LayerClass("layer_norm"),
    **dict.fromkeys(_NO_KIND, UNKNOWN_CLASS),
}
"""Every layer class Kerascope knows, by the name Keras saves it under (Netron's
``keras-metadata.json`` as data): kinds, readers, views, diagrams and lessons look classes up
here (``layer_class``) rather than keeping their own lists."""
CLASS_ALIASES: dict[str, str] = {
    "Convolution1D": "Conv1D",
    "Convolution2D": "Conv2D",
    "Convolution3D": "Conv3D",
    "Convolution1DTranspose": "Conv1DTranspose",
    "Convolution2DTranspose": "Conv2DTranspose",
    "Convolution3DTranspose": "Conv3DTranspose",
    "SeparableConvolution1D": "SeparableConv1D",
    "SeparableConvolution2D": "SeparableConv2D",
    "GroupQueryAttention": "GroupedQueryAttention",
}
"""Other names the same classes are saved under (Keras 1 and 2 spellings; Keras 3 saves
GroupedQueryAttention under its exported name in ``.keras`` configs)."""
LAYER_CLASSES.update({alias: LAYER_CLASSES[name] for alias, name in CLASS_ALIASES.items()})
MAX_WRAPPING = 8
"""Wrappers followed into a config (``TimeDistributed(Bidirectional(RNN(cell)))`` is 3): a
config nested deeper is read no further."""


def layer_class(class_name: str) -> LayerClass:
    """The table's row for ``class_name``; a registered name (``package>Conv2D``) or a dotted
    one (``keras.layers.Conv2D``) is looked up by its last part. Unknown: ``UNKNOWN_CLASS``."""
    short = class_name.rsplit(">", 1)[-1].rsplit(".", 1)[-1]
    return LAYER_CLASSES.get(short, UNKNOWN_CLASS)


def kind_of(class_name: str, wrapped_class: str | None = None) -> LayerKind:
    """The kind of a layer from its class name.

    A wrapper without a kind of its own (TimeDistributed, RNN) takes the kind of the class it
    wraps (pass it as ``wrapped_class``; ``wrapped_class`` below finds it in a config); unknown
    and custom classes are ``"other"``.
    """
    row = layer_class(class_name)
    if row.kind is None:
        return layer_class(wrapped_class).kind or "other" if wrapped_class else "other"
    return row.kind


def wrapped_class(class_name: str, config: Mapping[str, Any]) -> str:
    """The class a wrapper wraps, as its config says: ``LSTM`` for ``Bidirectional(LSTM)``;
    through wrappers without a kind of their own, ``GRUCell`` for ``Bidirectional(RNN(GRUCell))``.
    Empty for a layer that wraps nothing, or a config that does not say."""
    found = ""
    for _ in range(MAX_WRAPPING):
        key = layer_class(class_name).wraps
        node = config.get(key) if key else None
        if not (isinstance(node, Mapping) and isinstance(node.get("class_name"), str)):
            break
        found = class_name = node["class_name"]
        inner = node.get("config")
        config = inner if isinstance(inner, Mapping) else {}
        if layer_class(class_name).kind is not None:
            break
    return found


def classify(class_name: str, config: Mapping[str, Any]) -> tuple[LayerKind, str]:
    """A layer's kind and the class it wraps (``wrapped_class``): what its record holds, decided
    once when the record is made."""
    wrapped = wrapped_class(class_name, config)
    return kind_of(class_name, wrapped), wrapped


def gate_kind(kind: str, wrapped: str) -> str:
    """The kind whose gates a layer's recurrent weights hold: a Bidirectional's are its wrapped
    layer's (``LayerWeights.wrapped``), every other layer's its own kind."""
    return kind_of(wrapped) if kind == "bidirectional" and wrapped else kind


def layer_of_cell(cell_class: str) -> str:
    """The one recurrent layer class that keeps its weights in ``cell_class`` (``LSTMCell`` ->
    ``LSTM``); empty when none does or several do (``ConvLSTMCell``)."""
    owners = {name for name, row in LAYER_CLASSES.items() if row.cell and row.cell == cell_class}
    return owners.pop() if len(owners) == 1 else ""


def conv_class(rank: int, *, depthwise: bool = False, separable: bool = False) -> str:
    """The Keras class of a plain (or depthwise, or separable) convolution of ``rank`` spatial
    axes, for a layer whose class is only guessed from its weights' shapes; empty for none."""
    for name, row in LAYER_CLASSES.items():
        facts = (row.conv_rank, row.depthwise, row.separable, row.transposed, row.recurrent)
        if facts == (rank, depthwise, separable, False, False):
            return name
    return ""


CONV_KINDS: tuple[LayerKind, ...] = tuple(
    dict.fromkeys(
        row.kind
        for row in LAYER_CLASSES.values()
        if row.kind and row.conv_rank and not row.recurrent
    )
)
"""The kinds whose kernels are banks of spatial filters."""
_CONV_BY_KIND: dict[str, LayerClass] = {
    kind: next(row for row in LAYER_CLASSES.values() if row.kind == kind) for kind in CONV_KINDS
}
SPATIAL_CONV_KINDS: tuple[LayerKind, ...] = tuple(
    k for k in CONV_KINDS if not (_CONV_BY_KIND[k].depthwise or _CONV_BY_KIND[k].separable)
)
"""Conv kinds whose kernel maps ``in`` to ``out`` channels at every kernel position (not
depthwise or separable)."""
RECURRENT_KINDS: tuple[LayerKind, ...] = tuple(
    dict.fromkeys(row.kind for row in LAYER_CLASSES.values() if row.kind and row.recurrent)
)
"""The kinds of recurrent layers (LSTM, GRU, SimpleRNN, Bidirectional)."""


def conv_layout(kind: str) -> LayerClass | None:
    """The convolution facts (``conv_rank``, ``transposed``, ``depthwise``, ``separable``) of a
    conv kind; None for every other kind."""
    return _CONV_BY_KIND.get(kind)


RNN_GATES: dict[str, tuple[str, ...]] = {"lstm": ("i", "f", "c", "o"), "gru": ("z", "r", "h")}
"""Gate order within a recurrent kernel's columns, by layer kind (Keras 2 and 3)."""
GATE_MEANINGS: dict[str, str] = {
    "lstm": "4 gates (i, f, c, o) x units",
    "gru": "3 gates (z, r, h) x units",
}
"""How the gate axis of an LSTM or GRU kernel reads, for people."""
ATTENTION_SUBLAYERS: dict[str, str] = {
    "query_dense": "query",
    "key_dense": "key",
    "value_dense": "value",
    "output_dense": "attention_output",
}
"""MultiHeadAttention's sub-layer attributes and the prefix each gives its weights' names."""
ATTENTION_OUTPUTS: tuple[str, ...] = ("attention_output", "output_dense")
"""Sub-layer prefixes of the output projection, whose kernel is ``(heads, head_dim, d_model)``."""
OUT_IN_NAME = "weight"
"""PyTorch's name for a Linear's matrix, stored ``(out, in)`` (safetensors checkpoints); Keras
names a Dense kernel ``(in, out)`` ``kernel``, never ``weight``."""


def rnn_gates(kind: str, n_cols: int) -> tuple[list[int], list[str]]:
    """Gate boundaries (first column of each gate after the first) and gate names.

    ``kind`` is the layer's kind, or for ``Bidirectional`` the wrapped layer's kind. SimpleRNN
    and other kinds have no gates: ``([], [])``; so does a width that does not divide evenly.
    """
    names = RNN_GATES.get(kind)
    if not names or n_cols % len(names):
        return [], []
    units = n_cols // len(names)
    return [units * g for g in range(1, len(names))], list(names)


def _check_kind(kind: str) -> None:
    if kind not in get_args(LayerKind):
        raise ValueError(
            f"expected a layer kind ({', '.join(get_args(LayerKind))}); received {kind!r} "
            "(pass LayerWeights.kind, not the class name)"
        )


def to_2d(array: Array, role: str, kind: str, *, name: str = "") -> tuple[Array, str, str]:
    """Reshape any weight to the 2-D matrix a heatmap shows, with its axis titles.

    Keras layouts decide the reshape (the result is a view when numpy can make one):
    - 2-D weights stay as they are: Dense ``(in, units)``, a PyTorch Linear's ``weight``
      ``(out, in)`` (safetensors), Embedding ``(vocab, dim)``, LSTM/GRU kernels
      ``(in, gates * units)`` and recurrent kernels ``(units, gates * units)``.
    - Conv kernels ``(..spatial.., in, out)`` become ``(spatial * in, out)``; a transposed
      conv's ``(..spatial.., out, in)`` has its last two axes swapped first so rows are again
      ``spatial * in``.
    - Depthwise kernels ``(..spatial.., in, mult)`` become ``(spatial, in * mult)``: a column
      per depthwise filter. Pointwise kernels ``(1.., in, out)`` become ``(in, out)``.
    - Attention and EinsumDense (``dense``) projections ``(d_model, heads, head_dim)`` become
      ``(d_model, heads * head_dim)``; an output projection (weight ``name`` under
      ``attention_output/`` or ``output_dense/``) ``(heads, head_dim, d_model)`` becomes
      ``(heads * head_dim, d_model)``.
    - Any other array of 3 or more axes: all axes but the last become the rows.
    - A 1-D array is one row ``(1, n)``; a scalar is ``(1, 1)``.

    Args:
        array: the weight's values; not modified.
        role: the weight's role (``kernel``, ``depthwise_kernel`` ...).
        kind: the layer's kind (``LayerWeights.kind``).
        name: the weight's name within its layer; tells attention output projections apart.

    Raises:
        ValueError: ``kind`` is not a layer kind.
    """
    _check_kind(kind)
    conv = conv_layout(kind)
    a = np.asarray(array)
    sublayer = name.rsplit("/", 1)[0] if "/" in name else ""
    if a.ndim == 0:
        return a.reshape(1, 1), "", "value"
    if a.ndim == 1:
        return a.reshape(1, -1), "", "index"
    if role == "depthwise_kernel" or (conv and conv.depthwise and role == "kernel"):
        return a.reshape(-1, a.shape[-2] * a.shape[-1]), "kernel position", "channel x multiplier"
    if role == "pointwise_kernel":
        return a.reshape(-1, a.shape[-1]), "input channel", "output filter"
    if a.ndim == 2 and kind == "dense" and name == OUT_IN_NAME:
        return a, "output unit", "input unit"
    if a.ndim == 2:
        return a, *_labels_2d(role, kind)
    if conv:
        a = np.swapaxes(a, -1, -2) if conv.transposed else a
        return a.reshape(-1, a.shape[-1]), "kernel position x input channel", "output filter"
    if kind in ("attention", "dense"):
        if sublayer.endswith(ATTENTION_OUTPUTS):
            return a.reshape(-1, a.shape[-1]), "head x head dim", "model dim"
        return a.reshape(a.shape[0], -1), "model dim", "head x head dim"
    return a.reshape(-1, a.shape[-1]), "flattened leading axes", "last axis"


def _labels_2d(role: str, kind: str) -> tuple[str, str]:
    if role == "embeddings" or kind == "embedding":
        return "token id", "embedding dim"
    gated = kind in RNN_GATES or kind == "bidirectional"
    out = "gate x unit" if gated else "unit"
    if role == "recurrent_kernel":
        return "hidden unit", out
    if kind in RECURRENT_KINDS:
        return "input feature", out
    if role in ("kernel", "other"):
        return "input unit", "output unit"
    return "row", "column"


def filter_bank(kernel: Array, kind: str, depth: int = 0) -> Array:
    """The filters of a conv kernel as ``(n_filters, rows, cols, channels)`` (a view).

    - Conv2D ``(kh, kw, in, out)``: ``out`` filters of ``kh x kw`` over ``in`` channels.
    - Transposed convs ``(..spatial.., out, in)``: the filters are the second-to-last axis.
    - 3-D kernels ``(kd, kh, kw, ...)``: the ``depth`` slice, then as their 2-D form.
    - 1-D kernels ``(k, in, out)`` (Conv1D; Conv1DTranspose ``(k, out, in)``): each filter is
      one ``k x in`` image (a single channel).
    - Depthwise kernels ``(..spatial.., in, mult)`` (DepthwiseConv, and a separable conv's
      depthwise kernel): one single-channel tile per (channel, multiplier), index ``channel *
      mult + multiplier`` as Keras orders the outputs; a 1-D tile is a ``k x 1`` column.

    Raises:
        ValueError: unknown kind, a shape that does not fit it, or ``depth`` out of range.
    """
    k = np.asarray(kernel)
    conv = conv_layout(kind)
    if conv is None:
        raise ValueError(f"no filter grid for kind {kind!r}; expected one of {CONV_KINDS}")
    if k.ndim != conv.conv_rank + 2:
        raise ValueError(f"a {kind} kernel has {conv.conv_rank + 2} axes; received shape {k.shape}")
    if conv.conv_rank == 3:
        if not 0 <= depth < k.shape[0]:
            raise ValueError(f"depth must be in 0..{k.shape[0] - 1}; received depth={depth}")
        k = k[depth]
    if conv.depthwise or conv.separable:
        tiles = np.moveaxis(k.reshape(*k.shape[:-2], -1), -1, 0)  # (in * mult, ..spatial..)
        return (tiles[:, :, np.newaxis] if conv.conv_rank == 1 else tiles)[..., np.newaxis]
    if conv.transposed:
        k = np.swapaxes(k, -1, -2)  # (..spatial.., in, out) like every other conv
    if conv.conv_rank == 1:
        return np.transpose(k, (2, 0, 1))[..., np.newaxis]
    return np.transpose(k, (3, 0, 1, 2))


def is_filter_bank(kind: str, role: str, ndim: int) -> bool:
    """Whether a weight of ``role`` with ``ndim`` axes in a layer of ``kind`` is a bank of conv
    filters (``filter_bank`` reads it): a conv layer's kernel, or its depthwise kernel."""
    conv = conv_layout(kind)
    return (
        conv is not None and role in ("kernel", "depthwise_kernel") and ndim == conv.conv_rank + 2
    )


def filter_count(shape: tuple[int, ...], kind: str) -> int:
    """Number of tiles a kernel of this shape shows (without reading the array)."""
    return int(filter_bank(np.empty(shape, dtype=np.uint8), kind).shape[0])


def input_channels(shape: tuple[int, ...], kind: str) -> int:
    """Channels per tile that a channel picker chooses from (1 for 1-D and depthwise)."""
    return int(filter_bank(np.empty(shape, dtype=np.uint8), kind).shape[-1])


def unit_matrix(values: Array, role: str, kind: str, name: str = "") -> tuple[Array | None, str]:
    """The weight as ``(values_per_unit, n_units)``: one column per filter or unit.

    Conv kernels give a column per output filter (a transposed conv's filters are its
    second-to-last axis), depthwise kernels one per channel x multiplier, 2-D kernels one per
    output unit, embeddings one per token. Weights of fewer than 2 axes have no units: ``(None,
    "")``.
    """
    if np.ndim(values) < 2:
        return None, ""
    matrix, _, _ = to_2d(values, role, kind, name=name)
    if role == "embeddings" or kind == "embedding":
        return matrix.T, "token"
    if role in ("depthwise_kernel", "pointwise_kernel") or kind in CONV_KINDS:
        return matrix, "channel" if role == "depthwise_kernel" else "filter"
    return matrix, "unit"


# Stored layouts of other formats (TFLite) and their way to Keras's axes.

FULLY_CONNECTED = "OI"
CONV = "OHWI"
TRANSPOSE_CONV = "OHWI>T"
DEPTHWISE_PREFIX = "1HW(C*M):"


def depthwise(multiplier: int) -> str:
    """The layout of a TFLite depthwise filter with this depth multiplier."""
    return f"{DEPTHWISE_PREFIX}{multiplier}"


def _perm(layout: str, ndim: int) -> tuple[int, ...] | None:
    if layout == FULLY_CONNECTED and ndim == 2:
        return (1, 0)
    if layout == CONV and ndim == 4:
        return (1, 2, 3, 0)
    if layout == TRANSPOSE_CONV and ndim == 4:
        return (1, 2, 0, 3)
    return None


def keras_shape(shape: tuple[int, ...], layout: str) -> tuple[int, ...]:
    """The shape of a stored array of ``shape`` once in Keras's axis order.

    A layout that does not fit the shape (a damaged file) leaves the shape as stored.
    """
    perm = _perm(layout, len(shape))
    if perm is not None:
        return tuple(shape[i] for i in perm)
    if layout.startswith(DEPTHWISE_PREFIX) and len(shape) == 4 and shape[0] == 1:
        m = _multiplier(layout)
        if m and shape[3] % m == 0:
            return (shape[1], shape[2], shape[3] // m, m)
    return shape


def to_keras_axes(array: Array, layout: str) -> Array:
    """``array`` (stored in ``layout``) as a view in Keras's axis order; not copied."""
    a = np.asarray(array)
    perm = _perm(layout, a.ndim)
    if perm is not None:
        return a.transpose(perm)
    target = keras_shape(a.shape, layout)
    return a.reshape(target) if target != a.shape else a


def stored_channel_axis(layout: str | None, ndim: int) -> int:
    """The stored axis that holds output channels (what per-channel scales run along)."""
    if layout in (FULLY_CONNECTED, CONV, TRANSPOSE_CONV):
        return 0
    return ndim - 1


def _multiplier(layout: str) -> int:
    try:
        return int(layout[len(DEPTHWISE_PREFIX) :])
    except ValueError:
        return 0


def from_keras_axes(array: Array, layout: str | None, stored_shape: tuple[int, ...]) -> Array:
    """The inverse of ``to_keras_axes``: an array in Keras's order laid out as the file stores
    it (to compare a Keras weight with a stored one channel by channel)."""
    a = np.asarray(array)
    if not layout:
        return a
    perm = _perm(layout, a.ndim)
    if perm is not None:
        return a.transpose(np.argsort(perm))
    return a.reshape(stored_shape)
