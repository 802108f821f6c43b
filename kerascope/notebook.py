"""Kerascope in a notebook: open a model, get its figures as plain plotly figures.

A thin front over ``extraction`` (records) and ``components.figures`` (builders): the same
figures the dashboard draws, returned as ``plotly.graph_objects.Figure`` so Jupyter, JupyterLab,
VS Code and Colab show them inline with plotly's own renderer. No Streamlit here.

``model`` may be anything ``open_model`` takes (a path, a live ``keras.Model``, ``demo:NAME``,
``app:NAME``) or records already opened with ``open``; pass opened records to draw several
figures of one file without reading it again. A live model is read as it is now, so calling a
figure again during training shows the current weights.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go

from kerascope.components.figures import filters as filter_figures
from kerascope.components.figures import heatmaps, histograms, tables
from kerascope.components.figures import overview as overview_figures
from kerascope.components.figures.mosaic import ChannelMode, Order, Scale
from kerascope.components.figures.weight_views import View, heatmap_args, views_for
from kerascope.extraction.analysis.reduce import ReduceMode
from kerascope.extraction.errors import LayerNotFound
from kerascope.extraction.records import LayerWeights, ModelWeights, Weight

if TYPE_CHECKING:
    from kerascope.extraction.runs import Run

HEALTH_COLUMNS = ("layer", "weight", "check", "severity", "message", "indices", "unit")
"""The columns of ``health``: the fields of ``health --json``."""


def open(source: Any, *, live: bool = False, download: bool = False) -> ModelWeights:
    """Open a model: a path, a live ``keras.Model``, ``demo:NAME`` or ``app:NAME``.

    Args:
        source: what to open (see ``extraction.open_model``).
        live: also load the model into Keras, to run it.
        download: for ``app:NAME``, fetch the ImageNet weights when Keras has none cached.

    Raises:
        extraction.KerascopeError: the source is missing, not a model, or unsafe; the
            message says what was received.
    """
    from kerascope.extraction.api import open_model

    return open_model(source, live=live, download=download)


def layers(model: Any) -> pd.DataFrame:
    """One row per layer: path, class, kind, weight shapes, parameters, statistics and
    WeightWatcher's spectral metrics (``alpha``, ``alpha_weighted``, ``log_norm`` ...; see
    ``spectral_summary``)."""
    return tables.layer_table(_records(model))


def filters(
    model: Any,
    layer: str,
    weight: str | None = None,
    *,
    channel_mode: ChannelMode = "channel",
    channel: int = 0,
    scale: Scale = "shared",
    order: Order = "index",
    page: int = 0,
    page_size: int = 64,
    depth: int = 0,
) -> go.Figure:
    """A conv layer's filters, one tile each (a page of ``page_size`` of them).

    Args:
        model: a path, a ``keras.Model``, ``demo:NAME``, ``app:NAME`` or opened records.
        layer: the layer's path (``conv1``, ``encoder/block/conv``) or its own name.
        weight: the kernel to draw; by default the layer's first conv kernel (a separable
            layer's depthwise kernel).
        channel_mode: ``channel`` (one input channel), ``mean`` over channels, or ``rgb`` for a
            3-channel first layer.
        channel: the input channel shown with ``channel_mode="channel"``.
        scale: ``shared`` (one colour scale for the bank) or ``per_filter``.
        order: ``index`` or ``l2`` (largest norm first).
        page, page_size: which page of filters (from 0) and how many per page.
        depth: the depth slice of a Conv3D kernel.

    Raises:
        extraction.LayerNotFound: no such layer or weight (the message lists those that exist).
        ValueError: the weight is not a conv kernel, or an option is out of range.
    """
    lay, w = _pick(_records(model), layer, weight, "filters")
    return filter_figures.filter_grid_figure(
        w.array(),
        kind=lay.kind,
        channel_mode=channel_mode,
        channel=channel,
        scale=scale,
        order=order,
        page=page,
        page_size=page_size,
        depth=depth,
    )


def heatmap(
    model: Any,
    layer: str,
    weight: str | None = "kernel",
    *,
    reduce_mode: ReduceMode = "mean",
    max_cells: tuple[int, int] = (300, 300),
) -> go.Figure:
    """A weight as a diverging heatmap (rows and columns named by Keras's layout), block-reduced
    to at most ``max_cells`` cells; LSTM and GRU kernels show their gate boundaries.

    Args:
        model: a path, a ``keras.Model``, ``demo:NAME``, ``app:NAME`` or opened records.
        layer: the layer's path or its own name.
        weight: the weight's name; ``None`` for the layer's first weight a heatmap can show.
        reduce_mode: how a block of weights becomes one cell: ``mean`` or ``max_abs``.
        max_cells: at most this many (rows, columns) of cells.

    Raises:
        extraction.LayerNotFound: no such layer or weight.
        ValueError: the weight has fewer than 2 axes (use ``histogram``).
    """
    lay, w = _pick(_records(model), layer, weight, "heatmap")
    matrix, kwargs = heatmap_args(lay, w, reduce_mode)
    return heatmaps.heatmap_figure(matrix, max_cells=max_cells, **kwargs)


def histogram(
    model: Any,
    layer: str,
    weight: str | None = None,
    *,
    bins: int = histograms.DEFAULT_BINS,
    log_count: bool = False,
) -> go.Figure:
    """The histogram of a weight's values (NaN and Inf counted in the subtitle, not binned).

    Args:
        model: a path, a ``keras.Model``, ``demo:NAME``, ``app:NAME`` or opened records.
        layer: the layer's path or its own name.
        weight: the weight's name (``kernel``, ``bias``, ``gamma`` ...); ``None`` for the
            layer's first weight of more than one value.
        bins: equal-width bins over the finite values.
        log_count: a log scale for the counts.

    Raises:
        extraction.LayerNotFound: no such layer or weight.
        ValueError: the weight holds one value or none.
    """
    lay, w = _pick(_records(model), layer, weight, "histogram")
    return histograms.histogram_figure(
        w.array(), bins=bins, title=f"{lay.path} / {w.name}", log_count=log_count
    )


def overview(model: Any, *, log_abs: bool = False) -> go.Figure:
    """One box per weighted layer (quartiles, min and max, mean): a dead or exploding layer
    stands out. ``log_abs`` draws ``|w|`` on a log axis. Reads every array of the model."""
    return overview_figures.overview_figure(
        _records(model), scale="log_abs" if log_abs else "linear"
    )


def health(model: Any) -> pd.DataFrame:
    """The whole-model health scan, most severe first: NaN/Inf, dead or exploding units,
    weights off their initializer's scale and their peers', an untrained model or layer,
    constant biases, BatchNorm variances near zero, spectral alpha out of range.

    Returns:
        A row per finding with the fields of ``health --json``: ``layer`` (empty for a finding
        about the whole model), ``weight``, ``check``, ``severity``, ``message``, and the
        affected ``indices`` counted in ``unit`` (filters, units, channels); no rows when
        nothing was found.
    """
    from kerascope.extraction.analysis.health import findings_json, model_findings

    rows = findings_json(model_findings(_records(model)))["findings"]
    return pd.DataFrame(rows, columns=list(HEALTH_COLUMNS))


def spectrum(model: Any, layer: str, weight: str | None = None) -> go.Figure:
    """A weight's ESD on log-log axes with WeightWatcher's power-law fit, beside its singular
    values; the title gives alpha and WeightWatcher's other metrics.

    Args:
        model: a path, a ``keras.Model``, ``demo:NAME``, ``app:NAME`` or opened records.
        layer: the layer's path or its own name.
        weight: which weight; by default the one WeightWatcher reads (else the first analysed).

    Raises:
        ValueError: the weight has no spectrum (fewer than 2 axes, too few eigenvalues, NaN).
    """
    from kerascope.components.figures.health import spectrum_figure
    from kerascope.extraction.analysis.spectrum import esd_plan, layer_esd

    lay, w = _spectral_weight(_records(model), layer, weight)
    esd = layer_esd(lay, w)
    if esd is None:
        plan = esd_plan(lay, w)
        why = plan.skip if plan is not None and plan.skip else "its values hold NaN or Inf"
        raise ValueError(f"{lay.path}/{w.name} has no power-law fit: {why}")
    return spectrum_figure(esd, f"{lay.path} / {w.name}")


def spectral_summary(model: Any) -> dict[str, Any]:
    """WeightWatcher's ``get_summary()``: means of ``log_norm``, ``alpha``, ``alpha_weighted``,
    ``log_alpha_norm``, ``log_spectral_norm`` and ``stable_rank`` over the layers it analyses
    (``layers`` counts them; ``extensions`` counts weights analysed only here, left out)."""
    from kerascope.extraction.analysis.spectrum import spectral_summary as summary

    return summary(_records(model))


def traps(model: Any, layer: str, weight: str | None = None, *, seed: int = 0) -> go.Figure:
    """WeightWatcher's correlation-trap check: the weight's ESD against that of its values
    randomly permuted (``seed``), with the Marchenko-Pastur edge; the subtitle counts traps.

    Raises:
        ValueError: the weight has no spectrum.
    """
    from kerascope.components.figures.health import traps_figure
    from kerascope.extraction.analysis.traps import correlation_traps

    lay, w = _spectral_weight(_records(model), layer, weight)
    check = correlation_traps(lay, w, seed=seed)
    if check is None:
        raise ValueError(f"{lay.path}/{w.name} has no spectrum (NaN/Inf, or not a matrix)")
    return traps_figure(check, f"{lay.path} / {w.name}")


def timeline(
    run: Any,
    weights: str | Sequence[str] | None = None,
    *,
    metrics: Sequence[str] = ("l2", "std", "update_ratio"),
) -> go.Figure:
    """How a run's weights moved: small multiples of L2 norm, std and update ratio
    ``||W_t - W_(t-1)|| / ||W_(t-1)||`` per snapshot (epoch, or batches for a run recorded
    every N batches).

    Args:
        run: a run folder (``WeightRecorder``'s, or ModelCheckpoint files), or an opened run.
        weights: which weights: ``"<layer path>/<weight>"`` keys or layer paths (all of that
            layer's weights); by default every weight (the figure shows at most 48 panels).
        metrics: any of ``l2``, ``std``, ``update_ratio``.

    Raises:
        extraction.KerascopeError: not a run (fewer than two snapshots of one model).
        ValueError: a weight or metric that the run does not have.
    """
    from kerascope.components.figures.timeline import multiples_figure
    from kerascope.extraction.analysis.timeline import timeline as run_timeline
    from kerascope.extraction.runs import Run, open_run

    opened = run if isinstance(run, Run) else open_run(run)
    every = list(run_timeline(opened).weights.values())
    lines = every
    if weights is not None:
        wanted = [weights] if isinstance(weights, str) else list(weights)
        lines = [w for w in every if w.key in wanted or w.layer in wanted]
        if not lines:
            have = ", ".join(w.key for w in every)
            raise ValueError(f"run {opened.name!r} has no weight {wanted!r}; it has: {have}")
    steps = [s.step for s in opened.snapshots]
    step_title = "batches trained" if opened.unit == "batch" else "epoch"
    return multiples_figure(lines, steps, list(metrics), step_title=step_title)


def open_run(path: str | os.PathLike[str]) -> Run:
    """Open a run folder (``WeightRecorder``'s, or ModelCheckpoint files of one model): its
    snapshots in training order; ``run.model(i)`` gives snapshot ``i``'s records.

    Raises:
        extraction.KerascopeError: no such folder, or not a run.
    """
    from kerascope.extraction.runs import open_run as open_run_folder

    return open_run_folder(path)


def _records(model: Any) -> ModelWeights:
    if isinstance(model, ModelWeights):
        return model
    return open(model)


def _layer(model: ModelWeights, layer: str) -> LayerWeights:
    """The layer at path ``layer``, else the one layer whose own name it is."""
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a layer path or name (a str); received {layer!r}")
    try:
        return model.layer(layer)
    except LayerNotFound:
        named = [lay for lay in model.layers if lay.name == layer]
        if len(named) == 1:
            return named[0]
        raise


def _spectral_weight(
    model: ModelWeights, layer: str, weight: str | None
) -> tuple[LayerWeights, Weight]:
    from kerascope.extraction.analysis.spectrum import esd_plan, primary_weight

    lay = _layer(model, layer)
    if weight is not None:
        w = lay.weight(weight)
        if esd_plan(lay, w) is None:
            raise ValueError(f"{lay.path}/{w.name} {w.shape} has no spectrum (not a matrix)")
        return lay, w
    chosen = primary_weight(lay) or next((w for w in lay.weights if esd_plan(lay, w)), None)
    if chosen is None:
        have = ", ".join(f"{w.name} {w.shape}" for w in lay.weights) or "no weights"
        raise ValueError(f"layer {lay.path!r} has no weight with a spectrum; it has: {have}")
    return lay, chosen


def _pick(
    model: ModelWeights, layer: str, weight: str | None, view: View
) -> tuple[LayerWeights, Weight]:
    """The layer and the weight to draw as ``view``; without a name, the first that suits it."""
    lay = _layer(model, layer)
    if weight is not None:
        w = lay.weight(weight)
        if view not in views_for(lay, w):
            can = ", ".join(views_for(lay, w))
            raise ValueError(
                f"{lay.path}/{w.name} {w.shape} cannot be drawn as {view}; it can be: {can}"
            )
        return lay, w
    for w in lay.weights:
        if view in views_for(lay, w):
            return lay, w
    have = ", ".join(f"{w.name} {w.shape}" for w in lay.weights) or "no weights"
    raise ValueError(
        f"layer {lay.path!r} ({lay.class_name}) has no weight to draw as {view}; it has: {have}"
    )
