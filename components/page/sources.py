"""Where a model comes from, as the page names it, and how a deep link's ``model=`` maps to it.

Pure: no Streamlit here, so deep-link parsing is tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kerascope.extraction.api import APP_PREFIX, DEMO_PREFIX
from kerascope.extraction.errors import SourceNotFound
from kerascope.extraction.folder import model_dir, resolve
from kerascope.extraction.models.applications import APPLICATIONS, cached_weights
from kerascope.extraction.models.demos import DEFAULT_DEMO, DEMOS
from kerascope.extraction.readers import model_suffixes
from kerascope.extraction.runs import looks_like_run, run_token
from kerascope.extraction.settings import MODEL_DIR_ENV

SourceKind = Literal["demo", "folder", "application", "upload"]
UPLOAD_PREFIX = "upload:"
"""How a link names an upload: it says what was open, and opening it says uploads cannot be
shared (their bytes live only in the session that uploaded them)."""
UPLOAD_NOT_SHARED = "uploads cannot be shared by link"


@dataclass(frozen=True)
class ModelRef:
    """One model the page can open; hashable, so it keys the cache of opened models."""

    kind: SourceKind
    """Which sidebar source it comes from."""
    name: str
    """Demo name, name inside the model folder, application name, or uploaded file name."""
    token: str = ""
    """What makes two versions differ: an upload's id, a folder file's mtime and size."""

    @property
    def link(self) -> str:
        """The ``model=`` value of a deep link; ``upload:NAME`` for an upload, which names it
        but does not open it elsewhere (it lives in one session)."""
        if self.kind == "demo" or self.kind == "folder":
            return self.name
        if self.kind == "application":
            return f"{APP_PREFIX}{self.name}"
        return f"{UPLOAD_PREFIX}{self.name}"

    @property
    def source(self) -> str | None:
        """What ``open_model`` takes for it; None for an upload (its bytes are the source).

        Raises:
            SourceNotFound, UnsafeModel: a folder name that no longer resolves in the folder.
        """
        if self.kind == "demo":
            return f"{DEMO_PREFIX}{self.name}"
        if self.kind == "application":
            return f"{APP_PREFIX}{self.name}"
        if self.kind == "folder":
            folder = model_dir()
            if folder is None:
                raise SourceNotFound("the model folder is no longer configured")
            return str(resolve(folder, self.name))
        return None

    @property
    def label(self) -> str:
        """How the page names it."""
        return {
            "demo": f"demo {self.name}",
            "folder": self.name,
            "application": f"keras.applications.{self.name}",
            "upload": f"upload {self.name}",
        }[self.kind]


DEFAULT = ModelRef("demo", DEFAULT_DEMO)


def upload_types() -> list[str]:
    """File endings the uploaders accept: the last part of every registered format's suffixes
    (``.weights.h5`` -> ``h5``). Only a convenience for the file picker: formats are sniffed."""
    return sorted({s.rsplit(".", 1)[-1] for s in model_suffixes()})


def parse_link(value: str) -> ModelRef:
    """The model a deep link's ``model=`` names: a demo, ``app:NAME``, or a model-folder file.

    Raises:
        SourceNotFound: nothing of that name (the message lists what exists).
        UnsafeModel: a folder name that would leave the model folder.
    """
    if value in DEMOS:
        return ModelRef("demo", value)
    if value.startswith(UPLOAD_PREFIX):
        raise SourceNotFound(
            f"the link names the uploaded file {value[len(UPLOAD_PREFIX) :]!r}: "
            f"{UPLOAD_NOT_SHARED} (an upload lives only in the browser session that uploaded "
            "it); upload the file again, or put it in the model folder to share it"
        )
    if value.startswith(APP_PREFIX):
        name = value[len(APP_PREFIX) :]
        if name not in APPLICATIONS:
            raise SourceNotFound(f"no application {name!r}; available: {', '.join(APPLICATIONS)}")
        return application_ref(name)
    folder = model_dir()
    if folder is None:
        raise SourceNotFound(
            f"no model {value!r}: it is not a built-in demo ({', '.join(DEMOS)}) and no model "
            f"folder is configured (set {MODEL_DIR_ENV})"
        )
    return folder_ref(value)


def application_ref(name: str) -> ModelRef:
    """A keras.applications architecture, with Keras's cached ImageNet weights when it has
    them (the sidebar and a link open the same thing)."""
    return ModelRef("application", name, "imagenet" if cached_weights(name) is not None else "")


def folder_ref(name: str) -> ModelRef:
    """A reference to a file in the model folder, stamped with its size and mtime."""
    folder = model_dir()
    if folder is None:
        raise SourceNotFound(f"no model folder is configured (set {MODEL_DIR_ENV})")
    path = resolve(folder, name)
    if looks_like_run(path):  # a run changes when any checkpoint in it does
        return ModelRef("folder", name, run_token(path))
    stat = path.stat()
    return ModelRef("folder", name, f"{stat.st_mtime_ns}-{stat.st_size}")
