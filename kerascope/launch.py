"""``kerascope app``: start the dashboard opened on a source, through its deep-link contract.

The page opens what ``?model=NAME&layer=PATH`` names (``components/page/links.py``): a demo,
``app:NAME``, or a file inside ``$KERASCOPE_MODEL_DIR``. So a file on the command line is
served by pointing the model folder at the folder it is in (unless it is already inside the
folder the user configured) and naming it in the URL; the app has no second way in.

The app and its ``.streamlit/config.toml`` are found beside the package: ``kerascope/_app``
in an installed wheel, the repository root in a clone (an editable install, or running from
source). Streamlit reads ``.streamlit/config.toml`` from its working directory, so the server
runs there; paths from the command line are made absolute first.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import webbrowser
from dataclasses import dataclass, field
from pathlib import Path

from kerascope.extraction.api import APP_PREFIX, DEMO_PREFIX
from kerascope.extraction.errors import SourceNotFound, UnsupportedFormat
from kerascope.extraction.folder import list_models, model_dir
from kerascope.extraction.settings import MODEL_DIR_ENV

APP_FILE = "app.py"
CONFIG_FILE = Path(".streamlit") / "config.toml"
DEFAULT_PORT = 8501
START_SECONDS = 120.0
"""How long the server may take to answer its health check (importing TensorFlow is slow on a
cold disk)."""


@dataclass(frozen=True)
class Launch:
    """What ``kerascope app SOURCE`` starts: the query string and the environment it needs."""

    query: dict[str, str] = field(default_factory=dict)
    """The deep link's parameters (``model``, ``layer``); empty opens the default demo."""
    env: dict[str, str] = field(default_factory=dict)
    """Variables the server needs on top of the caller's (the model folder for a file)."""

    def url(self, host: str, port: int) -> str:
        """The address that opens the dashboard on the source."""
        shown = "localhost" if host in ("", "0.0.0.0", "::") else host
        query = urllib.parse.urlencode(self.query, safe=":/")
        return f"http://{shown}:{port}/" + (f"?{query}" if query else "")


def app_folder() -> Path:
    """The folder holding ``app.py`` and ``.streamlit/config.toml``.

    Raises:
        FileNotFoundError: neither an installed copy nor a clone's is there (a broken install).
    """
    package = Path(__file__).resolve().parent
    for folder in (package / "_app", package.parent):
        if (folder / APP_FILE).is_file() and (folder / CONFIG_FILE).is_file():
            return folder
    raise FileNotFoundError(
        f"the dashboard's {APP_FILE} is missing from {package / '_app'} and {package.parent}; "
        "reinstall kerascope"
    )


def plan(source: str | None, layer: str | None = None) -> Launch:
    """The deep link and environment that open ``source``.

    Args:
        source: ``None`` for the default demo; a demo (``digits_cnn`` or ``demo:digits_cnn``);
            ``app:NAME``; or a path to a model file, a SavedModel folder or a run folder.
        layer: a layer path to select.

    Raises:
        SourceNotFound: no such file, demo or application (the message lists the demos).
        UnsupportedFormat, UnsafeModel: the file is not a model Kerascope reads.
    """
    from kerascope.extraction.models.applications import APPLICATIONS
    from kerascope.extraction.models.demos import DEMOS

    query: dict[str, str] = {}
    env: dict[str, str] = {}
    if source is not None:
        name = source.removeprefix(DEMO_PREFIX)
        path = Path(source).expanduser()
        if source.startswith(APP_PREFIX):
            if source[len(APP_PREFIX) :] not in APPLICATIONS:
                raise SourceNotFound(
                    f"no application {source!r}; available: app:"
                    + ", app:".join(sorted(APPLICATIONS))
                )
            query["model"] = source
        elif source.startswith(DEMO_PREFIX) or (name in DEMOS and not path.exists()):
            if name not in DEMOS:
                raise SourceNotFound(f"no demo {name!r}; demos are: {', '.join(sorted(DEMOS))}")
            query["model"] = name
        elif path.exists():
            folder, inside = _model_folder(path.resolve())
            query["model"] = inside
            env[MODEL_DIR_ENV] = str(folder)
        else:
            raise SourceNotFound(
                f"no file, folder or demo {source!r}; demos are: {', '.join(sorted(DEMOS))}, "
                "and app:NAME opens a keras.applications architecture"
            )
    if layer:
        query["layer"] = layer
    return Launch(query, env)


def _model_folder(path: Path) -> tuple[Path, str]:
    """The model folder to serve ``path`` from, and its name there; checks that it is a model.

    A file the sidebar of the user's own ``$KERASCOPE_MODEL_DIR`` lists keeps that folder (the
    sidebar then shows its neighbours too); any other is served from the folder it is in. The
    name must be one the sidebar lists (``list_models``), or the page would open another.

    Raises:
        UnsupportedFormat: not a model, or a name the model folder does not list.
    """
    from kerascope.extraction.readers import model_suffixes
    from kerascope.extraction.readers.sniff import sniff
    from kerascope.extraction.runs import looks_like_run

    if not looks_like_run(path):  # a run folder opens as a run, with its epochs
        sniff(path)  # one clear line now, rather than an error box in the browser
    folders = [path.parent]
    configured = model_dir()
    if configured is not None and path.is_relative_to(configured.resolve()):
        folders.insert(0, configured.resolve())
    for folder in folders:
        name = path.relative_to(folder).as_posix()
        if name in list_models(folder):
            return folder, name
    raise UnsupportedFormat(
        f"{path.name}: the dashboard opens model files by their ending "
        f"({', '.join(model_suffixes())}); rename it, or use kerascope inspect"
    )


def free_port(host: str, start: int = DEFAULT_PORT, tries: int = 50) -> int:
    """The first port from ``start`` nobody listens on (Streamlit's habit, made explicit so the
    printed address is right)."""
    for port in range(start, start + tries):
        with socket.socket() as s:
            try:
                s.bind((host or "0.0.0.0", port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port in {start}-{start + tries - 1}; pass --port")


def server_command(folder: Path, host: str, port: int) -> list[str]:
    """``streamlit run app.py`` with the address and port; the rest is ``config.toml``'s."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(folder / APP_FILE),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
    ]


def serve(launch: Launch, *, host: str, port: int, open_browser: bool) -> int:
    """Run the dashboard until Ctrl+C; print (and open) its address once it answers.

    Returns:
        0 after Ctrl+C; the server's exit status if it stops on its own (non-zero: it failed).
    """
    folder = app_folder()
    env = {**os.environ, **launch.env}
    # Streamlit prints its own address without the deep link; ours is printed instead.
    server = subprocess.Popen(
        server_command(folder, host, port), cwd=folder, env=env, stdout=subprocess.DEVNULL
    )
    url = launch.url(host, port)
    # `kill` (SIGTERM) stops the server too, as Ctrl+C does.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if not _wait_healthy(server, host, port):
            code = server.poll()
            why = (
                f"stopped (exit status {code})"
                if code is not None
                else (f"did not answer in {START_SECONDS:.0f} s")
            )
            print(f"error: the dashboard {why} before it started", file=sys.stderr)
            return code or 1
        print(f"Kerascope is running at {url}\nPress Ctrl+C to stop.", flush=True)
        if open_browser:
            webbrowser.open(url)
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_healthy(server: subprocess.Popen[bytes], host: str, port: int) -> bool:
    local = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "localhost": "127.0.0.1", "::": "[::1]"}
    address = local.get(host, f"[{host}]" if ":" in host else host)
    health = f"http://{address}:{port}/_stcore/health"
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(health, timeout=2) as answer:
                if answer.read() == b"ok":
                    return True
        except OSError:
            time.sleep(0.3)
    return False
