"""The TF.js reader on layers models written in the documented format from real Keras models
(float32 and uint8-quantized, several shards), as a folder, a ``model.json`` path and a zip; and
on a graph model's manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _exports import keras_models, tfjs_exports, write_tfjs

from kerascope.extraction.api import open_model
from kerascope.extraction.errors import CorruptFile, UnsafeModel


@pytest.fixture(scope="module")
def tfjs() -> dict[str, Path]:
    return tfjs_exports()


@pytest.fixture(scope="module")
def cnn() -> Any:
    return keras_models()[0]


def _keras_weights(model: Any) -> dict[tuple[str, str], np.ndarray[Any, Any]]:
    out = {}
    for layer in model.layers:
        for w in layer.weights:
            out[(layer.name, w.path.rsplit("/", 1)[-1])] = np.asarray(w.numpy())
    return out


@pytest.mark.parametrize("how", ["folder", "model.json", "zip"])
def test_float_layers_model_matches_keras(tfjs: dict[str, Path], cnn: Any, how: str) -> None:
    source = {"folder": tfjs["float"], "model.json": tfjs["float"] / "model.json"}.get(
        how, tfjs["zip"]
    )
    records = open_model(source)
    assert records.format == "tfjs" and records.name == "cnn"
    assert [layer.name for layer in records.layers] == [layer.name for layer in cnn.layers]
    assert [layer.class_name for layer in records.layers] == [
        type(layer).__name__ for layer in cnn.layers
    ]
    if how == "zip":
        return  # the zip holds the uint8 export, checked below
    expected = _keras_weights(cnn)
    got = {(layer.name, w.name): w.array() for layer, w in records.iter_weights()}
    assert set(got) == set(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value)


def test_uint8_is_dequantized_exactly_as_tfjs(tfjs: dict[str, Path], cnn: Any) -> None:
    folder = tfjs["uint8"]
    doc = json.loads((folder / "model.json").read_text())
    (group,) = doc["weightsManifest"]
    assert len(group["paths"]) > 1  # several shards, joined in manifest order
    blob = b"".join((folder / p).read_bytes() for p in group["paths"])
    records = open_model(folder)
    ours = {f"{layer.name}/{w.name}": w for layer, w in records.iter_weights()}
    expected_keras = _keras_weights(cnn)
    offset = 0
    for entry in group["weights"]:
        n = int(np.prod(entry["shape"]))
        stored = np.frombuffer(blob[offset : offset + n], dtype=np.uint8).reshape(entry["shape"])
        offset += n
        q = entry["quantization"]
        expected = (stored.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
        layer, weight = entry["name"].split("/")[-2:]
        w = ours[f"{layer}/{weight}"]
        assert w.dtype == "float32"
        np.testing.assert_array_equal(w.array(), expected)
        assert np.max(np.abs(w.array() - expected_keras[(layer, weight)])) <= q["scale"] / 2 + 1e-6
    assert any("dequantized as TF.js does" in n for n in records.notes)


def test_recurrent_weights_are_named_as_keras_names_them(tfjs: dict[str, Path]) -> None:
    rnn = keras_models()[1]
    records = open_model(tfjs["rnn"])
    lstm = records.layer("lstm")
    assert [w.name for w in lstm.weights] == ["kernel", "recurrent_kernel", "bias"]
    assert lstm.kind == "lstm"
    np.testing.assert_array_equal(
        lstm.weight("recurrent_kernel").array(),
        rnn.get_layer("lstm").cell.recurrent_kernel.numpy(),
    )


def test_float16_quantization_is_widened(tmp_path: Path, cnn: Any) -> None:
    folder = write_tfjs(cnn, tmp_path / "f16", quantize=None, shard_bytes=1 << 20)
    doc = json.loads((folder / "model.json").read_text())
    group = doc["weightsManifest"][0]
    blob = (folder / group["paths"][0]).read_bytes()
    halves = np.frombuffer(blob, dtype="<f4").astype(np.float16)
    (folder / group["paths"][0]).write_bytes(halves.tobytes())
    for entry in group["weights"]:
        entry["quantization"] = {"dtype": "float16"}
    (folder / "model.json").write_text(json.dumps(doc))
    kernel = open_model(folder).layer("fc").weight("kernel")
    assert kernel.dtype == "float32"
    expected = cnn.get_layer("fc").kernel.numpy().astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(kernel.array(), expected)


def test_graph_model_lists_weights_by_node_name(tmp_path: Path) -> None:
    values = np.arange(6, dtype="<f4")
    (tmp_path / "group1-shard1of1.bin").write_bytes(values.tobytes())
    doc = {
        "format": "graph-model",
        "modelTopology": {"node": [{"name": "x", "op": "Placeholder"}]},
        "weightsManifest": [
            {
                "paths": ["group1-shard1of1.bin"],
                "weights": [
                    {"name": "StatefulPartitionedCall/m/dense/MatMul", "shape": [2, 2],
                     "dtype": "float32"},
                    {"name": "StatefulPartitionedCall/m/dense/BiasAdd", "shape": [2],
                     "dtype": "float32"},
                ],
            }
        ],
    }  # fmt: skip
    (tmp_path / "model.json").write_text(json.dumps(doc))
    records = open_model(tmp_path / "model.json")
    layer = records.layer("StatefulPartitionedCall/m/dense")
    assert [w.name for w in layer.weights] == ["MatMul", "BiasAdd"]
    np.testing.assert_array_equal(layer.weight("BiasAdd").array(), values[4:])


def _copy(tfjs: dict[str, Path], tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path / "copy"
    shutil.copytree(tfjs["float"], folder)
    return folder, json.loads((folder / "model.json").read_text())


def test_a_shard_path_leaving_the_folder_is_refused(tfjs: dict[str, Path], tmp_path: Path) -> None:
    folder, doc = _copy(tfjs, tmp_path)
    doc["weightsManifest"][0]["paths"] = ["../../etc/passwd"]
    (folder / "model.json").write_text(json.dumps(doc))
    with pytest.raises(UnsafeModel, match="leaves the model folder"):
        open_model(folder)


def test_a_manifest_larger_than_its_shards_is_refused(
    tfjs: dict[str, Path], tmp_path: Path
) -> None:
    folder, doc = _copy(tfjs, tmp_path)
    doc["weightsManifest"][0]["weights"][0]["shape"] = [4096, 4096]
    (folder / "model.json").write_text(json.dumps(doc))
    with pytest.raises(CorruptFile, match="shards hold"):
        open_model(folder)


def test_a_missing_shard_says_to_upload_the_folder(tfjs: dict[str, Path], tmp_path: Path) -> None:
    folder, _ = _copy(tfjs, tmp_path)
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(folder / "model.json", lone / "model.json")
    with pytest.raises(CorruptFile, match="missing"):
        open_model((lone / "model.json").read_bytes(), name="model.json")
