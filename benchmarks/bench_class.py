"""A class at once: many browser sessions on one server for minutes; errors, speed, memory.

    python -m benchmarks.bench_class [--sessions 30] [--seconds 180] [--cache-mb 2048]

One Streamlit server (model folder: a small Keras model and VGG16, ``weights=None``, built by
``bench_vgg16``), one headless Chromium with one context per session, sessions arriving one
every two seconds. Each session is a student on one of five walks: it opens the page once (timed as
``<walk> (open)``), then clicks inside it until time is up:

- ``demo``: ``?model=digits_cnn&layer=conv1`` (filter grid), then Next / Previous in turn;
- ``folder``: ``?model=folder_mlp.keras&layer=hidden`` (a model-folder file, read by the
  worker), then Next / Previous;
- ``vgg16_fc1``: ``?model=vgg16.keras&layer=fc1`` (a 392 MB kernel's heatmap), then Next /
  Previous (fc2, fc1);
- ``upload``: a new small ``.keras`` file in the sidebar's uploader each time (a worker each);
- ``teaching``: the demo, then the "Explain, diagnose, compare, train" tab's Health and back
  to the Layer tab, in turn.

An action that fails (an error box, an exception, a timeout) counts as an error, and that
session reloads the page. Chromium runs at ``nice`` 10 (``--browser-nice``): the 30 renderers
stand for the students' own machines, and on this one they would otherwise take the server's
two cores; time to a drawn view still includes drawing in that starved browser.

Reported: errors (target 0), p50/p95 seconds from the action to its chart drawn with the page
idle, and the server's peak resident memory (VmHWM of the server process) beside the cache
ceiling (``KERASCOPE_CACHE_MB``); the workers' peak sum is shown apart (each is capped by its
own RLIMIT_AS). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.bench_vgg16 import build

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from conftest import CHROMIUM, QUIET_CHROMIUM, start_server  # noqa: E402

CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot, [data-testid="stImage"] img'
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
WALKS = ("demo", "folder", "vgg16_fc1", "upload", "teaching")
TIMEOUT_MS = 240_000
"""Per wait; 30 renderers on the server's own two cores take minutes to open a page."""
RAMP_SECONDS = 2.0
"""Session ``i`` starts ``2 i`` seconds after the first: 30 students arrive over a minute."""


def _folder() -> tuple[Path, bytes]:
    """A model folder (small model + VGG16 hard-linked) and a small model's bytes to upload."""
    import keras
    from keras import layers

    folder = Path(tempfile.mkdtemp(prefix="kerascope-class-"))
    inputs = keras.Input((12,))
    x = layers.Dense(8, name="hidden")(inputs)
    keras.Model(inputs, layers.Dense(3, name="out")(x), name="folder_mlp").save(
        folder / "folder_mlp.keras"
    )
    vgg = build()["keras"]
    try:
        os.link(vgg, folder / "vgg16.keras")
    except OSError:
        import shutil

        shutil.copy(vgg, folder / "vgg16.keras")
    return folder, (folder / "folder_mlp.keras").read_bytes()


class Peak(threading.Thread):
    """Samples the server's VmHWM and its workers' summed RSS every 0.5 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.server_hwm_kb = 0
        self.workers_kb = 0
        self.workers_max = 0
        self.stop = threading.Event()
        self.cpu = (0.0, 0.0)
        """The server's CPU seconds (user + system) when the clock started and last seen."""

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start_clock(self) -> None:
        self.cpu = (self.cpu_seconds(), self.cpu_seconds())

    def run(self) -> None:
        while not self.stop.wait(0.5):
            if self.cpu[0]:
                with contextlib.suppress(OSError):
                    self.cpu = (self.cpu[0], self.cpu_seconds())
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
                hwm = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM"))
                self.server_hwm_kb = max(self.server_hwm_kb, hwm)
                kids = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
                total = 0
                for kid in kids:
                    for line in Path(f"/proc/{kid}/status").read_text().splitlines():
                        if line.startswith("VmRSS"):
                            total += int(line.split()[1])
                self.workers_kb = max(self.workers_kb, total)
                self.workers_max = max(self.workers_max, len(kids))
            except (OSError, StopIteration):
                continue


async def _drawn(page: object, started: float) -> float:
    await page.wait_for_selector(CHART, timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
    await page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
    return time.perf_counter() - started


LINKS = {
    "demo": "?model=digits_cnn&layer=conv1",
    "folder": "?model=folder_mlp.keras&layer=hidden",
    "vgg16_fc1": "?model=vgg16.keras&layer=fc1",
    "upload": "",
    "teaching": "?model=digits_cnn&layer=conv2",
}
"""Where each walk's session opens the page (its first view, timed like the others)."""


async def arrive(page: object, base: str, kind: str) -> float:
    """A student opens the page: seconds from ``goto`` to its first view drawn."""
    started = time.perf_counter()
    await page.goto(f"{base}/{LINKS[kind]}", timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
    seconds = await _drawn(page, started)
    if kind == "upload":
        await page.get_by_text("Upload a file").click()  # type: ignore[attr-defined]
        await page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
    return seconds


async def _step_layer(page: object, n: int) -> float:
    """Next, then Previous, in turn (from the first view on): the layer changes (the URL says
    so) and is drawn."""
    before = await page.evaluate("location.search")  # type: ignore[attr-defined]
    name = "Next" if n % 2 == 0 else "Previous"
    if await page.get_by_role("button", name=name).is_disabled():  # type: ignore[attr-defined]
        name = "Previous" if name == "Next" else "Next"  # at the first or the last layer
    started = time.perf_counter()
    await page.get_by_role("button", name=name).click()  # type: ignore[attr-defined]
    await page.wait_for_function("s => location.search !== s", arg=before, timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
    return await _drawn(page, started)


async def step(page: object, kind: str, upload: bytes, n: int) -> float:
    """One action inside the open page, as a student clicks; seconds to the view drawn.

    - ``demo``, ``folder``, ``vgg16_fc1``: the sidebar's Next / Previous in turn (conv1 and
      conv2; hidden and out; fc1 and fc2, a 392 MB and a 64 MB kernel);
    - ``upload``: a new ``.keras`` file in the sidebar's uploader (a worker reads each);
    - ``teaching``: the "Explain, diagnose, compare, train" tab's Health, then back to Layer.
    """
    if kind == "upload":
        started = time.perf_counter()
        await page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(  # type: ignore[attr-defined]
            files=[{"name": f"mine_{n}.keras", "mimeType": "application/zip", "buffer": upload}]
        )
        await page.get_by_role("heading", name=f"mine_{n}.keras").wait_for(timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
        return await _drawn(page, started)
    if kind == "teaching":
        started = time.perf_counter()
        if n % 2:
            await page.get_by_role("tab", name="Explain, diagnose, compare, train").click()  # type: ignore[attr-defined]
            await page.get_by_role("tab", name="Health", exact=True).click()  # type: ignore[attr-defined]
            await page.get_by_text("Compute the spectrum").first.wait_for(timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
            await page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
            return time.perf_counter() - started
        await page.get_by_role("tab", name="Layer", exact=True).click()  # type: ignore[attr-defined]
        return await _drawn(page, started)
    return await _step_layer(page, n)


async def session(
    browser: object, base: str, i: int, until: float, upload: bytes, out: dict[str, list[float]],
    errors: list[str], ramp: float = RAMP_SECONDS,
) -> None:  # fmt: skip
    """One student: opens the page once, then clicks through it until time is up (an action
    that fails reloads the page, as a student would)."""
    kind = WALKS[i % len(WALKS)]
    await asyncio.sleep(ramp * i)  # a class of 30 arrives over a minute, not in one instant
    context = await browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    n, fresh = 0, True
    while time.monotonic() < until:
        n += 1
        try:
            if fresh:
                out[f"{kind} (open)"].append(await arrive(page, base, kind))
                fresh = False
            else:
                out[kind].append(await step(page, kind, upload, i * 1000 + n))
            shown = await page.locator(ERRORS).all_inner_texts()
            errors.extend(f"{kind}: {text[:200]}" for text in shown)
        except Exception as exc:  # a timeout is an error of the run, not of the benchmark  # noqa: BLE001
            errors.append(f"{kind}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            fresh = True
    await context.close()


def _timings() -> dict[str, list[float]]:
    return {k: [] for w in WALKS for k in (f"{w} (open)", w)}


async def run(
    base: str, sessions: int, seconds: float, upload: bytes, chromium: str,
    on_start: Callable[[], None] | None = None,
) -> tuple[dict[str, list[float]], list[str]]:  # fmt: skip
    from playwright.async_api import async_playwright

    out = _timings()
    errors: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=QUIET_CHROMIUM)
        # Warm, one walk of each kind: the server has imported TensorFlow, the demos are
        # trained and VGG16's file is in the page cache before the clock starts.
        warm: list[str] = []
        for i in range(len(WALKS)):
            await session(browser, base, i, time.monotonic() + 1, upload, _timings(), warm, 0)
        print(f"warm-up done ({len(warm)} errors: {warm[:3]})", flush=True)
        if on_start is not None:
            on_start()
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(session(browser, base, i, until, upload, out, errors) for i in range(sessions))
        )
        await browser.close()
    return out, errors


def _niced(level: int) -> str:
    """Chromium's path, behind a wrapper that starts it at ``nice`` ``level`` (0: as is)."""
    if level == 0:
        return str(CHROMIUM)
    wrapper = Path(tempfile.mkdtemp(prefix="kerascope-class-")) / "chromium"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n {level} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--cache-mb", type=int, default=2048)
    parser.add_argument("--browser-nice", type=int, default=10)
    args = parser.parse_args()
    chromium = _niced(args.browser_nice)
    folder, upload = _folder()
    server, base = start_server(
        {"KERASCOPE_MODEL_DIR": str(folder), "KERASCOPE_CACHE_MB": str(args.cache_mb)}
    )
    peak = Peak(server.pid)
    peak.start()
    try:
        out, errors = asyncio.run(
            run(base, args.sessions, args.seconds, upload, chromium, peak.start_clock)
        )
    finally:
        peak.stop.set()
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    times = sorted(t for ts in out.values() for t in ts)
    print(
        f"{args.sessions} Chromium sessions for {args.seconds:.0f} s (browser at nice "
        f"{args.browser_nice}), walks {', '.join(WALKS)}"
    )
    print(f"errors: {len(errors)}")
    for line in errors[:10]:
        print(f"  {line}")
    print(f"{'walk':<18}{'views':>7}{'p50 s':>8}{'p95 s':>8}")
    for kind, ts in [*out.items(), ("all", times)]:
        if ts:
            ts = sorted(ts)
            p95 = ts[min(len(ts) - 1, int(0.95 * len(ts)))]
            print(f"{kind:<18}{len(ts):>7}{statistics.median(ts):8.2f}{p95:8.2f}")
    used = peak.cpu[1] - peak.cpu[0]
    print(
        f"server CPU {used:.0f} s over the {args.seconds:.0f} s run and its wind-down "
        f"({used / args.seconds:.0%} of one core; scripts share one core under Python's GIL)"
    )
    mb = 1024
    print(
        f"server peak RSS {peak.server_hwm_kb / mb:.0f} MB (cache ceiling {args.cache_mb} MB); "
        f"workers: at most {peak.workers_max} at once, {peak.workers_kb / mb:.0f} MB together"
    )


if __name__ == "__main__":
    main()
