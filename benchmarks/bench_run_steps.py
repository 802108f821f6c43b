"""Runs saved every batch: a 520-snapshot run that diverges, and a 5,000-snapshot recorder run.

Run from the repository root: ``python -m benchmarks.bench_run_steps [--skip-5000]``.

(1) A 37 k-weight CNN trained 520 batches, its weights saved after every batch by a plain Keras
callback (``save_weights("step-00001.weights.h5")`` ..., ``benchmarks/step_run.py``). What it
saves goes wrong as a real divergence does: from step 400 on conv_b's kernel is 1000x too
large, at step 500 conv_b's bias holds NaN, and from step 501 every weight is NaN (the training
itself is not disturbed, so the run is the same every time). Each measurement runs in a fresh
process:
- the floor: one plain h5py pass that opens every snapshot and reads every array;
- ``python -m extraction timeline RUN --json``, whole process, with an empty cache (every
  snapshot read once through the sandboxed worker), then again from the disk cache.
Target: the first within 5x of the floor. It also checks what the JSON says: first_anomaly =
conv_b/kernel at step 400, first_nan = step 500 with exactly conv_b/bias, labels ``step N``.

(2) A small model recorded by ``WeightRecorder(every=1)`` for 5,000 batches: ``open_run``
(listing), in a fresh process. Target: under 5 s.

Runs are written once and cached under ``benchmarks/.cache``. Wall times, with the load average
(1 minute) before each measurement: on a shared machine, run it when idle and when loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"
RUN = CACHE / "run_steps" / "steps520"
BIG = CACHE / "run5000"
STEPS = 520
BIG_STEPS = 5000

_BUILD_BIG = """
import os, sys; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
import keras, numpy as np
sys.path.insert(0, {root!r})
from kerascope.extraction import WeightRecorder
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, name='hidden'),
                          keras.layers.Dense(1, name='out')])
model.compile('sgd', 'mse')
x = np.random.default_rng(0).normal(size=({steps}, 8)).astype('float32')
model.fit(x, x[:, :1], batch_size=1, epochs=1, verbose=0,
          callbacks=[WeightRecorder({run!r}, every=1, max_bytes=2**31)])
"""

_FLOOR = """
import glob, json, sys, time
t0 = time.perf_counter()
import h5py
count = 0
def visit(name, obj):
    global count
    if isinstance(obj, h5py.Dataset):
        count += obj[()].size
for path in sorted(glob.glob({run!r} + '/*.weights.h5')):
    with h5py.File(path, 'r') as f:
        f.visititems(visit)
print(json.dumps({{"seconds": time.perf_counter() - t0, "values": count}}))
"""

_LIST = """
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from kerascope.extraction import open_run
run = open_run({run!r})
print(json.dumps({{"seconds": time.perf_counter() - t0, "snapshots": len(run.snapshots),
                   "last": run.snapshots[-1].label}}))
"""


def build(code: str, run: Path, count: int) -> Path:
    """The cached run, written by ``code`` in a child process the first time."""
    done = run / ".complete"
    if done.is_file():
        return run
    run.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=ROOT)
    files = list(run.glob("*.weights.h5"))
    if len(files) < count:
        raise RuntimeError(f"{run} holds {len(files)} snapshots, not {count}")
    done.touch()
    return run


_STEPS = (
    "import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
    "from pathlib import Path\n"
    "from benchmarks.step_run import Plant, write_keras_steps\n"
    "write_keras_steps(Path({run!r}), {steps}, Plant(blowup_step=400, nan_step=500, "
    "spread_step=501))\n"
)


def probe(code: str, env: dict[str, str] | None = None) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT
    )
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def timed_cli(run: Path, cache: str) -> tuple[float, dict[str, object]]:
    env = {**os.environ, "KERASCOPE_CACHE_DIR": cache}
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "extraction", "timeline", str(run), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - t0
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    data: dict[str, object] = json.loads(done.stdout)
    return seconds, data


def load() -> str:
    return f"{os.getloadavg()[0]:5.1f}"


def main() -> None:
    t0 = time.perf_counter()
    build(_STEPS.format(run=str(RUN), steps=STEPS), RUN, STEPS)
    size = sum(p.stat().st_size for p in RUN.glob("*.weights.h5"))
    print(f"run520: {STEPS} snapshots, {size / 1024**2:.0f} MB ({time.perf_counter() - t0:.0f} s)")
    print(f"{'measure':<58}{'wall s':>8}{'load':>7}")
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="kerascope-bench-") as cache:
        before = load()
        floor = float(probe(_FLOOR.format(run=str(RUN)))["seconds"])  # type: ignore[arg-type]
        rows.append(("floor: one h5py pass, every array of every snapshot", floor, before))
        before = load()
        first, data = timed_cli(RUN, cache)
        rows.append(("timeline --json, whole process, empty cache", first, before))
        before = load()
        second, _ = timed_cli(RUN, cache)
        rows.append(("timeline --json, whole process, from the disk cache", second, before))
    for label, seconds, avg in rows:
        print(f"{label:<58}{seconds:>8.2f}{avg:>7}")
    ratio = first / floor
    print(f"ratio first / floor = {ratio:.2f}x (target <= 5x): {'met' if ratio <= 5 else 'MISSED'}")
    events = data["events"]
    assert isinstance(events, dict)
    anomaly, nan = events["first_anomaly"], events["first_nan"]
    print(f"first_anomaly: {json.dumps(anomaly)[:160]}")
    print(f"first_nan: {json.dumps(nan)}")
    snaps = data["snapshots"]
    assert isinstance(snaps, list)
    ok = (
        anomaly is not None
        and (anomaly["step"], anomaly["layer"], anomaly["weight"]) == (400, "conv_b", "kernel")
        and nan is not None
        and nan["step"] == 500
        and [(w["layer"], w["weight"]) for w in nan["weights"]] == [("conv_b", "bias")]
        and snaps[0]["label"] == "step 1"
    )
    print(f"events and labels as planted: {'yes' if ok else 'NO'}")
    if "--skip-5000" in sys.argv:
        return
    t0 = time.perf_counter()
    build(_BUILD_BIG.format(root=str(ROOT), steps=BIG_STEPS, run=str(BIG)), BIG, BIG_STEPS)
    print(f"run5000: recorder every batch ({time.perf_counter() - t0:.0f} s to have it)")
    before = load()
    listed = probe(_LIST.format(root=str(ROOT), run=str(BIG)))
    seconds = float(listed["seconds"])  # type: ignore[arg-type]
    print(
        f"open_run (list {listed['snapshots']} snapshots, last {listed['last']}), whole "
        f"import included: {seconds:.2f} s, load {before} (target < 5 s): "
        f"{'met' if seconds < 5 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
