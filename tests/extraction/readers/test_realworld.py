"""Every public model file in ../shared/realworld exports exactly the arrays expected.json lists."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from _fixtures_readers import REALWORLD, array_multiset

from kerascope.extraction.errors import UnsafeModel
from kerascope.extraction.readers import read_file
from kerascope.extraction.readers.sniff import sniff

ROOT = Path(__file__).resolve().parents[3]


def _expected() -> dict[str, list[tuple[list[int], str]]]:
    if not (REALWORLD / "expected.json").is_file():
        return {}
    data = json.loads((REALWORLD / "expected.json").read_text())
    return {name: entry["arrays"] for name, entry in data.items()}


EXPECTED = _expected()


@pytest.mark.parametrize("name", sorted(EXPECTED) or ["<absent>"])
def test_every_expected_array_exactly_once(realworld: Path, name: str) -> None:
    path = REALWORLD / name
    records = read_file(path, sniff(path))
    assert not any(w.is_loaded for _, w in records.iter_weights())
    want = Counter((tuple(shape), digest) for shape, digest in EXPECTED[name])
    assert array_multiset(records) == want
    assert all(layer.path for layer in records.layers)


def test_pickle_exploit_is_refused_and_nothing_runs(realworld: Path, tmp_path: Path) -> None:
    path = REALWORLD / "pickle_exploit.keras"
    with pytest.raises(UnsafeModel, match="pickle"):
        read_file(path, sniff(path))
    # The pickle calls os.system("id"), which would print "uid=..." to file descriptor 1: read
    # it in a child process whose output is captured, with a tripwire on os.system as well.
    script = (
        "import os, sys\n"
        "calls = []\n"
        "os.system = lambda cmd: calls.append(cmd) or 0\n"
        "from pathlib import Path\n"
        "from kerascope.extraction.readers import read_file\n"
        "from kerascope.extraction.errors import UnsafeModel\n"
        "try:\n"
        f"    read_file(Path({str(path)!r}), 'keras_zip')\n"
        "except UnsafeModel as exc:\n"
        "    print('refused:', exc)\n"
        "print('calls:', calls)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout and "calls: []" in done.stdout
    assert "uid=" not in done.stdout + done.stderr
    assert not any(tmp_path.iterdir())


def test_keras2_zip_layers_carry_config_names(realworld: Path) -> None:
    records = read_file(REALWORLD / "style_transfer_keras2.keras", "keras_zip")
    layer = records.layer("block_10_depthwise")
    assert layer.kind == "depthwise_conv2d"
    assert [w.name for w in layer.weights] == ["depthwise_kernel"]
    assert records.layer("conv2d").weights[0].shape == (3, 3, 16, 3)


def test_lstm_weights_are_named_without_the_cell(realworld: Path) -> None:
    records = read_file(REALWORLD / "melody_lstm.keras", "keras_zip")
    lstm = records.layer("lstm")
    assert [w.name for w in lstm.weights] == ["kernel", "recurrent_kernel", "bias"]
    assert lstm.weights[0].shape == (41, 1024)
