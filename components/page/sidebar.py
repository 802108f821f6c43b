"""The sidebar: where the model comes from, then which layer to look at."""

from __future__ import annotations

from typing import Any

import streamlit as st

from kerascope.extraction.errors import KerascopeError
from kerascope.extraction.folder import list_models, model_dir
from kerascope.extraction.layouts import layer_class
from kerascope.extraction.models.applications import APPLICATIONS
from kerascope.extraction.models.demos import DEMOS, demo_info
from kerascope.extraction.records import LayerWeights, ModelWeights
from kerascope.extraction.settings import MODEL_DIR_ENV

from .messages import plain
from .navigation import layer_key
from .scope import model_key
from .session import UPLOAD_ROUND, current_ref, demo_names, switch_to, upload_key
from .sources import (
    UPLOAD_NOT_SHARED,
    ModelRef,
    SourceKind,
    application_ref,
    folder_ref,
    upload_types,
)

_SOURCE_LABELS: dict[SourceKind, str] = {
    "demo": "Built-in demo",
    "upload": "Upload a file",
    "folder": "Model folder",
    "application": "Keras application",
}


def choose_source(current: ModelRef) -> None:
    """Draw the source pickers; open what the user picked when it differs from ``current``."""
    kinds: list[SourceKind] = ["demo", "upload", "application"]
    folder = model_dir()
    if folder is not None:
        kinds.insert(2, "folder")
    if st.session_state.get("source_kind") not in kinds:
        st.session_state["source_kind"] = current.kind if current.kind in kinds else "demo"
    kind = st.radio(
        "Model source", kinds, format_func=_SOURCE_LABELS.__getitem__, key="source_kind"
    )
    picked: ModelRef | None = None
    data: bytes | None = None
    about: Any = None
    if kind == "demo":
        name = st.selectbox("Demo", demo_names(), key="demo_name", format_func=_demo_label)
        picked = ModelRef("demo", name)
        about = st.empty()  # what the demo is, said once it is open (its first open trains it)
    elif kind == "upload":
        upload = st.file_uploader(
            "A .keras, .h5, .weights.h5 or .tflite file, or a zipped SavedModel or TF.js folder",
            type=upload_types(),
            key=upload_key(),
        )
        if upload is not None:
            picked = ModelRef("upload", upload.name, upload.file_id)
            data = upload.getvalue()
        else:
            st.caption("The model open now stays open until a file is uploaded.")
        st.caption(
            f"{UPLOAD_NOT_SHARED.capitalize()}: an upload lives only in this browser session "
            "(files in the model folder can be linked)."
        )
    elif kind == "folder" and folder is not None:
        picked = _pick_from_folder(folder.as_posix())
    elif kind == "application":
        name = st.selectbox("Architecture", list(APPLICATIONS), key="app_name")
        picked = application_ref(name)
        if picked.token == "imagenet":
            st.caption("ImageNet weights found in Keras's cache.")
        else:
            st.caption("No ImageNet weights cached: shown untrained (random initial weights).")
            if st.button("Download ImageNet weights", key="app_download"):
                picked = ModelRef("application", name, "download")
    if picked is not None and picked != current:
        if not switch_to(picked, data) and picked.kind == "upload":
            # A new uploader: the rejected file's name must not sit in the sidebar as if it
            # were open while the page shows the previous model (the error box says so).
            st.session_state[UPLOAD_ROUND] = int(st.session_state.get(UPLOAD_ROUND) or 0) + 1
            st.rerun()
    if about is not None and picked is not None and (info := demo_info(picked.name)):
        about.caption(
            f"{DEMOS[picked.name].title}. Held-out accuracy {info['test_accuracy']:.1%} "
            f"on {info['test_samples']} held-out samples."
        )
    st.caption(f"Open now: {plain(current_ref().label)}")


def _pick_from_folder(folder: str) -> ModelRef | None:
    from pathlib import Path

    names = list_models(Path(folder))
    if not names:
        st.caption(f"No model files in {MODEL_DIR_ENV}={plain(folder)}.")
        return None
    if st.session_state.get("folder_name") not in names:
        st.session_state["folder_name"] = None
    # Nothing opens until a file is chosen: a folder's first entry may be a big model or run.
    name = st.selectbox(
        "File", names, key="folder_name", index=None, placeholder="Choose a file or run..."
    )
    if name is None:
        st.caption(f"{len(names)} models in the folder; the model open now stays open.")
        return None
    try:
        return folder_ref(name)
    except KerascopeError as exc:
        st.error(plain(exc))
        return None


def _demo_label(name: str) -> str:
    return f"{name}: {DEMOS[name].title}"


SHOW_WEIGHTLESS = "show_weightless"
"""Name of the open model's toggle that lists layers without weights (Input, ReLU, pooling)
too (its key is ``model_key(SHOW_WEIGHTLESS)``)."""


def choose_layer(model: ModelWeights, linked: str | None) -> LayerWeights:
    """The layer picker with previous / next buttons.

    Only layers with weights are listed unless "show layers without weights" is on; a deep link
    to a weightless layer turns it on, so the link opens what it names.
    """
    by_path = {layer.path: layer for layer in model.layers}
    key, show_key = layer_key(), model_key(SHOW_WEIGHTLESS)
    if linked is not None:
        st.session_state[key] = linked
        if not by_path[linked].weights:
            st.session_state[show_key] = True
    weighted = [layer.path for layer in model.weighted_layers()]
    show_all = bool(st.session_state.get(show_key)) or not weighted
    paths = [layer.path for layer in model.layers] if show_all else weighted
    if st.session_state.get(key) not in paths:
        st.session_state[key] = default_layer(model)
    path = st.selectbox("Layer", paths, key=key, format_func=lambda p: layer_label(by_path[p]))
    index = paths.index(path)

    def move(delta: int) -> None:
        st.session_state[key] = paths[min(max(index + delta, 0), len(paths) - 1)]

    c_prev, c_next = st.columns(2)
    c_prev.button(
        "Previous",
        icon=":material/arrow_upward:",
        key="layer_prev",
        disabled=index == 0,
        on_click=move,
        args=(-1,),
        width="stretch",
    )
    c_next.button(
        "Next",
        icon=":material/arrow_downward:",
        key="layer_next",
        disabled=index == len(paths) - 1,
        on_click=move,
        args=(1,),
        width="stretch",
    )
    hidden = len(model.layers) - len(weighted)
    st.toggle(
        f"Show layers without weights ({hidden})",
        key=show_key,
        disabled=not weighted or not hidden,
        help="Input, activation, pooling and reshaping layers hold no weights to look at.",
    )
    return by_path[path]


def default_layer(model: ModelWeights) -> str:
    """The layer a model opens on: the first with trainable weights that does more than prepare
    the input (a CNN's first conv, never EfficientNet's Normalization); else the first with
    weights; else the first layer.

    Raises:
        KerascopeError: the model has no layers.
    """
    weighted = model.weighted_layers()
    for layer in weighted:
        prepares = layer_class(layer.class_name).preprocessing
        if not prepares and any(w.trainable for w in layer.weights):
            return layer.path
    for layer in weighted:
        if not layer_class(layer.class_name).preprocessing:
            return layer.path
    if weighted:
        return weighted[0].path
    if not model.layers:
        raise KerascopeError(f"model {model.name!r} has no layers")
    return model.layers[0].path


def layer_label(layer: LayerWeights) -> str:
    """``conv1 · Conv2D · 160 params``; ``pool · MaxPooling2D · no weights``."""
    params = f"{layer.params:,} params" if layer.weights else "no weights"
    return f"{layer.path} · {layer.class_name} · {params}"
