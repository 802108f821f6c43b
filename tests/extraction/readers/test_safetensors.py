"""safetensors files written by the ``safetensors`` package, read by our own bounded parser."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import save_file

from benchmarks.llama_layout import TINY, write_llama_checkpoint
from kerascope.extraction import open_model
from kerascope.extraction.cli import main
from kerascope.extraction.errors import CorruptFile, UnsafeModel, UnsupportedFormat
from kerascope.extraction.readers.safety import MAX_SAFETENSORS_HEADER_BYTES
from kerascope.extraction.readers.sniff import sniff

DTYPES = {
    "float32": np.float32,
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "float64": np.float64,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "bool": np.bool_,
    "float8_e4m3fn": ml_dtypes.float8_e4m3fn,
    "float8_e5m2": ml_dtypes.float8_e5m2,
}


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_llama_checkpoint(tmp_path_factory.mktemp("llama") / "tiny", TINY, seed=3)


def test_sharded_llama_folder_names_layers_as_hugging_face_does(llama: Path) -> None:
    model = open_model(llama)
    assert sniff(llama) == "safetensors"
    assert model.format == "safetensors" and model.name == "LlamaForCausalLM"
    assert model.params == TINY.params
    paths = [layer.path for layer in model.layers]
    assert paths[0] == "model.embed_tokens" and paths[-1] == "model.norm"
    assert paths.index("model.layers.1.mlp.down_proj") > paths.index("model.layers.0.mlp.up_proj")
    emb = model.layer("model.embed_tokens")
    assert (emb.class_name, emb.kind, emb.weights[0].name, emb.weights[0].role) == (
        "Embedding",
        "embedding",
        "weight",
        "embeddings",
    )
    q = model.layer("model.layers.0.self_attn.q_proj")
    assert (q.name, q.class_name, q.kind, q.weights[0].role) == (
        "q_proj",
        "Linear",
        "dense",
        "kernel",
    )
    norm = model.layer("model.layers.1.input_layernorm")
    assert (norm.class_name, norm.kind, norm.weights[0].role) == ("RMSNorm", "layer_norm", "gamma")
    k = model.layer("model.layers.0.self_attn.k_proj").weights[0]
    assert k.shape == (TINY.kv_heads * TINY.head_dim, TINY.hidden) and k.dtype == "bfloat16"
    assert any("tied" in n for n in model.notes) and any("2 shards" in n for n in model.notes)
    assert not any(w.is_loaded for _, w in model.iter_weights())


def test_values_are_a_read_only_memory_map_equal_to_what_was_written(llama: Path) -> None:
    from safetensors.numpy import load_file

    model = open_model(llama / "model.safetensors.index.json")
    index = json.loads((llama / "model.safetensors.index.json").read_text())
    name = "model.layers.1.mlp.gate_proj.weight"
    expected = load_file(str(llama / index["weight_map"][name]))[name]
    got = model.layer("model.layers.1.mlp.gate_proj").weight("weight").array()
    assert got.dtype == ml_dtypes.bfloat16 and not got.flags.writeable
    assert not got.flags.owndata  # a view of the mapped file, not a copy
    np.testing.assert_array_equal(got.astype(np.float32), expected.astype(np.float32))


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_every_dtype_reads_back_exactly(tmp_path: Path, dtype: str) -> None:
    values = (np.arange(12).reshape(3, 4) % 5).astype(DTYPES[dtype])
    save_file({"block.proj.weight": values, "block.proj.bias": values[0]}, str(tmp_path / "m.st"))
    model = open_model(tmp_path / "m.st")  # sniffed from bytes, whatever the name
    layer = model.layer("block.proj")
    assert [w.name for w in layer.weights] == ["weight", "bias"]
    assert layer.weight("weight").dtype == dtype
    np.testing.assert_array_equal(
        layer.weight("weight").array().astype(np.float64), values.astype(np.float64)
    )


def test_cli_no_stats_lists_without_reading(
    llama: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(llama), "--json", "--no-stats"]) == 0
    data = json.loads(capsys.readouterr().out)
    weights = [w for layer in data["layers"] for w in layer["weights"]]
    assert len(weights) == len(TINY.tensors()) and all("stats" not in w for w in weights)
    assert main(["inspect", str(llama), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert all("stats" in w for layer in data["layers"] for w in layer["weights"])


def _raw(header: dict[str, object], data: bytes, length: int | None = None) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


@pytest.mark.parametrize(
    ("header", "data", "error", "words"),
    [
        ({"a.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8,
         CorruptFile, "data_offsets"),
        ({"a.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}}, b"\0" * 16,
         CorruptFile, "data_offsets"),
        ({"a.weight": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
          "b.weight": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12,
         CorruptFile, "overlap"),
        ({"a.weight": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4,
         CorruptFile, "shape"),
        ({"a.weight": {"dtype": "F4", "shape": [2], "data_offsets": [0, 1]}}, b"\0",
         UnsupportedFormat, "dtype"),
        ({"a.weight": {"dtype": "F32", "shape": [1 << 20, 1 << 20], "data_offsets": [0, 4]}},
         b"\0" * 4, UnsafeModel, "declares"),
    ],
)  # fmt: skip
def test_headers_that_disagree_with_the_file_are_refused(
    tmp_path: Path, header: dict[str, object], data: bytes, error: type, words: str
) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(_raw(header, data))
    with pytest.raises(error, match=words):
        open_model(path)


def test_header_length_is_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "cut.safetensors"
    header = {"a.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    path.write_bytes(_raw(header, b"\0" * 4)[:40])
    with pytest.raises(CorruptFile, match="cut short"):
        open_model(path)
    from kerascope.extraction.readers.safetensors import read_header

    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(struct.pack("<Q", MAX_SAFETENSORS_HEADER_BYTES + 1) + b"{" + b" " * 64)
    with pytest.raises(UnsafeModel, match="header declares"):
        read_header(huge)


def test_index_naming_a_shard_outside_the_folder_is_refused(tmp_path: Path) -> None:
    save_file({"a.weight": np.zeros(2, np.float32)}, str(tmp_path / "outside.safetensors"))
    folder = tmp_path / "model"
    folder.mkdir()
    index = {"weight_map": {"a.weight": "../outside.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(UnsafeModel, match="plain file name"):
        open_model(folder)
    index = {"weight_map": {"a.weight": "missing.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CorruptFile, match="missing"):
        open_model(folder)


def test_linear_weights_are_drawn_output_by_input(llama: Path) -> None:
    from kerascope.extraction.layouts import to_2d

    layer = open_model(llama).layer("model.layers.0.mlp.down_proj")
    weight = layer.weights[0]
    matrix, rows, cols = to_2d(weight.array(), weight.role, layer.kind, name=weight.name)
    assert matrix.shape == (TINY.hidden, TINY.intermediate)
    assert (rows, cols) == ("output unit", "input unit")
