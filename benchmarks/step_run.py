"""Write a run saved every batch, as a plain Keras callback leaves it: ``step-00001.weights.h5``,
``step-00002.weights.h5`` ... of a small CNN (37 k weights: ``conv_a``, ``conv_b``, ``dense``,
``out``), with the divergence of a real debugging session planted in it: ``conv_b``'s kernel
1000x larger from ``blowup_step`` on, and NaN from ``nan_step`` on (in ``conv_b``'s bias only,
or in every weight; or in the bias first, in every weight from ``spread_step``).

Two ways, both from files Keras itself writes:
- ``write_keras_steps``: ``model.fit`` with a callback that calls ``save_weights`` after every
  batch (what the benchmark measures; ~30 ms a snapshot);
- ``copy_steps``: one real Keras save copied, its arrays edited in place with h5py (the weights
  walk a little each step), for tests that need hundreds of snapshots in seconds.
The planted values go into the saved files only: training itself stays finite.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

NAME = "step-{:05d}.weights.h5"
BLOWUP = 1e3


@dataclass(frozen=True)
class Plant:
    """What goes wrong in the run, by step (None: never)."""

    blowup_step: int | None = None
    """From this step on, ``conv_b``'s kernel is ``BLOWUP`` times larger."""
    nan_step: int | None = None
    """From this step on, NaN appears ..."""
    nan_everywhere: bool = False
    """... in every value of every weight (True), or in two values of ``conv_b``'s bias."""
    spread_step: int | None = None
    """From this step on, every value of every weight is NaN (the NaN spread through training,
    as it does once the loss is NaN)."""

    def edit(self, step: int, name: str, values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """``values`` of weight ``name`` (``conv_b/kernel``) as saved at ``step``."""
        out = np.array(values, dtype=np.float32)
        if self.blowup_step is not None and step >= self.blowup_step and name == "conv_b/kernel":
            out *= BLOWUP
        if self.nan_step is not None and step >= self.nan_step:
            if self.nan_everywhere or (self.spread_step is not None and step >= self.spread_step):
                out[...] = np.nan
            elif name == "conv_b/bias":
                out.reshape(-1)[:2] = np.nan
        return out


def build_cnn(seed: int = 0) -> Any:
    """The CNN of the run: 16x16x1 images, two conv layers, a dense layer, 10 classes."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            layers.Conv2D(16, 3, activation="tanh", name="conv_a"),
            layers.MaxPooling2D(name="pool"),
            layers.Conv2D(32, 3, activation="tanh", name="conv_b"),
            layers.Flatten(name="flat"),
            layers.Dense(40, activation="tanh", name="dense"),
            layers.Dense(10, name="out"),
        ],
        name="step_cnn",
    )


def _named_weights(model: Any) -> list[tuple[str, Any]]:
    return [(f"{layer.name}/{w.name}", w) for layer in model.layers for w in layer.weights]


def _file_paths(model: Any) -> dict[str, str]:
    """Where ``save_weights`` puts each weight (``layers/conv2d_1/vars/0``: Keras names layers
    in the file by class and order, not by name) -> ``conv_b/kernel``."""
    from keras.src.utils.naming import to_snake_case

    seen: dict[str, int] = {}
    out: dict[str, str] = {}
    for layer in model.layers:
        base = to_snake_case(type(layer).__name__)
        count = seen.get(base, 0)
        seen[base] = count + 1
        folder = f"layers/{base}" + (f"_{count}" if count else "")
        for i, w in enumerate(layer.weights):
            out[f"{folder}/vars/{i}"] = f"{layer.name}/{w.name}"
    return out


def write_keras_steps(folder: Path, steps: int, plant: Plant = Plant(), seed: int = 0) -> Path:
    """Train the CNN for ``steps`` batches, ``save_weights`` after each: ``steps`` files."""
    import keras

    folder.mkdir(parents=True, exist_ok=True)
    model = build_cnn(seed)
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(steps * 8, 16, 16, 1)).astype("float32")
    y = rng.integers(0, 10, size=steps * 8)
    named = _named_weights(model)

    class SaveEveryBatch(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.step = 0

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.step += 1
            kept = [w.numpy() for _, w in named]
            for (name, w), values in zip(named, kept, strict=True):
                w.assign(plant.edit(self.step, name, values))
            model.save_weights(folder / NAME.format(self.step))
            for (_, w), values in zip(named, kept, strict=True):
                w.assign(values)

    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[SaveEveryBatch()])
    return folder


def copy_steps(folder: Path, steps: int, plant: Plant = Plant(), seed: int = 0) -> Path:
    """``steps`` snapshots from one real ``save_weights`` of the CNN, copied and edited with
    h5py: each step moves every weight by a small seeded random walk, then ``plant`` applies."""
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    model = build_cnn(seed)
    template = folder / ".template.weights.h5"
    model.save_weights(template)
    names = _file_paths(model)
    with h5py.File(template, "r") as f:
        start = {path: np.asarray(f[path]) for path in names}
    rng = np.random.default_rng(seed)
    current = dict(start)
    for step in range(1, steps + 1):
        target = folder / NAME.format(step)
        shutil.copyfile(template, target)
        with h5py.File(target, "r+") as f:
            for path, name in names.items():
                walk = rng.normal(scale=1e-3, size=current[path].shape).astype(np.float32)
                current[path] = current[path] + walk
                f[path][...] = plant.edit(step, name, current[path])
    template.unlink()
    return folder


__all__ = ["BLOWUP", "NAME", "Plant", "build_cnn", "copy_steps", "write_keras_steps"]
