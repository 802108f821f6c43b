"""The Graph tab in Chromium: the graph draws, a click on a node selects that layer and shows
its attributes beside the graph; a button opens it in the Layer tab."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import idle
from playwright.sync_api import Page, expect

NODE_TEXT = '[data-testid="stPlotlyChart"] .js-plotly-plot g.textpoint text'


def test_click_a_node_selects_its_layer(page: Page, app_url: str, screenshots: Path) -> None:
    page.goto(f"{app_url}/?model=digits_cnn&layer=conv1")
    idle(page, 180_000)
    page.get_by_role("tab", name="Graph", exact=True).click()
    node = page.locator(NODE_TEXT, has_text="dense").first
    expect(node).to_be_visible(timeout=60_000)
    idle(page)
    names = page.locator(NODE_TEXT).all_text_contents()
    assert {"conv1", "conv2", "pool", "flatten", "dense", "dropout", "digit"} <= set(names)
    page.screenshot(path=str(screenshots / "graph-digits.png"))
    box = node.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page).to_have_url(f"{app_url}/?model=digits_cnn&layer=dense", timeout=30_000)
    idle(page)
    expect(page.get_by_text("from flatten: (None, 512)").first).to_be_visible()
    expect(page.locator("p").filter(has_text=re.compile(r"^dense · Dense$"))).to_have_count(1)
    expect(page.locator("td", has_text="units")).to_have_count(1)  # the attribute table
    expect(page.get_by_role("tab", name="Graph", exact=True)).to_have_attribute(
        "aria-selected", "true"
    )
    page.get_by_role("button", name="Open in the Layer tab").click()
    expect(page.get_by_role("tab", name="Layer", exact=True)).to_have_attribute(
        "aria-selected", "true", timeout=30_000
    )
    idle(page)
    expect(page).to_have_url(f"{app_url}/?model=digits_cnn&layer=dense")
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
