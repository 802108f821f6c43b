"""Odd values render in every view: NaN/Inf, all zeros, scalars, empty, float16, bfloat16, int8,
and a 1-D weight of 10 million values."""

from __future__ import annotations

import json
from pathlib import Path

from _page_state import state_key
from streamlit.testing.v1 import AppTest

from kerascope.components.page.layer_view import views_for

HERE = Path(__file__).resolve().parent


def test_every_odd_weight_renders_in_every_view() -> None:
    import sys

    sys.path.insert(0, str(HERE))
    from odd_values_page import odd_model

    model = odd_model()
    at = AppTest.from_file(str(HERE / "odd_values_page.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    for layer in model.layers:
        at.selectbox(key=state_key(at, "layer")).set_value(layer.path).run()
        for weight in layer.weights:
            at.button_group(key=state_key(at, "weight", layer.path)).set_value(weight.name).run()
            for view in views_for(layer, weight):
                key = next(str(g.key) for g in at.get("button_group") if "|view:" in str(g.key))
                at.button_group(key=key).set_value(view).run()
                where = (layer.path, weight.name, view)
                assert not at.exception, (where, [e.value for e in at.exception])
                assert not at.error, (where, [e.value for e in at.error])
                specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
                assert specs or at.info or at.metric, where
                for spec in specs:  # never more than the browser can show
                    assert len(json.dumps(spec)) < 2_000_000, where
    # The 10-million-value bias is binned, not sent.
    at.selectbox(key=state_key(at, "layer")).set_value("huge_bias").run()
    (spec,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert spec["data"][0]["type"] == "bar"
