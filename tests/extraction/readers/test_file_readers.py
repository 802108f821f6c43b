"""The file readers on real files written by Keras: names as a live model, arrays exactly once."""

from __future__ import annotations

import gc
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from _fixtures_readers import (
    CUSTOM,
    array_multiset,
    build_model,
    file_layout,
    live_layout,
    model_multiset,
    save_all,
)

from kerascope.extraction.errors import CorruptFile, UnsafeModel, UnsupportedFormat
from kerascope.extraction.readers import read_file
from kerascope.extraction.readers.sniff import sniff

FORMATS = ["keras", "h5", "weights_h5"]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Path], list[Any]]:
    model = build_model()
    expected = live_layout(model)
    files = save_all(model, tmp_path_factory.mktemp("zoo"))
    return model, files, expected


def _expected(live: list[Any], fmt: str) -> list[Any]:
    """The live layout, with what each format cannot know put the way the reader decides."""
    out = []
    for path, class_name, kind, names in live:
        if class_name == CUSTOM and fmt != "h5":
            # Only the legacy .h5 stores variable names; the others store positions.
            names = [f"vars/{i}" for i in range(len(names))]
        if fmt == "weights_h5" and class_name == CUSTOM:
            class_name = "unknown"
        if fmt == "weights_h5" and path == "bn_nocenter":
            # Without the config, 3 BatchNorm variables may lack gamma or beta: not guessed.
            names = [f"vars/{i}" for i in range(len(names))]
        out.append((path, class_name, kind, names))
    return sorted(out) if fmt == "weights_h5" else out


@pytest.mark.parametrize("fmt", FORMATS)
def test_layers_and_names_match_the_live_model(zoo: Any, fmt: str) -> None:
    _, files, live = zoo
    records = read_file(files[fmt], sniff(files[fmt]))
    got = file_layout(records)
    # A weights-only file records no config, so its layers come in the file's order.
    assert (sorted(got) if fmt == "weights_h5" else got) == _expected(live, fmt)
    assert records.name == "zoo"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_array_exactly_once_and_equal_by_value(zoo: Any, fmt: str) -> None:
    model, files, _ = zoo
    records = read_file(files[fmt], sniff(files[fmt]))
    assert array_multiset(records) == model_multiset(model)
    by_key = {f"{layer.path}/{w.name}": w for layer, w in records.iter_weights()}
    assert np.array_equal(by_key["bn/moving_mean"].array(), model.get_layer("bn").moving_mean)
    assert not by_key["bn/moving_variance"].trainable and by_key["bn/gamma"].trainable


@pytest.mark.parametrize("fmt", FORMATS)
def test_opening_reads_no_array(zoo: Any, fmt: str) -> None:
    _, files, _ = zoo
    records = read_file(files[fmt], sniff(files[fmt]))
    weights = [w for _, w in records.iter_weights()]
    assert weights and not any(w.is_loaded for w in weights)
    kernel = records.layer("conv").weight("kernel")
    assert kernel.shape == (3, 3, 3, 4) and kernel.dtype == "float32"
    kernel.array()
    assert [w for w in weights if w.is_loaded] == [kernel]


def test_custom_layer_keeps_its_class_and_every_weight(zoo: Any) -> None:
    _, files, _ = zoo
    records = read_file(files["keras"], "keras_zip")
    custom = records.layer("custom")
    assert (custom.class_name, custom.kind) == (CUSTOM, "other")
    assert [w.shape for w in custom.weights] == [(4,), (4,)]
    assert any("custom" in note and "position" in note for note in records.notes)


def test_compressed_keras_zip_reads_the_same_and_cleans_up(zoo: Any, tmp_path: Path) -> None:
    model, files, _ = zoo
    deflated = tmp_path / "deflated.keras"
    with zipfile.ZipFile(files["keras"]) as src, zipfile.ZipFile(deflated, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info), compress_type=zipfile.ZIP_DEFLATED)
    records = read_file(deflated, "keras_zip")
    assert array_multiset(records) == model_multiset(model)
    del records
    gc.collect()


def test_keras_written_npz_is_refused_without_unpickling(zoo: Any, tmp_path: Path) -> None:
    from keras.src.saving import saving_lib

    model, _, _ = zoo
    path = tmp_path / "npz.keras"
    saving_lib.save_model(model, path, weights_format="npz")
    with pytest.raises(UnsafeModel, match="pickle"):
        read_file(path, sniff(path))


def test_plain_npz_weights_are_read(tmp_path: Path) -> None:
    path = tmp_path / "plain.keras"
    kernel = np.arange(6, dtype="float32").reshape(2, 3)
    buffer = io.BytesIO()
    np.savez(buffer, **{"layers/dense/vars/0": kernel, "layers/dense/vars/1": np.ones(3)})
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Dense", "config": {"name": "dense", "units": 3}}]}}  # fmt: skip
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.npz", buffer.getvalue())
    records = read_file(path, sniff(path))
    dense = records.layer("dense")
    assert dense.class_name == "Dense" and [w.name for w in dense.weights] == ["vars/0", "vars/1"]
    assert not dense.weights[0].is_loaded
    assert np.array_equal(dense.weights[0].array(), kernel)


def test_dataset_declaring_more_than_the_file_holds_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("layers/dense/vars/0", shape=(1 << 16, 1 << 16), dtype="float32")
    with pytest.raises(UnsafeModel, match="declares"):
        read_file(path, sniff(path))


def test_oversized_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", b" " * (64 * 1024 * 1024 + 1))
        zf.writestr("model.weights.h5", b"")
    with pytest.raises(UnsafeModel, match="config.json"):
        read_file(path, "keras_zip")


def test_truncated_keras_zip_is_corrupt(zoo: Any, tmp_path: Path) -> None:
    _, files, _ = zoo
    path = tmp_path / "cut.keras"
    path.write_bytes(files["keras"].read_bytes()[:-4000])
    with pytest.raises(CorruptFile):
        read_file(path, "keras_zip")


def test_hdf5_without_keras_weights_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(UnsupportedFormat, match="no Keras weights"):
        read_file(path, sniff(path))


def test_non_file_format_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormat, match="keras_zip"):
        read_file(tmp_path, "live")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_wrapper_says_what_it_wraps(zoo: Any, fmt: str) -> None:
    # From the config where the file has one, from the sub-layer's group where it has not.
    _, files, _ = zoo
    records = read_file(files[fmt], sniff(files[fmt]))
    assert records.layer("bilstm").wrapped == "LSTM"
    assert records.layer("td").wrapped == "Dense"
    assert records.layer("td").kind == "dense"
    assert records.layer("lstm").wrapped == "" and records.layer("conv").wrapped == ""
