"""The TFLite reader on files the real converter wrote, checked against TensorFlow's own readers
(``flatbuffer_utils`` for every subgraph, the interpreter for the main one) and against the Keras
model they came from."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _exports import Exports, exports

from kerascope.extraction.api import open_model
from kerascope.extraction.errors import CorruptFile, KerascopeError, UnsafeModel
from kerascope.extraction.records import LayerWeights, ModelWeights, Weight

pytestmark = pytest.mark.slow  # the session's conversions (about 10 s of CPU) come first

_TF_DTYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 7: "int16",
              9: "int8", 10: "float64"}  # fmt: skip


@pytest.fixture(scope="module")
def made() -> Exports:
    return exports()


def _keras_name(path: str) -> list[str]:
    """The Keras layer names a TFLite scope spells (``cnn_1/conv_1`` -> ``conv``)."""
    return [re.sub(r"_\d+$", "", s) for s in path.split("/")]


def _layer(model: ModelWeights, keras_name: str) -> LayerWeights:
    hits = [
        layer
        for layer in model.weighted_layers()
        if layer.class_name != "Constant" and keras_name in _keras_name(layer.path)[1:]
    ]
    assert len(hits) == 1, [layer.path for layer in model.layers]
    return hits[0]


def _keras(model: Any, name: str, weight: str) -> np.ndarray[Any, Any]:
    layer = model.get_layer(name)
    return np.asarray(next(w for w in layer.weights if w.path.endswith(weight)).numpy())


def _by_tensor_name(model: ModelWeights) -> dict[str, Weight]:
    out: dict[str, Weight] = {}
    for layer, w in model.iter_weights():
        out[w.name] = w
        out[f"{layer.path}/{w.name}"] = w
    return out


@pytest.mark.parametrize("variant", ["float32", "float16", "dynamic_int8", "int8", "rnn"])
def test_every_constant_tensor_of_every_subgraph_is_read_as_stored(
    made: Exports, variant: str
) -> None:
    from tensorflow.lite.tools import flatbuffer_utils

    path = made.tflite[variant]
    model = open_model(path)
    assert model.format == "tflite"
    reference = flatbuffer_utils.read_model(str(path))
    ours = _by_tensor_name(model)
    seen_buffers: set[int] = set()
    checked = 0
    for subgraph in reference.subgraphs:
        for t in subgraph.tensors:
            data = reference.buffers[t.buffer].data
            if data is None or t.buffer in seen_buffers:
                continue
            seen_buffers.add(t.buffer)
            w = ours[t.name.decode()]
            expected = np.frombuffer(data.tobytes(), dtype=_TF_DTYPES[t.type])
            assert w.dtype == _TF_DTYPES[t.type], t.name
            assert w.shape == tuple(t.shape if t.shape is not None else ())
            np.testing.assert_array_equal(w.array().reshape(-1), expected)
            if t.quantization is not None and t.quantization.scale is not None:
                assert w.quantization is not None
                np.testing.assert_allclose(w.quantization.scale, t.quantization.scale)
            checked += 1
    assert checked == sum(1 for _ in model.iter_weights())


def test_the_interpreter_agrees_on_the_main_subgraph(made: Exports) -> None:
    import tensorflow as tf

    path = made.tflite["int8"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the interpreter warns that it is deprecated
        interpreter = tf.lite.Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
    ours = _by_tensor_name(open_model(path))
    compared = 0
    for detail in interpreter.get_tensor_details():
        w = ours.get(detail["name"])
        if w is None or w.role not in ("kernel", "bias"):
            continue
        np.testing.assert_array_equal(w.array(), interpreter.get_tensor(detail["index"]))
        q = detail["quantization_parameters"]
        assert w.quantization is not None
        np.testing.assert_allclose(w.quantization.scale, q["scales"], rtol=1e-7)
        assert w.quantization.zero_point == tuple(int(z) for z in q["zero_points"])
        if len(q["scales"]) > 1:
            assert w.quantization.axis == q["quantized_dimension"]
        compared += 1
    assert compared == 8  # kernel and bias of conv, dw, deconv, fc


@pytest.mark.parametrize("name", ["conv", "dw", "deconv", "fc"])
def test_float32_layers_are_named_and_laid_out_as_keras(made: Exports, name: str) -> None:
    model = open_model(made.tflite["float32"])
    layer = _layer(model, name)
    assert layer.class_name == made.cnn.get_layer(name).__class__.__name__
    kernel = layer.by_role("kernel")[0].keras_axes()
    np.testing.assert_array_equal(kernel.array(), _keras(made.cnn, name, "kernel"))
    assert kernel.shape == kernel.array().shape
    (bias,) = layer.by_role("bias")
    np.testing.assert_array_equal(bias.array(), _keras(made.cnn, name, "bias"))


def test_float16_weights_stay_float16_and_link_to_their_consumer(made: Exports) -> None:
    model = open_model(made.tflite["float16"])
    kernel = _layer(model, "conv").by_role("kernel")[0]
    assert kernel.dtype == "float16" and kernel.array().dtype == np.float16
    expected = _keras(made.cnn, "conv", "kernel").astype(np.float16)
    np.testing.assert_array_equal(kernel.keras_axes().array(), expected)
    note = next(n for n in model.notes if "DEQUANTIZE" in n)
    assert "CONV_2D in cnn_1/conv_1" in note


@pytest.mark.parametrize("name", ["conv", "dw", "deconv", "fc"])
def test_int8_per_channel_weights_dequantize_close_to_keras(made: Exports, name: str) -> None:
    layer = _layer(open_model(made.tflite["int8"]), name)
    kernel = layer.by_role("kernel")[0]
    q = kernel.quantization
    assert kernel.dtype == "int8" and q is not None and q.per_channel
    real = kernel.dequantized().keras_axes().array()
    keras_kernel = _keras(made.cnn, name, "kernel")
    assert real.dtype == np.float32 and real.shape == keras_kernel.shape
    assert np.max(np.abs(real - keras_kernel)) <= max(q.scale) / 2 + 1e-7
    assert kernel.array().dtype == np.int8  # the derived view never replaced the stored one
    (bias,) = layer.by_role("bias")
    assert bias.dtype == "int32"


def test_dynamic_range_int8_quantizes_only_the_large_kernel(made: Exports) -> None:
    model = open_model(made.tflite["dynamic_int8"])
    fc = _layer(model, "fc").by_role("kernel")[0]
    assert fc.dtype == "int8" and fc.quantization is not None
    conv = _layer(model, "conv").by_role("kernel")[0]
    assert conv.dtype == "float32" and conv.quantization is None


def test_recurrent_weights_found_in_while_bodies(made: Exports) -> None:
    model = open_model(made.tflite["rnn"])
    lstm, gru = _layer(model, "lstm"), _layer(model, "gru")
    assert (lstm.class_name, lstm.kind, gru.class_name, gru.kind) == ("LSTM", "lstm", "GRU", "gru")
    assert "while" in lstm.path
    for layer, name in ((lstm, "lstm"), (gru, "gru")):
        for role in ("kernel", "recurrent_kernel"):
            (w,) = layer.by_role(role)  # type: ignore[arg-type]
            np.testing.assert_array_equal(w.keras_axes().array(), _keras(made.rnn, name, role))
    np.testing.assert_array_equal(lstm.by_role("bias")[0].array(), _keras(made.rnn, "lstm", "bias"))
    gru_bias = _keras(made.rnn, "gru", "bias")  # (2, 3 * units): input bias, recurrent bias
    stored = sorted(tuple(b.array()) for b in gru.by_role("bias"))
    assert stored == sorted(tuple(row) for row in gru_bias)


def test_inspect_and_export_through_the_cli(made: Exports, tmp_path: Path) -> None:
    from kerascope.extraction.cli import inspect_json, main

    path = made.tflite["int8"]
    data = inspect_json(open_model(path))
    fc = next(layer for layer in data["layers"] if layer["path"] == "cnn_1/fc_1")
    kernel = fc["weights"][0]
    assert kernel["dtype"] == "int8" and kernel["quantization"]["axis"] == 0
    assert len(kernel["quantization"]["scale"]) == 16
    out = tmp_path / "int8.npz"
    assert main(["export", str(path), "--out", str(out)]) == 0
    with np.load(out) as npz:
        assert npz["cnn_1/fc_1/MatMul"].dtype == np.int8
        assert npz["cnn_1/fc_1/MatMul/scale"].shape == (16,)
        assert npz["cnn_1/fc_1/MatMul/zero_point"].dtype == np.int64
        np.testing.assert_array_equal(
            npz["cnn_1/fc_1/MatMul"], open_model(path).layer("cnn_1/fc_1").weights[0].array()
        )


def _shape_position(data: bytes, tensor_name: bytes) -> int:
    """Where the first dimension of a named tensor's shape is stored in the flatbuffer."""
    import tflite

    model = tflite.Model.GetRootAsModel(data, 0)
    g = model.Subgraphs(0)
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        if t.Name() == tensor_name:
            return int(t._tab.Vector(t._tab.Offset(4)))
    raise AssertionError(tensor_name)


def test_a_shape_that_does_not_fit_its_buffer_is_refused(made: Exports, tmp_path: Path) -> None:
    data = bytearray(made.tflite["float32"].read_bytes())
    pos = _shape_position(bytes(data), b"cnn_1/fc_1/MatMul")
    data[pos : pos + 4] = (1 << 30).to_bytes(4, "little")
    bad = tmp_path / "huge.tflite"
    bad.write_bytes(bytes(data))
    with pytest.raises((CorruptFile, UnsafeModel)) as info:
        open_model(bad)
    assert "cnn_1/fc_1/MatMul" in str(info.value)


def test_damaged_files_give_one_clear_error(made: Exports, tmp_path: Path) -> None:
    good = made.tflite["int8"].read_bytes()
    rng = np.random.default_rng(5)
    outcomes = {"ok": 0, "error": 0}
    for i in range(30):
        data = bytearray(good)
        if i % 3 == 0:
            data = data[: int(rng.integers(8, len(data)))]
        else:
            for pos in rng.integers(8, len(data), 20):
                data[int(pos)] = int(rng.integers(0, 256))
        path = tmp_path / f"bad{i}.tflite"
        path.write_bytes(bytes(data))
        try:
            for _, w in open_model(path).iter_weights():
                w.array()
            outcomes["ok"] += 1
        except KerascopeError as exc:
            assert "\n" not in str(exc)
            outcomes["error"] += 1
    assert outcomes["error"] > 0
