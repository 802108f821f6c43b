"""Keras 3 sharded weights (``save_weights(..., max_shard_size=...)``) and KerasHub presets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kerascope.extraction import open_model
from kerascope.extraction.errors import CorruptFile, UnsafeModel
from kerascope.extraction.folder import list_models
from kerascope.extraction.readers.sniff import sniff
from kerascope.extraction.runs import looks_like_run

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, Path]:
    from tests.conftest import build_zoo

    model = build_zoo()
    folder = tmp_path_factory.mktemp("sharded")
    model.save_weights(folder / "whole.weights.h5")
    shards = folder / "zoo"
    shards.mkdir()
    model.save_weights(shards / "zoo.weights.json", max_shard_size=0.000001)
    return model, folder / "whole.weights.h5", shards / "zoo.weights.json"


def _arrays(records: Any) -> dict[str, np.ndarray[Any, Any]]:
    return {f"{layer.path}/{w.name}": w.array() for layer, w in records.iter_weights()}


def test_shards_read_as_the_single_weights_file_does(saved: tuple[Any, Path, Path]) -> None:
    model, whole, index = saved
    assert len(list(index.parent.glob("zoo_*.weights.h5"))) >= 3  # really sharded
    assert sniff(index) == sniff(index.parent) == "keras_sharded"
    assert not looks_like_run(index.parent)  # two numbered .weights.h5 shards are not a run
    assert open_model(index.parent).format == "keras_sharded"
    sharded, single = open_model(index), open_model(whole)
    assert [(x.path, x.class_name) for x in sharded.layers] == [
        (x.path, x.class_name) for x in single.layers
    ]
    a, b = _arrays(sharded), _arrays(single)
    assert a.keys() == b.keys() and len(a) == len(model.weights)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert any("shards" in n for n in sharded.notes)


def test_a_model_config_beside_the_shards_names_the_layers(
    saved: tuple[Any, Path, Path], tmp_path: Path
) -> None:
    model, _, index = saved
    folder = tmp_path / "with_config"
    shutil.copytree(index.parent, folder)
    (folder / "config.json").write_text(model.to_json())
    records = open_model(folder)
    live = {layer.name for layer in model.layers if layer.weights}
    assert live <= {layer.path.split("/")[0] for layer in records.layers}
    assert records.name == "zoo"
    assert records.layer("bilstm").kind == "bidirectional"


def test_a_shard_name_leaving_the_folder_is_refused(tmp_path: Path) -> None:
    index = {"weight_map": {"/layers/dense/vars": ["../elsewhere.weights.h5"]}}
    (tmp_path / "x.weights.json").write_text(json.dumps(index))
    with pytest.raises(UnsafeModel, match="plain file name"):
        open_model(tmp_path / "x.weights.json")


@pytest.mark.parametrize("preset", ["llama_tiny", "llama_tiny_sharded"])
def test_kerashub_preset_written_by_kerashub(preset: str) -> None:
    path = DATA / preset
    records = open_model(path)
    metadata = json.loads((path / "metadata.json").read_text())
    assert sniff(path) == "kerashub_preset" and records.name == "llama_backbone"
    assert records.params == metadata["parameter_count"]
    first = records.layers[0]
    assert (first.path, first.class_name, first.kind) == (
        "token_embedding",
        "ReversibleEmbedding",
        "embedding",
    )
    assert [w.name for w in first.weights] == ["embeddings", "reverse_embeddings"]
    query = records.layer("transformer_layer_1/self_attention/query")
    assert (query.class_name, query.kind, query.weights[0].name) == (
        "EinsumDense",
        "dense",
        "kernel",
    )
    assert query.weights[0].shape == (16, 4, 4)
    norm = records.layer("sequence_output_layernorm")
    assert (norm.class_name, norm.kind) == ("LlamaLayerNorm", "layer_norm")
    assert any("KerasHub class" in n for n in records.notes)


def test_sharded_and_whole_presets_hold_the_same_values() -> None:
    a = _arrays(open_model(DATA / "llama_tiny"))
    b = _arrays(open_model(DATA / "llama_tiny_sharded"))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_preset_without_weights_is_corrupt(tmp_path: Path) -> None:
    for name in ("config.json", "metadata.json"):
        shutil.copy(DATA / "llama_tiny" / name, tmp_path / name)
    with pytest.raises(CorruptFile, match="without weights"):
        open_model(tmp_path)


def test_model_folder_lists_model_folders_and_not_their_shards(
    saved: tuple[Any, Path, Path], tmp_path: Path
) -> None:
    _, _, index = saved
    shutil.copytree(DATA / "llama_tiny", tmp_path / "llama_tiny")
    shutil.copytree(index.parent, tmp_path / "zoo")
    for file in index.parent.iterdir():
        shutil.copy(file, tmp_path / file.name)
    assert list_models(tmp_path) == ["llama_tiny", "zoo", "zoo.weights.json"]
