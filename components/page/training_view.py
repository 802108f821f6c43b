"""The Train panel on the page: knobs, progress, curves, the epoch viewer."""

from __future__ import annotations

import time

import numpy as np

from kerascope.extraction.analysis.orientation import orientation_selectivity
from kerascope.extraction.errors import KerascopeError
from kerascope.extraction.models.saved_runs import SavedRun, list_runs, load_run, save_run
from kerascope.extraction.models.training import (
    OPTIMIZERS,
    TASKS,
    EpochLog,
    Knobs,
    Task,
    TrainingRun,
    default_knobs,
    train,
)

from ..figures.training import chance_sentence, curves_figure, epoch_figures, gap_sentence
from .messages import plain

RUN_KEY = "training_run"
EPOCH_KEY = "train_epoch"
PLAY_KEY = "train_playing"
SAVED_KEY = "train_saved"
"""Session key of the id of the saved run shown (the picker of earlier runs)."""
RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
PLAY_SECONDS = 0.7


TASK_LABELS: dict[Task, str] = {
    "digits": "8x8 handwritten digits",
    "photos": "colour patches of two photos (edges)",
}
WHAT_TO_LOOK_FOR: dict[Task, str] = {
    "digits": (
        "Train a small CNN on scikit-learn's 8x8 digits and watch its filters go from random "
        "noise to stroke and edge detectors."
    ),
    "photos": (
        "Train a small CNN on whitened 24x24 colour patches of scikit-learn's two sample photos "
        "whose edges clearly run one way, each labelled by its photo and by that way (8 labels; "
        "held-out patches come from parts of the photos it never trains on). Look at conv1 as "
        "the epochs "
        "go by: its 7x7 filters start as random speckle and, within a few epochs, become stripes "
        "of light and dark at one angle (oriented edge detectors) and smooth patches of two "
        "opposed colours (colour detectors), the filters the first layer of large image networks "
        "learns too."
    ),
}


def render(*, key: str = "train") -> None:
    """The whole Train panel."""
    import streamlit as st

    task: Task = (
        st.segmented_control(
            "Learn from",
            TASKS,
            default="digits",
            required=True,
            format_func=TASK_LABELS.__getitem__,
            key=f"{key}-task",
        )
        or "digits"
    )
    st.markdown(WHAT_TO_LOOK_FOR[task])
    d = default_knobs(task)
    with st.form(f"{key}-form"):
        c1, c2, c3, c4 = st.columns(4)
        k = key if task == "digits" else f"{key}-{task}"  # digits keep their first keys
        filters_n = c1.slider("Conv filters", 1, 32, d.conv_filters, key=f"{k}-filters")
        kernel = c1.select_slider("Kernel size", [1, 3, 5, 7], d.kernel_size, key=f"{k}-kernel")
        depth = c2.slider("Conv layers", 1, 3, d.depth, key=f"{k}-depth")
        units = c2.slider("Dense units", 4, 128, d.dense_units, key=f"{k}-units")
        epochs = c3.slider("Epochs", 1, 40, d.epochs, key=f"{k}-epochs")
        rate = c3.select_slider("Learning rate", RATES, d.learning_rate, key=f"{k}-rate")
        optimizer = c4.selectbox("Optimizer", OPTIMIZERS, key=f"{k}-optimizer")
        seed = c4.number_input("Seed", 0, 9999, d.seed, key=f"{k}-seed")
        submitted = st.form_submit_button("Train", type="primary")
    if submitted:
        knobs = Knobs(
            filters_n, kernel, depth, units, epochs, float(rate), optimizer, int(seed), task
        )
        trained = _train_with_progress(knobs)
        _show(trained)
        try:
            st.session_state[SAVED_KEY] = save_run(trained).id
        except OSError as exc:  # a read-only cache folder: the run still shows, unsaved
            st.caption(f"This run could not be kept for later: {plain(exc)}.")
    saved = list_runs()
    if st.session_state.get(RUN_KEY) is None and saved:
        _reopen(saved[0].id)  # after a reload: the newest run kept on this server
    _earlier_runs(saved, key)
    run: TrainingRun | None = st.session_state.get(RUN_KEY)
    if run is None:
        st.info(f"Choose the knobs and press Train ({TIMINGS}).")
        return
    _epoch_viewer(run, key)


TIMINGS = "digits: 5 to 15 seconds, photos: 15 to 45 seconds, on two busy cores"
"""What a run takes (``benchmarks/bench_train.py``: 6 s and 13 s at load 8; about twice that
at load 12 to 20, as a class's server may be)."""


def _show(run: TrainingRun) -> None:
    import streamlit as st

    st.session_state[RUN_KEY] = run
    st.session_state[EPOCH_KEY] = run.epochs[-1]
    st.session_state[PLAY_KEY] = False


def _reopen(run_id: str) -> bool:
    """Show the saved run ``run_id``; False (and a neutral line) when it cannot be read."""
    import streamlit as st

    try:
        run = load_run(run_id)
    except KerascopeError as exc:
        st.caption(f"A kept run could not be read: {plain(exc)}.")
        return False
    _show(run)
    st.session_state[SAVED_KEY] = run_id
    return True


def _earlier_runs(saved: list[SavedRun], key: str) -> None:
    """A picker of the runs kept in the cache folder, newest first (the open one selected)."""
    import streamlit as st

    if not saved:
        return
    ids = [r.id for r in saved]
    by_id = {r.id: r for r in saved}
    picker = f"{key}-saved"
    if st.session_state.get(picker) != st.session_state.get(SAVED_KEY):
        shown = st.session_state.get(SAVED_KEY)
        st.session_state[picker] = shown if shown in ids else None

    def label(run_id: str) -> str:
        return saved_label(by_id[run_id])

    def changed() -> None:
        chosen = st.session_state.get(picker)
        if chosen:
            _reopen(str(chosen))

    st.selectbox(
        f"Runs kept on this server ({len(saved)}, newest first; they reopen after a reload)",
        ids,
        format_func=label,
        key=picker,
        index=None,
        placeholder="a run trained here",
        on_change=changed,
    )


def saved_label(run: SavedRun) -> str:
    """``photos · 16 filters 7x7 · 8 epochs · held-out 88.4% · 14:03:12, 3 Dec``."""
    k = run.knobs
    when = time.strftime("%H:%M:%S, %d %b", time.localtime(run.saved))
    return (
        f"{k.task} · {k.conv_filters} filters {k.kernel_size}x{k.kernel_size} · "
        f"{k.epochs} epochs · held-out {run.final.val_accuracy:.1%} · {when}"
    )


def _train_with_progress(knobs: Knobs) -> TrainingRun:
    import streamlit as st

    bar = st.progress(0.0, text="Starting...")
    chart = st.empty()
    seen: list[EpochLog] = []

    def on_epoch(log: EpochLog, total: int) -> None:
        seen.append(log)
        text = f"epoch {log.epoch}/{total}: loss {log.loss:.3f}, accuracy {log.accuracy:.1%}"
        bar.progress(log.epoch / total, text=text)
        chart.plotly_chart(curves_figure(seen), width="stretch", key=f"train-live-{log.epoch}")

    run = train(knobs, on_epoch=on_epoch)
    bar.empty()
    chart.empty()
    return run


def _epoch_viewer(run: TrainingRun, key: str) -> None:
    import streamlit as st

    @st.fragment
    def viewer() -> None:
        epochs = run.epochs
        if st.session_state.get(EPOCH_KEY) not in epochs:
            st.session_state[EPOCH_KEY] = epochs[-1]
        playing = bool(st.session_state.get(PLAY_KEY))
        if st.session_state.pop(f"{key}-restart", False):
            st.session_state[EPOCH_KEY] = epochs[0]
        elif playing:
            now = epochs.index(st.session_state[EPOCH_KEY])
            st.session_state[EPOCH_KEY] = epochs[min(now + 1, len(epochs) - 1)]
        c1, c2, c3 = st.columns([5, 1, 2], vertical_alignment="bottom")
        epoch = c1.select_slider("Epoch", epochs, key=EPOCH_KEY)
        paths = [la.path for la in run.structure.weighted_layers()]
        path = c3.selectbox("Layer", paths, key=f"{key}-layer")
        if c2.button("Pause" if playing else "Play", key=f"{key}-play"):
            playing = not playing
            st.session_state[f"{key}-restart"] = playing and epoch == epochs[-1]
            st.session_state[PLAY_KEY] = playing
            st.rerun(scope="fragment")
        st.markdown(f"{chance_sentence(run)}  \n{gap_sentence(run, epoch)}")
        view, hist = epoch_figures(run, epoch, path)
        st.plotly_chart(view, width="stretch", key=f"{key}-view")
        st.caption(
            f"Kept epochs: {len(epochs)} ({run.nbytes / 1e6:.2f} MB of snapshots). "
            + (
                "Colour filters: a pixel's colour is its red, green and blue weights (grey = 0)."
                if run.knobs.task == "photos" and path == "conv1"
                else "One colour scale for the whole run: deeper colour = a stronger weight."
            )
        )
        if run.knobs.task == "photos" and path == "conv1":
            st.caption(_selectivity_line(run, epoch))
        left, right = st.columns([3, 2])
        left.plotly_chart(
            curves_figure(run.history, marker=epoch), width="stretch", key=f"{key}-curves"
        )
        right.plotly_chart(hist, width="stretch", key=f"{key}-hist")
        if playing:
            if epoch == epochs[-1]:
                st.session_state[PLAY_KEY] = False
            else:
                time.sleep(PLAY_SECONDS)
            st.rerun(scope="fragment")

    viewer()


def _selectivity_line(run: TrainingRun, epoch: int) -> str:
    """How oriented conv1's filters are, before training and at ``epoch``."""
    start, now = (
        float(np.median(orientation_selectivity(run.snapshots[e][("conv1", "kernel")])))
        for e in (run.epochs[0], epoch)
    )
    return (
        f"Orientation selectivity of conv1's filters (median; 1 = all of a filter's energy "
        f"at one angle, random noise about 0.1): {start:.2f} before training, {now:.2f} at "
        f"epoch {epoch}."
    )
