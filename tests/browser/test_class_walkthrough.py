"""A teacher's walk at 1280x800 in headless Chromium: what a class meets first.

Each test is one bullet of issue 14's "What a teacher meets today" (part B), checked gone, with a
screenshot in artifacts/screenshots/class-*.png to look at.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import CHART, CLASSROOM, idle, open_drawn, serving
from playwright.sync_api import Page, expect

TEACH = "Explain, diagnose, compare, train"
WIDTH, HEIGHT = CLASSROOM
SIDEBAR = '[data-testid="stSidebar"]'


@pytest.fixture(scope="module")
def class_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A model folder (two checkpoints, one other model) and a Keras home holding ImageNet's
    class-index file in Keras's format (no weights: a download must fail offline)."""
    import keras
    from keras import layers

    folder = tmp_path_factory.mktemp("class_folder")
    for epoch in (1, 2):
        keras.utils.set_random_seed(epoch)
        inputs = keras.Input((6, 6, 3))
        x = layers.Flatten()(layers.Conv2D(4, 3, name="conv")(inputs))
        outputs = layers.Dense(3, activation="softmax", name="out")(x)
        keras.Model(inputs, outputs, name="sequential").save(folder / f"ckpt-{epoch:02d}.keras")
    inputs = keras.Input((5,))
    keras.Model(inputs, layers.Dense(2, name="d")(inputs), name="sequential").save(
        folder / "other.keras"
    )
    home = tmp_path_factory.mktemp("keras_home")
    (home / "models").mkdir()
    index = {str(i): [f"n{i:08d}", f"imagenet_class_{i}"] for i in range(1000)}
    (home / "models" / "imagenet_class_index.json").write_text(json.dumps(index))
    return folder, home


@pytest.fixture(scope="module")
def class_url(class_dirs: tuple[Path, Path]) -> Iterator[str]:
    folder, home = class_dirs
    with serving({"KERASCOPE_MODEL_DIR": str(folder), "KERAS_HOME": str(home)}) as url:
        yield url


def no_exception(page: Page) -> None:
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    idle(page)


def layer_options(page: Page) -> list[str]:
    box = page.locator(SIDEBAR).locator('[data-testid="stSelectbox"]').filter(has_text="Layer")
    box.locator("input").click()
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return options


def test_first_screen_holds_the_grid_and_only_layers_with_weights(
    page: Page, class_url: str, screenshots: Path
) -> None:
    open_drawn(page, class_url)
    no_exception(page)
    grid = page.locator(CHART).first.bounding_box()
    assert grid is not None
    # The whole grid of the default demo is on the first screen, and it uses the width.
    assert grid["y"] + grid["height"] <= HEIGHT, grid
    assert grid["width"] >= 0.8 * (WIDTH - 300), grid
    assert not any("pool" in o for o in layer_options(page))
    page.screenshot(path=str(screenshots / "class-01-first-screen.png"))

    page.get_by_role("button", name="Next").click()
    page.wait_for_function("location.search.includes('layer=conv2')")
    idle(page)
    page.get_by_role("button", name="Next").click()
    page.wait_for_function("location.search.includes('layer=dense')")  # pool, flatten skipped
    idle(page)
    page.locator(SIDEBAR).get_by_text("Show layers without weights").click()
    deadline = time.monotonic() + 60  # the rerun may start just after the app looked idle
    while not any("pool" in o for o in layer_options(page)):
        assert time.monotonic() < deadline, "weightless layers never appeared in the picker"
        time.sleep(0.5)
    idle(page)
    page.get_by_role("button", name="Previous").click()
    page.wait_for_function("location.search.includes('layer=flatten')")
    idle(page)
    no_exception(page)


def test_vgg16_rgb_filters_with_a_legend_and_paging_above_and_below(
    page: Page, class_url: str, screenshots: Path
) -> None:
    open_drawn(page, f"{class_url}/?model=app:VGG16&layer=block1_conv1")
    expect(page.get_by_text("conv2d filters 1-64 of 64, RGB").first).to_be_visible()
    expect(page.get_by_text("R +").first).to_be_visible()
    expect(page.get_by_text("brighter = positive").first).to_be_visible()
    grid = page.locator(CHART).first.bounding_box()
    assert grid is not None and grid["y"] < HEIGHT / 2, grid  # starts on the first screen
    no_exception(page)
    page.screenshot(path=str(screenshots / "class-02-vgg16-rgb.png"))

    page.goto(f"{class_url}/?model=app:VGG16&layer=block2_conv1")  # 128 filters: 2 pages
    page.wait_for_selector(CHART, timeout=180_000)
    idle(page)
    pagers = page.get_by_text(re.compile(r"^page 1 of 2$"))
    expect(pagers).to_have_count(2)  # above and below the grid
    page.get_by_role("button", name="chevron_right").last.click()
    expect(page.get_by_text("filters 65-128 of 128").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text(re.compile(r"^page 2 of 2$"))).to_have_count(2)
    idle(page)
    no_exception(page)
    page.screenshot(path=str(screenshots / "class-03-vgg16-page2.png"))


def test_vgg16_maps_are_paged_large_and_named_top5(
    page: Page, class_url: str, screenshots: Path
) -> None:
    open_drawn(page, f"{class_url}/?model=app:VGG16&layer=block1_conv1")
    open_tab(page, TEACH)
    open_tab(page, "Activations")
    expect(page.get_by_text("feature maps 1-16 of 64 (224x224)").first).to_be_visible(
        timeout=120_000
    )
    idle(page)
    pixel_range = page.locator('[data-testid="stSelectbox"]').filter(has_text="Pixel range")
    assert "VGG16's preprocess_input" in pixel_range.locator("input").input_value()
    expect(page.get_by_text("ImageNet class names").first).to_be_visible()
    expect(page.get_by_text(re.compile(r"The model says imagenet_class_\d+")).first).to_be_visible()
    maps = page.locator(CHART).nth(1).bounding_box()
    assert maps is not None and maps["width"] / 5 > 100, maps  # 5 maps a row, each >100 px
    expect(page.get_by_text(re.compile(r"^maps page 1 of 4$"))).to_have_count(2)
    no_exception(page)
    page.screenshot(path=str(screenshots / "class-04-vgg16-maps.png"))
    enlarge = page.locator('[data-testid="stSelectbox"]').filter(has_text="Enlarge one map")
    enlarge.locator("input").click()
    enlarge.locator("input").press_sequentially("#3")  # filters the list to map #3
    enlarge.locator("input").press("Enter")
    expect(page.get_by_text("map #3 (224x224)").first).to_be_visible(timeout=60_000)
    idle(page)
    no_exception(page)


def test_efficientnet_opens_on_its_first_conv_and_offline_download_says_so(
    page: Page, class_url: str, screenshots: Path
) -> None:
    open_drawn(page, f"{class_url}/?model=app:EfficientNetB0")
    assert "layer=stem_conv" in page.url
    expect(page.get_by_text("conv2d filters 1-32 of 32, RGB").first).to_be_visible()
    page.get_by_role("button", name="Download ImageNet weights").click()
    expect(page.get_by_text("ImageNet weights are not available offline").first).to_be_visible(
        timeout=120_000
    )
    idle(page)
    body = page.locator("body").inner_text()
    assert "http" not in body and "Errno" not in body and "URL" not in body
    assert "layer=stem_conv" in page.url
    no_exception(page)
    page.screenshot(path=str(screenshots / "class-05-efficientnet-offline.png"))


def test_photo_demo_opens_on_a_detailed_sample(
    page: Page, class_url: str, screenshots: Path
) -> None:
    open_drawn(page, f"{class_url}/?model=photo_patches&layer=conv1")
    open_tab(page, TEACH)
    open_tab(page, "Activations")
    expect(page.get_by_text("the sample with the most detail").first).to_be_visible(timeout=120_000)
    expect(
        page.get_by_text(re.compile(r"The model says (china|flower)\.jpg")).first
    ).to_be_visible()
    idle(page)
    no_exception(page)
    page.screenshot(path=str(screenshots / "class-06-photo-sample.png"))


def _dark_on_white_digit(path: Path) -> int:
    from PIL import Image

    from kerascope.extraction.models.demos import sample_inputs

    xs, ys = sample_inputs("digits_cnn")
    i = int(np.flatnonzero(ys == 3)[0])
    ink = (255 * (1.0 - xs[i][..., 0])).astype(np.uint8)
    Image.fromarray(ink).resize((80, 80), Image.Resampling.NEAREST).save(path)
    return int(ys[i])


def test_a_students_dark_digit_is_inverted_with_a_note(
    page: Page, class_url: str, screenshots: Path, tmp_path: Path
) -> None:
    label = _dark_on_white_digit(tmp_path / "my_digit.png")
    open_drawn(page, class_url)
    open_tab(page, TEACH)
    open_tab(page, "Activations")
    page.get_by_text("uploaded image", exact=True).click()
    idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').last.set_input_files(
        str(tmp_path / "my_digit.png")
    )
    expect(page.get_by_text("Dark on a light background").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text(f"The model says {label} (").first).to_be_visible()
    idle(page)
    no_exception(page)
    page.screenshot(path=str(screenshots / "class-07-dark-digit.png"))


def test_compare_names_files_and_never_itself(
    page: Page, class_url: str, screenshots: Path
) -> None:
    open_drawn(page, f"{class_url}/?model=ckpt-02.keras")
    open_tab(page, TEACH)
    open_tab(page, "Compare")
    expect(
        page.get_by_text("How far each layer moved: ckpt-02.keras -> ckpt-01.keras").first
    ).to_be_visible(timeout=60_000)
    idle(page)
    no_exception(page)
    expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
    page.screenshot(path=str(screenshots / "class-08-compare-folder.png"))

    open_drawn(page, f"{class_url}/?model=digits_cnn")
    open_tab(page, TEACH)
    open_tab(page, "Compare")
    expect(
        page.get_by_text("digits_cnn before training -> digits_cnn after training").first
    ).to_be_visible(timeout=60_000)
    idle(page)
    no_exception(page)
    page.screenshot(path=str(screenshots / "class-09-compare-demo.png"))


def test_uploads_say_they_cannot_be_shared_and_junk_leaves_no_trace(
    page: Page, class_url: str, class_dirs: tuple[Path, Path], screenshots: Path, tmp_path: Path
) -> None:
    folder, _ = class_dirs
    open_drawn(page, class_url)
    page.locator(SIDEBAR).get_by_text("Upload a file").click()
    idle(page)
    expect(page.get_by_text("Uploads cannot be shared by link").first).to_be_visible()
    uploader = page.locator(f'{SIDEBAR} [data-testid="stFileUploaderDropzoneInput"]')
    uploader.set_input_files(str(folder / "ckpt-01.keras"))
    page.wait_for_function("location.search.includes('model=upload%3Ackpt-01.keras')")
    idle(page)
    expect(page.get_by_text("Open now: upload ckpt-01.keras").first).to_be_visible()

    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"PK\x03\x04 this is not a model")
    uploader.set_input_files(str(junk))
    expect(page.get_by_text("Could not open upload junk.keras").first).to_be_visible(timeout=60_000)
    idle(page)
    # The sidebar does not name the junk file as if it were open; the page and URL agree.
    expect(page.locator(f'{SIDEBAR} [data-testid="stFileChipName"]')).to_have_count(0)
    expect(page.get_by_text("Open now: upload ckpt-01.keras").first).to_be_visible()
    assert "model=upload%3Ackpt-01.keras" in page.url
    no_exception(page)
    page.screenshot(path=str(screenshots / "class-10-junk-upload.png"))

    page.goto(f"{class_url}/?model=upload:ckpt-01.keras")  # someone opens the shared URL
    expect(page.get_by_text("uploads cannot be shared by link").first).to_be_visible(
        timeout=120_000
    )
    idle(page)
    no_exception(page)
    page.screenshot(path=str(screenshots / "class-11-upload-link.png"))
