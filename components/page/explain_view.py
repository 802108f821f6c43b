"""The Explain panel on the page: plain words and a diagram for the layer's kind, then the code,
axes and parameter arithmetic of its own arrays."""

from __future__ import annotations

from kerascope.extraction.records import LayerWeights

from ..figures.diagrams import diagram_for
from ..figures.explain import explain
from ..figures.lessons import lesson_for
from .messages import plain


def render(layer: LayerWeights) -> None:
    """Write the explanation on the page."""
    import streamlit as st

    lesson = lesson_for(layer)
    diagram = diagram_for(layer)
    words, picture = st.columns([3, 2]) if not diagram.wide else (st.container(), st.container())
    with words:
        # The lesson holds only fixed words and numbers from the config, never file text.
        st.subheader(lesson.title, anchor=False)  # no heading anchor: a page of no links
        st.markdown(f"**What it computes.** {lesson.computes}")
        st.markdown(f"**What its weights are.** {lesson.weights}")
        st.markdown(f"**What to look for.** {lesson.look_for}")
    with picture:
        st.plotly_chart(diagram.figure, width="stretch", key="explain-diagram")
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
    terms = ", ".join(f"{plain(label)} `{'*'.join(map(str, f))}`" for f, label in ex.terms)
    st.caption(f"Terms: {terms}")
    if not ex.matches:
        st.warning(f"The formula gives {ex.params:,} but the layer holds {layer.params:,} values.")
