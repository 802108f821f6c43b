"""Activations: what one layer of a live Keras model outputs for one input.

The input runs through a sub-model ``keras.Model(model.inputs, layer.output)``, so only the
layers up to the chosen one are computed; Sequential and Functional models both work.

Decided edge cases (each has a test):
- Only layers of the outermost model are reachable. A layer inside a nested model (a path with
  ``/``) raises ``ModelNeedsLiveKeras`` naming the nested model, whose own output can be shown.
- A model with several inputs, or without a graph (subclassed, never built), and a layer with
  several outputs or used at several places raise ``ModelNeedsLiveKeras`` saying which.
- Output ranks: ``(1, H, W, C)`` gives feature *maps* ``(H, W, C)``; ``(1, N)`` a *vector*;
  ``(1, T, F)`` a *matrix* (steps x features, as Conv1D and RNNs give). Other ranks (Conv3D)
  raise ``ModelNeedsLiveKeras``.
- The input must have the model's input shape without the batch axis (``None`` matches any
  size); otherwise ``ValueError`` names both shapes. Inputs are never modified.
- ``fit_image`` centre-crops to the model's aspect ratio, resizes with PIL (bilinear), converts
  RGB to grey by luminance (and grey to RGB by repeating) and returns float32 in ``[0, 1]``.
- ``representative_index`` picks the sample with the most edges (total variation per pixel,
  over all channels), so a panel never opens on a blank patch of sky; ties go to the lower index.
- ``background_level`` is the mean of an image's outermost ring of pixels (``[0, 1]`` input):
  a student's dark digit on white paper is near 1, the digits demo's own samples near 0.
- ``photo_patch`` cuts a model-sized patch out of a photo at full resolution (for a model
  trained on such patches, shrinking the whole photo would show it a blur it never saw); the
  patches tile the photo without overlap, row by row, and ``patch_count`` says how many; by
  default the one with the most edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import ModelNeedsLiveKeras

Array = np.ndarray[Any, Any]
ActivationKind = Literal["maps", "vector", "matrix"]
PixelRange = Literal["0..1", "0..255", "-1..1"]
PIXEL_RANGES: tuple[PixelRange, ...] = ("0..1", "0..255", "-1..1")
_KINDS: dict[int, ActivationKind] = {4: "maps", 2: "vector", 3: "matrix"}


@dataclass(frozen=True)
class Activation:
    """One layer's output for one input."""

    path: str
    """The layer that produced it."""
    kind: ActivationKind
    """``maps`` ``(H, W, C)``, ``vector`` ``(N,)`` or ``matrix`` ``(T, F)``."""
    values: Array
    """The output without its batch axis, float32, read-only."""


def input_shape(model: Any) -> tuple[int | None, ...]:
    """The model's single input shape without the batch axis.

    Raises:
        ModelNeedsLiveKeras: no graph (a subclassed or unbuilt model), or several inputs.
    """
    try:
        inputs = list(model.inputs)
    except (AttributeError, ValueError) as exc:
        raise ModelNeedsLiveKeras(
            f"model {model.name!r} has no graph of layers to cut at a layer "
            "(a subclassed or never-called model)"
        ) from exc
    if len(inputs) != 1:
        raise ModelNeedsLiveKeras(
            f"model {model.name!r} has {len(inputs)} inputs; activations are shown for "
            "single-input models only"
        )
    return tuple(None if d is None else int(d) for d in inputs[0].shape[1:])


def activation_model(model: Any, path: str) -> Any:
    """A ``keras.Model`` from ``model``'s input to the output of the layer at ``path``.

    Raises:
        ModelNeedsLiveKeras: the layer is nested, shared, has several outputs, or the model has
            no single-input graph (see the module notes).
        LayerNotFound: no such layer.
    """
    from .._native import import_keras
    from ..errors import LayerNotFound

    keras = import_keras()
    input_shape(model)
    if "/" in path:
        outer = path.split("/", 1)[0]
        raise ModelNeedsLiveKeras(
            f"layer {path!r} sits inside the nested model {outer!r}, whose inner layers cannot "
            f"be reached from this model's input; choose {outer!r} to see that block's output"
        )
    names = [layer.name for layer in model.layers]
    if path not in names:
        raise LayerNotFound(f"no layer {path!r} in model {model.name!r}; layers are: {names}")
    output = _output_in_graph(model, model.get_layer(path), path)
    return keras.Model(model.inputs[0], output, name=f"activations_{path}")


def _output_in_graph(model: Any, layer: Any, path: str) -> Any:
    """The layer's one output tensor in ``model``'s own graph.

    Keras keeps a node per call of a layer, including calls from graphs built earlier (a loaded
    Sequential rebuilds its graph several times), so ``layer.output`` (the first node) can
    belong to another graph. Only nodes of this model's graph count; Keras has no public API
    for them, hence the private attributes, with ``layer.output`` when they are missing.
    """
    graph = getattr(model, "_functional", None) or model
    by_depth = getattr(graph, "_nodes_by_depth", None)
    if by_depth is None:
        try:
            return layer.output
        except (AttributeError, ValueError) as exc:
            raise ModelNeedsLiveKeras(f"layer {path!r} has no single output ({exc})") from exc
    in_graph = {id(node) for nodes in by_depth.values() for node in nodes}
    nodes = [node for node in getattr(layer, "_inbound_nodes", ()) if id(node) in in_graph]
    if len(nodes) != 1:
        how = "is used at several places in" if nodes else "is never called in"
        raise ModelNeedsLiveKeras(f"layer {path!r} {how} this model, so it has no single output")
    if len(nodes[0].outputs) != 1:
        raise ModelNeedsLiveKeras(f"layer {path!r} has several outputs; one is needed")
    return nodes[0].outputs[0]


def run_activation(sub_model: Any, path: str, x: Array) -> Activation:
    """Run one input ``x`` (no batch axis) through ``sub_model`` from ``activation_model``.

    Raises:
        ValueError: ``x`` does not have the model's input shape.
        ModelNeedsLiveKeras: an output rank with no view (see the module notes).
    """
    expected = input_shape(sub_model)
    x = np.asarray(x, dtype=np.float32)
    fits = x.ndim == len(expected) and all(
        e is None or e == s for e, s in zip(expected, x.shape, strict=True)
    )
    if not fits:
        raise ValueError(f"the model takes inputs of shape {expected}; received {x.shape}")
    from .._native import quiet_native_stderr

    with quiet_native_stderr():
        out = sub_model(x[np.newaxis], training=False)
    values = np.array(out, dtype=np.float32)[0]
    kind = _KINDS.get(values.ndim + 1)
    if kind is None:
        raise ModelNeedsLiveKeras(
            f"layer {path!r} outputs rank-{values.ndim + 1} activations {values.shape}, "
            "which have no view (maps, vectors and step x feature matrices do)"
        )
    values.setflags(write=False)
    return Activation(path=path, kind=kind, values=values)


def layer_activation(model: Any, path: str, x: Array) -> Activation:
    """``run_activation(activation_model(model, path), path, x)``; raises as both do."""
    return run_activation(activation_model(model, path), path, x)


def is_image_input(shape: tuple[int | None, ...]) -> bool:
    """Whether inputs of this shape are images (``(H, W, 1)`` or ``(H, W, 3)``)."""
    return len(shape) == 3 and shape[-1] in (1, 3)


def fit_image(image: Array, shape: tuple[int | None, ...]) -> Array:
    """An image (``(H, W)``, ``(H, W, 3|4)``; uint8 0..255 or float 0..1) as a model input.

    ``shape`` is the model's ``(H, W, C)`` with ``C`` 1 or 3; a ``None`` side keeps the
    image's own size. See the module notes for what is decided.

    Raises:
        ValueError: ``shape`` is not an image shape, or ``image`` is not an image.
    """
    from PIL import Image

    if not is_image_input(shape):
        raise ValueError(f"expected an (H, W, 1) or (H, W, 3) input shape; received {shape}")
    a = np.asarray(image)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (1, 3, 4)):
        raise ValueError(f"expected an (H, W) or (H, W, 1|3|4) image; received {a.shape}")
    if a.dtype != np.uint8:
        a = (np.clip(np.nan_to_num(a.astype(np.float64)), 0.0, 1.0) * 255).round()
    a = a.astype(np.uint8)
    a = a[..., :3] if a.ndim == 3 and a.shape[-1] >= 3 else a.reshape(a.shape[0], a.shape[1])
    pil = Image.fromarray(a)
    height, width = shape[0] or pil.height, shape[1] or pil.width
    scale = min(pil.width / width, pil.height / height)
    crop_w, crop_h = width * scale, height * scale
    left, top = (pil.width - crop_w) / 2, (pil.height - crop_h) / 2
    pil = pil.crop((round(left), round(top), round(left + crop_w), round(top + crop_h)))
    pil = pil.resize((width, height), Image.Resampling.BILINEAR)
    pil = pil.convert("L" if shape[-1] == 1 else "RGB")
    out = np.asarray(pil, dtype=np.float32) / 255.0
    return out.reshape(height, width, 1 if shape[-1] == 1 else 3)


def scale_pixels(x01: Array, pixel_range: PixelRange) -> Array:
    """Pixels in ``[0, 1]`` mapped to the range a model expects (a new array)."""
    x = np.asarray(x01, dtype=np.float32)
    if pixel_range == "0..255":
        return x * 255.0
    if pixel_range == "-1..1":
        return x * 2.0 - 1.0
    if pixel_range != "0..1":
        raise ValueError(f"pixel_range must be one of {PIXEL_RANGES}; received {pixel_range!r}")
    return x.copy()


def edge_energy(x: Array) -> float:
    """Mean absolute difference between neighbouring pixels of one image ``(H, W[, C])``; a flat
    vector is treated as a square image when it is one (the digits MLP's 64 inputs), else its
    standard deviation is used."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        side = int(round(np.sqrt(a.size)))
        if side * side != a.size:
            return float(np.nanstd(a)) if a.size else 0.0
        a = a.reshape(side, side)
    if a.ndim < 2 or a.shape[0] < 2 or a.shape[1] < 2:
        return float(np.nanstd(a)) if a.size else 0.0
    dy = np.abs(np.diff(a, axis=0))
    dx = np.abs(np.diff(a, axis=1))
    return float(np.nan_to_num(dy.mean() + dx.mean()))


def representative_index(xs: Array, limit: int = 2000) -> int:
    """The index of the sample with the most edges among the first ``limit`` (see module notes).

    Raises:
        ValueError: no samples.
    """
    if len(xs) == 0:
        raise ValueError("no samples to choose from")
    energies = [edge_energy(x) for x in xs[:limit]]
    return int(np.argmax(energies))


def background_level(x01: Array) -> float:
    """Mean of the outermost ring of pixels of an ``(H, W[, C])`` image in ``[0, 1]``.

    Raises:
        ValueError: not an image of at least 2 x 2 pixels.
    """
    a = np.asarray(x01, dtype=np.float64)
    if a.ndim not in (2, 3) or a.shape[0] < 2 or a.shape[1] < 2:
        raise ValueError(f"expected an (H, W) or (H, W, C) image; received shape {a.shape}")
    ring = np.concatenate(
        [a[0].reshape(-1), a[-1].reshape(-1), a[1:-1, 0].reshape(-1), a[1:-1, -1].reshape(-1)]
    )
    return float(np.nanmean(ring))


def patch_count(image_shape: tuple[int, ...], side: tuple[int, int]) -> int:
    """How many ``side`` patches tile an image of ``image_shape`` (at least 1)."""
    rows, cols = image_shape[0] // side[0], image_shape[1] // side[1]
    return max(1, rows * cols)


def photo_patch(
    image: Array, side: tuple[int, int], index: int | None = None, channels: int = 3
) -> tuple[Array, int, tuple[int, int]]:
    """Patch ``index`` (row by row; None: the one with the most edges) of ``image``, cut at full
    resolution to ``side`` = (height, width), as float32 ``[0, 1]`` with ``channels`` (1: grey
    by luminance, as ``fit_image``); returns ``(patch, index, (top, left))``. An image smaller
    than ``side`` is ``fit_image``'d instead.

    Raises:
        ValueError: ``image`` is not an image, or ``index`` is outside ``patch_count``.
    """
    a = np.asarray(image)
    if a.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, C) image; received {a.shape}")
    h, w = side
    if a.shape[0] < h or a.shape[1] < w:
        return fit_image(a, (h, w, channels)), 0, (0, 0)
    scaled = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
    scaled = scaled[..., None] if scaled.ndim == 2 else scaled[..., :3]
    if channels == 1 and scaled.shape[-1] == 3:
        scaled = scaled @ np.array([[0.299], [0.587], [0.114]], dtype=np.float32)
    elif channels == 3 and scaled.shape[-1] == 1:
        scaled = np.repeat(scaled, 3, axis=-1)
    cols = a.shape[1] // w
    n = patch_count(a.shape, side)
    if index is None:
        patches = [
            scaled[(i // cols) * h : (i // cols + 1) * h, (i % cols) * w : (i % cols + 1) * w]
            for i in range(n)
        ]
        index = representative_index(np.stack(patches))
    if not 0 <= index < n:
        raise ValueError(f"patch {index} does not exist; the image has {n} patches of {h}x{w}")
    top, left = (index // cols) * h, (index % cols) * w
    return np.ascontiguousarray(scaled[top : top + h, left : left + w]), index, (top, left)


def sample_photos() -> dict[str, Array]:
    """scikit-learn's bundled photos by file name (``china.jpg``, ``flower.jpg``), uint8 RGB."""
    from pathlib import Path

    from sklearn.datasets import load_sample_images

    bunch = load_sample_images()
    return {Path(f).name: img for f, img in zip(bunch.filenames, bunch.images, strict=True)}
