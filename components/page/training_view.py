"""The Train panel on the page: knobs, progress, curves, the epoch viewer."""

from __future__ import annotations

import time

from extraction.models.training import OPTIMIZERS, EpochLog, Knobs, TrainingRun, train

from ..figures.training import curves_figure, epoch_figures

RUN_KEY = "training_run"
EPOCH_KEY = "train_epoch"
PLAY_KEY = "train_playing"
RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
PLAY_SECONDS = 0.7


def render(*, key: str = "train") -> None:
    """The whole Train panel."""
    import streamlit as st

    st.markdown(
        "Train a small CNN on scikit-learn's 8x8 digits and watch its filters go from random "
        "noise to stroke and edge detectors."
    )
    with st.form(f"{key}-form"):
        c1, c2, c3, c4 = st.columns(4)
        filters_n = c1.slider("Conv filters", 1, 32, 8, key=f"{key}-filters")
        kernel = c1.select_slider("Kernel size", [1, 3, 5, 7], 3, key=f"{key}-kernel")
        depth = c2.slider("Conv layers", 1, 3, 1, key=f"{key}-depth")
        units = c2.slider("Dense units", 4, 128, 32, key=f"{key}-units")
        epochs = c3.slider("Epochs", 1, 40, 10, key=f"{key}-epochs")
        rate = c3.select_slider("Learning rate", RATES, 3e-3, key=f"{key}-rate")
        optimizer = c4.selectbox("Optimizer", OPTIMIZERS, key=f"{key}-optimizer")
        seed = c4.number_input("Seed", 0, 9999, 7, key=f"{key}-seed")
        submitted = st.form_submit_button("Train", type="primary")
    if submitted:
        knobs = Knobs(filters_n, kernel, depth, units, epochs, float(rate), optimizer, int(seed))
        st.session_state[RUN_KEY] = _train_with_progress(knobs)
        st.session_state[EPOCH_KEY] = st.session_state[RUN_KEY].epochs[-1]
        st.session_state[PLAY_KEY] = False
    run: TrainingRun | None = st.session_state.get(RUN_KEY)
    if run is None:
        st.info("Choose the knobs and press Train (10 epochs take a few seconds).")
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
            f"Kept epochs: {len(epochs)} ({run.nbytes / 1e6:.2f} MB of snapshots). One colour "
            "scale for the whole run: deeper colour = a stronger weight."
        )
        if playing:
            if epoch == epochs[-1]:
                st.session_state[PLAY_KEY] = False
            else:
                time.sleep(PLAY_SECONDS)
            st.rerun(scope="fragment")

    viewer()
