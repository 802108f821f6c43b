"""A small Llama-layout safetensors checkpoint in the model folder, through the whole page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _page_state import settled, state_key
from streamlit.testing.v1 import AppTest

from benchmarks.llama_layout import TINY, write_llama_checkpoint

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    write_llama_checkpoint(folder / "llama-tiny", TINY, seed=5)
    return folder


def charts(at: AppTest) -> list[dict[str, object]]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_llama_folder_opens_and_draws_embedding_mlp_and_depth(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(model_dir))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["model"] = "llama-tiny"
    at.query_params["layer"] = "model.embed_tokens"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    (heat,) = [c for c in charts(at) if c["data"][0]["type"] == "heatmap"]  # type: ignore[index]
    assert "model.embed_tokens / weight" in heat["layout"]["title"]["text"]  # type: ignore[index]
    at.selectbox(key=state_key(at, "layer")).set_value("model.layers.1.mlp.down_proj").run()
    assert not at.exception
    (heat,) = [c for c in charts(at) if c["data"][0]["type"] == "heatmap"]  # type: ignore[index]
    z = heat["data"][0]["z"]  # type: ignore[index]
    assert "model.layers.1.mlp.down_proj" in heat["layout"]["title"]["text"]  # type: ignore[index]
    assert z  # drawn
    at.session_state["main_tab"] = "Model overview"
    settled(at.run())  # the model's check done: the overview in its final form
    assert not at.exception, [e.value for e in at.exception]
    titles = [c["layout"]["title"]["text"] for c in charts(at)]  # type: ignore[index]
    assert any("by depth" in t for t in titles)
    assert any("Weight distribution per layer" in t for t in titles)


def test_heatmap_zooms_to_single_weights(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(model_dir))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["model"] = "llama-tiny"
    at.query_params["layer"] = "model.embed_tokens"
    at.run()
    (single,) = [b for b in at.button if b.label.startswith("Single weights")]
    single.click().run()
    assert not at.exception, [e.value for e in at.exception]
    (heat,) = [c for c in charts(at) if c["data"][0]["type"] == "heatmap"]  # type: ignore[index]
    trace = heat["data"][0]  # type: ignore[index]
    # The 256 x 64 embedding, centred 40 x 40 window: rows 108-147, columns 12-51.
    assert trace["y"][0] == "108" and trace["y"][-1] == "147"  # type: ignore[index]
    assert trace["x"][0] == "12" and trace["x"][-1] == "51"  # type: ignore[index]
    assert "%{z:.7g}" in trace["hovertemplate"]  # type: ignore[index]
    (rows,) = [s for s in at.slider if s.label == "Rows"]
    rows.set_value((0, 256)).run()
    (cols,) = [s for s in at.slider if s.label == "Columns"]
    cols.set_value((0, 64)).run()
    (heat,) = [c for c in charts(at) if c["data"][0]["type"] == "heatmap"]  # type: ignore[index]
    assert "rows" not in heat["layout"]["title"]["subtitle"]["text"]  # type: ignore[index]
