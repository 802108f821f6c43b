"""The ``photo_patches`` demo's recipe: RGB patches of scikit-learn's sample photos and the
small CNN that tells them apart (``extraction.models.demos`` compiles, trains and caches it)."""

from __future__ import annotations

from typing import Any

import numpy as np

PATCH = 16
"""Side of the photo patches of the ``photo_patches`` demo."""
PHOTOS = ("china.jpg", "flower.jpg")


def photo_patches(seed: int, per_photo: int = 3000) -> tuple[Any, Any, Any, Any]:
    """Random ``PATCH``-pixel RGB patches of scikit-learn's two sample photos, in ``[0, 1]``.

    Label 0 is china.jpg, 1 flower.jpg. Held-out patches come from the right quarter of each
    photo and training patches from the rest, so no held-out pixel was seen in training.
    Half the training patches are mirrored left-right.
    """
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    images = load_sample_images().images

    def cut(n: int, lo: float, hi: float) -> tuple[Any, Any]:
        xs, ys = [], []
        for label, image in enumerate(images):
            h, w, _ = image.shape
            rows = rng.integers(0, h - PATCH, n)
            cols = rng.integers(int(lo * w), int(hi * w) - PATCH, n)
            xs += [image[r : r + PATCH, c : c + PATCH] for r, c in zip(rows, cols, strict=True)]
            ys += [label] * n
        return np.stack(xs).astype("float32") / 255.0, np.array(ys, dtype="int64")

    x_tr, y_tr = cut(per_photo, 0.0, 0.75)
    flip = rng.random(len(x_tr)) < 0.5
    x_tr[flip] = x_tr[flip, :, ::-1]
    x_te, y_te = cut(per_photo // 10, 0.75, 1.0)
    return x_tr, y_tr, x_te, y_te


def photo_cnn() -> Any:
    """Which photo a patch comes from, seen through 5x5 RGB filters.

    Each patch is contrast-normalised per colour channel first (a parameter-free
    LayerNormalization over height and width), so brightness alone cannot tell the photos
    apart; with weight decay on ``conv1`` the filters that survive are smooth colour-opponent
    edges and blobs rather than their random start.
    """
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((PATCH, PATCH, 3), name="patch"),
            layers.LayerNormalization(axis=[1, 2], center=False, scale=False, name="contrast"),
            layers.Conv2D(
                16,
                5,
                activation="relu",
                kernel_regularizer=keras.regularizers.L2(3e-2),
                name="conv1",
            ),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(32, 3, activation="relu", name="conv2"),
            layers.GlobalAveragePooling2D(name="gap"),
            layers.Dense(2, activation="softmax", name="photo"),
        ],
        name="photo_patches",
    )
