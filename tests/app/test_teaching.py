"""AppTest flows of the teaching tabs: explain, health, train 2 epochs and step, compare epochs."""

from __future__ import annotations

import json
from pathlib import Path

from _page_state import settled, state_key
from streamlit.testing.v1 import AppTest

PAGE = Path(__file__).with_name("teaching_page.py")
TIMEOUT = 180


def page(tab: str = "Explain", layer: str = "conv1") -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    at.session_state["teaching_tab"] = tab
    at.session_state["test_layer"] = layer
    return settled(at.run())


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def charts(at: AppTest) -> list[dict[str, object]]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_explain_shows_code_axes_and_arithmetic() -> None:
    at = page("Explain", "conv2")
    clean(at)
    assert 'model.get_layer("conv2")' in at.code[0].value
    text = " ".join(m.value for m in at.markdown)
    assert "3*3*16*32 + 32 = 4,640" in text and "filters (output channels)" in text


def test_health_findings_and_spectrum_on_demand() -> None:
    at = page("Health", "dense")
    clean(at)
    assert at.success and not charts(at)  # the spectrum waits for the toggle
    at.toggle(key=state_key(at, "health-spectrum")).set_value(True).run()
    clean(at)
    (fig,) = charts(at)
    assert "alpha" in fig["layout"]["title"]["subtitle"]["text"]  # type: ignore[index]
    captions = " ".join(c.value for c in at.caption)
    assert "Means over the" in captions and "s analysis" in captions  # Markdown-escaped text
    next(b for b in at.button if b.label == "Check for correlation traps").click().run()
    clean(at)
    spectrum, traps = charts(at)
    assert [t["name"] for t in traps["data"]][:2] == ["the weight", "its values permuted"]  # type: ignore[index]
    assert "trap" in " ".join(m.value for m in [*at.success, *at.warning])
    at.run()  # the check stays once made
    assert len(charts(at)) == 2


def test_train_two_epochs_then_step_and_compare_epochs() -> None:
    at = page("Train")
    clean(at)
    at.slider(key="train-epochs").set_value(2)
    at.slider(key="train-filters").set_value(4)
    at.slider(key="train-units").set_value(8)
    next(b for b in at.button if b.label == "Train").click().run()
    clean(at)
    assert at.session_state["train_epoch"] == 2
    grid_title = charts(at)[0]["layout"]["title"]["text"]  # type: ignore[index]
    assert "after epoch 2" in grid_title
    at.select_slider(key="train_epoch").set_value(0).run()
    clean(at)
    assert "before training" in charts(at)[0]["layout"]["title"]["text"]  # type: ignore[index]
    at.session_state["teaching_tab"] = "Compare"
    at.run()
    at.radio(key=state_key(at, "compare_with")).set_value("epochs").run()
    clean(at)
    bars = charts(at)[0]
    assert bars["data"][0]["y"] == ["conv1", "dense", "digit"]  # type: ignore[index]
    assert all(x > 0 for x in bars["data"][0]["x"])  # type: ignore[index]
