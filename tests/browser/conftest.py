"""A real Streamlit server and Debian's headless Chromium (see ../shared/TESTING.md)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts" / "screenshots"
ODD_LAYER = "**bold** <b>tag <img src=x> $x^2$ [link](http:evil.example)"
ODD_MODEL = "_md_ <i>model"
LINKY_LAYER = "[click me](http://127.0.0.1:9/evil) see www.evil.example or me@evil.example"
"""A layer name holding a Markdown link and bare URLs (Keras itself refuses ``/`` in names, so
the file is written by editing a saved one, as a stranger could)."""
LINKY_MODEL = "model http://127.0.0.1:9/model $x^2$ <b>b</b>"
QUIET_CHROMIUM = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, object]) -> dict[str, object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": QUIET_CHROMIUM}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, object]) -> dict[str, object]:
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``streamlit run app.py`` on a free loopback port; wait until healthy."""
    port = _free_port()
    log_dir = ROOT / "artifacts"
    log_dir.mkdir(exist_ok=True)
    log = (log_dir / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the Streamlit server did not become healthy in 120 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server from ``start_server``; kill it if it does not stop within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextlib.contextmanager
def serving(env: dict[str, str] | None = None) -> Iterator[str]:
    """An app server (``start_server``) for the block; its URL, stopped at the end."""
    proc, url = start_server(env)
    try:
        yield url
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder with one saved model for deep links."""
    import keras
    from keras import layers

    folder = tmp_path_factory.mktemp("model_dir")
    inputs = keras.Input((12,))
    x = layers.Dense(8, name="hidden")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    keras.Model(inputs, layers.Dense(3, name="out")(x), name="folder_mlp").save(
        folder / "folder_mlp.keras"
    )
    # Names a stranger's file may carry: Markdown, HTML and LaTeX that must show as written.
    odd = keras.Input((4,), name="odd_input")
    keras.Model(odd, layers.Dense(2, name=ODD_LAYER)(odd), name=ODD_MODEL).save(
        folder / "odd_names.keras"
    )
    write_linky_model(folder / "linky.keras")
    return folder


def write_linky_model(path: Path) -> None:
    """A small CNN whose conv layer is named ``LINKY_LAYER``, its model ``LINKY_MODEL``, with
    config strings holding Markdown, HTML and a URL: a saved file edited in its zip."""
    import json
    import tempfile
    import zipfile

    import h5py
    import keras
    from keras import layers

    keras.Sequential(
        [
            keras.Input((6, 6, 3)),
            layers.Conv2D(4, 3, name="conv"),
            layers.Flatten(name="flat"),
            layers.Dense(2, name="dense"),
        ],
        name="plain",
    ).save(path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["name"] = LINKY_MODEL
    conv = next(la for la in config["config"]["layers"] if la["config"]["name"] == "conv")
    conv["config"]["name"] = LINKY_LAYER
    conv["config"]["activation"] = "[act](http://127.0.0.1:9/act) **www.evil.example**"
    members["config.json"] = json.dumps(config).encode()
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "model.weights.h5"
        weights.write_bytes(members["model.weights.h5"])
        with h5py.File(weights, "r+") as f:

            def rename(name: str, item: object) -> None:
                if isinstance(item, h5py.Group) and item.attrs.get("name") == "conv":
                    item.attrs["name"] = LINKY_LAYER

            f.visititems(rename)
        members["model.weights.h5"] = weights.read_bytes()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


@pytest.fixture(scope="session")
def app_url(model_dir: Path) -> Iterator[str]:
    with serving({"KERASCOPE_MODEL_DIR": str(model_dir)}) as url:
        yield url


@pytest.fixture(scope="session")
def screenshots() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def idle(page: object, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector(  # type: ignore[attr-defined]
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout
    )


CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'
"""A drawn plotly chart."""
CLASSROOM = (1280, 800)
"""The viewport of a classroom's laptops and projectors."""


def open_drawn(page: Any, url: str, timeout: float = 180_000) -> None:
    """Open ``url`` at the classroom's viewport; return once a chart is drawn and the page is
    idle."""
    page.set_viewport_size({"width": CLASSROOM[0], "height": CLASSROOM[1]})
    page.goto(url)
    page.wait_for_selector(CHART, timeout=timeout)
    idle(page, timeout)


def chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None
