"""Quantization figures by their data: ranked bars, rows, per-channel bars."""

from __future__ import annotations

import math

from kerascope.components.figures.quantization import (
    channel_error_figure,
    error_rows,
    layer_error_figure,
)
from kerascope.extraction.analysis.quantization import QuantizationReport, WeightError


def _error(
    layer: str, norm: float, error: float, channels: tuple[float, ...] | None
) -> WeightError:
    return WeightError(layer, "kernel", f"m_1/{layer}_1", "MatMul", "name", (3, 2), "int8",
                       norm, error, error / 2, channels)  # fmt: skip


REPORT = QuantizationReport(
    "float",
    "export",
    (
        _error("a", 1.0, 0.01, (0.01, 0.02)),
        _error("b", 2.0, 0.5, None),
        _error("c", 0.0, 0.0, None),
        _error("d", 1.0, math.nan, None),
    ),
    ("e",),
)


def test_bars_put_the_largest_loss_on_top_and_nan_last() -> None:
    fig = layer_error_figure(REPORT)
    assert list(fig.data[0].y) == ["b", "a", "c", "d"]
    assert list(fig.data[0].x)[:3] == [0.25, 0.01, 0.0] and fig.data[0].x[3] is None
    assert fig.data[0].text[3] == "NaN/Inf in a weight"


def test_rows_rank_weights_and_name_the_worst_channel() -> None:
    rows = error_rows(REPORT)
    assert [r["layer"] for r in rows] == ["b", "a", "c", "d"]
    assert rows[1]["worst channel (relative L2)"] == "0.02"
    assert rows[0]["in the export"] == "m_1/b_1 / MatMul" and rows[0]["stored as"] == "int8"


def test_channel_bars_only_for_per_channel_scales() -> None:
    assert channel_error_figure(REPORT.errors[1]) is None
    fig = channel_error_figure(REPORT.errors[0])
    assert fig is not None and list(fig.data[0].y) == [0.01, 0.02]
