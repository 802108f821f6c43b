"""The app on a model with a weight that cannot be read: an error box on every tab that reads it,
never an exception; the rest of each view is still shown.

The file is the tiny Keras model saved as a legacy ``.h5`` with its dense layer ``out``'s kernel
replaced by one gzip chunk whose deflate stream is damaged (``_unreadable``); it sits in the
model folder beside an intact copy to compare with. The chunk-bomb file goes through every tab
in Chromium (``tests/browser/test_unreadable_browser.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _unreadable import damaged_copy
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180
TEACH = "Explain, diagnose, compare, train"


@pytest.fixture(scope="module")
def folder(tiny_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("unreadable_app")
    damaged_copy(tiny_files["h5"], path / "damaged.h5", "model_weights/out/out/kernel", "deflate")
    shutil.copy(tiny_files["h5"], path / "intact.h5")
    return path


def _open(folder: Path, monkeypatch: pytest.MonkeyPatch, **state: str) -> AppTest:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(folder))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["model"] = "damaged.h5"
    at.query_params["layer"] = "out"
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _errors(at: AppTest) -> list[str]:
    return [e.value.replace("\\", "") for e in at.error]  # Markdown escapes


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({}, "Could not show kernel: weight 'kernel' cannot be read"),
        ({"main_tab": "All layers"}, "cannot be read, so they show as unreadable (out/kernel)"),
        ({"main_tab": "Model overview"}, "show as unreadable (out/kernel)"),
        ({"main_tab": "Graph", "graph_colour": "std"}, "show as unreadable (out/kernel)"),
        ({"main_tab": "Graph", "graph_colour": "health"}, "show as unreadable (out/kernel)"),
        ({"main_tab": TEACH, "teaching_tab": "Health"}, "Not checked: weight 'kernel'"),
        ({"main_tab": TEACH, "teaching_tab": "Compare"}, "cannot be read on one side or both"),
    ],
    ids=["layer", "table", "overview", "graph-std", "graph-health", "health", "compare"],
)
def test_each_view_shows_an_error_box_and_the_rest(
    state: dict[str, str], expected: str, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _open(folder, monkeypatch, **state)
    shown = _errors(at)
    assert any(expected in text for text in shown), shown
    assert all("filter returned failure during read" in text for text in shown if "kernel'" in text)
    tab = state.get("main_tab")
    if tab == "All layers":
        table = at.dataframe[0].value.set_index("path")
        assert table.loc["out", "status"] == 0  # ranked first: "unreadable"
        assert table.loc["conv", "mean"] == table.loc["conv", "mean"]  # a number, not NaN
    if tab in ("Model overview", "Graph"):
        assert at.get("plotly_chart"), "the rest of the view is drawn"
    if state.get("teaching_tab") == "Compare":
        assert at.dataframe, "the table of what was compared"


@pytest.mark.timeout(600)
def test_other_layers_and_weights_still_show(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(folder, monkeypatch)
    at.segmented_control(key="weight").set_value("bias").run()
    assert not at.exception and not at.error, _errors(at)
    stats = at.dataframe[0].value.set_index("weight")
    assert stats.loc["kernel", "mean"] != stats.loc["kernel", "mean"]  # NaN: unreadable
    assert any("kernel cannot be read" in c.value.replace("\\", "") for c in at.caption)
    at.selectbox(key="layer").set_value("conv").run()
    assert not at.exception and not at.error, _errors(at)
    stats = at.dataframe[0].value.set_index("weight")
    assert stats.loc["kernel", "mean"] == stats.loc["kernel", "mean"]  # read
