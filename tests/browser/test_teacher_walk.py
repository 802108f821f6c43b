"""A teacher's path at 1280x800 in Chromium (issue 23): the demo, the layers, Explain, Graph,
Compare, Train and Activations, checked for what a class would trip over: labels written over
each other, a red box for something expected (no network), filter tiles too small to read, the
input picture below the fold. Screenshots in artifacts/screenshots/walk-*.png.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CHART, CLASSROOM, idle, open_drawn, serving
from playwright.sync_api import Page, expect

from kerascope.extraction.models.demos import ensure_demo

TEACH = "Explain, diagnose, compare, train"
WIDTH, HEIGHT = CLASSROOM
RED = '[data-testid="stAlertContentError"]'
MIN_TILE = 80


@pytest.fixture(scope="module")
def walk_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with a cache folder of its own (the demos copied in, no runs kept yet) and a
    Keras home without weights, so a download must fail as it does offline."""
    cache = tmp_path_factory.mktemp("walk_cache")
    for name in ("digits_cnn", "photo_patches"):
        trained = ensure_demo(name)
        for suffix in (".keras", ".json"):
            shutil.copy(trained.with_suffix(suffix), cache)
    home = tmp_path_factory.mktemp("walk_keras_home")
    with serving({"KERASCOPE_CACHE_DIR": str(cache), "KERAS_HOME": str(home)}) as url:
        yield url


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    idle(page, 240_000)


def calm(page: Page) -> None:
    """No exception, and no red box: nothing on this path is an error."""
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    expect(page.locator(RED)).to_have_count(0)


def overlaps(boxes: list[dict[str, float]]) -> list[tuple[int, int]]:
    """Pairs of boxes that overlap by more than a pixel each way."""
    found = []
    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            dx = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
            if dx > 1 and dy > 1:
                found.append((i, j))
    return found


def tick_boxes(page: Page, chart: int, axis: str) -> list[dict[str, float]]:
    """Bounding boxes of the drawn tick labels of one axis (``x`` or ``y``) of a chart."""
    return (
        page.locator(CHART)
        .nth(chart)
        .evaluate(
            """(gd, axis) => Array.from(gd.querySelectorAll(`g.${axis}tick text`))
            .map(t => t.getBoundingClientRect())
            .filter(r => r.width > 0)
            .map(r => ({x: r.x, y: r.y, width: r.width, height: r.height}))""",
            axis,
        )
    )


def assert_ticks_apart(page: Page, chart: int, least: int = 2) -> None:
    for axis in ("x", "y"):
        boxes = tick_boxes(page, chart, axis)
        assert len(boxes) >= least, (axis, boxes)
        assert not overlaps(boxes), (axis, boxes)


def heatmap_charts(page: Page) -> list[int]:
    return [
        i
        for i in range(page.locator(CHART).count())
        if page.locator(CHART).nth(i).locator(".heatmaplayer").count()
    ]


def test_the_teachers_path(page: Page, walk_url: str, screenshots: Path) -> None:
    # The demo: its filter grid on the first screen, nothing red.
    open_drawn(page, f"{walk_url}/?model=digits_cnn&layer=conv1", 240_000)
    calm(page)
    page.screenshot(path=str(screenshots / "walk-01-demo.png"))

    # The layers: a dense kernel's heatmap, labels apart; the All-layers table.
    open_drawn(page, f"{walk_url}/?model=digits_cnn&layer=dense", 240_000)
    (chart,) = heatmap_charts(page)
    assert_ticks_apart(page, chart)
    open_tab(page, "All layers")
    calm(page)
    open_tab(page, "Layer")

    # Explain.
    open_tab(page, TEACH)
    open_tab(page, "Explain")
    expect(page.get_by_text("512*64 + 64 = 32,832").first).to_be_visible(timeout=60_000)
    calm(page)
    page.screenshot(path=str(screenshots / "walk-02-explain.png"))

    # Graph: shapes on the arrows, attributes beside, no text over text.
    open_tab(page, "Graph")
    expect(page.get_by_text("(None, 8, 8, 16)").first).to_be_visible(timeout=60_000)
    idle(page)
    texts = page.locator(f"{CHART} g.textpoint text").evaluate_all(
        """els => els.map(t => t.getBoundingClientRect())
            .filter(r => r.width > 0)
            .map(r => ({x: r.x, y: r.y, width: r.width, height: r.height}))"""
    )
    assert len(texts) >= 7 + 4 and not overlaps(texts), texts  # 7 names, shapes between
    expect(page.get_by_text("from flatten: (None, 512)").first).to_be_visible()
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
    expect(page.locator("td", has_text="kernel_initializer")).to_have_count(1)
    calm(page)
    page.screenshot(path=str(screenshots / "walk-03-graph.png"))

    # Compare: the demo against its own random start; three heatmaps side by side, labels apart.
    open_tab(page, TEACH)
    open_tab(page, "Compare")
    page.wait_for_selector(f"{CHART} .heatmaplayer", timeout=120_000)
    idle(page)
    charts = heatmap_charts(page)
    assert len(charts) == 3
    for chart in charts:
        assert_ticks_apart(page, chart, least=1)
    calm(page)
    page.screenshot(path=str(screenshots / "walk-04-compare.png"))

    # Train: the digits task; big tiles, chance and gap in words; kept after a reload.
    open_tab(page, "Train")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_text("conv1 kernel after epoch 10").first).to_be_visible(timeout=300_000)
    idle(page)
    chance = page.get_by_text(re.compile(r"Chance level: guessing among the 10 labels")).first
    expect(chance).to_be_visible()
    expect(page.get_by_text(re.compile(r"At epoch 10: .* on held-out ones")).first).to_be_visible()
    grid = next(
        i
        for i in range(page.locator(CHART).count())
        if "conv1 kernel after epoch 10" in page.locator(CHART).nth(i).inner_text()
    )
    tile = page.locator(CHART).nth(grid).evaluate("gd => gd._fullLayout.xaxis._m * 3")
    assert tile >= MIN_TILE, tile  # a 3x3 filter's width on screen, pixels
    calm(page)
    page.screenshot(path=str(screenshots / "walk-05-train.png"), full_page=True)
    page.reload()
    page.wait_for_selector(CHART, timeout=240_000)
    idle(page, 240_000)
    open_tab(page, TEACH)
    open_tab(page, "Train")
    expect(page.get_by_text("conv1 kernel after epoch 10").first).to_be_visible(timeout=120_000)
    kept = page.get_by_role("combobox", name=re.compile(r"^Runs kept on this server"))
    expect(kept).to_have_value(re.compile(r"^digits · 8 filters 3x3 · 10 epochs · held-out"))
    calm(page)

    # Activations: the photo demo on a sample photo; the input as the model sees it, on the
    # first screen, with the line on why; a confident answer.
    open_drawn(page, f"{walk_url}/?model=photo_patches&layer=conv1", 240_000)
    open_tab(page, TEACH)
    open_tab(page, "Activations")
    page.get_by_text("sample photo", exact=True).click()
    expect(page.get_by_text("not a whole photo shrunk to a 16x16 blur").first).to_be_visible(
        timeout=60_000
    )
    idle(page)
    picture = page.locator(CHART).filter(has_text="what the model sees (16x16)").first
    box = picture.bounding_box()
    assert box is not None and box["y"] + box["height"] <= HEIGHT, box
    said = page.get_by_text(re.compile(r"The model says china\.jpg \((\d+\.\d)%\)")).first
    expect(said).to_be_visible()
    match = re.search(r"\((\d+\.\d)%\)", said.inner_text())
    assert match is not None and float(match.group(1)) > 90
    calm(page)
    page.screenshot(path=str(screenshots / "walk-06-activations.png"))


def test_big_heatmap_and_offline_download(page: Page, walk_url: str, screenshots: Path) -> None:
    # VGG16's 25088 x 4096 fc1: block-reduced ranges as labels, none over another.
    open_drawn(page, f"{walk_url}/?model=app:VGG16&layer=fc1", 240_000)
    (chart,) = heatmap_charts(page)
    assert_ticks_apart(page, chart, least=5)
    labels = (
        page.locator(CHART)
        .nth(chart)
        .evaluate("gd => Array.from(gd.querySelectorAll('g.xtick text')).map(t => t.textContent)")
    )
    assert all(re.fullmatch(r"\d+-\d+", t) for t in labels), labels
    page.locator(CHART).nth(chart).scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "walk-07-vgg16-fc1.png"))
    calm(page)

    # No network: one neutral line, no red box, the untrained model still open.
    page.get_by_role("button", name="Download ImageNet weights").click()
    info = page.locator('[data-testid="stAlertContentInfo"]').filter(
        has_text="ImageNet weights are not available offline"
    )
    expect(info).to_have_count(1, timeout=240_000)
    idle(page)
    expect(info).to_contain_text("VGG16 stays untrained (random initial weights).")
    calm(page)
    assert "layer=fc1" in page.url
    body = page.locator("body").inner_text()
    assert "http" not in body and "Errno" not in body and "Still showing" not in body
    page.screenshot(path=str(screenshots / "walk-08-offline.png"))
