"""Plain words for the Explain panel: what a layer computes, what its weights mean, what to look
for in them, one short paragraph each, for every layer kind.

``lesson_for(layer)`` is pure (tested). Only numbers from the layer's config are filled in
(filters, kernel size, units ...), never text from the file, so the words are safe to render as
Markdown. Sizes the config lacks are left out of the sentence rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kerascope.extraction.kinds import LayerKind
from kerascope.extraction.layouts import RECURRENT_KINDS, LayerClass, conv_layout, layer_class
from kerascope.extraction.records import LayerWeights


@dataclass(frozen=True)
class Lesson:
    """Three short paragraphs about one layer kind."""

    title: str
    """The kind in a few words (``A 2-D convolution``)."""
    computes: str
    """What the layer does to its input."""
    weights: str
    """What its weights are, in the words of the views."""
    look_for: str
    """What a trained layer's weights usually look like, and what would be a warning sign."""


def _int(cfg: Mapping[str, Any], key: str) -> int | None:
    value = cfg.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) for v in value):
        return int(value[0])
    return None


def _size(cfg: Mapping[str, Any], key: str = "kernel_size") -> str:
    value = cfg.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value}"
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) for v in value):
        return "x".join(str(v) for v in value)
    return ""


def _count(n: int | None, word: str) -> str:
    """``16 filters``; ``filters`` when the number is unknown."""
    return f"{n:,} {word}" if n is not None else word


def _conv(layer: LayerWeights, conv: LayerClass) -> Lesson:
    cfg = layer.config
    size = _size(cfg)
    window = f"{size} window" if size else "small window"
    filters = _count(_int(cfg, "filters"), "filters")
    dims = f"{conv.conv_rank}-D"
    plain_2d = "" if conv.conv_rank == 2 else f"{dims} "  # 2-D is what the words assume
    if conv.transposed:
        return Lesson(
            f"A {plain_2d}transposed convolution (upsampling)",
            f"It runs a convolution backwards: each input pixel stamps a {window} of weights "
            "onto a larger output, scaled by its value, and overlapping stamps add up. Decoders "
            "and generators use it to grow small feature maps into images.",
            f"The kernel holds {filters}, each a {window} per input channel: the pattern one "
            "input pixel paints into the output.",
            "Trained stamps are smooth patterns; a checkerboard in the output usually comes from "
            "strides that do not divide the kernel size.",
        )
    if conv.depthwise or conv.separable:
        mult = _int(cfg, "depth_multiplier")
        base = (
            f"Each input channel gets its own {window} (times a depth multiplier of {mult})"
            if mult
            else f"Each input channel gets its own {window}"
        )
        if conv.separable:
            return Lesson(
                f"A {plain_2d}separable convolution",
                f"Two steps: {base.lower()}, which filters space within that channel only; then "
                "a 1x1 pointwise convolution mixes the channels into "
                f"{filters}. Far fewer weights than a full convolution of the same size.",
                "The depthwise kernel holds one small spatial filter per channel; the pointwise "
                "kernel is a matrix from channels to output filters.",
                "Depthwise filters look like small blurs and edges; a depthwise filter of all "
                "zeros is a channel the layer ignores.",
            )
        return Lesson(
            f"A {plain_2d}depthwise convolution",
            f"{base}, sliding over that channel alone: it filters space but never mixes "
            "channels (MobileNet and EfficientNet pair it with 1x1 convolutions that do).",
            "The kernel holds one small spatial filter per input channel (and multiplier).",
            "Filters in early layers look like blurs and edges; near-zero filters are channels "
            "the network has switched off.",
        )
    return Lesson(
        f"A {dims} convolution",
        f"It slides a {window} over the input and, at every position, multiplies the window by "
        "each filter's weights and adds the products (plus a bias): one output map per filter. "
        "The same weights are used at every position, so a filter finds its pattern anywhere.",
        f"The kernel holds {filters}; each is a {window} with one weight per input channel. "
        "Red weights add where the input is bright, blue ones subtract: the filter responds most "
        "to inputs that look like its own picture.",
        "In a first layer, trained filters look like oriented edges, stripes and colour blobs; "
        "random speckle means untrained, and an all-zero filter is dead (it outputs only its "
        "bias). Deeper filters look less like pictures, since they see feature maps, not pixels.",
    )


def _dense(layer: LayerWeights) -> Lesson:
    units = _count(_int(layer.config, "units"), "units")
    return Lesson(
        "A dense (fully connected) layer",
        f"Every one of its {units} computes a weighted sum of all the inputs plus a bias: the "
        "input vector times the kernel matrix (outputs = inputs x kernel + bias).",
        "The kernel is a matrix with one row per input and one column per unit: column j holds "
        "the weights unit j gives each input. The bias is one number per unit.",
        "Trained kernels are mostly small values of both signs; a column of zeros is a dead unit, "
        "a few very large values are exploding weights. On images (the first layer of an MLP), "
        "a column reshaped to the image shows which pixels the unit looks at.",
    )


def _embedding(layer: LayerWeights) -> Lesson:
    vocab = _int(layer.config, "input_dim")
    dim = _int(layer.config, "output_dim")
    return Lesson(
        "An embedding (lookup table)",
        "It turns each token id into a vector by looking up one row of a table: no "
        "multiplication, just indexing. Row 7 is the vector of token 7.",
        f"The table has {_count(vocab, 'rows')} (one per token id) of "
        f"{_count(dim, 'numbers')} each. Tokens used in similar ways end up with similar rows.",
        "Rows of tokens never seen in training stay at their random start; a row far larger than "
        "the rest is a token the model leans on heavily.",
    )


def _rnn(layer: LayerWeights, kind: LayerKind) -> Lesson:
    units = _count(_int(layer.config, "units"), "units")
    if kind == "lstm":
        return Lesson(
            "An LSTM (long short-term memory)",
            f"It reads a sequence step by step, keeping a memory (the cell state) of {units}. At "
            "each step four gates look at the current input and the previous output: the forget "
            "gate decides what to erase, the input gate what to write, the candidate what the "
            "new content is, and the output gate what to show.",
            "The kernel maps the input to the four gates, the recurrent kernel maps the previous "
            "output to them, in Keras's order i, f, c, o (four blocks of columns). The bias has "
            "the same four blocks; Keras starts the forget block at 1 so the cell remembers.",
            "Compare the four gate blocks: a forget bias still at 1 everywhere means little "
            "training; a huge recurrent kernel makes the memory unstable.",
        )
    if kind == "gru":
        return Lesson(
            "A GRU (gated recurrent unit)",
            f"It reads a sequence step by step with {units} of state and two gates: the update "
            "gate z decides how much of the old state to keep, the reset gate r how much of it to "
            "use when proposing the new state h.",
            "The kernel (from the input) and the recurrent kernel (from the previous state) each "
            "hold three blocks of columns, z, r and h, as Keras orders them.",
            "Compare the gate blocks; a recurrent kernel much larger than the input kernel means "
            "the layer listens mostly to its own past.",
        )
    if kind == "bidirectional":
        return Lesson(
            "A bidirectional recurrent layer",
            "It runs two copies of a recurrent layer over the sequence, one forwards and one "
            "backwards, and joins their outputs, so every step sees both its past and its "
            "future.",
            "Two full sets of weights, prefixed forward_ and backward_: each is an ordinary "
            "recurrent layer's kernel, recurrent kernel and bias.",
            "The two directions usually learn different weights; identical ones mean one of them "
            "never trained.",
        )
    return Lesson(
        "A simple recurrent layer",
        f"It reads a sequence step by step; its {units} of state are updated as "
        "tanh(input x kernel + previous state x recurrent kernel + bias).",
        "The kernel maps each input to the state; the recurrent kernel maps the state to itself.",
        "A recurrent kernel with large values makes the state explode or saturate; simple RNNs "
        "forget quickly, which is why LSTMs and GRUs exist.",
    )


def _norm(layer: LayerWeights, kind: LayerKind) -> Lesson:
    if kind == "batch_norm":
        return Lesson(
            "Batch normalization",
            "It rescales each channel to mean 0 and variance 1, using the mean and variance it "
            "measured on the training data (moving mean and moving variance), then applies a "
            "learned scale (gamma) and shift (beta).",
            "Four numbers per channel: gamma and beta are learned; the moving mean and variance "
            "are statistics, not trained by gradients.",
            "A moving variance near 0 is a channel that barely varied in training (often fed by "
            "dead filters); a gamma near 0 switches its channel off.",
        )
    return Lesson(
        "Layer normalization",
        "It rescales each example's features to mean 0 and variance 1, computed over the features "
        "of that one example (not over the batch), then applies a learned scale (gamma) and "
        "shift (beta). Transformers use it around every block.",
        "Two numbers per feature: gamma (scale) and beta (shift), both learned.",
        "Gammas far from 1 or betas far from 0 show which features the network amplifies or "
        "biases; a gamma of 0 silences a feature.",
    )


def _attention(layer: LayerWeights) -> Lesson:
    heads = _int(layer.config, "num_heads")
    key_dim = _int(layer.config, "key_dim")
    return Lesson(
        "Multi-head attention",
        f"Each of its {_count(heads, 'heads')} projects every position into a query, a key and "
        "a value. A position's output is an average of all the values, weighted by how well its "
        "query matches each key (softmax of query x key). The heads' outputs are joined and "
        "projected back.",
        "Four projections: query, key and value kernels (input features x heads x "
        f"{_count(key_dim, 'numbers') + ' per head' if key_dim else 'size per head'}) and the "
        "output kernel that mixes the heads back into features.",
        "Compare heads: a head whose weights are all tiny contributes nothing; the query and key "
        "kernels together decide what a head attends to.",
    )


def _fallback(layer: LayerWeights) -> Lesson:
    if not layer.weights:
        return Lesson(
            "A layer without weights",
            "It reshapes, pools, activates or combines its inputs by a fixed rule: nothing in it "
            "is learned.",
            "It has no weights, so there is nothing to look at here; the layers around it do "
            "the learning.",
            "Look at the layer before it: this layer passes on whatever that one computes.",
        )
    return Lesson(
        "A layer of a kind Kerascope has no lesson for",
        "Kerascope does not know what this layer computes, so it shows its weights as arrays.",
        "Each weight's axes are listed below, as far as the shapes tell.",
        "The general signs still hold: all zeros, NaN or Inf, or values far larger than the "
        "rest are worth a look (see the Health tab).",
    )


def lesson_for(layer: LayerWeights) -> Lesson:
    """The plain-words lesson of ``layer``'s kind (see the module doc)."""
    kind = layer.kind
    conv = conv_layout(kind)
    if conv:
        return _conv(layer, conv)
    if kind == "dense":
        return _dense(layer)
    if kind == "embedding":
        return _embedding(layer)
    if kind in RECURRENT_KINDS:
        return _rnn(layer, kind)
    if kind in ("batch_norm", "layer_norm"):
        return _norm(layer, kind)
    if kind == "attention" and layer_class(layer.class_name).attention:
        return _attention(layer)
    return _fallback(layer)
