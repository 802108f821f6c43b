"""Data for the Train tab's photo task: whitened RGB patches of scikit-learn's two sample photos,
labelled by photo and by the way their edges run.

Why this recipe makes first-layer filters visibly become edge and colour detectors in seconds:
- The photos are whitened first (colour channels decorrelated, then a spatial filter that
  flattens the natural 1/f spectrum, as Olshausen and Field did), so no filter can win by
  merely averaging brightness; edges and colour contrasts are what is left to learn from.
- Each patch's label says which photo it comes from (colour: china.jpg is blue and green,
  flower.jpg pink and yellow) and which way its strongest edges run (one of four orientations,
  read from the patch's own gradients, the structure tensor). Telling orientations apart needs
  oriented filters; telling the photos apart needs colour-opponent ones.
Nothing is downloaded: the photos ship inside scikit-learn.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]
PATCH = 24
"""Side of the training patches, pixels."""
PHOTOS = ("china", "flower")
ORIENTATIONS = ("horizontal edges", "diagonal edges \\", "vertical edges", "diagonal edges /")
"""Orientation classes by index: the direction the edges run (the gradient is across it)."""
CLASSES = tuple(f"{photo}, {edges}" for photo in PHOTOS for edges in ORIENTATIONS)
"""Class names by index: photo index * 4 + orientation index."""
WHITEN_CUTOFF = 0.4
"""Cycles per pixel where the whitening filter rolls off (keeps pixel noise down)."""


@lru_cache(maxsize=1)
def whitened_photos() -> tuple[Array, ...]:
    """scikit-learn's sample photos, whitened (see module doc), float32, unit variance."""
    from sklearn.datasets import load_sample_images

    return tuple(_whiten(image) for image in load_sample_images().images)


def _whiten(image: Array) -> Array:
    x = image.astype(np.float64) / 255.0
    h, w, c = x.shape
    flat = x.reshape(-1, c)
    flat = flat - flat.mean(axis=0)
    values, vectors = np.linalg.eigh(flat.T @ flat / len(flat))
    zca = vectors @ np.diag(1.0 / np.sqrt(values + 1e-4)) @ vectors.T
    x = (flat @ zca).reshape(h, w, c)
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    gain = f * np.exp(-((f / WHITEN_CUTOFF) ** 4))
    out = np.real(np.fft.ifft2(np.fft.fft2(x, axes=(0, 1)) * gain[..., None], axes=(0, 1)))
    whitened: Array = (out / out.std()).astype(np.float32)
    return whitened


def orientation_labels(patches: Array) -> Array:
    """Which way each patch's edges run (index into ``ORIENTATIONS``), from its gradients.

    The structure tensor of the patch's grey level gives the dominant gradient angle; edges run
    across it. Angles are binned into four 45-degree bins centred on 0, 45, 90 and 135 degrees.
    """
    grey = patches.mean(axis=-1)
    gy, gx = np.gradient(grey, axis=(1, 2))
    jxx, jyy, jxy = ((a * b).sum(axis=(1, 2)) for a, b in ((gx, gx), (gy, gy), (gx, gy)))
    angle = 0.5 * np.arctan2(2 * jxy, jxx - jyy)  # gradient angle in (-pi/2, pi/2]
    bins: Array = (((angle + np.pi / 2 + np.pi / 8) // (np.pi / 4)).astype(np.int64)) % 4
    return bins


def edge_patches(seed: int, per_photo: int = 4000) -> tuple[Array, Array, Array, Array]:
    """``(x_train, y_train, x_test, y_test)``: whitened ``PATCH``-pixel patches and class ids.

    Held-out patches come from the right quarter of each photo, training patches from the rest,
    so no held-out pixel was seen in training.
    """
    rng = np.random.default_rng(seed)
    photos = whitened_photos()

    def cut(n: int, lo: float, hi: float) -> tuple[Array, Array]:
        xs, photo_ids = [], []
        for label, image in enumerate(photos):
            h, w, _ = image.shape
            rows = rng.integers(0, h - PATCH, n)
            cols = rng.integers(int(lo * w), int(hi * w) - PATCH, n)
            xs += [image[r : r + PATCH, c : c + PATCH] for r, c in zip(rows, cols, strict=True)]
            photo_ids += [label] * n
        x = np.stack(xs)
        return x, np.array(photo_ids, dtype=np.int64) * len(ORIENTATIONS) + orientation_labels(x)

    x_tr, y_tr = cut(per_photo, 0.0, 0.75)
    x_te, y_te = cut(max(1, per_photo // 8), 0.75, 1.0)
    return x_tr, y_tr, x_te, y_te
