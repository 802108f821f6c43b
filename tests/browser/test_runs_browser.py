"""Runs in headless Chromium: scrub a run with the epoch slider (the view and the URL follow),
follow a run that a second process is still writing, without reloading the page, and open a run
of hundreds of snapshots at once: its layer view first, the timelines after a progress line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import idle, serving
from playwright.sync_api import Page, expect

CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'
APPEND = """
import os, shutil, sys
src, folder = sys.argv[1], sys.argv[2]
tmp = os.path.join(folder, ".incoming.keras")
shutil.copyfile(src, tmp)
os.replace(tmp, os.path.join(folder, "model-03.keras"))
"""


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``scrub``: four checkpoints; ``live``: two, and a third kept aside for a writer process."""
    import keras
    import numpy as np
    from keras import layers

    folder = tmp_path_factory.mktemp("runs_models")
    aside = tmp_path_factory.mktemp("aside")
    keras.utils.set_random_seed(4)
    inputs = keras.Input((6,))
    model = keras.Model(inputs, layers.Dense(5, name="dense")(layers.Dense(8, name="h")(inputs)))
    for name, count in (("scrub", 4), ("live", 3)):
        (folder / name).mkdir()
        for epoch in range(1, count + 1):
            for w in model.weights:
                w.assign(w.numpy() * 1.3 + np.float32(0.01))
            target = aside if (name == "live" and epoch == 3) else folder / name
            model.save(target / f"model-{epoch:02d}.keras")
    return folder


@pytest.fixture(scope="module")
def runs_url(runs_dir: Path) -> Iterator[str]:
    with serving({"KERASCOPE_MODEL_DIR": str(runs_dir)}) as url:
        yield url


def _slider_text(page: Page) -> str:
    return str(page.locator('[data-testid="stSliderThumbValue"]').first.inner_text()).strip()


LONG_STEPS = 400
SEEN = """
window.__seen = {};
new MutationObserver(() => {
  const now = performance.now();
  const titles = [...document.querySelectorAll('.gtitle')].map(t => t.textContent);
  const mark = (name, hit) => { if (hit && !(name in window.__seen)) window.__seen[name] = now; };
  const heads = [...document.querySelectorAll('h3')].map(h => h.textContent);
  mark('view', heads.some(h => h.includes('conv_b · Conv2D')));  // charts load lazily
  mark('drawn', titles.some(t => t.includes('conv_b/kernel at')));
  const bar = document.querySelector('[data-testid="stProgress"]');
  mark('progress', bar !== null);
  if (bar && !window.__bar) window.__bar = bar.parentElement.parentElement.textContent;
  mark('timelines', titles.some(t => t.includes('histograms over time')));
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@pytest.fixture(scope="module")
def long_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server (with an empty statistics cache) on a run of 400 snapshots that a per-batch
    Keras callback saved, NaN from step 350."""
    from benchmarks.step_run import Plant, write_keras_steps

    folder = tmp_path_factory.mktemp("long_runs")
    write_keras_steps(folder / "steps", LONG_STEPS, Plant(blowup_step=300, nan_step=350))
    cache = tmp_path_factory.mktemp("long_cache")
    with serving({"KERASCOPE_MODEL_DIR": str(folder), "KERASCOPE_CACHE_DIR": str(cache)}) as url:
        yield url


@pytest.mark.slow
def test_a_long_run_shows_its_layer_first_then_fills_its_timelines(
    page: Page, long_url: str, screenshots: Path
) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    page.add_init_script(SEEN)
    page.goto(f"{long_url}/?model=steps&layer=conv_b")
    page.wait_for_function("() => 'drawn' in window.__seen", timeout=120_000)
    expect(page.locator('[data-testid="stSidebar"] [data-testid="stSlider"]')).to_be_visible()
    page.screenshot(path=str(screenshots / "runs-long-first-view.png"))
    page.wait_for_function("() => 'timelines' in window.__seen", timeout=600_000)
    idle(page)
    seen = page.evaluate("window.__seen")
    bar = page.evaluate("window.__bar")
    # The layer's view came first (its charts drawn before the timelines), the progress after it.
    assert seen["view"] <= seen["progress"] < seen["timelines"], (seen, bar)
    assert seen["drawn"] < seen["timelines"], seen
    expect(page.locator('[data-testid="stProgress"]')).to_have_count(0)  # the progress ended
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    assert page.locator(CHART).count() >= 4  # now, change, histograms over time, timelines
    page.screenshot(path=str(screenshots / "runs-long-filled.png"), full_page=True)


@pytest.mark.slow
def test_scrubbing_a_run_moves_the_view_and_the_url(
    page: Page, runs_url: str, screenshots: Path
) -> None:
    page.goto(f"{runs_url}/?model=scrub&layer=h&epoch=3")
    page.wait_for_selector(CHART, timeout=180_000)
    idle(page)
    expect(page.get_by_text("h/kernel at epoch 3").first).to_be_visible()
    assert _slider_text(page) == "epoch 3"
    page.locator('[data-testid="stSlider"] input[type="range"]').first.focus()
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("location.search.includes('epoch=2')", timeout=60_000)
    expect(page.get_by_text("h/kernel at epoch 2").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("change since epoch 1").first).to_be_visible()
    idle(page)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    page.screenshot(path=str(screenshots / "runs-scrub.png"))
    # Play walks on through the epochs by itself and stops at the newest.
    page.get_by_role("button", name="Play").click()
    page.wait_for_function("location.search.includes('epoch=4')", timeout=60_000)
    expect(page.get_by_text("h/kernel at epoch 4").first).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Play")).to_be_visible(timeout=30_000)


@pytest.mark.slow
def test_a_run_being_written_shows_its_new_epoch_without_reload(
    page: Page, runs_url: str, runs_dir: Path
) -> None:
    page.goto(f"{runs_url}/?model=live&layer=dense")
    page.wait_for_selector(CHART, timeout=180_000)
    idle(page)
    assert _slider_text(page) == "epoch 2"
    page.evaluate("window.__same_page = true")  # gone if the page reloads
    aside = next(p for p in runs_dir.parent.glob("aside*/model-03.keras"))
    subprocess.run([sys.executable, "-c", APPEND, str(aside), str(runs_dir / "live")], check=True)
    page.wait_for_function("location.search.includes('epoch=3')", timeout=60_000)
    expect(page.get_by_text("dense/kernel at epoch 3").first).to_be_visible(timeout=60_000)
    assert page.evaluate("window.__same_page === true")
    assert _slider_text(page) == "epoch 3"
