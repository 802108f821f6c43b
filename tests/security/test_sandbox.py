"""The reader worker's sandbox, tried from inside it and seen from outside.

A test-only reader (``_probe_readers``) runs as the worker what an exploit in a native parser
would try once it runs code there: read files beside the model or the machine's, reach the
network, write elsewhere, start programs, signal or trace the server. Every attempt is a real
system call under the worker's real sandbox. From outside, ``/proc`` shows the worker's
no_new_privs, seccomp mode, network namespace and environment. Kernels lacking a feature are
made for real: a parent process installs a seccomp filter that refuses Landlock or namespaces,
and the worker started under it must say what it lacks, in one line.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _probe_readers import MODULE, probe_file
from _security import ROOT, children, save_tiny_models

from kerascope.extraction import open_model
from kerascope.extraction.readers.confine import (
    FEATURES,
    Confinement,
    allowed_variable,
    worker_environment,
)
from kerascope.extraction.readers.worker import confinement, stop_spares
from kerascope.extraction.settings import PLUGIN_ENV, SANDBOX_ENV, SPARE_ENV, Settings

SECRET = "KERASCOPE_TEST_SECRET_TOKEN"
"""A variable of the server's own that no worker may see."""
DENIED_FILE = "PermissionError EACCES"  # Landlock
DENIED_CALL = "PermissionError EPERM"  # seccomp


@pytest.fixture()
def probe_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The worker loads the probing reader; the server holds a secret; no spare worker."""
    monkeypatch.setenv(PLUGIN_ENV, MODULE)
    monkeypatch.setenv(SPARE_ENV, "0")
    monkeypatch.setenv(SECRET, "hunter2")
    stop_spares()
    yield
    stop_spares()


@pytest.fixture()
def listening() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections (the server's own, say)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def _environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if item)


def _assert_confined(pid: int) -> None:
    """What anyone can check from outside: no_new_privs, a seccomp filter, its own network,
    none of the server's variables."""
    status = _status(pid)
    assert status["NoNewPrivs"].strip() == "1", status
    assert status["Seccomp"].strip() == "2", status
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    env = _environment(pid)
    assert SECRET not in env and "HOME" not in env and "PATH" not in env, sorted(env)
    assert all(allowed_variable(name) for name in env), sorted(env)


def test_code_in_the_worker_reaches_nothing_but_its_file(
    probe_env: None, listening: int, tmp_path: Path, private_tmp: Path
) -> None:
    models, outside = tmp_path / "models", tmp_path / "elsewhere"
    models.mkdir()
    outside.mkdir()
    beside = models / "notes.txt"
    beside.write_text("a file beside the model")
    targets = {
        "beside": str(beside),
        "folder": str(models),
        "port": listening,
        "outside": str(outside / "dropped.txt"),
    }
    records = open_model(probe_file(models / "probe.h5", targets))
    found = json.loads(records.notes[0])
    assert found == {
        **found,
        "read /etc/hostname": DENIED_FILE,
        "read beside": DENIED_FILE,
        "list its folder": DENIED_FILE,
        "connect 127.0.0.1": DENIED_CALL,
        "unix socket": DENIED_CALL,
        "write outside": DENIED_FILE,
        "write beside": DENIED_FILE,
        "fork": DENIED_CALL,
        "run a program": DENIED_CALL,
        "exec": DENIED_CALL,
        "signal the server": DENIED_CALL,
        "ptrace the server": DENIED_CALL,
        "mount": DENIED_CALL,
        # what a reader needs still works
        "write its temp folder": "ok",
        "start a thread": "ok",
    }
    assert found["read the server's environ"].startswith("PermissionError"), found
    assert SECRET not in found["environment"].split()
    assert not (outside / "dropped.txt").exists() and not Path(f"{beside}.new").exists()
    # The worker that ran it is still serving the file (its arrays cross as usual) ...
    assert all(w.array().all() for w in records.layers[0].weights)
    _assert_confined(int(found["pid"]))
    # ... and said what its sandbox holds before reading a byte: everything, here.
    report = confinement()
    assert report is not None and not report.missing, report
    assert set(report.applied) == set(FEATURES)
    assert report.applied["landlock"].startswith("ABI ")


def test_a_run_is_scanned_by_a_confined_worker(
    probe_env: None, listening: int, tmp_path: Path, private_tmp: Path
) -> None:
    """A run's snapshots are read in one worker request (``run_scan``): the same sandbox, with
    Landlock letting it read the run's files only."""
    from kerascope.extraction.readers.run_scan import scan_isolated

    run, outside = tmp_path / "run", tmp_path / "elsewhere"
    run.mkdir()
    outside.mkdir()
    beside = run / "notes.txt"
    beside.write_text("a file beside the snapshots")
    targets = {"beside": str(beside), "folder": str(run), "port": listening,
               "outside": str(outside / "dropped.txt")}  # fmt: skip
    paths = [probe_file(run / f"step-{k}.h5", targets) for k in (1, 2)]
    entries = list(scan_isolated([(str(paths[0]), None), (str(paths[1]), str(paths[0]))]))
    assert [k for k, _ in entries] == [0, 1]
    for _, entry in entries:
        assert isinstance(entry, dict), entry
        assert entry["weights"]["probe/denied"]["min"] == 1.0, entry  # every attempt refused
        assert entry["weights"]["probe/worked"]["min"] == 1.0, entry  # what a reader needs works
    report = confinement()
    assert report is not None and not report.missing and set(report.applied) == set(FEATURES)
    assert not list(private_tmp.iterdir())  # its folder went with the scan


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_worker_of_the_app_is_confined(
    probe_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(SPARE_ENV, "1")  # as the app runs: a spare worker waits
    files = save_tiny_models(tmp_path)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    at.radio(key="source_kind").set_value("upload").run()
    at.file_uploader[0].upload("tiny.keras", files["keras"].read_bytes(), "application/zip")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    workers = [pid for pid in children() if _is_worker(pid)]
    assert len(workers) >= 2, "expected the upload's worker and the spare"
    for pid in workers:
        _assert_confined(pid)


@pytest.mark.slow
def test_tensorflow_formats_open_through_the_confined_worker(
    realworld: Path, tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TensorFlow is imported by the worker after Landlock holds (every file it needs is
    readable), a checkpoint reads the data file beside its index, and a zipped SavedModel is
    extracted into the worker's own folder (removed with the records)."""
    import shutil

    import tensorflow as tf

    from kerascope.extraction.cli import inspect_json
    from kerascope.extraction.settings import WORKER_WALL_ENV

    monkeypatch.setenv(SPARE_ENV, "0")
    monkeypatch.setenv(WORKER_WALL_ENV, "180")  # importing TensorFlow on a loaded machine
    import keras

    model = keras.models.load_model(save_tiny_models(tmp_path)["keras"])
    prefix = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt" / "tiny"))
    archive = shutil.make_archive(
        str(tmp_path / "digits"), "zip", realworld, "digits_savedmodel_keras2"
    )
    for path in (Path(prefix + ".index"), Path(archive)):
        isolated, local = open_model(path), open_model(path, isolate=False)
        assert isolated.format == local.format and isolated.format in ("checkpoint", "saved_model")
        assert json.dumps(inspect_json(isolated)) == json.dumps(inspect_json(local))
        report = confinement()
        assert report is not None and not report.missing, report
        del isolated, local


def _is_worker(pid: int) -> bool:
    try:
        return b"readers._child" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


# A parent that takes a kernel feature away from everything it starts, for real: its seccomp
# filter makes Landlock "not implemented" and namespaces "not permitted", then it opens a file
# through the worker (which inherits the filter) and prints what that worker's sandbox held.
_WITHOUT = """
import errno, json, sys
import pyseccomp as seccomp
rules = seccomp.SyscallFilter(seccomp.ALLOW)
take = sys.argv[1].split(",")
if "landlock" in take:
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "landlock_create_ruleset")
if "namespaces" in take:
    rules.add_rule(seccomp.ERRNO(errno.EPERM), "unshare")
if "network namespace" in take:  # only a plain one: a user namespace holding one still works
    rules.add_rule(seccomp.ERRNO(errno.EPERM), "unshare", seccomp.Arg(0, seccomp.EQ, 0x40000000))
rules.load()
from kerascope.extraction import open_model
from kerascope.extraction.readers.worker import confinement
model = open_model(sys.argv[2])
assert all(w.array() is not None for _, w in model.iter_weights())
print(json.dumps(confinement().to_wire()))
"""


def _run_without(take: str, path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Open ``path`` in a process whose kernel lacks ``take`` (comma-separated)."""
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT, take, str(path)],
        cwd=ROOT,
        env={**os.environ, SPARE_ENV: "0", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _report(done: subprocess.CompletedProcess[str]) -> Confinement:
    """What the worker's sandbox held, as the process of ``_run_without`` printed it."""
    assert done.returncode == 0, done.stderr[-3000:]
    report = Confinement.from_wire(json.loads(done.stdout.splitlines()[-1]))
    assert report is not None
    return report


def test_a_kernel_without_landlock_or_namespaces_is_said_in_one_line(
    tiny_files: dict[str, Path],
) -> None:
    done = _run_without("landlock,namespaces", tiny_files["keras"])
    report = _report(done)
    assert set(report.missing) == {"landlock", "network"}, report
    assert "Landlock" in report.missing["landlock"]
    assert "sockets are refused" in report.missing["network"]
    assert {"seccomp", "no_new_privs", "environment"} <= set(report.applied)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [report.line()], done.stderr[-3000:]
    assert lines[0].startswith("the reader worker's sandbox lacks ")


def test_require_refuses_to_read_without_every_layer(tiny_files: dict[str, Path]) -> None:
    done = _run_without("landlock", tiny_files["keras"], **{SANDBOX_ENV: "require"})
    assert done.returncode != 0
    assert "SandboxUnavailable" in done.stderr and "lacks landlock" in done.stderr
    assert "=require" in done.stderr


def test_an_unprivileged_network_namespace_is_made_inside_a_user_namespace(
    tiny_files: dict[str, Path],
) -> None:
    report = _report(_run_without("network namespace", tiny_files["keras"]))
    assert not report.missing, report
    assert report.applied["network"] == "own network namespace, in a user namespace"


def test_the_cli_reads_with_the_sandbox_off_and_says_so(
    tiny_files: dict[str, Path], tmp_path: Path
) -> None:
    env = {**os.environ, SANDBOX_ENV: "off", SPARE_ENV: "0"}
    command = [sys.executable, "-m", "extraction", "inspect", str(tiny_files["h5"]), "--no-stats"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("the reader worker's sandbox lacks "), lines
    assert f"({SANDBOX_ENV}=off)" in lines[0] and "landlock" in lines[0]


def test_the_worker_environment_passes_locale_and_caps_threads_only() -> None:
    server = {
        SECRET: "hunter2",
        "HOME": "/home/someone",
        "PATH": "/usr/bin",
        "AWS_SECRET_ACCESS_KEY": "x",
        "LANG": "de_DE.UTF-8",
        "LC_NUMERIC": "C",
        "PYTHONPATH": "/opt/lib",
        "MALLOC_ARENA_MAX": "2",
        "OPENBLAS_NUM_THREADS": "16",
        PLUGIN_ENV: MODULE,
    }
    env = worker_environment(server, "/srv/kerascope")
    assert env == {
        "LANG": "de_DE.UTF-8",
        "LC_NUMERIC": "C",
        "PYTHONPATH": "/srv/kerascope:/opt/lib",
        "MALLOC_ARENA_MAX": "2",  # the server's choice stands
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",  # one thread, whatever the server uses
        "MKL_NUM_THREADS": "1",
        "PYTHONSAFEPATH": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        PLUGIN_ENV: MODULE,
    }
    assert worker_environment({}, "/srv")["MALLOC_ARENA_MAX"] == "4"


def test_a_report_from_a_worker_is_checked_before_it_is_believed() -> None:
    good = {"applied": {"seccomp": "on"}, "missing": {"landlock": "none here"}}
    assert Confinement.from_wire(good) == Confinement({"seccomp": "on"}, {"landlock": "none here"})
    for bad in (
        None,
        [],
        {"applied": {}},
        {"applied": {"rootkit": "on"}, "missing": {}},
        {"applied": {"seccomp": 1}, "missing": {}},
        {"applied": {"seccomp": "x" * 301}, "missing": {}},
    ):
        assert Confinement.from_wire(bad) is None, bad


def test_what_is_missing_is_one_line_grouped_by_reason() -> None:
    off = "KERASCOPE_WORKER_SANDBOX=off"
    report = Confinement({"environment": "10"}, {"seccomp": off, "landlock": off})
    assert report.line() == f"the reader worker's sandbox lacks seccomp, landlock ({off})"
    assert Confinement({"seccomp": "on"}).line() == ""
    # A layer applied later (Landlock, once the file is known) is no longer missing.
    later = Confinement(missing={"landlock": "not yet"}) + Confinement({"landlock": "ABI 7"})
    assert not later.missing and later.applied == {"landlock": "ABI 7"}


@pytest.mark.parametrize(
    ("value", "mode"),
    [("", "auto"), ("auto", "auto"), ("OFF", "off"), ("require", "require"), ("of", "require")],
)
def test_a_misspelt_sandbox_mode_is_the_strictest(
    value: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SANDBOX_ENV, value)
    assert Settings.from_env().sandbox == mode
