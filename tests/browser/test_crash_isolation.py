"""A file that crashes its parser, uploaded in one browser session: that session gets one error
box and keeps its model; the server lives on and a second session keeps rendering."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, idle, start_server
from playwright.sync_api import Browser, expect

sys.path.insert(0, str(ROOT / "tests" / "security"))
from _crash_readers import MODULE, crasher  # noqa: E402

from kerascope.extraction.settings import PLUGIN_ENV, WORKER_WALL_ENV  # noqa: E402

CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'
ERROR = '[data-testid="stAlertContentError"]'


@pytest.mark.slow
def test_a_crashing_upload_ends_in_one_box_and_harms_no_one_else(
    browser: Browser, model_dir: Path, screenshots: Path
) -> None:
    server, url = start_server(
        {PLUGIN_ENV: MODULE, WORKER_WALL_ENV: "5", "KERASCOPE_MODEL_DIR": str(model_dir)}
    )
    try:
        other = browser.new_context().new_page()
        other.goto(f"{url}/?model=folder_mlp.keras&layer=hidden")
        other.wait_for_selector(CHART, timeout=180_000)
        idle(other)
        page = browser.new_context().new_page()
        page.goto(f"{url}/?model=digits_cnn&layer=conv1")
        page.wait_for_selector(CHART, timeout=180_000)
        idle(page)

        page.get_by_text("Upload a file").click()
        idle(page)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            files=[{"name": "segv.h5", "mimeType": "application/x-hdf5", "buffer": crasher("segv")}]
        )
        expect(page.locator(ERROR)).to_have_count(1, timeout=60_000)
        expect(page.locator(ERROR)).to_contain_text("segv.h5")
        expect(page.locator(ERROR)).to_contain_text("crashed while reading it")
        idle(page)
        expect(page.locator(CHART).first).to_be_visible()
        assert "model=digits_cnn" in page.url
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        page.screenshot(path=str(screenshots / "crash-upload-error-box.png"))

        # A real file that crashes libhdf5 (tests/security/data/README.md): the same one box.
        real = ROOT / "tests" / "security" / "data" / "hdf5_btree_cycle_crash.h5"
        upload = {"name": real.name, "mimeType": "application/x-hdf5", "buffer": real.read_bytes()}
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(files=[upload])
        box = page.locator(ERROR).filter(has_text=real.name)
        expect(box).to_have_count(1, timeout=60_000)
        expect(box).to_contain_text("SIGSEGV")
        idle(page)
        expect(page.locator(CHART).first).to_be_visible()
        assert "model=digits_cnn" in page.url
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)

        assert server.poll() is None, "the server died"
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as reply:
            assert reply.read() == b"ok"
        # The other session still works: it picks another layer and gets its chart drawn.
        box = other.locator('[data-testid="stSelectbox"]').filter(has_text="Layer")
        box.locator("input").click()
        other.get_by_role("option", name="out · Dense").first.click()
        other.wait_for_function("location.search.includes('layer=out')", timeout=60_000)
        idle(other)
        expect(other.locator(CHART).first).to_be_visible()
        expect(other.locator(ERROR)).to_have_count(0)
        expect(other.locator('[data-testid="stException"]')).to_have_count(0)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
