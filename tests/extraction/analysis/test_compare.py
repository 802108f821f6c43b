"""Comparing two models: relative changes with known answers, unmatched layers listed."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from keras import layers

from kerascope.extraction.analysis.compare import compare_models, difference
from kerascope.extraction.readers.live import read_live
from kerascope.extraction.records import ModelWeights


def model(hidden: int = 3, extra: bool = False, name: str = "m") -> keras.Model:
    parts: list[keras.layers.Layer] = [
        keras.Input((4,)),
        layers.Dense(hidden, name="hidden"),
        layers.Dense(2, name="out"),
    ]
    if extra:
        parts.append(layers.Dense(2, name="extra"))
    return keras.Sequential(parts, name=name)


def with_weights(m: keras.Model, kernel_value: float, bias_value: float) -> ModelWeights:
    hidden = m.get_layer("hidden")
    k, b = hidden.get_weights()
    hidden.set_weights([np.full_like(k, kernel_value), np.full_like(b, bias_value)])
    out = m.get_layer("out")
    out.set_weights([np.ones_like(w) for w in out.get_weights()])
    return read_live(m)


def test_relative_change_known_answers() -> None:
    before = with_weights(model(name="epoch0"), 1.0, 0.0)
    after = with_weights(model(name="epoch1"), 1.5, 0.0)
    cmp = compare_models(before, after)
    by = {(c.layer, c.weight): c for c in cmp.changes}
    kernel = by[("hidden", "kernel")]
    assert kernel.relative == pytest.approx(0.5)
    assert kernel.norm_before == pytest.approx(math.sqrt(12))
    assert kernel.change == pytest.approx(0.5 * math.sqrt(12))
    assert by[("hidden", "bias")].relative == 0.0  # zero before and after: nothing moved
    assert by[("out", "kernel")].relative == 0.0
    assert not cmp.unmatched()
    pooled = dict(cmp.layer_changes())
    assert pooled["hidden"] == pytest.approx(0.5)  # bias adds nothing to either sum
    assert pooled["out"] == 0.0


def test_change_from_zero_is_infinite_and_nan_is_undefined() -> None:
    before = with_weights(model(), 1.0, 0.0)
    after = with_weights(model(), 1.0, 0.25)
    by = {(c.layer, c.weight): c for c in compare_models(before, after).changes}
    bias = by[("hidden", "bias")]
    assert bias.relative == math.inf and bias.change == pytest.approx(0.25 * math.sqrt(3))
    broken = with_weights(model(), np.nan, 0.0)
    by = {(c.layer, c.weight): c for c in compare_models(before, broken).changes}
    assert math.isnan(by[("hidden", "kernel")].relative or 0.0)


def test_unmatched_layers_and_shapes_are_listed_not_fatal() -> None:
    before = with_weights(model(hidden=3), 1.0, 0.0)
    after = read_live(model(hidden=5, extra=True))
    cmp = compare_models(before, after)
    status = {(c.layer, c.weight): c.status for c in cmp.changes}
    assert status[("hidden", "kernel")] == "shape_differs"
    assert status[("out", "kernel")] == "shape_differs"  # (3, 2) vs (5, 2)
    assert status[("out", "bias")] == "matched"
    assert status[("extra", "kernel")] == "only_after"
    reverse = {(c.layer, c.weight): c.status for c in compare_models(after, before).changes}
    assert reverse[("extra", "bias")] == "only_before"


def test_difference_is_after_minus_before_and_refuses_other_shapes() -> None:
    before = with_weights(model(), 1.0, 0.0)
    after = with_weights(model(), 0.25, 0.0)
    np.testing.assert_allclose(difference(before, after, "hidden", "kernel"), -0.75)
    other = read_live(model(hidden=5))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 5\)"):
        difference(before, other, "hidden", "kernel")
