"""Activations of live Keras models: known answers, every decided edge case."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from kerascope.extraction.errors import LayerNotFound, ModelNeedsLiveKeras
from kerascope.extraction.models.activations import (
    activation_model,
    fit_image,
    input_shape,
    layer_activation,
    run_activation,
    sample_photos,
    scale_pixels,
)


def conv_model(functional: bool) -> keras.Model:
    conv = layers.Conv2D(2, 3, padding="same", use_bias=False, name="conv")
    dense = layers.Dense(3, name="dense")
    if functional:
        inputs = keras.Input((5, 5, 1))
        x = conv(inputs)
        out = dense(layers.Flatten(name="flat")(x))
        model = keras.Model(inputs, out, name="fn")
    else:
        model = keras.Sequential(
            [keras.Input((5, 5, 1)), conv, layers.Flatten(name="flat"), dense], name="seq"
        )
    kernel = np.zeros((3, 3, 1, 2), dtype="float32")
    kernel[1, 1, 0, 0] = 1.0  # filter 0: identity
    kernel[1, 1, 0, 1] = -2.0  # filter 1: times -2
    conv.set_weights([kernel])
    return model


@pytest.mark.parametrize(
    ("functional", "reload"),
    [(False, False), (True, False), (False, True)],
    ids=["sequential", "functional", "sequential-loaded"],
)
def test_conv_maps_and_dense_vector_have_known_values(
    functional: bool, reload: bool, tmp_path: Path
) -> None:
    model = conv_model(functional)
    if reload:  # a loaded Sequential keeps nodes of graphs built while loading
        model.save(tmp_path / "m.keras")
        model = keras.models.load_model(tmp_path / "m.keras")
    x = np.arange(25, dtype="float32").reshape(5, 5, 1) / 25
    before = x.copy()
    maps = layer_activation(model, "conv", x)
    assert maps.kind == "maps" and maps.values.shape == (5, 5, 2)
    np.testing.assert_allclose(maps.values[..., 0], x[..., 0], atol=1e-6)
    np.testing.assert_allclose(maps.values[..., 1], -2 * x[..., 0], atol=1e-6)
    dense = layer_activation(model, "dense", x)
    w, b = model.get_layer("dense").get_weights()
    assert dense.kind == "vector" and dense.values.shape == (3,)
    np.testing.assert_allclose(dense.values, maps.values.reshape(-1) @ w + b, atol=1e-5)
    np.testing.assert_array_equal(x, before)
    assert not maps.values.flags.writeable
    assert input_shape(model) == (5, 5, 1)


def test_nested_layers_are_not_reachable_but_the_block_is() -> None:
    inner = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="inner_dense")], name="block")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, layers.Dense(2, name="head")(inner(inputs)))
    with pytest.raises(ModelNeedsLiveKeras, match="inside the nested model 'block'"):
        activation_model(model, "block/inner_dense")
    assert layer_activation(model, "block", np.ones(4)).values.shape == (3,)
    with pytest.raises(LayerNotFound, match="no layer 'nope'"):
        activation_model(model, "nope")


def test_models_without_one_input_graph_are_refused() -> None:
    a, b = keras.Input((2,)), keras.Input((3,))
    two = keras.Model([a, b], layers.Dense(1, name="d")(layers.Concatenate()([a, b])))
    with pytest.raises(ModelNeedsLiveKeras, match="2 inputs"):
        activation_model(two, "d")

    class Sub(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.d = layers.Dense(2)

        def call(self, x: object) -> object:
            return self.d(x)

    with pytest.raises(ModelNeedsLiveKeras, match="no graph"):
        input_shape(Sub())


def test_shared_layer_has_no_single_output() -> None:
    shared = layers.Dense(2, name="shared")
    inputs = keras.Input((2,))
    model = keras.Model(inputs, shared(shared(inputs)))
    with pytest.raises(ModelNeedsLiveKeras, match="several places"):
        activation_model(model, "shared")


def test_sequence_output_is_a_matrix_and_conv3d_has_no_view() -> None:
    seq = keras.Sequential([keras.Input((6, 2)), layers.Conv1D(4, 3, name="c1")])
    act = layer_activation(seq, "c1", np.zeros((6, 2)))
    assert act.kind == "matrix" and act.values.shape == (4, 4)
    vol = keras.Sequential([keras.Input((4, 4, 4, 1)), layers.Conv3D(2, 3, name="c3")])
    with pytest.raises(ModelNeedsLiveKeras, match="rank-5"):
        layer_activation(vol, "c3", np.zeros((4, 4, 4, 1)))


def test_wrong_input_shape_names_both_shapes() -> None:
    model = conv_model(functional=True)
    with pytest.raises(ValueError, match=r"\(5, 5, 1\); received \(4, 4, 1\)"):
        run_activation(activation_model(model, "conv"), "conv", np.zeros((4, 4, 1)))


def test_fit_image_crops_resizes_and_converts() -> None:
    photo = sample_photos()["china.jpg"]
    before = photo.copy()
    rgb = fit_image(photo, (32, 48, 3))
    assert rgb.shape == (32, 48, 3) and rgb.dtype == np.float32
    assert 0.0 <= rgb.min() and rgb.max() <= 1.0 and rgb.std() > 0.05
    grey = fit_image(photo, (8, 8, 1))
    assert grey.shape == (8, 8, 1)
    np.testing.assert_array_equal(photo, before)
    # A float grey image becomes RGB by repetition; a None side keeps the image's size.
    ramp = np.tile(np.linspace(0, 1, 10), (6, 1))
    out = fit_image(ramp, (None, None, 3))
    assert out.shape == (6, 10, 3)
    np.testing.assert_allclose(out[..., 0], out[..., 2])
    # Centre crop: a wide image keeps its middle columns.
    wide = np.zeros((10, 30), dtype=np.uint8)
    wide[:, 10:20] = 255
    assert fit_image(wide, (10, 10, 1)).min() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="input shape"):
        fit_image(photo, (64,))


def test_scale_pixels() -> None:
    x = np.array([0.0, 0.5, 1.0], dtype="float32")
    np.testing.assert_allclose(scale_pixels(x, "0..255"), [0, 127.5, 255])
    np.testing.assert_allclose(scale_pixels(x, "-1..1"), [-1, 0, 1])
    assert scale_pixels(x, "0..1") is not x
    with pytest.raises(ValueError, match="pixel_range"):
        scale_pixels(x, "0..9")  # type: ignore[arg-type]


def test_photo_patches_are_cut_at_full_resolution() -> None:
    from kerascope.extraction.models.activations import patch_count, photo_patch

    image = np.arange(40 * 50 * 3, dtype=np.uint8).reshape(40, 50, 3)
    before = image.copy()
    assert patch_count(image.shape, (16, 16)) == 2 * 3
    patch, index, (top, left) = photo_patch(image, (16, 16), 4)
    assert (index, top, left) == (4, 16, 16) and patch.dtype == np.float32
    np.testing.assert_allclose(patch, image[16:32, 16:32] / 255.0, rtol=1e-6)
    grey, _, _ = photo_patch(image, (16, 16), 0, channels=1)
    assert grey.shape == (16, 16, 1)
    expected = image[:16, :16].astype(np.float32) @ np.array([0.299, 0.587, 0.114]) / 255.0
    np.testing.assert_allclose(grey[..., 0], expected, rtol=1e-5)
    busy = np.zeros((32, 32), dtype=np.uint8)
    busy[16:, 16:] = np.indices((16, 16)).sum(axis=0) % 2 * 255  # a checkerboard, bottom right
    assert photo_patch(busy, (16, 16))[1] == 3  # by default the patch with the most edges
    small, index, _ = photo_patch(image[:8, :8], (16, 16))  # smaller than a patch: resized
    assert small.shape == (16, 16, 3) and index == 0
    with pytest.raises(ValueError, match="patch 6 does not exist; the image has 6"):
        photo_patch(image, (16, 16), 6)
    np.testing.assert_array_equal(image, before)
