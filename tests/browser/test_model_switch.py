"""A model chosen in the sidebar looks exactly as the same model opened by its deep link, for
every source: demos, a keras.applications architecture (offline: untrained, no download),
model-folder files and a run. One session walks from model to model, leaving state behind on
each (another layer, another display mode, a channel); for each model a fresh page opens its
link; the two pages' sidebars, captions, chart titles and display mode must be the same.
Screenshots: artifacts/screenshots/switch-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

import pytest
from conftest import idle, serving
from playwright.sync_api import Browser, Page, expect

CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'
SIDEBAR = '[data-testid="stSidebar"]'
MAIN = '[data-testid="stMain"]'
DISPLAY = '[data-testid="stPopoverButton"]:visible:has-text("Display")'
WIDTH, HEIGHT = 1280, 800


@pytest.fixture(scope="module")
def switch_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A model folder (an RGB CNN sharing layer names with the demos, an MLP, a run of three
    checkpoints) and an empty Keras home (no ImageNet weights: applications are untrained)."""
    import keras
    from keras import layers

    folder = tmp_path_factory.mktemp("switch_models")
    keras.utils.set_random_seed(3)
    keras.Sequential(
        [
            keras.Input((10, 10, 3), name="image"),
            layers.Conv2D(8, 3, name="conv1"),
            layers.Conv2D(12, 3, name="conv2"),
            layers.Flatten(name="flat"),
            layers.Dense(4, name="dense"),
        ],
        name="rgb_cnn",
    ).save(folder / "rgb.keras")
    inputs = keras.Input((6,), name="x")
    keras.Model(inputs, layers.Dense(3, name="dense")(inputs), name="mlp").save(
        folder / "mlp.keras"
    )
    run = folder / "run"
    run.mkdir()
    model = keras.Sequential(
        [keras.Input((6, 6, 3)), layers.Conv2D(4, 3, name="conv1"), layers.Flatten()]
    )
    for epoch in (1, 2, 3):
        for w in model.weights:
            w.assign(w.numpy() * 1.2 + 0.01)
        model.save(run / f"model-{epoch:02d}.keras")
    return folder, tmp_path_factory.mktemp("keras_home")


@pytest.fixture(scope="module")
def switch_url(switch_dirs: tuple[Path, Path]) -> Iterator[str]:
    folder, home = switch_dirs
    with serving({"KERASCOPE_MODEL_DIR": str(folder), "KERAS_HOME": str(home)}) as url:
        yield url


def settle(page: Page, timeout: float = 240_000) -> None:
    """Wait for a drawn chart, no progress bar (a run fills its timelines in the background)
    and an idle script, twice (a switch reruns the page)."""
    page.wait_for_selector(CHART, timeout=timeout)
    for _ in range(2):
        expect(page.locator(MAIN).locator('[data-testid="stProgress"]')).to_have_count(
            0, timeout=timeout
        )
        idle(page, timeout)
        page.wait_for_timeout(500)
    idle(page, timeout)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def pick(page: Page, label: str, option: str) -> None:
    """Choose ``option`` in the sidebar's selectbox labelled ``label``."""
    box = page.locator(SIDEBAR).locator('[data-testid="stSelectbox"]').filter(has_text=label)
    box.locator("input").click()
    page.get_by_role("option", name=option).first.click()


def display_mode(page: Page) -> str | None:
    """The 'Input channels' choice the Display popover shows (None without a filter grid)."""
    button = page.locator(MAIN).locator(DISPLAY)
    if not button.count():
        return None
    button.first.click()
    box = page.locator('[data-testid="stPopoverBody"] [data-testid="stSelectbox"]').filter(
        has_text="Input channels"
    )
    value = box.locator("input").first.input_value(timeout=10_000)
    page.keyboard.press("Escape")
    return value


def set_display(page: Page, mode: str, channel: int) -> None:
    """Leave state behind: another display mode and channel in the Display popover."""
    page.locator(MAIN).locator(DISPLAY).first.click()
    box = page.locator('[data-testid="stPopoverBody"] [data-testid="stSelectbox"]').filter(
        has_text="Input channels"
    )
    box.locator("input").click()
    page.get_by_role("option", name=mode).first.click()
    idle(page)
    number = page.locator('[data-testid="stPopoverBody"] [data-testid="stNumberInput"] input')
    number.fill(str(channel))
    number.press("Enter")
    idle(page)
    page.keyboard.press("Escape")
    settle(page)


def what_shows(page: Page) -> dict[str, Any]:
    """Everything that tells one model's page from another's."""
    sidebar = page.locator('[data-testid="stSidebarUserContent"]')  # not the hover buttons
    main = page.locator(MAIN)
    return {
        "sidebar": sidebar.inner_text(),
        "sidebar inputs": [i.input_value() for i in sidebar.locator("input[role=combobox]").all()],
        "checked": [
            c.is_checked() for c in sidebar.locator("input[type=checkbox], input[type=radio]").all()
        ],
        "slider": sidebar.locator('[data-testid="stSliderThumbValue"]').all_inner_texts(),
        "captions": main.locator('[data-testid="stCaptionContainer"]').all_inner_texts(),
        "titles": main.locator(".gtitle").all_text_contents(),
        "weight": main.locator('[data-testid="stButtonGroup"] [aria-checked="true"]')
        .first.inner_text()
        .strip(),
        "display": display_mode(page),
        "url": dict(parse_qsl(urlparse(page.url).query)),
    }


def linked(browser: Browser, url: str, query: str) -> dict[str, Any]:
    page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
    try:
        page.goto(f"{url}/?{query}")
        settle(page)
        return what_shows(page)
    finally:
        page.close()


def same(
    page: Page, browser: Browser, url: str, query: str, shots: Path, name: str
) -> dict[str, Any]:
    """What ``page`` shows now, checked equal to what a fresh page opened on ``query`` shows."""
    settle(page)
    page.screenshot(path=str(shots / f"switch-{name}.png"))
    chosen = what_shows(page)
    assert chosen == linked(browser, url, query), name
    return chosen


@pytest.mark.slow
def test_every_source_chosen_in_the_sidebar_looks_as_its_link(
    page: Page, browser: Browser, switch_url: str, screenshots: Path
) -> None:
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.goto(switch_url)
    settle(page)
    page.get_by_role("button", name="Next").click()  # the default demo's conv2
    settle(page)
    assert "layer=conv2" in page.url

    # A demo after a demo: its own first layer, drawn in colour as its link draws it.
    pick(page, "Demo", "photo_patches")
    shown = same(page, browser, switch_url, "model=photo_patches&layer=conv1", screenshots, "demo")
    assert shown["display"] == "RGB composite" and "RGB" in shown["titles"][0]
    assert "conv1 · Conv2D · 1,216 params" in shown["sidebar inputs"]

    # Model-folder files, after a demo left another display mode and channel behind.
    set_display(page, "one channel", 2)
    assert "channel 2" in " ".join(page.locator(MAIN).locator(".gtitle").all_text_contents())
    page.locator(SIDEBAR).get_by_text("Model folder", exact=True).click()
    idle(page)
    expect(page.locator(SIDEBAR).get_by_text("Open now: demo photo\\_patches")).to_have_count(0)
    pick(page, "File", "rgb.keras")
    same(page, browser, switch_url, "model=rgb.keras&layer=conv1", screenshots, "folder")
    pick(page, "File", "mlp.keras")
    same(page, browser, switch_url, "model=mlp.keras&layer=dense", screenshots, "folder-mlp")

    # A run: its latest snapshot, as its link opens it.
    pick(page, "File", "run")
    same(page, browser, switch_url, "model=run&layer=conv1&epoch=3", screenshots, "run")

    # An application: offline, VGG16 untrained, through the radio as through app:VGG16.
    page.locator(SIDEBAR).get_by_text("Keras application", exact=True).click()
    link = "model=app:VGG16&layer=block1_conv1"
    assert same(page, browser, switch_url, link, screenshots, "app")["display"] == "RGB composite"
