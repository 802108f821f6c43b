"""The CLI contract: inspect, inspect --json, export, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from kerascope.extraction.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "extraction", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def saved_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inputs = keras.Input((6, 6, 1))
    x = layers.Conv2D(3, 3, use_bias=False, name="conv")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.Flatten(name="flat")(x)
    model = keras.Model(inputs, layers.Dense(2, name="out")(x), name="cli_model")
    path = tmp_path_factory.mktemp("cli") / "cli_model.keras"
    model.save(path)
    return path


def test_inspect_json_follows_the_contract(saved_model_file: Path) -> None:
    done = run_cli("inspect", str(saved_model_file), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) >= {"source", "format", "layers"}
    conv = next(layer for layer in data["layers"] if layer["path"] == "conv")
    assert set(conv) >= {"name", "path", "class_name", "kind", "params", "weights"}
    assert conv["kind"] == "conv2d" and conv["params"] == 27
    (kernel,) = conv["weights"]
    assert set(kernel) >= {"name", "role", "shape", "dtype", "trainable", "stats"}
    assert kernel["role"] == "kernel" and kernel["shape"] == [3, 3, 1, 3]
    assert set(kernel["stats"]) >= {
        "min",
        "max",
        "mean",
        "std",
        "l2",
        "zero_fraction",
        "nan_count",
        "inf_count",
    }
    flat = next(layer for layer in data["layers"] if layer["path"] == "flat")
    assert flat["weights"] == []


def test_inspect_table_for_people(
    saved_model_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["inspect", str(saved_model_file)]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[1].split()
    assert header == ["layer", "class", "weights", "params", "mean", "std", "alpha"]
    assert "moving_variance (3)" in out and "kernel (3, 3, 1, 3)" in out


def test_inspect_json_gives_weightwatchers_metrics_on_a_public_model(realworld: Path) -> None:
    reference = json.loads((ROOT / "tests/data/weightwatcher/weightwatcher.json").read_text())
    done = run_cli("inspect", str(realworld / "mnist_cnn.keras"), "--json")
    assert done.returncode == 0, done.stderr
    layers_json = {layer["path"]: layer for layer in json.loads(done.stdout)["layers"]}
    for path in ("conv2d_12", "conv2d_13", "dense_12", "dense_13"):
        kernel, bias = layers_json[path]["weights"]
        expected = reference["layers"][f"mnist_cnn/{path}"]
        stats = kernel["stats"]
        assert abs(stats["alpha"] - expected["alpha"]) < 0.01
        for name in ("num_pl_spikes", "matrix_rank", "warning", "num_evals"):
            assert stats[name] == expected[name], (path, name)
        assert stats["D"] == pytest.approx(expected["D"])
        assert stats["alpha_weighted"] == pytest.approx(expected["alpha_weighted"])
        assert stats["log_spectral_norm"] == pytest.approx(expected["log_spectral_norm"])
        assert stats["spectral_scope"] == "weightwatcher"
        assert "alpha" not in bias["stats"]  # a vector has no spectrum
    lean = json.loads(run_cli("inspect", str(realworld / "mnist_cnn.keras"), "--json",
                              "--no-stats").stdout)  # fmt: skip
    assert all("stats" not in w for layer in lean["layers"] for w in layer["weights"])


def test_export_round_trips_every_weight_once(saved_model_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "w.npz"
    assert main(["export", str(saved_model_file), "--out", str(out)]) == 0
    model = keras.models.load_model(saved_model_file)
    with np.load(out, allow_pickle=False) as npz:
        assert len(npz.files) == len(model.weights)
        assert "bn/moving_variance" in npz.files and "conv/kernel" in npz.files
        for v in model.weights:
            key = v.path  # Keras 3 paths are "<layer>/<name>" here
            np.testing.assert_array_equal(npz[key], keras.ops.convert_to_numpy(v))


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda d: d / "missing.keras", "no such file"),
        (lambda d: _write(d / "notes.keras", b"just some text\n"), "not a model file"),
        (lambda d: _write(d / "empty.h5", b""), "empty"),
        (lambda d: d, "folder without saved_model.pb"),
    ],
    ids=["missing", "text", "empty", "folder"],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, make, expected: str) -> None:  # type: ignore[no-untyped-def]
    done = run_cli("inspect", str(make(tmp_path)))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and expected in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_usage_errors_and_help() -> None:
    done = run_cli("--help")
    assert done.returncode == 0 and "inspect" in done.stdout and "export" in done.stdout
    done = run_cli("export", "demo:digits_mlp")  # --out missing
    assert done.returncode == 2 and "--out" in done.stderr and "Traceback" not in done.stderr


def test_unknown_demo_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "demo:nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no built-in demo 'nope'") and "digits_cnn" in err


def test_demo_source_subprocess_output_is_clean() -> None:
    done = run_cli("inspect", "demo:digits_mlp")
    assert done.returncode == 0, done.stderr
    assert "hidden1" in done.stdout and "Dense" in done.stdout
    assert "Traceback" not in done.stderr


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
