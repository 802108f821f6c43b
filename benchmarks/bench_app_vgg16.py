"""How fast the page shows VGG16's fc1 heatmap (25088 x 4096), first visit and revisit.

    python -m benchmarks.bench_app_vgg16

Serves ``benchmarks/.cache`` (``vgg16.keras``, built by ``bench_vgg16``) as the model folder,
opens the model on its first conv layer in headless Chromium, then times picking ``fc1`` in the
layer list until its heatmap is drawn and the script is idle; then another layer; then ``fc1``
again. Targets: first visit within 3 s, revisit within 1 s. The plain Keras path for the same
view (load_model, then the weight) is timed in a fresh process for the ratio.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from benchmarks.bench_vgg16 import CACHE, build

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from conftest import CHROMIUM, QUIET_CHROMIUM, start_server  # noqa: E402

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
KERAS_PATH = """
import time; t = time.perf_counter()
import keras
m = keras.models.load_model({path!r}, compile=False)
w = [v for v in m.get_layer("fc1").weights if v.name == "kernel"][0].numpy()
print(time.perf_counter() - t)
"""


def pick_layer(page: object, label: str) -> float:
    """Choose a layer in the sidebar; seconds until its chart is drawn and the page is idle."""
    started = time.perf_counter()
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(  # type: ignore[attr-defined]
        has_text="Layer"
    )
    box.locator("input").click()
    page.get_by_role("option", name=label).first.click()  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "name => [...document.querySelectorAll('.gtitle')].some(t => t.textContent.includes(name))",
        arg=label.split(" ")[0] + " /",
        timeout=60_000,
    )
    page.wait_for_selector(IDLE, timeout=60_000)  # type: ignore[attr-defined]
    return time.perf_counter() - started


def main() -> None:
    from playwright.sync_api import sync_playwright

    build()
    proc, url = start_server({"KERASCOPE_MODEL_DIR": str(CACHE)})
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=QUIET_CHROMIUM)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            started = time.perf_counter()
            page.goto(f"{url}/?model=vgg16.keras&layer=block1_conv1")
            page.wait_for_selector('[data-testid="stPlotlyChart"] .js-plotly-plot', timeout=120_000)
            page.wait_for_selector(IDLE)
            opened = time.perf_counter() - started
            first = pick_layer(page, "fc1 · Dense")
            other = pick_layer(page, "fc2 · Dense")
            again = pick_layer(page, "fc1 · Dense")
            browser.close()
    finally:
        proc.terminate()
    done = subprocess.run(
        [sys.executable, "-c", KERAS_PATH.format(path=str(CACHE / "vgg16.keras"))],
        capture_output=True,
        text=True,
        check=True,
    )
    keras_seconds = float(done.stdout.strip().splitlines()[-1])
    print(f"open VGG16 page (first conv filters): {opened:6.2f} s")
    print(f"fc1 heatmap, first visit:             {first:6.2f} s   (target < 3 s)")
    print(f"fc2 heatmap, first visit:             {other:6.2f} s")
    print(f"fc1 heatmap, revisit:                 {again:6.2f} s   (target < 1 s)")
    print(f"keras load_model + fc1 kernel (fresh process, no drawing): {keras_seconds:.2f} s")
    print(f"ratio keras path / first fc1 visit: {keras_seconds / first:.1f}x")


if __name__ == "__main__":
    main()
