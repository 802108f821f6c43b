"""The sidebar: where the model comes from, then which layer to look at."""

from __future__ import annotations

import streamlit as st

from extraction.errors import WeightscopeError
from extraction.folder import MODEL_DIR_ENV, list_models, model_dir
from extraction.models.applications import APPLICATIONS, cached_weights
from extraction.models.demos import DEMOS, demo_info
from extraction.records import LayerWeights, ModelWeights

from .messages import plain
from .session import UPLOAD_KEY, demo_names, switch_to
from .sources import ModelRef, SourceKind, folder_ref, upload_types

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
    if kind == "demo":
        name = st.selectbox("Demo", demo_names(), key="demo_name", format_func=_demo_label)
        picked = ModelRef("demo", name)
        info = demo_info(name)
        if info:
            st.caption(
                f"{DEMOS[name].title}. Held-out accuracy {info['test_accuracy']:.1%} "
                f"on {info['test_samples']} held-out samples."
            )
    elif kind == "upload":
        upload = st.file_uploader(
            "A .keras, .h5, .weights.h5 or .tflite file, or a zipped SavedModel or TF.js folder",
            type=upload_types(),
            key=UPLOAD_KEY,
        )
        if upload is not None:
            picked = ModelRef("upload", upload.name, upload.file_id)
            data = upload.getvalue()
        else:
            st.caption("The model open now stays open until a file is uploaded.")
    elif kind == "folder" and folder is not None:
        picked = _pick_from_folder(folder.as_posix())
    elif kind == "application":
        name = st.selectbox("Architecture", list(APPLICATIONS), key="app_name")
        has_weights = cached_weights(name) is not None
        token = "imagenet" if has_weights else ""
        if has_weights:
            st.caption("ImageNet weights found in Keras's cache.")
        else:
            st.caption("No ImageNet weights cached: shown untrained (random initial weights).")
            if st.button("Download ImageNet weights", key="app_download"):
                token = "download"
        picked = ModelRef("application", name, token)
    if picked is not None and picked != current:
        switch_to(picked, data)


def _pick_from_folder(folder: str) -> ModelRef | None:
    from pathlib import Path

    names = list_models(Path(folder))
    if not names:
        st.caption(f"No model files in {MODEL_DIR_ENV}={folder}.")
        return None
    if st.session_state.get("folder_name") not in names:
        st.session_state["folder_name"] = names[0]
    name = st.selectbox("File", names, key="folder_name")
    try:
        return folder_ref(name)
    except WeightscopeError as exc:
        st.error(plain(exc))
        return None


def _demo_label(name: str) -> str:
    return f"{name}: {DEMOS[name].title}"


def choose_layer(model: ModelWeights, linked: str | None) -> LayerWeights:
    """The layer picker: every layer with its class and parameter count."""
    paths = [layer.path for layer in model.layers]
    if linked is not None:
        st.session_state["layer"] = linked
    if st.session_state.get("layer") not in paths:
        st.session_state["layer"] = default_layer(model)
    by_path = {layer.path: layer for layer in model.layers}
    path = st.selectbox("Layer", paths, key="layer", format_func=lambda p: layer_label(by_path[p]))
    return by_path[path]


def default_layer(model: ModelWeights) -> str:
    """The first layer with weights (a CNN's first conv: learned filters at once)."""
    weighted = model.weighted_layers()
    if weighted:
        return weighted[0].path
    if not model.layers:
        raise WeightscopeError(f"model {model.name!r} has no layers")
    return model.layers[0].path


def layer_label(layer: LayerWeights) -> str:
    """``conv1 · Conv2D · 160 params``; ``pool · MaxPooling2D · no weights``."""
    params = f"{layer.params:,} params" if layer.weights else "no weights"
    return f"{layer.path} · {layer.class_name} · {params}"
