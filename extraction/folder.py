"""The model folder (``$KERASCOPE_MODEL_DIR``): list its models, resolve names safely.

A name from a deep link is untrusted: it must stay inside the folder. Absolute paths, ``..``
and symbolic links that point outside are refused, whatever the name looks like.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import SourceNotFound, UnsafeModel
from .readers import model_suffixes
from .readers.safety import MAX_FOLDER_ENTRIES
from .readers.sniff import KERAS_SHARDS_SUFFIX, SAFETENSORS_INDEX, is_model_folder
from .runs import looks_like_run
from .settings import Settings


def model_dir() -> Path | None:
    """The configured model folder, or None when the variable is unset or not a folder."""
    path = Settings.from_env().model_dir
    return path if path is not None and path.is_dir() else None


def list_models(folder: Path) -> list[str]:
    """Names (relative to ``folder``, ``/``-separated) of the model files, model folders
    (SavedModel, safetensors, sharded Keras weights, KerasHub presets, TF.js) and runs in it and
    one level below, sorted; entries that resolve outside the folder are skipped, and so are the
    shard files of an index listed beside them (the index stands for them).

    A run folder (``extraction.runs.looks_like_run``) is listed once, as the folder, not file
    by file."""
    root = folder.resolve()
    found: list[str] = []
    for entry in sorted(folder.iterdir()):
        candidates = [entry]
        if entry.is_dir() and looks_like_run(entry) and entry.resolve().is_relative_to(root):
            found.append(entry.relative_to(folder).as_posix())
            continue
        if entry.is_dir() and not is_model_folder(entry):
            candidates = sorted(entry.iterdir())
        for path in candidates:
            if not path.resolve().is_relative_to(root):
                continue
            if is_model_folder(path) or (
                path.is_file() and _looks_like_model(path) and not _is_shard(path)
            ):
                found.append(path.relative_to(folder).as_posix())
            if len(found) >= MAX_FOLDER_ENTRIES:
                return found
    return found


def resolve(folder: Path, name: str) -> Path:
    """The path of model ``name`` inside ``folder``.

    Raises:
        UnsafeModel: the name would leave the folder (absolute, ``..``, a link pointing out).
        SourceNotFound: nothing of that name in the folder.
    """
    if not name or name.startswith(("/", "\\")) or Path(name).is_absolute() or "\x00" in name:
        raise UnsafeModel(f"model name {name!r} is not a plain name inside the model folder")
    if ".." in Path(name).parts or "\\" in name:
        raise UnsafeModel(f"model name {name!r} would leave the model folder; '..' is refused")
    root = folder.resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(root):
        raise UnsafeModel(f"model name {name!r} points outside the model folder")
    if not path.exists():
        raise SourceNotFound(f"no model {name!r} in the model folder")
    return path


_KERAS_SHARD = re.compile(r"^(?P<stem>.+)_\d+\.weights\.h5$")
_SAFETENSORS_SHARD = re.compile(r"^.+-\d+-of-\d+\.safetensors$")


def _is_shard(path: Path) -> bool:
    """A shard whose index sits beside it (``x_00000.weights.h5`` beside ``x.weights.json``)."""
    keras = _KERAS_SHARD.match(path.name)
    if keras and (path.parent / f"{keras['stem']}{KERAS_SHARDS_SUFFIX}").is_file():
        return True
    return bool(_SAFETENSORS_SHARD.match(path.name)) and (path.parent / SAFETENSORS_INDEX).is_file()


def _looks_like_model(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(model_suffixes()) and not name.startswith(".")
