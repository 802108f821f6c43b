"""``export`` writes every array of ``model.weights`` exactly once, equal by value."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import keras
import numpy as np
import pytest

from kerascope.extraction import open_model
from kerascope.extraction.cli import export_npz


def _digest(array: np.ndarray) -> tuple[tuple[int, ...], str]:  # type: ignore[type-arg]
    data = np.ascontiguousarray(array, dtype=np.float64).tobytes()
    return tuple(array.shape), hashlib.sha1(data).hexdigest()


def test_export_of_a_live_model_holds_every_weight_once(
    tmp_path: Path, zoo_model: keras.Model
) -> None:
    model = zoo_model
    out = tmp_path / "zoo.npz"
    count = export_npz(open_model(model), out)
    assert count == len(model.weights)
    with np.load(out, allow_pickle=False) as npz:
        exported = Counter(_digest(npz[k]) for k in npz.files)
        assert all(not npz[k].dtype.hasobject for k in npz.files)
    expected = Counter(_digest(keras.ops.convert_to_numpy(v)) for v in model.weights)
    assert exported == expected


def test_export_through_keras_load_of_a_saved_file(tmp_path: Path, zoo_model: keras.Model) -> None:
    model = zoo_model
    for name in ("zoo.keras", "zoo.h5"):
        path = tmp_path / name
        model.save(path)
        out = tmp_path / f"{name}.npz"
        export_npz(open_model(path, live=True), out)
        with np.load(out) as npz:
            exported = Counter(_digest(npz[k]) for k in npz.files)
        assert exported == Counter(_digest(keras.ops.convert_to_numpy(v)) for v in model.weights)


@pytest.mark.parametrize("name", ["mnist_mlp.h5", "mnist_cnn.keras", "melody_lstm.keras"])
def test_realworld_files_keras_loads_export_every_expected_array(
    realworld: Path, tmp_path: Path, name: str
) -> None:
    expected = json.loads((realworld / "expected.json").read_text())[name]["arrays"]
    records = open_model(realworld / name, live=True)
    assert records.live_model is not None
    out = tmp_path / "out.npz"
    export_npz(records, out)
    with np.load(out) as npz:
        exported = Counter(_digest(npz[k]) for k in npz.files)
    assert exported == Counter((tuple(shape), sha) for shape, sha in expected)
