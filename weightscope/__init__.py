"""Weightscope: see every weight of a Keras model, in a notebook, the dashboard or a terminal.

In a notebook (figures are plain plotly figures; they show inline in Jupyter and Colab)::

    import weightscope as ws

    model = ws.open("model.keras")          # or a keras.Model, "demo:digits_cnn", "app:VGG16"
    ws.filters(model, "conv1")              # a conv layer's filter bank
    ws.heatmap(model, "dense", "kernel")    # any 2-D weight, block-reduced to fit
    ws.histogram(model, "dense", "bias")    # the values of one weight
    ws.overview(model)                      # one box per layer
    ws.health(model)                        # findings as a pandas DataFrame

    model.fit(x, y, epochs=5, callbacks=[ws.WeightRecorder("my_run")])
    ws.timeline("my_run")                   # how each weight moved, epoch by epoch

In a terminal: ``weightscope app model.keras`` (the dashboard), ``weightscope inspect
model.keras`` (the library's commands, as ``python -m extraction``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from extraction.errors import WeightscopeError

__all__ = [
    "WeightRecorder",
    "WeightscopeError",
    "filters",
    "health",
    "heatmap",
    "histogram",
    "layers",
    "open",
    "open_run",
    "overview",
    "timeline",
]

_NOTEBOOK = frozenset(__all__) - {"WeightRecorder", "WeightscopeError"}
"""The names ``weightscope.notebook`` defines, loaded when first asked for."""

if TYPE_CHECKING:
    from extraction.models.recorder import WeightRecorder

    from .notebook import (
        filters,
        health,
        heatmap,
        histogram,
        layers,
        open,
        open_run,
        overview,
        timeline,
    )


def __getattr__(name: str) -> object:
    # The figures import plotly and pandas; the `weightscope` command does not need them.
    if name in _NOTEBOOK:
        from . import notebook

        return getattr(notebook, name)
    if name == "WeightRecorder":  # a keras Callback: imports Keras, so only when asked for
        from extraction.models.recorder import WeightRecorder

        return WeightRecorder
    raise AttributeError(f"module 'weightscope' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
