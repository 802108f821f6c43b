"""The chunk-bomb file in Chromium: error boxes, never an exception, on every tab.

A Keras model saved as ``.h5`` whose 1000 x 3000 kernel is stored as 3 million one-value gzip
chunks: the file opens, but reading that kernel makes HDF5 allocate bookkeeping for every
chunk beyond the worker's memory. Every view that reads it says so in an error box (and the
table, overview and graph show the rest of the model); the spinner of the read is gone once the
error shows; the kernel's failure is kept, so the other tabs do not read it again. Screenshots:
``artifacts/screenshots/chunk-bomb-*.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ROOT, idle, serving
from playwright.sync_api import Browser, Page, expect

sys.path.append(str(ROOT / "tests" / "security"))
from _unreadable import damaged_copy  # noqa: E402

ERROR = '[data-testid="stAlertContentError"]'
EXCEPTION = '[data-testid="stException"]'
SPINNER = '[data-testid="stSpinner"]'
CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'
TEACH = "Explain, diagnose, compare, train"


@pytest.fixture(scope="module")
def bomb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import keras

    folder = tmp_path_factory.mktemp("bomb")
    x = keras.Input((1000,), name="x")
    h = keras.layers.Dense(3000, name="big")(x)
    keras.Model(x, keras.layers.Dense(4, name="out")(h), name="bomb").save(folder / "src.h5")
    kernel = "model_weights/big/big/kernel"
    damaged_copy(folder / "src.h5", folder / "chunkbomb.h5", kernel, "chunks")
    (folder / "src.h5").rename(folder / "intact.h5")  # to compare with
    return folder


def _tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    idle(page, 300_000)


def _check(page: Page, shots: Path, name: str, *, error: str | None, chart: bool = False) -> None:
    """No exception; an error box holding ``error`` when given; no spinner left; with
    ``chart``, the rest of the view drawn beside it."""
    expect(page.locator(EXCEPTION)).to_have_count(0)
    if error is not None:
        expect(page.locator(ERROR).filter(has_text=error).first).to_be_visible(timeout=120_000)
    idle(page, 300_000)
    expect(page.locator(SPINNER)).to_have_count(0)
    expect(page.locator(EXCEPTION)).to_have_count(0)
    if chart:
        expect(page.locator(f"{CHART} .main-svg").first).to_be_visible()
    page.screenshot(path=str(shots / f"chunk-bomb-{name}.png"), full_page=True)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_every_tab_shows_error_boxes(browser: Browser, bomb_dir: Path, screenshots: Path) -> None:
    with serving({"KERASCOPE_MODEL_DIR": str(bomb_dir)}) as url:
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.goto(f"{url}/?model=chunkbomb.h5&layer=big")
        _check(page, screenshots, "layer", error="Could not show kernel")
        expect(page.locator(ERROR).first).to_contain_text("kernel")

        _tab(page, "All layers")
        _check(page, screenshots, "table", error="show as unreadable (big/kernel)")
        expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()

        _tab(page, "Model overview")
        _check(page, screenshots, "overview", error="show as unreadable (big/kernel)", chart=True)

        _tab(page, "Graph")
        for colour in ("std of w", "health"):
            page.get_by_text(colour, exact=True).click()
            idle(page, 300_000)
            _check(page, screenshots, f"graph-{colour[:3]}", error="show as unreadable", chart=True)

        _tab(page, TEACH)
        _tab(page, "Health")
        _check(page, screenshots, "health", error="Not checked: could not read weight 'kernel'")
        _tab(page, "Compare")
        _check(page, screenshots, "compare", error="cannot be read on one side or both")
        _tab(page, "Activations")  # Keras is not asked to load what the worker could not read
        _check(page, screenshots, "activations", error=None)
        expect(page.get_by_text("as a weight failed").first).to_be_visible()
        _tab(page, "Explain")
        _check(page, screenshots, "explain", error=None)
