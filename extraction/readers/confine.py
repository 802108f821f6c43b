"""The reader worker's sandbox: what a process parsing a stranger's file can still do.

The caller starts the worker with a bare environment (``worker_environment``). The worker then
confines itself before it parses a byte:

1. when it starts, while it has one thread (``confine_process``): no_new_privs; its own network
   namespace (directly when it may, else inside a new user namespace, as any user can); its
   capabilities dropped, but for reading files it does not own when it had that (a root
   server's model folder); the seccomp filter of ``_seccomp`` (no exec, no new processes, no
   ptrace, mounts or namespaces, no sockets, no signals to other processes);
2. once it is told its file (``confine_files``): Landlock lets it read only that file (its
   folder, for a folder, a JSON index or a checkpoint part), the Python it runs and the
   libraries it loads, and write only in the folders its caller made for it; no TCP, no signals
   or abstract unix sockets outside it.

What could not be applied (a kernel without Landlock, a system without libseccomp, user
namespaces switched off) is listed in ``Confinement.missing``, which the caller logs in one
line; ``KERASCOPE_WORKER_SANDBOX=require`` refuses to read instead, and ``off`` applies nothing
but the environment (to debug a reader).
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..settings import PLUGIN_ENV, SANDBOX_ENV, VERBOSE_ENV, WORKER_MEMORY_ENV

PASSED_ENV = ("LANG", "LANGUAGE", "LC_ALL", "LD_LIBRARY_PATH", "PYTHONHOME", "TZ")
"""The caller's variables a worker keeps (with every ``LC_*``): locale, where libraries and
Python are. Nothing else: no HOME, no tokens, no proxies, no server settings."""
PASSED_SETTINGS = (VERBOSE_ENV, WORKER_MEMORY_ENV, SANDBOX_ENV, PLUGIN_ENV)
"""Kerascope's own settings that the worker reads itself."""
WORKER_ENV = {
    # One thread: numpy's BLAS would start a thread per core at import, and Landlock confines
    # only the thread that asks (and those it starts later). A reader parses; it does no algebra.
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONSAFEPATH": "1",  # the working folder is not on sys.path (a stray h5py.py there)
    "PYTHONDONTWRITEBYTECODE": "1",
}
"""What every worker's environment sets."""
WORKER_ENV_DEFAULTS = {
    # glibc reserves 64 MiB of address space per malloc arena, up to eight per core: on a
    # many-core server TensorFlow's threads alone would fill the worker's RLIMIT_AS.
    "MALLOC_ARENA_MAX": "4",
}
"""What a worker's environment sets unless the caller's sets it."""
SET_BY_WORKER = ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "HOME", "TMPDIR")
"""Variables the worker sets itself (the package's TensorFlow quieting; its own folders)."""

FEATURES = ("environment", "no_new_privs", "network", "capabilities", "seccomp", "landlock")
"""The layers of the sandbox, in the order they are applied."""


@dataclass(frozen=True)
class Confinement:
    """What a worker's sandbox holds: each layer applied (and how) or missing (and why)."""

    applied: Mapping[str, str] = field(default_factory=dict)
    """Layer (one of ``FEATURES``) -> how: ``"own network namespace"``, ``"Landlock ABI 7"``."""
    missing: Mapping[str, str] = field(default_factory=dict)
    """Layer -> why it could not be applied: ``"the kernel has no Landlock"``."""

    def __add__(self, other: Confinement) -> Confinement:
        applied = {**self.applied, **other.applied}
        missing = {k: v for k, v in {**self.missing, **other.missing}.items() if k not in applied}
        return Confinement(applied, missing)

    def line(self) -> str:
        """One line saying what the sandbox lacks, and why (empty when nothing)."""
        if not self.missing:
            return ""
        by_reason: dict[str, list[str]] = {}
        for name, why in self.missing.items():
            by_reason.setdefault(why, []).append(name)
        lacks = "; ".join(f"{', '.join(names)} ({why})" for why, names in by_reason.items())
        return f"the reader worker's sandbox lacks {lacks}"

    def to_wire(self) -> dict[str, dict[str, str]]:
        return {"applied": dict(self.applied), "missing": dict(self.missing)}

    @classmethod
    def from_wire(cls, data: Any) -> Confinement | None:
        """The report a worker sent, or None when it is malformed (names outside
        ``FEATURES``, texts that are not short strings)."""
        if not isinstance(data, dict):
            return None
        parts: list[dict[str, str]] = []
        for key in ("applied", "missing"):
            part = data.get(key)
            if not isinstance(part, dict) or not all(
                k in FEATURES and isinstance(v, str) and len(v) <= 300 for k, v in part.items()
            ):
                return None
            parts.append(part)
        return cls(*parts)


def _passed(name: str) -> bool:
    return name in PASSED_ENV or name in PASSED_SETTINGS or name.startswith("LC_")


def worker_environment(env: Mapping[str, str], root: str) -> dict[str, str]:
    """The whole environment of a worker started by a process with ``env``, importing the
    package from ``root``."""
    kept = {k: v for k, v in env.items() if _passed(k)}
    path = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    defaults = {k: env.get(k, v) for k, v in WORKER_ENV_DEFAULTS.items()}
    return {**kept, **defaults, **WORKER_ENV, "PYTHONPATH": path}


def allowed_variable(name: str) -> bool:
    """Whether a worker may have variable ``name`` (``check_environment`` checks its own)."""
    return (
        _passed(name)
        or name in WORKER_ENV
        or name in WORKER_ENV_DEFAULTS
        or name in SET_BY_WORKER
        or name == "PYTHONPATH"
    )


_PR_SET_NO_NEW_PRIVS, _PR_GET_NO_NEW_PRIVS = 38, 39
_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000
_CAP_DAC_READ_SEARCH = 2
_CAP_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int) -> None:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _capabilities() -> int:
    """The effective capabilities of this process (the first 32 hold the ones that matter)."""
    header, data = _CapHeader(_CAP_VERSION_3, 0), (_CapData * 2)()
    _check(_libc().capget(ctypes.byref(header), data))
    return int(data[0].effective) | int(data[1].effective) << 32


def _keep_capabilities(mask: int) -> None:
    header, data = _CapHeader(_CAP_VERSION_3, 0), (_CapData * 2)()
    for i in (0, 1):
        part = (mask >> (32 * i)) & 0xFFFFFFFF
        data[i].effective = data[i].permitted = part
        data[i].inheritable = 0
    _check(_libc().capset(ctypes.byref(header), data))


def _own_network() -> str:
    """Enter a new network namespace (only a loopback, down); how it was done."""
    if _libc().unshare(_CLONE_NEWNET) == 0:
        return "own network namespace"
    if _threads() > 1:  # a user namespace can only be entered by a single-threaded process
        raise OSError(0, "the worker had started threads before it could enter one")
    uid, gid = os.getuid(), os.getgid()
    _check(_libc().unshare(_CLONE_NEWUSER | _CLONE_NEWNET))
    # Map this user to itself (else it shows as "nobody" inside); files are checked as before.
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):  # fmt: skip
        try:
            Path(f"/proc/self/{name}").write_text(text)
        except OSError:
            pass  # older kernels have no setgroups file; the namespace holds all the same
    return "own network namespace, in a user namespace"


def check_environment() -> Confinement:
    """Whether this worker's environment holds only what ``worker_environment`` passes."""
    stray = sorted(k for k in os.environ if not allowed_variable(k))
    if stray:
        return Confinement(missing={"environment": f"it has {', '.join(stray)}"})
    return Confinement(applied={"environment": f"{len(os.environ)} variables, none the caller's"})


_started = Confinement()
"""What ``start`` applied in this process (the worker's ``__main__`` and the modules it
imports would each have their own copy of a global kept in ``_child``)."""


def start(mode: str) -> Confinement:
    """The worker's first step: apply the process-wide layers unless ``mode`` is ``off``;
    what held, what not (kept for ``confine_files`` to report with its own)."""
    global _started
    if mode == "off":
        off = {name: f"{SANDBOX_ENV}=off" for name in FEATURES if name != "environment"}
        _started = check_environment() + Confinement(missing=off)
    else:
        _started = confine_process()
    return _started


def confine_process() -> Confinement:
    """Apply the process-wide layers (the first thing a worker does); what held, what not."""
    if not sys.platform.startswith("linux"):
        why = f"these are Linux's, and this is {sys.platform}"
        return check_environment() + Confinement(missing={f: why for f in FEATURES[1:]})
    applied: dict[str, str] = {}
    missing: dict[str, str] = {}
    _check(_libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
    applied["no_new_privs"] = "set"
    try:
        before = _capabilities()
    except OSError:
        before = 0
    try:
        applied["network"] = _own_network()
    except OSError as exc:
        missing["network"] = f"no network namespace ({exc.strerror})"
    try:
        _keep_capabilities(before & (1 << _CAP_DAC_READ_SEARCH))
        held = "reading files it does not own" if before >> _CAP_DAC_READ_SEARCH & 1 else "none"
        applied["capabilities"] = f"dropped (kept: {held})"
    except OSError as exc:
        missing["capabilities"] = f"could not drop them ({exc.strerror})"
    try:
        from . import _seccomp

        _seccomp.install()
        applied["seccomp"] = "no exec, processes, ptrace, mounts, sockets or outside signals"
    except (ImportError, RuntimeError) as exc:
        missing["seccomp"] = f"libseccomp or pyseccomp is not installed ({exc})"
    except OSError as exc:
        missing["seccomp"] = f"the kernel refused the filter ({exc.strerror})"
    if "network" in missing:
        refused = "seccomp" in applied
        missing["network"] += "; sockets are refused" if refused else "; it can reach the network"
    return check_environment() + Confinement(applied, missing)


def confine_files(
    sources: Sequence[Path],
    folders: Sequence[Path],
    preload: Sequence[str],
    *,
    landlock: bool = True,
) -> Confinement:
    """Restrict this worker's files to reading ``sources`` (a model; a run's snapshots) and
    what Python needs, and writing in ``folders``, with Landlock (unless ``landlock`` is False);
    the first folder becomes its temporary folder and home either way. Returns what the whole
    sandbox holds (with what ``start`` applied).

    ``preload``: modules the worker may import later (TensorFlow), whose files stay readable.
    """
    import tempfile

    scratch = str(folders[0])
    tempfile.tempdir = scratch
    os.environ["TMPDIR"] = os.environ["HOME"] = scratch  # Keras and matplotlib write config
    if not landlock or not sys.platform.startswith("linux"):
        return _started  # (which says why)
    from . import _landlock

    version = _landlock.abi()
    if version == 0:
        return _started + Confinement(
            missing={"landlock": "the kernel has no Landlock, or it is off"}
        )
    if not _libc().prctl(_PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0):
        return _started + Confinement(missing={"landlock": "no_new_privs is not set"})
    ruleset = _landlock.Ruleset(version)
    for path, access in _minimal(_rules(sources, folders, preload)):
        ruleset.allow(path, access)
    threads = _threads()
    ruleset.restrict_self()
    if threads > 1:
        why = f"{threads - 1} threads were running before it; only the reading one is confined"
        return _started + Confinement(missing={"landlock": why})
    held = f"ABI {version}: reads its files, writes its folders"
    return _started + Confinement(applied={"landlock": held})


SYSTEM_READ = (
    *("/lib", "/lib32", "/lib64", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/local/lib"),
    *("/etc/ld.so.cache", "/etc/localtime", "/usr/share/zoneinfo", "/usr/share/locale"),
    *("/proc/self", "/proc/stat", "/proc/cpuinfo", "/proc/meminfo"),
    *("/proc/sys/vm/overcommit_memory", "/sys/devices/system/cpu"),
    *("/sys/kernel/mm/transparent_hugepage", "/dev/zero", "/dev/urandom", "/dev/random"),
)
"""What any process here reads: system libraries, the loader's cache, time zone and locale, its
own /proc entry (``/proc/self`` is bound to this process), CPU and memory facts, random bytes.
Not /etc (but for those two files), not /home, not other processes' /proc entries."""
MOST_WALKED = 100_000
"""Entries of a model folder looked at for symlinks pointing out of it."""


def _rules(
    sources: Sequence[Path], folders: Sequence[Path], preload: Sequence[str]
) -> list[tuple[str, int]]:
    from ._landlock import READ, READ_FILE, WRITE, WRITE_FILE
    from .sniff import reads_beside

    rules = [(p, READ) for p in sorted(_python_paths(preload))]
    rules += [(p, READ) for p in SYSTEM_READ]
    rules += [(p, READ) for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]
    rules.append((os.devnull, READ_FILE | WRITE_FILE))
    rules += [(str(f), WRITE) for f in folders]
    for source in sources:
        beside = source.is_file() and reads_beside(source)
        scope = source.parent if beside else source
        rules.append((str(scope), READ))
        # A folder's symlinks pointing out of it are read as the files they name (a Hugging
        # Face cache's snapshot links each shard into its blobs folder); Landlock checks the
        # target.
        rules += [(p, READ) for p in _links_out(scope, deep=not beside)]
    return rules


def _python_paths(preload: Sequence[str]) -> set[str]:
    """Where Python, its standard library and installed packages live; the folders of every
    module and shared library loaded so far; where ``preload`` modules would be found (each
    folder once, unresolved: ``_minimal`` resolves them)."""
    import importlib.util
    import site
    import sysconfig

    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, sys.executable}
    paths = sysconfig.get_paths()
    found.update(paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths)
    found.update(site.getsitepackages())
    files = {getattr(module, "__file__", None) for module in list(sys.modules.values())}
    found.update(os.path.dirname(f) for f in files if isinstance(f, str))
    for name in preload:
        try:
            spec = importlib.util.find_spec(name.split(".")[0])
        except (ImportError, ValueError):
            continue
        found.update(spec.submodule_search_locations or [] if spec else [])
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return found
    libraries = {line.split(maxsplit=5)[-1] for line in maps.splitlines() if " /" in line}
    found.update(os.path.dirname(name) for name in libraries if ".so" in os.path.basename(name))
    return found


def _links_out(scope: Path, deep: bool) -> Iterator[str]:
    """The targets outside ``scope`` of the symlinks in it (``deep``: in its subfolders too)."""
    if not scope.is_dir():
        return
    seen = 0
    inside = os.path.realpath(scope)
    for folder, dirs, names in os.walk(scope):
        entries = (*dirs, *names)
        if not deep:
            dirs.clear()  # the files beside an index; its subfolders are not walked
        for name in entries:
            seen += 1
            if seen > MOST_WALKED:
                return
            path = os.path.join(folder, name)
            if os.path.islink(path):
                target = os.path.realpath(path)
                if os.path.commonpath((inside, target)) != inside and os.path.exists(target):
                    yield target


def _minimal(rules: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """``rules`` resolved, without those another rule already covers (a folder beneath a
    folder with the same or more access): Python's paths would otherwise be hundreds."""
    best: dict[str, int] = {}
    for path, access in rules:
        if not path or not os.path.exists(path):
            continue
        real = os.path.realpath(path)
        best[real] = best.get(real, 0) | access
    kept: list[tuple[str, int]] = []
    for path in sorted(best):
        covered = any(
            (path + os.sep).startswith(p.rstrip(os.sep) + os.sep) and a & best[path] == best[path]
            for p, a in kept
        )
        if not covered:
            kept.append((path, best[path]))
    return kept
