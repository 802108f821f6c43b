"""The teaching tabs in headless Chromium: train 2 epochs, move the epoch slider; one
screenshot of each of Explain, Health, Compare and Activations."""

from __future__ import annotations

from pathlib import Path

from conftest import idle
from playwright.sync_api import Page, expect

CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'
TEACH = "Explain, diagnose, compare, train"


def no_exception(page: Page) -> None:
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    idle(page)


def set_slider(page: Page, label: str, presses: list[str]) -> None:
    """Focus the slider labelled ``label`` and press keys (Home, ArrowRight ...)."""
    label_el = page.get_by_text(label, exact=True)
    box = page.locator('[data-testid="stSlider"]').filter(has=label_el).first
    handle = box.get_by_role("slider")
    handle.focus()
    for key in presses:
        handle.press(key)


def open_teaching(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(CHART, timeout=180_000)
    idle(page)
    open_tab(page, TEACH)


def test_train_two_epochs_then_move_the_epoch_slider(
    page: Page, app_url: str, screenshots: Path
) -> None:
    open_teaching(page, app_url)
    open_tab(page, "Train")
    # A run trained earlier in this test session may reopen here (runs are kept): the knobs
    # are there either way.
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_visible()
    set_slider(page, "Epochs", ["Home", "ArrowRight"])  # 1 -> 2
    expect(
        page.locator('[data-testid="stSlider"]').filter(has_text="Epochs").first
    ).to_contain_text("2")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_text("Kept epochs: 3").first).to_be_visible(timeout=120_000)
    idle(page)
    expect(page.get_by_text("conv1 kernel after epoch 2").first).to_be_visible()
    no_exception(page)
    page.screenshot(path=str(screenshots / "teaching-train-epoch2.png"), full_page=True)

    set_slider(page, "Epoch", ["Home"])  # back to the random start
    expect(page.get_by_text("conv1 kernel before training").first).to_be_visible(timeout=30_000)
    idle(page)
    no_exception(page)
    page.screenshot(path=str(screenshots / "teaching-train-epoch0.png"), full_page=True)


def test_explain_health_compare_screenshots(page: Page, app_url: str, screenshots: Path) -> None:
    open_teaching(page, f"{app_url}/?model=digits_cnn&layer=conv2")
    expect(page.get_by_text("3*3*16*32 + 32 = 4,640").first).to_be_visible(timeout=60_000)
    no_exception(page)
    page.screenshot(path=str(screenshots / "teaching-explain.png"), full_page=True)

    open_tab(page, "Health")
    page.get_by_text("Compute the spectrum").click()
    page.wait_for_selector(CHART, timeout=60_000)
    idle(page)
    no_exception(page)
    page.screenshot(path=str(screenshots / "teaching-health.png"), full_page=True)
    page.get_by_role("button", name="Check for correlation traps").click()
    expect(page.locator(CHART)).to_have_count(2, timeout=60_000)
    idle(page)
    no_exception(page)
    page.screenshot(path=str(screenshots / "teaching-health-traps.png"), full_page=True)

    open_tab(page, "Compare")
    page.wait_for_selector('[data-testid="stPlotlyChart"] .barlayer', timeout=60_000)
    idle(page)
    no_exception(page)
    page.screenshot(path=str(screenshots / "teaching-compare.png"), full_page=True)


def test_activations_of_the_photo_demo(page: Page, app_url: str, screenshots: Path) -> None:
    open_teaching(page, f"{app_url}/?model=photo_patches&layer=conv1")
    open_tab(page, "Activations")
    expect(page.get_by_text("feature maps 1-16 of 16").first).to_be_visible(timeout=120_000)
    expect(page.get_by_text("The model says").first).to_be_visible()
    idle(page)
    no_exception(page)
    assert page.locator(CHART).count() == 3  # input, maps, filters
    set_slider(page, "Sample", ["End"])  # a flower patch: colourful
    page.get_by_text("Scale each map on its own").click()
    expect(page.get_by_text("held-out sample 599").first).to_be_visible(timeout=30_000)
    idle(page)
    page.screenshot(path=str(screenshots / "teaching-activations.png"), full_page=True)

    page.get_by_text("sample photo", exact=True).click()
    expect(page.get_by_text("not a whole photo shrunk to a 16x16 blur").first).to_be_visible(
        timeout=30_000
    )
    idle(page)
    no_exception(page)
