"""Every environment variable Kerascope reads, with its default: one home.

``Settings.from_env()`` reads them all into one frozen record. It is called when a setting is
needed (a worker starts, a cache trims, a demo is trained), never once at import, so a server
started with one value and a test that changes the environment both see what is set now.
A number that is not a positive, finite number leaves the default (a typo never turns a limit
off); ``docs/cli.md`` and ``docs/safety.md`` list every variable for users.

Size limits that are facts about file formats (``MAX_CONFIG_BYTES``...) are not settings: they
live in ``readers/safety.py``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .readers.safety import MAX_ARRAY_BYTES

MODEL_DIR_ENV = "KERASCOPE_MODEL_DIR"
"""The app's model folder: its models are listed and open by deep link (none by default)."""
CACHE_DIR_ENV = "KERASCOPE_CACHE_DIR"
"""Where trained demos, persisted statistics, run timelines and the Train tab's runs are kept; by
default ``$XDG_CACHE_HOME/kerascope``, else ``~/.cache/kerascope``."""
CACHE_ENV = "KERASCOPE_CACHE_MB"
"""The app's byte budget (MB) for its caches of opened and runnable models."""
CACHE_BYTES = 2 * 1024**3
"""``KERASCOPE_CACHE_MB``'s default: 2 GiB; least recently used models are dropped beyond it."""
VERBOSE_ENV = "KERASCOPE_VERBOSE"
"""Set (to anything but ``0``), TensorFlow's native start-up chatter and the worker's stderr
are not silenced: for debugging a reader."""

# The sandboxed worker (``readers/worker.py``): a file from outside is parsed in a child process
# under these limits, read when a worker starts.
WORKER_MEMORY_ENV = "KERASCOPE_WORKER_MEMORY_MB"
WORKER_MEMORY_BYTES = MAX_ARRAY_BYTES + 3 * 1024**3
"""Address space (RLIMIT_AS) of a worker: the largest array allowed (``MAX_ARRAY_BYTES``) plus
3 GiB for Python, the native libraries (TensorFlow alone maps about 1.5 GiB) and statistics;
11 GiB by default. Unless the variable is set, a worker lowers it to what its file may need once
it knows the file (``readers._child.fit_memory``)."""
WORKER_CPU_ENV = "KERASCOPE_WORKER_CPU_SECONDS"
WORKER_CPU_SECONDS = 60.0
"""CPU seconds (RLIMIT_CPU) one request to a worker may use (threads add up)."""
WORKER_WALL_ENV = "KERASCOPE_WORKER_SECONDS"
WORKER_WALL_SECONDS = 25.0
"""Wall-clock seconds one request (an open, one array) may take before the worker is killed;
below 30 so that a hanging file ends in one line within half a minute."""
WORKER_IDLE_ENV = "KERASCOPE_WORKER_IDLE_SECONDS"
WORKER_IDLE_SECONDS = 60.0
"""A worker with no request for this long exits; a later array read opens the file again in a
fresh worker (so a server holding many models does not hold as many processes)."""
WORKER_COUNT_ENV = "KERASCOPE_WORKERS"
WORKER_COUNT = 8
"""Workers kept alive at once by one process, besides the spare; beyond it the least recently
used idle one is ended (its records stay: a later read opens the file again in a fresh worker).
A class uploading a file a minute each would otherwise hold a process per upload."""
SPARE_ENV = "KERASCOPE_WORKER_SPARE"
"""``0`` keeps no spare worker started ahead of the next open (``readers.worker.prestart``)."""
SANDBOX_ENV = "KERASCOPE_WORKER_SANDBOX"
SANDBOX_MODES = ("auto", "require", "off")
"""How a worker confines itself (``readers/confine.py``): ``auto`` (the default) applies every
layer the system has and logs one line naming any it lacks; ``require`` refuses to read a file
unless every layer holds; ``off`` applies none (for debugging a reader: never for files from
others). A value that is none of them is taken as the strictest, ``require``: a misspelt ``off``
must not turn the sandbox off, nor a misspelt ``require`` quietly accept less."""
SandboxMode = Literal["auto", "require", "off"]
PLUGIN_ENV = "KERASCOPE_WORKER_PLUGIN"
"""For the test suite only: a module the worker imports first, which may register extra FORMATS
rows and define ``sniff(path) -> format id | None`` (readers that crash, hang or allocate).
Whoever sets a process's environment can run code in it anyway; a file never can."""

VARIABLES = (
    MODEL_DIR_ENV,
    CACHE_DIR_ENV,
    CACHE_ENV,
    VERBOSE_ENV,
    WORKER_MEMORY_ENV,
    WORKER_CPU_ENV,
    WORKER_WALL_ENV,
    WORKER_IDLE_ENV,
    WORKER_COUNT_ENV,
    SPARE_ENV,
    SANDBOX_ENV,
    PLUGIN_ENV,
)
"""Every ``KERASCOPE_*`` variable the library and the app read."""


@dataclass(frozen=True)
class WorkerLimits:
    """What one sandboxed worker may use."""

    memory: int = WORKER_MEMORY_BYTES
    """Address space in bytes (RLIMIT_AS)."""
    cpu: float = WORKER_CPU_SECONDS
    """CPU seconds per request (RLIMIT_CPU, renewed before each request)."""
    wall: float = WORKER_WALL_SECONDS
    """Wall-clock seconds per request; the worker is killed beyond it."""
    idle: float = WORKER_IDLE_SECONDS
    """Seconds without a request after which a worker exits by itself."""


@dataclass(frozen=True)
class Settings:
    """Kerascope's settings as the environment gives them now."""

    model_dir: Path | None = None
    """``KERASCOPE_MODEL_DIR`` with ``~`` expanded, or None when unset (not checked to exist:
    ``folder.model_dir`` does that)."""
    cache_dir: Path = field(default_factory=lambda: _cache_dir({}))
    """``KERASCOPE_CACHE_DIR``, else ``$XDG_CACHE_HOME/kerascope``, else
    ``~/.cache/kerascope`` (created by whoever writes into it)."""
    cache_bytes: int = CACHE_BYTES
    """``KERASCOPE_CACHE_MB`` in bytes."""
    verbose: bool = False
    """``KERASCOPE_VERBOSE``."""
    worker: WorkerLimits = WorkerLimits()
    """``KERASCOPE_WORKER_MEMORY_MB``, ``_CPU_SECONDS``, ``_SECONDS``, ``_IDLE_SECONDS``."""
    worker_memory_fixed: bool = False
    """Whether ``KERASCOPE_WORKER_MEMORY_MB`` holds a valid value: the worker then keeps that
    limit instead of lowering it to what its file may need."""
    workers: int = WORKER_COUNT
    """``KERASCOPE_WORKERS``."""
    spare_worker: bool = True
    """``KERASCOPE_WORKER_SPARE`` is not ``0``."""
    sandbox: SandboxMode = "auto"
    """``KERASCOPE_WORKER_SANDBOX``, lower-cased (see ``SANDBOX_MODES``)."""
    worker_plugin: str | None = None
    """``KERASCOPE_WORKER_PLUGIN`` (the test suite's crashing readers)."""
    keras_home: Path = field(default_factory=lambda: _keras_home({}))
    """Keras's own cache folder, as Keras computes it (``$KERAS_HOME``, else ``~/.keras``):
    where ImageNet weights of ``keras.applications`` are found."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings in ``environ`` (``os.environ`` by default); bad values give defaults."""
        env = os.environ if environ is None else environ
        model_dir = env.get(MODEL_DIR_ENV)
        memory_mb = positive(env, WORKER_MEMORY_ENV)
        return cls(
            model_dir=Path(model_dir).expanduser() if model_dir else None,
            cache_dir=_cache_dir(env),
            cache_bytes=int(_number(env, CACHE_ENV, CACHE_BYTES / 1024**2) * 1024**2),
            verbose=env.get(VERBOSE_ENV, "") not in ("", "0"),
            worker=WorkerLimits(
                memory=int((memory_mb or WORKER_MEMORY_BYTES / 1024**2) * 1024**2),
                cpu=_number(env, WORKER_CPU_ENV, WORKER_CPU_SECONDS),
                wall=_number(env, WORKER_WALL_ENV, WORKER_WALL_SECONDS),
                idle=_number(env, WORKER_IDLE_ENV, WORKER_IDLE_SECONDS),
            ),
            worker_memory_fixed=memory_mb is not None,
            workers=max(1, int(_number(env, WORKER_COUNT_ENV, WORKER_COUNT))),
            spare_worker=env.get(SPARE_ENV, "1") != "0",
            sandbox=_sandbox(env),
            worker_plugin=env.get(PLUGIN_ENV) or None,
            keras_home=_keras_home(env),
        )


def positive(env: Mapping[str, str], name: str) -> float | None:
    """The positive, finite number in ``env[name]``, or None when it is unset or not one."""
    try:
        value = float(env.get(name, ""))
    except ValueError:
        return None
    return value if 0 < value < float("inf") else None


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    value = positive(env, name)
    return default if value is None else value


def _sandbox(env: Mapping[str, str]) -> SandboxMode:
    value = env.get(SANDBOX_ENV, "").strip().lower() or "auto"
    return "off" if value == "off" else "auto" if value == "auto" else "require"


def _home(env: Mapping[str, str]) -> Path:
    # Never raises (Path.home() does when neither HOME nor the password database says): the
    # sandboxed worker reads its settings with no HOME, and needs none of these folders.
    return Path(env.get("HOME") or os.path.expanduser("~"))


def _cache_dir(env: Mapping[str, str]) -> Path:
    explicit = env.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(_home(env) / ".cache")
    return Path(base) / "kerascope"


def _keras_home(env: Mapping[str, str]) -> Path:
    return Path(env.get("KERAS_HOME") or _home(env) / ".keras")


def cache_dir() -> Path:
    """The cache folder now (``Settings.cache_dir``); not created here."""
    return Settings.from_env().cache_dir


__all__ = [
    "CACHE_BYTES",
    "CACHE_DIR_ENV",
    "CACHE_ENV",
    "MODEL_DIR_ENV",
    "PLUGIN_ENV",
    "SANDBOX_ENV",
    "SANDBOX_MODES",
    "SPARE_ENV",
    "VARIABLES",
    "VERBOSE_ENV",
    "WORKER_COUNT",
    "WORKER_COUNT_ENV",
    "WORKER_CPU_ENV",
    "WORKER_CPU_SECONDS",
    "WORKER_IDLE_ENV",
    "WORKER_IDLE_SECONDS",
    "WORKER_MEMORY_BYTES",
    "WORKER_MEMORY_ENV",
    "WORKER_WALL_ENV",
    "WORKER_WALL_SECONDS",
    "SandboxMode",
    "Settings",
    "WorkerLimits",
    "cache_dir",
    "positive",
]
