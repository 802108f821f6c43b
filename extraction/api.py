"""``open_model``: one entry point for every source a user can bring."""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

from .errors import (
    CorruptFile,
    SourceNotFound,
    UnsafeModel,
    UnsupportedFormat,
    WeightscopeError,
)
from .records import ModelWeights, SourceFormat
from .sniff import sniff

DEMO_PREFIX = "demo:"
_KERAS_LOADABLE: set[SourceFormat] = {"keras_zip", "h5_model"}


def open_model(source: Any, *, live: bool = False, name: str | None = None) -> ModelWeights:
    """Open a model and list its layers and named weights.

    Args:
        source: a ``keras.Model``; ``"demo:NAME"`` for a built-in demo; a path to a ``.keras``,
            ``.h5``, ``.weights.h5`` file, a SavedModel folder, a zipped SavedModel or a TF
            checkpoint; or the ``bytes`` of such a file (an upload).
        live: also load the model into Keras (needed to run it, e.g. for activations). When
            Keras cannot load a file that the file readers can read, the weights are still
            returned and a note says why the model could not be loaded.
        name: a display name for ``bytes`` sources (the uploaded file's name).

    Raises:
        SourceNotFound, UnsupportedFormat, CorruptFile, UnsafeModel: bad input, with a one-line
            message that names what was received.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _open_bytes(bytes(source), live=live, name=name or "upload")
    if isinstance(source, str) and source.startswith(DEMO_PREFIX):
        from .demos import ensure_demo

        records = _open_path(ensure_demo(source[len(DEMO_PREFIX) :]), live=live)
        return records.derive(source=source, format="demo")
    if isinstance(source, (str, os.PathLike)):
        return _open_path(Path(source), live=live)
    if _is_keras_model(source):
        from .readers.live import read_live

        return read_live(source)
    raise UnsupportedFormat(
        f"cannot open a {type(source).__name__}; expected a keras.Model, a path, "
        "'demo:NAME' or the bytes of a model file"
    )


def _is_keras_model(obj: Any) -> bool:
    module = type(obj).__module__
    if not (module.startswith("keras") or hasattr(obj, "layers")):
        return False
    from ._native import import_keras

    return isinstance(obj, import_keras().Model)


def _open_path(path: Path, *, live: bool) -> ModelWeights:
    fmt = sniff(path)
    if fmt == "keras_zip":
        from .safety import check_zip

        check_zip(path)
    reader = _file_reader()
    if reader is None:
        return _load_with_keras(path, fmt)
    records: ModelWeights = reader(path, fmt)
    if not live:
        return records
    if fmt not in _KERAS_LOADABLE:
        return _with_note(
            records,
            f"Keras cannot load a {fmt.replace('_', ' ')} file as a model,"
            " so it can be read but not run",
        )
    try:
        return _load_with_keras(path, fmt)
    except WeightscopeError as exc:
        return _with_note(records, f"weights read from the file; Keras could not load it ({exc})")


def _file_reader() -> Any:
    try:
        from .readers.files import read_file
    except ImportError:
        return None
    return read_file


def _with_note(records: ModelWeights, note: str) -> ModelWeights:
    return records.derive(notes=(*records.notes, note))


def _load_with_keras(path: Path, fmt: SourceFormat) -> ModelWeights:
    """Load ``path`` with Keras itself (``safe_mode`` on) and read the live model."""
    if fmt not in _KERAS_LOADABLE:
        raise UnsupportedFormat(
            f"{path.name} is a {fmt.replace('_', ' ')} file, which Keras cannot load as a model"
        )
    if fmt == "keras_zip":
        from .safety import lambda_layers, read_zip_config

        lambdas = lambda_layers(read_zip_config(path))
        if lambdas:
            raise UnsafeModel(
                f"{path.name} has Lambda layers ({', '.join(lambdas)}) whose Python code would "
                "have to run to load it; refused (the file readers show its other weights)"
            )
    from ._native import import_keras, quiet_native_stderr
    from .readers.live import read_live

    keras = import_keras()
    try:
        with quiet_native_stderr():
            model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad files  # noqa: BLE001
        message = _first_sentence(str(exc)) or type(exc).__name__
        if "Lambda" in message or "safe_mode" in message:
            raise UnsafeModel(
                f"{path.name}: refused, it needs unsafe deserialization ({message})"
            ) from exc
        raise CorruptFile(f"Keras could not load {path.name}: {message}") from exc
    return read_live(model, source=str(path), fmt=fmt)


def _first_sentence(text: str, limit: int = 160) -> str:
    """The first line of an exception message, cut before Keras's config dumps."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    for marker in (" Full object config", " Config:", ". "):
        if marker in line:
            line = line.split(marker, 1)[0].rstrip(".") + "."
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _open_bytes(data: bytes, *, live: bool, name: str) -> ModelWeights:
    """Open uploaded bytes through a private temporary folder, removed with the records.

    The folder must outlive this call because arrays are read lazily; it is removed when the
    returned records are garbage-collected, or at interpreter exit.
    """
    if not data:
        raise UnsupportedFormat(f"{name} is empty (0 bytes); expected a Keras model file")
    folder = Path(tempfile.mkdtemp(prefix="weightscope-upload-"))
    os.chmod(folder, 0o700)
    safe_name = Path(name).name or "upload"
    path = folder / safe_name
    path.write_bytes(data)
    try:
        target = _unzip_saved_model(path) if _is_zipped_saved_model(path) else path
        records = _open_path(target, live=live)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    records = records.derive(source=safe_name)
    weakref.finalize(records, shutil.rmtree, str(folder), True)
    return records


def _is_zipped_saved_model(path: Path) -> bool:
    try:
        return sniff(path) == "saved_model" and path.is_file()
    except WeightscopeError:
        return False


def _unzip_saved_model(path: Path) -> Path:
    """Extract a zipped SavedModel folder next to the zip, safely; return the folder."""
    import zipfile

    from .safety import check_zip

    check_zip(path)
    out = path.parent / "saved_model"
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            target = (out / info.filename).resolve()
            if not target.is_relative_to(out.resolve()):
                raise UnsafeModel(f"{path.name}: member {info.filename!r} points outside the zip")
        zf.extractall(out)
    roots = [p.parent for p in out.rglob("saved_model.pb")]
    if not roots:
        raise CorruptFile(f"{path.name}: no saved_model.pb inside")
    return roots[0]


def load_live_model(path: Path | str) -> Any:
    """A runnable ``keras.Model`` from a file, or a clear error why there is none."""
    records = _load_with_keras(Path(path), sniff(Path(path)))
    return records.live_model


__all__ = ["open_model", "load_live_model", "SourceNotFound"]
