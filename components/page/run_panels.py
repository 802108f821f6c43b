"""A run's panels: the Layer tab over the run and the whole-run tab.

A run opens at once: the Layer tab draws the snapshot shown (the weight now and its change,
its health) from that snapshot alone, while a background job (``run_job``) reads every snapshot
for the timelines; a progress line stands where the histograms over time and the timelines go,
and the page redraws itself when they are ready (then on the run's one colour scale). Coming
back to a run, or a second visitor, finds the job done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from kerascope.extraction.analysis.diagnostics import SEVERITY_ORDER, Finding, layer_findings
from kerascope.extraction.analysis.timeline import Timeline
from kerascope.extraction.errors import KerascopeError
from kerascope.extraction.records import LayerWeights
from kerascope.extraction.runs import Run

from ..figures import timeline as figures
from ..figures.health import finding_text
from ..figures.heatmaps import column_width
from .messages import error_line, plain
from .navigation import open_layer, weight_key
from .run_job import TimelineJob, TimelineJobs
from .run_view import Shown, move_to, step_title
from .scope import model_key

JOBS = TimelineJobs()
"""The timeline jobs of every session (one per version of a run)."""
HALF = column_width(1 / 2, 2)
"""Width hint of the snapshot and change figures, side by side."""
SETTLE_S = 0.3
"""A job that ends within this (a run whose snapshots are cached) is drawn at once."""
POLL_S = 1.0


def settled_job(shown: Shown) -> TimelineJob:
    """The run's timeline job, given a moment to end (a run whose snapshots are cached)."""
    job = JOBS.get(shown.run, shown.ref.token)
    if not job.finished:
        job.wait(SETTLE_S)
    return job


def pending(job: TimelineJob, what: str) -> None:
    """In place of what needs the timeline: the job's error, or a progress line that redraws
    the page once the timeline is ready."""
    if job.error is not None:
        st.error(error_line("Could not read every snapshot of the run", RuntimeError(job.error)))
    else:
        _filling(job, what)


@st.fragment(run_every=POLL_S)
def _filling(job: TimelineJob, what: str) -> None:
    """The job's progress, redrawn every second; the whole page reruns when it ends."""
    if job.finished:
        st.rerun()
    st.progress(
        job.fraction,
        text=f"Reading the run's {job.total} snapshots for {what}: {job.done} of {job.total} "
        "read. The rest of the page works meanwhile.",
    )


def render_layer(shown: Shown, layer: LayerWeights) -> None:
    """The selected layer over the run: the weight now and its change, histograms over time,
    its timelines, and its health at this snapshot."""
    try:
        _render_layer(shown, layer)
    except KerascopeError as exc:  # a snapshot damaged or gone since the run was listed
        st.error(error_line("Could not read the run", exc))


def _render_layer(shown: Shown, layer: LayerWeights) -> None:
    ref, run, index = shown.ref, shown.run, shown.index
    snap = run.snapshots[index]
    st.subheader(plain(f"{layer.path} · {layer.class_name} · {snap.label}"), anchor=False)
    if not layer.weights:
        st.info(f"{plain(layer.class_name)} layers have no weights: pick a layer with parameters.")
        return
    job = settled_job(shown)
    line = job.result
    names = [w.name for w in layer.weights]
    if line is not None:
        names = [n for n in names if f"{layer.path}/{n}" in line.weights]
    if not names:
        st.info("This layer's weights are not in every snapshot of the run.")
        return
    picked = weight_key(layer.path)
    if st.session_state.get(picked) not in names:
        st.session_state[picked] = names[0]
    name = (
        st.segmented_control("Weight", names, key=picked, required=True, format_func=plain)
        or names[0]
    )
    limits = None
    if line is not None:
        weight_line = line.weights[f"{layer.path}/{name}"]
        limits = (weight_line.limit(), weight_line.change_limit())
    now, change = _weight_figures(ref.token, run.path, index, layer.path, name, limits, run)
    left, right = st.columns(2)
    left.plotly_chart(now, width="stretch", key="run-now")
    if change is None:
        right.info("The first snapshot has no change to show: move the slider on.")
    else:
        right.plotly_chart(change, width="stretch", key="run-change")
    own_checks = _findings_now(ref.token, index, layer.path, layer)
    if line is None:
        pending(job, "the histograms over time and the timelines")
        _health(run, index, own_checks)
        return
    steps = [s.step for s in run.snapshots]
    labels = [s.label for s in run.snapshots]
    st.plotly_chart(
        figures.ridgeline_figure(line.weights[f"{layer.path}/{name}"], steps, labels, index),
        width="stretch",
        key="run-hist",
    )
    own = [line.weights[f"{layer.path}/{n}"] for n in names]
    st.plotly_chart(
        figures.multiples_figure(
            own,
            steps,
            _metrics(line, ["l2", "std", "update_ratio"]),
            marker=index,
            step_title=step_title(run),
        ),
        width="stretch",
        key="run-multiples",
    )
    st.caption(
        "Update ratio = ||W_t - W_(t-1)|| / ||W_(t-1)|| between snapshots, on a log axis; the "
        "green band (1e-4 to 1e-2, dashed at 1e-3) is the usual healthy range per step, so "
        "ratios per epoch sit higher. Gaps: no ratio (a zero norm before). NaN and Inf are "
        "marked in their heatmap colours (NaN yellow, +Inf black, -Inf purple) where a line "
        "breaks."
    )
    _health(run, index, _merged(line.findings_at(index, layer.path), own_checks))


@st.cache_resource(max_entries=32, show_spinner=False)
def _weight_figures(
    token: str,
    path: str,
    index: int,
    layer_path: str,
    name: str,
    limits: tuple[float, float] | None,
    _run: Run,
) -> tuple[Any, Any]:
    """The weight at snapshot ``index`` and its change since the one before; on the run's
    colour scales (``limits``) once the timeline is read, else on this snapshot's own."""
    layer = _run.model(index).layer(layer_path)
    weight = layer.weight(name)
    values = weight.array()
    common: dict[str, Any] = dict(kind=layer.kind, role=weight.role, name=name)
    label = _run.snapshots[index].label
    scale = "one colour scale for the whole run" if limits else "this snapshot's colour scale"
    now = figures.weight_figure(
        values,
        **common,
        limit=limits[0] if limits else _largest(values),
        title=f"{layer_path}/{name} at {label}",
        subtitle=scale,
        width_hint=HALF,
    )
    if index == 0:
        return now, None
    before = _run.model(index - 1).layer(layer_path).weight(name).array()
    diff = np.asarray(values, dtype=np.float32) - np.asarray(before, dtype=np.float32)
    change = figures.weight_figure(
        diff,
        **common,
        limit=limits[1] if limits else _largest(diff),
        title=f"change since {_run.snapshots[index - 1].label}",
        subtitle="W_t - W_(t-1); "
        + ("one colour scale for every change of the run" if limits else "this change's scale"),
        width_hint=HALF,
    )
    return now, change


def _largest(values: Any) -> float:
    """The largest finite ``|v|`` (1.0 when there is none, or it is 0)."""
    a = np.abs(np.asarray(values, dtype=np.float64))
    finite = a[np.isfinite(a)]
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


@st.cache_resource(max_entries=64, show_spinner=False)
def _findings_now(token: str, index: int, layer_path: str, _layer: LayerWeights) -> list[Finding]:
    """The per-weight checks of one layer at one snapshot (dead units, constant biases ...:
    the run's first pass keeps only NaN/Inf and exploding units)."""
    return layer_findings(_layer)


def _merged(run_checks: list[Finding], own: list[Finding]) -> list[Finding]:
    """The first pass's findings (with the run's context: scale against the initializer and
    the run's history) and the layer's own checks, each (weight, check) once, most severe
    first."""
    seen = {(f.weight, f.check) for f in run_checks}
    found = [*run_checks, *(f for f in own if (f.weight, f.check) not in seen)]
    return sorted(found, key=lambda f: SEVERITY_ORDER[f.severity])


def _metrics(line: Timeline, metrics: list[str]) -> list[str]:
    """``metrics``, with the gradient RMS when the run's snapshots keep optimizer state."""
    shown = [m for m in metrics if m != "grad_rms"]
    return [*shown, "grad_rms"] if line.has_gradients else shown


def _health(run: Run, index: int, findings: list[Finding]) -> None:
    st.markdown(f"**Health at {plain(run.snapshots[index].label)}**")
    if not findings:
        st.success("No problems found in this layer at this snapshot.")
    show = {"error": st.error, "warning": st.warning, "info": st.info}
    for finding in findings:
        show[finding.severity](finding_text(finding))


def render_run(shown: Shown) -> None:
    """The whole run: logs, what went wrong first, health over time, every weight's timeline,
    the files."""
    try:
        _render_run(shown)
    except KerascopeError as exc:  # a snapshot damaged or gone since the run was listed
        st.error(error_line("Could not read the run", exc))


def _render_run(shown: Shown) -> None:
    run, index = shown.run, shown.index
    steps = [s.step for s in run.snapshots]
    logs = figures.logs_figure(
        [s.logs for s in run.snapshots], steps, marker=index, step_title=step_title(run)
    )
    if logs is not None:
        st.plotly_chart(logs, width="stretch", key="run-logs")
    job = settled_job(shown)
    if job.result is None:
        pending(job, "what went wrong first, health over time and every timeline")
    else:
        _whole_run(shown, job.result)
    rows = [
        {"step": s.step, "snapshot": s.label, "file": Path(s.source).name, **dict(s.logs)}
        for s in run.snapshots
    ]
    st.dataframe(rows, hide_index=True, key="run-snapshots")


NAMED_NAN = 4
"""Weights named in the first-NaN headline; more are counted."""


def _headline(run: Run, line: Timeline) -> None:
    """What went wrong first (the earliest error finding, the weight that moved most then),
    then where NaN/Inf first appear; each with a button to that layer at that snapshot."""
    anomaly, nan = line.events.first_anomaly, line.events.first_nan
    for note in line.notes:
        st.warning(plain(note))
    if anomaly is None and nan is None:
        st.success(
            f"Nothing went wrong in the {len(run.snapshots)} snapshots: no error finding and no "
            "NaN or Inf in any weight."
        )
        return
    if anomaly is not None:
        where = f"{anomaly.layer}/{anomaly.weight}"
        ratio = (
            f" (update ratio {anomaly.update_ratio:.3g})"
            if anomaly.update_ratio is not None
            else ""
        )
        st.error(
            f"**First anomaly at {plain(anomaly.label)}: {plain(where)}**, the weight that moved "
            f"most then{ratio}. {plain(anomaly.message)}",
            icon=":material/crisis_alert:",
        )
        _go_button(anomaly.index, anomaly.layer, anomaly.weight, anomaly.label, "run-go-anomaly")
    if nan is not None:
        names = [f"{w.layer}/{w.weight} ({w.count:,})" for w in nan.weights]
        listed = ", ".join(names[:NAMED_NAN])
        if len(names) > NAMED_NAN:
            listed += f" and {len(names) - NAMED_NAN} more"
        if len(names) == len(line.weights) and len(names) > 1:
            which = f"every weight at once ({len(names)})"
        else:
            which = f"{len(names)} weight{'s' if len(names) > 1 else ''}"
        after = anomaly is not None and anomaly.index < nan.index
        st.error(
            f"**NaN or Inf first appear at {plain(nan.label)}**, in {which}: {plain(listed)} "
            "values. Training diverged there"
            + ("; the first anomaly above came before it." if after else "."),
            icon=":material/error:",
        )
        culprit = nan.weights[0]
        for w in nan.weights:  # the anomaly's weight, when it is among them
            if anomaly is not None and (w.layer, w.weight) == (anomaly.layer, anomaly.weight):
                culprit = w
        _go_button(nan.index, culprit.layer, culprit.weight, nan.label, "run-go-nan")


def _go_button(index: int, layer: str, weight: str, label: str, key: str) -> None:
    st.button(
        plain(f"Open {layer}/{weight} at {label}"),
        key=key,
        icon=":material/arrow_forward:",
        on_click=_go,
        args=(index, layer, weight),
    )


def _go(index: int, layer: str, weight: str) -> None:
    """Show ``layer``'s ``weight`` at snapshot ``index`` in the Layer tab (a callback)."""
    move_to(index)
    open_layer(layer, weight)


def _whole_run(shown: Shown, line: Timeline) -> None:
    run, index = shown.run, shown.index
    steps = [s.step for s in run.snapshots]
    _headline(run, line)
    st.plotly_chart(
        figures.health_figure(line.findings, steps, marker=index, step_title=step_title(run)),
        width="stretch",
        key="run-health",
    )
    metric = (
        st.segmented_control(
            "Timeline of",
            _metrics(line, list(figures.METRICS)),
            key=model_key("run_metric"),
            default="update_ratio",
            required=True,
            format_func=figures.METRICS.__getitem__,
        )
        or "update_ratio"
    )
    st.plotly_chart(
        figures.multiples_figure(
            list(line.weights.values()),
            steps,
            [metric],
            marker=index,
            step_title=step_title(run),
        ),
        width="stretch",
        key="run-all",
    )
    if len(line.weights) > figures.MAX_PANELS:
        st.caption(f"The first {figures.MAX_PANELS} of {len(line.weights)} weights.")
