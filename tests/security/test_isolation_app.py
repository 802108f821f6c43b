"""The app under files that crash, hang or bloat their parser: one error box each, and the
model that was open stays open with its charts (the server process itself is never touched)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _crash_readers import MODULE, crasher
from _page_state import state_key
from streamlit.testing.v1 import AppTest

from kerascope.extraction.settings import PLUGIN_ENV, WORKER_MEMORY_ENV, WORKER_WALL_ENV

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180  # the first run imports TensorFlow and may train the demo


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_crashing_hanging_and_bloating_uploads_each_end_in_one_error_box(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PLUGIN_ENV, MODULE)
    monkeypatch.setenv(WORKER_WALL_ENV, "5")
    monkeypatch.setenv(WORKER_MEMORY_ENV, "512")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    layer = at.session_state[state_key(at, "layer")]
    at.radio(key="source_kind").set_value("upload").run()
    expected = {
        "segv.h5": "crashed while reading it",
        "hang.h5": "took longer than 5 s",
        "bomb.h5": "needed more than 512 MB of memory",
    }
    for name, words in expected.items():
        # The uploader is replaced by a fresh one after each rejected file: take whichever it is.
        at.file_uploader[0].upload(name, crasher(name[:-3]), "application/x-hdf5")
        at.run()
        assert not at.exception, (name, [e.value for e in at.exception])
        shown = [e.value.replace("\\", "") for e in at.error]  # markdown escapes
        assert len(shown) == 1, shown
        assert name in shown[0] and words in shown[0], shown
        assert at.session_state[state_key(at, "layer")] == layer, name
        assert at.get("plotly_chart"), f"{name}: the open model's charts are gone"
