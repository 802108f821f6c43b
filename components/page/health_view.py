"""The Health panel on the page: findings and, on demand, a spectrum."""

from __future__ import annotations

from extraction.analysis.diagnostics import layer_findings
from extraction.analysis.spectrum import spectrum
from extraction.records import LayerWeights

from ..figures.health import finding_text, spectrum_figure
from .messages import plain


def render(layer: LayerWeights, *, key: str = "health") -> None:
    """Findings for ``layer``; a button computes its spectrum."""
    import streamlit as st

    findings = layer_findings(layer)
    if not layer.weights:
        st.info(f"{plain(layer.class_name)} layers have no weights, so there is nothing to check.")
        return
    if not findings:
        st.success(
            "No problems found: no NaN/Inf, no dead or exploding filters or units, no constant "
            "bias, no BatchNorm variance near zero."
        )
    show = {"error": st.error, "warning": st.warning, "info": st.info}
    for finding in findings:
        show[finding.severity](plain(finding_text(finding)))
    candidates = [w for w in layer.weights if len(w.shape) >= 2 and w.size > 0]
    if not candidates:
        return
    st.markdown("**Spectrum** (singular values, stable rank, WeightWatcher's alpha)")
    name = st.selectbox("Weight", [w.name for w in candidates], key=f"{key}-weight")
    if not st.toggle("Compute the spectrum", key=f"{key}-spectrum"):
        return
    weight = layer.weight(name)
    try:
        spec = spectrum(weight.array(), weight.role, layer.kind, name=name)
    except ValueError as exc:
        st.error(plain(exc))
        return
    fig = spectrum_figure(spec, f"{layer.path} / {name}")
    st.plotly_chart(fig, width="stretch", key=f"{key}-chart")
    how = (
        f"pooled over {spec.slices} kernel positions, as WeightWatcher does"
        if spec.slices > 1
        else "of the weight as a matrix"
    )
    st.caption(f"{spec.meaning} The eigenvalue spectrum is {how}.")
