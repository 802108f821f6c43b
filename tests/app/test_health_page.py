"""The Health view on the whole model with AppTest: ranked findings that open their layer, the
All-layers table's status column and row selection, the URL following."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from _page_state import settled, state_key
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180
TEACH = "Explain, diagnose, compare, train"


@pytest.fixture(scope="module")
def planted_dir(realworld: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("health-models")
    path = folder / "planted.h5"
    shutil.copyfile(realworld / "mnist_mlp.h5", path)
    with h5py.File(path, "r+") as f:
        scaled = f["model_weights/dense_1/sequential/dense_1/kernel"]
        scaled[...] = scaled[...] * 500.0
        kernel = f["model_weights/dense/sequential/dense/kernel"]
        values = kernel[...]
        values[2, 9] = np.nan
        kernel[...] = values
    return folder


def health_page(
    monkeypatch: pytest.MonkeyPatch, folder: Path, model: str = "planted.h5", layer: str = "dense_2"
) -> AppTest:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(folder))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["model"] = model
    at.query_params["layer"] = layer
    at.session_state["main_tab"] = TEACH
    at.session_state["teaching_tab"] = "Health"
    return settled(at.run())


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_health_lists_the_whole_model_and_a_finding_opens_its_layer(
    planted_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = health_page(monkeypatch, planted_dir)
    clean(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 2
    assert "NaN or Inf" in errors[0] and "larger than glorot" in errors[1]
    buttons = [b for b in at.button if b.key and "|health-open-" in b.key]
    labels = [b.label for b in buttons]
    assert labels[:2] == ["dense / kernel", "dense\\_1 / kernel"]  # errors first, model order
    assert at.session_state[state_key(at, "layer")] == "dense_2"
    buttons[1].click().run()
    clean(at)
    assert at.session_state[state_key(at, "layer")] == "dense_1"
    assert at.session_state[state_key(at, "weight", "dense_1")] == "kernel"
    assert at.session_state["main_tab"] == "Layer"
    assert at.query_params["layer"] == "dense_1"  # the deep link follows


def test_layer_table_has_a_status_column_and_a_row_opens_its_layer(
    planted_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = health_page(monkeypatch, planted_dir)
    at.session_state["main_tab"] = "All layers"
    settled(at.run())
    clean(at)
    (table,) = [d for d in at.dataframe if "status" in d.value.columns]
    assert list(table.value["path"]) == ["dense", "dense_1", "dense_2"]
    # Stored as the severity's rank (so sorting puts errors first), shown as the word.
    assert list(table.value["status"]) == [0, 0, 3]


def test_a_healthy_model_says_so(monkeypatch: pytest.MonkeyPatch, realworld: Path) -> None:
    at = health_page(monkeypatch, realworld, "mnist_mlp.h5", "dense")
    clean(at)
    assert (
        at.session_state[state_key(at, "layer")] == "dense"
        and at.query_params["model"] == "mnist_mlp.h5"
    )
    assert any("No errors or warnings in any layer" in s.value for s in at.success)
    assert not at.error


@pytest.fixture(scope="module")
def untrained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CNN saved right after it was built, before any training."""
    import keras
    from keras import layers

    folder = tmp_path_factory.mktemp("untrained")
    keras.utils.set_random_seed(1)
    keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            layers.Conv2D(8, 3, name="conv"),
            layers.Flatten(name="flat"),
            layers.Dense(16, name="hidden"),
            layers.Dense(4, name="out"),
        ],
        name="fresh",
    ).save(folder / "fresh.keras")
    return folder


def test_an_untrained_model_gets_one_verdict_on_every_view(
    untrained_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = health_page(monkeypatch, untrained_dir, "fresh.keras", "hidden")
    clean(at)
    said = "looks untrained"
    assert any(said in e.value for e in at.error)  # Health: the whole model
    # The selected layer's own section does not say "no problems" of a layer of that model.
    assert not any("No problems found in this layer" in s.value for s in at.success)
    assert any("As part of the whole model" in e.value and said in e.value for e in at.error)
    at.session_state["main_tab"] = "All layers"
    settled(at.run())
    clean(at)
    (table,) = [d for d in at.dataframe if "status" in d.value.columns]
    ranks = dict(zip(table.value["path"], table.value["status"], strict=True))
    assert ranks == {"conv": 0, "flat": 4, "hidden": 0, "out": 0}  # error; none: no weights
    assert any(said in e.value and e.value.startswith("Whole model") for e in at.error)
    at.session_state["main_tab"] = "Model overview"
    settled(at.run())
    clean(at)
    (box,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    marked = [t for t in box["data"] if t.get("name") == "error finding"]
    assert len(marked) == 1 and len(marked[0]["y"]) == 3
    assert any(said in e.value for e in at.error)
