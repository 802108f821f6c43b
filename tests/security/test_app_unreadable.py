"""The app on a model with a weight that cannot be read: an error box on every tab that reads it,
never an exception; the rest of each view is still shown.

The file is the tiny Keras model saved as a legacy ``.h5`` with its dense layer ``out``'s kernel
replaced by one gzip chunk whose deflate stream is damaged (``_unreadable``); it sits in the
model folder beside an intact copy to compare with.

The chunk bomb the issue found goes through every tab too: a Keras ``.weights.h5`` whose
300 x 1000 kernel is stored as 300,000 one-value gzip chunks, read by a worker allowed 300 MB
(HDF5's bookkeeping for the chunks outgrows it in about a second; the issue's file has 3 million
chunks against the default limit, which takes 30 s: ``tests/browser/test_unreadable_browser.py``).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from _page_state import settled, state_key
from _unreadable import damaged_copy
from streamlit.testing.v1 import AppTest

from kerascope.extraction.settings import MODEL_DIR_ENV, WORKER_MEMORY_ENV

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180
TEACH = "Explain, diagnose, compare, train"


@pytest.fixture(scope="module")
def folder(tiny_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("unreadable_app")
    damaged_copy(tiny_files["h5"], path / "damaged.h5", "model_weights/out/out/kernel", "deflate")
    shutil.copy(tiny_files["h5"], path / "intact.h5")
    return path


@pytest.fixture(scope="module")
def bomb_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import keras

    path = tmp_path_factory.mktemp("chunk_bomb_app")
    x = keras.Input((300,), name="x")
    h = keras.layers.Dense(1000, name="big")(x)
    keras.Model(x, keras.layers.Dense(4, name="out")(h)).save_weights(path / "intact.weights.h5")
    damaged_copy(
        path / "intact.weights.h5", path / "bomb.weights.h5", "layers/dense/vars/0", "chunks"
    )
    return path


SCOPED = ("graph_colour",)
"""Keys of the open model's scope (``scope.model_key``): set once the model is open."""


def _open(
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    model: str = "damaged.h5",
    layer: str = "out",
    **state: str,
) -> AppTest:
    monkeypatch.setenv(MODEL_DIR_ENV, str(folder))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["model"] = model
    at.query_params["layer"] = layer
    at.run()
    for key, value in state.items():
        at.session_state[state_key(at, key) if key in SCOPED else key] = value
    settled(at.run())  # the model's background check ends, and the page shows what it found
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
        ({"main_tab": TEACH, "teaching_tab": "Activations"}, None),
        ({"main_tab": TEACH, "teaching_tab": "Explain"}, None),
    ],
    ids=[
        "layer",
        "table",
        "overview",
        "graph-std",
        "graph-health",
        "health",
        "compare",
        "activations",
        "explain",
    ],
)
def test_each_view_shows_an_error_box_and_the_rest(
    state: dict[str, str], expected: str | None, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _open(folder, monkeypatch, **state)
    shown = _errors(at)
    if expected is not None:
        assert any(expected in text for text in shown), shown
    assert all("filter returned failure during read" in text for text in shown if "kernel'" in text)
    tab = state.get("main_tab")
    if tab == "All layers":
        table = at.dataframe[0].value.set_index("path")
        assert table.loc["out", "status"] == 0  # ranked first: "error", its unreadable finding
        assert table.loc["conv", "mean"] == table.loc["conv", "mean"]  # a number, not NaN
    if tab in ("Model overview", "Graph"):
        assert at.get("plotly_chart"), "the rest of the view is drawn"
    if state.get("teaching_tab") == "Compare":
        assert at.dataframe, "the table of what was compared"
    if state.get("teaching_tab") == "Activations":
        # Keras is not asked to load a file whose weights the worker could not read: it says so.
        notes = [m.value.replace("\\", "") for m in (*at.info, *at.caption, *at.warning)]
        assert any("as a weight failed" in text for text in notes), notes


@pytest.mark.timeout(600)
def test_other_layers_and_weights_still_show(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(folder, monkeypatch)
    at.segmented_control(key=state_key(at, "weight", "out")).set_value("bias").run()
    assert not at.exception and not at.error, _errors(at)
    stats = at.dataframe[0].value.set_index("weight")
    assert stats.loc["kernel", "mean"] != stats.loc["kernel", "mean"]  # NaN: unreadable
    assert any("kernel cannot be read" in c.value.replace("\\", "") for c in at.caption)
    at.selectbox(key=state_key(at, "layer")).set_value("conv").run()
    assert not at.exception and not at.error, _errors(at)
    stats = at.dataframe[0].value.set_index("weight")
    assert stats.loc["kernel", "mean"] == stats.loc["kernel", "mean"]  # read


BOMB_TABS = [
    ({}, "Could not show kernel: "),
    ({"main_tab": "All layers"}, "cannot be read, so they show as unreadable (big/kernel)"),
    ({"main_tab": "Model overview"}, "show as unreadable (big/kernel)"),
    ({"main_tab": "Graph"}, None),
    ({"main_tab": TEACH, "teaching_tab": "Explain"}, None),
    ({"main_tab": TEACH, "teaching_tab": "Health"}, "Not checked: "),
    ({"main_tab": TEACH, "teaching_tab": "Compare"}, "cannot be read on one side or both"),
    ({"main_tab": TEACH, "teaching_tab": "Train"}, None),
    ({"main_tab": TEACH, "teaching_tab": "Activations"}, None),
]


@pytest.mark.timeout(900)
def test_the_chunk_bomb_is_an_error_box_on_every_tab(
    bomb_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One session through every tab: each that reads the kernel says in an error box that it
    needed more memory than the worker may take; none raises; after the first, the kept failure
    answers at once (the bomb is not read again)."""
    monkeypatch.setenv(WORKER_MEMORY_ENV, "300")
    at = _open(bomb_folder, monkeypatch, model="bomb.weights.h5", layer="big")
    for state, expected in BOMB_TABS:
        for key, value in {"main_tab": "Layer", **state}.items():
            at.session_state[key] = value
        started = time.monotonic()
        settled(at.run())
        assert not at.exception, (state, [e.value for e in at.exception])
        shown = _errors(at)
        if expected is not None:
            assert any(expected in text for text in shown), (state, shown)
        for text in shown:
            if "big/kernel" in text or "'kernel'" in text:
                assert "more than 300 MB of memory" in text, (state, text)
        if state:
            assert time.monotonic() - started < 60, state  # not read again
