"""A run's snapshots read in one worker request: every file's numbers, none of its arrays.

Reading a run snapshot by snapshot through ``open_isolated`` costs a worker process and a full
open per file, and sends every array across; a run of 500 per-batch snapshots then took minutes.
Here one sandboxed worker reads them all, one after the other, with the ordinary readers
(``analysis.snapshots.Scanner``: snapshots of one layout are read as bytes after the first), and
sends back each snapshot's numbers (statistics, histogram, change, cheap findings) as it has
them. The worker runs under the usual limits, renewed per snapshot: ``KERASCOPE_WORKER_SECONDS``
of wall time and ``KERASCOPE_WORKER_CPU_SECONDS`` of CPU for each file, memory for the largest
file four times over (the template, the file before, this one, their differences).

The messages (``_wire``): request ``ScanRun`` (``{"type": "scan_run", "files": [[path, before |
null], ...], "folders": [path]}``: the private folder the worker may write in, its temporary
files); ``Confined``: what the worker's sandbox holds, before it reads a byte (Landlock then
lets it read only these files, or their folders where they read beside them); for each file in
order a ``SnapshotRead`` (its numbers, or the error reading it raised); ``Preloading`` before a
reader's slow imports (TensorFlow for checkpoints; the wait then has ``WORKER_PRELOAD_SECONDS``)
and ``Ready`` after them; last, ``ScanDone``.
A worker that crashes, hangs or runs out of memory on one file costs that file only: it is
reported as that snapshot's error, and a fresh worker reads the files after it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

from ..errors import ReaderCrashed
from ._wire import ScanDone, ScanRun, SnapshotRead

MEMORY_FACTOR = 4
"""The worker's memory beyond what it has mapped: this many times the largest file."""

Item = tuple[str, "str | None"]
"""A file to read and the file before it (its changes are measured against it)."""


# The worker's side --------------------------------------------------------------------------


def serve_scan(request: ScanRun, conn: Connection, renew: Callable[[], None]) -> ScanDone:
    """Answer one ``ScanRun`` in the worker (``renew`` renews the CPU allowance per file)."""
    from pathlib import Path

    from ..analysis.snapshots import Scanner
    from ._child import _plugin_sniff, confine_to, fit_memory_to, out_of_memory, preload_modules
    from ._wire import Preloading, Ready, SnapshotRead, dumps, failed
    from .sniff import sniff

    files = request.files
    confine_to(sorted({Path(p) for f in files for p in f if p}), request.folders, conn)
    sizes = [_size(path) for path, _ in files]
    fit_memory_to(MEMORY_FACTOR * max(sizes, default=0))

    def preload(fmt: str) -> None:
        from . import FORMATS

        conn.send_bytes(dumps(Preloading()))
        preload_modules(FORMATS[fmt].preload)
        conn.send_bytes(dumps(Ready()))

    scanner = Scanner(preload, lambda path: _plugin_sniff(path) or sniff(path))
    for k, (path, before) in enumerate(files):
        renew()
        try:
            message = SnapshotRead(k, scanner.entry(path, before), None)
        except Exception as exc:  # reported per file; the caller decides  # noqa: BLE001
            if out_of_memory(exc):
                raise
            message = SnapshotRead(k, None, failed(exc))
        conn.send_bytes(dumps(message))
    return ScanDone(len(files))


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


# The caller's side --------------------------------------------------------------------------


def scan_isolated(items: list[Item]) -> Iterator[tuple[int, Any]]:
    """Each file's entry (JSON data, unchecked: see ``snapshots.parse_entry``) or the error that
    reading it raised, as ``(index into items, entry | KerascopeError)``, in order.

    Stopping the iteration ends the worker.
    """
    import shutil
    import tempfile

    from ..settings import Settings

    limits = Settings.from_env().worker
    scratch = tempfile.mkdtemp(prefix="kerascope-worker-")  # 0700; the worker writes only here
    try:
        yield from _scan(items, limits, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _scan(items: list[Item], limits: Any, scratch: str) -> Iterator[tuple[int, Any]]:
    """``scan_isolated`` with ``scratch``, the folder its workers may write in."""
    from .worker import _Ended, _Process, crash_line, worker_error

    start = 0
    while start < len(items):
        batch = list(items[start:])
        process = _Process(limits)
        at = start
        fmt: str | None = None
        try:
            for k, reply in _replies(process, batch, limits, scratch):
                if k is None or reply is None:
                    return
                if reply.entry is not None:
                    yield start + k, reply.entry
                else:
                    assert reply.error is not None  # (_wire: exactly one of the two)
                    name = os.path.basename(items[start + k][0])
                    yield start + k, worker_error(reply.error, name)
                at = start + k + 1
            return
        except _Ended as ended:
            subject = os.path.basename(items[at][0]) if at < len(items) else "the run"
            yield at, ReaderCrashed(crash_line(subject, ended.how, ended.detail, fmt, limits))
            start = at + 1
            if start < len(items):  # the file before the next one is the one that failed
                items = [*items[:start], (items[start][0], None), *items[start + 1 :]]
        finally:
            process.kill()


def _replies(
    process: Any, batch: list[tuple[str, str | None]], limits: Any, scratch: str
) -> Iterator[tuple[int | None, SnapshotRead | None]]:
    """The worker's replies to one request: ``(k, SnapshotRead)``, then ``(None, None)``.

    Raises:
        _Ended: the worker died, hung, ran out of memory or sent what this protocol does not.
    """
    from ._wire import (
        Failed,
        OutOfMemory,
        Preloading,
        Ready,
        SnapshotRead,
        WireError,
        dumps,
        loads,
        reply_from_wire,
    )
    from .safety import WORKER_PRELOAD_SECONDS
    from .worker import MAX_MESSAGE_BYTES, _Ended

    try:
        process.conn.send_bytes(dumps(ScanRun(batch, [scratch])))
    except OSError as exc:
        raise process._gone() from exc
    expected = 0
    deadline = time.monotonic() + limits.wall
    while True:
        if not process.wait(deadline):
            process.kill()
            raise _Ended("hung")
        try:
            reply = reply_from_wire(loads(process.conn.recv_bytes(MAX_MESSAGE_BYTES)))
        except (EOFError, OSError) as exc:
            raise process._gone() from exc
        except WireError as exc:
            process.kill()
            raise _Ended("garbled") from exc
        if process.confined(reply):
            continue
        if isinstance(reply, Preloading):
            deadline = time.monotonic() + WORKER_PRELOAD_SECONDS
            continue
        if isinstance(reply, Ready):
            deadline = time.monotonic() + limits.wall
            continue
        if isinstance(reply, OutOfMemory):
            process.kill()
            raise _Ended("memory", reply.limit)
        if isinstance(reply, SnapshotRead) and reply.index == expected:
            deadline = time.monotonic() + limits.wall
            yield expected, reply
            expected += 1
            continue
        if isinstance(reply, ScanDone) and reply.count == expected == len(batch):
            yield None, None
            return
        if isinstance(reply, Failed):
            raise ReaderCrashed(f"the run could not be read: {reply.message:.300}")
        process.kill()
        raise _Ended("garbled")


__all__ = ["scan_isolated", "serve_scan"]
