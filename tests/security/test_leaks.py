"""Nothing outlives what it was for: extracted SavedModels and worker processes.

- A zipped SavedModel is extracted (it may inflate to 16 GiB) to a temporary folder, which is
  removed when its model is dropped, and at exit when it never is (the CLI): the worker that
  extracts it is killed, never asked to clean up, so the folder is one the caller made.
- A worker that ends (killed, crashed, or idle) is reaped at once, not left as a zombie under
  the server until its model is next read.
"""

from __future__ import annotations

import gc
import os
import signal
import time
import zipfile
from pathlib import Path

import pytest
from _security import children, run_cli

from kerascope.extraction import open_model
from kerascope.extraction.readers.worker import stop_spares
from kerascope.extraction.settings import SPARE_ENV, WORKER_IDLE_ENV

SAVED_MODEL = "digits_savedmodel_keras2"


@pytest.fixture(scope="module")
def zipped_saved_model(realworld: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The public Keras 2 SavedModel, zipped as a user uploads a folder."""
    path = tmp_path_factory.mktemp("zipped") / "digits.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted((realworld / SAVED_MODEL).rglob("*")):
            if file.is_file():
                zf.write(file, f"{SAVED_MODEL}/{file.relative_to(realworld / SAVED_MODEL)}")
    return path


@pytest.mark.timeout(300)
@pytest.mark.parametrize("command", ["inspect", "export", "health"])
def test_the_cli_leaves_no_extracted_folder(
    command: str, zipped_saved_model: Path, private_tmp: Path
) -> None:
    out = ["--out", str(private_tmp.parent / "x.npz")] if command == "export" else []
    run = run_cli(command, str(zipped_saved_model), *out, tmpdir=private_tmp)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not list(private_tmp.iterdir())  # (private_tmp checks it too, at its end)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("isolate", [True, False], ids=["worker", "in-process"])
def test_a_dropped_model_takes_its_extracted_folder(
    isolate: bool, zipped_saved_model: Path, private_tmp: Path
) -> None:
    model = open_model(zipped_saved_model, isolate=isolate)
    assert model.layer("dense").weight("kernel").array().shape == (784, 100)
    assert list(private_tmp.iterdir()), "the extracted folder is expected while the model lives"
    del model
    gc.collect()
    assert not list(private_tmp.iterdir())


def _state(pid: int) -> str | None:
    """The process's state letter (``Z``: a zombie), None once it is gone (reaped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next((line.split()[1] for line in status.splitlines() if line.startswith("State")), "")


def _reaped(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if _state(pid) is None:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture()
def no_spare(monkeypatch: pytest.MonkeyPatch) -> None:
    """No spare worker is started meanwhile: each open's own worker is the one new child."""
    monkeypatch.setenv(SPARE_ENV, "0")
    stop_spares()


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("no_spare")
def test_a_killed_worker_is_reaped(tiny_files: dict[str, Path]) -> None:
    before = children()
    model = open_model(tiny_files["h5"])
    (worker,) = children() - before
    os.kill(worker, signal.SIGKILL)
    assert _reaped(worker), f"worker {worker} left as {_state(worker)!r}"
    # Its model reads on, in a fresh worker.
    assert model.layer("out").weight("kernel").array().shape == (48, 4)


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("no_spare")
def test_an_idle_worker_is_reaped_when_it_exits(
    tiny_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WORKER_IDLE_ENV, "1")
    before = children()
    model = open_model(tiny_files["weights_h5"])
    (worker,) = children() - before
    assert _reaped(worker, within=15.0), f"worker {worker} left as {_state(worker)!r}"
    assert model.layer("out").weight("bias").array().shape == (4,)
