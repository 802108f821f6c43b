"""Uploads do not grow the server: 20 refused 40 MB uploads in Chromium, then two 40 MB models
opened one after the other, leave its resident memory within 100 MB of where it started, and so
does closing the tab.

Streamlit keeps every file a session's uploaders received until the session is shut down, and a
session whose tab closed is never shut down (only dropped from its storage), so before the
page released them 20 refused uploads took a server from 337 MB to 1,082 MB for good.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from conftest import idle, start_server, stop_server
from playwright.sync_api import Browser, expect

sys.path.append(str(Path(__file__).resolve().parents[1] / "security"))
from _security import rss_kb  # noqa: E402

MB = 1024**2
UPLOADS = 20
GROWTH_MB = 100
CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'
ERROR = '[data-testid="stAlertContentError"]'
DROP = '[data-testid="stFileUploaderDropzoneInput"]'


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """40 MB of random bytes under 20 names, and two 40 MB models that open on a small layer."""
    import keras

    folder = tmp_path_factory.mktemp("uploads")
    junk = os.urandom(40 * MB)
    out = {}
    for i in range(UPLOADS):
        out[f"junk{i}.h5"] = folder / f"junk{i}.h5"
        out[f"junk{i}.h5"].write_bytes(junk)
    for i in range(2):
        x = keras.Input((8,))
        h = keras.layers.Dense(3200, name="small")(x)
        model = keras.Model(x, keras.layers.Dense(3200, name="big")(h), name=f"wide{i}")
        out[f"wide{i}.keras"] = folder / f"wide{i}.keras"
        model.save(out[f"wide{i}.keras"])  # 41 MB: big's kernel
    return out


def _settled_rss(pid: int) -> float:
    """The server's resident memory in MB once it has stopped moving (two equal readings)."""
    last = -1.0
    for _ in range(20):
        time.sleep(0.5)
        now = rss_kb({pid}) / 1024
        if abs(now - last) < 1:
            return now
        last = now
    return last


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_refused_and_replaced_uploads_do_not_grow_the_server(
    browser: Browser, files: dict[str, Path]
) -> None:
    server, url = start_server()
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(f"{url}/?model=digits_cnn&layer=conv1")
        page.wait_for_selector(CHART, timeout=180_000)
        idle(page)
        page.get_by_text("Upload a file").click()
        idle(page)
        before = _settled_rss(server.pid)

        for i in range(UPLOADS):
            name = f"junk{i}.h5"
            page.locator(DROP).set_input_files(files[name])
            expect(page.locator(ERROR).filter(has_text=name)).to_have_count(1, timeout=120_000)
            idle(page)
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        refused = _settled_rss(server.pid)
        assert refused - before < GROWTH_MB, (before, refused)

        for i in range(2):  # each one opens, the second replacing the first
            page.locator(DROP).set_input_files(files[f"wide{i}.keras"])
            page.wait_for_function(
                f"decodeURIComponent(location.search).includes('upload:wide{i}.keras')",
                timeout=120_000,
            )
            idle(page)
            expect(page.locator(CHART).first).to_be_visible()
        replaced = _settled_rss(server.pid)
        assert replaced - before < GROWTH_MB, (before, refused, replaced)

        context.close()
        closed = _settled_rss(server.pid)
        print(  # noqa: T201 - docs/safety.md gives these numbers
            f"server RSS: {before:.0f} MB before, {refused:.0f} MB after {UPLOADS} refused "
            f"uploads, {replaced:.0f} MB after two opened, {closed:.0f} MB after the tab closed; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        assert closed - before < GROWTH_MB, (before, refused, replaced, closed)
        assert server.poll() is None
    finally:
        stop_server(server)
