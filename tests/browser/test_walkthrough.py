"""A new user's walk in headless Chromium: demo filters, dense heatmap, bias histogram, links."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import idle
from playwright.sync_api import Page, expect

CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'


def pick(page: Page, label: str, option: str) -> None:
    """Choose ``option`` in the selectbox labelled ``label``."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label)
    box.locator("input").click()
    page.get_by_role("option", name=option).first.click()


def no_exception(page: Page) -> None:
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def test_new_user_walks_demo_conv_dense_bias(page: Page, app_url: str, screenshots: Path) -> None:
    page.goto(app_url)
    page.wait_for_selector(CHART, timeout=180_000)
    idle(page)
    no_exception(page)
    expect(page.locator(".heatmaplayer").first).to_be_visible()
    expect(page.get_by_text("filters 1-16 of 16").first).to_be_visible()
    assert "model=digits_cnn" in page.url and "layer=conv1" in page.url
    page.screenshot(path=str(screenshots / "01-demo-conv-filters.png"))

    pick(page, "Layer", "dense · Dense")
    page.wait_for_function("location.search.includes('layer=dense')")
    expect(page.get_by_text("input unit").first).to_be_visible()
    idle(page)
    no_exception(page)
    page.screenshot(path=str(screenshots / "02-dense-heatmap.png"))

    page.get_by_role("radio", name=re.compile(r"^bias \(")).click()
    page.wait_for_selector('[data-testid="stPlotlyChart"] .barlayer')
    idle(page)
    no_exception(page)
    page.screenshot(path=str(screenshots / "03-bias-histogram.png"))

    page.get_by_role("tab", name="All layers").click()
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
    idle(page)
    page.get_by_role("tab", name="Model overview").click()
    page.wait_for_selector('[data-testid="stPlotlyChart"] .boxlayer')
    idle(page)
    no_exception(page)
    page.screenshot(path=str(screenshots / "04-overview.png"))


def test_deep_links_in_the_browser(page: Page, app_url: str, screenshots: Path) -> None:
    page.goto(f"{app_url}/?model=folder_mlp.keras&layer=bn")
    expect(page.get_by_text("bn · BatchNormalization").first).to_be_visible(timeout=180_000)
    idle(page)
    no_exception(page)
    # An untrained BatchNorm's gamma is all ones: a sentence, not an empty plot.
    expect(page.get_by_text("All 8 values equal 1").first).to_be_visible()
    expect(
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first
    ).to_be_visible()
    idle(page)
    page.screenshot(path=str(screenshots / "05-deep-link-folder.png"))

    page.goto(f"{app_url}/?model=../../etc/passwd")
    page.wait_for_selector('[data-testid="stAlert"]', timeout=60_000)
    idle(page)
    expect(page.get_by_text("would leave the model folder").first).to_be_visible()
    no_exception(page)
    page.wait_for_selector(CHART)  # the demo still opens underneath
