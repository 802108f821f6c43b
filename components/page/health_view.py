"""The Health panel: the whole model's findings, ranked, each opening its layer; then the selected
layer's own findings and, on demand, its spectrum.

The model scan reads every array once; its findings are kept per model (``model_scan``), so a
second visit, or another session on the same model, is immediate.
"""

from __future__ import annotations

import streamlit as st

from kerascope.extraction.analysis.diagnostics import Finding, layer_findings
from kerascope.extraction.analysis.health import model_findings, worst_by_layer
from kerascope.extraction.analysis.spectrum import spectrum
from kerascope.extraction.errors import KerascopeError
from kerascope.extraction.records import LayerWeights, ModelWeights

from ..figures.health import (
    SEVERITY_ICONS,
    finding_detail,
    finding_text,
    finding_where,
    spectrum_figure,
)
from .messages import error_line, plain
from .navigation import open_layer
from .sources import ModelRef

_SHOW = {"error": st.error, "warning": st.warning, "info": st.info}
MAX_LISTED = 200
"""Findings listed per group on the page; the CLI (``python -m extraction health``) lists all."""


@st.cache_resource(max_entries=32, show_spinner=False)
def _slot(key: str) -> dict[str, list[Finding]]:
    """Where one model's findings are kept (filled outside, so the scan can show progress)."""
    return {}


def model_scan(ref: ModelRef, model: ModelWeights) -> list[Finding] | None:
    """The model's findings, scanned once per model with a progress bar; None if unreadable."""
    slot = _slot(f"{ref.kind}|{ref.name}|{ref.token}")
    if "findings" not in slot:
        bar = st.progress(0.0, text="Checking every layer...")

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(fraction, 1.0), text=plain(message))

        try:
            slot["findings"] = model_findings(model, progress=progress)
        except KerascopeError as exc:
            st.error(error_line("The health scan could not read this model", exc))
            return None
        finally:
            bar.empty()
    return slot["findings"]


def layer_status(ref: ModelRef, model: ModelWeights) -> dict[str, str]:
    """The worst severity per layer path (empty when the scan failed)."""
    findings = model_scan(ref, model)
    return dict(worst_by_layer(findings)) if findings is not None else {}


def render(ref: ModelRef, model: ModelWeights, layer: LayerWeights, *, key: str = "health") -> None:
    """The whole model's ranked findings, then ``layer``'s own, then its spectrum on demand."""
    findings = model_scan(ref, model)
    if findings is not None:
        _model_section(model, findings, key)
    st.divider()
    _layer_section(layer, key)


def _model_section(model: ModelWeights, findings: list[Finding], key: str) -> None:
    st.markdown(f"**Whole model** · {len(model.weighted_layers())} layers with weights checked")
    counts = {s: sum(f.severity == s for f in findings) for s in ("error", "warning", "info")}
    if not counts["error"] and not counts["warning"]:
        st.success(
            "No errors or warnings in any layer: no NaN/Inf, no dead or exploding units, no layer "
            "out of scale with its initializer and its peers, not an untrained model."
            + (f" {counts['info']} note(s) below." if counts["info"] else "")
        )
    else:
        st.caption(
            f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} "
            "note(s), most severe first. Click a layer to open it."
        )
    serious = [f for f in findings if f.severity != "info"]
    notes = [f for f in findings if f.severity == "info"]
    _list(serious, key)
    if notes:
        with st.expander(f"{len(notes)} note(s): worth knowing, not problems"):
            _list(notes, f"{key}-info")


def _list(findings: list[Finding], key: str) -> None:
    for i, finding in enumerate(findings[:MAX_LISTED]):
        where, text = st.columns([1, 3], vertical_alignment="center")
        with where:
            if finding.layer:
                st.button(
                    plain(finding_where(finding)),
                    key=f"{key}-open-{i}",
                    icon=SEVERITY_ICONS[finding.severity],
                    on_click=open_layer,
                    args=(finding.layer, finding.weight),
                    help="Open this layer and weight",
                    width="stretch",
                )
            else:
                st.markdown(f"{SEVERITY_ICONS[finding.severity]} **whole model**")
        with text:
            _SHOW[finding.severity](plain(finding_detail(finding)))
    if len(findings) > MAX_LISTED:
        st.caption(
            f"... and {len(findings) - MAX_LISTED} more; `python -m extraction health` lists all."
        )


def _layer_section(layer: LayerWeights, key: str) -> None:
    st.markdown(f"**This layer** · {plain(layer.path)}")
    if not layer.weights:
        st.info(f"{plain(layer.class_name)} layers have no weights, so there is nothing to check.")
        return
    findings = layer_findings(layer)
    if not findings:
        st.success(
            "No problems found in this layer: no NaN/Inf, no dead or exploding filters or units, "
            "no constant bias, no BatchNorm variance near zero."
        )
    for finding in findings:
        _SHOW[finding.severity](plain(finding_text(finding)))
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
