"""Names from a stranger's file show exactly as written on every tab: no Markdown, HTML or LaTeX
is interpreted (DESIGN.md: text from a file is shown as text)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from conftest import LINKY_LAYER, LINKY_MODEL, ODD_LAYER, ODD_MODEL, idle
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


MAIN_TABS = ["Layer", "All layers", "Model overview", "Graph", "Explain, diagnose, compare, train"]
TEACHING_TABS = ["Explain", "Health", "Compare", "Activations"]
WORD_JOINER = "\u2060"


def _no_link_anywhere(page: Page, where: str) -> None:
    """No <a> in the page's content (main area and sidebar), and no formula or exception."""
    content = page.locator('[data-testid="stMain"], [data-testid="stSidebarUserContent"]')
    links = content.locator("a")
    assert links.count() == 0, (where, [a.get_attribute("href") for a in links.all()])
    assert content.locator(".katex").count() == 0, where
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def _text(page: Page) -> str:
    main = page.locator('[data-testid="stMain"]').inner_text()
    return main.replace(WORD_JOINER, "")


def test_bare_urls_in_names_and_config_are_not_links_on_any_tab(
    page: Page, app_url: str, screenshots: Path
) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{app_url}/?model=linky.keras&layer={quote(LINKY_LAYER)}")
    page.wait_for_selector('[data-testid="stPlotlyChart"] .js-plotly-plot', timeout=180_000)
    idle(page)
    assert LINKY_LAYER in _text(page) and LINKY_MODEL in _text(page)  # as written
    _no_link_anywhere(page, "Layer")
    page.screenshot(path=str(screenshots / "text-as-text-links.png"))
    for tab in MAIN_TABS[1:] + TEACHING_TABS:
        page.get_by_role("tab", name=tab, exact=True).click()
        _settled(page)
        _no_link_anywhere(page, tab)
        if tab == "Health":
            expect(page.locator('[data-testid="stMain"]')).to_contain_text("This layer")
            assert LINKY_LAYER in _text(page)
            page.screenshot(path=str(screenshots / "text-as-text-links-health.png"))


def _settled(page: Page) -> None:
    """Idle, with the model's background check (a progress bar while it runs) done."""
    idle(page)
    progress = page.locator('[data-testid="stMain"] [data-testid="stProgress"]')
    expect(progress).to_have_count(0, timeout=120_000)
    page.wait_for_timeout(300)
    idle(page)
