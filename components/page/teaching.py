"""The teaching and debugging tabs (Explain, Health, Compare, Train, Activations) for the
selected layer.

``app.py`` calls ``render_tabs(ref, model, layer)`` once; only the open tab computes.
"""

from __future__ import annotations

import streamlit as st

from extraction.errors import WeightscopeError
from extraction.folder import list_models, model_dir
from extraction.records import LayerWeights, ModelWeights

from . import (
    activations_view,
    compare_view,
    explain_view,
    health_view,
    quantization_view,
    training_view,
)
from .messages import error_line, plain
from .quantization_view import EXPORT_FORMATS
from .session import demo_names, open_ref
from .sources import ModelRef, folder_ref, upload_types

TAB_KEY = "teaching_tab"
_OTHER = {
    "demo": "a built-in demo",
    "upload": "an uploaded file",
    "folder": "a file in the model folder",
    "epochs": "two epochs of the training run",
}


def render_tabs(ref: ModelRef, model: ModelWeights, layer: LayerWeights) -> None:
    """Draw the Explain, Health, Compare, Train and Activations tabs."""
    explain_tab, health_tab, compare_tab, train_tab, act_tab = st.tabs(
        ["Explain", "Health", "Compare", "Train", "Activations"], key=TAB_KEY, on_change="rerun"
    )
    if explain_tab.open:
        with explain_tab:
            explain_view.render(layer)
    if health_tab.open:
        with health_tab:
            health_view.render(ref, model, layer, key="health")
    if compare_tab.open:
        with compare_tab:
            _compare(ref, model, layer)
    if train_tab.open:
        with train_tab:
            training_view.render(key="train")
    if act_tab.open:
        with act_tab:
            activations_view.render(ref, model, layer, key="act")


def _compare(ref: ModelRef, model: ModelWeights, layer: LayerWeights) -> None:
    run = st.session_state.get(training_view.RUN_KEY)
    folder = model_dir()
    kinds = ["demo", "upload"] + (["folder"] if folder is not None else [])
    kinds += ["epochs"] if run is not None else []
    other = st.radio(
        f"Compare {plain(model.name)} with",
        kinds,
        format_func=_OTHER.__getitem__,
        horizontal=True,
        key="compare_with",
    )
    if other == "epochs" and run is not None:
        epochs = run.epochs
        first, last = st.select_slider(
            "Epochs", epochs, value=(epochs[0], epochs[-1]), key="compare_epochs"
        )
        compare_view.render(run.weights_at(first), run.weights_at(last), "conv1", key="cmp")
        return
    after: ModelWeights | None = None
    try:
        if other == "demo":
            names = demo_names()
            name = st.selectbox("Demo", names, key="compare_demo")
            after = open_ref(ModelRef("demo", name))
        elif other == "folder" and folder is not None:
            names = list_models(folder)
            if names:
                name = st.selectbox("File", names, key="compare_folder")
                after = open_ref(folder_ref(name))
        else:
            upload = st.file_uploader(
                "A model file of the same architecture, or its export (.tflite, a zipped TF.js "
                "folder) to see what quantization lost",
                type=upload_types(),
                key="compare_upload",
            )
            if upload is not None:
                data = upload.getvalue()
                after = open_ref(ModelRef("upload", upload.name, upload.file_id), data)
    except WeightscopeError as exc:
        st.error(error_line("Could not open it", exc))
        return
    if after is None:
        st.info("Upload a checkpoint of the same model to see how far each layer moved.")
        return
    if model.format in EXPORT_FORMATS or after.format in EXPORT_FORMATS:
        quantization_view.render(model, after, layer.path, key="cmp")
        return
    compare_view.render(model, after, layer.path, key="cmp")
