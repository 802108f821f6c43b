"""Figures of the Train panel (knobs, a live progress bar and loss/accuracy curves, then an epoch
slider (with play) that moves the filter grid, heatmap and histogram through training).

``curves_figure`` and ``epoch_figures`` are pure (tested); ``components.page.training_view``
draws them and keeps the run in the session; its memory is capped by
``extraction.models.training``.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kerascope.extraction.layouts import is_filter_bank
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


GRID_ASPECT = 4.0
"""Width / height of the filter grid: a wide band across the page, 8 tiles a row for 16."""
GRID_HEIGHT_HINT = 960
"""The width the grid's height is fitted to: more than the 820 pixels it gets at 1280 wide, so
the width sets the tiles' size (about 87 px for 16 filters), not the height."""


def epoch_figures(run: TrainingRun, epoch: int, path: str) -> tuple[go.Figure, go.Figure]:
    """The kernel of layer ``path`` at ``epoch``: filter grid (conv) or heatmap, and histogram.

    The colour range is fixed over the whole run (the largest ``|w|`` of any kept epoch), so a
    filter getting stronger shows as deeper colour; the histogram's x range is fixed likewise.
    A Conv2D over three input channels (RGB) is drawn in colour instead, each filter stretched
    to its own range. A filter grid is a wide band (``GRID_ASPECT``) meant for the page's full
    width, so its tiles stay large.
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
    if is_filter_bank(layer.kind, kernel.role, values.ndim):
        rgb = layer.kind == "conv2d" and values.ndim == 4 and values.shape[2] == 3
        view = filters.filter_grid_figure(
            values,
            kind=layer.kind,
            # Colour filters: red, green and blue weights as the pixel's colour, grey = 0, each
            # stretched to its own range, so what it detects shows whatever its norm.
            channel_mode="rgb" if rgb else "channel",
            scale="per_filter" if rgb else "shared",
            zmax=None if rgb else limit,
            page_size=64,
            title=title,
            subtitle=(
                "RGB weights as colour, grey = 0, each filter stretched to its own range"
                if rgb
                else "one colour scale for the whole run"
            ),
            aspect=GRID_ASPECT,
            width_hint=GRID_HEIGHT_HINT,
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
            height=420,
        )
    hist = histograms.histogram_figure(
        values, bins=40, title=f"{path} kernel values, epoch {epoch}", x_range=(-limit, limit)
    )
    return view, hist


def chance_sentence(run: TrainingRun) -> str:
    """What guessing scores on this task, in one plain sentence."""
    guess = 1 / run.classes if run.classes else math.nan
    return (
        f"Chance level: guessing among the {run.classes} labels scores {guess:.1%}; always "
        f"answering the most common one ({run.majority_label}) scores {run.majority:.1%} of "
        "the held-out samples. Accuracy well above both means the network learned something."
    )


def gap_sentence(run: TrainingRun, epoch: int) -> str:
    """Training against held-out accuracy at ``epoch``, and what the gap says, in one plain
    sentence (held-out: samples the network never trained on)."""
    log = next(h for h in run.history if h.epoch == epoch)
    train, held = log.accuracy, log.val_accuracy
    gap = (train - held) * 100
    said = f"At epoch {epoch}: {train:.1%} on the training samples, {held:.1%} on held-out ones"
    if epoch == 0:
        return said + ": before training, both are guesses."
    if gap >= OVERFIT_POINTS:
        return (
            f"{said}, {gap:.0f} points lower: the network has partly memorised its training "
            "samples (overfitting); fewer epochs, fewer filters or more data narrow the gap."
        )
    if gap <= -OVERFIT_POINTS:
        return f"{said}: the held-out samples happen to be easier than the training ones."
    return (
        f"{said}, a gap of {abs(gap):.1f} points: what it learned works as well on samples it "
        "never saw."
    )


OVERFIT_POINTS = 5.0
"""Training accuracy this many points above held-out is called overfitting."""
