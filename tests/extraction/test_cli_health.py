"""``python -m extraction health``: the JSON contract, the table for people, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from kerascope.extraction.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scaled_mlp(realworld: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-health") / "scaled.h5"
    shutil.copyfile(realworld / "mnist_mlp.h5", path)
    with h5py.File(path, "r+") as f:
        kernel = f["model_weights/dense_1/sequential/dense_1/kernel"]
        kernel[...] = kernel[...] * 500.0
    return path


def test_health_json_follows_the_contract(scaled_mlp: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "extraction", "health", str(scaled_mlp), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    findings = json.loads(done.stdout)["findings"]
    first = findings[0]
    assert set(first) >= {"layer", "weight", "check", "severity", "message"}
    assert (first["layer"], first["weight"], first["check"], first["severity"]) == (
        "dense_1",
        "kernel",
        "scale",
        "error",
    )
    order = {"error": 0, "warning": 1, "info": 2}
    ranks = [order[f["severity"]] for f in findings]
    assert ranks == sorted(ranks)


def test_health_table_for_people(realworld: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["health", str(realworld / "style_transfer_keras2.keras")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[1].startswith("WARNING  block_8_expand/kernel  [dead_units]")
    assert lines[-1].startswith("0 errors, 2 warnings, ")


def test_a_healthy_model_has_an_empty_list(
    realworld: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["health", str(realworld / "mnist_mlp.h5"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"findings": []}


def test_health_of_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "not_a_model.h5"
    bad.write_bytes(b"hello")
    assert main(["health", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_nan_is_never_dead_in_the_health_cli(
    realworld: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "diverged.h5"
    shutil.copyfile(realworld / "mnist_mlp.h5", path)
    with h5py.File(path, "r+") as f:
        kernel = f["model_weights/dense_1/sequential/dense_1/kernel"]
        kernel[...] = float("nan")  # a whole layer diverged
    assert main(["health", str(path), "--json"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    mine = [(f["check"], f["weight"]) for f in findings if f["layer"] == "dense_1"]
    assert ("nan_inf", "kernel") in mine
    assert not [c for c, w in mine if w == "kernel" and c != "nan_inf"]
    assert not any(f["check"] == "untrained" for f in findings)
