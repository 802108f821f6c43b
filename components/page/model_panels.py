"""Whole-model panels: the sortable table of every layer and the distribution overview.

Both need every array's statistics, and the table WeightWatcher's spectral metrics too. A
background job computes them once per opened model (and keeps those of a big file in the cache
folder); the overview shows the layers already done, growing every second, with a progress bar,
and the table waits with one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from kerascope.extraction.analysis.stats_job import StatsJob
from kerascope.extraction.kinds import block_position
from kerascope.extraction.records import LayerWeights, ModelWeights

from ..figures import overview, tables
from . import health_view, views
from .messages import plain
from .navigation import open_layer
from .sources import ModelRef

TABLE_KEY = "layers-table"

_SETTLE_S = 0.5
"""A job that finishes within this is drawn at once, without a live partial view."""
_MANY_LAYERS = 30
"""Above this many weighted layers the overview starts grouped by kind."""
_SCALES = {"none": "one axis", "kind": "per kind", "layer": "per layer"}
_GROUPS = {"none": "one chart", "kind": "by kind", "block": "by block"}


def render_table(ref: ModelRef, model: ModelWeights) -> None:
    """Every layer with its statistics and health status, sortable; a row opens its layer."""
    job = _job(_key(ref), _source_path(ref), model)
    if not job.wait_stats(_SETTLE_S):
        bar = st.progress(job.fraction, text="Reading every weight for its statistics...")
        while not job.wait_stats(0.25):
            bar.progress(job.fraction, text=f"Statistics {job.done}/{job.total}: {job.current}")
        bar.empty()
    job.wait(_SETTLE_S)
    status = health_view.layer_status(ref, model)
    table = tables.layer_table(model, status=status, compute_spectra=job.finished)
    show_unreadable(model)
    if not job.finished:
        st.caption(
            f"WeightWatcher's spectra: {job.done - len(job.pending)} of {len(job.spectra)} "
            f"computed (now {job.current or 'finishing'}); the alpha columns of the others fill "
            "in as they are done, at the next rerun."
        )
    paths = list(table["path"])

    def opened() -> None:
        rows = st.session_state[TABLE_KEY]["selection"]["rows"]
        if rows:
            open_layer(paths[rows[0]])

    st.caption(
        "Click a column header to sort (status: worst health finding of the layer, errors "
        "first). Select a row to open its layer. NaN / Inf columns flag layers holding such "
        "values."
    )
    views.show_table(table, key=TABLE_KEY, on_select=opened)


def render_overview(ref: ModelRef, model: ModelWeights) -> None:
    """A box per weighted layer, grouped and filtered by kind, and block statistics by depth."""
    weighted = model.weighted_layers()
    kinds = list(dict.fromkeys(la.kind for la in weighted))
    c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
    with c1:
        chosen = st.multiselect("Kinds", kinds, default=kinds, key="overview_kinds")
    with c2:
        group = _choice("Group", _GROUPS, "kind" if len(weighted) > _MANY_LAYERS else "none")
    with c3:
        normalize = _choice("Scale", _SCALES, "none")
    with c4:
        scale = _choice("Axis", {"linear": "values", "log_abs": "|w| log"}, "linear")
    layers = [la for la in weighted if la.kind in chosen]
    job = _job(_key(ref), _source_path(ref), model)
    if job.wait_stats(_SETTLE_S):
        _draw(ref, model, layers, group, normalize, scale, health_view.layer_status(ref, model))
        _depth(model)
    else:
        _live(ref, model, layers, group, normalize, scale)


@st.fragment(run_every=1.0)
def _live(
    ref: ModelRef,
    model: ModelWeights,
    layers: list[LayerWeights],
    group: str,
    normalize: str,
    scale: str,
) -> None:
    """The overview of the layers done so far, redrawn every second until the job ends."""
    job = _job(_key(ref), _source_path(ref), model)
    if job.stats_finished:
        st.rerun()
    st.progress(job.fraction, text=f"Statistics {job.done}/{job.total}: {job.current}")
    done = [la for la in layers if all(w.has_stats for w in la.weights)]
    st.caption(f"{len(done)} of {len(layers)} layers so far; the rest appear as they are read.")
    _draw(ref, model, done, group, normalize, scale)


def _draw(
    ref: ModelRef,
    model: ModelWeights,
    layers: Sequence[LayerWeights],
    group: str,
    normalize: str,
    scale: str,
    status: dict[str, str] | None = None,
) -> None:
    if not layers:
        st.info("No layer of the chosen kinds has weights.")
        return
    show_unreadable(model)
    key = _key(ref)
    groups = _groups(layers, group)
    for i, (name, members) in enumerate(groups.items()):
        boxes = [_box(key, la.path, scale, la) for la in members]
        fig = overview.box_figure(
            boxes,
            [la.kind for la in members],
            title=f"{model.name}" if name == "" else f"{model.name}, {name}",
            scale=scale,  # type: ignore[arg-type]
            normalize=normalize,  # type: ignore[arg-type]
            marks=[(status or {}).get(la.path) for la in members],
        )
        if name == "":
            views.show_overview(fig, key="overview")
            continue
        with st.expander(f"{name} ({len(members)} layers)", expanded=i == 0 or len(groups) <= 3):
            views.show_overview(fig, key=f"overview-{group}-{i}")


def _groups(layers: Sequence[LayerWeights], group: str) -> dict[str, list[LayerWeights]]:
    """Layers by kind or by block (``model.layers 3``), in model order; one unnamed group."""
    if group == "none":
        return {"": list(layers)}
    out: dict[str, list[LayerWeights]] = {}
    for layer in layers:
        if group == "kind":
            name: str = layer.kind
        else:
            position = block_position(layer.path)
            name = f"{position[0]} {position[1]}" if position else "outside blocks"
        out.setdefault(name, []).append(layer)
    return out


def _depth(model: ModelWeights) -> None:
    """Small multiples of block statistics by depth, for models with repeated blocks."""
    if sum(block_position(la.path) is not None for la in model.weighted_layers()) < 2:
        return
    st.subheader("Repeated blocks by depth")
    measure = _choice(
        "Statistic",
        {"std": "std", "rms": "RMS", "max_abs": "max |w|", "mean": "mean"},
        "std",
        key="depth_measure",
    )
    series = overview.depth_series(model, measure)  # type: ignore[arg-type]
    if not series:
        st.info("No layer repeats in two or more numbered blocks.")
        return
    fig = overview.depth_figure(series, measure)  # type: ignore[arg-type]
    st.plotly_chart(fig, width="stretch", key="depth-chart")
    st.caption(
        "One panel per layer that repeats in every block (q/k/v/o projections, MLP, norms): a "
        "block whose statistic jumps away from its neighbours stands out."
    )


def _compute_stats(model: ModelWeights) -> None:
    """Read every array once for its statistics, with a progress bar if any is still unread
    (for views that need them now, such as the graph's colours)."""
    pending = [(layer, w) for layer, w in model.iter_weights() if not w.has_stats]
    pending = [(layer, w) for layer, w in pending if w.failure is None]
    if not pending:
        return
    bar = st.progress(0.0, text="Reading every weight for its statistics...")
    for done, (layer, weight) in enumerate(pending, start=1):
        weight.readable_stats()  # an unreadable one shows as such (uncoloured, its finding)
        bar.progress(done / len(pending), text=f"Statistics: {layer.path}/{weight.name}")
    bar.empty()


def show_unreadable(model: ModelWeights) -> None:
    """One error box naming the weights found unreadable so far (none: nothing is shown), for the
    views of the whole model, which show those weights as unreadable and the others as usual."""
    lost = [(layer, w) for layer, w in model.iter_weights() if w.failure is not None]
    if not lost:
        return
    names = ", ".join(f"{layer.path}/{w.name}" for layer, w in lost[:5])
    more = f" and {len(lost) - 5} more" if len(lost) > 5 else ""
    st.error(
        plain(
            f"{len(lost)} weight(s) cannot be read, so they show as unreadable ({names}{more}): "
            f"{lost[0][1].failure}"
        )
    )


def _choice(label: str, options: dict[str, str], default: str, key: str | None = None) -> str:
    value = st.segmented_control(
        label,
        list(options),
        key=key or f"overview_{label.lower()}",
        default=default,
        required=True,
        format_func=options.__getitem__,
    )
    return str(value or default)


@st.cache_resource(max_entries=8, show_spinner=False)
def _job(key: str, source: Path | None, _model: ModelWeights) -> StatsJob:
    return StatsJob(_model, source).start()


def start_stats_job(ref: ModelRef, model: ModelWeights) -> StatsJob:
    """The model's background statistics and spectra job, started if it is not running."""
    return _job(_key(ref), _source_path(ref), model)


@st.cache_resource(max_entries=20_000, show_spinner=False)
def _box(key: str, path: str, scale: str, _layer: LayerWeights) -> Any:
    return overview.layer_box(_layer, scale=scale)  # type: ignore[arg-type]


def _source_path(ref: ModelRef) -> Path | None:
    """The file or folder behind a model-folder reference (its statistics may be kept)."""
    if ref.kind != "folder":
        return None
    try:
        source = ref.source
    except Exception:  # noqa: BLE001 - a vanished file: nothing to keep
        return None
    return Path(source) if source else None


def _key(ref: ModelRef) -> str:
    return f"{ref.kind}|{ref.name}|{ref.token}"
