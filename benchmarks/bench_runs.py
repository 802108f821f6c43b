"""A run of 100 snapshots of a 10 M-parameter model: the first visit, the second, and scrubbing.

Run from the repository root: ``python -m benchmarks.bench_runs`` (or ``make bench``).

The run is written once by ``WeightRecorder`` (a 4-layer MLP, 9.97 M float32 weights, trained
99 one-batch epochs plus the state before training: 100 ``.weights.h5`` files, 4 GB) and cached
under ``benchmarks/.cache/run100``. Each measurement runs in a fresh interpreter:
(a) first visit: ``open_run`` + ``timeline`` with an empty statistics cache (every array read
once, statistics, histograms and changes computed and written to the cache);
(b) second visit: the same in a new process, the statistics from the disk cache;
(c) scrubbing: with the run open, one slider step does what the page's Layer tab does for the
2048 x 2048 kernel: open the snapshot, its weight on the run's colour scale and its change since
the snapshot before (two heatmaps), the histograms over time, the layer's small multiples and
its health findings (computed in the first visit). Steps 1-30 in order (play), then 20 random
jumps. Target: under 1 s a step. Wall time and the process's CPU time are both printed: on a
shared machine the CPU time says what a step costs, the wall time what it took there.
The floors: for (a), one plain h5py pass in a fresh process that opens every snapshot and
reads every array (target: (a) within 5x of it); for (c), reading the same kernel from its HDF5
file.
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
RUN = ROOT / "benchmarks" / ".cache" / "run100"
SNAPSHOTS = 100

_BUILD = """
import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
import sys; sys.path.insert(0, {root!r})
import keras, numpy as np
from keras import layers
from kerascope.extraction import WeightRecorder
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input((1024,)), layers.Dense(2048, activation='relu', name='d1'),
    layers.Dense(2048, activation='relu', name='d2'), layers.Dense(1024, activation='relu',
    name='d3'), layers.Dense(1536, name='out')], name='mlp10m')
m.compile(keras.optimizers.SGD(1e-3), 'mse')
x = np.random.default_rng(0).normal(size=(16, 1024)).astype('float32')
y = np.random.default_rng(1).normal(size=(16, 1536)).astype('float32')
recorder = WeightRecorder({run!r}, max_bytes=8 * 1024**3)
m.fit(x, y, epochs={epochs}, batch_size=16, verbose=0, callbacks=[recorder])
print(m.count_params())
"""

_VISIT = """
import json, sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
from kerascope.extraction import open_run
from kerascope.extraction.analysis.timeline import timeline
run = open_run({run!r})
line = timeline(run)
print(json.dumps({{"seconds": time.perf_counter() - t0, "snapshots": len(run.snapshots)}}))
"""

_FLOOR = """
import glob, json, time
t0 = time.perf_counter()
import h5py
def visit(name, obj):
    if isinstance(obj, h5py.Dataset):
        obj[()]
for path in sorted(glob.glob({run!r} + '/*.weights.h5')):
    with h5py.File(path, 'r') as f:
        f.visititems(visit)
print(json.dumps({{"seconds": time.perf_counter() - t0}}))
"""

_SCRUB = """
import json, random, statistics, sys, time
sys.path.insert(0, {root!r})
import h5py, numpy as np
from kerascope.extraction import open_run
from kerascope.extraction.analysis.timeline import timeline
from kerascope.components.figures import timeline as figures
run = open_run({run!r})
line = timeline(run)
steps = [s.step for s in run.snapshots]
labels = [s.label for s in run.snapshots]
path, name = 'd2', 'kernel'

def step(i):
    t0, c0 = time.perf_counter(), time.process_time()
    layer = run.model(i).layer(path)
    w = layer.weight(name)
    wl = line.weights[path + '/' + name]
    common = dict(kind=layer.kind, role=w.role, name=name)
    figures.weight_figure(w.array(), **common, limit=wl.limit(), title='now', subtitle='')
    if i:
        before = run.model(i - 1).layer(path).weight(name).array()
        figures.weight_figure(w.array() - before, **common, limit=wl.change_limit(),
                              title='change', subtitle='')
    figures.ridgeline_figure(wl, steps, labels, i)
    own = [line.weights[path + '/' + n] for n in ('kernel', 'bias')]
    figures.multiples_figure(own, steps, ['l2', 'std', 'update_ratio'], marker=i)
    line.findings_at(i, path)
    return time.perf_counter() - t0, time.process_time() - c0

play = [step(i) for i in range(1, 31)]
random.seed(0)
jumps = [step(random.randrange(len(steps))) for _ in range(20)]
t0 = time.perf_counter()
with h5py.File(run.snapshots[50].source) as f:
    found = []
    f.visititems(lambda k, v: found.append(k) if getattr(v, 'shape', 0) == (2048, 2048) else None)
    np.asarray(f[found[0]])
floor = time.perf_counter() - t0
wall = lambda xs: [x[0] for x in xs]
cpu = lambda xs: [x[1] for x in xs]
print(json.dumps({{"play_median": statistics.median(wall(play)), "play_max": max(wall(play)),
    "jump_median": statistics.median(wall(jumps)), "jump_max": max(wall(jumps)), "floor": floor,
    "play_cpu_median": statistics.median(cpu(play)), "play_cpu_max": max(cpu(play)),
    "jump_cpu_median": statistics.median(cpu(jumps)), "jump_cpu_max": max(cpu(jumps)),
    "load": __import__("os").getloadavg()[0]}}))
"""


def build() -> Path:
    """The cached run, written by WeightRecorder in a child process the first time."""
    manifest = RUN / "kerascope-run.json"
    if manifest.is_file() and len(json.loads(manifest.read_text())["snapshots"]) == SNAPSHOTS:
        return RUN
    RUN.parent.mkdir(parents=True, exist_ok=True)
    code = _BUILD.format(root=str(ROOT), epochs=SNAPSHOTS - 1, run=str(RUN))
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    if len(json.loads(manifest.read_text())["snapshots"]) != SNAPSHOTS:
        raise RuntimeError(f"{RUN} does not hold {SNAPSHOTS} snapshots")
    return RUN


def run_probe(template: str, cache: str) -> dict[str, float]:
    code = template.format(root=str(ROOT), run=str(RUN))
    env = {**os.environ, "KERASCOPE_CACHE_DIR": cache}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    t0 = time.perf_counter()
    build()
    size = sum(p.stat().st_size for p in RUN.glob("*.weights.h5"))
    print(f"run: {SNAPSHOTS} snapshots, {size / 1024**3:.2f} GB ({time.perf_counter() - t0:.0f} s)")
    with tempfile.TemporaryDirectory(prefix="kerascope-bench-") as cache:
        loads = [os.getloadavg()[0]]
        floor = run_probe(_FLOOR, cache)
        loads.append(os.getloadavg()[0])
        first = run_probe(_VISIT, cache)
        loads.append(os.getloadavg()[0])
        second = run_probe(_VISIT, cache)
        loads.append(os.getloadavg()[0])
        scrub = run_probe(_SCRUB, cache)
    print(f"{'measure':<52}{'wall s':>9}{'CPU s':>9}")
    rows = [
        ("floor: one h5py pass, every array of every snapshot", floor["seconds"], None),
        ("(a) first visit: open_run + timeline, empty cache", first["seconds"], None),
        ("(b) second visit, new process, disk cache", second["seconds"], None),
        ("(c) one slider step, in order (median of 30)", scrub["play_median"], "play_cpu_median"),
        ("    in order, slowest", scrub["play_max"], "play_cpu_max"),
        ("    random jumps (median of 20)", scrub["jump_median"], "jump_cpu_median"),
        ("    random jumps, slowest", scrub["jump_max"], "jump_cpu_max"),
        ("    floor: read the 2048 x 2048 kernel with h5py", scrub["floor"], None),
    ]
    for label, seconds, cpu in rows:
        cpu_text = f"{scrub[cpu]:>9.3f}" if cpu else ""
        print(f"{label:<52}{seconds:>9.3f}{cpu_text}")
    averages = ", ".join(f"{x:.1f}" for x in loads)
    print(f"load average before the floor, (a), (b) and after: {averages}")
    print(f"load average during the scrub: {scrub['load']:.1f} on {os.cpu_count()} cores")
    ratio = first["seconds"] / floor["seconds"]
    print(f"(a) / floor = {ratio:.2f}x (target <= 5x): {'met' if ratio <= 5 else 'MISSED'}")
    worst = max(scrub["play_cpu_max"], scrub["jump_cpu_max"])
    print(f"target: under 1 s a step after the first visit: {'met' if worst < 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
