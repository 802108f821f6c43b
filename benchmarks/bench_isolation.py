"""What the sandboxed worker costs: VGG16 read isolated (the default) against in process.

    python -m benchmarks.bench_isolation      (also part of ``make bench``)

VGG16 (``weights=None``, 138 M weights) is built once by ``bench_vgg16`` and cached under
``benchmarks/.cache/``. Each measurement runs in a fresh interpreter, so nothing is warm inside
Python (the OS page cache is: every case runs once untimed first). Cases, each isolated
(``open_model(path)``) and in process (``open_model(path, isolate=False)``):

- ``inspect --json``: the CLI's JSON (every weight's statistics), whole process, start-up
  included; the isolated case is the real ``python -m extraction inspect FILE --json``.
- ``fc1 first read + stats``: open the model, then fc1's kernel (25088 x 4096 float32,
  392 MB) ``array()`` and ``stats()``, timed from the open; the open alone is shown beside it.

Target: isolated / in process <= 1.3 for both. What crosses: a JSON manifest of the records,
then per array one JSON request and reply (with the statistics computed beside the read) and
a ``.npy`` file the caller memory-maps; statistics alone cross as JSON numbers.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.bench_vgg16 import build

ROOT = Path(__file__).resolve().parents[1]
REPEAT = 3
"""Runs per case; the median is reported (the machine is shared)."""

_INSPECT = """
import json, sys
from extraction import open_model
from extraction.cli import inspect_json
json.dump(inspect_json(open_model({path!r}, isolate={isolate})), sys.stdout)
"""
_FC1 = """
import json, time
from extraction import open_model
t0 = time.perf_counter()
m = open_model({path!r}, isolate={isolate})
t1 = time.perf_counter()
w = m.layer("fc1").weight("kernel")
a = w.array(); s = w.stats()
assert a.shape == (25088, 4096) and s.size == a.size
t2 = time.perf_counter()
print(json.dumps({{"open": t1 - t0, "read": t2 - t1, "total": t2 - t0}}))
"""


def _run(command: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed: {done.stderr[-2000:]}")
    return seconds, done.stdout


def inspect_seconds(path: Path, isolate: bool) -> tuple[float, str]:
    """Whole-process seconds of the inspect JSON, and the JSON."""
    if isolate:
        return _run([sys.executable, "-m", "extraction", "inspect", str(path), "--json"])
    code = _INSPECT.format(path=str(path), isolate=False)
    return _run([sys.executable, "-c", code])


def fc1_seconds(path: Path, isolate: bool) -> dict[str, float]:
    """Open, then fc1's first read and statistics, in a fresh interpreter."""
    _, out = _run([sys.executable, "-c", _FC1.format(path=str(path), isolate=isolate)])
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    path = build()["keras"]
    print(f"VGG16 {path.stat().st_size / 1024**2:.0f} MB .keras; median of {REPEAT} runs each")
    inspect_seconds(path, True)  # warm the OS page cache
    fc1_seconds(path, False)
    timed: dict[bool, list[float]] = {True: [], False: []}
    outputs: dict[bool, str] = {}
    fc1: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for _ in range(REPEAT):
        for isolate in (False, True):  # interleaved, so machine load hits both alike
            seconds, out = inspect_seconds(path, isolate)
            timed[isolate].append(seconds)
            outputs[isolate] = out
            fc1[isolate].append(fc1_seconds(path, isolate))
    local, isolated = json.loads(outputs[False]), json.loads(outputs[True])
    assert local == isolated, "isolated and in-process inspect --json differ"
    rows = [
        ("inspect --json, whole process", statistics.median(timed[False]),
         statistics.median(timed[True])),
        ("fc1: open", _median(fc1[False], "open"), _median(fc1[True], "open")),
        ("fc1: first array() + stats()", _median(fc1[False], "read"),
         _median(fc1[True], "read")),
        ("fc1: open + first read + stats", _median(fc1[False], "total"),
         _median(fc1[True], "total")),
    ]  # fmt: skip
    print(f"{'measure':<34}{'in process':>12}{'isolated':>10}{'ratio':>8}")
    for label, a, b in rows:
        print(f"{label:<34}{a:12.2f}{b:10.2f}{b / a:8.2f}")
    print("identical inspect --json output: yes; target ratio <= 1.3")


if __name__ == "__main__":
    main()
