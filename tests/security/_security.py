"""Helpers of the security tests: tiny model files, a measured CLI run.

The CLI runs as a real subprocess (``python -m extraction``); its peak resident memory is taken
from ``os.wait4``'s resource usage of that very child, so it is attributed to one run only.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REALWORLD = ROOT.parent / "shared" / "realworld"
MAX_RSS_BYTES = 1024**3
"""No bad file may make the CLI's resident memory peak above this."""
PYTHON_WORDS = re.compile(r"[A-Z][a-z]+Error|Exception|Traceback|\b0x[0-9a-fA-F]{6,}")
"""What a line about a file must never hold: a Python exception's name (``IndexError``), a
traceback, an object's address (``<cyfunction ... at 0x7f...>``; a byte such as ``0xff`` is
the file's own content)."""


@dataclass(frozen=True)
class CliRun:
    """One finished CLI subprocess."""

    returncode: int
    stdout: str
    stderr: str
    peak_rss: int
    """Peak resident memory of the child, in bytes."""

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


# A fresh small process runs the CLI and reports its child's peak RSS: a child forked from the
# test process itself would count the test process's memory (Linux keeps the pre-exec high-water
# mark), so the measured process must be forked from something small.
_MEASURE = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code if code >= 0 else 128 - code)
"""


def run_cli(*args: str, tmpdir: Path, timeout: float = 120) -> CliRun:
    """Run ``python -m extraction ARGS`` with ``TMPDIR=tmpdir``; measure its peak memory."""
    env = {**os.environ, "TMPDIR": str(tmpdir), "TF_CPP_MIN_LOG_LEVEL": "3"}
    rss_path = tmpdir.parent / "cli.rss"
    rss_path.unlink(missing_ok=True)
    command = [sys.executable, "-c", _MEASURE, str(rss_path), sys.executable, "-m", "extraction"]
    proc = subprocess.Popen(
        [*command, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\n[killed after {timeout} s]".encode()
    peak = int(rss_path.read_text()) * 1024 if rss_path.is_file() else 0
    rss_path.unlink(missing_ok=True)
    return CliRun(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), peak)


def assert_cli_refuses(run: CliRun, *words: str) -> str:
    """Exit 2, one ``error: ...`` line naming ``words``, no traceback, bounded memory."""
    lines = run.error_lines()
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr[-2000:]
    assert_plain(run)
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])
    assert run.peak_rss < MAX_RSS_BYTES, f"peak RSS {run.peak_rss / 1024**2:.0f} MB"
    return lines[0]


def assert_plain(run: CliRun) -> None:
    """The CLI's stderr names no Python exception, traceback or address (``PYTHON_WORDS``)."""
    found = PYTHON_WORDS.search(run.stderr)
    assert found is None, f"{found.group()!r} in {run.stderr[-2000:]!r}"


def save_tiny_models(folder: Path) -> dict[str, Path]:
    """A tiny conv + batch norm + dense model as .keras, legacy .h5 and .weights.h5."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 6, 2), name="image")
    x = layers.Conv2D(3, 3, name="conv")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.Flatten(name="flat")(x)
    model = keras.Model(inputs, layers.Dense(4, name="out")(x), name="tiny")
    files = {
        "keras": folder / "tiny.keras",
        "h5": folder / "tiny.h5",
        "weights_h5": folder / "tiny.weights.h5",
    }
    model.save(files["keras"])
    model.save(files["h5"])
    model.save_weights(files["weights_h5"])
    return files


def children() -> set[int]:
    """The process ids of this process's children (the workers it started, among others)."""
    found: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            found.update(int(pid) for pid in (task / "children").read_text().split())
        except OSError:
            continue  # a thread that ended meanwhile
    return found


def rss_kb(pids: set[int]) -> int:
    """The resident memory of ``pids`` in kB (a zombie or a vanished one counts 0)."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        rss = (line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
        total += int(next(rss, "0"))
    return total
