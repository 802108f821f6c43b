"""The sandboxed worker: a stranger's file is sniffed and parsed in a child process.

libhdf5, zlib, protobuf and flatbuffers are native code, and a damaged file can crash or hang
them; that must end one open with one line, never the server. So a file from outside (an
upload, a model-folder file, a CLI path) is read by ``python -m extraction.readers._child``
under an address-space limit (RLIMIT_AS), a CPU limit per request (RLIMIT_CPU) and a wall-clock
limit per request kept here (``settings.WorkerLimits``: the defaults and their environment
variables); where the kernel does not enforce RLIMIT_AS, the busy worker's resident memory is
watched from here too (``_Process.wait``). The child runs the ordinary ``sniff`` and
``read_file``, so every reader in ``FORMATS`` works through it unchanged. It is also a sandbox
(``confine.py``), so that code run by an exploit of those parsers reaches nothing but the
file: it starts with a bare environment and confines itself before reading a byte, tells this
side what held, and this side logs one line for any layer the system lacks.

What crosses, and how:
- The records: a ``Manifest`` of every record field (``_wire``, which lists every message
  kind the two sides exchange), rebuilt here as plain records whose ``WorkerStore`` asks the
  worker. The worker keeps the file open for those lazy reads while the records
  live, and is ended when they are garbage-collected.
- An array stored as plain bytes (a contiguous HDF5 dataset, a safetensors tensor: its
  source's ``extent()``): only its place crosses (file, offset, dtype), and this side reads
  the bytes itself with one plain read (``read_extent``), after checking that the file is the
  opened one (or beside it, or in the opened folder), that the dtype is a plain number type
  and that the bytes lie inside the file. Nothing is parsed here, and nothing is copied twice:
  this costs what reading the array in process costs.
- Any other array: the worker reads it straight into a plain ``.npy`` file (HDF5 chunked
  datasets, via ``read_direct`` into a memory map; other readers' arrays are written after
  the read) in a private (0700) folder created here, in ``/dev/shm`` when it has room, with
  its statistics computed beside the read; this side memory-maps the file
  (``np.load(mmap_mode="r", allow_pickle=False)``) and unlinks it at once, so the pages are
  shared, not copied again, and nothing is left behind.
- Statistics alone (``Weight.stats()`` before ``array()``): only the numbers cross. The
  worker keeps one array at a time.

Nothing from the worker is unpickled: messages are JSON and arrays are ``.npy`` without pickles.

A worker that crashes, hangs or exhausts its memory is killed and a ``ReaderCrashed`` says so
in one line; the next open starts a new one. A worker idle for a while exits by itself, and
beyond ``KERASCOPE_WORKERS`` alive the least recently used is ended; a later array read
opens the file again in a fresh worker (and fails in one line if it has changed). A process
that opens many files keeps one spare worker started ahead (``prestart``).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..analysis.stats import Stats
from ..errors import CorruptFile, KerascopeError, ReaderCrashed
from ..records import Array, ArrayRef, Extent, ModelWeights
from ..settings import Settings, WorkerLimits
from ._child import MMAP_MIN_BYTES
from ._wire import (
    ArrayAt,
    ArrayFile,
    ArrayReply,
    Confined,
    Failed,
    FindExtent,
    Manifest,
    OpenFile,
    OutOfMemory,
    ReadArray,
    ReadStats,
    Ready,
    Reply,
    Request,
    Sniffed,
    StatsOnly,
    WireError,
    dumps,
    error_of,
    loads,
    named_dtype,
    names_dtype,
    rebuild,
    reply_from_wire,
)
from .confine import Confinement, worker_environment
from .safety import MAX_CONFIG_BYTES, WORKER_PRELOAD_SECONDS
from .store import CachingStore, Stored, stored_arrays

MAX_MESSAGE_BYTES = 4 * MAX_CONFIG_BYTES
"""The longest message accepted from a worker (a manifest carries every layer's config)."""
SHARED_MEMORY = "/dev/shm"
"""Where arrays cross when it exists (tmpfs: writing and mapping cost no disk); else TMPDIR."""
R = TypeVar("R", bound=Reply)
_PACKAGE = __package__ or "extraction.readers"
_ROOT = Path(__file__).parents[len(_PACKAGE.split("."))]
"""The folder the package is imported from (the repository root in a checkout, where
``kerascope/extraction`` links to ``extraction``; site-packages when installed): not resolved, so
the worker imports the library under the same name as its caller."""


_WATCH_SECONDS = 0.1
"""How often a busy worker's resident memory is looked at."""


def _resident_bytes(pid: int) -> int:
    """The resident memory of process ``pid``; 0 where ``/proc`` does not say."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Ended(Exception):
    """The worker is gone; ``how`` says why (for ``_crash_line``)."""

    def __init__(self, how: str, detail: int = 0) -> None:
        super().__init__(how)
        self.how = how
        self.detail = detail


class _Process:
    """One child process and its connection."""

    def __init__(
        self, limits: WorkerLimits, env: dict[str, str] | None = None, *, warm: bool = False
    ) -> None:
        ours, theirs = socket.socketpair()
        verbose = Settings.from_env().verbose
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    f"{_PACKAGE}._child",
                    str(theirs.fileno()),
                    str(limits.memory),
                    repr(limits.cpu),
                    repr(limits.idle),
                    *(["warm"] if warm else []),
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=None if verbose else subprocess.DEVNULL,
                env=env if env is not None else worker_environment(os.environ, str(_ROOT)),
            )
        except OSError as exc:
            ours.close()
            raise ReaderCrashed(f"the sandboxed reader could not be started ({exc})") from exc
        finally:
            theirs.close()
        # Reaped the moment it ends (idle, crashed or killed): nothing else waits for a worker
        # that exits by itself, and it would sit as a zombie under the server until its next
        # request. Popen's own lock keeps this wait and kill()'s from racing.
        threading.Thread(target=self.proc.wait, name="kerascope-reaper", daemon=True).start()
        self.conn = Connection(ours.detach())
        self.memory = limits.memory
        """The most memory the worker may hold; its RLIMIT_AS, watched from here as well."""
        self.format: str | None = None
        """How the worker named the format it sniffed (``an HDF5 model file``), once it has."""
        self.confinement: Confinement | None = None
        """What the worker's sandbox holds, as it said before reading the file."""

    def ask(self, message: Request, wall: float) -> Reply:
        """Send one request and wait at most ``wall`` seconds for its answer (progress replies
        of an open are taken on the way).

        Raises:
            _Ended: the worker died, hung (it is killed), ran out of memory or sent a message
                that is not one of the protocol's.
        """
        try:
            self.conn.send_bytes(dumps(message))
        except OSError as exc:
            raise self._gone() from exc
        deadline = time.monotonic() + wall
        while True:
            if not self.wait(deadline):
                self.kill()
                raise _Ended("hung")
            try:
                reply = reply_from_wire(loads(self.conn.recv_bytes(MAX_MESSAGE_BYTES)))
            except (EOFError, OSError) as exc:
                raise self._gone() from exc
            except WireError as exc:
                self.kill()
                raise _Ended("garbled") from exc
            if self.confined(reply):
                continue
            if isinstance(reply, Sniffed):
                # Importing what the reader needs has its own, longer allowance (no byte of
                # the file is parsed meanwhile); the read then has ``wall`` again.
                self.format = reply.label
                if reply.preload:
                    deadline = time.monotonic() + WORKER_PRELOAD_SECONDS
                continue
            if isinstance(reply, Ready):
                deadline = time.monotonic() + wall
                continue
            if isinstance(reply, OutOfMemory):
                self.kill()
                raise _Ended("memory", reply.limit)
            return reply

    def wait(self, deadline: float) -> bool:
        """Whether an answer came before ``deadline`` (``time.monotonic``).

        Meanwhile the worker's resident memory is watched: where the kernel does not enforce
        its RLIMIT_AS (some container runtimes ignore it), a worker past its limit is killed
        here, as it would have stopped itself.

        Raises:
            _Ended: the worker holds more than its memory limit (it is killed).
        """
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self.conn.poll(min(remaining, _WATCH_SECONDS)):
                return True
            if _resident_bytes(self.proc.pid) > self.memory:
                self.kill()
                raise _Ended("memory", self.memory)

    def confined(self, reply: Reply) -> bool:
        """Whether ``reply`` is the worker's report of its sandbox (sent before it reads a
        byte of a file), which is kept and logged when it lacks a layer (a malformed report
        is no reply of the protocol: ``_wire`` refuses it)."""
        if not isinstance(reply, Confined):
            return False
        self.confinement = reply.confinement
        _log_confinement(self.confinement)
        return True

    def _gone(self) -> _Ended:
        try:
            code = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()
            return _Ended("garbled")
        self.conn.close()
        if code == 0:
            return _Ended("retired")
        if code < 0:
            return _Ended("signal", -code)
        return _Ended("exit", code)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self.conn.close()

    def alive(self) -> bool:
        return self.proc.poll() is None


_spare: dict[Any, _Process] = {}
_spare_lock = threading.Lock()
_opens = 0
_keep_spare = False


def _spares_allowed() -> bool:
    return Settings.from_env().spare_worker


def prestart() -> None:
    """Start a spare worker now, in the background, and keep one from now on: for a process
    that will open files (the app's server calls it when it starts), so that even its first
    open does not wait for Python, numpy and h5py to start in the worker."""
    global _keep_spare
    if not _spares_allowed():
        return
    key = _spare_key(Settings.from_env().worker)
    with _spare_lock:
        _keep_spare = True
        if key in _spare:
            return
    threading.Thread(target=_start_spare, args=(key,), daemon=True).start()


def _take_process(limits: WorkerLimits) -> _Process:
    """A started worker: the spare one when there is one, else a new one.

    A process that opens files again and again (the app's server) keeps one spare worker
    started in the background, so an open does not wait for Python and numpy to start; a
    process that opens one file (the CLI) never starts a spare it would not use. A spare is
    used only if it was started with the same limits and environment.
    """
    global _opens
    key = _spare_key(limits)
    with _spare_lock:
        _opens += 1
        spare = _spare.pop(key, None)
        want_spare = (_opens >= 2 or _keep_spare) and _spares_allowed()
    if want_spare:
        threading.Thread(target=_start_spare, args=(key,), daemon=True).start()
    if spare is not None and spare.alive() and _spares_allowed():
        return spare
    if spare is not None:
        spare.kill()
    return _Process(limits)


def stop_spares() -> None:
    """End the spare workers (at exit; tests that count processes)."""
    with _spare_lock:
        spares = list(_spare.values())
        _spare.clear()
    for process in spares:
        process.kill()


atexit.register(stop_spares)


def _spare_key(limits: WorkerLimits) -> tuple[WorkerLimits, frozenset[tuple[str, str]]]:
    """What a spare worker must have been started with to serve now: the same limits and the
    same environment (the sandbox's mode, the test suite's plugin)."""
    return limits, frozenset(worker_environment(os.environ, str(_ROOT)).items())


def _start_spare(key: tuple[WorkerLimits, frozenset[tuple[str, str]]]) -> None:
    try:
        process = _Process(key[0], dict(key[1]), warm=True)
    except ReaderCrashed:
        return
    with _spare_lock:
        old = _spare.pop(key, None)
        _spare[key] = process
    if old is not None:
        old.kill()


_live: OrderedDict[int, weakref.ref[_Remote]] = OrderedDict()
"""Opened files whose worker may be alive, least recently used first. Not a cache (so not
cachetools): nothing is dropped by count, and ending a worker skips the busy ones."""
_live_lock = threading.Lock()


def _used(remote: _Remote) -> None:
    """Mark ``remote`` as just used, and end the least recently used idle workers beyond
    ``KERASCOPE_WORKERS`` (a busy one is left alone: its lock is held)."""
    limit = Settings.from_env().workers
    with _live_lock:
        _live[id(remote)] = weakref.ref(remote)
        _live.move_to_end(id(remote))
        others = [r() for r in _live.values()]
    alive = [r for r in others if r is not None and r is not remote and r.process is not None]
    for other in alive[: max(0, len(alive) + 1 - limit)]:
        if other.lock.acquire(blocking=False):
            try:
                other.close_process()
            finally:
                other.lock.release()


class _Remote:
    """The worker behind one opened file: opens it, and opens it again when the worker has
    exited (idle or crashed) or was ended for others, and an array is asked for."""

    def __init__(self, path: Path, label: str, limits: WorkerLimits) -> None:
        self.path = path
        self.label = label
        self.limits = limits
        self.lock = threading.Lock()
        self.process: _Process | None = None
        self.manifest: bytes | None = None
        self.folders: dict[str | None, Path] = {}
        self.count = 0

    def open(self) -> Manifest:
        """The manifest of the file (the first open)."""
        with self.lock:
            manifest = self._open()
            _used(self)
            return manifest

    def _open(self) -> Manifest:
        self.process = _take_process(self.limits)
        request = OpenFile(str(self.path), self._folders())
        try:
            reply = self.process.ask(request, self.limits.wall)
        except _Ended as ended:
            raise self._crashed(ended, self.label) from None
        manifest = self._answer(reply, "", Manifest)
        encoded = dumps(manifest)
        if self.manifest is not None and encoded != self.manifest:
            self.close_process()
            raise CorruptFile(f"{self.label} has changed since it was opened; open it again")
        self.manifest = encoded
        return manifest

    def call(self, message: Request, what: str, expect: type[R]) -> R:
        """One request about an opened file, re-opening it in a fresh worker when needed;
        its answer must be an ``expect``."""
        with self.lock:
            for attempt in range(2):
                if self.process is None or not self.process.alive():
                    if self.process is not None:
                        self.process.kill()
                    self._open()
                assert self.process is not None
                _used(self)
                try:
                    reply = self.process.ask(message, self.limits.wall)
                except _Ended as ended:
                    if ended.how == "retired" and attempt == 0:
                        self.process = None
                        continue  # it idled out just as we asked: open again, ask again
                    raise self._crashed(ended, f"{what} of {self.label}") from None
                return self._answer(reply, what, expect)
        raise AssertionError("unreachable")

    def _answer(self, reply: Reply, what: str, expect: type[R]) -> R:
        if isinstance(reply, expect):
            return reply
        if not isinstance(reply, Failed):
            raise self._crashed(
                _Ended("garbled"), f"{what} of {self.label}" if what else self.label
            )
        raise worker_error(reply, f"{what} of {self.label}" if what else self.label)

    def _crashed(self, ended: _Ended, subject: str) -> ReaderCrashed:
        """The error for a worker that ended; the worker is forgotten (the next call starts one)."""
        fmt = self.process.format if self.process is not None else None
        self.close_process()
        return ReaderCrashed(crash_line(subject, ended.how, ended.detail, fmt, self.limits))

    def _folders(self) -> list[str]:
        """The private (0700) folders this file's workers write in, made at the first open: one
        in the temporary folder (the worker's own temporary files: an extracted zip), and one
        in shared memory when there is one. The worker's sandbox lets it write nowhere else."""
        for base in (None, SHARED_MEMORY):
            if base not in self.folders and (base is None or os.path.isdir(base)):
                try:
                    folder = Path(tempfile.mkdtemp(prefix="kerascope-worker-", dir=base))
                except OSError:
                    if base is None:
                        raise
                    continue  # no shared memory to write in: arrays cross in the other
                os.chmod(folder, 0o700)
                self.folders[base] = folder
        return [str(folder) for folder in self.folders.values()]

    def next_out(self, nbytes: int) -> Path:
        """A fresh file name for an array of at most ``nbytes``: in shared memory when it has
        room (a container's /dev/shm may be 64 MB), else in the temporary folder."""
        base: str | None = None
        try:
            room = os.statvfs(SHARED_MEMORY)
            if room.f_bavail * room.f_frsize > 2 * nbytes + (64 << 20):
                base = SHARED_MEMORY
        except OSError:
            pass
        with self.lock:
            folder = self.folders.get(base) or self.folders[None]
            self.count += 1
            return folder / f"array-{self.count}.npy"

    def close_process(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process = None

    def close(self) -> None:
        """End the worker and remove the private folder (the records are gone)."""
        with _live_lock:
            _live.pop(id(self), None)
        self.close_process()
        for folder in self.folders.values():
            shutil.rmtree(folder, ignore_errors=True)


def worker_error(reply: Failed, subject: str) -> KerascopeError:
    """The error a worker reported: the library's own class when it names one of those that
    may cross (``_wire.ERROR_TYPES``), else ``ReaderCrashed`` saying that reading ``subject``
    failed and what the worker said of the file (``_wire.failed``: plain words, never a Python
    exception's name)."""
    error = error_of(reply)
    if error is not None:
        return error
    return ReaderCrashed(f"could not read {subject}: {reply.message or 'the reader failed'}")


_logged: set[str] = set()
_last: list[Confinement] = []


def _log_confinement(report: Confinement) -> None:
    """Keep ``report`` as the latest, and log what it lacks: one line, once per process."""
    _last[:] = [report]
    line = report.line()
    if line and line not in _logged:
        _logged.add(line)
        logging.getLogger(__name__).warning("%s", line)


def confinement() -> Confinement | None:
    """What the sandbox of the latest worker to open a file held (None before any did)."""
    return _last[0] if _last else None


def crash_line(subject: str, how: str, detail: int, fmt: str | None, limits: WorkerLimits) -> str:
    """The one line that says how reading ``subject`` ended (``fmt``: the label of the format
    the worker had sniffed, None when it ended before knowing)."""
    doing = f"while reading it as {fmt}" if fmt else "while finding out its format"
    if how == "hung":
        why = f"reading it took longer than {limits.wall:g} s, so it was stopped"
    elif how == "memory":
        mb = (detail or limits.memory) / 1024**2
        why = f"reading it needed more than {mb:.0f} MB of memory, so it was stopped"
    elif how == "signal" and detail == signal.SIGXCPU:
        why = f"reading it used more than {limits.cpu:g} s of CPU time, so it was stopped"
    elif how == "signal" and detail == signal.SIGKILL:
        why = f"the reader was killed {doing} (signal 9; the machine may be out of memory)"
    elif how == "signal":
        try:
            sig = f"signal {detail}, {signal.Signals(detail).name}"
        except ValueError:
            sig = f"signal {detail}"
        why = f"the reader crashed {doing} ({sig})"
    elif how == "exit":
        why = f"the reader stopped {doing} (exit status {detail})"
    else:
        why = f"the reader sent a garbled answer {doing}, so it was stopped"
    return f"could not read {subject}: {why}"


def open_isolated(path: Path, label: str | None = None) -> ModelWeights:
    """The records of the model at ``path``, sniffed and parsed in a sandboxed worker.

    Arrays and statistics are read by the worker when first asked for (see the module
    docstring); the worker ends when the records' store is garbage-collected.

    Raises:
        SourceNotFound, UnsupportedFormat, CorruptFile, UnsafeModel: as the readers.
        ReaderCrashed: the reader crashed, hung or exhausted its memory on this file.
    """
    remote = _Remote(path, label or path.name, Settings.from_env().worker)
    store = WorkerStore(remote)
    try:
        records = rebuild(remote.open(), store)
        store.learn(records)
    except (WireError, ValueError) as exc:
        remote.close()
        raise ReaderCrashed(
            f"could not read {remote.label}: the reader sent a bad answer ({exc})"
        ) from exc
    except BaseException:
        remote.close()
        raise
    weakref.finalize(store, remote.close)
    return records


class WorkerStore(CachingStore):
    """The ``WeightStore`` through the sandboxed worker: each stored array is read there once,
    when first asked for, and crosses as its place in the file (``ArrayAt``: read here with
    one plain read) or as a ``.npy`` file mapped here (``ArrayFile``); statistics alone cross
    as numbers (``StatsOnly``). Views derived from an array are computed here."""

    def __init__(self, remote: _Remote) -> None:
        super().__init__()
        self._remote = remote
        self._arrays_named: dict[int, Stored] = {}

    def learn(self, records: ModelWeights) -> None:
        """Take the stored arrays ``records`` name (their shapes bound what may cross)."""
        self._arrays_named = stored_arrays(records)

    def _named(self, index: int) -> Stored:
        stored = self._arrays_named.get(index)
        if stored is None:
            raise CorruptFile(f"{self._remote.label} has no array {index}")
        return stored

    def _read(self, index: int) -> Array:
        remote, stored = self._remote, self._named(index)
        out = remote.next_out(math.prod(stored.shape) * 8)  # dtypes are at most 8 bytes
        try:
            reply = remote.call(ReadArray(index, str(out)), stored.what, ArrayReply)
            if isinstance(reply, ArrayAt):
                return read_extent(remote.path, reply, stored.shape, remote.label)
            if not isinstance(reply, ArrayFile):
                raise CorruptFile(f"the reader's answer about {remote.label} is malformed")
            array = _load_npy(out, reply.dtype)
        finally:
            out.unlink(missing_ok=True)
        if array.shape != stored.shape:
            raise CorruptFile(f"the reader sent {stored.what} of {remote.label} in another shape")
        self.keep_stats(ArrayRef(index), reply.stats)
        return array

    def _fetch_stats(self, index: int) -> Stats:
        # The worker may read the array straight into this file and keep it for a following
        # array request; it is removed with the folder otherwise.
        remote, stored = self._remote, self._named(index)
        scratch = remote.next_out(math.prod(stored.shape) * 8)
        return remote.call(ReadStats(index, str(scratch)), stored.what, StatsOnly).stats

    def extent(self, ref: ArrayRef) -> Extent | None:
        if not ref.is_stored:
            return None
        stored = self._named(ref.index)
        return self._remote.call(FindExtent(ref.index), stored.what, ArrayAt).extent


_EXTENT_DTYPE = re.compile(r"[<>|][biuf][1248]")
"""The plain dtypes an extent may name (numpy's spelling, byte order first)."""


def read_extent(root: Path, reply: ArrayAt, shape: tuple[int, ...], label: str) -> Array:
    """The array at the extent the worker found: one plain read of bytes from the opened file.

    No structure is parsed here, so nothing native can crash on it; the worker's answer is
    checked as untrusted: the file must be the opened one (or lie beside it, or inside the
    opened folder), the dtype a plain number type, and the bytes inside the file, which also
    bounds the allocation by the file's size.

    Raises:
        CorruptFile: an extent outside the file, a file that changed, or a malformed answer.
    """
    extent, name = reply.extent, reply.dtype
    if extent is None or extent.offset < 0 or not _EXTENT_DTYPE.fullmatch(extent.dtype):
        raise CorruptFile(f"the reader's answer about {label} is malformed")
    path, offset, spelled = extent.path, extent.offset, extent.dtype
    # Compared by name, ".." folded: a folder's symlinks (a Hugging Face cache's shards point
    # into its blobs folder) are followed as the worker follows them.
    real, base = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    if not (real == base or base in real.parents or real.parent == base.parent):
        raise CorruptFile(f"the reader pointed outside {label}; refused")
    dtype = np.dtype(spelled)
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    try:
        with real.open("rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise CorruptFile(f"the reader pointed at something in {label} that is no file")
            if offset + nbytes > os.fstat(f.fileno()).st_size:
                raise CorruptFile(f"{label} has changed since it was opened; open it again")
            values = np.empty(count, dtype)
            view = values.data.cast("B")
            f.seek(offset)
            done = 0
            while done < nbytes:
                got = f.readinto(view[done:])
                if not got:
                    raise CorruptFile(f"{label} has changed since it was opened; open it again")
                done += got
    except OSError as exc:
        raise CorruptFile(f"{label} cannot be read again ({exc.strerror or exc})") from exc
    array = values.reshape(shape)
    if not names_dtype(name, dtype):
        array = array.view(_named_dtype(name, dtype.itemsize))
    array.setflags(write=False)
    return array


def _load_npy(out: Path, name: str) -> Array:
    """The array the worker wrote at ``out`` (of the records' dtype ``name``): memory-mapped
    when large, never unpickled."""
    big = out.stat().st_size >= MMAP_MIN_BYTES
    try:
        array: Array = np.load(out, mmap_mode="r" if big else None, allow_pickle=False)
    except ValueError as exc:
        raise CorruptFile(f"the reader wrote an array that cannot be read back ({exc})") from exc
    if big:
        array = np.asarray(array)  # a plain read-only ndarray over the mapping
    if not names_dtype(name, array.dtype):
        array = array.view(_named_dtype(name, array.dtype.itemsize))
    return array


def _named_dtype(name: str, itemsize: int) -> np.dtype[Any]:
    """A dtype numpy's ``.npy`` header cannot spell (bfloat16, float8...), by its name."""
    dtype = named_dtype(name, itemsize)
    if dtype is None:
        raise CorruptFile(f"the reader sent values of an unknown type {name[:80]!r}")
    return dtype


__all__ = [
    "WorkerStore",
    "confinement",
    "crash_line",
    "open_isolated",
    "prestart",
    "stop_spares",
]
