"""What the optimizer's state says: gradient RMS and next step by each class's own formula, and
the health findings from models Keras fitted so that some units get no gradient or one layer's
gradients are a thousand times its peers'."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from kerascope.extraction.analysis.health import model_findings
from kerascope.extraction.analysis.optimizer import gradient_rms, next_step, optimizer_findings
from kerascope.extraction.readers import read_file
from kerascope.extraction.readers.store import ArrayStore
from kerascope.extraction.records import OptimizerSlot, OptimizerState, Weight

RNG = np.random.default_rng(0)


def _weight(cls: str, t: int | None, hyper: dict[str, float], **slots: Any) -> Weight:
    store = ArrayStore()
    weight = store.weight("kernel", RNG.normal(size=(3, 4)).astype("float32"))
    made = tuple(
        OptimizerSlot(name, (3, 4), "float32", store.add(np.asarray(values, "float32")))
        for name, values in slots.items()
    )
    state = OptimizerState(cls, t, made, tuple(sorted(hyper.items())))
    return dataclasses.replace(weight, optimizer=state)


def test_adam_gradient_rms_and_step_are_bias_corrected() -> None:
    m, v = RNG.normal(size=(3, 4)) * 1e-3, RNG.uniform(1e-8, 1e-6, size=(3, 4))
    w = _weight("Adam", 10, {"learning_rate": 0.01}, m=m, v=v)
    m32, v32 = m.astype("float32").astype(np.float64), v.astype("float32").astype(np.float64)
    rms = gradient_rms(w)
    assert rms is not None
    np.testing.assert_allclose(rms.values, np.sqrt(v32 / (1 - 0.999**10)), rtol=1e-12)
    step = next_step(w)
    assert step is not None
    alpha = 0.01 * math.sqrt(1 - 0.999**10) / (1 - 0.9**10)  # Keras's own form, eps 1e-7
    np.testing.assert_allclose(step.values, -alpha * m32 / (np.sqrt(v32) + 1e-7), rtol=1e-12)
    assert "t = 10" in step.formula


def test_rmsprop_sgd_adagrad_and_unknown_classes() -> None:
    v, mom = RNG.uniform(0, 1, (3, 4)), RNG.normal(size=(3, 4))
    rms = _weight("RMSprop", 5, {}, v=v, momentum=mom)
    got = gradient_rms(rms)
    assert got is not None
    np.testing.assert_allclose(got.values, np.sqrt(v.astype("float32")), rtol=1e-6)
    step = next_step(rms)
    assert step is not None  # Keras subtracts RMSprop's momentum from the weight
    np.testing.assert_array_equal(step.values, -mom.astype("float32").astype(np.float64))
    sgd = _weight("SGD", 5, {}, momentum=mom)
    assert gradient_rms(sgd) is None
    step = next_step(sgd)
    assert step is not None  # and adds SGD's
    np.testing.assert_array_equal(step.values, mom.astype("float32").astype(np.float64))
    acc = RNG.uniform(0.1, 2, (3, 4))
    ada = _weight("Adagrad", 4, {"initial_accumulator_value": 0.1}, accumulator=acc)
    got = gradient_rms(ada)
    assert got is not None and next_step(ada) is None
    np.testing.assert_allclose(got.values, np.sqrt((acc.astype("float32") - 0.1) / 4), rtol=1e-5)
    unknown = _weight("unknown", 5, {}, slot_1=v)
    assert gradient_rms(unknown) is None and next_step(unknown) is None


def _fit(model: Any, folder: Path, steps: int = 12) -> Path:
    import keras

    model.compile(keras.optimizers.Adam(1e-3), "mse")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(steps * 8, *model.inputs[0].shape[1:])).astype("float32")
    y = rng.normal(size=(steps * 8, *model.outputs[0].shape[1:])).astype("float32")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = folder / f"{model.name}.keras"
    model.save(path)
    return path


def test_units_cut_off_from_the_loss_never_received_a_gradient(tmp_path: Path) -> None:
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    inputs = keras.Input((5,))
    wide = layers.Dense(6, name="wide")(inputs)
    used = layers.Cropping1D((0, 2), name="cut")(layers.Reshape((6, 1))(wide))  # drops 4, 5
    out = layers.Dense(1, name="out")(layers.Flatten()(used))
    path = _fit(keras.Model(inputs, out, name="cut"), tmp_path)
    records = read_file(path, "keras_zip")
    found = [f for f in optimizer_findings(records) if f.check == "no_gradient"]
    kernel = [f for f in found if (f.layer, f.weight) == ("wide", "kernel")]
    assert [(f.severity, f.indices, f.unit) for f in kernel] == [("warning", (4, 5), "unit")]
    assert "exactly 0 after 12 steps" in kernel[0].message
    assert {(f.layer, f.weight) for f in found if f.severity != "info"} == {
        ("wide", "kernel"),
        ("wide", "bias"),
    }
    assert any(f.check == "no_gradient" for f in model_findings(records))  # in the health scan


def test_a_layer_whose_gradients_are_far_above_its_peers_is_named(tmp_path: Path) -> None:
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    # "first" sees inputs 1000x larger through a kernel 1000x smaller: its outputs are as usual,
    # the gradient of its kernel (input x error) is 1000x its peers'.
    h = layers.Rescaling(1000.0, name="amplify")(inputs)
    small = keras.initializers.RandomNormal(stddev=3e-4, seed=1)
    h = layers.Dense(8, kernel_initializer=small, name="first")(h)
    for name in ("second", "third", "fourth"):
        h = layers.Dense(8, name=name)(h)
    path = _fit(keras.Model(inputs, layers.Dense(1, name="out")(h), name="loud"), tmp_path)
    found = [f for f in optimizer_findings(read_file(path, "keras_zip"))
             if f.check == "gradient_scale"]  # fmt: skip
    assert [(f.layer, f.weight, f.severity) for f in found] == [("first", "kernel", "warning")]
    assert "gradients explode here" in found[0].message


def test_a_plain_model_has_no_gradient_warnings(realworld: Path) -> None:
    records = read_file(realworld / "mnist_mlp.h5", "h5_model")
    assert optimizer_findings(records) == []  # every unit got gradients, at a like scale
    assert not optimizer_findings(read_file(realworld / "style_transfer_keras2.keras", "keras_zip"))
