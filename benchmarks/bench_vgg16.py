"""VGG16 (138 M weights, a 553 MB .keras): Kerascope's file readers against the Keras path.

Run from the repository root: ``python -m benchmarks.bench_vgg16`` (or ``make bench``).

The model is built once with ``keras.applications.VGG16(weights=None)`` and cached under
``benchmarks/.cache/``. Every measurement runs in a fresh interpreter, so nothing is warm:
(a) list layers and shapes with ``read_file``; (b) read the largest array (fc1's kernel,
25088 x 4096 float32, 411 MB), with peak RSS above the interpreter's baseline after imports;
(c) ``python -m extraction inspect FILE --json`` (every weight's statistics), whole process;
(d) the Keras path: ``keras.models.load_model`` + every weight's numpy + the same statistics,
whole process. Targets: (c) >= 10x faster than (d); (a) < 0.5 s; (b) peak < 1.5x the array.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"
FC1_BYTES = 25088 * 4096 * 4

_PROBE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
{imports}
base = rss()
t0 = time.perf_counter()
{work}
print(json.dumps({{"seconds": time.perf_counter() - t0, "peak_above_base": rss() - base}}))
"""

CASES = {
    "list": (
        "from pathlib import Path\nfrom kerascope.extraction.readers import read_file\n"
        "from kerascope.extraction.readers.sniff import sniff",
        "p = Path({path!r}); m = read_file(p, sniff(p))\nn = sum(len(l.weights) for l in m.layers)",
    ),
    "fc1": (
        "from pathlib import Path\nfrom kerascope.extraction.readers import read_file\n"
        "from kerascope.extraction.readers.sniff import sniff",
        "p = Path({path!r}); m = read_file(p, sniff(p))\n"
        "a = m.layer('fc1').weight('kernel').array(); assert a.shape == (25088, 4096)",
    ),
    "read_all": (
        "from pathlib import Path\nfrom kerascope.extraction.readers import read_file\n"
        "from kerascope.extraction.readers.sniff import sniff",
        "p = Path({path!r}); m = read_file(p, sniff(p))\n"
        "arrays = [w.array() for _, w in m.iter_weights()]",
    ),
    "stats_only": (
        "import numpy as np\nfrom kerascope.extraction.analysis.stats import compute_stats\n"
        "arrays = [np.ones(n, 'float32') for n in (102760448, 16777216, 14714688, 4096000)]",
        "stats = [compute_stats(a) for a in arrays]",
    ),
    "keras": (
        "import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nimport keras\n"
        "from kerascope.extraction.analysis.stats import compute_stats",
        "model = keras.models.load_model({path!r}, compile=False)\n"
        "stats = [compute_stats(w.numpy()) for w in model.weights]",
    ),
}


def build() -> dict[str, Path]:
    """The cached VGG16 files, built in a child process the first time."""
    CACHE.mkdir(parents=True, exist_ok=True)
    files = {"keras": CACHE / "vgg16.keras", "h5": CACHE / "vgg16.h5"}
    if not all(p.is_file() for p in files.values()):
        script = (
            "import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nimport keras\n"
            "m = keras.applications.VGG16(weights=None)\n"
            f"m.save({str(files['keras'])!r}); m.save({str(files['h5'])!r})\n"
        )
        subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    return files


def probe(case: str, path: Path) -> dict[str, float]:
    """Run one case in a fresh interpreter; its seconds, peak RSS and whole-process time."""
    imports, work = CASES[case]
    code = _PROBE.format(root=str(ROOT), imports=imports, work=work.format(path=str(path)))
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{case} failed: {done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = wall
    return result


def cli_inspect(path: Path) -> float:
    """Whole-process seconds of ``python -m extraction inspect FILE --json``."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "extraction", "inspect", str(path), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"inspect failed: {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    weights = [w for layer in report["layers"] for w in layer["weights"]]
    assert weights and all(w.get("stats") for w in weights), "inspect printed no statistics"
    return wall


def main() -> None:
    files = build()
    mb = 1024**2
    print(
        f"VGG16: {files['keras'].stat().st_size / mb:.0f} MB .keras, "
        f"fc1 kernel {FC1_BYTES / mb:.0f} MB"
    )
    stats = probe("stats_only", files["keras"])
    print(f"extraction.analysis.stats alone on 138 M float32 values: {stats['seconds']:.2f} s")
    print(f"{'file':<7}{'measure':<44}{'seconds':>9}{'peak MB':>9}")
    for fmt, path in files.items():
        listed = probe("list", path)
        fc1 = probe("fc1", path)
        inspect = cli_inspect(path)
        keras = probe("keras", path)
        read_all = probe("read_all", path)
        rows = [
            ("(a) list layers (read_file)", listed["seconds"], listed["peak_above_base"]),
            ("(b) read fc1 kernel (open + array)", fc1["seconds"], fc1["peak_above_base"]),
            ("(c) inspect --json, whole process", inspect, None),
            ("(d) keras load_model + numpy + stats, process", keras["process_seconds"], None),
            ("    (d) without interpreter/TF start-up", keras["seconds"], keras["peak_above_base"]),
            ("    reader alone: every array, no stats", read_all["seconds"], None),
        ]
        for label, seconds, peak in rows:
            shown = f"{peak / mb:9.0f}" if peak is not None else f"{'':>9}"
            print(f"{fmt:<7}{label:<44}{seconds:9.2f}{shown}")
        print(
            f"{fmt:<7}the reader's share of (c): {read_all['seconds']:.2f} s; the statistics "
            f"(extraction.analysis.stats) of 138 M values take the rest"
        )
        print(
            f"{fmt:<7}ratios: (d)/(c) = {keras['process_seconds'] / inspect:.1f}x (target >= 10x); "
            f"(a) {listed['seconds']:.3f} s (target < 0.5 s); "
            f"(b) peak / fc1 bytes = {fc1['peak_above_base'] / FC1_BYTES:.2f} (target < 1.5)"
        )


if __name__ == "__main__":
    main()
