"""The sandboxed worker's own side: ``python -m extraction.readers._child FD``.

It limits itself first (address space, CPU, no core files) and confines itself (``confine``:
no_new_privs, its own network namespace, seccomp). Then it serves one file: told which, it
confines its files to it with Landlock before reading a byte, sniffs and reads it with the
ordinary ``read_file``, sends the manifest, and answers array and statistics requests until the
caller closes the connection or it idles out. Arrays go into ``.npy`` files the caller names
inside its private folders, the only places it may write; everything else is JSON (see
``_wire``). Nothing here is imported by the caller.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


def limit_self(memory: int, cpu: float) -> None:
    """Cap this process before any file is touched: address space, CPU, no core files."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    _cpu_budget(cpu)
    # No PR_SET_PDEATHSIG: it fires when the *thread* that started us ends, and a Streamlit
    # script thread ends after every run. A caller that dies closes our socket (we exit on EOF);
    # a worker spinning in native code meets its CPU limit instead.


def _cpu_budget(seconds: float) -> None:
    """Let the next request use ``seconds`` more CPU (SIGXCPU beyond, which ends the worker)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(used + seconds) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def fit_memory(path: Path) -> None:
    """Lower this worker's address space to what reading ``path`` may need: what is mapped
    now (Python, numpy, a preloaded TensorFlow), twice the bytes of the file (with the files
    beside a ``.json`` index, or in a folder), and ``WORKER_HEADROOM_BYTES``; never above the
    limit it started with, and not at all when ``KERASCOPE_WORKER_MEMORY_MB`` is set."""
    fit_memory_to(2 * _source_bytes(path))


def fit_memory_to(nbytes: int) -> None:
    """Lower this worker's address space to what is mapped now, ``nbytes`` and
    ``WORKER_HEADROOM_BYTES`` (see ``fit_memory``)."""
    from ..settings import Settings
    from .safety import WORKER_HEADROOM_BYTES

    if Settings.from_env().worker_memory_fixed:
        return
    try:
        status = Path("/proc/self/status").read_text()
        mapped = next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmSize")
        )
    except (OSError, StopIteration, ValueError):
        return  # no /proc: keep the limit it was given
    want = mapped * 1024 + nbytes + WORKER_HEADROOM_BYTES
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or want < soft:
        resource.setrlimit(resource.RLIMIT_AS, (want, hard))


def _source_bytes(path: Path, most: int = 100_000) -> int:
    """The bytes of the file at ``path``; of every file in it for a folder, or beside it for a
    file that reads its folder (a ``.json`` index, a checkpoint part), counting at most
    ``most`` files."""
    try:
        from .sniff import reads_beside

        if path.is_file() and not reads_beside(path):
            return path.stat().st_size
        root = path if path.is_dir() else path.parent
        total = seen = 0
        for folder, _, names in os.walk(root):
            for name in names:
                seen += 1
                if seen > most:
                    return total
                with contextlib.suppress(OSError):
                    total += os.stat(os.path.join(folder, name), follow_symlinks=False).st_size
            if path.is_file():
                break  # beside the index only
        return total
    except OSError:
        return 0


MMAP_MIN_BYTES = 1 << 20
"""Arrays at least this large are read straight into the file that crosses (when the reader
can: a loader with ``read_into``), sparing a copy, and memory-mapped by the caller; smaller
ones are written and read whole."""


class _Served:
    """The one file this worker reads, and the last array it read (asked for twice in a row
    when a page shows statistics, then the values), with the file it was read into, if any."""

    def __init__(self) -> None:
        self.cpu = 0.0
        """CPU seconds each request (each file of a run scan) may use."""
        self.store: Any = None
        """The ``ArrayStore`` of the records read; its sources are read directly (nothing is
        kept in its cache: the worker keeps one array at a time)."""
        self.arrays: dict[int, Any] = {}
        """Stored array index -> ``Stored`` (name, shape, dtype) from the records."""
        self.last: tuple[int, Any, Any, Path | None] | None = None
        self.extents: dict[int, Any] = {}

    def serve(self, records: Any) -> None:
        """Answer for ``records`` from now on."""
        from .store import ArrayStore, stored_arrays

        if not isinstance(records.store, ArrayStore):
            raise TypeError(f"a reader returned records of a {type(records.store).__name__}")
        self.store, self.arrays = records.store, stored_arrays(records)

    def stored(self, i: int) -> Any:
        """What the records say of stored array ``i``."""
        if i not in self.arrays:
            raise IndexError(f"no array {i} in the records read")
        return self.arrays[i]

    def source(self, i: int) -> Any:
        from ..records import ArrayRef

        self.stored(i)
        return self.store.source(ArrayRef(i))

    def extent(self, i: int) -> Any:
        """Where stored array ``i`` lies as plain bytes (an ``Extent``), if its reader knows;
        the caller then reads it itself, and nothing is copied here."""
        if i not in self.extents:
            self.extents[i] = self.source(i).extent()
        return self.extents[i]

    def handed(self, i: int) -> bool:
        """Whether the last array read is array ``i`` and waits in a file to hand over."""
        return self.last is not None and self.last[0] == i and self.last[3] is not None

    def read(self, i: int, scratch: Path) -> tuple[Any, Any, Path | None]:
        """Stored array ``i``: its values, statistics computed beside them, and the ``.npy``
        file holding them when they were read straight into ``scratch`` (never for an array
        with an extent: its values cross by the caller reading the file itself)."""
        from ..analysis.stats import compute_stats
        from ..records import unreadable

        if self.last is not None and self.last[0] == i:
            return self.last[1], self.last[2], self.last[3]
        self.drop()  # let the previous array go before reading the next
        source, stored = self.source(i), self.stored(i)
        value, file = None, None
        if _direct_candidate(source, stored.shape) and self.extent(i) is None:
            value, file = _read_direct(source, stored, scratch)
        if value is None:
            try:
                value = source.read()
            except Exception as exc:  # the same line Weight.array gives  # noqa: BLE001
                raise unreadable(stored.name, exc) from exc
        stats = compute_stats(value)
        source.release()  # a memory-mapped array: its pages go back after a pass
        self.last = (i, value, stats, file)
        return value, stats, file

    def hand_over(self, out: Path) -> bool:
        """Move the last array's file to ``out`` (the caller maps it); False if there is none."""
        if self.last is None or self.last[3] is None:
            return False
        os.replace(self.last[3], out)
        self.last = (*self.last[:3], None)
        return True

    def drop(self) -> None:
        """Let the last array go, and its file."""
        if self.last is not None and self.last[3] is not None:
            self.last[3].unlink(missing_ok=True)
        self.last = None


def _direct_candidate(source: Any, shape: tuple[int, ...]) -> bool:
    """Whether the array is large and its source can read straight into a file."""
    import math

    stored = source.direct_dtype()
    return stored is not None and math.prod(shape) * stored.itemsize >= MMAP_MIN_BYTES


def _read_direct(source: Any, stored: Any, scratch: Path) -> tuple[Any, Path | None]:
    """Read a large array straight into a ``.npy`` file at ``scratch`` (``_direct_candidate``)."""
    import numpy as np

    from ..records import unreadable

    dtype = source.direct_dtype()
    out = np.lib.format.open_memmap(scratch, mode="w+", dtype=dtype, shape=stored.shape)
    try:
        done = source.read_into(out)
    except Exception as exc:  # the same line Weight.array gives for damaged bytes  # noqa: BLE001
        scratch.unlink(missing_ok=True)
        raise unreadable(stored.name, exc) from exc
    if not done:
        del out
        scratch.unlink(missing_ok=True)
        return None, None
    out.flush()
    value = np.asarray(out)
    from ._wire import named_dtype, names_dtype

    if not names_dtype(stored.dtype, value.dtype):  # bfloat16 stored as uint16
        named = named_dtype(stored.dtype, value.dtype.itemsize)
        if named is not None:
            value = value.view(named)
    return value, scratch


def serve(conn: Connection, idle: float, cpu: float) -> None:
    """Answer requests until the connection closes or none comes for ``idle`` seconds."""
    from ._wire import OutOfMemory, dumps, failed, loads, request_from_wire

    served = _Served()
    served.cpu = cpu
    while True:
        if not conn.poll(idle):
            return
        try:
            data = conn.recv_bytes()
        except EOFError:
            return
        _cpu_budget(cpu)
        try:
            reply = _handle(request_from_wire(loads(data)), served, conn)
        except Exception as exc:  # every failure is reported; the caller decides  # noqa: BLE001
            if out_of_memory(exc):
                served.last = None
                limit, _ = resource.getrlimit(resource.RLIMIT_AS)
                conn.send_bytes(dumps(OutOfMemory(limit if limit > 0 else 0)))
                return  # the heap may be in any state after a failed allocation
            reply = failed(exc)
        conn.send_bytes(dumps(reply))


def out_of_memory(exc: BaseException | None) -> bool:
    """Whether ``exc`` is, or was raised while handling, a failed allocation (``MemoryError``,
    or an ``OSError`` ENOMEM from a memory map)."""
    import errno

    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _handle(request: Any, served: _Served, conn: Connection) -> Any:
    from ._wire import (
        ArrayAt,
        ArrayFile,
        FindExtent,
        OpenFile,
        ReadArray,
        ReadStats,
        Ready,
        ScanRun,
        Sniffed,
        StatsOnly,
        dumps,
        manifest,
    )

    if isinstance(request, ScanRun):
        from .run_scan import serve_scan

        return serve_scan(request, conn, lambda: _cpu_budget(served.cpu))
    if isinstance(request, OpenFile):
        from . import FORMATS, read_file
        from .sniff import sniff

        path = Path(request.path)
        confine_to([path], request.folders, conn)
        fmt = _plugin_sniff(path) or sniff(path)
        label = FORMATS[fmt].label if fmt in FORMATS else fmt
        preload = FORMATS[fmt].preload if fmt in FORMATS else ()
        conn.send_bytes(dumps(Sniffed(fmt, label, bool(preload))))
        if preload:
            preload_modules(preload)
            conn.send_bytes(dumps(Ready()))
        fit_memory(path)
        records = read_file(path, fmt)
        served.serve(records)
        return manifest(records)
    if isinstance(request, FindExtent):
        return ArrayAt(served.stored(request.index).dtype, served.extent(request.index))
    if isinstance(request, (ReadArray, ReadStats)):
        i, out = request.index, Path(request.out)
        if isinstance(request, ReadArray) and not served.handed(i):
            extent = served.extent(i)
            if extent is not None:
                served.drop()
                return ArrayAt(served.stored(i).dtype, extent)
        value, stats, _ = served.read(i, out)
        if isinstance(request, ReadStats):
            return StatsOnly(stats)
        if served.hand_over(out):
            return ArrayFile(value.dtype.name, stats)
        return ArrayFile(_write_npy(out, value), stats)
    raise ValueError(f"unknown request {request!r}")


def confine_to(paths: list[Path], folders: list[str], conn: Connection) -> None:
    """Confine this worker's files to reading ``paths`` and writing in ``folders`` (Landlock),
    and tell the caller what its sandbox holds, before any byte of a file is read.

    Raises:
        SandboxUnavailable: a layer is missing and ``KERASCOPE_WORKER_SANDBOX=require``.
    """
    from ..errors import SandboxUnavailable
    from ..settings import SANDBOX_ENV, Settings
    from . import FORMATS
    from ._wire import Confined, dumps
    from .confine import confine_files

    if not folders:
        raise ValueError("a request without the folders the worker may write in")
    mode = Settings.from_env().sandbox
    preload = sorted({module for f in FORMATS.values() for module in f.preload})
    writable = [Path(f) for f in folders]
    report = confine_files(paths, writable, preload, landlock=mode != "off")
    conn.send_bytes(dumps(Confined(report)))
    if mode == "require" and report.missing:
        raise SandboxUnavailable(f"{report.line()}, and {SANDBOX_ENV}=require")


def preload_modules(modules: tuple[str, ...]) -> None:
    """Import what the reader needs (quietly: TensorFlow writes notices to fd 2)."""
    import importlib

    from .._native import quiet_native_stderr

    with quiet_native_stderr():
        for module in modules:
            importlib.import_module(module)


def _npy_spells(dtype: Any) -> bool:
    """Whether a ``.npy`` header can name ``dtype`` and read it back (ml_dtypes' float8_e5m2
    is in numpy's type table yet writes a ``<f1`` that cannot be read)."""
    import numpy as np

    try:
        return bool(np.dtype(np.lib.format.dtype_to_descr(dtype)) == dtype)
    except (TypeError, ValueError):
        return False


def _write_npy(out: Path, value: Any) -> str:
    """Write ``value`` as a plain ``.npy`` (no pickle); returns its dtype's name.

    A dtype ``.npy`` cannot describe (bfloat16 and other ml_dtypes types) is written as unsigned
    integers of its size, and the caller views them back by the returned name.
    """
    import numpy as np

    array = np.asarray(value)
    if not array.flags.c_contiguous:  # (np.ascontiguousarray would make a scalar 1-d)
        array = array.copy(order="C")
    name = array.dtype.name
    if array.dtype.kind == "V" or name not in np.sctypeDict or not _npy_spells(array.dtype):
        array = array.view(f"u{array.dtype.itemsize}")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        np.lib.format.write_array(f, array, allow_pickle=False)
    return name


def _plugin_sniff(path: Path) -> str | None:
    module = sys.modules.get("_kerascope_worker_plugin")
    sniff = getattr(module, "sniff", None)
    return sniff(path) if callable(sniff) else None


def _warm() -> None:
    """Import what almost every read needs before any request comes (a spare worker: it is
    started ahead of the open it will serve, so this costs the open nothing)."""
    import h5py  # noqa: F401

    from ..analysis import stats  # noqa: F401
    from . import _wire, read_file, sniff, store  # noqa: F401


def main(argv: list[str]) -> int:
    fd, memory, cpu, idle = int(argv[0]), int(argv[1]), float(argv[2]), float(argv[3])
    limit_self(memory, cpu)
    from ..settings import Settings
    from .confine import start

    settings = Settings.from_env()
    start(settings.sandbox)  # before anything else: the worker has one thread
    conn = Connection(fd)
    plugin = settings.worker_plugin
    if plugin:
        import importlib

        sys.modules["_kerascope_worker_plugin"] = importlib.import_module(plugin)
    if argv[4:5] == ["warm"]:
        _warm()
    try:
        serve(conn, idle, cpu)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
