"""A page that shows one layer of a model built from odd arrays (driven by test_odd_values)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import streamlit as st

from kerascope.components.page import layer_view
from kerascope.components.page.navigation import layer_key
from kerascope.components.page.scope import enter
from kerascope.components.page.sources import ModelRef
from kerascope.extraction.readers.store import ArrayStore
from kerascope.extraction.records import LayerWeights, ModelWeights


def odd_model() -> ModelWeights:
    rng = np.random.default_rng(0)
    nan_kernel = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    nan_kernel[0, 0, 0, 0] = np.nan
    nan_kernel[1, 1, 1, 1] = np.inf
    arrays = {
        "nan_conv": (
            "Conv2D",
            {"kernel": nan_kernel, "bias": np.array([np.nan, 1, -np.inf, 0], np.float32)},
        ),
        "zero_dense": (
            "Dense",
            {"kernel": np.zeros((5, 3), np.float32), "bias": np.zeros(3, np.float32)},
        ),
        "scalars": ("Custom", {"scale": np.float32(2.5), "empty": np.zeros((0, 4), np.float32)}),
        "half": (
            "Dense",
            {
                "kernel": rng.normal(size=(6, 4)).astype(np.float16),
                "bias": rng.normal(size=4).astype(ml_dtypes.bfloat16),
            },
        ),
        "quantized": (
            "Dense",
            {
                "kernel": rng.integers(-128, 127, (8, 4)).astype(np.int8),
                "kernel_scale": np.full(4, 0.01, np.float32),
            },
        ),
        "huge_bias": ("Dense", {"bias": rng.normal(size=10_000_000).astype(np.float32)}),
        "constant_conv": ("Conv2D", {"kernel": np.full((3, 3, 1, 2), 0.5, np.float32)}),
    }
    layers = []
    store = ArrayStore()
    for name, (cls, weights) in arrays.items():
        kind = {"Conv2D": "conv2d", "Dense": "dense"}.get(cls, "other")
        records = tuple(store.weight(w, np.asarray(a)) for w, a in weights.items())
        layers.append(LayerWeights(name, name, cls, kind, {}, records))  # type: ignore[arg-type]
    return ModelWeights("<odd>", "live", "odd", tuple(layers), store=store)


@st.cache_resource
def _model() -> ModelWeights:
    return odd_model()


model, ref = _model(), ModelRef("upload", "odd", "1")
enter(ref, model)
path = st.selectbox("Layer", [layer.path for layer in model.layers], key=layer_key())
layer_view.render(ref, model, model.layer(path))
