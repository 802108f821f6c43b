"""Built-in demo models, trained offline on data that ships inside scikit-learn (the 8x8
digits, and patches of the two sample photos for an RGB model).

Each demo is trained once from a fixed seed and cached as a ``.keras`` file under the user's
cache folder (``$KERASCOPE_CACHE_DIR``, else ``$XDG_CACHE_HOME/kerascope``, else
``~/.cache/kerascope``), with a small JSON file of facts beside it (held-out accuracy, epochs).
A first training takes seconds on two cores and reports progress through a callback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..disk import atomic_path, write_atomic
from ..errors import SourceNotFound
from ..settings import cache_dir
from .demo_photos import PHOTOS, photo_cnn, photo_patches

Progress = Callable[[float, str], None]
"""Called with the fraction done (0..1) and a short message."""

RECIPE_VERSION = 1
"""Bump when a recipe changes, so cached files from an older recipe are not reused."""
DEFAULT_SEED = 7


@dataclass(frozen=True)
class Demo:
    """A built-in model: what it is and how it is trained."""

    name: str
    """The name used in ``demo:NAME`` and in deep links."""
    title: str
    """One line for people."""
    epochs: int
    """Training epochs."""
    build: Callable[[], Any]
    """Returns a fresh, compiled ``keras.Model``."""
    data: Callable[[int], tuple[Any, Any, Any, Any]]
    """Returns ``(x_train, y_train, x_test, y_test)`` for a seed."""
    classes: tuple[str, ...] = ()
    """Names of the classes by index; empty when the index is the name (digits)."""
    patches: bool = False
    """Trained on small patches of photos at their full resolution: a photo shown to it must
    be cut into such a patch, not shrunk whole (see ``activations.photo_patch``)."""

    def label(self, index: int) -> str:
        """The name of class ``index`` (the index itself when there are no names)."""
        return self.classes[index] if 0 <= index < len(self.classes) else str(index)


def digits_data(seed: int, *, images: bool) -> tuple[Any, Any, Any, Any]:
    """scikit-learn's 8x8 digits in [0, 1], split 75/25 (stratified, by ``seed``): ``(x_train,
    y_train, x_test, y_test)``, images ``(n, 8, 8, 1)`` or flat ``(n, 64)``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")
    x = x[..., None] if images else x.reshape(len(x), -1)
    y = digits.target.astype("int64")
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    return x_tr, y_tr, x_te, y_te


def compile_classifier(model: Any, learning_rate: float = 3e-3, optimizer: str = "adam") -> Any:
    """Compile ``model`` as every built-in classifier is: sparse labels, accuracy reported."""
    import keras

    optimizers = {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }
    model.compile(
        optimizer=optimizers[optimizer](learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _digits_mlp() -> Any:
    import keras
    from keras import layers

    return compile_classifier(
        keras.Sequential(
            [
                keras.Input((64,), name="pixels"),
                layers.Dense(64, activation="relu", name="hidden1"),
                layers.Dense(32, activation="relu", name="hidden2"),
                layers.Dense(10, activation="softmax", name="digit"),
            ],
            name="digits_mlp",
        )
    )


def _digits_cnn() -> Any:
    import keras
    from keras import layers

    return compile_classifier(
        keras.Sequential(
            [
                keras.Input((8, 8, 1), name="image"),
                layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
                layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
                layers.MaxPooling2D(2, name="pool"),
                layers.Flatten(name="flatten"),
                layers.Dense(64, activation="relu", name="dense"),
                layers.Dropout(0.2, name="dropout"),
                layers.Dense(10, activation="softmax", name="digit"),
            ],
            name="digits_cnn",
        )
    )


DEMOS: dict[str, Demo] = {
    "digits_cnn": Demo(
        "digits_cnn",
        "Small CNN on scikit-learn's 8x8 handwritten digits",
        20,
        _digits_cnn,
        lambda seed: digits_data(seed, images=True),
    ),
    "digits_mlp": Demo(
        "digits_mlp",
        "Two-layer MLP on scikit-learn's 8x8 handwritten digits",
        30,
        _digits_mlp,
        lambda seed: digits_data(seed, images=False),
    ),
    "photo_patches": Demo(
        "photo_patches",
        "Small CNN telling 16x16 patches of scikit-learn's two sample photos apart (RGB)",
        10,
        lambda: compile_classifier(photo_cnn()),
        photo_patches,
        classes=PHOTOS,
        patches=True,
    ),
}
DEFAULT_DEMO = "digits_cnn"


def demo_path(name: str, seed: int = DEFAULT_SEED) -> Path:
    """The cached ``.keras`` file of a demo (it may not exist yet)."""
    _demo(name)
    return cache_dir() / f"{name}-r{RECIPE_VERSION}-seed{seed}.keras"


def demo_info(name: str, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Facts about a trained demo (accuracy, epochs, seconds); empty if not trained yet."""
    meta = demo_path(name, seed).with_suffix(".json")
    try:
        return dict(json.loads(meta.read_text()))
    except (OSError, ValueError):
        return {}


def ensure_demo(name: str, seed: int = DEFAULT_SEED, progress: Progress | None = None) -> Path:
    """The demo's cached file, training it first if needed."""
    path = demo_path(name, seed)
    if path.is_file():
        if progress:
            progress(1.0, f"{name} loaded from cache")
        return path
    model, info = train_demo(name, seed, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Whole files only, the facts first: a reader that finds the model finds its facts too.
    write_atomic(path.with_suffix(".json"), json.dumps(info, indent=2))
    with atomic_path(path) as staged:
        model.save(staged)
    return path


def train_demo(
    name: str, seed: int = DEFAULT_SEED, progress: Progress | None = None
) -> tuple[Any, dict[str, Any]]:
    """Train a demo from scratch; returns the model and facts about the run.

    Deterministic for a seed: same seed, same weights.
    """
    from .._native import import_keras, import_tensorflow, quiet_native_stderr

    keras, tf = import_keras(), import_tensorflow()
    demo = _demo(name)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    x_tr, y_tr, x_te, y_te = demo.data(seed)
    model = demo.build()
    started = time.perf_counter()
    callbacks = [epoch_callback(_progress(demo.epochs, progress))] if progress else []
    with quiet_native_stderr():
        model.fit(
            x_tr,
            y_tr,
            epochs=demo.epochs,
            batch_size=32,
            verbose=0,
            callbacks=callbacks,
            shuffle=True,
        )
        _, accuracy = model.evaluate(x_te, y_te, verbose=0)
    info = {
        "name": name,
        "title": demo.title,
        "seed": seed,
        "epochs": demo.epochs,
        "test_accuracy": float(accuracy),
        "test_samples": int(len(y_te)),
        "train_seconds": round(time.perf_counter() - started, 2),
        "recipe_version": RECIPE_VERSION,
    }
    return model, info


def initial_demo(name: str, seed: int = DEFAULT_SEED) -> Any:
    """A demo as ``train_demo`` builds it before its first step: the same seed, so the same
    random initial weights the cached demo started from (Compare's "before training")."""
    from .._native import import_keras, quiet_native_stderr

    keras = import_keras()
    demo = _demo(name)
    keras.utils.set_random_seed(seed)
    with quiet_native_stderr():
        return demo.build()


def sample_inputs(name: str, seed: int = DEFAULT_SEED) -> tuple[np.ndarray[Any, Any], Any]:
    """Held-out inputs and labels of a demo (for activations and accuracy checks)."""
    _, _, x_te, y_te = _demo(name).data(seed)
    return x_te, y_te


def _demo(name: str) -> Demo:
    try:
        return DEMOS[name]
    except KeyError:
        raise SourceNotFound(
            f"no built-in demo {name!r}; demos are: {', '.join(sorted(DEMOS))}"
        ) from None


def epoch_callback(on_epoch: Callable[[int, dict[str, float]], None]) -> Any:
    """A ``keras.callbacks.Callback`` calling ``on_epoch(epoch, logs)`` after each epoch, the
    epoch counted from 1 as Keras counts it in file names."""
    import keras

    class _EpochEnd(keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            on_epoch(epoch + 1, dict(logs or {}))

    return _EpochEnd()


def _progress(epochs: int, progress: Progress) -> Callable[[int, dict[str, float]], None]:
    def report(epoch: int, logs: dict[str, float]) -> None:
        acc = logs.get("accuracy")
        tail = f", accuracy {acc:.1%}" if acc is not None else ""
        progress(epoch / epochs, f"epoch {epoch}/{epochs}{tail}")

    return report
