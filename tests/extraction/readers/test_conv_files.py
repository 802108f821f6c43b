"""Every Keras convolution through real saved files: ``.keras``, legacy ``.h5`` and Keras 3
``.weights.h5`` open each conv layer with its kind, its Keras-named weights and values, and a
filter bank of the right size; ``inspect --json`` says the same kinds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _fixtures_readers import save_all

from kerascope.extraction import open_model
from kerascope.extraction.layouts import filter_count, is_filter_bank
from kerascope.extraction.readers.live import read_live
from tests.conftest import CONV_ZOO_KINDS, CONV_ZOO_TILES

ROOT = Path(__file__).resolve().parents[3]
NEW = ("conv1d_t", "dw1d", "sep1d", "conv3d_t")
"""The four classes that used to open as ``other``: Conv1DTranspose, DepthwiseConv1D,
SeparableConv1D, Conv3DTranspose."""


@pytest.fixture(scope="module")
def files(conv_zoo: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return save_all(conv_zoo, tmp_path_factory.mktemp("conv_zoo"))


@pytest.mark.parametrize("fmt", ["keras", "h5", "weights_h5"])
def test_every_conv_class_opens_as_a_conv_layer(
    conv_zoo: Any, files: dict[str, Path], fmt: str
) -> None:
    live = {layer.path: layer for layer in read_live(conv_zoo).layers}
    records = open_model(files[fmt])
    for path, kind in CONV_ZOO_KINDS.items():
        layer = records.layer(path)
        assert layer.kind == kind, (fmt, path, layer.class_name)
        expected = live[path]
        assert [(w.name, w.shape) for w in layer.weights] == [
            (w.name, w.shape) for w in expected.weights
        ], (fmt, path)
        for got, want in zip(layer.weights, expected.weights, strict=True):
            np.testing.assert_array_equal(got.array(), want.array())
        banks = [w for w in layer.weights if is_filter_bank(kind, w.role, len(w.shape))]
        assert len(banks) == 1, (fmt, path, [w.name for w in layer.weights])
        tiles = CONV_ZOO_TILES["depthwise" if kind.startswith(("depth", "sep")) else "conv"]
        assert filter_count(banks[0].shape, kind) == tiles, (fmt, path)


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_inspect_json_names_the_conv_kinds(files: dict[str, Path], fmt: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "extraction", "inspect", str(files[fmt]), "--json", "--no-stats"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    kinds = {layer["path"]: layer["kind"] for layer in json.loads(done.stdout)["layers"]}
    assert {path: kinds[path] for path in CONV_ZOO_KINDS} == CONV_ZOO_KINDS
    assert all(kinds[path] != "other" for path in NEW)
