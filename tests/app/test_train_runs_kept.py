"""The Train tab keeps its runs in the cache folder: a new session (a reload) reopens them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _page_state import state_key
from streamlit.testing.v1 import AppTest

from kerascope.extraction.models.demos import demo_path, ensure_demo

PAGE = Path(__file__).with_name("teaching_page.py")


def train_tab() -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=240)
    at.session_state["teaching_tab"] = "Train"
    return at.run()


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def titles(at: AppTest) -> list[str]:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return [s["layout"].get("title", {}).get("text", "") for s in specs]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder but for the digits demo the page opens (copied, not retrained)."""
    trained = ensure_demo("digits_cnn")
    for suffix in (".keras", ".json"):
        shutil.copy(trained.with_suffix(suffix), tmp_path)
    monkeypatch.setenv("KERASCOPE_CACHE_DIR", str(tmp_path))
    assert demo_path("digits_cnn").is_file()
    return tmp_path


@pytest.mark.slow
def test_a_trained_run_reopens_in_a_new_session(cache: Path) -> None:
    at = train_tab()
    clean(at)
    assert not any(s.key == "train-saved" for s in at.selectbox)  # nothing kept yet
    assert any("Choose the knobs and press Train" in i.value for i in at.info)
    at.slider(key="train-epochs").set_value(2)
    at.slider(key="train-filters").set_value(3)
    at.slider(key="train-units").set_value(8)
    next(b for b in at.button if b.label == "Train").click().run()
    clean(at)
    said = " ".join(m.value for m in at.markdown)
    assert "Chance level: guessing among the 10 labels scores 10.0%" in said
    assert "At epoch 2:" in said and "held-out ones" in said
    kept = sorted((cache / "trained").glob("run-*"))
    assert [p.suffix for p in kept] == [".json", ".npz"]

    again = train_tab()  # a reload: a new session, nothing in its state
    clean(again)
    assert again.session_state["train_epoch"] == 2
    assert any("conv1 kernel after epoch 2" in t for t in titles(again))
    picker = again.selectbox(key="train-saved")
    assert picker.value == kept[0].stem
    assert "digits · 3 filters 3x3 · 2 epochs · held-out" in picker.format_func(picker.value)
    again.select_slider(key="train_epoch").set_value(0).run()
    clean(again)
    assert any("conv1 kernel before training" in t for t in titles(again))
    again.session_state["teaching_tab"] = "Compare"  # the reopened run's epochs compare too
    again.run()
    again.radio(key=state_key(again, "compare_with")).set_value("epochs").run()
    clean(again)


@pytest.mark.slow
def test_a_damaged_kept_run_is_passed_over(cache: Path) -> None:
    (cache / "trained").mkdir()
    (cache / "trained" / "run-20990101-000000-000000-digits.json").write_text("{broken")
    at = train_tab()
    clean(at)
    assert not at.error
    assert any("Choose the knobs and press Train" in i.value for i in at.info)
