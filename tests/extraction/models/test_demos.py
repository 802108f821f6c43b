"""Built-in demos: accurate, reproducible from a seed, cached, with progress."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kerascope.extraction import open_model
from kerascope.extraction.models.demos import DEMOS, demo_info, ensure_demo, train_demo


@pytest.mark.parametrize("name", sorted(DEMOS))
def test_demo_is_accurate_on_held_out_digits(name: str) -> None:
    ensure_demo(name)
    info = demo_info(name)
    assert info["test_accuracy"] >= 0.90
    assert info["test_samples"] >= 400


def test_demo_opens_with_named_layers() -> None:
    records = open_model("demo:digits_cnn")
    assert records.format == "demo" and records.source == "demo:digits_cnn"
    conv1 = records.layer("conv1")
    assert conv1.kind == "conv2d" and conv1.weight("kernel").shape == (3, 3, 1, 16)


def test_training_is_reproducible_from_a_seed() -> None:
    a, _ = train_demo("digits_mlp", seed=3)
    b, _ = train_demo("digits_mlp", seed=3)
    for va, vb in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(va), np.asarray(vb))


def test_trained_once_then_cached_with_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERASCOPE_CACHE_DIR", str(tmp_path))
    seen: list[tuple[float, str]] = []
    path = ensure_demo("digits_mlp", progress=lambda f, m: seen.append((f, m)))
    assert path.is_file() and path.parent == tmp_path
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 2
    assert "epoch" in seen[0][1]
    stamp = path.stat().st_mtime_ns
    seen.clear()
    assert ensure_demo("digits_mlp", progress=lambda f, m: seen.append((f, m))) == path
    assert path.stat().st_mtime_ns == stamp and seen == [(1.0, "digits_mlp loaded from cache")]
