"""Health and training figures by their data: spectrum fit line, curves, finding text."""

from __future__ import annotations

import numpy as np

from kerascope.components.figures.health import finding_text, spectrum_figure, traps_figure
from kerascope.components.figures.training import (
    chance_sentence,
    curves_figure,
    epoch_figures,
    gap_sentence,
)
from kerascope.extraction.analysis.diagnostics import Finding
from kerascope.extraction.analysis.spectrum import layer_esd
from kerascope.extraction.analysis.traps import correlation_traps
from kerascope.extraction.models.training import EpochLog, Knobs, TrainingRun, run_structure
from kerascope.extraction.readers.store import ArrayStore
from kerascope.extraction.records import LayerWeights, Weight


def dense(values: np.ndarray) -> tuple[LayerWeights, Weight]:  # type: ignore[type-arg]
    weight = ArrayStore().weight(
        "kernel", values, role="kernel", shape=values.shape, dtype=str(values.dtype)
    )
    layer = LayerWeights("dense", "dense", "Dense", "dense", {}, (weight,))
    return layer, weight


def test_spectrum_figure_has_singular_values_esd_and_fit() -> None:
    layer, weight = dense(np.random.default_rng(0).standard_t(2.0, (400, 200)))
    esd = layer_esd(layer, weight)
    assert esd is not None
    before = esd.eigenvalues.copy()
    fig = spectrum_figure(esd, "dense / kernel")
    names = [t.name for t in fig.data]
    assert names[:2] == ["singular value", "ESD"] and names[2].startswith("power law, alpha")
    assert names[2] == f"power law, alpha = {esd.stats.alpha:.2f}"
    assert len(fig.data[0].y) == 200
    assert list(fig.data[0].y) == sorted(fig.data[0].y, reverse=True)
    assert fig.layout.xaxis2.type == "log" and fig.layout.yaxis2.type == "log"
    subtitle = fig.layout.title.subtitle.text
    assert "alpha_weighted" in subtitle and "stable_rank" in subtitle
    np.testing.assert_array_equal(esd.eigenvalues, before)


def test_traps_figure_shows_both_spectra_and_the_edge() -> None:
    values = np.random.default_rng(1).standard_normal((300, 100)).astype(np.float32)
    values[7, 3] = 80.0  # one huge value: a trap that survives any permutation
    layer, weight = dense(values)
    check = correlation_traps(layer, weight)
    assert check is not None and check.traps >= 1
    fig = traps_figure(check, "dense / kernel")
    assert [t.name for t in fig.data] == [
        "the weight",
        "its values permuted",
        "Marchenko-Pastur edge",
        "edge + Tracy-Widom 99%",
    ]
    assert tuple(fig.data[3].x) == (check.threshold, check.threshold)
    assert fig.layout.xaxis.type == "log"
    assert "trap(s)" in fig.layout.title.subtitle.text


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


def fake_run(train: float, held: float) -> TrainingRun:
    knobs = Knobs(conv_filters=16, kernel_size=7, epochs=1, task="photos")
    structure = run_structure(knobs)
    snap = {(la.path, w.name): w.array() for la, w in structure.iter_weights()}
    history = (EpochLog(0, 2.1, 0.12, 2.1, 0.11), EpochLog(1, 0.4, train, 0.5, held))
    return TrainingRun(
        knobs,
        history,
        {0: snap, 1: snap},
        structure,
        classes=8,
        majority=0.246,
        majority_label="china, horizontal edges",
    )


def test_chance_and_gap_in_one_plain_sentence_each() -> None:
    good = fake_run(0.883, 0.882)
    chance = chance_sentence(good)
    assert chance.startswith("Chance level: guessing among the 8 labels scores 12.5%")
    assert "(china, horizontal edges) scores 24.6%" in chance and chance.count(". ") <= 1
    assert gap_sentence(good, 1) == (
        "At epoch 1: 88.3% on the training samples, 88.2% on held-out ones, a gap of 0.1 "
        "points: what it learned works as well on samples it never saw."
    )
    assert "before training, both are guesses" in gap_sentence(good, 0)
    over = gap_sentence(fake_run(0.95, 0.70), 1)
    assert "25 points lower" in over and "overfitting" in over
    assert "easier" in gap_sentence(fake_run(0.70, 0.80), 1)


def test_filter_tiles_are_large_across_the_page() -> None:
    view, _ = epoch_figures(fake_run(0.9, 0.9), 1, "conv1")
    assert view.data[0].type == "image"
    # 16 RGB filters in 2 rows of 8: the figure is a wide band, tall enough for 87 px tiles.
    width = view.data[0].z.shape[1]
    assert 7 * 8 <= width <= 7 * 8 + 8 * 2
    assert view.layout.height >= 2 * 87 + 108
