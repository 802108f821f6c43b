"""Kerascope: see every weight of a Keras model, in a notebook, the dashboard or a terminal.

In a notebook (figures are plain plotly figures; they show inline in Jupyter and Colab)::

    import kerascope as ks
    model = ks.open("model.keras")          # or a keras.Model, "demo:digits_cnn", "app:VGG16"
    ks.filters(model, "conv1")              # a conv layer's filter bank
    ks.heatmap(model, "dense", "kernel")    # any 2-D weight, block-reduced to fit
    ks.histogram(model, "dense", "bias")    # the values of one weight
    ks.overview(model)                      # one box per layer
    ks.health(model)                        # findings as a pandas DataFrame
    ks.spectrum(model, "dense")             # WeightWatcher's ESD, power-law fit and metrics

    model.fit(x, y, epochs=5, callbacks=[ks.WeightRecorder("my_run")])
    ks.timeline("my_run")                   # how each weight moved, epoch by epoch

In a terminal: ``kerascope app model.keras`` (the dashboard), ``kerascope inspect
model.keras`` (the library's commands, as ``python -m extraction``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kerascope.extraction.errors import KerascopeError

__all__ = [
    "WeightRecorder",
    "KerascopeError",
    "filters",
    "health",
    "heatmap",
    "histogram",
    "layers",
    "open",
    "open_run",
    "overview",
    "spectral_summary",
    "spectrum",
    "timeline",
    "traps",
]

_NOTEBOOK = frozenset(__all__) - {"WeightRecorder", "KerascopeError"}
"""The names ``kerascope.notebook`` defines, loaded when first asked for."""

if TYPE_CHECKING:
    from kerascope.extraction.models.recorder import WeightRecorder

    from .notebook import (
        filters,
        health,
        heatmap,
        histogram,
        layers,
        open,
        open_run,
        overview,
        spectral_summary,
        spectrum,
        timeline,
        traps,
    )


def __getattr__(name: str) -> object:
    # The figures import plotly and pandas; the `kerascope` command does not need them.
    if name in _NOTEBOOK:
        from . import notebook

        return getattr(notebook, name)
    if name == "WeightRecorder":  # a keras Callback: imports Keras, so only when asked for
        from kerascope.extraction.models.recorder import WeightRecorder

        return WeightRecorder
    raise AttributeError(f"module 'kerascope' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
