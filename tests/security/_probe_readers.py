"""A reader that tries what an exploit inside the worker would try: only the test suite loads it.

The sandboxed worker imports this module when ``KERASCOPE_WORKER_PLUGIN`` names it. A file that
starts with ``WSTEST:probe\\n`` followed by a JSON object of targets (a file beside it, a port
listening on 127.0.0.1, a folder outside the worker's, a variable name) is "read" by running
each attempt as the worker, under its real sandbox, and answering with one layer whose single
note is the JSON of what each attempt did: ``"ok"`` or the error it met (``PermissionError
EPERM``). The attempts are the real system calls, not simulations. Where notes do not cross (a
run's scan sends statistics only), the layer's weights say it too: ``denied`` holds 1 for each
attempt that must fail and was refused, ``worked`` 1 for each that must work and did.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kerascope.extraction.readers import FORMATS, Format
from kerascope.extraction.readers.store import ArrayStore
from kerascope.extraction.records import LayerWeights, ModelWeights

MODULE = "tests.security._probe_readers"
"""What ``KERASCOPE_WORKER_PLUGIN`` is set to."""
MAGIC = b"WSTEST:probe\n"


def probe_file(path: Path, targets: dict[str, Any]) -> Path:
    """Write a probe file at ``path`` aimed at ``targets``."""
    path.write_bytes(MAGIC + json.dumps(targets).encode())
    return path


def sniff(path: Path) -> str | None:
    if not path.is_file():
        return None
    with path.open("rb") as f:
        head = f.read(len(MAGIC))
    return "test_probe" if head == MAGIC else None


def _outcome(attempt: Callable[[], object]) -> str:
    try:
        attempt()
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        return f"{type(exc).__name__} {code}"
    except Exception as exc:  # noqa: BLE001 - the kind of failure is the answer
        return type(exc).__name__
    return "ok"


def _libc_call(name: str, *args: object) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _connect(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def _write(path: str) -> None:
    Path(path).write_text("written from inside the worker")


def _fork() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def _thread() -> None:
    done: list[int] = []
    worker = threading.Thread(target=lambda: done.append(int(np.arange(10).sum())))
    worker.start()
    worker.join()
    assert done == [45]


def _scratch() -> None:
    with tempfile.NamedTemporaryFile() as f:
        f.write(b"the worker's own temporary folder is writable")


MUST_WORK = ("write its temp folder", "start a thread")
"""What a reader needs, which the sandbox must leave working."""


def _attempts(targets: dict[str, Any]) -> dict[str, Callable[[], object]]:
    parent = os.getppid()
    return {
        "read /etc/hostname": lambda: Path("/etc/hostname").read_bytes(),
        "read beside": lambda: Path(targets["beside"]).read_bytes(),
        "list its folder": lambda: os.listdir(targets["folder"]),
        "read the server's environ": lambda: Path(f"/proc/{parent}/environ").read_bytes(),
        "connect 127.0.0.1": lambda: _connect(int(targets["port"])),
        "unix socket": lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close(),
        "write outside": lambda: _write(targets["outside"]),
        "write beside": lambda: _write(targets["beside"] + ".new"),
        "write its temp folder": _scratch,
        "fork": _fork,
        "run a program": lambda: subprocess.run(["/bin/true"], check=True),
        "exec": lambda: os.execv("/bin/true", ["/bin/true"]),
        "signal the server": lambda: os.kill(parent, 0),
        "ptrace the server": lambda: _libc_call("ptrace", 16, parent, None, None),
        "mount": lambda: _libc_call("mount", b"none", b"/mnt", b"tmpfs", 0, None),
        "start a thread": _thread,
    }


class _Probe(Format):
    def read(self, path: Path) -> ModelWeights:
        targets = json.loads(path.read_bytes()[len(MAGIC) :])
        found = {name: _outcome(attempt) for name, attempt in _attempts(targets).items()}
        denied = [v.startswith("PermissionError") for k, v in found.items() if k not in MUST_WORK]
        worked = [found[k] == "ok" for k in MUST_WORK]
        found["pid"] = str(os.getpid())
        found["environment"] = " ".join(sorted(os.environ))
        store = ArrayStore()
        weights = tuple(
            store.weight(name, np.array(flags, "float32"), role="kernel")
            for name, flags in (("denied", denied), ("worked", worked))
        )
        layer = LayerWeights("probe", "probe", "Dense", "dense", {}, weights)
        return ModelWeights(
            str(path), self.id, "probe", (layer,), (json.dumps(found),), store=store
        )


FORMATS["test_probe"] = _Probe(
    "test_probe", "a test file that probes its sandbox", "unused:unused", (".h5",)
)
