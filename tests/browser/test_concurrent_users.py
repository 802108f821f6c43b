"""Ten people browsing at once: no error, and memory per extra session stays small because
opened models are shared between sessions."""

from __future__ import annotations

import asyncio
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import CHROMIUM, QUIET_CHROMIUM, start_server, stop_server
from playwright.async_api import Page, async_playwright

SESSIONS = 10
SECONDS = float(os.environ.get("KERASCOPE_LOAD_SECONDS", "60"))
MAX_MB_PER_SESSION = 60
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
LINKS = [
    "?model=digits_cnn&layer=conv1",
    "?model=digits_cnn&layer=conv2",
    "?model=digits_cnn&layer=dense",
    "?model=digits_mlp&layer=hidden1",
    "?model=digits_mlp&layer=digit",
    "?model=folder_mlp.keras&layer=hidden",
    "?model=folder_mlp.keras&layer=bn",
]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (from /proc)."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


async def visit(page: Page, url: str, errors: list[str]) -> None:
    await page.goto(url)
    await page.wait_for_selector(
        '[data-testid="stSidebar"] [data-testid="stSelectbox"]', timeout=120_000
    )
    await page.wait_for_selector(IDLE, timeout=120_000)
    for text in await page.locator('[data-testid="stException"]').all_inner_texts():
        errors.append(f"exception at {url}: {text[:500]}")
    alerts = await page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    errors.extend(f"{url}: {a}" for a in alerts)


async def browse(page: Page, base: str, seed: int, until: float, errors: list[str]) -> int:
    rng = random.Random(seed)
    visits = 0
    while time.monotonic() < until:
        await visit(page, base + "/" + rng.choice(LINKS), errors)
        visits += 1
    return visits


async def load(base: str, pid: int) -> dict[str, float]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=QUIET_CHROMIUM)
        contexts = [await browser.new_context() for _ in range(SESSIONS)]
        pages = [await c.new_page() for c in contexts]
        errors: list[str] = []
        await visit(pages[0], base + "/" + LINKS[0], errors)  # warm: models opened once
        for link in LINKS[3:]:
            await visit(pages[0], base + "/" + link, errors)
        one = rss_mb(pid)
        await asyncio.gather(
            *(
                visit(pg, base + "/" + LINKS[i % len(LINKS)], errors)
                for i, pg in enumerate(pages[1:], start=1)
            )
        )
        ten = rss_mb(pid)
        until = time.monotonic() + SECONDS
        visits = await asyncio.gather(
            *(browse(pg, base, i, until, errors) for i, pg in enumerate(pages))
        )
        after = rss_mb(pid)
        await browser.close()
    assert not errors, errors[:5]
    return {
        "one_session_mb": one,
        "ten_sessions_mb": ten,
        "after_load_mb": after,
        "per_extra_session_mb": (ten - one) / (SESSIONS - 1),
        "visits": sum(visits),
    }


def test_ten_sessions_browse_at_once(model_dir: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    proc, url = start_server({"KERASCOPE_MODEL_DIR": str(model_dir)})
    try:
        # pytest-playwright's sync API keeps an event loop running on this thread once any
        # browser test has run in this process, so the async sessions get a thread of their own.
        with ThreadPoolExecutor(1) as pool:
            figures = pool.submit(asyncio.run, load(url, proc.pid)).result()
    finally:
        stop_server(proc)
    print(f"\nconcurrent users: {figures}")  # noqa: T201  (the closing note reports these)
    assert figures["visits"] >= SESSIONS
    assert figures["per_extra_session_mb"] < MAX_MB_PER_SESSION, figures
