"""Kerascope's extraction library: open a Keras model from any source, list its named weights.

Never imports Streamlit; imports TensorFlow/Keras only when a live model is really needed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

# TensorFlow logs C++ notices on import (see _native.py); these settings quiet the rest.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from .analysis.stats import Stats, compute_stats
from .errors import (
    CorruptFile,
    KerascopeError,
    LayerNotFound,
    ModelNeedsLiveKeras,
    ReaderCrashed,
    SourceNotFound,
    UnsafeModel,
    UnsupportedFormat,
)
from .kinds import LAYER_KINDS, WEIGHT_ROLES, LayerKind, WeightRole, role_of
from .layouts import kind_of
from .records import LayerWeights, ModelWeights, SourceFormat, Weight

__all__ = [
    "LAYER_KINDS",
    "WEIGHT_ROLES",
    "CorruptFile",
    "LayerKind",
    "LayerNotFound",
    "LayerWeights",
    "ModelNeedsLiveKeras",
    "ModelWeights",
    "ReaderCrashed",
    "SourceFormat",
    "SourceNotFound",
    "Stats",
    "UnsafeModel",
    "UnsupportedFormat",
    "Weight",
    "WeightRecorder",
    "WeightRole",
    "KerascopeError",
    "compute_stats",
    "kind_of",
    "open_model",
    "open_run",
    "role_of",
]


if TYPE_CHECKING:
    from .api import open_model
    from .models.recorder import WeightRecorder
    from .runs import open_run


def __getattr__(name: str) -> object:
    # open_model lives in api.py; imported lazily so `import extraction` stays light.
    if name == "open_model":
        from .api import open_model

        return open_model
    if name == "open_run":
        from .runs import open_run

        return open_run
    if name == "WeightRecorder":
        # A keras.callbacks.Callback: asking for it imports Keras, importing extraction does not.
        from .models.recorder import WeightRecorder

        return WeightRecorder
    raise AttributeError(name)
