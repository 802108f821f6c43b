"""The open model's background check: every weight's statistics, then the health scan, then
WeightWatcher's spectra, once per opened model and shared by every session; the one verdict the
table, the overview, the graph and Health all show.

A page that needs the check never waits for it: it draws what is known at once and redraws
every second (``live``) until the job is done, then reruns whole. The statistics of a big
model-folder file are kept in the cache folder, so its next open starts from them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from kerascope.extraction.analysis.diagnostics import Finding
from kerascope.extraction.analysis.health import (
    Verdict,
    layer_verdicts,
    ranked,
    spectral_findings,
)
from kerascope.extraction.analysis.stats_job import StatsJob
from kerascope.extraction.records import ModelWeights
from kerascope.extraction.runs import looks_like_run

from ..figures.health import finding_detail
from .messages import plain
from .sources import ModelRef

REFRESH_S = 1.0
"""How often a page waiting for the check redraws what is known."""
SETTLE_S = 0.3
"""A check that finishes within this is drawn at once, without a partial view first."""
_SHOW = {"error": st.error, "warning": st.warning, "info": st.info}


def job(ref: ModelRef, model: ModelWeights) -> StatsJob:
    """The check of ``model`` (opened from ``ref``), started on first use."""
    return _job(_key(ref), id(model), ref, model)


@st.cache_resource(max_entries=8, show_spinner=False)
def _job(key: str, model_id: int, _ref: ModelRef, _model: ModelWeights) -> StatsJob:
    # Keyed by the records too: a model dropped from the cache and opened again is new records.
    return StatsJob(_model, _source_path(_ref), health=True).start()


def findings(ref: ModelRef, model: ModelWeights) -> list[Finding] | None:
    """The model's health findings, most severe first, with WeightWatcher's notes of the
    spectra computed so far; None while the scan runs or when it could not read the model
    (``job(...).error`` says why)."""
    found = job(ref, model).findings
    if found is None or any(f.check == "untrained" for f in found):
        return found  # an untrained model's spectra would only repeat it
    spectral, _ = spectral_findings(model, compute_up_to=0)  # only those already computed
    return ranked(model, found + spectral)


def verdicts(ref: ModelRef, model: ModelWeights) -> dict[str, Verdict] | None:
    """Every layer's verdict (``health.layer_verdicts``); None until the scan is done."""
    found = findings(ref, model)
    return None if found is None else layer_verdicts(model, found)


def progress_text(check: StatsJob) -> str:
    """``Statistics 12/32: block3_conv1/kernel`` or ``Checking health: ...`` (file text as text)."""
    what = "Statistics" if not check.stats_finished else "Checking health"
    return f"{what} {check.done}/{check.total}: {plain(check.current)}"


def live(ref: ModelRef, model: ModelWeights, draw: Callable[[StatsJob], object]) -> None:
    """``draw(job)`` now, and again every ``REFRESH_S`` with a progress bar above it until the
    statistics and the health scan are done (``StatsJob.checked``); then the whole page reruns,
    so views draw their final form (spectra of big weights may still be computing)."""
    check = job(ref, model)
    if check.wait_checked(SETTLE_S):  # a small model is done by now: no partial view
        draw(check)
        return

    @st.fragment(run_every=REFRESH_S)
    def running() -> None:
        if check.checked:
            st.rerun()
        st.progress(check.fraction, text=progress_text(check))
        draw(check)

    running()


def whole_model_banner(found: list[Finding]) -> None:
    """The findings about the whole model (``untrained``), each one line in its colour."""
    for finding in found:
        if not finding.layer:
            _SHOW[finding.severity](plain(f"Whole model: {finding_detail(finding)}"))


def _source_path(ref: ModelRef) -> Path | None:
    """The file or folder behind a model-folder reference (its statistics may be kept); None
    for a run, whose folder stands for many snapshots (each is kept by its own file when
    opened)."""
    if ref.kind != "folder":
        return None
    try:
        source = ref.source
    except Exception:  # noqa: BLE001 - a vanished file: nothing to keep
        return None
    if not source or looks_like_run(Path(source)):
        return None
    return Path(source)


def _key(ref: ModelRef) -> str:
    return f"{ref.kind}|{ref.name}|{ref.token}"
