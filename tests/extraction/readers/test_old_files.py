"""Files written by other systems and older Keras: Windows group names, Keras 1 per-gate names,
and notes grouped by kind of problem."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np
import pytest
from keras import layers

from kerascope.extraction.api import open_model
from kerascope.extraction.kinds import role_of


def _windows_h5(source: h5py.File, target: h5py.File) -> None:
    """Rewrite a Keras-written weights tree as Keras 2.15 on Windows writes it: every group
    holding ``vars`` becomes ONE top-level group named by its path joined with backslashes
    (``layers\\conv``), and compiled metrics are saved as ``metrics\\<name>\\vars``."""
    holders: list[str] = []
    source.visititems(
        lambda name, obj: (
            holders.append(name) if isinstance(obj, h5py.Group) and "vars" in obj else None
        )
    )
    for name in holders:
        group = target.create_group(name.replace("/", "\\"))
        source.copy(source[f"{name}/vars"], group, "vars")
    if "vars" in source:
        source.copy(source["vars"], target, "vars")
    for metric in ("mean", "mean_absolute_error"):
        metric_vars = target.create_group(f"metrics\\{metric}").create_group("vars")
        metric_vars["0"] = np.float32(12.5)  # total
        metric_vars["1"] = np.float32(4.0)  # count


def _model() -> Any:
    keras.utils.set_random_seed(3)
    inner = keras.Sequential([keras.Input((6,)), layers.Dense(3, name="inner")], name="block")
    inp = keras.Input((4, 4, 1))
    x = layers.Conv2D(2, 3, name="conv")(inp)
    x = layers.Flatten(name="flat")(x)
    x = layers.Dense(6, name="dense")(x)
    out = inner(x)
    model = keras.Model(inp, out, name="win")
    model.compile("adam", "mse", metrics=["mae"])
    model.fit(np.zeros((4, 4, 4, 1)), np.zeros((4, 3)), verbose=0)
    return model


@pytest.fixture(scope="module")
def windows_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("windows")
    model = _model()
    model.save(folder / "linux.keras")
    model.save_weights(folder / "linux.weights.h5")
    with (
        zipfile.ZipFile(folder / "linux.keras") as src,
        zipfile.ZipFile(folder / "windows.keras", "w") as dst,
    ):
        for info in src.infolist():
            if info.filename != "model.weights.h5":
                dst.writestr(info, src.read(info))
                continue
            out = io.BytesIO()
            with h5py.File(io.BytesIO(src.read(info)), "r") as h5, h5py.File(out, "w") as new:
                _windows_h5(h5, new)
            dst.writestr("model.weights.h5", out.getvalue())
    with (
        h5py.File(folder / "linux.weights.h5", "r") as h5,
        h5py.File(folder / "windows.weights.h5", "w") as new,
    ):
        _windows_h5(h5, new)
    return {
        "linux.keras": folder / "linux.keras",
        "windows.keras": folder / "windows.keras",
        "linux.weights.h5": folder / "linux.weights.h5",
        "windows.weights.h5": folder / "windows.weights.h5",
    }


def _summary(path: Path) -> list[tuple[str, str, tuple[tuple[str, bytes], ...]]]:
    model = open_model(path)
    return [
        (
            layer.path,
            layer.class_name,
            tuple((w.name, w.array().tobytes()) for w in layer.weights),
        )
        for layer in model.layers
    ]


@pytest.mark.parametrize("suffix", ["keras", "weights.h5"])
def test_windows_file_reads_as_the_same_model(windows_files: dict[str, Path], suffix: str) -> None:
    windows = windows_files[f"windows.{suffix}"]
    with (
        zipfile.ZipFile(windows_files["windows.keras"]) as zf,
        h5py.File(io.BytesIO(zf.read("model.weights.h5"))) as h5,
    ):
        assert "layers\\conv2d" in h5 and "metrics\\mean" in h5  # really spelled the Windows way
    got = _summary(windows)
    assert got == _summary(windows_files[f"linux.{suffix}"])
    assert not any("metrics" in path or cls == "unknown" for path, cls, _ in got)
    notes = open_model(windows).notes
    assert sum("written on Windows" in n for n in notes) == 1
    assert not any("vars/0" in n for n in notes)


def _keras1_file(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    """A Keras 1.2 ``save_weights`` file: ``layer_names`` at the root, each layer a group whose
    ``weight_names`` lists datasets named after the backend variables (Theano: ``gru_1_W_z``)."""
    rng = np.random.default_rng(0)
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    spec = {
        "gru_1": [f"gru_1_{m}_{g}" for g in "zrh" for m in "WUb"],
        "dense_1": ["dense_1_W", "dense_1_b"],
        "dense_2": ["dense_2/kernel:0", "dense_2/bias:0"],  # a Keras 2 spelling beside them
        "odd_1": ["param_0", "param_1"],
        "odd_2": ["param_7"],
    }
    shapes = {"W": (3, 4), "U": (4, 4), "b": (4,)}
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [n.encode() for n in spec]
        f.attrs["keras_version"] = b"1.2.2"
        f.attrs["backend"] = b"theano"
        for layer, names in spec.items():
            g = f.create_group(layer)
            g.attrs["weight_names"] = [n.encode() for n in names]
            for n in names:
                letter = n.split("_")[2] if layer == "gru_1" else n[-1]
                shape = shapes.get(letter, (4, 2) if "kernel" in n or n.endswith("W") else (2,))
                value = rng.normal(size=shape).astype(np.float32)
                g.create_dataset(n, data=value)
                arrays[f"{layer}/{n}"] = value
    return arrays


def test_keras1_per_gate_names_keep_their_names_and_get_roles(tmp_path: Path) -> None:
    path = tmp_path / "keras1.h5"
    arrays = _keras1_file(path)
    model = open_model(path)
    gru = model.layer("gru_1")
    assert gru.class_name == "GRU" and gru.kind == "gru"
    assert [w.name for w in gru.weights][:3] == ["gru_1_W_z", "gru_1_U_z", "gru_1_b_z"]
    assert [w.role for w in gru.weights][:3] == ["kernel", "recurrent_kernel", "bias"]
    np.testing.assert_array_equal(gru.weight("gru_1_U_r").array(), arrays["gru_1/gru_1_U_r"])
    dense = model.layer("dense_1")
    assert dense.class_name == "Dense"
    assert [(w.name, w.role) for w in dense.weights] == [
        ("dense_1_W", "kernel"),
        ("dense_1_b", "bias"),
    ]
    assert [w.name for w in model.layer("dense_2").weights] == ["kernel", "bias"]
    scope_notes = [n for n in model.notes if "outside their layer's scope" in n]
    assert len(scope_notes) == 1  # one note for the kind of problem, naming each case
    assert "odd_1: param_0" in scope_notes[0] and "odd_2: param_7" in scope_notes[0]
    assert not any("gru_1" in n for n in model.notes)


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("gru_1_W_z", "kernel"),
        ("lstm_3_U_o", "recurrent_kernel"),
        ("lstm_3_b_f", "bias"),
        ("dense_1_W", "kernel"),
        ("batchnormalization_1_running_std", "moving_variance"),
        ("kernel:0", "kernel"),
        ("dense/bias:0", "bias"),
        ("Wobble", "other"),
        ("vars/0", "other"),
    ],
)
def test_roles_of_old_names(name: str, role: str) -> None:
    assert role_of(name) == role
