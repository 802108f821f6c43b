"""Figures of the Train panel (knobs, a live progress bar and loss/accuracy curves, then an epoch
slider (with play) that moves the filter grid, heatmap and histogram through training).

``curves_figure`` and ``epoch_figures`` are pure (tested); ``components.page.training_view``
draws them and keeps the run in the session; its memory is capped by
``extraction.models.training``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kerascope.extraction.models.training import EpochLog, TrainingRun

from . import filters, histograms
from .timeline import weight_figure


def curves_figure(
    history: list[EpochLog] | tuple[EpochLog, ...], marker: int | None = None
) -> go.Figure:
    """Loss (left) and accuracy (right) per epoch, training and held-out; a line at ``marker``."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    epochs = [h.epoch for h in history]
    series = (
        ("loss", "train loss", 1, "#1f77b4"),
        ("val_loss", "held-out loss", 1, "#ff7f0e"),
        ("accuracy", "train accuracy", 2, "#1f77b4"),
        ("val_accuracy", "held-out accuracy", 2, "#ff7f0e"),
    )
    for attr, name, col, colour in series:
        fig.add_trace(
            go.Scatter(
                x=epochs,
                y=[getattr(h, attr) for h in history],
                name=name,
                mode="lines+markers",
                line={"color": colour, "dash": "dot" if attr.startswith("val") else "solid"},
            ),
            row=1,
            col=col,
        )
    if marker is not None:
        for col in (1, 2):
            fig.add_vline(x=marker, line={"color": "grey", "dash": "dash"}, row=1, col=col)
    fig.update_xaxes(title_text="epoch (0 = before training)", rangemode="tozero", dtick=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(height=320, margin={"t": 40, "b": 10}, legend={"orientation": "h", "y": -0.3})
    return fig


def epoch_figures(run: TrainingRun, epoch: int, path: str) -> tuple[go.Figure, go.Figure]:
    """The kernel of layer ``path`` at ``epoch``: filter grid (conv) or heatmap, and histogram.

    The colour range is fixed over the whole run (the largest ``|w|`` of any kept epoch), so a
    filter getting stronger shows as deeper colour; the histogram's x range is fixed likewise.
    A Conv2D over three input channels (RGB) is drawn in colour instead, each filter stretched
    to its own range.
    """
    layer = run.weights_at(epoch).layer(path)
    kernel = layer.weight("kernel")
    values = kernel.array()
    limit = (
        max(
            float(np.max(np.abs(run.snapshots[e][(path, "kernel")]), initial=0.0))
            for e in run.epochs
        )
        or 1.0
    )
    title = f"{path} kernel after epoch {epoch}" if epoch else f"{path} kernel before training"
    view: go.Figure
    if layer.kind == "conv2d" and values.ndim == 4 and values.shape[2] == 3:
        # Colour filters: red, green and blue weights as the pixel's colour, grey = 0. Each
        # filter is stretched to its own range, so what it detects shows whatever its norm.
        view = filters.filter_grid_figure(
            values,
            kind=layer.kind,
            channel_mode="rgb",
            scale="per_filter",
            title=title,
            subtitle="RGB weights as colour, grey = 0, each filter stretched to its own range",
            # Smaller tiles: a 7x7 colour filter's stripes read better small than blown up.
            height=360,
        )
    else:
        view = weight_figure(  # the same view as a run's, on the run's colour scale
            values,
            kind=layer.kind,
            role=kernel.role,
            name=kernel.name,
            limit=limit,
            title=title,
            subtitle="one colour scale for the whole run",
            height=480,
        )
    hist = histograms.histogram_figure(
        values, bins=40, title=f"{path} kernel values, epoch {epoch}", x_range=(-limit, limit)
    )
    return view, hist
