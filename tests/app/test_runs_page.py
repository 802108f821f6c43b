"""A run on the page (AppTest): deep link with an epoch, the slider moves every view and the
URL, the snapshot shown first and the timelines filled after, a run opened after another lands
on its newest snapshot, the Run tab finds where NaN first appears, the other tabs show the chosen
snapshot."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from _page_state import state_key
from keras import layers
from streamlit.testing.v1 import AppTest

from benchmarks.step_run import Plant, copy_steps

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180
EPOCHS = 4
STEPS = 60


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder holding ``ckpt``: four .keras checkpoints, NaN planted in the last."""
    folder = tmp_path_factory.mktemp("models")
    (folder / "ckpt").mkdir()
    keras.utils.set_random_seed(2)
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(4, 3, name="conv")(inputs)
    x = layers.Flatten()(x)
    model = keras.Model(inputs, layers.Dense(3, name="out")(x), name="tiny_cnn")
    for epoch in range(1, EPOCHS + 1):
        kernel = model.get_layer("conv").kernel
        grown = kernel.numpy() * 1.5
        if epoch == EPOCHS:
            grown[0, 0, 0, 1] = np.nan
        kernel.assign(grown)
        model.save(folder / "ckpt" / f"model-{epoch:02d}.keras")
    # A run recorded every 3 batches (4 batches an epoch): steps 0, 3, 6, 8 (the end).
    from kerascope.extraction import WeightRecorder

    model.compile("sgd", "mse")
    x = np.random.default_rng(0).normal(size=(32, 8, 8, 1)).astype("float32")
    y = np.zeros((32, 3), "float32")
    # A fresh start at the initializer's scale (a constant kernel is 100x too small: an error).
    start = np.random.default_rng(1).uniform(-0.35, 0.35, (3, 3, 1, 4)).astype("float32")
    model.get_layer("conv").kernel.assign(start)
    model.fit(
        x, y, epochs=2, batch_size=8, verbose=0, callbacks=[WeightRecorder(folder / "rec", every=3)]
    )
    # Saved every batch by a plain callback: conv_b blows up at step 30, everything NaN at 40.
    copy_steps(folder / "steps", STEPS, Plant(blowup_step=30, nan_step=40, nan_everywhere=True))
    return folder


def app(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def filled(at: AppTest, timeout: float = 120) -> AppTest:
    """Rerun until the run's timelines have been read (no progress line left)."""
    deadline = time.monotonic() + timeout
    while at.get("progress"):
        assert time.monotonic() < deadline, "the run's timelines were not read in time"
        time.sleep(0.3)
        at.run()
    return at


def alerts(elements: object) -> list[str]:
    """Alert texts as the page shows them (Markdown escapes removed)."""
    return [re.sub(r"\\(.)", r"\1", e.value) for e in elements]  # type: ignore[attr-defined]


def charts(at: AppTest) -> list[dict[str, object]]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def titles(at: AppTest) -> list[str]:
    out = []
    for spec in charts(at):
        title = spec.get("layout", {}).get("title", {})  # type: ignore[union-attr]
        out.append(title.get("text", "") if isinstance(title, dict) else "")
    return out


@pytest.mark.slow
def test_a_run_opens_at_the_linked_epoch_and_the_slider_moves_every_view(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(run_dir))
    at = app({"model": "ckpt", "layer": "conv", "epoch": "2"})
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert "ckpt" in at.selectbox(key="folder_name").options
    assert at.session_state[state_key(at, "run_index")] == 1
    assert at.query_params["epoch"] == "2" and at.query_params["layer"] == "conv"
    assert "conv/kernel at epoch 2" in titles(at)
    assert "change since epoch 1" in titles(at)
    filled(at)
    assert any("histograms over time" in t for t in titles(at))
    now = charts(at)[0]
    assert "one colour scale for the whole run" in str(now["layout"])
    zmax = now["data"][0]["zmax"]  # type: ignore[index]
    at.select_slider(key=state_key(at, "run_index")).set_value(2).run()
    assert not at.exception
    assert at.query_params["epoch"] == "3"
    assert "conv/kernel at epoch 3" in titles(at)
    assert charts(at)[0]["data"][0]["zmax"] == zmax  # type: ignore[index]  # one run scale
    # The other tabs show the chosen snapshot too.
    at.session_state["main_tab"] = "All layers"
    at.run()
    assert not at.exception
    (table,) = [d for d in at.dataframe if "path" in d.value.columns]
    assert "conv" in list(table.value["path"])


@pytest.mark.slow
def test_the_run_tab_finds_where_nan_first_appears(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(run_dir))
    at = app({"model": "ckpt", "layer": "conv"})
    assert (
        at.session_state[state_key(at, "run_index")] == EPOCHS - 1
    )  # no epoch in the link: the newest
    assert at.query_params["epoch"] == str(EPOCHS)
    at.session_state["main_tab"] = "Run over time"
    filled(at.run())
    assert not at.exception, [e.value for e in at.exception]
    nan = [e for e in alerts(at.error) if "NaN or Inf first appear" in e]
    assert nan and nan[0].startswith(f"**NaN or Inf first appear at epoch {EPOCHS}**, in 1 weight")
    assert "conv/kernel (1)" in nan[0]
    assert any("update ratio" in str(spec) for spec in charts(at))


def test_a_link_to_an_epoch_the_run_lacks_is_an_error_box(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(run_dir))
    at = app({"model": "ckpt", "epoch": "9"})
    assert not at.exception
    assert any("no snapshot at epoch 9" in e.value for e in at.error)
    assert at.query_params["epoch"] == str(EPOCHS)  # the URL says what is shown


def test_a_run_recorded_by_batches_links_its_step(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(run_dir))
    at = app({"model": "rec", "layer": "conv", "epoch": "1"})  # an epoch: its last snapshot
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.session_state[state_key(at, "run_index")] == 1  # the last snapshot of epoch 1: step 3
    assert at.query_params["step"] == "3" and "epoch" not in at.query_params
    assert "conv/kernel at epoch 1, step 3" in titles(at)
    at = app({"model": "rec", "layer": "conv", "step": "6"})
    assert at.session_state[state_key(at, "run_index")] == 2
    assert at.query_params["step"] == "6" and "epoch" not in at.query_params


def test_a_run_opened_after_another_lands_on_its_newest_snapshot(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(run_dir))
    at = app({"model": "ckpt", "layer": "conv", "epoch": "2"})
    assert at.session_state[state_key(at, "run_index")] == 1
    at.selectbox(key="folder_name").set_value("rec").run()  # by the sidebar
    assert not at.exception, [e.value for e in at.exception]
    assert (
        at.session_state[state_key(at, "run_index")] == 3
    )  # rec's newest (step 8), not ckpt's position
    assert at.query_params["model"] == "rec" and at.query_params["step"] == "8"
    assert "epoch" not in at.query_params
    at.select_slider(key=state_key(at, "run_index")).set_value(0).run()
    assert at.query_params["step"] == "0"
    at.selectbox(key="folder_name").set_value("ckpt").run()  # back: its newest again
    assert at.session_state[state_key(at, "run_index")] == EPOCHS - 1
    assert at.query_params["epoch"] == str(EPOCHS) and "step" not in at.query_params


def test_a_step_run_links_steps_and_labels_them(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(run_dir))
    at = app({"model": "steps", "layer": "conv_b", "step": "20"})
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.session_state[state_key(at, "run_index")] == 19
    assert at.query_params["step"] == "20" and "epoch" not in at.query_params
    slider = at.select_slider(key=state_key(at, "run_index"))
    assert slider.label == "Step" and slider.format_func(19) == "step 20"
    assert "conv_b/kernel at step 20" in titles(at)
    at = app({"model": "steps", "layer": "conv_b"})  # no snapshot named: the newest
    assert at.session_state[state_key(at, "run_index")] == STEPS - 1
    assert at.query_params["step"] == str(STEPS)
    at = app({"model": "steps", "step": "999"})
    assert any("no snapshot at step 999; steps: 1-60" in e for e in alerts(at.error))
    assert at.query_params["step"] == str(STEPS)


def test_the_run_tab_names_the_first_anomaly_then_the_first_nan_and_opens_them(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(run_dir))
    at = app({"model": "steps", "layer": "conv_a"})
    at.session_state["main_tab"] = "Run over time"
    filled(at.run())
    assert not at.exception, [e.value for e in at.exception]
    first, second = alerts(at.error)[:2]
    # Every weight turns NaN at step 40; the culprit blew up ten steps before.
    assert first.startswith("**First anomaly at step 30: conv_b/kernel**")
    assert "larger than glorot" in first
    assert second.startswith("**NaN or Inf first appear at step 40**, in every weight at once (8)")
    assert "the first anomaly above came before it" in second
    at.button(key="run-go-nan").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["main_tab"] == "Layer"
    assert (
        at.session_state[state_key(at, "layer")] == "conv_b"
        and at.session_state[state_key(at, "weight", "conv_b")] == "kernel"
    )
    assert at.session_state[state_key(at, "run_index")] == 39
    assert at.query_params["step"] == "40" and at.query_params["layer"] == "conv_b"
    at.session_state["main_tab"] = "Run over time"
    at.run()
    at.button(key="run-go-anomaly").click().run()
    assert at.session_state[state_key(at, "run_index")] == 29 and at.query_params["step"] == "30"
    assert "conv_b/kernel at step 30" in titles(at)
