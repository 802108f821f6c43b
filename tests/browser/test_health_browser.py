"""Health in headless Chromium: a model with planted faults from the model folder, the Health view
lists them for the whole model, a click opens the faulty layer (and the URL follows); a row of
the All-layers table opens its layer too."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import idle, serving
from playwright.sync_api import Locator, Page, expect


def layer_picker(page: Page) -> Locator:
    """The sidebar's layer picker: its value names the open layer."""
    return page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Layer")


TEACH = "Explain, diagnose, compare, train"


@pytest.fixture(scope="module")
def health_url(realworld: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("health-browser")
    path = folder / "planted.h5"
    shutil.copyfile(realworld / "mnist_mlp.h5", path)
    with h5py.File(path, "r+") as f:
        scaled = f["model_weights/dense_1/sequential/dense_1/kernel"]
        scaled[...] = scaled[...] * 500.0
        kernel = f["model_weights/dense/sequential/dense/kernel"]
        values = kernel[...]
        values[:, :20] = 0.0
        values[3, 30] = np.nan
        kernel[...] = values
    with serving({"KERASCOPE_MODEL_DIR": str(folder)}) as url:
        yield url


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    idle(page)


def test_a_finding_opens_its_layer(page: Page, health_url: str, screenshots: Path) -> None:
    page.goto(f"{health_url}/?model=planted.h5&layer=dense_2")
    page.wait_for_selector('[data-testid="stPlotlyChart"] .js-plotly-plot', timeout=180_000)
    idle(page)
    open_tab(page, TEACH)
    open_tab(page, "Health")
    finding = page.get_by_role("button", name="dense_1 / kernel")
    expect(finding).to_be_visible(timeout=60_000)
    expect(page.get_by_text("694x larger than glorot_uniform", exact=False)).to_be_visible()
    expect(page.get_by_text("20 of 64 units are dead", exact=False)).to_be_visible()
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    page.screenshot(path=str(screenshots / "health.png"), full_page=True)

    finding.click()
    expect(layer_picker(page)).to_have_value(re.compile(r"^dense_1 · Dense"), timeout=60_000)
    idle(page)
    expect(page.get_by_role("tab", name="Layer", exact=True)).to_have_attribute(
        "aria-selected", "true"
    )
    assert "layer=dense_1" in page.url

    # The All-layers table: status column, and selecting a row opens that layer.
    open_tab(page, "All layers")
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect(grid).to_be_visible()
    box = grid.bounding_box()
    assert box is not None
    row_height = 35  # Streamlit's data grid: a 35 px header, then 35 px rows
    page.mouse.click(box["x"] + 16, box["y"] + row_height + 2 * row_height + row_height / 2)
    expect(layer_picker(page)).to_have_value(re.compile(r"^dense_2 · Dense"), timeout=60_000)
    idle(page)
    assert "layer=dense_2" in page.url
