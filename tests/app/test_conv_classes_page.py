"""Conv1DTranspose, DepthwiseConv1D, SeparableConv1D and Conv3DTranspose open in the app as conv
layers: their filter grid is the first view, and every pixel of it is the Keras kernel value its
hover says (filter, row, column), read along Keras's own axes."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _page_state import state_key
from streamlit.testing.v1 import AppTest

from kerascope.extraction import open_model
from tests.conftest import CONV_ZOO_KINDS, CONV_ZOO_TILES

ROOT = Path(__file__).resolve().parents[2]
Array = np.ndarray[Any, Any]

# Per layer: the weight its grid shows, and the Keras value at (tile, row, col) of the first
# page's channel 0, written out from Keras's layouts rather than through the code under test.
EXPECTED: dict[str, tuple[str, Callable[[Array, int, int, int], float]]] = {
    # Conv1DTranspose kernel (k, filters, in): tile f is kernel[:, f, :], k rows x in columns.
    "conv1d_t": ("kernel", lambda k, f, r, c: k[r, f, c]),
    # DepthwiseConv1D kernel (k, in, multiplier): tile ch * M + m is kernel[:, ch, m].
    "dw1d": ("kernel", lambda k, t, r, c: k[r, t // 2, t % 2]),
    # SeparableConv1D depthwise kernel (k, in, multiplier), as DepthwiseConv1D.
    "sep1d": ("depthwise_kernel", lambda k, t, r, c: k[r, t // 2, t % 2]),
    # Conv3DTranspose kernel (kd, kh, kw, filters, in): depth slice 0, input channel 0.
    "conv3d_t": ("kernel", lambda k, f, r, c: k[0, r, c, f, 0]),
}


def _array(data: Any) -> Array:
    """A plotly JSON array: a list, or a typed array (``bdata``, base64) of its ``shape``."""
    if isinstance(data, dict):
        values = np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"])
        shape = [int(n) for n in str(data.get("shape", values.size)).split(",")]
        return values.reshape(shape)
    return np.asarray(data, dtype=float)


@pytest.fixture(scope="module")
def page(conv_zoo: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppTest, Path]]:
    folder = tmp_path_factory.mktemp("conv_page")
    conv_zoo.save(folder / "conv_zoo.keras")
    with pytest.MonkeyPatch.context() as patch:  # the page reads the folder on every run
        patch.setenv("KERASCOPE_MODEL_DIR", str(folder))
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.query_params["model"] = "conv_zoo.keras"
        at.run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        yield at, folder / "conv_zoo.keras"


@pytest.mark.parametrize("path", list(EXPECTED))
def test_the_layer_opens_on_its_filter_grid(page: tuple[AppTest, Path], path: str) -> None:
    at, file = page
    at.selectbox(key=state_key(at, "layer")).set_value(path).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    weight_name, value_at = EXPECTED[path]
    assert at.button_group(key=state_key(at, "weight", path)).value == weight_name
    (view,) = [g for g in at.get("button_group") if "|view:" in str(g.key)]
    assert view.value == "filters"
    kind = CONV_ZOO_KINDS[path]
    tiles = CONV_ZOO_TILES["depthwise" if kind.startswith(("depth", "sep")) else "conv"]
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    (grid,) = [s for s in specs if "filters" in str(s["layout"].get("title", {}).get("text"))]
    assert grid["layout"]["title"]["text"].startswith(f"{kind} filters 1-{tiles} of {tiles}")
    if kind == "conv3d_transpose":  # a 3-D kernel is shown a depth slice at a time
        assert at.slider(key=state_key(at, "grid_depth", path, weight_name)).max == 1
    trace = grid["data"][0]
    assert trace["type"] == "heatmap"
    kernel = open_model(file).layer(path).weight(weight_name).array()
    custom = _array(trace["customdata"]).reshape(-1, 5)  # filter, row, col, L2 norm, value
    shown = custom[np.isfinite(custom[:, 0])]
    assert {int(f) for f in shown[:, 0]} == set(range(tiles))
    # Every weight of the depth slice and channel shown appears once, where Keras's axes put it.
    per_slice = kernel.shape[0] * kernel.shape[-1] if kind == "conv3d_transpose" else 1
    assert len(shown) == kernel.size // per_slice
    for f, r, c, _, value in shown:
        assert value == pytest.approx(value_at(kernel, int(f), int(r), int(c)), abs=1e-6)
