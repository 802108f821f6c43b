"""Opening models for the page: cached across sessions, errors as boxes, nothing lost.

Opened models are shared by every session (``caches.ByteLRU``, bounded in bytes): ten people
looking at VGG16 hold it in memory once. A source that fails to open leaves the previously open
model in place.
"""

from __future__ import annotations

import streamlit as st

from kerascope.extraction import open_model
from kerascope.extraction.errors import KerascopeError, SourceNotFound, WeightsUnavailable
from kerascope.extraction.models.applications import OFFLINE
from kerascope.extraction.models.demos import DEMOS, demo_path, ensure_demo
from kerascope.extraction.readers.worker import prestart
from kerascope.extraction.records import ModelWeights

from .caches import ByteLRU, cache_bytes, records_bytes
from .messages import error_line, plain
from .scope import enter
from .sources import DEFAULT, ModelRef

CURRENT = "current_model"
"""Session-state key of the ModelRef that is open now."""
NOTICES = "notices"
"""Session-state key of error lines the page header shows once (the sidebar is too narrow)."""
INFOS = "infos"
"""Session-state key of neutral lines the page header shows once: an expected condition (no
network for a download) is not an error."""
FAILED = "failed_models"
"""Session-state key of the sources that failed to open, with their messages."""
UPLOAD_KEY = "upload"
"""Widget key of the sidebar's file uploader (its first one; see ``upload_key``)."""
UPLOAD_ROUND = "upload_round"
"""Session key counting rejected uploads: each gets a fresh, empty uploader, so the sidebar never
holds a file that is not open."""


OPENED: ByteLRU[ModelWeights] = ByteLRU(records_bytes, cache_bytes)
"""Opened models of every session, bounded in bytes (``KERASCOPE_CACHE_MB``)."""


def _open_cached(ref: ModelRef, data: bytes | None = None) -> ModelWeights:
    def make() -> ModelWeights:
        # Uploads and model-folder files are parsed in the sandboxed worker (open_model's
        # default): a file that crashes or hangs its parser ends in one error box.
        source = ref.source
        if source is not None:
            return open_model(source, download=ref.token == "download")
        upload = data if data is not None else _uploaded(ref)
        if upload is None:
            raise SourceNotFound(f"the upload {ref.name!r} is no longer in memory; upload it again")
        return open_model(upload, name=ref.name)

    return OPENED.get(ref, make)


def upload_key() -> str:
    """Widget key of the sidebar's uploader now: ``upload``, then ``upload1``, ... after each
    rejected file (a widget's file cannot be cleared any other way)."""
    return f"{UPLOAD_KEY}{st.session_state.get(UPLOAD_ROUND) or ''}"


def _uploaded(ref: ModelRef) -> bytes | None:
    """The bytes of ``ref`` if the session's uploader still holds that very file."""
    upload = st.session_state.get(upload_key())
    if upload is not None and getattr(upload, "file_id", None) == ref.token:
        return bytes(upload.getvalue())
    return None


def open_ref(ref: ModelRef, data: bytes | None = None) -> ModelWeights:
    """Open ``ref`` (cached); a demo's first training shows a progress bar."""
    if ref.kind == "demo" and not demo_path(ref.name).is_file():
        bar = st.progress(0.0, text=f"Training the {ref.name} demo (first run only)...")

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(fraction, 1.0), text=f"Training {ref.name}: {message}")

        ensure_demo(ref.name, progress=progress)
        bar.empty()
    if ref.kind == "application" and ref not in _OPENED_APPS:
        return _open_application(ref)
    with st.spinner(f"Opening {plain(ref.label)}..."):
        return _open_cached(ref, data)


_OPENED_APPS: set[ModelRef] = set()
"""keras.applications models this process has opened (their first open takes seconds)."""


def _open_application(ref: ModelRef) -> ModelWeights:
    """A keras.applications model's first open, in steps with a progress bar: importing
    TensorFlow (seconds, once per process), then building the model and reading its weights."""
    from kerascope.extraction._native import import_keras

    bar = st.progress(0.05, text="Importing TensorFlow and Keras (first open only)...")
    import_keras()
    bar.progress(0.4, text=f"Building {plain(ref.label)} and reading its weights...")
    try:
        model = _open_cached(ref)
    finally:
        bar.empty()
    _OPENED_APPS.add(ref)
    return model


def switch_to(ref: ModelRef, data: bytes | None = None) -> bool:
    """Open ``ref`` and make it current; on failure show one error box and keep the old one.

    A failure is remembered for the session, so a bad upload still sitting in the uploader is
    not opened again on every rerun.
    """
    failed: dict[ModelRef, str] = st.session_state.setdefault(FAILED, {})
    if ref not in failed:
        try:
            open_ref(ref, data)
        except WeightsUnavailable:
            # Offline is expected, not a fault: one neutral line; not remembered as failed,
            # so the button tries again when the network is back.
            st.session_state.setdefault(INFOS, []).append(
                f"{OFFLINE}: {plain(ref.name)} stays untrained (random initial weights)."
            )
            return False
        except KerascopeError as exc:
            failed[ref] = error_line(f"Could not open {plain(ref.label)}", exc, ref.name)
        except Exception as exc:  # a bug must not take the page down  # noqa: BLE001
            failed[ref] = error_line(
                f"Could not open {plain(ref.label)} (internal error {type(exc).__name__})", exc
            )
    if ref in failed:
        kept = current_ref()
        st.session_state.setdefault(NOTICES, []).append(
            f"{failed[ref]}. Still showing {plain(kept.label)}."
        )
        return False
    st.session_state[CURRENT] = ref
    return True


def current_ref() -> ModelRef:
    """The reference of the open model, without opening it."""
    ref: ModelRef = st.session_state.get(CURRENT, DEFAULT)
    return ref


@st.cache_resource(show_spinner=False)
def _worker_started() -> bool:
    """Once per server: a sandboxed worker waits in the background (and one is kept waiting
    from then on), so that even the first upload or folder file does not wait for it to start."""
    prestart()
    return True


def current() -> tuple[ModelRef, ModelWeights]:
    """The open model; the default demo when nothing was opened yet or it vanished. Its widget
    state is scoped to it (``scope.enter``): another model's is dropped."""
    _worker_started()
    ref = current_ref()
    try:
        model = open_ref(ref)
    except Exception as exc:  # a vanished file or a bug: fall back, never a dead page  # noqa: BLE001
        if ref != DEFAULT:
            st.error(f"{plain(ref.label)} is no longer available ({plain(exc)}); showing the demo.")
        st.session_state[CURRENT] = ref = DEFAULT
        model = open_ref(DEFAULT)
    enter(ref, model)
    return ref, model


def take_notices() -> list[str]:
    """Error lines to show at the top of the page, once."""
    notices: list[str] = st.session_state.pop(NOTICES, [])
    return notices


def take_infos() -> list[str]:
    """Neutral lines to show at the top of the page, once."""
    infos: list[str] = st.session_state.pop(INFOS, [])
    return infos


def demo_names() -> list[str]:
    """Built-in demos, the default first."""
    return sorted(DEMOS, key=lambda n: (n != DEFAULT.name, n))
