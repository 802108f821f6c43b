"""How fast the page answers on VGG16 (138 M weights), in headless Chromium and on the server.

    python -m benchmarks.bench_app_vgg16 [--busy N]

Serves ``benchmarks/.cache`` (``vgg16.keras`` and ``vgg16.h5``, built by ``bench_vgg16``) as the
model folder, with an empty statistics cache and an empty Keras home (``app:VGG16`` is then the
untrained architecture, no download), and measures what a user waits for:

- the page opened on VGG16's first conv layer; ``fc1``'s heatmap (25088 x 4096) on a first
  visit and a revisit (targets: 3 s and 1 s);
- Previous / Next in the browser, click to idle page;
- the first visit of All layers (``app:VGG16``, opened just before) and of Health
  (``vgg16.h5``, opened just before), which starts the model's check: until the page is usable
  (the table, or Health's layer section, drawn and the script idle; target: 3 s), until the
  verdicts (or the findings) are in, and until complete (the check done: statistics, health
  scan, the spectra of weights up to 1 M values; bigger spectra take minutes more);
- choosing "Model folder" in the sidebar, until the page is idle (it lists, opens nothing);
- All layers again after a server restart, from the statistics kept in the cache folder;
- the server's time for Next and Previous through every weighted layer (AppTest runs the
  page's script in process: no browser, no websocket; target: 1 s).

``--busy N`` runs N processes spinning on one core each during the measurements, to see the
page on a loaded machine; the load average is printed with the results. The plain Keras path
for the fc1 view (load_model, then the weight), timed in a fresh process, gives the ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.bench_vgg16 import CACHE, build

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from conftest import CHROMIUM, QUIET_CHROMIUM, start_server, stop_server  # noqa: E402

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
MAIN = '[data-testid="stMain"]'
KERAS_PATH = """
import time; t = time.perf_counter()
import keras
m = keras.models.load_model({path!r}, compile=False)
w = [v for v in m.get_layer("fc1").weights if v.name == "kernel"][0].numpy()
print(time.perf_counter() - t)
"""
SPIN = "import numpy as np\na = np.random.rand(200, 200)\nwhile True:\n    a @ a"
TEACH = "Explain, diagnose, compare, train"


@contextlib.contextmanager
def busy(n: int) -> Iterator[None]:
    """``n`` processes spinning on one core each while the block runs."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", SPIN], env=env) for _ in range(n)]
    try:
        if n:
            time.sleep(20)  # let the load average climb
        yield
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()


def load() -> float:
    return os.getloadavg()[0]


def idle(page: Any, timeout: float = 300_000) -> None:
    page.wait_for_selector(IDLE, timeout=timeout)


def until(page: Any, done: Callable[[], bool], since: float, timeout: float = 300.0) -> float:
    """Seconds from ``since`` until ``done()`` holds with the script idle (polled every 50 ms)."""
    while time.perf_counter() - since < timeout:
        if page.locator(IDLE).count() and done():
            seen = time.perf_counter()
            page.wait_for_timeout(150)  # a rerun that was about to start
            if page.locator(IDLE).count() and done():
                return seen - since
        page.wait_for_timeout(50)
    raise TimeoutError("the page did not get there")


def open_page(browser: Any, url: str) -> tuple[Any, float]:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector('[data-testid="stPlotlyChart"] .js-plotly-plot', timeout=300_000)
    idle(page)
    return page, time.perf_counter() - started


def pick_layer(page: Any, label: str) -> float:
    """Choose a layer in the sidebar; seconds until its chart is drawn and the page is idle."""
    started = time.perf_counter()
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
        has_text="Layer"
    )
    box.locator("input").click()
    page.get_by_role("option", name=label).first.click()
    page.wait_for_function(
        "name => [...document.querySelectorAll('.gtitle')].some(t => t.textContent.includes(name))",
        arg=label.split(" ")[0] + " /",
        timeout=120_000,
    )
    idle(page)
    return time.perf_counter() - started


def step(page: Any, button: str) -> float:
    """Click Previous or Next; seconds until the URL names the new layer and the page is idle."""
    before = page.url
    started = time.perf_counter()
    page.get_by_role("button", name=button).click()
    page.wait_for_function("url => location.href !== url", arg=before, timeout=120_000)
    page.wait_for_timeout(100)
    idle(page)
    return time.perf_counter() - started


def _three_times(page: Any, started: float, usable: str, done: str) -> tuple[float, float, float]:
    """Seconds from ``started`` until the main area shows ``usable``, until it shows ``done``,
    and until it shows ``done`` with no progress bar left (the model's check finished)."""
    main = page.locator(MAIN)

    def shows(text: str) -> bool:
        return bool(main.get_by_text(text).count() > 0)

    return (
        until(page, lambda: shows(usable), started),
        until(page, lambda: shows(done), started),
        until(
            page,
            lambda: main.locator('[data-testid="stProgress"]').count() == 0 and shows(done),
            started,
        ),
    )


def table_visit(page: Any) -> tuple[float, float, float]:
    """Open All layers: seconds until usable (the table drawn), until every verdict is in (the
    status column), until complete (the check done: statistics, health scan, small spectra)."""
    started = time.perf_counter()
    page.get_by_role("tab", name="All layers", exact=True).click()
    return _three_times(
        page, started, "Select a row to open its layer", "status: the layer's verdict"
    )


def health_visit(page: Any) -> tuple[float, float, float]:
    """Open Health: seconds until usable (the layer's section drawn), until the model's findings
    are listed, until complete (the check done)."""
    page.get_by_role("tab", name=TEACH, exact=True).click()
    idle(page)
    started = time.perf_counter()
    page.get_by_role("tab", name="Health", exact=True).click()
    return _three_times(page, started, "This layer", "layers with weights checked")


def folder_choice(page: Any) -> float:
    """Choose "Model folder" in the sidebar; seconds until the page is idle."""
    started = time.perf_counter()
    page.locator('[data-testid="stSidebar"]').get_by_text("Model folder", exact=True).click()
    page.wait_for_selector(
        '[data-testid="stSidebar"] [data-testid="stSelectbox"]:has-text("File")', timeout=60_000
    )
    page.wait_for_timeout(100)
    idle(page)
    return time.perf_counter() - started


def server_steps() -> tuple[dict[str, float], dict[str, float]]:
    """Server seconds of Next through every weighted layer of vgg16.keras, then Previous back
    (AppTest: the page's script in process, no browser), by the layer each step lands on."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params["model"] = "vgg16.keras"
    at.query_params["layer"] = "block1_conv1"
    at.run()
    forward: dict[str, float] = {}
    back: dict[str, float] = {}
    for times, key in ((forward, "layer_next"), (back, "layer_prev")):
        while not at.button(key=key).disabled:
            started = time.perf_counter()
            at.button(key=key).click().run()
            times[str(at.query_params["layer"])] = time.perf_counter() - started
            assert not at.exception, [e.value for e in at.exception]
    return forward, back


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--busy", type=int, default=0, help="spinning processes (load)")
    args = parser.parse_args()
    build()
    stats_cache = Path(tempfile.mkdtemp(prefix="kerascope-bench-"))
    keras_home = Path(tempfile.mkdtemp(prefix="kerascope-bench-keras-"))
    env = {
        "KERASCOPE_MODEL_DIR": str(CACHE),
        "KERASCOPE_CACHE_DIR": str(stats_cache),
        "KERAS_HOME": str(keras_home),
    }
    os.environ.update(env)
    rows: list[tuple[str, float, str]] = []
    loads: list[float] = [load()]
    with busy(args.busy), sync_playwright() as p:
        loads.append(load())
        browser = p.chromium.launch(executable_path=CHROMIUM, args=QUIET_CHROMIUM)
        proc, url = start_server(env)
        try:
            page, opened = open_page(browser, f"{url}/?model=vgg16.keras&layer=block1_conv1")
            rows.append(("open the VGG16 page (first conv filters)", opened, ""))
            rows.append(("fc1 heatmap, first visit", pick_layer(page, "fc1 · Dense"), "< 3 s"))
            rows.append(("fc2 heatmap, first visit", pick_layer(page, "fc2 · Dense"), ""))
            rows.append(("fc1 heatmap, revisit", pick_layer(page, "fc1 · Dense"), "< 1 s"))
            clicks = [step(page, "Previous") for _ in range(4)]
            clicks += [step(page, "Next") for _ in range(4)]
            median = statistics.median(clicks)
            rows.append(("Previous / Next in the browser, median of 8", median, ""))
            rows.append(("Previous / Next in the browser, slowest", max(clicks), ""))
            page.close()
            loads.append(load())

            page, _ = open_page(browser, f"{url}/?model=app:VGG16&layer=block1_conv1")
            usable, verdicts, complete = table_visit(page)
            rows.append(("All layers, first visit (app:VGG16): usable", usable, "< 3 s"))
            rows.append(("All layers, first visit (app:VGG16): verdicts in", verdicts, ""))
            rows.append(("All layers, first visit (app:VGG16): complete", complete, ""))
            page.close()
            page, _ = open_page(browser, f"{url}/?model=vgg16.h5&layer=block1_conv1")
            usable, findings, complete = health_visit(page)
            rows.append(("Health, first visit (vgg16.h5): usable", usable, "< 3 s"))
            rows.append(("Health, first visit (vgg16.h5): findings listed", findings, ""))
            rows.append(("Health, first visit (vgg16.h5): complete", complete, ""))
            page.close()
            page, _ = open_page(browser, url)
            rows.append(('choose "Model folder" (lists, opens nothing)', folder_choice(page), ""))
            page.close()
            loads.append(load())
        finally:
            stop_server(proc)
        proc, url = start_server(env)  # a new process: only the cache folder remembers
        try:
            page, _ = open_page(browser, f"{url}/?model=vgg16.keras&layer=block1_conv1")
            usable, verdicts, complete = table_visit(page)
            rows.append(("All layers after a restart (kept statistics): usable", usable, ""))
            rows.append(("All layers after a restart (kept statistics): verdicts", verdicts, ""))
            rows.append(("All layers after a restart (kept statistics): complete", complete, ""))
            page.close()
        finally:
            stop_server(proc)
        browser.close()
        loads.append(load())
        forward, back = server_steps()
        for name, times in (("Next, first visits", forward), ("Previous, revisits", back)):
            slowest = max(times, key=times.__getitem__)
            median = statistics.median(times.values())
            rows.append((f"server: {name} (median of {len(times)})", median, ""))
            rows.append((f"server: {name}, slowest ({slowest})", times[slowest], "< 1 s"))
        loads.append(load())
    done = subprocess.run(
        [sys.executable, "-c", KERAS_PATH.format(path=str(CACHE / "vgg16.keras"))],
        capture_output=True,
        text=True,
        check=True,
    )
    keras_seconds = float(done.stdout.strip().splitlines()[-1])
    print(
        f"load average (1 min) {min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} cores"
        + (f", {args.busy} spinning processes" if args.busy else "")
    )
    for what, seconds, target in rows:
        print(f"{what:<58} {seconds:6.2f} s   {target}")
    first = rows[1][1]
    print(f"keras load_model + fc1 kernel (fresh process, no drawing): {keras_seconds:.2f} s")
    print(f"ratio keras path / first fc1 visit: {keras_seconds / first:.1f}x")


if __name__ == "__main__":
    main()
