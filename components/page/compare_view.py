"""The Compare panel on the page: choose the second model, then see how far each layer moved.

The second model comes from the model folder, the demos, an upload, this demo before training or
two epochs of a training run. Decided: the default never compares a model with itself (a demo
opens against its own random start, a folder file against its neighbour in the folder, anything
else waits for a choice), and each panel is titled by what was opened (a file name, ``demo
NAME``), never by the model's internal name.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import streamlit as st

from kerascope.extraction.analysis.compare import compare_models, difference
from kerascope.extraction.errors import KerascopeError
from kerascope.extraction.folder import list_models, model_dir
from kerascope.extraction.records import LayerWeights, ModelWeights

from ..figures.compare import change_bar_figure, change_rows, difference_figures
from . import quantization_view
from .messages import error_line, plain
from .quantization_view import EXPORT_FORMATS
from .scope import model_key
from .session import demo_names, open_ref
from .sources import ModelRef, folder_ref, upload_types

OTHER_LABELS = {
    "start": "this demo before training",
    "folder": "a file in the model folder",
    "demo": "another built-in demo",
    "upload": "an uploaded file",
    "epochs": "two epochs of the training run",
}


def other_choices(ref: ModelRef, has_folder: bool, has_run: bool) -> list[str]:
    """What the open model can be compared with, the default first (pure, tested)."""
    kinds = (["start"] if ref.kind == "demo" else []) + (["folder"] if has_folder else [])
    kinds += ["demo", "upload"] + (["epochs"] if has_run else [])
    if ref.kind not in ("demo", "folder"):
        # Nothing of its own to compare with: wait for an upload rather than guess.
        kinds.remove("upload")
        kinds.insert(0, "upload")
    return kinds


def neighbour(names: list[str], current: str | None) -> str | None:
    """The folder file to compare ``current`` with: of the files just before and after it by
    name, the one sharing the longer start with its name (``ckpt-02`` -> ``ckpt-01``, not
    ``other``), the one before on a tie; the first file when ``current`` is not in the folder;
    None when there is no other file."""
    others = [n for n in names if n != current]
    if not others:
        return None
    if current not in names:
        return others[0]
    i = names.index(current)
    around = [names[j] for j in (i - 1, i + 1) if 0 <= j < len(names)]
    return max(around, key=lambda n: len(os.path.commonprefix([n, current])))


def render_choice(ref: ModelRef, model: ModelWeights, layer: LayerWeights, run: Any) -> None:
    """The Compare tab: pick the second model, then ``render`` the comparison."""
    folder = model_dir()
    names = list_models(folder) if folder is not None else []
    kinds = other_choices(ref, bool(names), run is not None)
    with_key, key = model_key("compare_with"), model_key("cmp")
    if st.session_state.get(with_key) not in kinds:
        st.session_state[with_key] = kinds[0]
    other = st.radio(
        f"Compare {plain(ref.label)} with",
        kinds,
        format_func=OTHER_LABELS.__getitem__,
        horizontal=True,
        key=with_key,
    )
    if other == "epochs" and run is not None:
        epochs = run.epochs
        first, last = st.select_slider(
            "Epochs", epochs, value=(epochs[0], epochs[-1]), key=model_key("compare_epochs")
        )
        render(
            run.weights_at(first),
            run.weights_at(last),
            "conv1",
            key=key,
            labels=(f"epoch {first}", f"epoch {last}"),
        )
        return
    after: ModelWeights | None = None
    label = ""
    try:
        if other == "start":
            # Training moved the weights from the random start to the demo: start first.
            start = initial_weights(ref.name)
            render(
                start,
                model,
                layer.path,
                key=key,
                labels=(f"{ref.name} before training", f"{ref.name} after training"),
            )
            return
        elif other == "folder":
            current = ref.name if ref.kind == "folder" else None
            default = neighbour(names, current)
            choices = [n for n in names if n != current]
            if not choices or default is None:
                st.info("The model folder holds no other file to compare with.")
                return
            folder_key = model_key("compare_folder")
            if st.session_state.get(folder_key) not in choices:
                st.session_state[folder_key] = default
            name = st.selectbox("File", choices, key=folder_key)
            other_ref = folder_ref(name)
            after, label = open_ref(other_ref), other_ref.label
        elif other == "demo":
            choices = [n for n in demo_names() if not (ref.kind == "demo" and n == ref.name)]
            name = st.selectbox("Demo", choices, key=model_key("compare_demo"))
            other_ref = ModelRef("demo", name)
            after, label = open_ref(other_ref), other_ref.label
        else:
            upload = st.file_uploader(
                "A model file of the same architecture, or its export (.tflite, a zipped TF.js "
                "folder) to see what quantization lost",
                type=upload_types(),
                key=model_key("compare_upload"),
            )
            if upload is not None:
                other_ref = ModelRef("upload", upload.name, upload.file_id)
                after, label = open_ref(other_ref, upload.getvalue()), other_ref.label
    except KerascopeError as exc:
        st.error(error_line("Could not open it", exc))
        return
    if after is None:
        st.info("Upload a checkpoint of the same model to see how far each layer moved.")
        return
    if model.format in EXPORT_FORMATS or after.format in EXPORT_FORMATS:
        quantization_view.render(model, after, layer.path, key=key)
        return
    render(model, after, layer.path, key=key, labels=(ref.label, label))


@st.cache_resource(max_entries=4, show_spinner=False)
def initial_weights(name: str) -> ModelWeights:
    """A demo's records before training (the same seed, so its true random start)."""
    from kerascope.extraction.models.demos import initial_demo
    from kerascope.extraction.readers.live import read_live

    return read_live(initial_demo(name), source=f"demo:{name}", fmt="demo")


def render(
    before: ModelWeights,
    after: ModelWeights,
    path: str,
    *,
    key: str,
    labels: tuple[str, str] | None = None,
) -> None:
    """The comparison table, the per-layer bar chart and one layer's difference (``path`` first,
    when both models have it). ``labels`` name the two sides (file names), default the models'
    own names."""
    first, second = labels or (before.name, after.name)
    comparison = compare_models(before, after)
    unmatched = comparison.unmatched()
    matched = comparison.matched()
    if len(matched) < len(unmatched):
        st.info(
            f"Only {len(matched)} of {len(matched) + len(unmatched)} weights of {plain(first)} "
            f"and {plain(second)} match by layer path, name and shape: these are not the same "
            "architecture, so a change per layer would mislead. The table lists what differs; "
            "choose a checkpoint of the same model above.",
            icon=":material/info:",
        )
        st.dataframe(change_rows(comparison), hide_index=True, key=f"{key}-table")
        return
    st.plotly_chart(
        change_bar_figure(comparison, (first, second)), width="stretch", key=f"{key}-bars"
    )
    if unmatched:
        st.warning(
            f"{len(unmatched)} weight(s) could not be compared (missing on one side or another "
            "shape); they are listed in the table."
        )
    st.dataframe(change_rows(comparison), hide_index=True, key=f"{key}-table")
    paths = list(dict.fromkeys(c.layer for c in comparison.matched()))
    if not paths:
        return
    if st.session_state.get(f"{key}-layer") not in paths:
        st.session_state[f"{key}-layer"] = path if path in paths else paths[0]
    path = st.selectbox("Layer to compare", paths, key=f"{key}-layer")
    layer = before.layer(path)
    names = [c.weight for c in comparison.matched() if c.layer == path]
    name = st.selectbox("Weight to compare", names, key=f"{key}-weight")
    w0 = layer.weight(name)
    w1 = after.layer(path).weight(name)
    diff = difference(before, after, path, name)
    figs = difference_figures(
        w0.array(),
        w1.array(),
        kind=layer.kind,
        role=w0.role,
        name=name,
        titles=(first, second),
    )
    cols = st.columns(3)
    for i, (col, fig) in enumerate(zip(cols, figs, strict=True)):
        with col:
            st.plotly_chart(fig, width="stretch", key=f"{key}-fig{i}")
    st.caption(
        f"The two originals share one colour scale; the difference has its own. "
        f"Largest |change| {float(np.max(np.abs(diff), initial=0.0)):.4g}."
    )
