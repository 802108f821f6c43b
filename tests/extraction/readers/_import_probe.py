"""Imported first by the sandboxed worker when ``KERASCOPE_WORKER_PLUGIN`` names it (only the
test suite does): after each manifest the worker builds, it writes one line to stderr naming the
heavy packages the worker has imported by then (the worker's stderr shows with
``KERASCOPE_VERBOSE``). The worker's environment is bare, so ``-X importtime`` cannot reach it."""

from __future__ import annotations

import json
import sys
from typing import Any

from kerascope.extraction.readers import _wire

MODULE = "tests.extraction.readers._import_probe"
MARKER = "worker-heavy-imports: "
HEAVY = ("ml_dtypes", "h5py", "tensorflow", "keras")

_manifest = _wire.manifest


def _reporting_manifest(records: Any) -> Any:
    built = _manifest(records)
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
    sys.stderr.write(MARKER + json.dumps(heavy) + "\n")
    sys.stderr.flush()
    return built


def _in_worker() -> bool:
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec is not None and spec.name.endswith("readers._child")


if _in_worker():  # imported by the test itself for MODULE and MARKER, it changes nothing
    _wire.manifest = _reporting_manifest
