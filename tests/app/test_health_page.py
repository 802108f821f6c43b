"""The Health view on the whole model with AppTest: ranked findings that open their layer, the
All-layers table's status column and row selection, the URL following."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
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
    return at.run()


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
    buttons = [b for b in at.button if b.key and b.key.startswith("health-open-")]
    labels = [b.label for b in buttons]
    assert labels[:2] == ["dense / kernel", "dense\\_1 / kernel"]  # errors first, model order
    assert at.session_state["layer"] == "dense_2"
    buttons[1].click().run()
    clean(at)
    assert at.session_state["layer"] == "dense_1"
    assert at.session_state["weight"] == "kernel"
    assert at.session_state["main_tab"] == "Layer"
    assert at.query_params["layer"] == "dense_1"  # the deep link follows


def test_layer_table_has_a_status_column_and_a_row_opens_its_layer(
    planted_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = health_page(monkeypatch, planted_dir)
    at.session_state["main_tab"] = "All layers"
    at.run()
    clean(at)
    (table,) = [d for d in at.dataframe if "status" in d.value.columns]
    assert list(table.value["path"]) == ["dense", "dense_1", "dense_2"]
    # Stored as the severity's rank (so sorting puts errors first), shown as the word.
    assert list(table.value["status"]) == [0, 0, 3]


def test_a_healthy_model_says_so(monkeypatch: pytest.MonkeyPatch, realworld: Path) -> None:
    at = health_page(monkeypatch, realworld, "mnist_mlp.h5", "dense")
    clean(at)
    assert at.session_state["layer"] == "dense" and at.query_params["model"] == "mnist_mlp.h5"
    assert any("No errors or warnings in any layer" in s.value for s in at.success)
    assert not at.error
