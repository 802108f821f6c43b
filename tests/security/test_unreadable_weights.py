"""A weight that cannot be read: files whose structure is intact but one weight's bytes fail
when read (a damaged deflate stream, a truncated chunk, a filter this HDF5 lacks).

The file opens; that weight fails once, with one line that names it and what is wrong, and the
failure is kept (not read again); every whole-model analysis shows it as unreadable and goes on
with the others: the health scan (an ``unreadable`` finding), the table of all layers (status
``unreadable``), the overview box, the graph's colouring and the comparison of two models. The
CLI fails ``inspect`` in one line and reports the finding in ``health``.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import pytest
from _security import PYTHON_WORDS, assert_cli_refuses, children, run_cli
from _unreadable import damaged_copy, with_weights

from kerascope.components.figures.graph import layer_statistic
from kerascope.components.figures.overview import depth_series, layer_box
from kerascope.components.figures.tables import layer_table, weight_stats_table
from kerascope.extraction import open_model
from kerascope.extraction.analysis.compare import compare_models
from kerascope.extraction.analysis.health import layer_verdicts, model_findings
from kerascope.extraction.analysis.spectrum import spectral_stats
from kerascope.extraction.errors import CorruptFile, KerascopeError
from kerascope.extraction.records import ModelWeights

WHY = {
    "deflate": "filter returned failure during read",
    "cut": "filter returned failure during read",
    "filter": "HDF5 filter 32015",
}


@pytest.fixture(scope="module")
def damaged(
    tiny_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Each damage as a weights-only file, the deflate one as a legacy ``.h5`` model too and
    the cut one inside a ``.keras`` zip: the dense layer ``out``'s kernel is the damaged one."""
    folder = tmp_path_factory.mktemp("unreadable")
    files = {
        f"{damage}.weights.h5": damaged_copy(
            tiny_files["weights_h5"], folder / f"{damage}.weights.h5", "layers/dense/vars/0", damage
        )
        for damage in ("deflate", "cut", "filter")
    }
    files["deflate.h5"] = damaged_copy(
        tiny_files["h5"], folder / "deflate.h5", "model_weights/out/out/kernel", "deflate"
    )
    files["cut.keras"] = with_weights(
        tiny_files["keras"], files["cut.weights.h5"], folder / "cut.keras"
    )
    return files


def _damage(name: str) -> str:
    return name.split(".", 1)[0]


@pytest.mark.parametrize("isolate", [True, False], ids=["worker", "in-process"])
@pytest.mark.parametrize(
    "name", ["deflate.weights.h5", "cut.weights.h5", "filter.weights.h5", "deflate.h5", "cut.keras"]
)
def test_the_weight_fails_once_in_one_line_and_the_rest_reads(
    name: str, isolate: bool, damaged: dict[str, Path]
) -> None:
    model = open_model(damaged[name], isolate=isolate)
    kernel = model.layer("out").weight("kernel")
    assert kernel.failure is None  # nothing is read when the file opens
    with pytest.raises(CorruptFile) as caught:
        kernel.stats()
    message = str(caught.value)
    assert "\n" not in message and "'kernel' cannot be read" in message, message
    assert WHY[_damage(name)] in message, message
    assert not PYTHON_WORDS.search(message), message
    assert kernel.failure == message
    # Kept: asked again (statistics, values), the same line comes back without a new read.
    workers = children()
    started = time.monotonic()
    for ask in (kernel.stats, kernel.array):
        with pytest.raises(CorruptFile, match=re.escape(message)):
            ask()
    assert time.monotonic() - started < 1.0
    assert children() <= workers
    assert kernel.readable_stats() is None
    assert model.layer("out").weight("bias").readable_stats() is not None
    assert model.layer("conv").weight("kernel").array().shape == (3, 3, 2, 3)


@pytest.mark.parametrize("name", ["deflate.h5", "cut.keras", "filter.weights.h5"])
def test_every_whole_model_view_shows_it_as_unreadable(name: str, damaged: dict[str, Path]) -> None:
    model = open_model(damaged[name])
    findings = model_findings(model)
    lost = [f for f in findings if f.check == "unreadable"]
    assert [(f.layer, f.weight, f.severity) for f in lost] == [("out", "kernel", "error")]
    assert "cannot be read" in lost[0].message and not PYTHON_WORDS.search(lost[0].message)

    table = layer_table(model, status=layer_verdicts(model, findings)).set_index("path")
    assert table.loc["out", "status"] == "error"  # the verdict of its unreadable finding
    assert math.isnan(table.loc["out", "mean"]) and math.isnan(table.loc["out", "alpha"])
    assert not math.isnan(table.loc["conv", "mean"])  # the rest of the table is computed
    weights = weight_stats_table(model.layer("out")).set_index("weight")
    assert math.isnan(weights.loc["kernel", "mean"]) and not math.isnan(weights.loc["bias", "mean"])

    box = layer_box(model.layer("out"))
    assert box.label == "out (unreadable)" and math.isnan(box.median) and box.count == 0
    assert not math.isnan(layer_box(model.layer("conv")).median)
    assert depth_series(model) == []  # no blocks here; it must not raise either
    assert math.isnan(layer_statistic(model.layer("out"), "std"))
    assert not math.isnan(layer_statistic(model.layer("conv"), "std"))
    assert spectral_stats(model.layer("out"), model.layer("out").weight("kernel")) is None


def test_a_comparison_lists_it_and_compares_the_rest(
    tiny_files: dict[str, Path], damaged: dict[str, Path]
) -> None:
    good = open_model(tiny_files["h5"])
    bad = open_model(damaged["deflate.h5"])
    for before, after in ((good, bad), (bad, good)):
        changes = {(c.layer, c.weight): c for c in compare_models(before, after).changes}
        assert changes["out", "kernel"].status == "unreadable"
        assert changes["out", "kernel"].change is None
        assert changes["out", "bias"].status == "matched"
        assert changes["conv", "kernel"].status == "matched"
        pooled = dict(compare_models(before, after).layer_changes())
        assert "out" not in pooled and "conv" in pooled  # out's bias alone would mislead


def test_the_cli_says_it_in_one_line(damaged: dict[str, Path], private_tmp: Path) -> None:
    path = damaged["deflate.h5"]
    line = assert_cli_refuses(run_cli("inspect", str(path), "--json", tmpdir=private_tmp), "kernel")
    assert not PYTHON_WORDS.search(line), line
    listed = run_cli("inspect", str(path), "--json", "--no-stats", tmpdir=private_tmp)
    assert listed.returncode == 0, listed.stderr
    health = run_cli("health", str(path), "--json", tmpdir=private_tmp)
    assert health.returncode == 0, health.stderr[-2000:]
    findings = json.loads(health.stdout)["findings"]
    lost = [f for f in findings if f["check"] == "unreadable"]
    assert [(f["layer"], f["weight"], f["severity"]) for f in lost] == [("out", "kernel", "error")]


def test_a_damaged_weight_is_an_error_of_ours(damaged: dict[str, Path]) -> None:
    """Whatever the reader raised, callers catch one class (the page, the CLI)."""
    model: ModelWeights = open_model(damaged["filter.weights.h5"], isolate=False)
    with pytest.raises(KerascopeError):
        model.layer("out").weight("kernel").array()
