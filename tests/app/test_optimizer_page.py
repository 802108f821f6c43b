"""The Optimizer view in the app: a public file fitted with Adam shows its gradient RMS and next
step beside each other, and its slots; a file without optimizer state says so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _page_state import settled, state_key
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, realworld: Path) -> Path:
    import keras

    folder = tmp_path_factory.mktemp("models")
    shutil.copy(realworld / "mnist_cnn.keras", folder)
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")]).save(
        folder / "plain.keras"
    )
    return folder


def _open(model: str, layer: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["model"] = model
    at.query_params["layer"] = layer
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # Both layers opened are Dense: one View key (scoped to the model) for their kernels.
    at.session_state[state_key(at, "view:kernel:2:dense")] = "optimizer"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def test_gradient_rms_and_next_step_beside_each_other(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(model_dir))
    at = _open("mnist_cnn.keras", "dense_12")
    titles = _titles(at)
    assert titles == ["dense_12 / kernel · gradient RMS", "dense_12 / kernel · next step"]
    assert any("Adam · 16,500 steps" in c.value for c in at.caption)
    at.session_state[state_key(at, "opt_arrays")] = "v"
    at.run()
    assert not at.exception
    assert _titles(at) == ["dense_12 / kernel · slot v"]
    at.session_state[state_key(at, "weight", "dense_12")] = "bias"
    at.run()
    assert not at.exception
    assert [t for t in _titles(at) if "bias" in t]


def test_a_file_without_optimizer_state_says_so(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(model_dir))
    at = _open("plain.keras", "d")
    assert any("keeps no optimizer state" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_a_run_recorded_with_optimizer_state_shows_gradient_rms_over_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keras
    import numpy as np

    from kerascope.extraction import WeightRecorder

    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(5, name="hidden"), keras.layers.Dense(2, name="out")]
    )
    model.compile(keras.optimizers.Adam(0.01), "mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 6)).astype("float32"), rng.normal(size=(64, 2)).astype("float32")
    model.fit(x, y, epochs=3, batch_size=16, verbose=0,
              callbacks=[WeightRecorder(tmp_path / "rec", optimizer=True)])  # fmt: skip
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(tmp_path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["model"] = "rec"
    at.query_params["layer"] = "hidden"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.session_state["main_tab"] = "Run over time"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (metric,) = [s for s in at.get("button_group") if s.proto.label == "Timeline of"]
    assert "grad_rms" in [o.content for o in metric.proto.options] or "gradient RMS" in str(
        metric.proto
    )
    at.session_state[state_key(at, "run_metric")] = "grad_rms"
    settled(at.run())  # the run's timelines are read in the background
    assert not at.exception, [e.value for e in at.exception]
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    panels = [s for s in specs if "hidden/kernel grad_rms" in json.dumps(s)]
    assert panels and panels[0]["layout"]["yaxis"]["type"] == "log"
