"""How fast a run of 520 snapshots opens in the app, fills its timelines, and scrubs.

    python -m benchmarks.bench_run_page [--load N]

The run is what a plain Keras callback leaves when it saves after every batch (``step_run``:
``step-00001.weights.h5`` ... ``step-00520.weights.h5``, a 37 k-weight CNN, 88 MB, conv_b's
kernel 1000x from step 400, NaN in its bias from step 500), written once under
``benchmarks/.cache/run_page/steps``. Each measurement:
(a) a fresh server with an empty statistics cache; headless Chromium opens the deep link
    ``?model=steps&layer=conv_b``: seconds until the first layer view is drawn (the weight's
    chart, sidebar and slider), until the timelines are filled (histograms over time drawn);
    whether a progress line showed in between. Target: first view within 15 s.
(b) the same link in a new browser session on that server (cached): first view, and everything
    drawn. Target: within 3 s.
(c) slider steps, in server time: the page script run that a step causes, timed with
    Streamlit's AppTest in a process of its own on the warm cache (wall and CPU of that
    process; 30 steps in order, 20 random jumps). Target: under 0.5 s. And the same step
    end to end in Chromium (key press to the new view drawn), for scale.
The floor: one h5py pass reading every array of every snapshot (what the timelines need).
``--load N`` runs N busy processes meanwhile (the loaded figures); the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.step_run import Plant

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from conftest import CHROMIUM, QUIET_CHROMIUM, start_server, stop_server  # noqa: E402

MODELS = ROOT / "benchmarks" / ".cache" / "run_page"
RUN = MODELS / "steps"
STEPS = 520
PLANT = Plant(blowup_step=400, nan_step=500)
LINK = "?model=steps&layer=conv_b"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
TITLE_JS = (
    "text => [...document.querySelectorAll('.gtitle')].some(t => t.textContent.includes(text))"
)

_SCRUB = """
import json, os, random, statistics, sys, time
sys.path.insert(0, {root!r})
from streamlit.testing.v1 import AppTest
from kerascope.components.page.scope import SCOPE, scoped
at = AppTest.from_file({app!r}, default_timeout=600)
at.query_params["model"] = "steps"
at.query_params["layer"] = "conv_b"
at.run()
while at.get("progress"):
    time.sleep(0.5)
    at.run()
key = scoped("run_index", str(at.session_state[SCOPE]))  # the slider's key is the run's
n = len(at.select_slider(key=key).options)

def step(i):
    t0, c0 = time.perf_counter(), time.process_time()
    at.select_slider(key=key).set_value(i).run()
    assert not at.exception, [e.value for e in at.exception]
    return time.perf_counter() - t0, time.process_time() - c0

at.select_slider(key=key).set_value(n - 41).run()
play = [step(i) for i in range(n - 40, n - 10)]
random.seed(0)
jumps = [step(random.randrange(n)) for _ in range(20)]
print(json.dumps({{"play": play, "jumps": jumps, "load": os.getloadavg()[0]}}))
"""


def build() -> Path:
    """The cached run, written by Keras in a child process the first time."""
    if len(list(RUN.glob("step-*.weights.h5"))) == STEPS:
        return RUN
    code = (
        "import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from pathlib import Path\n"
        "from benchmarks.step_run import Plant, write_keras_steps\n"
        f"write_keras_steps(Path({str(RUN)!r}), {STEPS}, Plant({PLANT.blowup_step}, "
        f"{PLANT.nan_step}))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return RUN


def floor() -> float:
    """Seconds for one h5py pass reading every array of every snapshot."""
    import h5py
    import numpy as np

    files = sorted(RUN.glob("step-*.weights.h5"))
    keys: list[str] = []
    with h5py.File(files[0], "r") as f:
        f.visititems(lambda k, v: keys.append(k) if isinstance(v, h5py.Dataset) else None)
    started = time.perf_counter()
    for path in files:
        with h5py.File(path, "r") as f:
            for key in keys:
                np.asarray(f[key])
    return time.perf_counter() - started


def visit(browser: object, url: str) -> dict[str, float | bool]:
    """Open the deep link in a new session: seconds to the first view and to the timelines."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    started = time.perf_counter()
    page.goto(url + LINK)
    page.wait_for_function(
        "() => [...document.querySelectorAll('h3')].some(h => h.textContent.includes('conv_b'))",
        timeout=600_000,
    )
    text = time.perf_counter() - started  # the server's answer is on the page (charts load)
    page.wait_for_function(TITLE_JS, arg="conv_b/kernel at", timeout=600_000)
    page.wait_for_selector('[data-testid="stSidebar"] [data-testid="stSlider"]')
    first = time.perf_counter() - started
    progress = page.locator('[data-testid="stProgress"]').count() > 0
    page.wait_for_function(TITLE_JS, arg="histograms over time", timeout=1_200_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    filled = time.perf_counter() - started
    # One slider step end to end: key press to the new snapshot's view drawn and idle.
    before = page.evaluate("location.search")
    page.locator('[data-testid="stSlider"] input[type="range"]').first.focus()
    t0 = time.perf_counter()
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("s => location.search !== s", arg=before, timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    page.wait_for_function(TITLE_JS, arg="histograms over time", timeout=60_000)
    browser_step = time.perf_counter() - t0
    page.close()
    return {
        "text": text,
        "first": first,
        "filled": filled,
        "progress": progress,
        "step": browser_step,
    }


def scrub(env: dict[str, str]) -> dict[str, object]:
    code = _SCRUB.format(root=str(ROOT), app=str(ROOT / "app.py"))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def burners(n: int) -> list[subprocess.Popen[bytes]]:
    """``n`` busy processes (the loaded case), each ending by itself after 30 minutes."""
    code = "import time\nend = time.monotonic() + 1800\nwhile time.monotonic() < end: pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser()
    parser.add_argument("--load", type=int, default=0, help="busy processes meanwhile")
    args = parser.parse_args()
    t0 = time.perf_counter()
    build()
    size = sum(p.stat().st_size for p in RUN.glob("*.weights.h5"))
    print(f"run: {STEPS} snapshots, {size / 1e6:.0f} MB ({time.perf_counter() - t0:.0f} s)")
    h5_floor = floor()
    load = burners(args.load)
    try:
        with tempfile.TemporaryDirectory(prefix="kerascope-bench-") as cache:
            env = {"KERASCOPE_MODEL_DIR": str(MODELS), "KERASCOPE_CACHE_DIR": cache}
            proc, url = start_server(env)
            try:
                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=CHROMIUM, args=QUIET_CHROMIUM)
                    fresh = visit(browser, url)
                    load_fresh = os.getloadavg()[0]
                    cached = visit(browser, url)
                    browser.close()
            finally:
                stop_server(proc)
            steps = scrub(env)
    finally:
        for burner in load:
            burner.kill()
            burner.wait()
    play = steps["play"]
    jumps = steps["jumps"]
    assert isinstance(play, list) and isinstance(jumps, list)

    def med(xs: list[list[float]], k: int) -> float:
        return statistics.median(x[k] for x in xs)

    def top(xs: list[list[float]], k: int) -> float:
        return max(x[k] for x in xs)

    print(
        f"busy processes: {args.load}; load average {load_fresh:.1f} (fresh visit), "
        f"{steps['load']:.1f} (scrub) on {os.cpu_count()} cores"
    )
    print(f"{'measure':<58}{'wall s':>9}{'CPU s':>9}")
    rows: list[tuple[str, float, float | None]] = [
        ("(a) fresh server, empty cache: the layer's heading shown", float(fresh["text"]), None),
        ("    first layer view drawn (its charts)", float(fresh["first"]), None),
        ("    timelines filled (histograms over time drawn)", float(fresh["filled"]), None),
        ("(b) cached, new session: the layer's heading shown", float(cached["text"]), None),
        ("    first layer view drawn (its charts)", float(cached["first"]), None),
        ("    everything drawn", float(cached["filled"]), None),
        ("(c) slider step, server (AppTest), in order: median", med(play, 0), med(play, 1)),
        ("    in order, slowest", top(play, 0), top(play, 1)),
        ("    random jumps: median", med(jumps, 0), med(jumps, 1)),
        ("    random jumps, slowest", top(jumps, 0), top(jumps, 1)),
        ("    one step end to end in Chromium (cached run)", float(cached["step"]), None),
        ("floor: h5py reads every array of every snapshot", h5_floor, None),
    ]
    for label, wall, cpu in rows:
        print(f"{label:<58}{wall:>9.2f}" + (f"{cpu:>9.3f}" if cpu is not None else ""))
    print(f"progress line shown before the timelines: {bool(fresh['progress'])}")
    print(f"ratio timelines filled / h5py floor: {float(fresh['filled']) / h5_floor:.1f}x")
    checks = [
        ("first view < 15 s", float(fresh["first"]) < 15),
        ("cached first view < 3 s", float(cached["first"]) < 3),
        ("slider step < 0.5 s server time", max(top(play, 0), med(jumps, 0)) < 0.5),
    ]
    print("targets: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in checks))


if __name__ == "__main__":
    main()
