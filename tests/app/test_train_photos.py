"""The Train tab's photos task in AppTest: one epoch, RGB filters, the selectivity caption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGE = Path(__file__).with_name("teaching_page.py")


@pytest.mark.slow
def test_photos_task_trains_and_shows_colour_filters() -> None:
    at = AppTest.from_file(str(PAGE), default_timeout=240)
    at.session_state["teaching_tab"] = "Train"
    at.run()
    at.segmented_control(key="train-task").set_value("photos").run()
    assert any("oriented edge detectors" in m.value for m in at.markdown)
    at.slider(key="train-photos-epochs").set_value(1)
    at.slider(key="train-photos-filters").set_value(4)
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    grid = next(s for s in specs if s["data"][0]["type"] == "image")
    assert "conv1 kernel after epoch 1" in grid["layout"]["title"]["text"]
    assert any("Orientation selectivity" in c.value for c in at.caption)
