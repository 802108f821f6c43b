"""SavedModel folders, zipped SavedModels and bare checkpoints, read by the checkpoint reader."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _fixtures_readers import array_multiset, build_model, live_layout, model_multiset

from kerascope.extraction.readers import read_file
from kerascope.extraction.readers.sniff import sniff


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import tensorflow as tf

    model = build_model()
    folder = tmp_path_factory.mktemp("sm")
    model.export(folder / "export", verbose=False)
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)
    prefix = tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(
        str(folder / "ckpt" / "zoo")
    )
    zipped = folder / "export.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in (folder / "export").rglob("*"):
            zf.write(file, Path("export") / file.relative_to(folder / "export"))
    return {
        "model": model,
        "live": live_layout(model),
        "export": folder / "export",
        "ckpt_dir": folder / "ckpt",
        "ckpt_index": Path(prefix + ".index"),
        "zip": zipped,
    }


@pytest.mark.parametrize("source", ["export", "zip", "ckpt_dir", "ckpt_index"])
def test_every_array_exactly_once_and_nothing_read_on_open(saved: Any, source: str) -> None:
    path = saved[source]
    records = read_file(path, sniff(path))
    assert not any(w.is_loaded for _, w in records.iter_weights())
    # Seed-generator state, optimizer slots and the save counter are not weights.
    assert array_multiset(records) == model_multiset(saved["model"])


def test_export_names_layers_from_the_recorded_variable_paths(saved: Any) -> None:
    records = read_file(saved["export"], "saved_model")
    got = {(layer.path, tuple(w.name for w in layer.weights)) for layer in records.layers}
    live = {(p, tuple(names)) for p, _, _, names in saved["live"] if names}
    # TimeDistributed cannot be told from a nested model by paths alone: "td/<inner>" is kept
    # (the inner Dense's auto name depends on how many models this process built).
    extra = got - live
    assert len(extra) == 1 and next(iter(extra))[0].startswith("td/")
    assert next(iter(extra))[1] == ("kernel", "bias")
    assert live - got == {("td", ("kernel", "bias"))}
    assert records.layer("mha").kind == "attention"
    bilstm = records.layer("bilstm").weights
    assert bilstm[1].name.startswith("forward_lstm") and bilstm[1].shape == (3, 12)
    assert any("variable paths" in note for note in records.notes)


def test_checkpoint_without_names_uses_object_paths(saved: Any) -> None:
    records = read_file(saved["ckpt_dir"], "checkpoint")
    assert all(layer.path.startswith("model/") for layer in records.layers)
    mha = [layer for layer in records.layers if layer.kind == "attention"]
    assert [w.name for w in mha[0].weights][:2] == ["query/kernel", "query/bias"]
    assert any("object path" in note for note in records.notes)


def test_zipped_savedmodel_temp_folder_is_private_and_values_match(saved: Any) -> None:
    records = read_file(saved["zip"], "saved_model")
    kernel = records.layer("conv").weight("kernel").array()
    assert np.array_equal(kernel, saved["model"].get_layer("conv").kernel.numpy())


def test_keras2_savedmodel_uses_its_metadata(realworld: Path, tmp_path: Path) -> None:
    folder = tmp_path / "sm"
    shutil.copytree(realworld / "digits_savedmodel_keras2", folder)
    records = read_file(folder, sniff(folder))
    assert [(layer.path, layer.class_name) for layer in records.layers] == [
        ("dense", "Dense"),
        ("dense_1", "Dense"),
    ]
    assert [w.name for w in records.layer("dense").weights] == ["kernel", "bias"]
    assert records.name == "sequential" and records.notes == ()
