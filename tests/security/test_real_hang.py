"""Real HDF5 files on which libhdf5 never returns end in one line, by the worker's limits.

Two Keras ``.weights.h5`` files in ``data/`` (see its README), each damaged in one field:
``hdf5_global_heap_hang.h5`` sends HDF5 1.14.6 (h5py 3.14) into an endless loop that allocates
nothing (the heap check refuses it before HDF5 sees it; the worker's wall limit would end it
otherwise); ``hdf5_local_heap_cycle_bomb.h5`` sends it
into an endless loop that allocates about 1 GB a second, so the worker's memory limit ends it.
The first tests prove each still does so with plain h5py, in a process of its own; the others
open them through the product with the limits lowered (through their documented environment
variables) so that the tests are quick.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import pytest
from _page_state import state_key
from _security import ROOT, children, rss_kb, run_cli
from streamlit.testing.v1 import AppTest

from kerascope.extraction import open_model
from kerascope.extraction.errors import CorruptFile, KerascopeError
from kerascope.extraction.readers.safety import WORKER_HEADROOM_BYTES
from kerascope.extraction.settings import SPARE_ENV, WORKER_MEMORY_ENV, WORKER_WALL_ENV

DATA = Path(__file__).with_name("data")
HANG = DATA / "hdf5_global_heap_hang.h5"
BOMB = DATA / "hdf5_local_heap_cycle_bomb.h5"
WALL = 6.0
"""The wall limit the tests set."""
MEMORY_MB = 512
"""The worker memory limit the tests set."""
SLACK = 10.0
"""What a loaded 2-core machine may add (starting the worker, killing it)."""
HUNG_FOR = 8.0
"""How long plain h5py must still be busy on the hanging file to count as hung."""
_WALK = """
import sys, h5py
def walk(group):
    for key in group.attrs:
        group.attrs[key]
    for item in group.values():
        if isinstance(item, h5py.Group):
            walk(item)
        else:
            [item.attrs[key] for key in item.attrs]
with h5py.File(sys.argv[1], "r") as f:
    walk(f)
"""
"""Plain h5py reading every group and attribute, as the Keras readers do."""


@pytest.fixture()
def low_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKER_WALL_ENV, str(WALL))
    monkeypatch.setenv(WORKER_MEMORY_ENV, str(MEMORY_MB))


def _no_version_note() -> str:
    return (
        f"with h5py {h5py.version.version} and HDF5 {h5py.version.hdf5_version}; the bug it "
        "exercises may be fixed: find another real file (see data/README.md)"
    )


def test_the_hang_fixture_still_hangs_plain_h5py() -> None:
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        done = subprocess.run(
            [sys.executable, "-c", _WALK, str(HANG)], capture_output=True, timeout=HUNG_FOR
        )
        pytest.fail(
            f"{HANG.name} ended (exit {done.returncode}) after "
            f"{time.monotonic() - start:.1f} s {_no_version_note()}\n{done.stderr[-2000:]!r}"
        )


def test_the_bomb_fixture_still_allocates_without_bound_in_plain_h5py() -> None:
    limited = "import resource\nresource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
    done = subprocess.run(
        [sys.executable, "-c", limited + _WALK, str(BOMB)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "memory allocation failed" in done.stderr, (
        f"{BOMB.name} no longer exhausts 1 GiB of address space (exit {done.returncode}) "
        f"{_no_version_note()}\n{done.stderr[-2000:]}"
    )


def test_a_global_heap_that_would_hang_libhdf5_is_refused_before_hdf5_sees_it(
    low_limits: None,
) -> None:
    # HDF5 adds the heap's object sizes in 64-bit arithmetic: a size near 2**64 wraps to a
    # step of 0. ``check_global_heaps`` walks the heap the same way and refuses it at once.
    start = time.monotonic()
    with pytest.raises(CorruptFile) as caught:
        open_model(HANG)
    message = str(caught.value)
    assert time.monotonic() - start < WALL, "refused by the wall limit, not by the heap check"
    assert message.startswith(f"{HANG.name}: the HDF5 global heap at byte "), message
    assert "refused before HDF5 would loop on it" in message and "\n" not in message
    with pytest.raises(CorruptFile, match="global heap"):
        open_model(HANG, isolate=False)  # in process too: HDF5 never sees the heap


def test_a_file_that_makes_libhdf5_allocate_without_bound_ends_in_one_line(
    low_limits: None, tiny_files: dict[str, Path]
) -> None:
    start = time.monotonic()
    with pytest.raises(KerascopeError) as caught:
        open_model(BOMB)
    elapsed = time.monotonic() - start
    message = str(caught.value)
    assert elapsed < WALL + SLACK, elapsed
    assert message.startswith(f"{BOMB.name}: ") or message.startswith(
        f"could not read {BOMB.name}: "
    ), message
    # HDF5 handles the failed allocation at the worker's limit as an error (CorruptFile); a
    # worker killed for its memory or time would be a ReaderCrashed: either is one line.
    assert "memory" in message or "took longer" in message, message
    assert "\n" not in message
    model = open_model(tiny_files["weights_h5"])
    assert sum(w.array().size for _, w in model.iter_weights()) > 0


def test_a_small_file_cannot_take_the_whole_default_memory_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No memory setting: the worker starts with the 11 GiB default, then lowers its limit to
    # what this 13 kB file may need (WORKER_HEADROOM_BYTES above what it had mapped), so the
    # endless allocation stops at about 2 GiB instead of 11.
    monkeypatch.delenv(WORKER_MEMORY_ENV, raising=False)
    monkeypatch.setenv(WORKER_WALL_ENV, "60")
    monkeypatch.setenv(SPARE_ENV, "0")
    peak = [0]
    done = threading.Event()
    before = children()  # other tests' servers and workers in this process are not counted

    def watch() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], rss_kb(children() - before))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        with pytest.raises(KerascopeError) as caught:
            open_model(BOMB)
    finally:
        done.set()
        watcher.join()
    message = str(caught.value)
    assert "memory" in message and "\n" not in message and BOMB.name in message, message
    assert "took longer" not in message, message  # ended by memory, not by the clock
    headroom_mb = WORKER_HEADROOM_BYTES // 1024**2
    assert peak[0] > 256 * 1024, f"the worker was never seen growing ({peak[0]} kB)"
    assert peak[0] // 1024 < headroom_mb + 1024, f"the worker grew to {peak[0] // 1024} MB"


@pytest.mark.parametrize("path", [HANG, BOMB], ids=lambda p: p.stem)
def test_the_cli_exits_2_with_one_error_line(path: Path, low_limits: None, tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    start = time.monotonic()
    run = run_cli("inspect", str(path), tmpdir=tmp_path / "tmp", timeout=60)
    assert time.monotonic() - start < WALL + 2 * SLACK
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""
    lines = run.error_lines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    assert path.name in lines[0], lines
    assert "Traceback" not in run.stderr


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_uploads_that_hang_or_bloat_libhdf5_each_end_in_one_error_box(low_limits: None) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    layer = at.session_state[state_key(at, "layer")]
    at.radio(key="source_kind").set_value("upload").run()
    for path, words in ((HANG, "global heap"), (BOMB, "memory")):
        # The uploader is replaced by a fresh one after each rejected file: take whichever it is.
        at.file_uploader[0].upload(path.name, path.read_bytes(), "application/x-hdf5")
        at.run()
        assert not at.exception, (path.name, [e.value for e in at.exception])
        shown = [e.value.replace("\\", "") for e in at.error]  # markdown escapes
        assert len(shown) == 1, shown
        assert path.name in shown[0] and words in shown[0], shown
        assert at.session_state[state_key(at, "layer")] == layer, path.name
        assert at.get("plotly_chart"), f"{path.name}: the open model's charts are gone"
