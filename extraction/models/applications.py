"""Well-known architectures from ``keras.applications``, with ImageNet weights when cached.

Keras keeps downloaded weights under ``$KERAS_HOME/models`` (``~/.keras/models``). A cached
file works offline; without one the model is built untrained (random initial weights) and the
caller is told so. ``download=True`` asks Keras to fetch the weights, which fails with a clear
message when there is no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SourceNotFound, WeightsUnavailable
from ..records import ModelWeights
from ..settings import Settings


@dataclass(frozen=True)
class Application:
    """A ``keras.applications`` architecture Kerascope offers."""

    name: str
    """The constructor's name (``VGG16``)."""
    weights_file: str
    """The file Keras caches ImageNet weights (with the classifier top) under."""
    module: str
    """The ``keras.applications`` module whose ``preprocess_input`` prepares its pixels."""
    preprocessing: str
    """What that ``preprocess_input`` does, in words."""


APPLICATIONS: dict[str, Application] = {
    a.name: a
    for a in (
        Application(
            "VGG16",
            "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
            "vgg16",
            "RGB to BGR, minus the ImageNet mean pixel (0..255 scale)",
        ),
        Application(
            "ResNet50",
            "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
            "resnet50",
            "RGB to BGR, minus the ImageNet mean pixel (0..255 scale)",
        ),
        Application(
            "MobileNetV2",
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
            "mobilenet_v2",
            "pixels scaled to -1..1",
        ),
        Application(
            "EfficientNetB0",
            "efficientnetb0.h5",
            "efficientnet",
            "0..255 passed as is: the model's own Rescaling and Normalization layers scale it",
        ),
    )
}
OFFLINE = "ImageNet weights are not available offline"
"""What a failed weights download says (never Keras's raw URL or errno)."""


def keras_home() -> Path:
    """Keras's cache folder, as Keras itself computes it."""
    return Settings.from_env().keras_home


def cached_weights(name: str) -> Path | None:
    """The cached ImageNet weights file of an application, if Keras has it."""
    path = keras_home() / "models" / _application(name).weights_file
    return path if path.is_file() else None


def build_application(name: str, *, download: bool = False) -> tuple[Any, bool]:
    """Build an application; returns ``(model, has_imagenet_weights)``.

    Raises:
        SourceNotFound: not an application Kerascope offers.
        WeightsUnavailable: ``download`` was asked and the weights could not be fetched.
    """
    from .._native import import_keras, quiet_native_stderr

    app = _application(name)
    keras = import_keras()
    constructor = getattr(keras.applications, app.name)
    weights = cached_weights(name)
    with quiet_native_stderr():
        if weights is None and download:
            try:
                return constructor(weights="imagenet"), True
            except Exception:  # urllib, HTTP and hash errors  # noqa: BLE001
                # Keras's message holds the URL and the socket's errno: useless to a class.
                raise WeightsUnavailable(
                    f"{OFFLINE}: Keras could not download them for {name}, and they are not in "
                    "its cache (~/.keras/models)"
                ) from None
        model = constructor(weights=None)
        if weights is not None:
            model.load_weights(weights)
    return model, weights is not None


def open_application(name: str, *, download: bool = False) -> ModelWeights:
    """The records of ``keras.applications.NAME`` (``open_model("app:NAME")``).

    With ImageNet weights when Keras has them cached (or ``download`` fetched them), otherwise
    untrained, and a note says which.
    """
    from ..readers.live import read_live

    model, trained = build_application(name, download=download)
    note = (
        "ImageNet weights from Keras's cache"
        if trained
        else "untrained: random initial weights (no cached ImageNet weights; Keras keeps them "
        "in ~/.keras/models once downloaded)"
    )
    return read_live(model, source=f"app:{name}", fmt="application", notes=(note,))


def preprocess(name: str, pixels01: Any) -> Any:
    """Pixels in ``[0, 1]`` (``(H, W, 3)``) prepared by the architecture's own
    ``keras.applications.<module>.preprocess_input`` (a new float32 array).

    Raises:
        SourceNotFound: not an application Kerascope offers.
    """
    import importlib

    import numpy as np

    from .._native import import_keras

    app = _application(name)
    import_keras()
    module = importlib.import_module(f"keras.applications.{app.module}")
    # preprocess_input may work in place on a float array: hand it a copy.
    x = np.array(pixels01, dtype=np.float32) * np.float32(255.0)
    return np.asarray(module.preprocess_input(x), dtype=np.float32)


def _application(name: str) -> Application:
    try:
        return APPLICATIONS[name]
    except KeyError:
        raise SourceNotFound(
            f"no application {name!r}; available: {', '.join(APPLICATIONS)}"
        ) from None
