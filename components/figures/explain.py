"""The Explain panel's content: the Keras code that returns a layer's arrays, what each axis means,
and the parameter count worked out from the layer's config.

``explain(layer)`` is pure (tested); ``components.page.explain_view`` writes it on the page.

Decided edge cases:
- Nested layers get chained ``get_layer`` calls, one per path segment.
- The arithmetic uses the config's sizes (``filters``, ``kernel_size``, ``units`` ...) and, for
  what a config does not hold (the input size the layer was built for), the weight's shape.
  Kinds without a formula (custom layers, EinsumDense) multiply out each weight's shape; the
  text says so. ``Explanation.params`` always equals the sum of the weights' sizes when the
  formula is right, and ``matches`` says whether it does.
- A layer without weights explains why it has none; its arithmetic is ``0``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from kerascope.extraction.layouts import (
    ATTENTION_OUTPUTS,
    CONV_KINDS,
    GATE_MEANINGS,
    conv_layout,
    gate_kind,
    layer_class,
)
from kerascope.extraction.records import LayerWeights, Weight

Term = tuple[tuple[int, ...], str]
"""A product of factors and what it counts (``((3, 3, 1, 16), "kernel")``)."""


@dataclass(frozen=True)
class Explanation:
    """Everything the Explain panel says about one layer."""

    code: str
    """Python that returns exactly this layer's arrays from a loaded ``model``."""
    axes: tuple[tuple[str, tuple[str, ...]], ...]
    """Per weight: its name and the meaning of each of its axes."""
    arithmetic: str
    """``3*3*1*16 + 16 = 160``."""
    terms: tuple[Term, ...]
    """The products summed in ``arithmetic``."""
    params: int
    """The total the arithmetic gives."""
    matches: bool
    """Whether ``params`` equals the layer's real parameter count."""
    from_config: bool
    """False when the arithmetic only multiplies out the weights' shapes."""


def explain(layer: LayerWeights) -> Explanation:
    """The explanation of ``layer`` (see the module docstring)."""
    terms = _config_terms(layer)
    from_config = terms is not None
    if terms is None:
        terms = [(w.shape or (1,), w.name) for w in layer.weights]
    total = sum(math.prod(f) for f, _ in terms)
    text = " + ".join("*".join(str(n) for n in f) for f, _ in terms) or "0"
    return Explanation(
        code=code_for(layer),
        axes=tuple((w.name, axis_names(layer, w)) for w in layer.weights),
        arithmetic=f"{text} = {total:,}" if len(terms) > 1 or "*" in text else f"{total:,}",
        terms=tuple(terms),
        params=total,
        matches=total == layer.params,
        from_config=from_config,
    )


def code_for(layer: LayerWeights) -> str:
    """``layer = model.get_layer("a").get_layer("b")`` and the unpacking of its weights."""
    chain = "".join(f".get_layer({part!r})" for part in layer.path.split("/"))
    lines = [f"layer = model{chain}".replace("'", '"')]
    if not layer.weights:
        lines.append(f"layer.weights  # []: a {layer.class_name} has no weights")
        return "\n".join(lines)
    names = [_identifier(w.name) for w in layer.weights]
    target = f"({names[0]},)" if len(names) == 1 else ", ".join(names)
    lines.append(f"{target} = (w.numpy() for w in layer.weights)")
    lines += [f"# {w.name}: shape {w.shape}, {w.dtype}" for w in layer.weights]
    return "\n".join(lines)


def _identifier(name: str) -> str:
    ident = re.sub(r"\W", "_", name)
    return ident if ident[:1].isalpha() else f"w_{ident}"


_SPATIAL = {
    1: ("kernel length",),
    2: ("kernel height", "kernel width"),
    3: ("kernel depth", "kernel height", "kernel width"),
}


def axis_names(layer: LayerWeights, weight: Weight) -> tuple[str, ...]:
    """What each axis of ``weight`` means for this layer type (Keras's layouts)."""
    kind, role, n = layer.kind, weight.role, len(weight.shape)
    conv = conv_layout(kind)
    spatial = _SPATIAL.get(n - 2, ())
    gates = GATE_MEANINGS
    gated = gate_kind(kind, layer.wrapped)
    if role == "depthwise_kernel" or (conv and conv.depthwise and role == "kernel"):
        return (*spatial, "input channels", "depth multiplier")
    if role == "pointwise_kernel":
        return (*("1",) * (n - 2), "input channels x depth multiplier", "filters")
    if conv and conv.transposed and role == "kernel":
        return (*spatial, "filters (output channels)", "input channels")
    if conv and role == "kernel":
        return (*spatial, "input channels / groups", "filters (output channels)")
    if role in ("kernel", "recurrent_kernel") and gated in gates and n >= 2:
        # A ConvLSTM's kernels have the spatial axes of its convolutions first.
        first = "units (previous hidden state)" if role == "recurrent_kernel" else "input features"
        return (*spatial, first, gates[gated])
    if role == "bias" and gated in gates:
        return (("reset-after: input / recurrent",) if n == 2 else ()) + (gates[gated],)
    if role == "embeddings":
        return "token id (input_dim)", "embedding dimension (output_dim)"
    if kind == "attention":
        return _attention_axes(weight)
    if role == "recurrent_kernel":
        return "units (previous hidden state)", "units"
    if role == "kernel" and n == 2:
        return "input features", "units (outputs)"
    if n == 1:
        if conv:
            return ("filters (one value per output channel)",)
        what = "channels" if kind == "batch_norm" else "features" if kind == "layer_norm" else ""
        return (what or "units (one value per output)",)
    return tuple(f"axis {i}" for i in range(n))


def _attention_axes(weight: Weight) -> tuple[str, ...]:
    out = weight.name.split("/")[0] in ATTENTION_OUTPUTS
    if weight.role == "kernel":
        if out:
            return "heads", "value dim per head", "output features"
        return "input features", "heads", "key/value dim per head"
    return ("output features",) if out else ("heads", "dim per head")


def _shape(layer: LayerWeights, role: str) -> tuple[int, ...] | None:
    found = layer.by_role(role)  # type: ignore[arg-type]
    return found[0].shape if found else None


def _config_terms(layer: LayerWeights) -> list[Term] | None:
    """The parameter count as products of config sizes, or None without a formula."""
    cfg, kind = layer.config, layer.kind
    if not layer.weights:
        return []
    try:
        if kind == "bidirectional":
            inner = cfg["layer"]["config"]
            return [((2, *f), f"2 x {label}") for f, label in _rnn_terms(inner, layer, half=True)]
        if kind in ("lstm", "gru", "simple_rnn"):
            return _rnn_terms(cfg, layer)
        return _FORMULAS[kind](cfg, layer) if kind in _FORMULAS else None
    except (KeyError, TypeError, IndexError):
        return None


def _bias(cfg: dict[str, Any] | Any, size: int) -> list[Term]:
    return [((size,), "bias")] if cfg.get("use_bias", True) else []


def _conv(cfg: Any, layer: LayerWeights) -> list[Term]:
    kernel = _shape(layer, "kernel")
    if kernel is None:
        raise KeyError("kernel")
    ks, filters = tuple(cfg["kernel_size"]), int(cfg["filters"])
    conv = conv_layout(layer.kind)
    if conv and conv.transposed:
        return [((*ks, filters, kernel[-1]), "kernel"), *_bias(cfg, filters)]
    per_group = kernel[-2]
    return [((*ks, per_group, filters), "kernel"), *_bias(cfg, filters)]


def _depthwise(cfg: Any, layer: LayerWeights) -> list[Term]:
    depthwise = _shape(layer, "depthwise_kernel") or _shape(layer, "kernel")
    if depthwise is None:
        raise KeyError("depthwise_kernel")
    ks, mult, channels = tuple(cfg["kernel_size"]), int(cfg["depth_multiplier"]), depthwise[-2]
    terms: list[Term] = [((*ks, channels, mult), "depthwise kernel")]
    conv = conv_layout(layer.kind)
    if conv and conv.separable:
        filters = int(cfg["filters"])
        return [*terms, ((channels * mult, filters), "pointwise kernel"), *_bias(cfg, filters)]
    return [*terms, *_bias(cfg, channels * mult)]


def _dense(cfg: Any, layer: LayerWeights) -> list[Term] | None:
    kernel = _shape(layer, "kernel")
    if "units" not in cfg or kernel is None or len(kernel) != 2:
        return None
    units = int(cfg["units"])
    return [((kernel[0], units), "kernel"), *_bias(cfg, units)]


def _rnn_terms(cfg: Any, layer: LayerWeights, half: bool = False) -> list[Term]:
    units = int(cfg["units"])
    kernels = [w for w in layer.weights if w.role == "kernel"]
    n_in = kernels[0].shape[0]
    gates = 4 if "forget_bias" in cfg or "unit_forget_bias" in cfg else 1
    if "reset_after" in cfg:
        gates = 3
    terms: list[Term] = [((gates, units, n_in), "kernel"), ((gates, units, units), "recurrent")]
    if cfg.get("use_bias", True):
        bias: tuple[int, ...] = (gates, units)
        if gates == 3 and cfg.get("reset_after"):
            bias = (2, gates, units)
        terms.append((bias, "bias"))
    return terms


def _norm(cfg: Any, layer: LayerWeights) -> list[Term]:
    size = layer.weights[0].shape[0]
    parts = [("gamma", cfg.get("scale", True)), ("beta", cfg.get("center", True))]
    if layer.kind == "batch_norm":
        parts += [("moving_mean", True), ("moving_variance", True)]
    return [((size,), name) for name, on in parts if on]


def _embedding(cfg: Any, layer: LayerWeights) -> list[Term]:
    return [((int(cfg["input_dim"]), int(cfg["output_dim"])), "embeddings")]


def _attention(cfg: Any, layer: LayerWeights) -> list[Term] | None:
    if not layer_class(layer.class_name).attention:
        return None
    heads, key_dim = int(cfg["num_heads"]), int(cfg["key_dim"])
    value_dim = int(cfg.get("value_dim") or key_dim)
    dims = {w.name.split("/")[0]: w.shape for w in layer.weights if w.role == "kernel"}
    use_bias = cfg.get("use_bias", True)
    terms: list[Term] = []
    for proj, per_head in (("query", key_dim), ("key", key_dim), ("value", value_dim)):
        terms.append(((dims[proj][0], heads, per_head), f"{proj} kernel"))
        if use_bias:
            terms.append(((heads, per_head), f"{proj} bias"))
    out_dim = dims["attention_output"][-1]
    terms.append(((heads, value_dim, out_dim), "output kernel"))
    if use_bias:
        terms.append(((out_dim,), "output bias"))
    return terms


def _conv_formula(kind: str) -> Any:
    conv = conv_layout(kind)
    return _depthwise if conv and (conv.depthwise or conv.separable) else _conv


_FORMULAS: dict[str, Any] = {
    **{kind: _conv_formula(kind) for kind in CONV_KINDS},
    "dense": _dense,
    "batch_norm": _norm,
    "layer_norm": _norm,
    "embedding": _embedding,
    "attention": _attention,
}
