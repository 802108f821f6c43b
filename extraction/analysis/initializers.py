"""What a fresh Keras initializer gives a weight: its standard deviation and, when bounded, the
largest magnitude a fresh draw can have. The whole-model health scan compares trained weights
with this (``extraction.analysis.health``).

Keras's own rules, once (Keras 2 and 3 agree on them):
- Fans (``keras.initializers.compute_fans``): a 1-D shape has ``fan_in = fan_out = shape[0]``; a
  2-D shape ``(in, out)``; more axes multiply both by the receptive field ``prod(shape[:-2])``:
  ``fan_in = shape[-2] * rf``, ``fan_out = shape[-1] * rf``. Keras applies this to the real
  shape of every kernel, so a Conv2DTranspose's or a MultiHeadAttention's fans are what this
  formula says, whatever the layer means by its axes.
- ``VarianceScaling(scale, mode, distribution)`` divides ``scale`` by the fan its mode names
  (``fan_avg`` = the mean of the two). ``uniform`` draws from ``+-sqrt(3 * scale)``;
  ``truncated_normal`` (Keras 2 also calls it ``normal``) uses ``stddev = sqrt(scale) /
  0.87962566`` cut at 2 stddev, so the values' std is ``sqrt(scale)``; ``untruncated_normal``
  has std ``sqrt(scale)`` and no bound.
- Glorot = VarianceScaling(1, fan_avg), He = (2, fan_in), LeCun = (1, fan_in); ``*_uniform`` and
  ``*_normal`` as above.
- ``RandomUniform(minval, maxval)``: std ``(maxval - minval) / sqrt(12)``; ``RandomNormal``: its
  ``stddev``; ``TruncatedNormal(stddev)``: cut at 2 stddev, std ``0.87962566 * stddev``.
- ``Orthogonal(gain)``: the weight as ``(prod(shape[:-1]), shape[-1])`` has orthonormal columns
  (or rows), so its values' std is ``gain / sqrt(max(rows, cols))``.
- Missing from the config: ``glorot_uniform`` for kernels, ``orthogonal`` for recurrent kernels,
  ``RandomUniform(-0.05, 0.05)`` for embeddings (Keras's defaults). ``Zeros``, ``Ones``,
  ``Constant``, ``Identity``, custom and unknown initializers have no scale to compare: None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TRUNCATED_STD = 0.87962566103423978
"""Std of a standard normal truncated at +-2: Keras divides its stddev by this."""

INITIALIZER_KEYS: dict[str, str] = {
    "kernel": "kernel_initializer",
    "recurrent_kernel": "recurrent_initializer",
    "depthwise_kernel": "depthwise_initializer",
    "pointwise_kernel": "pointwise_initializer",
    "embeddings": "embeddings_initializer",
}
"""The config key that holds each weight role's initializer."""

DEFAULTS: dict[str, str] = {
    "kernel": "glorot_uniform",
    "recurrent_kernel": "orthogonal",
    "depthwise_kernel": "glorot_uniform",
    "pointwise_kernel": "glorot_uniform",
    "embeddings": "uniform",
}
"""Keras's default initializer per role, used when the config does not say."""

_VARIANCE_SCALING: dict[str, tuple[float, str, str]] = {
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
}


@dataclass(frozen=True)
class InitScale:
    """What a fresh initializer gives one weight."""

    name: str
    """The initializer as Keras names it in snake case (``glorot_uniform``)."""
    std: float
    """The standard deviation of freshly initialised values."""
    bound: float | None
    """The largest magnitude a fresh value can have; None for an unbounded distribution."""
    from_config: bool
    """True when the layer's config named it; False for Keras's default."""


def compute_fans(shape: tuple[int, ...]) -> tuple[float, float]:
    """``(fan_in, fan_out)`` as Keras computes them (see the module docstring)."""
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


def init_scale(config: Mapping[str, Any], role: str, shape: tuple[int, ...]) -> InitScale | None:
    """The fresh scale of a weight of ``role`` and ``shape`` in a layer with ``config``.

    A wrapper's config (Bidirectional, TimeDistributed) is searched in its wrapped layer's
    config too. None when the role has no initializer we know of, or the initializer has no
    scale (zeros, constants, identity, custom classes).
    """
    key = INITIALIZER_KEYS.get(role)
    if key is None or not shape or math.prod(shape) == 0:
        return None
    spec = _find(config, key)
    from_config = spec is not None
    name, params = _parse(spec if spec is not None else DEFAULTS[role])
    scale = _scale(name, params, shape)
    if scale is None:
        return None
    return InitScale(name, scale[0], scale[1], from_config)


def _find(config: Mapping[str, Any], key: str) -> Any:
    if key in config:
        return config[key]
    for inner_key in ("layer", "forward_layer", "cell"):
        inner = config.get(inner_key)
        if isinstance(inner, Mapping):
            nested = inner.get("config", inner)
            if isinstance(nested, Mapping) and key in nested:
                return nested[key]
    return None


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


_ALIASES = {
    "random_uniform": "uniform",
    "random_normal": "normal",
    "truncated_normal": "truncated_normal",
    "orthogonal_initializer": "orthogonal",
}


def _parse(spec: Any) -> tuple[str, Mapping[str, Any]]:
    """``(snake_case_name, config)`` of an initializer given as a string or a serialized dict."""
    params: Mapping[str, Any] = {}
    if isinstance(spec, str):
        name = spec
    elif isinstance(spec, Mapping):
        name = str(spec.get("class_name", ""))
        inner = spec.get("config")
        params = inner if isinstance(inner, Mapping) else {}
    else:
        return "", {}
    snake = _snake(name.rsplit(">", 1)[-1].rsplit(".", 1)[-1]) if name else ""
    return _ALIASES.get(snake, snake), params


def _number(params: Mapping[str, Any], key: str, default: float) -> float:
    value = params.get(key, default)
    try:
        number = float(value if value is not None else default)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _scale(
    name: str, params: Mapping[str, Any], shape: tuple[int, ...]
) -> tuple[float, float | None] | None:
    fan_in, fan_out = compute_fans(shape)
    if name in _VARIANCE_SCALING or name == "variance_scaling":
        if name == "variance_scaling":
            scale = _number(params, "scale", 1.0)
            mode = str(params.get("mode", "fan_in"))
            distribution = str(params.get("distribution", "truncated_normal"))
        else:
            scale, mode, distribution = _VARIANCE_SCALING[name]
        fan = {"fan_in": fan_in, "fan_out": fan_out}.get(mode, (fan_in + fan_out) / 2.0)
        variance = scale / max(1.0, fan)
        if distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return limit / math.sqrt(3.0), limit
        std = math.sqrt(variance)
        if distribution == "untruncated_normal":
            return std, None
        return std, 2.0 * std / TRUNCATED_STD
    if name == "uniform":
        low, high = _number(params, "minval", -0.05), _number(params, "maxval", 0.05)
        return (high - low) / math.sqrt(12.0), max(abs(low), abs(high))
    if name == "normal":
        return _number(params, "stddev", 0.05), None
    if name == "truncated_normal":
        std = _number(params, "stddev", 0.05)
        mean = abs(_number(params, "mean", 0.0))
        return TRUNCATED_STD * std, mean + 2.0 * std
    if name == "orthogonal":
        gain = _number(params, "gain", 1.0)
        rows = math.prod(shape[:-1]) if len(shape) > 1 else 1
        return abs(gain) / math.sqrt(max(rows, shape[-1])), None
    return None
