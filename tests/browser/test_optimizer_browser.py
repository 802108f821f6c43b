"""The Optimizer view in Chromium: a conv layer of a file fitted with Adam shows its gradient RMS
and next step side by side as filter grids, drawn as the weight is; its choices belong to the
open model, so a file without optimizer state chosen next in the sidebar starts on the weight's
own view, and says why it has no Optimizer panels when asked.
Screenshots: artifacts/screenshots/optimizer-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import idle, serving
from playwright.sync_api import Page, expect

CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'
SIDEBAR = '[data-testid="stSidebar"]'
MAIN = '[data-testid="stMain"]'
WIDTH, HEIGHT = 1280, 800


@pytest.fixture(scope="module")
def optimizer_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A model folder: a small CNN fitted with Adam (its optimizer state saved with it) and the
    same architecture saved uncompiled (no optimizer state)."""
    import keras
    import numpy as np
    from keras import layers

    def cnn() -> keras.Model:
        return keras.Sequential(
            [
                keras.Input((8, 8, 3)),
                layers.Conv2D(6, 3, name="conv"),
                layers.Flatten(name="flat"),
                layers.Dense(4, name="dense"),
            ]
        )

    folder = tmp_path_factory.mktemp("optimizer_models")
    keras.utils.set_random_seed(5)
    fitted = cnn()
    fitted.compile(keras.optimizers.Adam(0.01), "mse")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(64, 8, 8, 3)).astype("float32")
    fitted.fit(x, rng.normal(size=(64, 4)).astype("float32"), epochs=2, verbose=0)
    fitted.save(folder / "fitted.keras")
    cnn().save(folder / "plain.keras")
    with serving({"KERASCOPE_MODEL_DIR": str(folder)}) as url:
        yield url


def settle(page: Page, timeout: float = 180_000) -> None:
    """Wait for an idle script twice (a choice reruns the page), with no exception shown."""
    for _ in range(2):
        idle(page, timeout)
        page.wait_for_timeout(400)
    idle(page, timeout)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def view_choice(page: Page, label: str) -> None:
    """Click ``label`` in the layer toolbar's View control."""
    group = page.locator(MAIN).locator('[data-testid="stButtonGroup"]').filter(has_text=label)
    group.locator("button").filter(has_text=label).first.click()
    settle(page)


def titles(page: Page) -> list[str]:
    return page.locator(MAIN).locator(".gtitle").all_text_contents()


@pytest.mark.slow
def test_the_optimizer_view_draws_gradient_rms_and_next_step_and_follows_the_model(
    page: Page, optimizer_url: str, screenshots: Path
) -> None:
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.goto(f"{optimizer_url}/?model=fitted.keras&layer=conv")
    page.wait_for_selector(CHART, timeout=180_000)
    settle(page)
    view_choice(page, "Optimizer")
    expect(page.locator(MAIN).locator(CHART)).to_have_count(2, timeout=60_000)
    shown = titles(page)
    assert [t for t in shown if "gradient RMS" in t] and [t for t in shown if "next step" in t]
    main = page.locator(MAIN).inner_text()
    assert "Draw as" in main and "Adam" in main
    page.screenshot(path=str(screenshots / "optimizer-fitted.png"))
    # The two grids sit side by side in the first screen, not one below the other.
    boxes = [c.bounding_box() for c in page.locator(MAIN).locator(CHART).all()]
    assert all(b is not None for b in boxes)
    left, right = boxes  # (checked not None above)
    assert left is not None and right is not None
    assert right["x"] >= left["x"] + left["width"] - 1 and abs(right["y"] - left["y"]) < 5

    # Another file, chosen in the sidebar: the Optimizer choice stayed with the fitted model.
    box = page.locator(SIDEBAR).locator('[data-testid="stSelectbox"]').filter(has_text="File")
    box.locator("input").click()
    page.get_by_role("option", name="plain.keras").first.click()
    page.wait_for_selector(CHART, timeout=180_000)
    settle(page)
    assert not [t for t in titles(page) if "gradient RMS" in t or "next step" in t]
    view_choice(page, "Optimizer")
    expect(page.locator(MAIN).get_by_text("keeps no optimizer state")).to_have_count(1)
    expect(page.locator(MAIN).locator(CHART)).to_have_count(0)
    page.screenshot(path=str(screenshots / "optimizer-plain.png"))
