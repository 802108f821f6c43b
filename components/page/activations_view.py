"""The Activations panel: picks an input, runs the model to the layer, shows the maps.

What a class meets first is decided here: a demo opens on its most detailed held-out sample (never
a blank patch of sky); an image whose background is light while the model was trained on dark
backgrounds is inverted, with a note; a ``keras.applications`` model gets its own
``preprocess_input``; the model's answer is its top 5 classes, named where names are known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kerascope.extraction.errors import KerascopeError
from kerascope.extraction.layouts import CONV_KINDS, filter_count, input_channels
from kerascope.extraction.models.activations import (
    PIXEL_RANGES,
    Activation,
    background_level,
    fit_image,
    input_shape,
    is_image_input,
    patch_count,
    photo_patch,
    run_activation,
    scale_pixels,
)
from kerascope.extraction.models.labels import (
    ClassNames,
    Prediction,
    imagenet_classes,
    top_predictions,
)
from kerascope.extraction.records import LayerWeights, ModelWeights

from ..figures import filters, heatmaps
from ..figures.activations import (
    Array,
    feature_maps_figure,
    input_figure,
    map_figure,
    prediction_rows,
    vector_figure,
)
from ..figures.mosaic import Scale
from . import views
from .messages import plain
from .sources import ModelRef

MAP_PAGE_SIZES = (16, 32, 64)
"""Feature maps per page: 16 by default, so VGG16's 224x224 maps are tiles a class can read."""
MAPS_ASPECT = 1.2
"""Width / height of the feature-map grid: about 5 maps a row, each over 100 pixels wide."""
FILTERS_ASPECT = 5.0
"""Width / height of the strip of filters under the maps (the same page, tile for tile)."""
INPUT_HEIGHT = 230
"""Pixels of the input figure: about as tall as the left column is wide at 1280x800."""
MAPS_WIDTH = 640
"""Pixels the maps get beside the input at 1280 wide (sets the figures' heights)."""
PREPROCESS = "preprocess_input"
"""The pixel-range choice that hands the image to the architecture's own preprocessing."""
DARK_TRAINED = 0.35
"""A model whose training images have a background below this is trained light-on-dark."""
LIGHT_IMAGE = 0.6
"""An image whose border is brighter than this has a light background."""


@dataclass(frozen=True)
class Picked:
    """The input the panel runs, and what to say about it."""

    x: Array
    """What the model gets (no batch axis)."""
    shown: Array | None
    """The image to draw, in ``[0, 1]`` as the model sees it (inverted when it is), or None."""
    caption: str
    """Where the input comes from (Markdown-safe: names from files are escaped)."""


def render(ref: ModelRef, records: ModelWeights, layer: LayerWeights, *, key: str = "act") -> None:
    """The whole Activations panel."""
    import streamlit as st

    from ..page.runnable import live_model, sub_model

    model, reason = live_model(ref, records)
    if model is None:
        st.info(f"This file can be read but not run: {plain(reason)}.", icon=":material/info:")
        return
    try:
        shape = input_shape(model)
        sub = sub_model(ref, model, layer.path)
    except KerascopeError as exc:
        st.info(f"No activations for {plain(layer.path)}: {plain(exc)}.", icon=":material/info:")
        return
    left, right = st.columns([1, 3])
    with left:
        source = _source_choice(ref, shape, key)
        # The input right under the choice, above the knobs: on the first screen at 1280x800.
        image_slot = st.container()
        picked = _pick_input(ref, shape, key, source)
    if picked is None:
        return
    try:
        act = run_activation(sub, layer.path, picked.x)
    except (KerascopeError, ValueError) as exc:
        st.info(f"No activations for {plain(layer.path)}: {plain(exc)}.", icon=":material/info:")
        return
    with image_slot:
        if picked.shown is not None:
            h, w = picked.shown.shape[:2]
            st.plotly_chart(
                input_figure(picked.shown, f"what the model sees ({h}x{w})", height=INPUT_HEIGHT),
                width="stretch",
                key=f"{key}-input",
            )
        st.caption(picked.caption)
    with left:
        _show_predictions(ref, records, model, picked.x, key)
    with right:
        _draw_activation(act, layer, key)


def _show_predictions(ref: ModelRef, records: ModelWeights, model: Any, x: Array, key: str) -> None:
    """The model's top 5 classes, named where the model or Keras's cache names them."""
    import streamlit as st

    try:
        out = np.asarray(model(x[np.newaxis], training=False), dtype=np.float64)[0]
    except Exception:  # noqa: BLE001 - a model that cannot say is not an error here
        return
    classes = class_names(ref, out.size)
    top = top_predictions(out, classes)
    if not top:
        return
    st.caption(predicted_sentence(top[0]))
    st.dataframe(prediction_rows(top), hide_index=True, key=f"{key}-top")
    untrained = ref.kind == "application" and any("untrained" in n for n in records.notes)
    st.caption(
        classes.source + (". Untrained weights: these guesses are random." if untrained else ".")
    )


def predicted_sentence(best: Prediction) -> str:
    """``The model says 3 (97.1%).`` with the class name (Markdown-escaped) where one is known."""
    name = plain(best.name)
    if best.probability:
        value = "<0.1%" if best.score < 0.0005 else f"{best.score:.1%}"
        return f"The model says {name} ({value})."
    return f"The model says {name} (score {best.score:.4g}, not a probability)."


def class_names(ref: ModelRef, n_outputs: int) -> ClassNames:
    """What the open model calls its outputs: a demo's classes, ImageNet's for an application
    with 1000 outputs, otherwise indices, labelled as such."""
    from kerascope.extraction.models.demos import DEMOS
    from kerascope.extraction.models.labels import IMAGENET_CLASSES

    if ref.kind == "demo" and ref.name in DEMOS:
        demo = DEMOS[ref.name]
        names = tuple(demo.label(i) for i in range(n_outputs))
        return ClassNames(names, f"Classes of the {ref.name} demo")
    if ref.kind == "application" and n_outputs == IMAGENET_CLASSES:
        return imagenet_classes()
    return ClassNames((), "Class indices: the file does not name its classes")


def _draw_activation(act: Activation, layer: LayerWeights, key: str) -> None:
    import streamlit as st

    if act.kind == "vector":
        fig = vector_figure(act.values, f"{act.path} output ({layer.class_name})")
        st.plotly_chart(fig, width="stretch", key=f"{key}-bars")
        return
    if act.kind == "matrix":
        fig = heatmaps.heatmap_figure(
            act.values,
            row_label="step",
            col_label="feature",
            title=f"{act.path} output",
            width_hint=heatmaps.column_width(3 / 4, 2),
        )
        st.plotly_chart(fig, width="stretch", key=f"{key}-matrix")
        return
    channels = act.values.shape[-1]
    c1, c2, c3 = st.columns([2, 1, 2], vertical_alignment="bottom")
    per = c1.toggle("Scale each map on its own", key=f"{key}-per-map")
    page_size = int(
        c2.selectbox("Maps per page", MAP_PAGE_SIZES, key=f"{key}-page-size") or MAP_PAGE_SIZES[0]
    )
    pages = filters.page_count(channels, page_size)
    page_key = f"{key}-page|{layer.path}"  # each layer's maps start on their first page
    page = views.pager(c3, pages, state=page_key, key=f"{page_key}-top", noun="maps")
    scale: Scale = "per_filter" if per else "shared"
    kernel = next((w for w in layer.weights if w.role == "kernel"), None)
    maps = feature_maps_figure(
        act.values,
        scale=scale,
        page=page,
        page_size=page_size,
        aspect=MAPS_ASPECT,
        width_hint=MAPS_WIDTH,
    )
    st.plotly_chart(maps, width="stretch", key=f"{key}-maps")
    if layer.kind in CONV_KINDS and kernel is not None:
        k = kernel.array()
        rgb = input_channels(k.shape, layer.kind) == 3
        filter_pages = filters.page_count(filter_count(k.shape, layer.kind), page_size)
        grid = filters.filter_grid_figure(
            k,
            kind=layer.kind,
            channel_mode="rgb" if rgb else "mean",
            scale=scale,
            page=min(page, filter_pages - 1),
            page_size=page_size,
            aspect=FILTERS_ASPECT,
            width_hint=MAPS_WIDTH,
        )
        st.plotly_chart(grid, width="stretch", key=f"{key}-filters")
        st.caption("Map #k is made by filter #k: each filter slides over the layer's input.")
    if pages > 1:
        views.pager(st.container(), pages, state=page_key, key=f"{page_key}-bottom", noun="maps")
    first = page * page_size
    shown = list(range(first, min(first + page_size, channels)))
    index = st.selectbox(
        "Enlarge one map",
        shown,
        index=None,
        placeholder="choose a map of this page to see it large",
        key=f"{key}-enlarge",
        format_func=lambda k: f"#{k}",
    )
    if index is not None:
        st.plotly_chart(map_figure(act.values, int(index)), width="stretch", key=f"{key}-big")


def _source_choice(ref: ModelRef, shape: tuple[int | None, ...], key: str) -> str:
    """The Input radio: held-out sample (demos), sample photo and upload (image models), random."""
    import streamlit as st

    from kerascope.extraction.models.demos import DEMOS

    demo = ref.kind == "demo" and ref.name in DEMOS
    sources = (["held-out sample"] if demo else []) + (
        ["sample photo", "uploaded image"] if is_image_input(shape) else []
    )
    sources.append("random input")
    return str(st.radio("Input", sources, horizontal=True, key=f"{key}-source"))


def patch_demo(ref: ModelRef) -> bool:
    """Whether ``ref`` is a demo trained on patches of photos (``Demo.patches``)."""
    from kerascope.extraction.models.demos import DEMOS

    return ref.kind == "demo" and ref.name in DEMOS and DEMOS[ref.name].patches


def patch_why(ref: ModelRef, side: tuple[int, int]) -> str:
    """The one line on why a patch demo is shown a patch, not the whole photo."""
    h, w = side
    return (
        f"{plain(ref.name)} learned from {h}x{w}-pixel patches of photos, so it is shown one "
        f"(enlarged here), not a whole photo shrunk to a {h}x{w} blur."
    )


def _pick_input(
    ref: ModelRef, shape: tuple[int | None, ...], key: str, source: str
) -> Picked | None:
    """The input to run from ``source``; None when waiting for an upload."""
    import streamlit as st

    from kerascope.extraction.models.demos import DEMOS

    from ..page.runnable import demo_representative, demo_samples
    from ..page.runnable import photos as cached_photos

    if source == "held-out sample":
        xs, ys = demo_samples(ref.name)
        best = demo_representative(ref.name)
        i = int(st.slider("Sample", 0, len(xs) - 1, best, key=f"{key}-sample"))
        x = np.asarray(xs[i], dtype=np.float32)
        what = f"held-out sample {i}, label {plain(DEMOS[ref.name].label(int(ys[i])))}"
        if i == best:
            what += " (the sample with the most detail: the panel opens on it)"
        if patch_demo(ref) and x.ndim == 3:
            what += ". " + patch_why(ref, (x.shape[0], x.shape[1]))
        return Picked(x, _showable(x, shape), what.rstrip(".") + ".")
    if source == "random input":
        sizes = tuple(d or 32 for d in shape)
        x = np.random.default_rng(0).random(sizes, dtype=np.float32)
        return Picked(x, _showable(x, shape), "uniform random values in [0, 1), seed 0.")
    if source == "sample photo":
        photos = cached_photos()
        name = st.selectbox("Photo", sorted(photos), key=f"{key}-photo")
        if patch_demo(ref):
            return _patch_input(ref, shape, key, photos[name], f"scikit-learn's {plain(name)}")
        pixels, what = fit_image(photos[name], shape), f"scikit-learn's {plain(name)}"
    else:
        upload = st.file_uploader("An image", ["png", "jpg", "jpeg"], key=f"{key}-upload")
        if upload is None:
            st.info("Upload a PNG or JPEG image; it is cropped and resized to the model's input.")
            return None
        from PIL import Image, UnidentifiedImageError

        try:
            image = np.asarray(Image.open(upload).convert("RGB"))
            what = plain(upload.name)
            if patch_demo(ref):
                return _patch_input(ref, shape, key, image, what)
            pixels = fit_image(image, shape)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            st.error(f"Could not read {plain(upload.name)} as an image: {plain(exc)}")
            return None
    pixels = _maybe_invert(ref, pixels, what, key)
    caption = f"{what}, cropped and resized to {pixels.shape[0]}x{pixels.shape[1]}."
    return Picked(_to_model_range(ref, pixels, key), pixels, caption)


def _patch_input(
    ref: ModelRef, shape: tuple[int | None, ...], key: str, image: Array, what: str
) -> Picked:
    """A patch demo's input from a photo: one model-sized patch at full resolution, the most
    detailed by default, any other by the slider."""
    import streamlit as st

    side = (int(shape[0] or 16), int(shape[1] or 16))
    channels = int(shape[-1] or 3)
    best = _best_patch(image, side)
    n = patch_count(image.shape, side)
    index = int(st.slider("Patch of the photo", 0, n - 1, best, key=f"{key}-patch-{what}"))
    pixels, index, (top, left) = photo_patch(image, side, index, channels)
    where = f"Patch {index} of {what}, at row {top}, column {left}"
    where += " (the most detailed)" if index == best else ""
    return Picked(_to_model_range(ref, pixels, key), pixels, f"{where}. {patch_why(ref, side)}")


def _best_patch(image: Array, side: tuple[int, int]) -> int:
    return photo_patch(image, side)[1]


def _maybe_invert(ref: ModelRef, pixels: Array, what: str, key: str) -> Array:
    """The image, inverted when the user (or the background check) says so, with a note."""
    import streamlit as st

    level = background_level(pixels)
    trained = trained_background(ref)
    light = level > LIGHT_IMAGE
    default = light and trained is not None and trained < DARK_TRAINED
    invert = st.toggle(
        "Invert light and dark", value=default, key=f"{key}-invert-{what}", help=INVERT_HELP
    )
    if light and trained is not None and trained < DARK_TRAINED:
        st.info(
            f"Dark on a light background (edges {level:.2f}); {plain(ref.label)} learned light "
            f"strokes on dark ({trained:.2f}), so it is inverted before the model sees it"
            + ("." if invert else ": turn Invert on for a fair test."),
            icon=":material/contrast:",
        )
    elif light and shape_is_grey(pixels):
        st.caption(
            f"Light background detected (edge brightness {level:.2f}). If the model was trained "
            "on light-on-dark images, as digit models usually are, turn Invert on."
        )
    return 1.0 - pixels if invert else pixels


INVERT_HELP = "Show the model the negative: white becomes black, dark strokes become light."


def shape_is_grey(pixels: Array) -> bool:
    """Whether an ``(H, W, C)`` image has one channel."""
    return bool(pixels.ndim == 3 and pixels.shape[-1] == 1)


def trained_background(ref: ModelRef) -> float | None:
    """The mean background level of a demo's held-out images, or None when unknown."""
    from kerascope.extraction.models.demos import DEMOS

    if ref.kind != "demo" or ref.name not in DEMOS:
        return None
    from ..page.runnable import demo_background

    return demo_background(ref.name)


def _to_model_range(ref: ModelRef, pixels: Array, key: str) -> Array:
    """Pixels in ``[0, 1]`` as the model expects them: an application's own
    ``preprocess_input`` by default, else the range the user picks."""
    import streamlit as st

    from kerascope.extraction.models.applications import APPLICATIONS, preprocess

    app = APPLICATIONS.get(ref.name) if ref.kind == "application" else None
    choices: list[str] = ([PREPROCESS] if app is not None else []) + list(PIXEL_RANGES)

    def label(choice: str) -> str:
        if choice == PREPROCESS and app is not None:
            return f"{app.name}'s preprocess_input ({app.preprocessing})"
        return choice

    rng = st.selectbox(
        "Pixel range the model expects", choices, key=f"{key}-range", format_func=label
    )
    if rng == PREPROCESS and app is not None:
        return np.asarray(preprocess(app.name, pixels), dtype=np.float32)
    return scale_pixels(pixels, rng)  # type: ignore[arg-type]


def _showable(x: Array, shape: tuple[int | None, ...]) -> Array | None:
    if is_image_input(shape):
        return x
    side = int(np.sqrt(x.size))
    return x.reshape(side, side, 1) if x.ndim == 1 and side * side == x.size else None
