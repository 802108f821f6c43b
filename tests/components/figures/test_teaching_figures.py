"""Health and training figures by their data: spectrum fit line, curves, finding text."""

from __future__ import annotations

import numpy as np

from kerascope.components.figures.health import finding_text, spectrum_figure
from kerascope.components.figures.training import curves_figure
from kerascope.extraction.analysis.diagnostics import Finding
from kerascope.extraction.analysis.spectrum import spectrum
from kerascope.extraction.models.training import EpochLog


def test_spectrum_figure_has_singular_values_esd_and_fit() -> None:
    w = np.random.default_rng(0).standard_t(2.0, (400, 200))
    spec = spectrum(w, "kernel", "dense")
    fig = spectrum_figure(spec, "dense / kernel")
    names = [t.name for t in fig.data]
    assert names[:2] == ["singular value", "ESD"] and names[2].startswith("power law, alpha")
    assert len(fig.data[0].y) == 200
    assert fig.layout.xaxis2.type == "log" and fig.layout.yaxis2.type == "log"
    assert "stable rank" in fig.layout.title.subtitle.text


def test_curves_have_train_and_held_out_lines_and_a_marker() -> None:
    history = [EpochLog(e, 2.0 / (e + 1), 0.1 * e, 2.1 / (e + 1), 0.1 * e) for e in range(3)]
    fig = curves_figure(history, marker=1)
    assert [t.name for t in fig.data] == [
        "train loss",
        "held-out loss",
        "train accuracy",
        "held-out accuracy",
    ]
    assert list(fig.data[0].x) == [0, 1, 2]
    assert len(fig.layout.shapes) == 2  # the epoch marker in both panels


def test_finding_text_lists_indices_and_counts_the_rest() -> None:
    finding = Finding("dead_units", "warning", "kernel", "Dead.", tuple(range(25)), "filter")
    text = finding_text(finding)
    assert text.startswith("kernel: Dead.") and "19 and 5 more" in text
