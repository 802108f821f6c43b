"""The run figures, tested by their data: colour ranges across the run, the update ratio's log
axis and reference band, gaps where a ratio is undefined, the ridgeline's choice of snapshots."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kerascope.components.figures import timeline as figures
from kerascope.extraction.analysis.snapshots import point
from kerascope.extraction.analysis.timeline import WeightTimeline


def _line(arrays: list[np.ndarray], key: str = "dense/kernel") -> WeightTimeline:
    points = [point(a, arrays[i - 1] if i else None) for i, a in enumerate(arrays)]
    layer, name = key.rsplit("/", 1)
    return WeightTimeline(layer, name, arrays[0].shape, tuple(points))


def _grown(n: int = 5, shape: tuple[int, ...] = (6, 4)) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.normal(size=shape).astype(np.float32)
    return [base * (1 + 0.5 * t) for t in range(n)]


def test_the_weight_view_uses_the_run_range_and_leaves_the_input_alone() -> None:
    arrays = _grown()
    line = _line(arrays)
    first = arrays[0].copy()
    fig = figures.weight_figure(
        arrays[0],
        kind="dense",
        role="kernel",
        name="kernel",
        limit=line.limit(),
        title="t",
        subtitle="s",
    )
    heat = fig.data[0]
    assert heat.zmax == pytest.approx(float(np.abs(arrays[-1]).max()))
    assert heat.zmin == -heat.zmax
    np.testing.assert_array_equal(arrays[0], first)


def test_a_conv_kernel_is_a_filter_grid_on_the_run_range() -> None:
    kernel = np.random.default_rng(1).normal(size=(3, 3, 1, 4)).astype(np.float32)
    fig = figures.weight_figure(
        kernel,
        kind="conv2d",
        role="kernel",
        name="kernel",
        limit=7.0,
        title="t",
        subtitle="s",
    )
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert heat and all(t.zmax == 7.0 and t.zmin == -7.0 for t in heat)


def test_update_ratios_are_on_a_log_axis_with_the_reference_band_and_gaps() -> None:
    arrays = _grown()
    zero_bias = [np.zeros(4, np.float32), *(np.full(4, 0.1 * t, np.float32) for t in range(1, 5))]
    lines = [_line(arrays), _line(zero_bias, "dense/bias")]
    fig = figures.multiples_figure(lines, [0, 1, 2, 3, 4], ["l2", "update_ratio"], marker=2)
    assert len(fig.data) == 4
    assert fig.layout.yaxis2.type == "log" and fig.layout.yaxis4.type == "log"
    assert fig.layout.yaxis.type != "log"
    bias_ratio = list(fig.data[3].y)
    assert math.isnan(bias_ratio[0]) and math.isnan(bias_ratio[1])  # no ratio from a zero norm
    assert bias_ratio[2] == pytest.approx(1.0)  # 0.1 -> 0.2 per value
    kernel_ratio = fig.data[1].y
    assert kernel_ratio[1] == pytest.approx(0.5)
    bands = [s for s in fig.layout.shapes if s.type == "rect"]
    assert {(b.y0, b.y1) for b in bands} == {figures.RATIO_BAND}
    lines_at = {s.y0 for s in fig.layout.shapes if s.type == "line" and s.y0 == s.y1}
    assert figures.RATIO_REFERENCE in lines_at
    markers = [s for s in fig.layout.shapes if s.type == "line" and s.x0 == s.x1 == 2]
    assert len(markers) == 4  # one per panel


def test_one_metric_is_a_grid_of_three_columns_and_unknown_metrics_are_refused() -> None:
    lines = [_line(_grown(), f"l{i}/kernel") for i in range(5)]
    fig = figures.multiples_figure(lines, list(range(5)), ["std"])
    assert len(fig.data) == 5
    assert fig.data[4].xaxis == "x5" and fig.layout.xaxis6 is not None  # 2 rows x 3 columns
    with pytest.raises(ValueError, match="unknown metric 'norm'"):
        figures.multiples_figure(lines, list(range(5)), ["norm"])


def test_the_ridgeline_draws_every_snapshot_or_an_even_choice_with_the_marked_one() -> None:
    line = _line(_grown(6))
    labels = [f"epoch {i}" for i in range(6)]
    fig = figures.ridgeline_figure(line, range(6), labels, marker=3)
    assert [t.name for t in fig.data] == labels
    assert fig.data[3].line.color == figures.MARKER
    many = _line(_grown(100, (3, 3)))
    labels = [f"epoch {i}" for i in range(100)]
    fig = figures.ridgeline_figure(many, range(100), labels, marker=37)
    names = [t.name for t in fig.data]
    assert len(names) <= figures.MAX_RIDGES and "epoch 37" in names
    assert names[0] == "epoch 0" and names[-1] == "epoch 99"


def test_constant_and_non_finite_snapshots_do_not_break_the_ridgeline() -> None:
    arrays = [np.zeros(4, np.float32), np.full(4, np.nan, np.float32), np.arange(4.0)]
    line = _line(arrays, "d/bias")
    assert line.points[0].hist == (4,) and line.points[1].hist_range is None
    fig = figures.ridgeline_figure(line, [0, 1, 2], ["a", "b", "c"], marker=1)
    assert [t.name for t in fig.data] == ["a", "c"]


def test_logs_figure_is_none_without_logs_and_has_a_curve_per_key() -> None:
    assert figures.logs_figure([{}, {}], [1, 2]) is None
    fig = figures.logs_figure([{"loss": 2.0}, {"loss": 1.0, "val_loss": 1.5}], [1, 2], marker=1)
    assert fig is not None
    assert [t.name for t in fig.data] == ["loss", "val_loss"]
    assert math.isnan(fig.data[1].y[0])


def test_health_over_time_counts_findings_by_severity() -> None:
    from kerascope.extraction.analysis.diagnostics import Finding

    nan = Finding("nan_inf", "error", "kernel", "NaN", (0,), "unit")
    bias = Finding("constant_bias", "info", "bias", "constant", (), "position")
    fig = figures.health_figure([{"d": (bias,)}, {"d": (nan, bias), "e": (nan,)}], [1, 2], marker=1)
    by_name = {t.name: list(t.y) for t in fig.data}
    assert by_name == {"error": [0, 2], "warning": [0, 0], "info": [1, 1]}


def _diverging(n: int = 8, nan_at: int = 5, partial: bool = False) -> list[np.ndarray]:
    """A weight that grows, then holds NaN from ``nan_at`` (two values, or every value)."""
    arrays = _grown(n)
    for a in arrays[nan_at:]:
        if partial:
            a.reshape(-1)[:2] = np.nan
        else:
            a[...] = np.nan
    return arrays


def test_nan_snapshots_break_every_line_with_a_marker_in_the_heatmap_colour() -> None:
    from kerascope.components.figures.specials import COLOURS

    line = _line(_diverging())
    fig = figures.multiples_figure([line], list(range(1, 9)), ["l2", "std", "update_ratio"])
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    marks = [t for t in fig.data if t.mode == "markers"]
    assert len(lines) == 3 and len(marks) == 3  # one marker trace per panel
    for trace in lines:
        assert all(math.isnan(v) for v in trace.y[5:])  # the line ends at the NaN snapshot
    l2_line, l2_marks = lines[0], marks[0]
    assert list(l2_marks.x) == [6, 7, 8]  # steps of snapshots 5, 6, 7
    assert set(l2_marks.marker.color) == {COLOURS["NaN"]}
    assert all(y == pytest.approx(l2_line.y[4]) for y in l2_marks.y)  # where the line ended
    assert "no value: the line ends here" in l2_marks.text[0]
    assert "24 NaN" in l2_marks.text[0]  # every one of the 6 x 4 values
    ratio_marks = marks[2]
    assert all(y > 0 for y in ratio_marks.y)  # on the log axis, never a drop to the floor
    labels = [a for a in fig.layout.annotations if "from here" in (a.text or "")]
    assert len(labels) == 3 and all(a.text == "NaN from here" for a in labels)
    assert {a.bgcolor for a in labels} == {COLOURS["NaN"]}


def test_a_partly_nan_weight_keeps_its_finite_values_at_the_marker() -> None:
    line = _line(_diverging(partial=True))
    fig = figures.multiples_figure([line], list(range(8)), ["l2"])
    marks = next(t for t in fig.data if t.mode == "markers")
    l2 = line.series("l2")
    assert list(marks.y) == pytest.approx([l2[5], l2[6], l2[7]])  # finite values' L2
    assert "over the finite values" in marks.text[0] and "2 NaN" in marks.text[0]


def test_inf_is_marked_in_the_inf_colour_and_nan_wins_over_inf() -> None:
    from kerascope.components.figures.specials import COLOURS

    arrays = _grown(4)
    arrays[2] = arrays[2].copy()
    arrays[2][0, 0] = np.inf
    arrays[3] = arrays[3].copy()
    arrays[3][1, 0] = np.inf
    arrays[3][0, 1] = np.nan
    fig = figures.multiples_figure([_line(arrays)], list(range(4)), ["std"])
    marks = next(t for t in fig.data if t.mode == "markers")
    assert list(marks.marker.color) == [COLOURS["+Inf"], COLOURS["NaN"]]
    assert "1 Inf" in marks.text[0] and "1 NaN, 1 Inf" in marks.text[1]


def test_a_finite_run_has_no_markers_or_labels() -> None:
    fig = figures.multiples_figure([_line(_grown())], list(range(5)), ["l2", "update_ratio"])
    assert all(t.mode != "markers" for t in fig.data)
    assert not [a for a in fig.layout.annotations if "from here" in (a.text or "")]


def test_the_ridgeline_counts_nan_and_inf_it_cannot_draw() -> None:
    from kerascope.components.figures.specials import COLOURS

    line = _line(_diverging(100, nan_at=61, partial=False)[:100], "d/kernel")
    labels = [f"step {i}" for i in range(100)]
    fig = figures.ridgeline_figure(line, range(100), labels, marker=99)
    names = [t.name for t in fig.data]
    assert "step 61" not in names  # nothing finite to draw ...
    notes = [a for a in fig.layout.annotations if "NaN" in a.text]
    assert notes and all(a.bgcolor == COLOURS["NaN"] for a in notes)
    assert all("24 NaN (nothing finite to draw)" == a.text for a in notes)
    # ... but the first NaN snapshot is always among those labelled, at its ridge.
    ticks_at = {a.y for a in notes}
    assert len(ticks_at) == len(notes)
    assert "39 hold NaN or Inf, from step 61" in fig.layout.title.subtitle.text
    partial = _line(_diverging(6, nan_at=3, partial=True), "d/kernel")
    fig = figures.ridgeline_figure(partial, range(6), [f"s{i}" for i in range(6)], marker=0)
    assert [t.name for t in fig.data] == [f"s{i}" for i in range(6)]  # finite values drawn
    assert [a.text for a in fig.layout.annotations] == ["2 NaN"] * 3
