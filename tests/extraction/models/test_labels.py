"""Class names from Keras's cache, top-5 guesses, representative samples, backgrounds and an
application's own preprocessing (no Streamlit)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kerascope.extraction.models.activations import (
    background_level,
    edge_energy,
    representative_index,
)
from kerascope.extraction.models.applications import OFFLINE, build_application, preprocess
from kerascope.extraction.models.labels import (
    IMAGENET_CLASS_INDEX,
    ClassNames,
    imagenet_classes,
    top_predictions,
)


def _write_index(home: Path, text: str) -> None:
    (home / "models").mkdir(exist_ok=True)
    (home / "models" / IMAGENET_CLASS_INDEX).write_text(text)


def test_imagenet_names_from_the_cache_else_indices_labelled_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    missing = imagenet_classes()
    assert missing.names == () and "indices" in missing.source
    assert missing.name(716) == "class 716"
    index = {str(i): [f"n{i:08d}", f"name_{i}"] for i in range(1000)}
    _write_index(tmp_path, json.dumps(index))
    cached = imagenet_classes()
    assert len(cached.names) == 1000 and cached.name(716) == "name_716"
    assert "names" in cached.source
    for broken in ("{not json", json.dumps({"0": ["n0", "tench"]}), json.dumps([1, 2])):
        _write_index(tmp_path, broken)
        assert imagenet_classes().names == (), broken  # a broken cache gives indices
    _write_index(tmp_path, " " * (1024**2 + 1))
    assert imagenet_classes().names == ()


def test_top_predictions_order_names_and_probability() -> None:
    classes = ClassNames(("cat", "dog", "fox"), "test")
    top = top_predictions(np.array([0.2, 0.7, 0.1]), classes, k=2)
    assert [(p.index, p.name) for p in top] == [(1, "dog"), (0, "cat")]
    assert all(p.probability for p in top) and top[0].score == pytest.approx(0.7)
    logits = top_predictions(np.array([3.0, -1.0, 3.0]), classes)
    assert [p.index for p in logits] == [0, 2, 1] and not logits[0].probability  # ties: index
    assert top_predictions(np.array([1.0]), classes) == ()
    assert top_predictions(np.array([0.5, np.nan]), classes) == ()
    assert top_predictions(np.zeros((2, 2)), classes) == ()


def test_representative_sample_is_the_one_with_edges_not_the_blank_sky() -> None:
    rng = np.random.default_rng(0)
    sky = np.full((16, 16, 3), 0.8)
    gradient = np.linspace(0, 1, 16)[None, :, None] * np.ones((16, 16, 3))
    texture = rng.random((16, 16, 3))
    xs = np.stack([sky, gradient, texture, sky])
    assert representative_index(xs) == 2
    assert representative_index(np.stack([sky, sky])) == 0  # ties: the first
    assert edge_energy(np.zeros(64)) == 0.0 and edge_energy(np.arange(64.0)) > 0
    assert edge_energy(np.array([1.0, 3.0, 5.0])) == pytest.approx(np.std([1, 3, 5]))
    with pytest.raises(ValueError, match="no samples"):
        representative_index(np.zeros((0, 4, 4, 1)))


def test_background_level_of_paper_and_of_the_digits_demo() -> None:
    paper = np.ones((8, 8, 1))
    paper[3:5, 3:5] = 0.0  # a dark stroke in the middle
    assert background_level(paper) == 1.0
    assert background_level(1.0 - paper) == 0.0
    with pytest.raises(ValueError, match="image"):
        background_level(np.zeros(5))


def test_application_preprocessing_is_its_own_and_leaves_the_input() -> None:
    pixels = np.zeros((2, 2, 3), dtype=np.float32)
    pixels[..., 0] = 1.0  # pure red
    before = pixels.copy()
    vgg = preprocess("VGG16", pixels)
    # caffe style: RGB -> BGR, minus the ImageNet mean (B 103.939, G 116.779, R 123.68).
    np.testing.assert_allclose(vgg[0, 0], [-103.939, -116.779, 255 - 123.68], atol=1e-3)
    np.testing.assert_allclose(preprocess("MobileNetV2", pixels)[0, 0], [1, -1, -1])
    np.testing.assert_array_equal(pixels, before)


@pytest.mark.slow
def test_a_failed_download_says_offline_and_nothing_raw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(Exception, match=OFFLINE) as caught:
        build_application("MobileNetV2", download=True)
    message = str(caught.value)
    assert "http" not in message and "Errno" not in message and "URL" not in message
