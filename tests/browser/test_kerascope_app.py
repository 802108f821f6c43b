"""``kerascope app FILE --layer L``: the address it prints opens the dashboard on that file and
layer, from any working directory; stopping the command stops the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, _free_port, idle
from playwright.sync_api import Page, expect


@pytest.mark.slow
def test_app_command_opens_the_file_and_layer(
    page: Page, tmp_path: Path, screenshots: Path
) -> None:
    import keras
    from keras import layers

    models = tmp_path / "my models"
    models.mkdir()
    inputs = keras.Input((6, 6, 2))
    x = layers.Conv2D(5, 3, name="edges")(inputs)
    out = layers.Dense(3, name="scores")(layers.Flatten(name="flat")(x))
    keras.Model(inputs, out, name="cmd_net").save(models / "cmd net.keras")

    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("KERASCOPE_MODEL_DIR", None)
    command = [sys.executable, "-m", "kerascope", "app", "my models/cmd net.keras"]
    options = ["--port", str(port), "--host", "127.0.0.1", "--layer", "scores", "--no-browser"]
    proc = subprocess.Popen(
        command + options, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Kerascope is running at "), line
        url = line.split()[-1]
        assert url == f"http://127.0.0.1:{port}/?model=cmd+net.keras&layer=scores"

        page.goto(url)
        expect(page.get_by_text("scores · Dense").first).to_be_visible(timeout=180_000)
        idle(page)
        expect(page.get_by_role("heading", name="cmd net.keras")).to_be_visible()
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        expect(page.locator('[data-testid="stAlert"]')).to_have_count(0)
        page.wait_for_selector('[data-testid="stPlotlyChart"] .heatmaplayer')
        page.screenshot(path=str(screenshots / "kerascope-app-command.png"))
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    # The server went with the command.
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
        raise AssertionError("the Streamlit server outlived the kerascope command")
    except OSError:
        pass
