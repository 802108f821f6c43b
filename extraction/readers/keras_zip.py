"""Read a ``.keras`` zip (Keras 2.13+ and Keras 3) without Keras: config.json + weights.

Supported layouts: ``model.weights.h5`` with the ``layers/`` container (Keras 2.15+, Keras 3)
or the ``_layer_checkpoint_dependencies/`` container (Keras 2.13-2.14); ``model.weights.npz``
(Keras 3's alternative weights format) when it holds plain arrays only.

Decided edge cases:
- ``model.weights.npz`` as Keras writes it stores each layer's variables as a pickled Python
  dict. Unpickling runs code, so such a file is refused (UnsafeModel) after reading only the
  ``.npy`` headers; nothing is unpickled. Every member named like a weights file is checked,
  including a second member with the same name (zip allows duplicates).
- A stored (uncompressed) weights member is opened in place; a compressed one is inflated,
  bounded by ``MAX_INFLATED_BYTES``, to a private temporary folder.
- config.json above 64 MB is refused; a missing or non-JSON config, or a zip without weights,
  is a CorruptFile.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from ..errors import CorruptFile, UnsafeModel
from ..graph import model_graph
from ..records import ModelWeights, SourceFormat
from ._config import check_model_config, keras_major, model_tree, parse_json
from ._h5 import H5_ERRORS, MemberFile, one_line, open_h5, stored_member_span
from ._keras_layout import Layout, read_layout
from ._npz import npz_layers
from ._optimizer import Described, described, read_hdf5_optimizer
from .safety import (
    MAX_CONFIG_BYTES,
    MAX_INFLATED_BYTES,
    ZIP_ERRORS,
    check_npz_member,
    check_zip,
)
from .sniff import PICKLE_MAGIC
from .store import ArrayStore


def read_keras_zip(path: Path, fmt: SourceFormat = "keras_zip") -> ModelWeights:
    """The records of a ``.keras`` file; arrays are read when first asked for.

    Raises:
        CorruptFile: not a readable Keras zip.
        UnsafeModel: a pickle inside, an oversized config or an inflating member.
    """
    check_zip(path)
    label = path.name
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptFile(f"{label} is a broken zip archive ({exc})") from exc
    with zf:
        infos = zf.infolist()
        _refuse_pickles(zf, infos, label)
        config = _read_json(zf, "config.json", label)
        meta = _read_json(zf, "metadata.json", label) if "metadata.json" in zf.namelist() else {}
        h5_info = _last(infos, "model.weights.h5")
        npz_info = _last(infos, "model.weights.npz")
    check_model_config(config, f"{label}:config.json")
    if not isinstance(meta, dict):
        raise CorruptFile(f"{label}: metadata.json is not a JSON object; expected Keras metadata")
    tree = model_tree(config)
    major = keras_major(meta.get("keras_version"))
    name = tree.name if tree else str(_dig(config, "config", "name") or path.stem)
    notes: list[str] = []
    if tree is None:
        notes.append("config.json lists no layers (a subclassed model): names come from the file")
    if h5_info is not None:
        layout, closer = _read_h5_member(path, h5_info, tree, major, described(config))
        records = ModelWeights(
            str(path),
            fmt,
            name,
            tuple(layout.layers),
            (*notes, *layout.all_notes()),
            graph=model_graph(config),
            store=layout.store,
        )
        layout.store.close_with(closer)
        return records
    if npz_info is not None:
        store = ArrayStore()
        layers, npz_notes = npz_layers(path, npz_info, tree, store)
        return ModelWeights(
            str(path), fmt, name, layers, (*notes, *npz_notes), graph=model_graph(config),
            store=store,
        )  # fmt: skip
    raise CorruptFile(
        f"{label} has no model.weights.h5 or model.weights.npz; expected a .keras file "
        "saved by Keras 2.13 or later"
    )


def _read_h5_member(
    path: Path, info: zipfile.ZipInfo, tree: Any, major: int, optimizer: Described
) -> Any:
    label = f"{path.name}:{info.filename}"
    span = stored_member_span(path, info)
    tmp: str | None = None
    if span is not None:
        source: Path | io.RawIOBase = MemberFile(path, *span)
    else:
        if info.file_size > MAX_INFLATED_BYTES:
            raise UnsafeModel(
                f"{label} would inflate to {info.file_size} bytes, more than the "
                f"{MAX_INFLATED_BYTES} allowed"
            )
        tmp = tempfile.mkdtemp(prefix="kerascope-keras-")
        source = Path(tmp) / "model.weights.h5"
    try:
        if tmp:
            _inflate(path, info, Path(tmp) / "model.weights.h5")
        h5 = open_h5(source, label)
    except BaseException:
        if isinstance(source, MemberFile):
            source.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    layout = Layout(major, label, info.file_size)
    try:
        try:
            read_layout(h5, tree, layout)
            read_hdf5_optimizer(h5, layout, optimizer, ordered=tree is not None)
        except H5_ERRORS as exc:
            raise CorruptFile(f"{label}: the HDF5 structure is damaged ({one_line(exc)})") from exc
    except BaseException:
        h5.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        raise

    def close() -> None:
        try:
            h5.close()
        finally:
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)

    return layout, close


def _inflate(path: Path, info: zipfile.ZipInfo, target: Path) -> None:
    """Copy a member out, stopping at its declared size (a lying header cannot exceed it).

    Raises:
        CorruptFile: the member's data is damaged (bad deflate stream, CRC, cut short).
    """
    try:
        with zipfile.ZipFile(path) as zf, zf.open(info) as src, target.open("wb") as dst:
            written = 0
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > info.file_size:
                    raise UnsafeModel(f"{path.name}: {info.filename} inflates beyond its size")
                dst.write(chunk)
    except ZIP_ERRORS as exc:
        raise CorruptFile(
            f"{path.name}: {info.filename} is damaged ({one_line(exc)}); expected an intact zip"
        ) from exc


def _refuse_pickles(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], label: str) -> None:
    """Refuse any ``.npz``/``.npy``/``.pkl`` member holding a pickle; read headers only."""
    for info in infos:
        lower = info.filename.lower()
        if not lower.endswith((".npz", ".npy", ".pkl", ".pickle")):
            continue
        with zf.open(info) as f:
            head = f.read(2)
        if head in PICKLE_MAGIC or lower.endswith((".pkl", ".pickle")):
            raise UnsafeModel(
                f"{label}: {info.filename} holds a Python pickle, which is never loaded "
                "because unpickling runs code; expected weights in model.weights.h5"
            )
        if lower.endswith(".npz"):
            check_npz_member(label, zf, info)


def _read_json(zf: zipfile.ZipFile, name: str, label: str) -> Any:
    try:
        info = zf.getinfo(name)
    except KeyError as exc:
        raise CorruptFile(f"{label} has no {name}; expected a .keras model file") from exc
    if info.file_size > MAX_CONFIG_BYTES:
        raise UnsafeModel(
            f"{label}: {name} is {info.file_size} bytes, more than the {MAX_CONFIG_BYTES} allowed"
        )
    try:
        with zf.open(info) as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except ZIP_ERRORS as exc:
        raise CorruptFile(f"{label}: {name} is damaged ({one_line(exc)})") from exc
    return parse_json(raw, f"{label}:{name}")


def _last(infos: list[zipfile.ZipInfo], name: str) -> zipfile.ZipInfo | None:
    found = [i for i in infos if i.filename == name]
    return found[-1] if found else None


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj
