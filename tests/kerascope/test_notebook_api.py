"""``import kerascope as ks``: figures from a file, a live model or opened records, as plain
plotly figures with the data of the weight asked for; health as a DataFrame."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from keras import layers

import kerascope as ks
from kerascope.extraction import KerascopeError, LayerNotFound, ModelWeights
from kerascope.extraction.layouts import to_2d

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def net() -> keras.Model:
    inputs = keras.Input((10, 10, 3), name="image")
    x = layers.Conv2D(6, 3, name="conv")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dense(5, name="hidden")(x)
    inner = keras.Sequential([keras.Input((5,)), layers.Dense(4, name="inner_dense")], name="block")
    return keras.Model(inputs, layers.Dense(2, name="out")(inner(x)), name="ws_net")


@pytest.fixture(scope="module")
def saved(net: keras.Model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ks") / "ks_net.keras"
    net.save(path)
    return path


def test_every_kind_of_model_argument_gives_the_same_figure(net: keras.Model, saved: Path) -> None:
    kernel = net.get_layer("hidden").get_weights()[0]
    opened = ks.open(saved)
    assert isinstance(opened, ModelWeights)
    for model in (saved, str(saved), net, opened):
        fig = ks.heatmap(model, "hidden")
        assert type(fig) is go.Figure
        np.testing.assert_allclose(np.asarray(fig.data[0].z, dtype=np.float64), kernel, rtol=1e-6)


def test_filters_draw_the_conv_kernel(saved: Path, net: keras.Model) -> None:
    fig = ks.filters(saved, "conv", channel_mode="rgb")
    assert type(fig) is go.Figure
    assert fig.data[0].type == "image"
    assert "6" in fig.layout.title.text  # "... filters 1-6 of 6"
    one = ks.filters(net, "conv", channel=2, page_size=4, page=1)
    assert "5-6 of 6" in one.layout.title.text


def test_heatmap_uses_keras_layout_and_gates(saved: Path) -> None:
    fig = ks.heatmap(saved, "conv")  # (3, 3, 3, 6) -> (27, 6) rows kernel position x channel
    kernel = ks.open(saved).layer("conv").weight("kernel").array()
    matrix, rows, cols = to_2d(kernel, "kernel", "conv2d")
    assert np.asarray(fig.data[0].z).shape == matrix.shape == (27, 6)
    assert fig.layout.yaxis.title.text == rows and fig.layout.xaxis.title.text == cols
    lstm = keras.Sequential([keras.Input((4, 3)), layers.LSTM(2, name="lstm")])
    gated = ks.heatmap(lstm, "lstm", "recurrent_kernel")
    texts = [a.text for a in gated.layout.annotations]
    assert texts == ["<b>i</b>", "<b>f</b>", "<b>c</b>", "<b>o</b>"]


def test_histogram_counts_every_value(net: keras.Model) -> None:
    fig = ks.histogram(net, "hidden", "kernel", bins=7)
    assert type(fig) is go.Figure
    assert len(fig.data[0].y) == 7 and int(np.sum(fig.data[0].y)) == 5 * 6
    default = ks.histogram(net, "bn")  # first weight of more than one value: gamma
    assert default.layout.title.text == "bn / gamma"


def test_overview_has_a_box_per_weighted_layer(saved: Path) -> None:
    fig = ks.overview(saved)
    boxes = [y for trace in fig.data if trace.type == "box" for y in trace.y]  # a trace per kind
    assert sorted(boxes) == sorted(["conv", "bn", "hidden", "block/inner_dense", "out"])
    assert ks.overview(saved, log_abs=True).layout.xaxis.type == "log"


def test_layer_by_its_own_name_inside_a_nested_model(net: keras.Model) -> None:
    assert ks.heatmap(net, "inner_dense").layout.title.text == "block/inner_dense / kernel"
    assert ks.heatmap(net, "block/inner_dense").layout.title.text == "block/inner_dense / kernel"


def test_layers_table(saved: Path) -> None:
    table = ks.layers(saved)
    assert isinstance(table, pd.DataFrame)
    assert list(table["path"]) == [lay.path for lay in ks.open(saved).layers]


def test_spectrum_summary_and_traps_of_a_public_model(realworld: Path) -> None:
    reference = json.loads((ROOT / "tests/data/weightwatcher/weightwatcher.json").read_text())
    expected = reference["layers"]["mnist_mlp/dense"]["alpha"]
    model = ks.open(realworld / "mnist_mlp.h5")
    table = ks.layers(model).set_index("path")
    assert abs(table.loc["dense", "alpha"] - expected) < 0.01
    fig = ks.spectrum(model, "dense")
    assert isinstance(fig, go.Figure) and f"power law, alpha = {expected:.2f}" in [
        t.name for t in fig.data
    ]
    summary = ks.spectral_summary(model)
    assert summary["layers"] == 3  # dense_2 (64 x 10) too: 10 eigenvalues, at least 8
    assert summary["alpha"] == pytest.approx(table["alpha"].dropna().mean())
    traps = ks.traps(model, "dense")
    assert "trap(s)" in traps.layout.title.subtitle.text
    with pytest.raises(ValueError, match="no spectrum"):
        ks.spectrum(model, "dense", "bias")


def test_mistakes_say_what_exists(net: keras.Model, saved: Path) -> None:
    with pytest.raises(LayerNotFound, match="layers are: .*conv"):
        ks.filters(net, "nope")
    with pytest.raises(ValueError, match="no weight to draw as filters; it has: kernel"):
        ks.filters(net, "hidden")
    with pytest.raises(LayerNotFound, match="has no weight 'kernel'; it has: gamma"):
        ks.heatmap(net, "bn")
    with pytest.raises(ValueError, match=r"hidden/bias \(5,\) cannot be drawn as heatmap"):
        ks.heatmap(net, "hidden", "bias")
    with pytest.raises(TypeError, match="layer must be"):
        ks.heatmap(net, 3)  # type: ignore[arg-type]
    with pytest.raises(KerascopeError):
        ks.open(saved.with_name("missing.keras"))
    with pytest.raises(KerascopeError, match="cannot open a list"):
        ks.heatmap([1, 2], "hidden")


def test_health_is_the_whole_model_scan(saved: Path) -> None:
    from kerascope.extraction.analysis.health import findings_json, model_findings

    model = keras.Sequential(
        [keras.Input((6,)), layers.Dense(40, name="broken"), layers.Dense(3, name="out")],
        name="sick",
    )
    kernel, bias = model.get_layer("broken").get_weights()
    kernel[0, 0] = np.nan
    kernel[:, 3] = 0.0  # a dead unit
    model.get_layer("broken").set_weights([kernel, bias])
    table = ks.health(model)
    assert list(table.columns) == list(ks.notebook.HEALTH_COLUMNS)
    # The same findings, in the same order, as `kerascope health --json`.
    expected = findings_json(model_findings(ks.open(model)))["findings"]
    assert table.to_dict("records") == expected
    rows = set(zip(table["layer"], table["weight"], table["check"], table["severity"], strict=True))
    assert ("broken", "kernel", "nan_inf", "error") in rows
    # A check only the whole-model scan makes: "out" is still at its initial draw while
    # "broken" moved away from its own.
    assert ("out", "kernel", "fresh_layer", "warning") in rows
    ranks = [{"error": 0, "warning": 1, "info": 2}[s] for s in table["severity"]]
    assert ranks == sorted(ranks)
    assert ks.health(saved)["check"].tolist() == [
        f["check"] for f in findings_json(model_findings(ks.open(saved)))["findings"]
    ]


@pytest.mark.slow  # trains the demo when the session has not yet
def test_health_of_a_trained_model_without_faults() -> None:
    table = ks.health("demo:digits_mlp")
    assert table.empty or not (table["severity"] == "error").any()


def test_figures_are_plain_plotly_json(saved: Path) -> None:
    # What Jupyter's plotly renderer sends: the figure must survive plotly's own JSON encoder.
    fig = ks.filters(saved, "conv")
    assert json.loads(pio.to_json(fig))["data"][0]["type"] == "heatmap"


def test_import_is_light() -> None:
    # `import kerascope` (and the command) must not pull in Streamlit, plotly or TensorFlow;
    # the figures import plotly, still never Streamlit.
    code = (
        "import sys, kerascope\n"
        "print(sorted(m for m in ('streamlit', 'plotly', 'tensorflow') if m in sys.modules))\n"
        "kerascope.histogram\n"
        "print(sorted(m for m in ('streamlit', 'plotly', 'tensorflow') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.splitlines() == ["[]", "['plotly']"], done.stderr


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three epochs of a small model, recorded with ``ks.WeightRecorder`` during ``fit``."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.Input((4,)), layers.Dense(3, name="hidden"), layers.Dense(1, name="out")],
        name="recorded",
    )
    model.compile("sgd", "mse")
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    folder = tmp_path_factory.mktemp("ws_run") / "my_run"
    recorder = ks.WeightRecorder(folder)
    assert isinstance(recorder, keras.callbacks.Callback)
    model.fit(x, x[:, :1], epochs=3, batch_size=8, verbose=0, callbacks=[recorder])
    return folder


def test_timeline_of_a_recorded_run(recorded_run: Path) -> None:
    from kerascope.extraction.analysis.timeline import timeline

    run = ks.open_run(recorded_run)
    assert [s.step for s in run.snapshots] == [0, 1, 2, 3]
    numbers = timeline(run).as_json()["weights"]
    fig = ks.timeline(recorded_run)
    assert type(fig) is go.Figure
    assert len(fig.data) == len(numbers) * 3  # l2, std and update ratio of every weight
    by_name = {trace.name: trace for trace in fig.data}
    l2 = by_name["hidden/kernel l2"]
    assert list(l2.x) == [0, 1, 2, 3]
    np.testing.assert_allclose(l2.y, numbers["hidden/kernel"]["l2"])
    ratio = by_name["hidden/kernel update_ratio"].y
    assert np.isnan(ratio[0]) and all(r > 0 for r in ratio[1:])  # it trained, every epoch


def test_timeline_of_chosen_weights(recorded_run: Path) -> None:
    one = ks.timeline(ks.open_run(recorded_run), "out", metrics=["l2"])
    assert sorted(t.name for t in one.data) == ["out/bias l2", "out/kernel l2"]
    with pytest.raises(ValueError, match="has no weight .*it has: hidden/kernel"):
        ks.timeline(recorded_run, ["nope/kernel"])
    with pytest.raises(ValueError, match="unknown metric"):
        ks.timeline(recorded_run, metrics=["speed"])


def test_timeline_of_a_folder_that_is_no_run(saved: Path) -> None:
    with pytest.raises(KerascopeError, match="is not a run"):
        ks.timeline(saved.parent)


def test_a_run_opens_as_its_latest_snapshot(recorded_run: Path) -> None:
    latest = ks.open_run(recorded_run).model(3)
    fig = ks.heatmap(recorded_run, "hidden")
    np.testing.assert_allclose(
        np.asarray(fig.data[0].z, dtype=np.float64),
        latest.layer("hidden").weight("kernel").array(),
        rtol=1e-6,
    )
