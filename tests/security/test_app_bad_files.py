"""The app under bad uploads: five broken or hostile files in a row, each one error box.

After each, no exception is shown, the model that was open stays open (same layer selected) and
its charts are still drawn.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _page_state import state_key
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180  # the first run imports TensorFlow and may train the demo


def _npz_object_keras(tiny: Path) -> bytes:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as npz:
        evil = io.BytesIO()
        np.save(evil, np.array([{"x": 1}], dtype=object), allow_pickle=True)
        npz.writestr("layers/dense/vars/0.npy", evil.getvalue())
    out = io.BytesIO()
    with zipfile.ZipFile(tiny) as src, zipfile.ZipFile(out, "w") as dst:
        dst.writestr("config.json", src.read("config.json"))
        dst.writestr("model.weights.npz", inner.getvalue())
    return out.getvalue()


def _slip_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("m/saved_model.pb", b"\x08\x01")
        zf.writestr("../../escaped.txt", b"x")
    return out.getvalue()


@pytest.mark.timeout(600)
def test_five_bad_uploads_in_a_row_keep_the_open_model(tiny_files: dict[str, Path]) -> None:
    keras_bytes = tiny_files["keras"].read_bytes()
    bad = [
        ("cut.keras", keras_bytes[: len(keras_bytes) // 2]),
        ("pickle.h5", pickle.dumps({"weights": [1, 2]}, protocol=4)),
        ("objects.keras", _npz_object_keras(tiny_files["keras"])),
        ("list_config.keras", _with_config(tiny_files["keras"], [1, 2])),
        ("slip.zip", _slip_zip()),
    ]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    layer = at.session_state[state_key(at, "layer")]
    at.radio(key="source_kind").set_value("upload").run()
    for name, data in bad:
        at.file_uploader[0].upload(name, data, "application/octet-stream")  # renewed per reject
        at.run()
        assert not at.exception, (name, [e.value for e in at.exception])
        assert at.error, f"{name}: no error box"
        shown = [e.value.replace("\\", "") for e in at.error]  # markdown escapes
        assert any(name in text for text in shown), shown
        assert at.session_state[state_key(at, "layer")] == layer, name
        assert at.get("plotly_chart"), f"{name}: the open model's charts are gone"


def _with_config(tiny: Path, config: object) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(tiny) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = json.dumps(config).encode() if name == "config.json" else src.read(name)
            dst.writestr(name, data)
    return out.getvalue()
