"""The Health panel: the whole model's findings, ranked, each opening its layer; then the selected
layer's own findings and, on demand, its spectrum with WeightWatcher's fit and a check for
correlation traps.

The model's findings come from its background check (``checks``), run once per opened model, so
a second visit, or another session on the same model, is immediate; WeightWatcher's notes of
big weights join them when the check has computed their spectra.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from kerascope.extraction.analysis.diagnostics import Finding, layer_findings
from kerascope.extraction.analysis.spectrum import (
    OVER_TRAINED_THRESH,
    UNDER_TRAINED_THRESH,
    esd_plan,
    layer_esd,
    spectral_summary,
)
from kerascope.extraction.analysis.stats_job import StatsJob
from kerascope.extraction.analysis.traps import correlation_traps
from kerascope.extraction.errors import KerascopeError
from kerascope.extraction.records import LayerWeights, ModelWeights, Weight

from ..figures.health import (
    SEVERITY_ICONS,
    finding_detail,
    finding_text,
    finding_where,
    spectrum_figure,
    summary_line,
    traps_figure,
)
from . import checks
from .messages import error_line, plain
from .navigation import open_layer
from .sources import ModelRef

_SHOW = {"error": st.error, "warning": st.warning, "info": st.info}
MAX_LISTED = 200
"""Findings listed per group on the page; the CLI (``python -m extraction health``) lists all."""


@st.cache_resource(max_entries=32, show_spinner=False)
def _slot(key: str) -> dict[str, Any]:
    """Where one model's trap checks are kept."""
    return {}


def _model_key(ref: ModelRef) -> str:
    return f"{ref.kind}|{ref.name}|{ref.token}"


def render(ref: ModelRef, model: ModelWeights, layer: LayerWeights, *, key: str = "health") -> None:
    """The whole model's ranked findings, then ``layer``'s own, then its spectrum on demand.

    The model's findings come from its background check (``checks``): while it runs, the
    section says how far it got and the layer's own checks below are already there.
    """

    def model_part(check: StatsJob) -> None:
        found = checks.findings(ref, model)
        if found is not None:
            _model_section(ref, model, found, key)
        elif check.checked:
            st.error(f"The health scan could not read this model: {plain(check.error)}")
        else:
            st.caption(
                "Checking every layer of the model; its findings appear here when done. The "
                "selected layer's own checks are below already."
            )

    checks.live(ref, model, model_part)
    st.divider()
    _layer_section(layer, key, _slot(_model_key(ref)), checks.findings(ref, model))


def _model_section(ref: ModelRef, model: ModelWeights, findings: list[Finding], key: str) -> None:
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
    pending = checks.job(ref, model).spectra_left
    if pending:
        st.caption(
            f"WeightWatcher's spectra of {pending} large weight(s) are being computed in the "
            "background; their notes and the summary appear here when they are done."
        )
    else:
        st.caption(plain(summary_line(spectral_summary(model))))
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


def _layer_section(
    layer: LayerWeights, key: str, slot: dict[str, Any], model_found: list[Finding] | None
) -> None:
    """The layer's findings as the model's scan has them (``model_found``; its own checks alone
    while the scan runs), the findings about the whole model first: they are the layer's too."""
    st.markdown(f"**This layer** · {plain(layer.path)}")
    if not layer.weights:
        st.info(f"{plain(layer.class_name)} layers have no weights, so there is nothing to check.")
        return
    if model_found is None:
        findings, whole = layer_findings(layer), []
    else:
        findings = [f for f in model_found if f.layer == layer.path]
        whole = [f for f in model_found if not f.layer]
    if not findings and not whole:
        st.success(
            "No problems found in this layer: no NaN/Inf, no dead or exploding filters or units, "
            "no constant bias, no BatchNorm variance near zero."
        )
    for finding in whole:  # one verdict: this layer is part of the model Health flags
        _SHOW[finding.severity](
            plain(f"As part of the whole model: {finding_detail(finding)}"),
            icon=":material/account_tree:",
        )
    for finding in findings:
        _SHOW[finding.severity](plain(finding_text(finding)))
    _spectrum_section(layer, key, slot)


def _spectrum_section(layer: LayerWeights, key: str, slot: dict[str, Any]) -> None:
    """The selected weight's ESD with WeightWatcher's fit on demand, then its trap check."""
    plans = {w.name: esd_plan(layer, w) for w in layer.weights}
    names = [name for name, plan in plans.items() if plan is not None]
    if not names:
        return
    st.markdown("**Spectrum** (WeightWatcher's ESD, power-law fit and metrics)")
    name = st.selectbox("Weight", names, key=f"{key}-weight")
    plan = plans[name]
    if plan is None:
        return
    if plan.skip is not None:
        st.info(plain(f"No power-law fit for {name}: {plan.skip}."))
        return
    if not st.toggle("Compute the spectrum", key=f"{key}-spectrum"):
        return
    weight = layer.weight(name)
    try:
        with st.spinner("Computing the spectrum..."):
            esd = layer_esd(layer, weight)
    except KerascopeError as exc:
        st.error(error_line("The spectrum could not be computed", exc))
        return
    if esd is None:
        st.info(plain(f"{name} holds NaN or Inf values, so it has no spectrum."))
        return
    fig = spectrum_figure(esd, f"{layer.path} / {name}")
    st.plotly_chart(fig, width="stretch", key=f"{key}-chart")
    who = (
        "WeightWatcher 0.7.7's analysis"
        if esd.plan.scope == "weightwatcher"
        else "An extension (WeightWatcher does not analyse this weight)"
    )
    st.caption(plain(f"{who}: the ESD is {esd.plan.basis}. {_reading(esd.stats.alpha)}"))
    _traps(layer, weight, f"{key}-traps-{layer.path}/{name}", slot)


def _reading(alpha: float) -> str:
    if alpha < OVER_TRAINED_THRESH:
        return (
            "Alpha below 2: a very heavy tail, which WeightWatcher reads as over-trained or "
            "over-fit (on few eigenvalues, or with a failed fit, it says little)."
        )
    if alpha > UNDER_TRAINED_THRESH:
        return (
            "Alpha above 6: close to a random matrix; WeightWatcher reads the layer as having "
            "learned little."
        )
    return "Alpha between 2 and 6: the heavy-tailed spectrum of a well-trained layer."


def _traps(layer: LayerWeights, weight: Weight, key: str, slot: dict[str, Any]) -> None:
    """WeightWatcher's ``randomize`` check, on demand (a button), kept once computed."""
    if key not in slot:
        if not st.button(
            "Check for correlation traps",
            key=key,
            help="Compare the spectrum with that of the same values randomly permuted",
        ):
            return
        try:
            with st.spinner("Permuting the weights and computing both spectra..."):
                slot[key] = correlation_traps(layer, weight)
        except KerascopeError as exc:
            st.error(error_line("The trap check could not read this weight", exc))
            return
    check = slot[key]
    if check is None:
        return
    st.plotly_chart(traps_figure(check, f"{layer.path} / {weight.name}"), key=f"{key}-chart")
    show = st.warning if check.traps else st.success
    largest = ", ".join(f"{list(i)}: {d:.1f} sd" for i, d in check.largest[:3])
    show(plain(f"{check.summary} Values furthest from the mean: {largest}."))
    st.caption(
        "The permuted spectrum should end at the Marchenko-Pastur edge computed from the values' "
        "own variance (dotted); past the dashed line (edge plus the Tracy-Widom 99% margin) an "
        "eigenvalue is a spike. One fixed permutation (seed 0), so the check repeats exactly."
    )
