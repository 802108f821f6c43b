"""Whole-model panels: the sortable table of every layer and the distribution overview.

Both need every array's statistics and the model's verdicts, and the table WeightWatcher's
spectral metrics too: the model's background check (``checks``) computes them once per opened
model (and keeps the statistics of a big file in the cache folder). Neither waits for it: the
table lists every layer at once and fills in, the overview draws the layers already done, both
growing every second under a progress bar; spectra of big weights fill in after.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from kerascope.extraction.analysis.stats_job import StatsJob
from kerascope.extraction.kinds import block_position
from kerascope.extraction.records import LayerWeights, ModelWeights

from ..figures import overview, tables
from . import checks, views
from .messages import plain
from .navigation import open_layer
from .scope import model_key
from .sources import ModelRef

TABLE_KEY = "layers-table"
"""Name of the All-layers table (its key is the open model's: sort and selection are)."""

_MANY_LAYERS = 30
"""Above this many weighted layers the overview starts grouped by kind."""
_SCALES = {"none": "one axis", "kind": "per kind", "layer": "per layer"}
_GROUPS = {"none": "one chart", "kind": "by kind", "block": "by block"}


def render_table(ref: ModelRef, model: ModelWeights) -> None:
    """Every layer with its statistics and verdict, sortable; a row opens its layer. While the
    model's check runs, the rows are there at once and fill in."""
    key = model_key(TABLE_KEY)

    def draw(check: StatsJob) -> None:
        verdicts = checks.verdicts(ref, model)
        if check.findings is not None:
            checks.whole_model_banner(check.findings)
        table = tables.layer_table(
            model,
            status=verdicts,
            computed_only=not check.checked,
            compute_spectra=check.finished,
        )
        paths = list(table["path"])

        def opened() -> None:
            rows = st.session_state[key]["selection"]["rows"]
            if rows:
                open_layer(paths[rows[0]])

        status = (
            "status: the layer's verdict, its own worst health finding or the whole model's, "
            "errors first"
            if verdicts is not None
            else "the status column comes once every layer is checked"
        )
        st.caption(
            f"Click a column header to sort ({status}). Select a row to open its layer. NaN / "
            "Inf columns flag layers holding such values."
        )
        views.show_table(table, key=key, on_select=opened)
        if check.checked and not check.finished:
            st.caption(
                f"WeightWatcher's spectra: {check.spectra_left} still computing (now "
                f"{plain(check.current) or 'finishing'}); their alpha columns fill in as they "
                "are done, at the next rerun."
            )
        _job_error(check)

    checks.live(ref, model, draw)


def render_overview(ref: ModelRef, model: ModelWeights) -> None:
    """A box per weighted layer, grouped and filtered by kind, and block statistics by depth.
    While the model's check runs, the layers done so far are drawn, growing every second."""
    weighted = model.weighted_layers()
    kinds = list(dict.fromkeys(la.kind for la in weighted))
    c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
    with c1:
        chosen = st.multiselect("Kinds", kinds, default=kinds, key=model_key("overview_kinds"))
    with c2:
        group = _choice("Group", _GROUPS, "kind" if len(weighted) > _MANY_LAYERS else "none")
    with c3:
        normalize = _choice("Scale", _SCALES, "none")
    with c4:
        scale = _choice("Axis", {"linear": "values", "log_abs": "|w| log"}, "linear")
    layers = [la for la in weighted if la.kind in chosen]

    def draw(check: StatsJob) -> None:
        if not check.checked:
            done = [la for la in layers if all(w.has_stats for w in la.weights)]
            st.caption(
                f"{len(done)} of {len(layers)} layers so far; the rest appear as they are read."
            )
            _draw(ref, model, done, group, normalize, scale)
            return
        if check.findings is not None:
            checks.whole_model_banner(check.findings)
        _draw(ref, model, layers, group, normalize, scale, checks.verdicts(ref, model))
        _job_error(check)
        _depth(model)

    checks.live(ref, model, draw)


def _draw(
    ref: ModelRef,
    model: ModelWeights,
    layers: Sequence[LayerWeights],
    group: str,
    normalize: str,
    scale: str,
    verdicts: Mapping[str, str] | None = None,
) -> None:
    if not layers:
        st.info("No layer of the chosen kinds has weights.")
        return
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
            marks=[(verdicts or {}).get(la.path) for la in members],
        )
        if name == "":
            views.show_overview(fig, key=model_key("overview"))
            continue
        with st.expander(
            f"{plain(name)} ({len(members)} layers)", expanded=i == 0 or len(groups) <= 3
        ):
            views.show_overview(fig, key=model_key("overview", group, str(i)))


def _job_error(check: StatsJob) -> None:
    if check.error:
        st.warning(f"Some weights could not be read: {plain(check.error)}")


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
    st.plotly_chart(fig, width="stretch", key=model_key("depth-chart"))
    st.caption(
        "One panel per layer that repeats in every block (q/k/v/o projections, MLP, norms): a "
        "block whose statistic jumps away from its neighbours stands out."
    )


def _choice(label: str, options: dict[str, str], default: str, key: str | None = None) -> str:
    value = st.segmented_control(
        label,
        list(options),
        key=model_key(key or f"overview_{label.lower()}"),
        default=default,
        required=True,
        format_func=options.__getitem__,
    )
    return str(value or default)


@st.cache_resource(max_entries=20_000, show_spinner=False)
def _box(key: str, path: str, scale: str, _layer: LayerWeights) -> Any:
    return overview.layer_box(_layer, scale=scale)  # type: ignore[arg-type]


def _key(ref: ModelRef) -> str:
    return f"{ref.kind}|{ref.name}|{ref.token}"
