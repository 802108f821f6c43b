"""Make the WeightWatcher reference numbers the spectral tests compare against.

Not part of the test suite (it needs weightwatcher, which is no dependency of Kerascope). Run it
in a separate virtualenv with Python 3.11:

    python -m venv venv
    venv/bin/pip install torch==2.13.0                     # CPU wheel; weightwatcher imports it
    venv/bin/pip install weightwatcher==0.7.7 "tensorflow-cpu>=2.18,<2.22" "keras>=3.8,<4"
    venv/bin/python tests/data/weightwatcher/make_reference.py weights  # layers.npz, layers.json
    venv/bin/python tests/data/weightwatcher/make_reference.py numbers  # weightwatcher.json

``weights`` collects trained layers: some from the public models in ``../shared/realworld`` (read
with Kerascope's readers, since Keras 3 refuses two of the files) and some from small models it
trains on scikit-learn's 8x8 digits (seeded; a second run trains them again, so it rewrites the
committed arrays: run it only to change the set). ``numbers`` puts each array into a Keras layer of
its class (no bias), runs ``WeightWatcher(model).analyze()`` with every default, and keeps each
row's columns. The tests read ``layers.npz`` + ``layers.json`` (what each array is) and compare
with ``weightwatcher.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REALWORLD = HERE.parents[3] / "shared" / "realworld"
if not REALWORLD.is_dir():
    REALWORLD = Path("/work/shared/realworld")
COLUMNS = (
    "layer_type", "N", "M", "rf", "num_evals", "alpha", "alpha_weighted", "log_alpha_norm",
    "log_norm", "log_spectral_norm", "stable_rank", "matrix_rank", "num_pl_spikes", "D",
    "sigma", "xmin", "xmax", "warning", "status",
)  # fmt: skip

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _realworld(name: str, layers: dict[str, str]) -> dict[str, tuple[str, np.ndarray]]:
    """The first weight of each named layer of a public model, read by Kerascope's own reader
    (whose arrays the suite checks against the SHA-1s in ``realworld/expected.json``)."""
    sys.path.insert(0, str(HERE.parents[2]))
    from kerascope.extraction.api import open_model

    model = open_model(REALWORLD / name)
    stem = Path(name).stem
    return {f"{stem}/{p}": (cls, np.asarray(model.layer(p).weights[0].array())) for p, cls in
            layers.items()}  # fmt: skip


def _trained() -> dict[str, tuple[str, np.ndarray]]:
    import keras
    from sklearn.datasets import load_digits

    keras.utils.set_random_seed(0)
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target
    img = x.reshape(-1, 8, 8, 1)
    tokens = digits.data.astype("int32")
    L = keras.layers  # noqa: N806
    specs: dict[str, tuple[keras.Model, Any]] = {
        "digits_mlp": (
            keras.Sequential(
                [
                    keras.Input((64,)),
                    L.Dense(30, activation="relu", name="dense"),
                    L.Dense(24, activation="relu", name="dense_1"),
                    L.Dense(10, name="out"),
                ]
            ),
            x,
        ),
        "digits_cnn": (
            keras.Sequential(
                [
                    keras.Input((8, 8, 1)),
                    L.Conv2D(8, 5, padding="same", activation="relu", name="conv5x5"),
                    L.Conv2D(16, 3, padding="same", activation="relu", name="conv3x3"),
                    L.Conv2D(24, 2, padding="same", activation="relu", name="conv2x2_up"),
                    L.Conv2D(12, 2, padding="same", activation="relu", name="conv2x2_down"),
                    L.DepthwiseConv2D(3, padding="same", activation="relu", name="depthwise"),
                    L.SeparableConv2D(16, 3, activation="relu", name="separable"),
                    L.Conv2DTranspose(10, 3, name="transpose"),
                    L.Flatten(),
                    L.Dense(10, name="out"),
                ]
            ),
            img,
        ),
        "digits_seq": (
            keras.Sequential(
                [
                    keras.Input((8, 8)),
                    L.Conv1D(16, 8, padding="same", activation="relu", name="conv1d_k8"),
                    L.Conv1D(24, 3, padding="same", activation="relu", name="conv1d_k3"),
                    L.EinsumDense("abc,cde->abde", output_shape=(8, 8, 10), name="einsum3d"),
                    L.Flatten(),
                    L.Dense(10, name="out"),
                ]
            ),
            x.reshape(-1, 8, 8),
        ),
        "digits_embed": (
            keras.Sequential(
                [
                    keras.Input((64,), dtype="int32"),
                    L.Embedding(17, 12, name="embedding"),
                    L.Flatten(),
                    L.Dense(10, name="out"),
                ]
            ),
            tokens,
        ),
    }
    classes = {
        "dense": "Dense", "dense_1": "Dense", "conv5x5": "Conv2D", "conv3x3": "Conv2D",
        "conv2x2_up": "Conv2D", "conv2x2_down": "Conv2D", "depthwise": "DepthwiseConv2D",
        "separable": "SeparableConv2D", "transpose": "Conv2DTranspose", "conv1d_k8": "Conv1D",
        "conv1d_k3": "Conv1D", "einsum3d": "EinsumDense", "embedding": "Embedding",
    }  # fmt: skip
    out = {}
    for name, (model, inputs) in specs.items():
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(inputs, y, epochs=40, batch_size=32, verbose=0)
        for layer in model.layers:
            if layer.name in classes:
                out[f"{name}/{layer.name}"] = (classes[layer.name], layer.get_weights()[0])
    return out


def make_weights() -> None:
    arrays: dict[str, tuple[str, np.ndarray]] = {}
    arrays |= _realworld("mnist_mlp.h5", {"dense": "Dense", "dense_1": "Dense"})
    arrays |= _realworld(
        "mnist_cnn.keras",
        {"conv2d_12": "Conv2D", "conv2d_13": "Conv2D", "dense_12": "Dense", "dense_13": "Dense"},
    )
    arrays |= _realworld("melody_lstm.keras", {"dense": "Dense"})
    arrays |= _realworld("digits_savedmodel_keras2", {"dense_1": "Dense"})
    arrays |= _realworld(
        "style_transfer_keras2.keras",
        {
            "conv2d": "Conv2D",
            "block_0_depthwise": "DepthwiseConv2D",
            "block_0_project": "Conv2D",
            "block_1_expand": "Conv2D",
        },
    )
    arrays |= _trained()
    np.savez_compressed(HERE / "layers.npz", **{k: v for k, (_, v) in arrays.items()})
    manifest = {k: {"class_name": cls, "shape": list(v.shape)} for k, (cls, v) in arrays.items()}
    (HERE / "layers.json").write_text(json.dumps(manifest, indent=1) + "\n")
    sys.stderr.write(f"wrote {len(arrays)} arrays\n")


def _layer(class_name: str, shape: tuple[int, ...]) -> tuple[Any, tuple[int, ...]]:
    """A bias-free Keras layer of ``class_name`` whose first weight has ``shape``, and an input
    shape that builds it."""
    import keras

    L = keras.layers  # noqa: N806
    if class_name == "Dense":
        return L.Dense(shape[1], use_bias=False), (shape[0],)
    if class_name == "Embedding":
        return L.Embedding(shape[0], shape[1]), (4,)
    if class_name == "EinsumDense":
        return L.EinsumDense("abc,cde->abde", (None, shape[1], shape[2])), (3, shape[0])
    if class_name == "Conv1D":
        return L.Conv1D(shape[2], shape[0], use_bias=False), (shape[0] + 2, shape[1])
    size = (max(shape[0], shape[1]) + 2,) * 2
    if class_name == "Conv2D":
        return L.Conv2D(shape[3], shape[:2], use_bias=False), (*size, shape[2])
    if class_name == "DepthwiseConv2D":
        layer = L.DepthwiseConv2D(shape[:2], depth_multiplier=shape[3], use_bias=False)
        return layer, (*size, shape[2])
    if class_name == "SeparableConv2D":
        layer = L.SeparableConv2D(4, shape[:2], depth_multiplier=shape[3], use_bias=False)
        return layer, (*size, shape[2])
    if class_name == "Conv2DTranspose":
        return L.Conv2DTranspose(shape[2], shape[:2], use_bias=False), (*size, shape[3])
    raise ValueError(class_name)


def _value(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    return v


def make_numbers() -> None:
    import keras
    import weightwatcher

    manifest = json.loads((HERE / "layers.json").read_text())
    arrays = np.load(HERE / "layers.npz")
    results: dict[str, Any] = {"weightwatcher": weightwatcher.__version__, "layers": {}}
    for key, entry in manifest.items():
        values = arrays[key]
        layer, input_shape = _layer(entry["class_name"], tuple(values.shape))
        inputs = keras.Input(input_shape, dtype="int32" if entry["class_name"] == "Embedding"
                             else "float32")  # fmt: skip
        model = keras.Model(inputs, layer(inputs))
        weights = layer.get_weights()
        assert weights[0].shape == values.shape, (key, weights[0].shape, values.shape)
        layer.set_weights([values, *weights[1:]])
        details = weightwatcher.WeightWatcher(model=model).analyze()
        rows = details.to_dict("records")
        if not rows:
            results["layers"][key] = None  # WeightWatcher skips it
            continue
        (row,) = rows
        results["layers"][key] = {c: _value(row[c]) for c in COLUMNS if c in row}
    (HERE / "weightwatcher.json").write_text(json.dumps(results, indent=1) + "\n")
    sys.stderr.write(f"wrote {len(results['layers'])} layers\n")


if __name__ == "__main__":
    {"weights": make_weights, "numbers": make_numbers}[sys.argv[1]]()
