"""Real HDF5 files that crash libhdf5 end in one line, like the test-only crashers do.

Two damaged files in ``data/`` (see its README) kill the process that reads them with HDF5
1.14.6 (h5py 3.14): ``hdf5_dense_links_crash.h5`` makes it free uninitialized pointers (SIGSEGV
or SIGABRT), ``hdf5_btree_cycle_crash.h5`` (a Keras ``.weights.h5`` whose root B-tree node is
its own child) makes it recurse until the stack overflows (SIGSEGV). The first tests prove each
is still a real crasher, in a process of its own; the others open them through the product
(library, bytes, CLI, app, and inside a ``.keras`` zip), where the sandboxed worker takes the
crash and the caller gets one line.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import pytest
from _page_state import state_key
from _security import ROOT, run_cli
from streamlit.testing.v1 import AppTest

from kerascope.extraction import open_model
from kerascope.extraction.errors import KerascopeError, ReaderCrashed

DATA = Path(__file__).with_name("data")
CRASHERS = [DATA / "hdf5_dense_links_crash.h5", DATA / "hdf5_btree_cycle_crash.h5"]
FATAL = {-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS}
"""How the in-process read ends (which one depends on what the freed garbage is)."""
CRASH_LINE = re.compile(
    r"the reader crashed while reading it as (an HDF5 weights file|a \.keras file) "
    r"\(signal (11|6|7), SIG(SEGV|ABRT|BUS)\)"
)
DAMAGED_LINKS = re.compile(r"the HDF5 link table is damaged \(Link visitation failed")
"""The other end of ``hdf5_dense_links_crash.h5``: HDF5 frees whatever garbage the heap held
where it expected pointers, so in a worker (whose heap differs from a bare interpreter's: it
has read the file's signature and structure first) it sometimes notices the bad checksum on a
later attempt and refuses the file instead of crashing (seen in about 1 run of 5 under load).
Either way the caller gets one line about that file; the B-tree crasher crashes every time."""


def _one_line_for(path: Path, message: str) -> bool:
    """Whether ``message`` is the one line the product gives for the crasher ``path``."""
    if CRASH_LINE.search(message):
        return True
    return path.name == "hdf5_dense_links_crash.h5" and bool(DAMAGED_LINKS.search(message))


_IN_PROCESS = """
import sys
from kerascope.extraction import open_model
model = open_model(sys.argv[1], isolate=False)
for _, weight in model.iter_weights():
    weight.array()
"""


def _keras_with(weights: bytes, real: Path, out: Path) -> Path:
    """``real`` (a .keras saved by Keras) with ``weights`` as its ``model.weights.h5``, stored
    uncompressed as Keras stores it."""
    with zipfile.ZipFile(real) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = weights if info.filename == "model.weights.h5" else src.read(info)
            dst.writestr(info.filename, data, compress_type=zipfile.ZIP_STORED)
    return out


@pytest.fixture(params=CRASHERS, ids=lambda p: p.stem)
def crasher(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


@pytest.fixture()
def crasher_keras(crasher: Path, tiny_files: dict[str, Path], tmp_path: Path) -> Path:
    """A .keras saved by Keras whose ``model.weights.h5`` is the crasher."""
    return _keras_with(crasher.read_bytes(), tiny_files["keras"], tmp_path / "crash.keras")


def _steady(path: Path) -> bool:
    """Whether the crasher crashes a worker every time (see ``DAMAGED_LINKS``)."""
    return path.name != "hdf5_dense_links_crash.h5"


def _read_in_process(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _IN_PROCESS, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("kind", ["h5", "keras"])
def test_the_fixture_still_kills_a_process_that_reads_it_unisolated(
    kind: str, crasher: Path, crasher_keras: Path
) -> None:
    path = crasher if kind == "h5" else crasher_keras
    for _ in range(2):
        done = _read_in_process(path)
        assert done.returncode in FATAL, (
            f"{crasher.name} ({kind}) no longer crashes h5py {h5py.version.version} with HDF5 "
            f"{h5py.version.hdf5_version} in process (exit {done.returncode}); the bug it "
            f"exercises may be fixed: find another real crasher (see data/README.md).\n"
            f"{done.stderr[-2000:]}"
        )


def test_through_the_worker_it_is_one_reader_crashed_and_the_next_open_works(
    crasher: Path, tiny_files: dict[str, Path]
) -> None:
    for source, name in ((crasher, crasher.name), (crasher.read_bytes(), "upload.h5")):
        with pytest.raises(ReaderCrashed if _steady(crasher) else KerascopeError) as caught:
            open_model(source, name=name if isinstance(source, bytes) else None)
        message = str(caught.value)
        assert name in message.split(": ")[0], message
        assert _one_line_for(crasher, message), message
        assert "\n" not in message
    model = open_model(tiny_files["weights_h5"])
    assert sum(w.array().size for _, w in model.iter_weights()) > 0


def test_inside_a_keras_zip_it_is_one_reader_crashed(crasher_keras: Path) -> None:
    with pytest.raises(ReaderCrashed if _steady(crasher) else KerascopeError) as caught:
        open_model(crasher_keras)
    message = str(caught.value)
    assert message.startswith(("could not read crash.keras: ", "crash.keras:")), message
    assert _one_line_for(crasher, message), message
    assert "as a .keras file" in message or not _steady(crasher)


@pytest.mark.parametrize("kind", ["h5", "keras"])
def test_the_cli_exits_2_with_one_error_line(
    kind: str, crasher: Path, crasher_keras: Path, tmp_path: Path
) -> None:
    path = crasher if kind == "h5" else crasher_keras
    (tmp_path / "tmp").mkdir()
    run = run_cli("inspect", str(path), tmpdir=tmp_path / "tmp", timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""
    lines = run.error_lines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"error: could not read {path.name}: ") or not _steady(crasher), (
        lines
    )
    assert _one_line_for(crasher, lines[0]), lines
    assert "Traceback" not in run.stderr


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_uploads_that_crash_libhdf5_each_end_in_one_error_box(
    tiny_files: dict[str, Path],
) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    layer = at.session_state[state_key(at, "layer")]
    at.radio(key="source_kind").set_value("upload").run()
    for path in CRASHERS:
        # The uploader is replaced by a fresh one after each rejected file: take whichever it is.
        at.file_uploader[0].upload(path.name, path.read_bytes(), "application/x-hdf5")
        at.run()
        assert not at.exception, (path.name, [e.value for e in at.exception])
        shown = [e.value.replace("\\", "") for e in at.error]  # markdown escapes
        assert len(shown) == 1, shown
        assert path.name in shown[0] and _one_line_for(path, shown[0]), shown
        assert at.session_state[state_key(at, "layer")] == layer, path.name
        assert at.get("plotly_chart"), f"{path.name}: the open model's charts are gone"
    # The app goes on: the next upload opens (the uploader is a fresh one after a rejection).
    good = tiny_files["weights_h5"]
    at.file_uploader[0].upload(good.name, good.read_bytes(), "application/x-hdf5")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.session_state[state_key(at, "layer")] != layer
