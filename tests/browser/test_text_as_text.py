"""Names from a stranger's file show exactly as written on every tab: no Markdown, HTML or LaTeX
is interpreted (DESIGN.md: text from a file is shown as text)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from conftest import ODD_LAYER, ODD_MODEL, idle
from playwright.sync_api import Page, expect

TABS = ["Layer", "All layers", "Model overview", "Explain, diagnose, compare, train"]


def _nothing_interpreted(page: Page) -> None:
    main = page.locator('[data-testid="stMain"]')
    # What the names would become if interpreted: a link, an image, bold text, a formula.
    assert main.locator('a[href*="evil.example"]').count() == 0
    assert main.locator('img[src="x"]').count() == 0
    assert main.locator(".katex").count() == 0
    assert page.locator('[data-testid="stSidebar"] .katex').count() == 0
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def test_names_show_literally_on_every_tab(page: Page, app_url: str, screenshots: Path) -> None:
    page.goto(f"{app_url}/?model=odd_names.keras&layer={quote(ODD_LAYER)}")
    page.wait_for_selector('[data-testid="stPlotlyChart"] .js-plotly-plot', timeout=180_000)
    idle(page)
    main = page.locator('[data-testid="stMain"]')
    expect(main.get_by_text(ODD_LAYER).first).to_be_visible()  # the subheader, as written
    picker = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Layer")
    assert ODD_LAYER in picker.input_value()
    _nothing_interpreted(page)
    # Plotly draws the title as text too: the chart holds the literal name.
    title = page.locator('[data-testid="stPlotlyChart"] .gtitle').first.text_content() or ""
    assert ODD_LAYER in title
    page.screenshot(path=str(screenshots / "text-as-text-layer.png"))
    for tab in TABS[1:]:
        page.get_by_role("tab", name=tab).click()
        idle(page)
        _nothing_interpreted(page)
    page.get_by_role("tab", name="Model overview").click()
    idle(page)
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    expect(chart).to_be_visible()
    assert ODD_LAYER in (chart.text_content() or "")
    assert ODD_MODEL in (page.locator('[data-testid="stMain"]').text_content() or "")
