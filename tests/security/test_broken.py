"""Broken files: a KerascopeError with a one-line message, never a raw traceback.

Each case damages one thing a reader relies on: the bytes (empty, cut, random, text), the zip
(missing or invalid config.json, configs of the wrong shape) or the HDF5 structure (missing
groups, attributes of the wrong type, datasets where groups belong). The library must raise a
``KerascopeError`` subclass (opening, or reading every array and its statistics); the CLI must
exit 2 with exactly one ``error: ...`` line.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from _security import assert_cli_refuses, run_cli

from kerascope.extraction import open_model
from kerascope.extraction.errors import CorruptFile, KerascopeError

Builder = Callable[[dict[str, Path], Path], Path]
RNG_SEED = 6


def _bytes(name: str, make: Callable[[dict[str, Path]], bytes]) -> Builder:
    def build(tiny: dict[str, Path], folder: Path) -> Path:
        path = folder / name
        path.write_bytes(make(tiny))
        return path

    return build


def _cut(kind: str, where: Callable[[int], int]) -> Builder:
    suffix = {"keras": ".keras", "h5": ".h5", "weights_h5": ".weights.h5"}[kind]
    return _bytes(f"cut{suffix}", lambda t: t[kind].read_bytes()[: where(t[kind].stat().st_size)])


def _random(size: int, prefix: bytes = b"") -> Callable[[dict[str, Path]], bytes]:
    return lambda _t: prefix + np.random.default_rng(RNG_SEED).bytes(size)


def _keras_with(config: Any = None, drop: tuple[str, ...] = (), **raw: bytes) -> Builder:
    """The tiny .keras with config.json replaced (JSON or raw bytes) or members dropped."""

    def build(tiny: dict[str, Path], folder: Path) -> Path:
        path = folder / "edited.keras"
        with zipfile.ZipFile(tiny["keras"]) as src, zipfile.ZipFile(path, "w") as dst:
            for name in src.namelist():
                if name in drop:
                    continue
                data = src.read(name)
                if name == "config.json" and config is not None:
                    data = json.dumps(config).encode()
                dst.writestr(name, raw.get(name.replace(".", "_"), data))
        return path

    return build


def _h5_with(kind: str, edit: Callable[[Any], None]) -> Builder:
    """The tiny .h5 or .weights.h5 edited in place by ``edit(file)``."""

    def build(tiny: dict[str, Path], folder: Path) -> Path:
        path = folder / tiny[kind].name
        shutil.copy(tiny[kind], path)
        with h5py.File(path, "r+") as f:
            edit(f)
        return path

    return build


def _delete(*names: str) -> Callable[[Any], None]:
    def edit(f: Any) -> None:
        for name in names:
            del f[name]

    return edit


def _set_attr(where: str, key: str, value: Any) -> Callable[[Any], None]:
    def edit(f: Any) -> None:
        f[where].attrs[key] = value

    return edit


def _replace(name: str, value: Any) -> Callable[[Any], None]:
    def edit(f: Any) -> None:
        del f[name]
        if value is None:
            f.create_group(name)
        else:
            f[name] = value

    return edit


def _empty_hdf5(_tiny: dict[str, Path], folder: Path) -> Path:
    path = folder / "empty.h5"
    with h5py.File(path, "w") as f:
        f.attrs["note"] = "nothing here"
    return path


def _empty_zip(_tiny: dict[str, Path], folder: Path) -> Path:
    path = folder / "empty.keras"
    with zipfile.ZipFile(path, "w"):
        pass
    return path


CASES: dict[str, Builder] = {
    # bytes
    "empty.keras": _bytes("empty.keras", lambda _t: b""),
    "empty.h5": _bytes("empty.h5", lambda _t: b""),
    "random.keras": _bytes("random.keras", _random(4096)),
    "random.h5": _bytes("random.h5", _random(4096)),
    "random_after_zip_magic": _bytes("magic.keras", _random(4096, b"PK\x03\x04")),
    "random_after_hdf5_magic": _bytes("magic.h5", _random(4096, b"\x89HDF\r\n\x1a\n")),
    "text_renamed.keras": _bytes("text.keras", lambda _t: b"model = keras.Sequential()\n" * 9),
    "json_renamed.h5": _bytes("config.h5", lambda _t: b'{"class_name": "Sequential"}'),
    "keras_cut_10": _cut("keras", lambda n: 10),
    "keras_cut_100": _cut("keras", lambda n: 100),
    "keras_cut_half": _cut("keras", lambda n: n // 2),
    "keras_cut_before_directory": _cut("keras", lambda n: n - 200),
    "keras_cut_last_byte": _cut("keras", lambda n: n - 1),
    "h5_cut_100": _cut("h5", lambda n: 100),
    "h5_cut_2000": _cut("h5", lambda n: 2000),
    "h5_cut_half": _cut("h5", lambda n: n // 2),
    "h5_cut_last_kb": _cut("h5", lambda n: n - 1024),
    "weights_h5_cut_half": _cut("weights_h5", lambda n: n // 2),
    "weights_h5_cut_last_kb": _cut("weights_h5", lambda n: n - 1024),
    # zips and configs
    "empty_zip": _empty_zip,
    "zip_without_config": _keras_with(drop=("config.json", "metadata.json")),
    "zip_without_weights": _keras_with(drop=("model.weights.h5",)),
    "config_invalid_json": _keras_with(config_json=b'{"class_name": "Functional", "config": '),
    "config_not_utf8": _keras_with(config_json=b'{"name": "\xff\xfe"}'),
    "config_deeply_nested": _keras_with(config_json=b"[" * 200_000 + b"]" * 200_000),
    "config_a_list": _keras_with(config=[1, 2, 3]),
    "config_a_string": _keras_with(config="Sequential"),
    "config_null": _keras_with(config_json=b"null"),
    "config_missing_keys": _keras_with(config={"module": "keras"}),
    "config_wrong_types": _keras_with(config={"class_name": 3, "config": {"layers": 7}}),
    "config_layers_wrong_types": _keras_with(
        config={"class_name": "Functional", "config": {"name": 5, "layers": [1, None, {"x": []}]}}
    ),
    "config_deep_layer_tree": _keras_with(
        config_json=b'{"class_name": "Sequential", "config": {"layers": ['
        + b'{"class_name": "Sequential", "config": {"layers": [' * 3000
        + b"]}}" * 3000
        + b"]}}"
    ),
    "metadata_a_list": _keras_with(metadata_json=b"[1]"),
    "metadata_invalid": _keras_with(metadata_json=b"{oops"),
    "weights_member_is_text": _keras_with(model_weights_h5=b"not hdf5 at all"),
    # HDF5 structure
    "h5_empty_file": _empty_hdf5,
    "h5_no_model_weights": _h5_with("h5", _delete("model_weights")),
    "h5_config_invalid_json": _h5_with("h5", _set_attr("/", "model_config", "{broken")),
    "h5_config_a_list": _h5_with("h5", _set_attr("/", "model_config", "[1, 2]")),
    "h5_config_an_int": _h5_with("h5", _set_attr("/", "model_config", 42)),
    "h5_layer_group_missing": _h5_with("h5", _delete("model_weights/out")),
    "h5_weight_missing": _h5_with("h5", _delete("model_weights/out/out/kernel")),
    "h5_layer_names_ints": _h5_with("h5", _set_attr("model_weights", "layer_names", [1, 2])),
    "h5_weight_names_int": _h5_with("h5", _set_attr("model_weights/out", "weight_names", 7)),
    "h5_weight_is_group": _h5_with("h5", _replace("model_weights/out/out/kernel", None)),
    "h5_weight_is_text": _h5_with(
        "h5", _replace("model_weights/out/out/kernel", np.array([b"ab", b"cd"]))
    ),
    "weights_h5_layers_is_dataset": _h5_with("weights_h5", _replace("layers", np.zeros(3))),
    "weights_h5_vars_is_dataset": _h5_with(
        "weights_h5", _replace("layers/dense/vars", np.zeros(3))
    ),
    "weights_h5_var_is_group": _h5_with("weights_h5", _replace("layers/dense/vars/0", None)),
    "weights_h5_var_is_text": _h5_with(
        "weights_h5", _replace("layers/dense/vars/0", np.array([b"x"]))
    ),
    "weights_h5_var_compound": _h5_with(
        "weights_h5", _replace("layers/dense/vars/0", np.zeros(3, dtype=[("a", "f4"), ("b", "i4")]))
    ),
    "weights_h5_no_layers": _h5_with("weights_h5", _delete("layers", "vars")),
}
"""Cases that must fail. Some damage is harmless (a cut in padding); those are in MAY_OPEN."""

MAY_OPEN = {"keras_cut_last_byte", "weights_h5_cut_last_kb"}
"""Damage a reader may legitimately survive; opening them must still not raise anything else."""


@pytest.fixture(scope="module")
def broken_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("broken")


def _build(case: str, tiny: dict[str, Path], folder: Path) -> Path:
    here = folder / case
    here.mkdir(exist_ok=True)
    return CASES[case](tiny, here)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", list(CASES))
def test_library_raises_one_line_error(
    case: str, tiny_files: dict[str, Path], broken_dir: Path, private_tmp: Path
) -> None:
    path = _build(case, tiny_files, broken_dir)
    try:
        model = open_model(path)
        for _, weight in model.iter_weights():
            weight.stats()
    except KerascopeError as exc:
        message = str(exc)
        assert message and "\n" not in message, message
        assert len(message) < 1000, message
        return
    assert case in MAY_OPEN, f"{case} opened without an error"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", list(CASES))
def test_cli_exits_2_with_one_error_line(
    case: str, tiny_files: dict[str, Path], broken_dir: Path, private_tmp: Path
) -> None:
    path = _build(case, tiny_files, broken_dir)
    run = run_cli("inspect", str(path), "--json", tmpdir=private_tmp)
    if case in MAY_OPEN and run.returncode == 0:
        return
    assert_cli_refuses(run)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", ["keras_cut_half", "config_a_list", "h5_no_model_weights"])
def test_uploaded_bytes_raise_the_same(
    case: str, tiny_files: dict[str, Path], broken_dir: Path, private_tmp: Path
) -> None:
    path = _build(case, tiny_files, broken_dir)
    with pytest.raises(KerascopeError):
        model = open_model(path.read_bytes(), name=path.name)
        for _, weight in model.iter_weights():
            weight.stats()


def test_global_heap_that_would_hang_hdf5_is_refused(
    tiny_files: dict[str, Path], tmp_path: Path, private_tmp: Path
) -> None:
    """A free-space object of size 0 in a global heap makes HDF5 loop forever (found by fuzzing)."""
    data = bytearray(tiny_files["h5"].read_bytes())
    end = data.rfind(b"out/kernel") + len(b"out/kernel")
    start = (end + 7) // 8 * 8  # the free space after the last name: its header zeroed
    data[start : start + 16] = bytes(16)
    path = tmp_path / "heap.h5"
    path.write_bytes(data)
    with pytest.raises(KerascopeError, match="global heap"):
        open_model(path)
    assert_cli_refuses(run_cli("inspect", str(path), tmpdir=private_tmp, timeout=60), "heap")


def test_damage_found_only_when_an_array_is_read_is_corrupt_file(
    tiny_files: dict[str, Path], tmp_path: Path, private_tmp: Path
) -> None:
    """Arrays are read lazily: a damaged compressed chunk surfaces at ``array()``."""
    path = tmp_path / "chunk.weights.h5"
    shutil.copy(tiny_files["weights_h5"], path)
    with h5py.File(path, "r+") as f:
        del f["layers/dense/vars/0"]
        ds = f["layers/dense/vars"].create_dataset(
            "0", data=np.ones((48, 4), "f4"), chunks=(48, 4), compression="gzip"
        )
        chunk = ds.id.get_chunk_info(0)
        offset, size = chunk.byte_offset, chunk.size
    data = bytearray(path.read_bytes())
    data[offset : offset + size] = b"\xff" * size
    path.write_bytes(data)
    model = open_model(path)  # shapes only: nothing read yet
    kernel = next(w for _, w in model.iter_weights() if w.shape == (48, 4))
    with pytest.raises(CorruptFile, match="cannot be read"):
        kernel.array()
    assert_cli_refuses(run_cli("inspect", str(path), tmpdir=private_tmp, timeout=60))
