"""A run on the page: the epoch slider (with play) that every view follows, the run's views of
the selected layer, the whole-run tab, and live follow of a run still being written.

A run is a model-folder entry (``extraction.runs``). ``app.py`` calls ``choose``: for a run the
sidebar gets the slider and every tab shows the chosen snapshot (``Shown.view_ref`` keys their
caches by it); the Layer tab shows ``render_layer`` and a Run tab ``render_run``. The URL says
``epoch=N`` (and ``step=S`` for a run recorded every N batches).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from kerascope.extraction.analysis.timeline import Timeline, timeline
from kerascope.extraction.errors import KerascopeError
from kerascope.extraction.records import LayerWeights, ModelWeights
from kerascope.extraction.runs import Run, looks_like_run, open_run, run_token

from ..figures import timeline as figures
from ..figures.health import finding_text
from .messages import error_line, plain
from .sources import ModelRef

INDEX = "run_index"
"""Session-state key of the slider: the index of the snapshot shown."""
NEXT_INDEX = "run_next_index"
"""An index to move the slider to on the next run (play, live follow, deep links)."""
PLAYING = "run_playing"
SEEN = "run_seen"
"""(run folder, snapshot count) at the last run of the script: to follow the newest."""
LINK_APPLIED = "deep_link_epoch_applied"
FOLLOW_SECONDS = 2.0
PLAY_SECONDS = 1.0


@dataclass(frozen=True)
class Shown:
    """A run on the page and the snapshot shown now."""

    run: Run
    index: int
    """The snapshot shown, an index into ``run.snapshots``."""
    ref: ModelRef
    """The run as the model folder names it (its token changes when the run does)."""
    model: ModelWeights
    """The snapshot's records, which every view shows."""

    @property
    def view_ref(self) -> ModelRef:
        """``ref`` made distinct per snapshot, so the views' caches key by the epoch shown."""
        name = Path(self.run.snapshots[self.index].source).name
        return ModelRef(self.ref.kind, self.ref.name, f"{self.ref.token}@{name}")


def choose(ref: ModelRef) -> Shown | None:
    """For a run: the sidebar's epoch slider, and the snapshot it picks; None for a model.

    A snapshot that can no longer be read (thinned away while the page ran) is an error box;
    the page stops there and the live follow reruns it with the run as it is now.
    """
    run = open_current(ref)
    if run is None:
        return None
    with st.sidebar:
        index = choose_snapshot(ref, run)
    try:
        model = run.model(index)
    except KerascopeError as exc:
        st.error(error_line(f"Could not read {plain(run.snapshots[index].label)}", exc))
        st.stop()
    return Shown(run, index, ref, model)


def open_current(ref: ModelRef) -> Run | None:
    """The run ``ref`` names, or None when it names no run (an error box if it cannot open)."""
    if ref.kind != "folder":
        return None
    try:
        path = Path(str(ref.source))
    except KerascopeError:
        return None
    if not looks_like_run(path):
        return None
    try:
        return _open_run(str(path), ref.token)
    except KerascopeError as exc:
        st.error(error_line(f"Could not open the run {plain(ref.name)}", exc))
        return None


@st.cache_resource(max_entries=4, show_spinner=False)
def _open_run(path: str, token: str) -> Run:
    return open_run(path)


def step_title(run: Run) -> str:
    """What the run's x axes count."""
    return "batches trained" if run.unit == "batch" else "epoch"


def choose_snapshot(ref: ModelRef, run: Run) -> int:
    """The epoch slider and play button (in the sidebar); returns the index shown."""
    n = len(run.snapshots)
    _apply_link(run)
    seen = st.session_state.get(SEEN)
    index = st.session_state.pop(NEXT_INDEX, st.session_state.get(INDEX))
    if seen and seen[0] == run.path and n > seen[1] and index == seen[1] - 1:
        index = n - 1  # the newest was shown: follow the run as it grows
    if not isinstance(index, int) or not 0 <= index < n:
        index = n - 1
    st.session_state[INDEX] = index
    st.session_state[SEEN] = (run.path, n)
    labels = [s.label for s in run.snapshots]
    index = st.select_slider(
        "Epoch" if run.unit == "epoch" else "Snapshot",
        options=list(range(n)),
        format_func=labels.__getitem__,
        key=INDEX,
    )
    playing = bool(st.session_state.get(PLAYING))
    if st.button("Pause" if playing else "Play", key="run_play", icon=":material/play_arrow:"):
        playing = not playing
        st.session_state[PLAYING] = playing
        if playing and index == n - 1:
            st.session_state[NEXT_INDEX] = 0
        st.rerun()
    st.caption(
        f"Run of {n} snapshots ({'recorded by WeightRecorder' if run.recorded else 'checkpoints'})"
        f". Every view shows the chosen {step_title(run)}; the page follows new snapshots."
    )
    for note in run.notes:
        st.caption(plain(note))
    _ticker(run, ref.token, index, playing)
    return int(index)


def _apply_link(run: Run) -> None:
    """On a session's first run, move to the ``epoch=`` (and ``step=``) of the URL."""
    if st.session_state.get(LINK_APPLIED):
        return
    st.session_state[LINK_APPLIED] = True
    epoch, step = st.query_params.get("epoch"), st.query_params.get("step")
    if epoch is None and step is None:
        return
    try:
        index = run.index_of(int(epoch or -1), int(step) if step is not None else None)
    except ValueError:
        st.error(f"The link's epoch {plain(epoch)} is not a number.")
        return
    except KerascopeError as exc:
        st.error(error_line("The link names an epoch the run does not have", exc))
        return
    st.session_state[NEXT_INDEX] = index
    st.session_state[SEEN] = (run.path, len(run.snapshots))


def _ticker(run: Run, token: str, index: int, playing: bool) -> None:
    """Rerun the page when the run folder changes (live follow) or, playing, every second."""

    @st.fragment(run_every=PLAY_SECONDS if playing else FOLLOW_SECONDS)
    def tick() -> None:
        if st.session_state.get(PLAYING):
            if index >= len(run.snapshots) - 1:
                st.session_state[PLAYING] = False
            else:
                st.session_state[NEXT_INDEX] = index + 1
            st.rerun()
        if run_token(Path(run.path)) != token:
            st.rerun()

    tick()


def sync_url(shown: Shown | None) -> None:
    """Make the URL say the epoch (and step) shown; remove them when no run is open."""
    wanted: dict[str, str | None] = {"epoch": None, "step": None}
    if shown is not None:
        snap = shown.run.snapshots[shown.index]
        wanted["epoch"] = str(snap.epoch)
        wanted["step"] = str(snap.step) if shown.run.unit == "batch" else None
    for key, value in wanted.items():
        if value is None:
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != value:
            st.query_params[key] = value


def run_timeline(ref: ModelRef, run: Run) -> Timeline:
    """The run's timeline, computed once per version of the run (with a progress bar)."""
    held = _timeline_holder(run.path, ref.token)
    if "timeline" not in held:
        bar = st.progress(0.0, text="Reading every snapshot once for its statistics...")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total, text=f"Statistics of snapshot {done} of {total}")

        held["timeline"] = timeline(run, progress)
        bar.empty()
    line: Timeline = held["timeline"]
    return line


@st.cache_resource(max_entries=8, show_spinner=False)
def _timeline_holder(path: str, token: str) -> dict[str, Timeline]:
    return {}


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
    line = run_timeline(ref, run)
    names = [w.name for w in layer.weights if f"{layer.path}/{w.name}" in line.weights]
    if not names:
        st.info("This layer's weights are not in every snapshot of the run.")
        return
    if st.session_state.get("weight") not in names:
        st.session_state["weight"] = names[0]
    name = (
        st.segmented_control("Weight", names, key="weight", required=True, format_func=plain)
        or names[0]
    )
    weight_line = line.weights[f"{layer.path}/{name}"]
    now, change = _weight_figures(ref.token, run.path, index, layer.path, name, run, line)
    left, right = st.columns(2)
    left.plotly_chart(now, width="stretch", key="run-now")
    if change is None:
        right.info("The first snapshot has no change to show: move the slider on.")
    else:
        right.plotly_chart(change, width="stretch", key="run-change")
    steps = [s.step for s in run.snapshots]
    labels = [s.label for s in run.snapshots]
    st.plotly_chart(
        figures.ridgeline_figure(weight_line, steps, labels, index), width="stretch", key="run-hist"
    )
    own = [line.weights[f"{layer.path}/{n}"] for n in names]
    st.plotly_chart(
        figures.multiples_figure(
            own, steps, ["l2", "std", "update_ratio"], marker=index, step_title=step_title(run)
        ),
        width="stretch",
        key="run-multiples",
    )
    st.caption(
        "Update ratio = ||W_t - W_(t-1)|| / ||W_(t-1)|| between snapshots, on a log axis; the "
        "green band (1e-4 to 1e-2, dashed at 1e-3) is the usual healthy range per step, so "
        "ratios per epoch sit higher. Gaps: no ratio (a zero norm before)."
    )
    _health(run, index, layer, line)


@st.cache_resource(max_entries=32, show_spinner=False)
def _weight_figures(
    token: str, path: str, index: int, layer_path: str, name: str, _run: Run, _line: Timeline
) -> tuple[Any, Any]:
    import numpy as np

    layer = _run.model(index).layer(layer_path)
    weight = layer.weight(name)
    key = f"{layer_path}/{name}"
    wl = _line.weights[key]
    values = weight.array()
    common: dict[str, Any] = dict(kind=layer.kind, role=weight.role, name=name)
    label = _run.snapshots[index].label
    now = figures.weight_figure(
        values,
        **common,
        limit=wl.limit(),
        title=f"{key} at {label}",
        subtitle="one colour scale for the whole run",
    )
    if index == 0:
        return now, None
    before = _run.model(index - 1).layer(layer_path).weight(name).array()
    diff = np.asarray(values, dtype=np.float32) - np.asarray(before, dtype=np.float32)
    change = figures.weight_figure(
        diff,
        **common,
        limit=wl.change_limit(),
        title=f"change since {_run.snapshots[index - 1].label}",
        subtitle="W_t - W_(t-1); one colour scale for every change of the run",
    )
    return now, change


def _health(run: Run, index: int, layer: LayerWeights, line: Timeline) -> None:
    st.markdown(f"**Health at {plain(run.snapshots[index].label)}**")
    findings = line.findings_at(index, layer.path)
    if not findings:
        st.success("No problems found in this layer at this snapshot.")
    show = {"error": st.error, "warning": st.warning, "info": st.info}
    for finding in findings:
        show[finding.severity](finding_text(finding))


def render_run(shown: Shown) -> None:
    """The whole run: logs, where NaN/Inf first appear, every weight's timeline, the files."""
    try:
        _render_run(shown)
    except KerascopeError as exc:  # a snapshot damaged or gone since the run was listed
        st.error(error_line("Could not read the run", exc))


def _render_run(shown: Shown) -> None:
    ref, run, index = shown.ref, shown.run, shown.index
    line = run_timeline(ref, run)
    steps = [s.step for s in run.snapshots]
    logs = figures.logs_figure(
        [s.logs for s in run.snapshots], steps, marker=index, step_title=step_title(run)
    )
    if logs is not None:
        st.plotly_chart(logs, width="stretch", key="run-logs")
    bad = line.first_bad()
    if bad is None:
        st.success(f"No NaN or Inf in any weight of the {len(run.snapshots)} snapshots.")
    else:
        at, key = bad
        st.error(
            f"NaN or Inf first appears at {plain(run.snapshots[at].label)}, in {plain(key)}: "
            "training diverged there. Move the slider to it and look at the layer."
        )
    st.plotly_chart(
        figures.health_figure(line.findings, steps, marker=index, step_title=step_title(run)),
        width="stretch",
        key="run-health",
    )
    metric = (
        st.segmented_control(
            "Timeline of",
            list(figures.METRICS),
            key="run_metric",
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
    rows = [
        {"step": s.step, "snapshot": s.label, "file": Path(s.source).name, **dict(s.logs)}
        for s in run.snapshots
    ]
    st.dataframe(rows, hide_index=True, key="run-snapshots")
