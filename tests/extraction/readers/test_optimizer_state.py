"""Optimizer state read from files Keras itself saved after fitting, checked against the
optimizer's own variables: every slot on the weight it belongs to, with its class, step count
and settings, in every format that keeps it, in process and through the worker."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from _fixtures_readers import REALWORLD, build_model, fingerprint

from kerascope.extraction import open_model
from kerascope.extraction.cli import export_npz
from kerascope.extraction.readers import read_file
from kerascope.extraction.readers.sniff import sniff
from kerascope.extraction.records import ModelWeights, Weight

ROOT = Path(__file__).resolve().parents[3]
KERAS2 = Path(__file__).resolve().parent / "data" / "keras2_optimizers"

# Each class's slots here, in creation order, and the optimizer's own list of each (Keras 3).
SLOTS: dict[str, list[tuple[str, str]]] = {
    "Adam": [("m", "_momentums"), ("v", "_velocities")],
    "RMSprop": [("v", "_velocities"), ("momentum", "_momentums"), ("mg", "_average_gradients")],
    "SGD": [("momentum", "momentums")],
}
FORMATS = ("keras", "weights_h5", "h5", "checkpoint")


def _optimizer(name: str) -> Any:
    import keras

    return {
        "Adam": lambda: keras.optimizers.Adam(2e-3),
        "RMSprop": lambda: keras.optimizers.RMSprop(momentum=0.9, centered=True),
        "SGD": lambda: keras.optimizers.SGD(0.05, momentum=0.9),
    }[name]()


def _small_model() -> Any:
    """Dense layers around BatchNorm and a nested Sequential, one layer frozen."""
    import keras
    from keras import layers

    inner = keras.Sequential([keras.Input((6,)), layers.Dense(5, name="inner")], name="block")
    inputs = keras.Input((4,), name="x")
    h = layers.Dense(6, activation="relu", name="d1")(inputs)
    h = layers.BatchNormalization(name="bn")(h)
    h = inner(h)
    frozen = layers.Dense(3, name="frozen")
    frozen.trainable = False
    out = layers.Dense(2, name="out")(frozen(h))
    return keras.Model(inputs, out, name="small")


def _data(model: Any) -> tuple[Any, Any]:
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(32, *i.shape[1:])).astype("float32") for i in model.inputs]
    y = rng.normal(size=(32, 2)).astype("float32")
    return (x[0] if len(x) == 1 else x), y


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, dict[str, Path]]]:
    """Per optimizer class: the fitted model and the files Keras saved it to."""
    import keras
    import tensorflow as tf

    out = {}
    for name in SLOTS:
        keras.utils.set_random_seed(0)
        model = build_model() if name == "Adam" else _small_model()
        model.compile(_optimizer(name), "mse")
        model.fit(*_data(model), batch_size=8, epochs=2, verbose=0)
        folder = tmp_path_factory.mktemp(f"opt_{name}")
        files = {
            "keras": folder / "m.keras",
            "weights_h5": folder / "m.weights.h5",
            "h5": folder / "m.h5",
            "checkpoint": folder / "ckpt",
        }
        model.save(files["keras"])
        model.save_weights(files["weights_h5"])
        model.save(files["h5"])
        tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(
            str(files["checkpoint"] / "ckpt")
        )
        out[name] = (model, files)
    return out


def _by_value(records: ModelWeights, model: Any) -> dict[int, Weight]:
    """The records' weight holding each trainable variable's values (fitted values differ)."""
    ours = {fingerprint(w.array()): w for _, w in records.iter_weights()}
    return {i: ours[fingerprint(v.numpy())] for i, v in enumerate(model.trainable_variables)}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(SLOTS))
def test_every_slot_is_the_optimizers_own_on_its_weight(fitted: Any, name: str, fmt: str) -> None:
    model, files = fitted[name]
    optimizer = model.optimizer
    records = read_file(files[fmt], sniff(files[fmt]))
    weights = _by_value(records, model)
    named = fmt != "checkpoint"  # a TF checkpoint of Keras 3 does not say which class it is
    for i, variable in enumerate(model.trainable_variables):
        state = weights[i].optimizer
        assert state is not None, (fmt, variable.path)
        assert state.class_name == (name if named else "unknown")
        assert state.iterations == int(optimizer.iterations.numpy())
        for k, (slot, attribute) in enumerate(SLOTS[name]):
            ours = weights[i].optimizer_slot(slot if named else f"slot_{k + 1}")
            theirs = getattr(optimizer, attribute)[optimizer._get_variable_index(variable)]
            np.testing.assert_array_equal(ours.array(), theirs.numpy())
        assert len(state.slots) == len(SLOTS[name])
    lr = dict(weights[0].optimizer.hyper).get("learning_rate")  # type: ignore[union-attr]
    assert lr == pytest.approx(float(optimizer.learning_rate.numpy()))
    stateful = [w for _, w in records.iter_weights() if w.optimizer is not None]
    assert len(stateful) == len(model.trainable_variables)  # none for frozen or moving stats


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_a_frozen_layer_and_moving_statistics_have_no_state(fitted: Any, fmt: str) -> None:
    records = read_file(fitted["RMSprop"][1][fmt], sniff(fitted["RMSprop"][1][fmt]))
    assert all(w.optimizer is None for w in records.layer("frozen").weights)
    bn = records.layer("bn")
    assert [w.name for w in bn.weights if w.optimizer is not None] == ["gamma", "beta"]
    assert records.layer("block/inner").weight("kernel").optimizer is not None


def test_settings_and_notes_say_what_was_read(fitted: Any) -> None:
    records = read_file(fitted["RMSprop"][1]["keras"], "keras_zip")
    state = records.layer("d1").weight("kernel").optimizer
    assert state is not None
    assert dict(state.hyper) == pytest.approx(
        {"learning_rate": 0.001, "epsilon": 1e-7, "rho": 0.9, "momentum": 0.9}
    )
    assert records.notes == ()  # nothing guessed: the state is on the weights
    weights_only = read_file(fitted["SGD"][1]["weights_h5"], "h5_weights")
    assert any("taken from its saved name 'sgd'" in n for n in weights_only.notes)


def test_a_model_saved_without_optimizer_state_has_none(tmp_path: Path) -> None:
    model = _small_model()
    model.save(tmp_path / "plain.keras")
    records = read_file(tmp_path / "plain.keras", "keras_zip")
    assert not records.has_optimizer_state
    assert not any("optimizer" in n for n in records.notes)


# --- Keras 2's files (tf_keras wrote them; see data/make_keras2_optimizers.py) -----------------


@pytest.mark.parametrize(("name", "slots"), [("adam", ["m", "v"]), ("sgd", ["momentum"]),
                                             ("rmsprop", ["v", "momentum", "mg"])])  # fmt: skip
def test_keras2_legacy_h5_slots_by_name(name: str, slots: list[str]) -> None:
    path = KERAS2 / f"{name}.h5"
    records = read_file(path, "h5_model")
    with h5py.File(path) as f:
        group = f["optimizer_weights"]
        stored = {n: group[n][()] for n in group.attrs["weight_names"]}
    assert stored.pop("iteration:0") == 8
    cls = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}[name]
    keras2 = {  # what Keras 2 calls each slot
        "Adam": {"m": "m", "v": "v"},
        "SGD": {"momentum": "m"},
        "RMSprop": {"v": "velocity", "momentum": "momentum", "mg": "average_gradient"},
    }
    for layer in ("hidden", "out"):
        for weight in ("kernel", "bias"):
            w = records.layer(layer).weight(weight)
            assert w.optimizer is not None and w.optimizer.class_name == cls
            assert [s.name for s in w.optimizer.slots] == slots or set(
                s.name for s in w.optimizer.slots
            ) == set(slots)
            for slot in slots:
                key = f"{cls}/{keras2[cls][slot]}/{layer}/{weight}:0"
                np.testing.assert_array_equal(w.optimizer_slot(slot).array(), stored[key])
    assert sum(len(w.optimizer.slots) for _, w in records.iter_weights() if w.optimizer) == len(
        stored
    )


@pytest.mark.parametrize("name", ["adam", "rmsprop", "sgd"])
def test_keras2_zip_and_checkpoint_agree_with_its_h5(name: str) -> None:
    legacy = read_file(KERAS2 / f"{name}.h5", "h5_model")
    zipped = read_file(KERAS2 / f"{name}.keras", "keras_zip")
    checkpoint = read_file(KERAS2 / f"ckpt_{name}", "checkpoint")
    by_value = {fingerprint(w.array()): w for _, w in checkpoint.iter_weights()}
    for (_, a), (_, b) in zip(legacy.iter_weights(), zipped.iter_weights(), strict=True):
        assert a.optimizer is not None and b.optimizer is not None
        assert [s.name for s in a.optimizer.slots] == [s.name for s in b.optimizer.slots]
        c = by_value[fingerprint(a.array())]
        assert c.optimizer is not None and c.optimizer.iterations == 8
        for k, slot in enumerate(a.optimizer.slots):
            want = a.optimizer_slot(slot.name).array()
            np.testing.assert_array_equal(b.optimizer_slot(slot.name).array(), want)
            np.testing.assert_array_equal(c.optimizer_slot(f"slot_{k + 1}").array(), want)


# --- public files --------------------------------------------------------------------------------


def test_keras2_savedmodel_slot_variables(realworld: Path) -> None:
    import tensorflow as tf

    folder = REALWORLD / "digits_savedmodel_keras2"
    records = read_file(folder, "saved_model")
    reader = tf.train.load_checkpoint(str(folder / "variables" / "variables"))
    stateful = [w for _, w in records.iter_weights() if w.optimizer is not None]
    assert len(stateful) == 4
    for w in stateful:
        assert w.optimizer is not None
        assert (w.optimizer.class_name, w.optimizer.iterations) == ("Adam", 46_875)
        assert [s.name for s in w.optimizer.slots] == ["m", "v"]
    keys = [k for k in reader.get_variable_to_shape_map() if ".OPTIMIZER_SLOT" in k]
    want = Counter(fingerprint(reader.get_tensor(k)) for k in keys)
    got = Counter(
        fingerprint(w.optimizer_slot(s.name).array())
        for w in stateful
        for s in w.optimizer.slots  # type: ignore[union-attr]
    )
    assert got == want


KERAS3_PUBLIC = ["mnist_cnn.keras", "melody_lstm.keras", "mnist_mlp.h5"]


@pytest.mark.parametrize("name", KERAS3_PUBLIC)
def test_every_optimizer_array_of_a_public_file_is_exported_beside_its_weight(
    realworld: Path, name: str, tmp_path: Path
) -> None:
    path = REALWORLD / name
    records = open_model(path)  # through the worker
    export_npz(records, tmp_path / "out.npz")
    with np.load(tmp_path / "out.npz") as npz:
        exported = {k: npz[k] for k in npz.files}
    slots = {k: v for k, v in exported.items() if "/optimizer/" in k}
    for key in slots:
        assert key.rsplit("/optimizer/", 1)[0] in exported  # beside its weight
    # Every array the optimizer keeps per weight, once (the step count and learning rate are
    # settings, not arrays of a weight).
    want = Counter(fingerprint(a) for a in _optimizer_arrays(path) if a.ndim)
    assert Counter(fingerprint(a) for a in slots.values()) == want
    assert len(slots) == sum(want.values()) > 0


def _optimizer_arrays(path: Path) -> list[Any]:
    import io
    import zipfile

    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as zf:
            data = io.BytesIO(zf.read("model.weights.h5"))
        with h5py.File(data) as f:
            group = f["optimizer/vars"]
            return [group[k][()] for k in group]
    with h5py.File(path) as f:
        group = f["optimizer_weights"]
        return [group[n][()] for n in group.attrs["weight_names"]]


def test_inspect_json_lists_each_weights_optimizer_state(realworld: Path) -> None:
    command = ["-m", "extraction", "inspect", str(REALWORLD / "mnist_cnn.keras"), "--json"]
    done = subprocess.run(
        [sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    kernel = data["layers"][0]["weights"][0]
    state = kernel["optimizer"]
    assert (state["class"], state["iterations"]) == ("Adam", 16_500)
    assert state["settings"]["learning_rate"] == pytest.approx(0.001)
    assert set(state["slots"]) == {"m", "v"}
    assert state["slots"]["v"]["shape"] == kernel["shape"]
    assert state["slots"]["v"]["stats"]["min"] >= 0  # a running mean of squares


def test_isolated_and_in_process_agree(realworld: Path) -> None:
    path = REALWORLD / "mnist_cnn.keras"
    isolated, local = open_model(path), open_model(path, isolate=False)
    for (_, a), (_, b) in zip(isolated.iter_weights(), local.iter_weights(), strict=True):
        assert a.optimizer == b.optimizer or (
            a.optimizer is not None
            and b.optimizer is not None
            and [s.name for s in a.optimizer.slots] == [s.name for s in b.optimizer.slots]
        )
        for slot in a.optimizer.slots if a.optimizer else ():
            np.testing.assert_array_equal(
                a.optimizer_slot(slot.name).array(), b.optimizer_slot(slot.name).array()
            )
