"""The Explain panel on the page."""

from __future__ import annotations

from extraction.records import LayerWeights

from ..figures.explain import explain
from .messages import plain


def render(layer: LayerWeights) -> None:
    """Write the explanation on the page."""
    import streamlit as st

    ex = explain(layer)
    st.markdown("**The code that returns exactly these arrays** (from a loaded `model`):")
    st.code(ex.code, language="python")
    for name, axes in ex.axes:
        shape = layer.weight(name).shape
        pairs = enumerate(zip(shape, axes, strict=False))
        parts = [f"axis {i} = {n} {meaning}" for i, (n, meaning) in pairs]
        st.markdown(f"**{plain(name)}** `{shape}`: " + ("; ".join(parts) or "a scalar"))
    how = "from the layer's config" if ex.from_config else "from the weights' shapes"
    st.markdown(f"**Parameters** ({how}): `{ex.arithmetic}`")
    terms = ", ".join(f"{label} `{'*'.join(map(str, f))}`" for f, label in ex.terms)
    st.caption(f"Terms: {terms}")
    if not ex.matches:
        st.warning(f"The formula gives {ex.params:,} but the layer holds {layer.params:,} values.")
