"""The page lets go of an upload as soon as it is refused or open: the session's state holds no
uploaded file afterwards (Streamlit keeps a widget's file, with its bytes, in the session's
state until the widget goes, and its store of uploads until the session shuts down, which a
closed tab's never does), the sidebar and Compare show a fresh uploader after a refusal, and an
opened upload stays open.

What that does to a real server's memory (20 refused 40 MB uploads, then two opened) is measured
in Chromium by ``tests/browser/test_upload_memory.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _page_state import state_key
from streamlit.runtime.uploaded_file_manager import UploadedFile
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180
TEACH = "Explain, diagnose, compare, train"


def _held(at: AppTest) -> list[str]:
    """The session-state keys whose value is an uploaded file (or holds one)."""
    held = []
    state = at.session_state._state  # the session's own SessionState (AppTest wraps it)
    for key, value in state.filtered_state.items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, UploadedFile) for v in values):
            held.append(key)
    return held


def _errors(at: AppTest) -> list[str]:
    return [e.value.replace("\\", "") for e in at.error]


@pytest.mark.timeout(600)
def test_the_sidebar_lets_go_of_refused_and_opened_uploads(tiny_files: dict[str, Path]) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    at.radio(key="source_kind").set_value("upload").run()
    for i in range(3):
        name = f"junk{i}.h5"
        at.file_uploader[0].upload(name, os.urandom(1 << 20), "application/octet-stream").run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(name in text for text in _errors(at)), _errors(at)
        assert at.file_uploader[0].key == f"upload{i + 1}"  # a fresh uploader for the next one
        assert at.file_uploader[0].value is None
        assert _held(at) == [], _held(at)

    data = tiny_files["keras"].read_bytes()
    at.file_uploader[0].upload("tiny.keras", data, "application/octet-stream").run()
    assert not at.exception and not at.error, _errors(at)
    assert any(
        "tiny.keras" in c.value.replace("\\", "") for c in at.caption if "Open now" in c.value
    )
    assert _held(at) == [], _held(at)
    layer = at.session_state[state_key(at, "layer")]
    assert layer  # the upload is open, on one of its layers


@pytest.mark.timeout(600)
def test_compare_lets_go_of_a_refused_upload() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.session_state["main_tab"] = TEACH
    at.session_state["teaching_tab"] = "Compare"
    at.run()
    at.radio(key=state_key(at, "compare_with")).set_value("upload").run()
    uploader = at.file_uploader[-1]
    first_key = uploader.key
    uploader.upload("junk.h5", os.urandom(1 << 20), "application/octet-stream").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Could not open junk.h5" in text for text in _errors(at)), _errors(at)
    assert at.file_uploader[-1].key != first_key  # a fresh uploader
    assert _held(at) == [], _held(at)
