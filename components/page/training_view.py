"""The Train panel on the page: knobs, progress, curves, the epoch viewer."""

from __future__ import annotations

import time

import numpy as np

from kerascope.extraction.analysis.orientation import orientation_selectivity
from kerascope.extraction.models.training import (
    OPTIMIZERS,
    TASKS,
    EpochLog,
    Knobs,
    Task,
    TrainingRun,
    train,
)

from ..figures.training import curves_figure, epoch_figures

RUN_KEY = "training_run"
EPOCH_KEY = "train_epoch"
PLAY_KEY = "train_playing"
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
        "Train a small CNN on whitened 24x24 colour patches of scikit-learn's two sample photos, "
        "each labelled by its photo and by the way its edges run. Look at conv1 as the epochs "
        "go by: its 7x7 filters start as random speckle and, within a few epochs, become stripes "
        "of light and dark at one angle (oriented edge detectors) and smooth patches of two "
        "opposed colours (colour detectors), the filters the first layer of large image networks "
        "learns too."
    ),
}
DEFAULTS: dict[Task, Knobs] = {
    "digits": Knobs(),
    "photos": Knobs(conv_filters=16, kernel_size=7, epochs=8, task="photos"),
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
    d = DEFAULTS[task]
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
        st.session_state[RUN_KEY] = _train_with_progress(knobs)
        st.session_state[EPOCH_KEY] = st.session_state[RUN_KEY].epochs[-1]
        st.session_state[PLAY_KEY] = False
    run: TrainingRun | None = st.session_state.get(RUN_KEY)
    if run is None:
        st.info("Choose the knobs and press Train (digits: a few seconds; photos: under a minute).")
        return
    _epoch_viewer(run, key)


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
        c1, c2 = st.columns([5, 1])
        epoch = c1.select_slider("Epoch", epochs, key=EPOCH_KEY)
        if c2.button("Pause" if playing else "Play", key=f"{key}-play"):
            playing = not playing
            st.session_state[f"{key}-restart"] = playing and epoch == epochs[-1]
            st.session_state[PLAY_KEY] = playing
            st.rerun(scope="fragment")
        st.plotly_chart(
            curves_figure(run.history, marker=epoch), width="stretch", key=f"{key}-curves"
        )
        paths = [la.path for la in run.structure.weighted_layers()]
        path = st.selectbox("Layer", paths, key=f"{key}-layer")
        view, hist = epoch_figures(run, epoch, path)
        left, right = st.columns([3, 2])
        left.plotly_chart(view, width="stretch", key=f"{key}-view")
        right.plotly_chart(hist, width="stretch", key=f"{key}-hist")
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
