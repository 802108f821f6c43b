"""Every layer kind renders a meaningful view in the page, weight by weight."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _page_state import state_key
from streamlit.testing.v1 import AppTest

from kerascope.components.page.layer_view import views_for
from kerascope.extraction import open_model

ROOT = Path(__file__).resolve().parents[2]


def test_every_layer_and_weight_of_the_zoo_renders(
    tmp_path: Path, zoo_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    zoo_model.save(tmp_path / "zoo.keras")
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(tmp_path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["model"] = "zoo.keras"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.toggle(key=state_key(at, "show_weightless")).set_value(
        True
    ).run()  # list Input, Flatten, ... too
    model = open_model(tmp_path / "zoo.keras")
    paths = [layer.path for layer in model.layers]
    assert "block/inner" in paths and "mha" in paths
    seen_views: set[str] = set()
    for layer in model.layers:
        at.selectbox(key=state_key(at, "layer")).set_value(layer.path).run()
        assert not at.exception, (layer.path, [e.value for e in at.exception])
        if not layer.weights:
            assert any("no weights" in i.value for i in at.info), layer.path
            continue
        path = layer.path
        for w in layer.weights:
            weight = w.name
            at.button_group(key=state_key(at, "weight", path)).set_value(weight).run()
            for view in views_for(layer, w):
                at.button_group(key=_view_key(at)).set_value(view).run()
                assert not at.exception, (path, weight, view)
                assert not at.error, (path, weight, view, [e.value for e in at.error])
                _assert_shows(at, view, (path, weight))
                seen_views.add(view)
    assert seen_views >= {"filters", "heatmap", "histogram"}


def _assert_shows(at: AppTest, view: str, where: tuple[str, str]) -> None:
    """The page shows what the view promises (a sentence stands in for a constant array)."""
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    traces = [trace["type"] for spec in specs for trace in spec["data"]]
    titles = " ".join(str(spec["layout"].get("title", {}).get("text", "")) for spec in specs)
    if view == "filters":
        assert "filters" in titles and traces[0] in ("heatmap", "image"), where
    elif view == "heatmap":
        assert traces and traces[0] == "heatmap", where
    elif view == "histogram":
        assert "bar" in traces or any("values" in i.value for i in at.info), where
    else:
        assert at.metric or at.info, where


def _view_key(at: AppTest) -> str:
    groups = [g.key for g in at.get("button_group") if "|view:" in str(g.key)]
    assert len(groups) == 1
    return str(groups[0])
