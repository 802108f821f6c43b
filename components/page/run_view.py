"""A run on the page: the snapshot slider (with play) that every view follows, its deep links,
and live follow of a run still being written.

A run is a model-folder entry (``extraction.runs``). ``app.py`` calls ``choose``: for a run the
sidebar gets the slider and every tab shows the chosen snapshot (``Shown.view_ref`` keys their
caches by it); the Layer and Run tabs are ``run_panels``. The URL names the snapshot shown as
the run counts: ``epoch=N`` in a run saved per epoch, ``step=N`` in any other (its snapshots'
numbers: steps, batches, or places of files ordered by time). A run newly opened (by the sidebar
or a link) lands on its newest snapshot unless the link names one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from kerascope.extraction.errors import KerascopeError
from kerascope.extraction.records import ModelWeights
from kerascope.extraction.runs import Run, looks_like_run, open_run, run_token

from .messages import error_line, plain
from .scope import model_key
from .sources import ModelRef

INDEX = "run_index"
"""Name of the slider's key (``model_key(INDEX)``: the run's, as for every name below but
``LINK_APPLIED``, so another run, or this one opened again, starts from its newest): the index
of the snapshot shown."""
NEXT_INDEX = "run_next_index"
"""An index to move the slider to on the next run (play, live follow, deep links, headlines)."""
PLAYING = "run_playing"
SEEN = "run_seen"
"""(run folder, snapshot count) at the last run of the script: to follow the newest."""
LINK_APPLIED = "deep_link_epoch_applied"
LINK_PARAMS = ("epoch", "step")
"""The query parameters that name a snapshot; a run's URL carries the one of its unit."""
FOLLOW_SECONDS = 2.0
PLAY_SECONDS = 1.0

_AXES = {"batch": "batches trained"}
"""X-axis titles that say more than the unit."""


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
    """For a run: the sidebar's snapshot slider, and the snapshot it picks; None for a model.

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
        path = str(ref.source)
    except KerascopeError:
        return None
    try:
        return _open_run(path, ref.token)
    except KerascopeError as exc:
        st.error(error_line(f"Could not open the run {plain(ref.name)}", exc))
        return None


@st.cache_resource(max_entries=16, show_spinner=False)
def _open_run(path: str, token: str) -> Run | None:
    """The run in ``path`` at version ``token``; None for a folder entry that is no run. Kept
    per version, so a slider step does not list the folder again."""
    return open_run(path) if looks_like_run(Path(path)) else None


def unit_noun(run: Run) -> str:
    """What the run counts its snapshots in (``Run.unit``): slider, captions and axes say it."""
    return str(run.unit)


def step_title(run: Run) -> str:
    """What the run's x axes count."""
    return _AXES.get(run.unit, unit_noun(run))


def choose_snapshot(ref: ModelRef, run: Run) -> int:
    """The snapshot slider and play button (in the sidebar); returns the index shown."""
    n = len(run.snapshots)
    _apply_link(run)
    seen = st.session_state.get(model_key(SEEN))
    index = st.session_state.pop(model_key(NEXT_INDEX), st.session_state.get(model_key(INDEX)))
    if seen and seen[0] == run.path and n > seen[1] and index == seen[1] - 1:
        index = n - 1  # the newest was shown: follow the run as it grows
    if not isinstance(index, int) or not 0 <= index < n:
        index = n - 1
    st.session_state[model_key(INDEX)] = index
    st.session_state[model_key(SEEN)] = (run.path, n)
    labels = [s.label for s in run.snapshots]
    index = st.select_slider(
        unit_noun(run).capitalize(),
        options=list(range(n)),
        format_func=labels.__getitem__,
        key=model_key(INDEX),
    )
    playing = bool(st.session_state.get(model_key(PLAYING)))
    if st.button("Pause" if playing else "Play", key="run_play", icon=":material/play_arrow:"):
        playing = not playing
        st.session_state[model_key(PLAYING)] = playing
        if playing and index == n - 1:
            st.session_state[model_key(NEXT_INDEX)] = 0
        st.rerun()
    source = "recorded by WeightRecorder" if run.recorded else "checkpoints"
    st.caption(
        f"Run of {n} snapshots ({source}). Every view shows the chosen {unit_noun(run)}; the "
        "page follows new snapshots."
    )
    for note in run.notes:
        st.caption(plain(note))
    _ticker(run, ref.token, index, playing)
    return int(index)


def move_to(index: int) -> None:
    """Show snapshot ``index`` on the next run of the page; call from a callback."""
    st.session_state[model_key(NEXT_INDEX)] = index


def _apply_link(run: Run) -> None:
    """On a session's first run, move to the snapshot the URL names: ``step=`` (any run's
    numbers), else ``epoch=`` (the last snapshot of that epoch)."""
    if st.session_state.get(LINK_APPLIED):
        return
    st.session_state[LINK_APPLIED] = True
    given = {p: str(st.query_params[p]) for p in LINK_PARAMS if p in st.query_params}
    if not given:
        return
    numbers: dict[str, int] = {}
    for param, value in given.items():
        try:
            numbers[param] = int(value)
        except ValueError:
            st.error(f"The link's {param} {plain(value)} is not a number.")
            return
    try:
        index = run.index_of(numbers.get("epoch", -1), numbers.get("step"))
    except KerascopeError as exc:
        st.error(error_line("The link names a snapshot the run does not have", exc))
        return
    st.session_state[model_key(NEXT_INDEX)] = index
    st.session_state[model_key(SEEN)] = (run.path, len(run.snapshots))


def _ticker(run: Run, token: str, index: int, playing: bool) -> None:
    """Rerun the page when the run folder changes (live follow) or, playing, every second."""

    @st.fragment(run_every=PLAY_SECONDS if playing else FOLLOW_SECONDS)
    def tick() -> None:
        if st.session_state.get(model_key(PLAYING)):
            if index >= len(run.snapshots) - 1:
                st.session_state[model_key(PLAYING)] = False
            else:
                st.session_state[model_key(NEXT_INDEX)] = index + 1
            st.rerun()
        if run_token(Path(run.path)) != token:
            st.rerun()

    tick()


def sync_url(shown: Shown | None) -> None:
    """Make the URL name the snapshot shown, in the run's unit; no snapshot when no run is open."""
    wanted: dict[str, str | None] = dict.fromkeys(LINK_PARAMS)
    if shown is not None:
        param, number = shown.run.snapshots[shown.index].link
        wanted[param] = str(number)
    for key, value in wanted.items():
        if value is None:
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != value:
            st.query_params[key] = value
