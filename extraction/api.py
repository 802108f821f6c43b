"""``open_model``: one entry point for every source a user can bring."""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

from .errors import CorruptFile, KerascopeError, UnsafeModel, UnsupportedFormat, fault_text
from .readers import FORMATS, read_file
from .readers.sniff import sniff
from .records import ModelWeights, SourceFormat

DEMO_PREFIX = "demo:"
APP_PREFIX = "app:"


def open_model(
    source: Any,
    *,
    live: bool = False,
    name: str | None = None,
    download: bool = False,
    isolate: bool = True,
) -> ModelWeights:
    """Open a model and list its layers and named weights.

    Args:
        source: a ``keras.Model``; ``"demo:NAME"`` for a built-in demo; ``"app:NAME"`` for a
            ``keras.applications`` architecture (``app:VGG16``); a path to a model file or
            folder of any format in ``extraction.readers.FORMATS``; a run folder (its latest
            snapshot; ``extraction.runs.open_run`` gives them all); or the ``bytes`` of such a
            file (an upload).
        live: also load the model into Keras (needed to run it, e.g. for activations). When
            Keras cannot load a file that the file readers can read, the weights are still
            returned and a note says why the model could not be loaded.
        name: a display name for ``bytes`` sources (the uploaded file's name).
        download: for ``app:NAME``, fetch the ImageNet weights when Keras has none cached.
        isolate: parse a path or bytes in the sandboxed worker (``readers/worker.py``), so a
            file that crashes, hangs or exhausts memory ends in ``ReaderCrashed`` and nothing
            else. ``False`` reads in this process: only for files you trust (tests,
            benchmarks). Demos, ``app:`` and live models are always read in process.

    Raises:
        SourceNotFound, UnsupportedFormat, CorruptFile, UnsafeModel: bad input, with a one-line
            message that names what was received.
        ReaderCrashed: the reader crashed, hung or ran out of memory on the file (isolated).
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _open_bytes(bytes(source), live=live, name=name or "upload", isolate=isolate)
    if isinstance(source, str) and source.startswith(DEMO_PREFIX):
        from .models.demos import ensure_demo

        records = _open_path(ensure_demo(source[len(DEMO_PREFIX) :]), live=live, isolate=False)
        return records.derive(source=source, format="demo")
    if isinstance(source, str) and source.startswith(APP_PREFIX):
        from .models.applications import open_application

        return open_application(source[len(APP_PREFIX) :], download=download)
    if isinstance(source, (str, os.PathLike)):
        return _open_path(Path(source), live=live, isolate=isolate)
    if _is_keras_model(source):
        from .readers.live import read_live

        return read_live(source)
    raise UnsupportedFormat(
        f"cannot open a {type(source).__name__}; expected a keras.Model, a path, "
        "'demo:NAME', 'app:NAME' or the bytes of a model file"
    )


def _is_keras_model(obj: Any) -> bool:
    module = type(obj).__module__
    if not (module.startswith("keras") or hasattr(obj, "layers")):
        return False
    from ._native import import_keras

    return isinstance(obj, import_keras().Model)


def _open_path(path: Path, *, live: bool, isolate: bool) -> ModelWeights:
    if path.is_dir():
        from .runs import looks_like_run, open_run

        if looks_like_run(path):  # a run opens as its latest snapshot; open_run gives them all
            run = open_run(path)  # its snapshots open through the worker (open_model)
            return run.latest()[1]
    if isolate:
        from .readers.worker import open_isolated

        # Keras (live=True) loads the file in this process only after the worker read it whole.
        records = open_isolated(path)
        fmt = records.format
    else:
        fmt = sniff(path)
        records = read_file(path, fmt)
    from .analysis.stats_cache import load_stats

    load_stats(records, path)  # statistics of a big file computed on an earlier open
    if not live:
        return records
    entry = FORMATS.get(fmt)
    if entry is None or not entry.keras_loadable:
        label = entry.label if entry else fmt
        return _with_note(
            records, f"Keras cannot load {label} as a model, so it can be read but not run"
        )
    try:
        if isolate:
            read_through(records)
    except KerascopeError as exc:
        return _with_note(records, f"Keras was not asked to load it, as a weight failed ({exc})")
    try:
        return _load_with_keras(path, fmt)
    except KerascopeError as exc:
        return _with_note(records, f"weights read from the file; Keras could not load it ({exc})")


def read_through(records: ModelWeights) -> None:
    """Have the sandboxed worker read every weight of ``records`` once (their statistics, kept).

    Keras loads a file in this process, without the worker's limits; it is asked to only once
    the worker has read every byte it would (a weight whose bytes make HDF5 allocate gigabytes
    then fails in the worker, not here).

    Raises:
        KerascopeError: the first weight that cannot be read.
    """
    for _, weight in records.iter_weights():
        weight.stats()


def _with_note(records: ModelWeights, note: str) -> ModelWeights:
    return records.derive(notes=(*records.notes, note))


def _load_with_keras(path: Path, fmt: SourceFormat) -> ModelWeights:
    """Load ``path`` with Keras itself (``safe_mode`` on) and read the live model."""
    if fmt not in FORMATS or not FORMATS[fmt].keras_loadable:
        label = FORMATS[fmt].label if fmt in FORMATS else fmt
        raise UnsupportedFormat(f"{path.name} is {label}, which Keras cannot load as a model")
    if fmt == "keras_zip":
        from .readers.safety import lambda_layers, read_zip_config

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
        message = _first_sentence(fault_text(exc)) or "it could not be loaded"
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


def _open_bytes(data: bytes, *, live: bool, name: str, isolate: bool) -> ModelWeights:
    """Open uploaded bytes through a private temporary folder, removed with the records.

    The folder must outlive this call because arrays are read lazily; it is removed when the
    returned records are garbage-collected, or at interpreter exit. A zipped SavedModel is
    unpacked by its reader, exactly as when it is opened by path.
    """
    if not data:
        raise UnsupportedFormat(f"{name} is empty (0 bytes); expected a Keras model file")
    folder = Path(tempfile.mkdtemp(prefix="kerascope-upload-"))
    os.chmod(folder, 0o700)
    safe_name = Path(name.replace("\\", "/")).name or "upload"
    path = folder / safe_name
    path.write_bytes(data)
    try:
        records = _open_path(path, live=live, isolate=isolate)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    records = records.derive(source=safe_name)
    weakref.finalize(records, shutil.rmtree, str(folder), True)
    return records


def load_live_model(path: Path | str) -> Any:
    """A runnable ``keras.Model`` from a file, or a clear error why there is none.

    The file is read by the sandboxed worker first; Keras loads it here only if that succeeds.
    """
    from .readers.worker import open_isolated

    read = open_isolated(Path(path))
    read_through(read)
    records = _load_with_keras(Path(path), read.format)
    return records.live_model


__all__ = ["APP_PREFIX", "DEMO_PREFIX", "load_live_model", "open_model"]
