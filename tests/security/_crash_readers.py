"""Readers that crash, hang or allocate without bound: only the test suite loads them.

The sandboxed worker imports this module when ``KERASCOPE_WORKER_PLUGIN`` names it (the tests
set it; nothing else does). It adds one ``FORMATS`` row per misbehaviour and sniffs files that
start with ``WSTEST:<kind>\\n``, so a test makes a "model file" that really kills, hangs or
bloats the process that parses it, as a libhdf5 bug would.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np

from kerascope.extraction.readers import FORMATS, Format
from kerascope.extraction.readers.store import ArrayStore, Deferred
from kerascope.extraction.records import LayerWeights, ModelWeights

MODULE = "tests.security._crash_readers"
"""What ``KERASCOPE_WORKER_PLUGIN`` is set to."""
MAGIC = b"WSTEST:"
KINDS = ("segv", "hang", "bomb", "lazy_segv", "cpu")


def crasher(kind: str) -> bytes:
    """The bytes of a file that makes its reader misbehave as ``kind``."""
    assert kind in KINDS
    return MAGIC + kind.encode() + b"\n" + b"\0" * 64


def sniff(path: Path) -> str | None:
    if not path.is_file():
        return None
    with path.open("rb") as f:
        head = f.read(32)
    if not head.startswith(MAGIC):
        return None
    kind = head[len(MAGIC) :].split(b"\n", 1)[0].decode()
    return f"test_{kind}" if kind in KINDS else None


def _segv() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def _hang() -> None:
    while True:  # a parser stuck in a loop, not waiting: only a kill ends it
        sum(range(10_000))


def _cpu() -> None:
    # Busy on several threads, as a decompressor would be: CPU time outruns wall time.
    import threading

    for _ in range(3):
        threading.Thread(target=_hang, daemon=True).start()
    _hang()


def _bomb() -> None:
    hoard = []
    while True:
        hoard.append(np.ones(64 * 1024**2 // 8))  # touched, so it is really resident


class _Misbehaving(Format):
    def read(self, path: Path) -> ModelWeights:
        kind = self.id.removeprefix("test_")
        if kind == "lazy_segv":
            store = ArrayStore()
            crash = Deferred(_lazy_segv)
            weight = store.weight("kernel", crash, shape=(2, 2), dtype="float32")
            fine = store.weight("bias", np.ones(2, "float32"))
            layer = LayerWeights("dense", "dense", "Dense", "dense", {}, (weight, fine))
            return ModelWeights(str(path), self.id, "lazy", (layer,), store=store)
        {"segv": _segv, "hang": _hang, "bomb": _bomb, "cpu": _cpu}[kind]()
        raise AssertionError("unreachable")


def _lazy_segv() -> np.ndarray:
    _segv()
    raise AssertionError("unreachable")


for _kind in KINDS:
    FORMATS[f"test_{_kind}"] = _Misbehaving(
        f"test_{_kind}", f"a test file that {_kind}s", "unused:unused", (".h5",)
    )
