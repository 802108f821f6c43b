"""Class names for a model's outputs, where the model or Keras's cache carries them.

A built-in demo names its own classes; a ``keras.applications`` model with 1000 outputs uses
ImageNet's names when Keras has cached ``imagenet_class_index.json`` in ``~/.keras/models``
(``keras.applications.imagenet_utils.decode_predictions`` downloads it once). Otherwise the
outputs are class *indices*, and ``ClassNames.source`` says so.

Decided: a cached file that is too large, not JSON, or not ``{"0": [wnid, name], ...}`` for every
index gives indices, never an error (a broken cache must not take the page down).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..readers.safety import MAX_CLASS_INDEX_BYTES
from .applications import keras_home

IMAGENET_CLASS_INDEX = "imagenet_class_index.json"
"""The file Keras caches ImageNet's class names under, in ``$KERAS_HOME/models``."""
IMAGENET_CLASSES = 1000


@dataclass(frozen=True)
class ClassNames:
    """What to call each output unit of a classifier."""

    names: tuple[str, ...]
    """A name per output index; empty when only indices are known."""
    source: str
    """Where the names come from, or why there are none (shown beside the predictions)."""

    def name(self, index: int) -> str:
        """The name of output ``index``, or ``class INDEX`` when there are no names."""
        return self.names[index] if 0 <= index < len(self.names) else f"class {index}"


@dataclass(frozen=True)
class Prediction:
    """One of a classifier's top guesses."""

    index: int
    """The output unit."""
    name: str
    """Its class name, or ``class INDEX``."""
    score: float
    """Its output value: a probability when ``probability`` is true."""
    probability: bool
    """Whether the outputs sum to 1 (a softmax), so ``score`` reads as a percentage."""


def imagenet_names() -> tuple[str, ...]:
    """ImageNet's 1000 class names from Keras's cache; empty when not cached or unreadable."""
    path = keras_home() / "models" / IMAGENET_CLASS_INDEX
    try:
        if not path.is_file() or path.stat().st_size > MAX_CLASS_INDEX_BYTES:
            return ()
        index: Any = json.loads(path.read_text(encoding="utf-8"))
        names = tuple(str(index[str(i)][1]) for i in range(IMAGENET_CLASSES))
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return ()
    return names


def imagenet_classes() -> ClassNames:
    """ImageNet's names when cached; otherwise indices, labelled as such."""
    names = imagenet_names()
    if names:
        return ClassNames(names, f"ImageNet class names ({IMAGENET_CLASS_INDEX} in Keras's cache)")
    return ClassNames(
        (),
        f"ImageNet class indices: the names file ({IMAGENET_CLASS_INDEX}) is not in Keras's "
        "cache (~/.keras/models)",
    )


def top_predictions(outputs: Any, classes: ClassNames, k: int = 5) -> tuple[Prediction, ...]:
    """The ``k`` largest outputs of one classifier output vector, largest first.

    Returns ``()`` when ``outputs`` is not a vector of at least 2 finite values. Ties keep the
    lower index first.
    """
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim != 1 or out.size < 2 or not np.isfinite(out).all():
        return ()
    probability = bool(out.min() >= 0 and np.isclose(out.sum(), 1.0, atol=1e-3))
    order = np.argsort(-out, kind="stable")[:k]
    return tuple(
        Prediction(int(i), classes.name(int(i)), float(out[i]), probability) for i in order
    )
