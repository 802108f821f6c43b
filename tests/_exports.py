"""Real exports of small Keras models, made once per test session by the real tools.

TFLite files come from ``tf.lite.TFLiteConverter.from_keras_model`` (float32, float16,
dynamic-range int8, full int8 with a representative dataset, and a recurrent model whose LSTM
and GRU become WHILE loops). TF.js folders are written in the documented layers-model format
(``model.json`` + binary shards, uint8 quantization as the TF.js converter computes it) from a
real Keras model: the ``tensorflowjs`` pip package would downgrade TensorFlow, Keras and NumPy
here, so it is not installed.

Everything is written once into the session's cache folder (``KERASCOPE_TEST_CACHE``) and
kept in memory per process, so every test module shares one conversion.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TFLITE_VARIANTS = ("float32", "float16", "dynamic_int8", "int8")


@dataclass(frozen=True)
class Exports:
    """Where everything was written, and the Keras models it came from."""

    folder: Path
    cnn: Any
    """The Keras CNN (Conv2D, DepthwiseConv2D, Conv2DTranspose, Dense)."""
    rnn: Any
    """The Keras recurrent model (LSTM, GRU, Dense), batch size 1 so it converts to WHILE."""
    cnn_keras: Path
    tflite: dict[str, Path]
    """variant -> file, for the CNN; ``rnn`` -> the recurrent model's float32 file."""
    tfjs: dict[str, Path]
    """``float``/``uint8`` -> the TF.js folder; ``zip`` -> the uint8 folder zipped."""


def _folder() -> Path:
    base = os.environ.get("KERASCOPE_TEST_CACHE") or tempfile.mkdtemp(prefix="ks-exports-")
    # One folder per process: pytest-xdist's workers share the session's cache folder, and one
    # worker rewriting a shard while another reads it made the reads fail now and then.
    folder = Path(base) / f"exports-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def build_cnn() -> Any:
    import keras
    from keras import layers

    keras.utils.set_random_seed(11)
    init = {"bias_initializer": "random_normal"}
    inp = keras.Input((8, 8, 3), name="image")
    x = layers.Conv2D(4, 3, name="conv", **init)(inp)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw", **init)(x)
    x = layers.Conv2DTranspose(2, 3, strides=2, padding="same", name="deconv", **init)(x)
    x = layers.Flatten(name="flat")(x)
    out = layers.Dense(16, name="fc", **init)(x)
    return keras.Model(inp, out, name="cnn")


def build_rnn() -> Any:
    import keras
    from keras import layers

    keras.utils.set_random_seed(12)
    init = {"bias_initializer": "random_normal"}
    return keras.Sequential(
        [
            keras.Input((5, 3), batch_size=1),
            layers.LSTM(4, return_sequences=True, name="lstm", **init),
            layers.GRU(4, name="gru", **init),
            layers.Dense(2, name="out", **init),
        ],
        name="rnn",
    )


def _convert(model: Any, variant: str) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if variant != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if variant == "int8":
        rng = np.random.default_rng(0)

        def representative() -> Any:
            for _ in range(16):
                yield [rng.random((1, 8, 8, 3), dtype=np.float32)]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    data: bytes = converter.convert()
    return data


def write_tfjs(model: Any, folder: Path, *, quantize: str | None, shard_bytes: int) -> Path:
    """A TF.js layers model of ``model`` as the converter writes it: ``model.json`` (Keras
    config as ``modelTopology``) and ``group1-shardNofM.bin`` files of at most ``shard_bytes``.

    ``quantize="uint8"`` stores each float weight as TF.js's converter does: ``scale = (max -
    min) / 255``, ``q = round((w - min) / scale)``, with ``scale`` and ``min`` in the manifest.
    """
    folder.mkdir(parents=True, exist_ok=True)
    entries, blob = [], bytearray()
    for w in model.weights:
        value = np.asarray(w.numpy())
        entry: dict[str, Any] = {"name": w.path, "shape": list(value.shape), "dtype": "float32"}
        if quantize == "uint8":
            lo, hi = float(value.min()), float(value.max())
            scale = (hi - lo) / 255 if hi > lo else 1.0
            stored = np.round((value.astype(np.float64) - lo) / scale).astype(np.uint8)
            entry["quantization"] = {"dtype": "uint8", "scale": scale, "min": lo}
            blob += stored.tobytes()
        else:
            blob += value.astype("<f4").tobytes()
        entries.append(entry)
    chunks = [blob[i : i + shard_bytes] for i in range(0, len(blob), shard_bytes)] or [b""]
    paths = [f"group1-shard{i + 1}of{len(chunks)}.bin" for i in range(len(chunks))]
    for path, chunk in zip(paths, chunks, strict=True):
        (folder / path).write_bytes(bytes(chunk))
    doc = {
        "format": "layers-model",
        "generatedBy": "keras",
        "convertedBy": "kerascope test fixture (TF.js layers-model format)",
        "modelTopology": {"keras_version": "3", "model_config": json.loads(model.to_json())},
        "weightsManifest": [{"paths": paths, "weights": entries}],
    }
    (folder / "model.json").write_text(json.dumps(doc))
    return folder


def _zip(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"{folder.name}/{f.name}")
    return target


@functools.cache
def keras_models() -> tuple[Any, Any]:
    """The CNN and the recurrent model, built once per process."""
    return build_cnn(), build_rnn()


@functools.cache
def tfjs_exports() -> dict[str, Path]:
    """The TF.js folders (``float``, ``uint8``, ``rnn``) and ``zip``: no TFLite conversion."""
    folder = _folder()
    cnn, rnn = keras_models()
    tfjs = {
        "float": write_tfjs(cnn, folder / "tfjs_float", quantize=None, shard_bytes=1 << 20),
        "uint8": write_tfjs(cnn, folder / "tfjs_uint8", quantize="uint8", shard_bytes=700),
        "rnn": write_tfjs(rnn, folder / "tfjs_rnn", quantize=None, shard_bytes=300),
    }
    tfjs["zip"] = _zip(tfjs["uint8"], folder / "tfjs_uint8.zip")
    return tfjs


@functools.cache
def exports() -> Exports:
    """Convert and write everything once (about 10 s of TFLite conversion on a quiet machine)."""
    folder = _folder()
    cnn, rnn = keras_models()
    cnn_keras = folder / "cnn.keras"
    cnn.save(cnn_keras)
    tflite = {}
    for variant in TFLITE_VARIANTS:
        path = folder / f"cnn_{variant}.tflite"
        path.write_bytes(_convert(cnn, variant))
        tflite[variant] = path
    tflite["rnn"] = folder / "rnn_float32.tflite"
    tflite["rnn"].write_bytes(_convert(rnn, "float32"))
    return Exports(folder, cnn, rnn, cnn_keras, tflite, tfjs_exports())
