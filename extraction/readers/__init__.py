"""Every file format Kerascope reads, in one registry: ``FORMATS``.

A new format is one reader module in this package and one row here. Sniffing (``sniff.py``)
returns a row's id; the uploaders, the model folder and the page header read their suffixes and
labels from the rows; ``open_model`` asks a row whether Keras itself can load such a file.

Readers are imported only when a file of their format is read, so listing the formats costs
nothing and a format's heavy dependency (TensorFlow for checkpoints) loads only when needed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorruptFile, KerascopeError, UnsupportedFormat, fault_text
from ..records import ModelWeights, SourceFormat


@dataclass(frozen=True)
class Format:
    """One file format and how to read it."""

    id: SourceFormat
    """What ``sniff`` returns and ``ModelWeights.format`` holds."""
    label: str
    """How the page names it: ``read from a .keras file``."""
    reader: str
    """``module:function`` in this package; the function takes ``(path, fmt)``."""
    suffixes: tuple[str, ...]
    """File name endings a user's file of this format usually has (uploads, the model folder).
    Only a hint for listing and uploading: the format itself is always sniffed from the bytes."""
    keras_loadable: bool = False
    """Whether ``keras.models.load_model`` can load it as a runnable model."""
    preload: tuple[str, ...] = ()
    """Modules its reader needs that are slow to import (TensorFlow): the sandboxed worker
    imports them before the read's time limit starts."""

    def read(self, path: Path) -> ModelWeights:
        """The records of the file at ``path`` in this format."""
        module, function = self.reader.split(":")
        read: Callable[[Path, SourceFormat], ModelWeights] = getattr(
            importlib.import_module(f"{__name__}.{module}"), function
        )
        return read(Path(path), self.id)


FORMATS: dict[SourceFormat, Format] = {
    f.id: f
    for f in (
        Format("keras_zip", "a .keras file", "keras_zip:read_keras_zip", (".keras",), True),
        Format("h5_model", "an HDF5 model file", "hdf5:read_hdf5", (".h5", ".hdf5"), True),
        Format("h5_weights", "an HDF5 weights file", "hdf5:read_hdf5", (".weights.h5", ".h5")),
        Format(
            "saved_model",
            "a TensorFlow SavedModel",
            "saved_model:read_saved_model",
            (".zip",),
            preload=("tensorflow",),
        ),
        Format(
            "checkpoint",
            "a TensorFlow checkpoint",
            "saved_model:read_saved_model",
            (".index",),
            preload=("tensorflow",),
        ),
        Format("tflite", "a TensorFlow Lite flatbuffer", "tflite:read_tflite", (".tflite",)),
        Format("tfjs", "a TensorFlow.js model", "tfjs:read_tfjs", ("model.json", ".zip")),
        Format("safetensors", "safetensors", "safetensors:read_safetensors", (".safetensors",)),
        Format(
            "keras_sharded",
            "sharded Keras weights",
            "keras_sharded:read_keras_sharded",
            (".weights.json",),
        ),
        Format("kerashub_preset", "a KerasHub preset", "kerashub:read_kerashub_preset", ()),
    )
}
"""Every readable file format by id, in the order the page lists them."""

SOURCE_LABELS: dict[str, str] = {
    "live": "a live Keras model",
    "demo": "a built-in demo",
    "application": "a keras.applications model",
    **{f.id: f.label for f in FORMATS.values()},
}
"""How the page names where records came from, for every ``ModelWeights.format``."""


def model_suffixes() -> tuple[str, ...]:
    """Every file name ending a model file may have, without duplicates, in registry order."""
    return tuple(dict.fromkeys(s for f in FORMATS.values() for s in f.suffixes))


def read_file(path: Path, fmt: SourceFormat) -> ModelWeights:
    """The records of the model at ``path``, read in format ``fmt`` (from ``sniff``).

    Raises:
        UnsupportedFormat: ``fmt`` is not a file format (``live``, ``demo``).
        CorruptFile, UnsafeModel: see each reader; a reader's own fault on damaged bytes (a
            parser raising where the file broke a rule it assumed) is a ``CorruptFile`` that
            says what is wrong with the file (``errors.fault_text``).
    """
    entry = FORMATS.get(fmt)
    if entry is None:
        raise UnsupportedFormat(
            f"cannot read format {fmt!r} from a file; expected one of {', '.join(FORMATS)}"
        )
    try:
        return entry.read(path)
    except KerascopeError:
        raise
    except Exception as exc:  # a parser's own fault on damaged bytes  # noqa: BLE001
        message = f"{path.name} cannot be read as {entry.label}: {fault_text(exc)}"
        raise CorruptFile(message) from exc


__all__ = ["FORMATS", "SOURCE_LABELS", "Format", "model_suffixes", "read_file"]
