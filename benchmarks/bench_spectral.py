"""What WeightWatcher's spectral metrics add on VGG16 (138 M weights), and what the cache saves.

Run from the repository root: ``python -m benchmarks.bench_spectral``. It reuses
``bench_vgg16``'s model file (built on first use). In one fresh interpreter, with an empty
statistics cache: open the ``.keras`` file; (a) every weight's plain statistics (the floor: one
chunked pass over 138 M values); (b) then every analysed weight's spectrum (an SVD or a ``W^T W``
eigenproblem per matrix, and WeightWatcher's power-law fit), layer by layer; save the cache. In a
second interpreter: (c) open the file again and read every spectrum back from the cache. Prints
the spectra's cost as a ratio of the statistics pass, the costliest layers, and the load average.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from benchmarks.bench_vgg16 import ROOT, build

_FIRST = """
import json, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from kerascope.extraction import open_model
from kerascope.extraction.analysis.spectrum import analysed_weights, spectral_stats
from kerascope.extraction.analysis.stats_cache import save_stats
path = Path({path!r})
model = open_model(path)
t0 = time.perf_counter()
for _, w in model.iter_weights():
    w.stats()
stats_s = time.perf_counter() - t0
layers = {{}}
t0 = time.perf_counter()
for layer, weight, plan in analysed_weights(model):
    t = time.perf_counter()
    s = spectral_stats(layer, weight)
    layers[f"{{layer.path}}/{{weight.name}} {{plan.num_evals}} evals"] = [
        time.perf_counter() - t, s.alpha if s else None]
spectra_s = time.perf_counter() - t0
save_stats(model, path)
print(json.dumps({{"stats": stats_s, "spectra": spectra_s, "layers": layers}}))
"""

_AGAIN = """
import json, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from kerascope.extraction import open_model
from kerascope.extraction.analysis.spectrum import analysed_weights, spectral_stats
t0 = time.perf_counter()
model = open_model(Path({path!r}))
found = [spectral_stats(la, w) for la, w, _ in analysed_weights(model)]
read = sum(w.is_loaded for _, w in model.iter_weights())
print(json.dumps({{"seconds": time.perf_counter() - t0, "count": len(found), "read": read}}))
"""


def _run(code: str, cache: str) -> dict[str, object]:
    env = {**os.environ, "KERASCOPE_CACHE_DIR": cache}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    path = build()["keras"]
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as cache:
        first = _run(_FIRST.format(root=str(ROOT), path=str(path)), cache)
        again = _run(_AGAIN.format(root=str(ROOT), path=str(path)), cache)
    stats_s, spectra_s = float(first["stats"]), float(first["spectra"])  # type: ignore[arg-type]
    layers: dict[str, list[float]] = first["layers"]  # type: ignore[assignment]
    print(f"VGG16 ({path.name}), load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"(a) plain statistics of every weight:        {stats_s:7.2f} s")
    print(
        f"(b) spectra of the {len(layers)} analysed weights:    {spectra_s:7.2f} s "
        f"({spectra_s / stats_s:.1f}x the statistics pass)"
    )
    for name, (seconds, alpha) in sorted(layers.items(), key=lambda kv: -kv[1][0])[:5]:
        print(f"      {name:40} {seconds:6.2f} s  alpha {alpha:.2f}")
    print(
        f"(c) reopened, every spectrum from the cache:  {float(again['seconds']):7.2f} s "  # type: ignore[arg-type]
        f"({again['count']} spectra, {again['read']} arrays read)"
    )


if __name__ == "__main__":
    main()
