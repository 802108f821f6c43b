"""Runnable models for the page: the live ``keras.Model`` behind a ``ModelRef``, cached.

The ordinary views read files without Keras; activations need the model itself. Demos and
model-folder files are loaded into Keras once per reference and shared by every session
(``caches.ByteLRU`` keyed by the ref, whose token changes when a folder file changes; it
shares the byte budget of the opened models).

Decided: an application's records already hold their live model; an upload is read, never
loaded into Keras here (its bytes live only in the uploading session); a file Keras cannot load
(unknown custom layer, weights-only, SavedModel, Lambda refused) gives no model and the reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from kerascope.extraction import open_model
from kerascope.extraction.errors import KerascopeError
from kerascope.extraction.models.activations import (
    Array,
    activation_model,
    background_level,
    representative_index,
    sample_photos,
)
from kerascope.extraction.models.demos import sample_inputs
from kerascope.extraction.records import ModelWeights

from .caches import ByteLRU, cache_bytes, keras_bytes
from .messages import plain
from .session import OPENED
from .sources import ModelRef


class _Runnable:
    """A loaded Keras model (or why there is none) and the cut-down models made from it, which
    share its variables and so are cached, and dropped, with it."""

    def __init__(self, model: Any, reason: str, owned: bool = True) -> None:
        self.model = model
        self.reason = reason
        self.owned = owned
        """False for an application's model, which its opened records hold (and count)."""
        self.cuts: dict[str, Any] = {}

    def nbytes(self) -> int:
        return keras_bytes(self.model) if self.owned else 0


RUNNABLE: ByteLRU[_Runnable] = ByteLRU(_Runnable.nbytes, cache_bytes)
"""Runnable models of every session, sharing the byte budget of the opened models."""
RUNNABLE.share_budget(OPENED)


def _load_live(ref: ModelRef) -> _Runnable:
    """The model, or None and the reason; errors become reasons so they are cached too."""
    try:
        source = ref.source
        if source is None:
            return _Runnable(None, "an uploaded file is only read, never run, here")
        # The worker reads the file first; Keras loads it here only when that succeeded.
        records = open_model(source, live=True)
    except KerascopeError as exc:
        return _Runnable(None, str(exc))
    if records.live_model is None:
        return _Runnable(None, records.notes[-1] if records.notes else "Keras could not load it")
    return _Runnable(records.live_model, "")


def live_model(ref: ModelRef, model: ModelWeights) -> tuple[Any, str]:
    """The runnable model behind ``ref`` and ``""``, or ``None`` and why there is none."""
    if model.live_model is not None:
        return model.live_model, ""
    if ref.kind in ("demo", "folder"):
        with st.spinner(f"Loading {plain(ref.label)} into Keras..."):
            runnable = RUNNABLE.get(ref, lambda: _load_live(ref))
        return runnable.model, runnable.reason
    if ref.kind == "upload":
        return None, (
            "an uploaded file is only read, never run, here; put it in the model folder "
            "to see its activations"
        )
    return None, "Keras did not load this model"


def sub_model(ref: ModelRef, model: Any, path: str) -> Any:
    """``activation_model(model, path)``, cached with the runnable model of ``ref``.

    Raises:
        ModelNeedsLiveKeras, LayerNotFound: as ``activation_model``.
    """
    runnable = RUNNABLE.get(ref, lambda: _Runnable(model, "", owned=False))
    if runnable.model is not model:  # a newer model behind the same reference
        return activation_model(model, path)
    if path not in runnable.cuts:
        runnable.cuts[path] = activation_model(model, path)
    return runnable.cuts[path]


@st.cache_data(show_spinner=False)
def demo_samples(name: str) -> tuple[Array, Array]:
    """A demo's held-out inputs and labels (``extraction.models.demos.sample_inputs``), cached."""
    xs, ys = sample_inputs(name)
    return np.asarray(xs), np.asarray(ys)


@st.cache_data(show_spinner=False)
def photos() -> dict[str, Array]:
    """scikit-learn's sample photos by name, cached."""
    return sample_photos()


@st.cache_data(show_spinner=False)
def demo_representative(name: str) -> int:
    """The demo's held-out sample with the most edges (``representative_index``), cached."""
    xs, _ = demo_samples(name)
    return representative_index(xs)


@st.cache_data(show_spinner=False)
def demo_background(name: str) -> float | None:
    """The mean background level of a demo's held-out images (None for non-image inputs)."""
    xs, _ = demo_samples(name)
    images = [x for x in xs[:200] if np.asarray(x).ndim == 3]
    return float(np.mean([background_level(x) for x in images])) if images else None
