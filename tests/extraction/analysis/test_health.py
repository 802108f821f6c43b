"""The whole-model health scan: planted faults found on the right layer and weight, healthy models
left alone (the shared real-world corpus, the built-in demos)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np
import pytest
from keras import layers

from kerascope.extraction import open_model
from kerascope.extraction.analysis.diagnostics import SEVERITY_ORDER, Finding
from kerascope.extraction.analysis.health import (
    alpha_finding,
    findings_json,
    layer_verdicts,
    model_findings,
)
from kerascope.extraction.analysis.scale import SCALE_ALONE_FACTOR
from kerascope.extraction.models.demos import DEMOS, ensure_demo
from kerascope.extraction.readers.live import read_live

CORPUS = (
    "mnist_mlp.h5",
    "mnist_cnn.keras",
    "melody_lstm.keras",
    "style_transfer_keras2.keras",
    "digits_savedmodel_keras2",
)


def by_check(found: list[Finding], check: str) -> list[Finding]:
    return [f for f in found if f.check == check]


def assert_ranked(found: list[Finding]) -> None:
    ranks = [SEVERITY_ORDER[f.severity] for f in found]
    assert ranks == sorted(ranks)


@pytest.fixture(scope="module")
def planted_mlp(realworld: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the real-world MLP with four faults written into the file with h5py."""
    path = tmp_path_factory.mktemp("planted") / "mnist_mlp_planted.h5"
    shutil.copyfile(realworld / "mnist_mlp.h5", path)
    with h5py.File(path, "r+") as f:
        weights = f["model_weights"]
        kernel = weights["dense/sequential/dense/kernel"]
        values = kernel[...]
        values[:, 40:60] = 0.0  # 20 dead units
        kernel[...] = values
        scaled = weights["dense_1/sequential/dense_1/kernel"]
        scaled[...] = scaled[...] * 500.0
        last = weights["dense_2/sequential/dense_2/kernel"]
        values = last[...]
        values[5, 3] = np.nan
        last[...] = values
        bias = weights["dense_2/sequential/dense_2/bias"]
        values = bias[...]
        values[7] = np.inf
        bias[...] = values
    return path


def test_faults_planted_in_a_real_world_file_are_found_on_their_layer(planted_mlp: Path) -> None:
    found = model_findings(open_model(planted_mlp))
    assert_ranked(found)
    errors = {(f.layer, f.weight, f.check) for f in found if f.severity == "error"}
    assert errors == {
        ("dense_1", "kernel", "scale"),
        ("dense_2", "kernel", "nan_inf"),
        ("dense_2", "bias", "nan_inf"),
    }
    (scale,) = by_check(found, "scale")
    assert "larger than glorot_uniform" in scale.message
    (dead,) = by_check(found, "dead_units")
    assert (dead.layer, dead.weight, dead.severity) == ("dense", "kernel", "warning")
    assert dead.indices == tuple(range(40, 60)) and dead.unit == "unit"
    nan = next(f for f in found if f.check == "nan_inf" and f.weight == "kernel")
    assert nan.indices == (3,)
    inf = next(f for f in found if f.check == "nan_inf" and f.weight == "bias")
    assert inf.indices == (7,) and inf.unit == "position"


@pytest.mark.parametrize("name", CORPUS)
def test_real_world_models_get_no_error_and_only_true_warnings(realworld: Path, name: str) -> None:
    found = model_findings(open_model(realworld / name))
    assert [f for f in found if f.severity == "error"] == []
    warnings = [f for f in found if f.severity == "warning"]
    assert len(warnings) <= 2
    model = open_model(realworld / name)
    for w in warnings:
        # The only warnings on this corpus are dead filters, and they are really dead: at least
        # a tenth of the filters have a norm a thousand times below the median.
        assert w.check == "dead_units"
        kernel = np.asarray(model.layer(w.layer).weight(w.weight).array(), dtype=np.float64)
        norms = np.sqrt(np.square(kernel.reshape(-1, kernel.shape[-1])).sum(axis=0))
        assert np.all(norms[list(w.indices)] < 1e-3 * np.median(norms))
        assert len(w.indices) >= 0.1 * norms.size


def test_style_transfer_dead_channels_after_dead_filters_are_a_consequence(
    realworld: Path,
) -> None:
    found = model_findings(open_model(realworld / "style_transfer_keras2.keras"))
    warned = {f.layer for f in found if f.severity == "warning"}
    assert warned == {"block_7_expand", "block_8_expand"}
    follow = next(f for f in found if f.layer == "block_8_depthwise")
    assert follow.severity == "info" and "dead filters of block_8_expand" in follow.message


@pytest.mark.slow  # trains each demo once per test session when its cache is cold
@pytest.mark.parametrize("name", sorted(DEMOS))
def test_built_in_demos_are_healthy(name: str) -> None:
    found = model_findings(open_model(ensure_demo(name)))
    assert [f for f in found if f.severity != "info"] == []


@pytest.fixture(scope="module")
def trained_cnn_file() -> Path:
    return ensure_demo("digits_cnn")


def trained_cnn(path: Path) -> Any:
    return keras.models.load_model(path)


def test_dead_filters_and_a_scaled_layer_in_a_trained_cnn(trained_cnn_file: Path) -> None:
    model = trained_cnn(trained_cnn_file)
    conv2 = model.get_layer("conv2")
    kernel, bias = conv2.get_weights()
    kernel[..., [3, 17, 30]] = 0.0
    conv2.set_weights([kernel, bias])
    dense = model.get_layer("dense")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel * 500.0, bias])
    found = model_findings(read_live(model))
    dead = next(f for f in found if f.check == "dead_units" and f.layer == "conv2")
    assert dead.weight == "kernel" and dead.unit == "filter" and dead.indices == (3, 17, 30)
    assert dead.severity == "info"  # 3 of 32 is under a tenth
    (scale,) = by_check(found, "scale")
    assert (scale.layer, scale.weight, scale.severity) == ("dense", "kernel", "error")
    assert [f.check for f in found if f.severity == "error"] == ["scale"]


def test_a_shrunken_layer_is_out_of_line_too(trained_cnn_file: Path) -> None:
    model = trained_cnn(trained_cnn_file)
    conv1 = model.get_layer("conv1")
    kernel, bias = conv1.get_weights()
    conv1.set_weights([kernel * 0.01, bias])
    (scale,) = by_check(model_findings(read_live(model)), "scale")
    assert scale.layer == "conv1" and scale.severity == "error" and "smaller" in scale.message


def test_a_re_initialised_layer_in_a_trained_model_is_a_fresh_layer(
    trained_cnn_file: Path,
) -> None:
    model = trained_cnn(trained_cnn_file)
    dense = model.get_layer("dense")
    kernel, bias = dense.get_weights()
    fresh = keras.initializers.GlorotUniform(seed=3)(kernel.shape)
    dense.set_weights([np.asarray(fresh), np.zeros_like(bias)])
    found = model_findings(read_live(model))
    assert by_check(found, "untrained") == []
    (warning,) = by_check(found, "fresh_layer")
    assert (warning.layer, warning.weight, warning.severity) == ("dense", "kernel", "warning")


def small_cnn() -> Any:
    return keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            layers.Conv2D(8, 3, name="conv1"),
            layers.BatchNormalization(name="bn"),
            layers.Conv2D(16, 3, kernel_initializer="he_normal", name="conv2"),
            layers.Flatten(),
            layers.Dense(10, name="out"),
        ]
    )


def test_a_fresh_cnn_is_one_model_level_untrained_finding() -> None:
    found = model_findings(read_live(small_cnn()))
    assert found[0].check == "untrained" and found[0].severity == "error"
    assert found[0].layer == "" and "glorot_uniform / he_normal" in found[0].message
    assert by_check(found, "constant_bias") == []  # folded into the one finding
    assert [f for f in found if f.severity != "info"] == [found[0]]


def test_a_whole_model_finding_is_every_weighted_layers_verdict() -> None:
    records = read_live(small_cnn())
    verdicts = layer_verdicts(records, model_findings(records))
    weighted = {layer.path for layer in records.weighted_layers()}
    assert {verdicts[path] for path in weighted} == {"error"}  # as Health says of the model
    assert {v for path, v in verdicts.items() if path not in weighted} == {"none"}


def test_a_layer_finding_is_its_own_verdict_and_the_rest_stay_ok(planted_mlp: Path) -> None:
    records = open_model(planted_mlp)
    verdicts = layer_verdicts(records, model_findings(records))
    assert verdicts["dense_2"] == "error" and verdicts["dense_1"] == "error"  # NaN, 500x scale
    assert verdicts["dense"] == "warning"  # 20 of 128 units dead
    assert set(verdicts) == {layer.path for layer in records.layers}


def test_a_trained_bias_means_not_untrained() -> None:
    model = small_cnn()
    out = model.get_layer("out")
    kernel, bias = out.get_weights()
    out.set_weights([kernel, bias + 0.01])
    assert by_check(model_findings(read_live(model)), "untrained") == []


@pytest.mark.slow
def test_untrained_vgg16_is_flagged() -> None:
    found = model_findings(read_live(keras.applications.VGG16(weights=None)))
    assert [(f.check, f.layer) for f in found if f.severity == "error"] == [("untrained", "")]
    assert "16 kernels" in found[0].message


def test_one_kernel_has_no_peers_and_is_judged_against_its_initializer_alone() -> None:
    dense = layers.Dense(16, name="only")
    model = keras.Sequential([keras.Input((32,)), dense])
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel * 5.0, bias + 0.1])
    assert by_check(model_findings(read_live(model)), "scale") == []
    dense.set_weights([kernel * SCALE_ALONE_FACTOR * 2, bias + 0.1])
    (scale,) = by_check(model_findings(read_live(model)), "scale")
    assert scale.layer == "only" and scale.severity == "error" and "peers" not in scale.message


def test_findings_json_and_progress() -> None:
    model = small_cnn()
    seen: list[tuple[float, str]] = []
    found = model_findings(read_live(model), progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("conv2" in m for _, m in seen)
    data = findings_json(found)
    first = data["findings"][0]
    assert set(first) == {"layer", "weight", "check", "severity", "message", "indices", "unit"}
    assert first["check"] == "untrained"


def test_alpha_findings_follow_weightwatchers_warnings() -> None:
    rng = np.random.default_rng(0)
    dense = layers.Dense(500, name="d")
    model = keras.Sequential([keras.Input((1000,)), dense])
    bias = np.linspace(-1, 1, 500).astype("float32")
    dense.set_weights([rng.standard_normal((1000, 500)).astype("float32"), bias])
    layer = read_live(model).layer("d")
    random = alpha_finding(layer, layer.weight("kernel"))
    assert random is not None and "random matrix" in random.message
    assert "warns under-trained" in random.message
    dense.set_weights([rng.standard_t(1.5, (1000, 500)).astype("float32"), bias])
    layer = read_live(model).layer("d")
    heavy = alpha_finding(layer, layer.weight("kernel"))
    assert heavy is not None and "over-trained" in heavy.message and heavy.severity == "info"
    # WeightWatcher fits 8 eigenvalues and warns on them: so does the scan, saying it is short.
    small = layers.Dense(8, name="s")
    tiny = keras.Sequential([keras.Input((30,)), small])
    small.set_weights([rng.standard_t(1.2, (30, 8)).astype("float32"), bias[:8]])
    (short,) = by_check(model_findings(read_live(tiny)), "spectral_alpha")
    assert "of 8 eigenvalues" in short.message and "says little" in short.message
    # Seven are too few for WeightWatcher: no fit, no finding.
    small = layers.Dense(7, name="s")
    tiny = keras.Sequential([keras.Input((30,)), small])
    small.set_weights([rng.standard_t(1.2, (30, 7)).astype("float32"), bias[:7]])
    assert by_check(model_findings(read_live(tiny)), "spectral_alpha") == []


def test_recurrent_kernels_are_judged_as_labelled_extensions() -> None:
    rng = np.random.default_rng(1)
    lstm = layers.LSTM(64, name="lstm")
    model = keras.Sequential([keras.Input((5, 300)), lstm])
    kernel, recurrent, bias = lstm.get_weights()
    heavy = rng.standard_t(1.3, recurrent.shape).astype("float32")
    lstm.set_weights([kernel, heavy, bias])
    found = [f for f in by_check(model_findings(read_live(model)), "spectral_alpha")]
    (finding,) = [f for f in found if f.weight == "recurrent_kernel"]
    assert "An extension" in finding.message and "recurrent kernel" in finding.message


def test_grown_embeddings_are_not_out_of_scale_but_a_blown_up_kernel_is() -> None:
    model = keras.Sequential(
        [
            keras.Input((6,), dtype="int32"),
            layers.Embedding(100, 16, name="emb"),
            layers.Flatten(),
            layers.Dense(32, name="d1"),
            layers.Dense(16, name="d2"),
            layers.Dense(4, name="d3"),
        ]
    )
    rng = np.random.default_rng(0)
    (table,) = model.get_layer("emb").get_weights()
    model.get_layer("emb").set_weights([table * 30.0])  # embeddings grow far past 0.05
    for name in ("d1", "d2", "d3"):
        dense = model.get_layer(name)
        kernel, bias = dense.get_weights()
        dense.set_weights([kernel * 1.5, bias + rng.normal(0, 0.1, bias.shape).astype("float32")])
    assert by_check(model_findings(read_live(model)), "scale") == []
    d2 = model.get_layer("d2")
    kernel, bias = d2.get_weights()
    d2.set_weights([kernel * 500.0, bias])
    (scale,) = by_check(model_findings(read_live(model)), "scale")
    assert (scale.layer, scale.weight, scale.severity) == ("d2", "kernel", "error")


def test_quantized_kernels_are_not_judged_against_a_float_initializer() -> None:
    from kerascope.extraction.readers.store import ArrayStore
    from kerascope.extraction.records import LayerWeights, ModelWeights

    rng = np.random.default_rng(0)
    store = ArrayStore()

    def dense(path: str, values: np.ndarray) -> LayerWeights:  # type: ignore[type-arg]
        return LayerWeights(path, path, "Dense", "dense", {}, (store.weight("kernel", values),))

    stored = rng.integers(-127, 128, (256, 64)).astype(np.int8)  # int8 as TFLite stores it
    floats = [dense(f"f{i}", rng.normal(0, 0.3, (64, 32)).astype(np.float32)) for i in range(3)]
    model = ModelWeights("x", "tflite", "m", (dense("q", stored), *floats), store=store)
    found = model_findings(model)
    assert by_check(found, "scale") == []
    assert [f for f in found if f.layer == "q"] == []  # nor a spectrum of its stored values


def test_a_recurrent_kernel_still_at_its_orthogonal_init_is_reported() -> None:
    keras.utils.set_random_seed(3)
    lstm = layers.LSTM(64, name="lstm")
    model = keras.Sequential([keras.Input((5, 8)), lstm, layers.Dense(4, name="out")], name="rnn")
    rng = np.random.default_rng(0)
    kernel, recurrent, bias = (np.array(w) for w in lstm.get_weights())
    # The input kernel and bias trained (moved off their start), the recurrence did not.
    lstm.set_weights([kernel * 3.0 + rng.normal(size=kernel.shape) * 0.05, recurrent, bias + 0.1])
    out = model.get_layer("out")
    out.set_weights([w * 2.0 + 0.01 for w in out.get_weights()])
    found = model_findings(read_live(model))
    fresh = [f for f in by_check(found, "fresh_layer") if f.layer == "lstm"]
    assert [f.weight for f in fresh] == ["recurrent_kernel"]
    assert "still exactly orthogonal" in fresh[0].message
    assert not [f for f in by_check(found, "spectral_alpha") if f.weight == "recurrent_kernel"]


def test_spectral_findings_can_leave_big_spectra_to_a_background_job() -> None:
    from kerascope.extraction.analysis.health import spectral_findings
    from kerascope.extraction.analysis.spectrum import MEMO_KEY

    rng = np.random.default_rng(3)
    small, big = layers.Dense(16, name="small"), layers.Dense(64, name="big")
    model = keras.Sequential([keras.Input((200,)), big, small])
    big.set_weights([rng.standard_t(1.3, (200, 64)).astype("float32"), np.zeros(64, "float32")])
    small.set_weights([rng.standard_t(1.3, (64, 16)).astype("float32"), np.zeros(16, "float32")])
    records = read_live(model)
    found, pending = spectral_findings(records, compute_up_to=5000)
    assert pending == 1 and [f.layer for f in found] == ["small"]
    assert not records.layer("big").weight("kernel").has_computed(MEMO_KEY)
    found, pending = spectral_findings(records)
    assert pending == 0 and {f.layer for f in found} == {"small", "big"}
