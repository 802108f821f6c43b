"""Listing a safetensors checkpoint imports nothing heavy: not ``ml_dtypes`` (~0.5 s of CPU), h5py,
TensorFlow or Keras, in the caller or in the sandboxed worker; reading a bfloat16 array does
import ``ml_dtypes``, and the listing knows every dtype's name and size without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import _import_probe
import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import save_file

from benchmarks.llama_layout import TINY, write_llama_checkpoint
from kerascope.extraction.readers import safetensors as st_reader
from kerascope.extraction.records import ML_DTYPES_ITEMSIZES

ROOT = Path(__file__).parents[3]
HEAVY = _import_probe.HEAVY

IN_PROCESS = """
import json, sys
from kerascope.extraction import open_model
from kerascope.extraction.cli import inspect_json
model = open_model(sys.argv[1], isolate=False)
listing = inspect_json(model, stats=False)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
dtypes = {{model.export_key(la, w): [w.dtype, w.nbytes] for la, w in model.iter_weights()}}
model.layer("model.norm").weights[0].array()  # a bfloat16 read does need ml_dtypes
print(json.dumps({{"heavy": heavy, "dtypes": dtypes, "after_read": "ml_dtypes" in sys.modules,
                  "layers": len(listing["layers"])}}))
"""


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("listing")
    single = root / "mixed.safetensors"
    save_file(
        {
            "model.norm.weight": np.ones(8, ml_dtypes.bfloat16),
            "a.weight": np.ones((4, 3), np.float32),
            "b.weight": np.ones((2, 2), ml_dtypes.float8_e4m3fn),
            "c.weight": np.ones(5, ml_dtypes.float8_e5m2),
            "d.weight": np.ones(3, np.int8),
        },
        str(single),
    )
    folder = write_llama_checkpoint(root / "llama", TINY, shards=2, seed=0)
    return {"file": single, "folder": folder}


def test_in_process_listing_imports_nothing_heavy(checkpoints: dict[str, Path]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", IN_PROCESS.format(heavy=HEAVY), str(checkpoints["file"])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["heavy"] == []
    assert got["dtypes"] == {
        "model.norm/weight": ["bfloat16", 16],
        "a/weight": ["float32", 48],
        "b/weight": ["float8_e4m3fn", 4],
        "c/weight": ["float8_e5m2", 5],
        "d/weight": ["int8", 3],
    }
    assert got["after_read"]
    assert got["layers"] == 5


@pytest.mark.parametrize("which", ["file", "folder"])
def test_cli_listing_through_the_worker_imports_nothing_heavy(
    checkpoints: dict[str, Path], which: str
) -> None:
    """The CLI lists through the sandboxed worker. The command's imports are reported on stderr
    by ``PYTHONPROFILEIMPORTTIME``; the worker's, whose environment is bare, by a test plugin
    (``_import_probe``) once it has built the listing."""
    env = {
        **os.environ,
        "PYTHONPROFILEIMPORTTIME": "1",
        "KERASCOPE_VERBOSE": "1",
        "KERASCOPE_WORKER_PLUGIN": _import_probe.MODULE,
    }
    done = subprocess.run(
        [sys.executable, "-m", "extraction", "inspect", str(checkpoints[which]), "--json",
         "--no-stats"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    imported = [
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ]
    assert "kerascope.extraction.readers.worker" in imported  # the command's own lines
    assert [m for m in imported if m.split(".")[0] in HEAVY] == []
    reports = [
        json.loads(line.removeprefix(_import_probe.MARKER))
        for line in done.stderr.splitlines()
        if line.startswith(_import_probe.MARKER)
    ]
    assert reports == [[]]  # the worker built one listing, with nothing heavy imported
    listing = json.loads(done.stdout)
    dtypes = {w["dtype"] for layer in listing["layers"] for w in layer["weights"]}
    assert "bfloat16" in dtypes


def test_dtype_names_and_sizes_agree_with_ml_dtypes() -> None:
    """The table that spares the import must say what ``ml_dtypes`` says."""
    for name, size in ML_DTYPES_ITEMSIZES.items():
        assert np.dtype(getattr(ml_dtypes, name)).itemsize == size
        assert np.dtype(getattr(ml_dtypes, name)).name == name
    for code, name in st_reader._ML_DTYPES_CODES.items():
        assert name in ML_DTYPES_ITEMSIZES
        assert st_reader._dtype(code) == np.dtype(getattr(ml_dtypes, name))
