"""Settings: every environment variable read in one place, bad values give the defaults, and
each one is documented for users."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kerascope.extraction import settings
from kerascope.extraction.readers.safety import MAX_ARRAY_BYTES
from kerascope.extraction.settings import Settings, WorkerLimits

ROOT = Path(__file__).parents[2]


def test_defaults_with_an_empty_environment() -> None:
    got = Settings.from_env({})
    assert got.model_dir is None
    assert got.cache_dir == Path.home() / ".cache" / "kerascope"
    assert got.cache_bytes == 2 * 1024**3
    assert got.worker == WorkerLimits(memory=MAX_ARRAY_BYTES + 3 * 1024**3, cpu=60, wall=25)
    assert got.worker.idle == 60
    assert not got.worker_memory_fixed
    assert got.workers == 8
    assert got.spare_worker and not got.verbose
    assert got.worker_plugin is None
    assert got.sandbox == "auto"
    assert got == Settings()


def test_values_are_read_and_converted() -> None:
    got = Settings.from_env(
        {
            "KERASCOPE_MODEL_DIR": "~/models",
            "KERASCOPE_CACHE_DIR": "/tmp/ks-cache",
            "KERASCOPE_CACHE_MB": "300",
            "KERASCOPE_WORKER_MEMORY_MB": "512",
            "KERASCOPE_WORKER_CPU_SECONDS": "1.5",
            "KERASCOPE_WORKER_SECONDS": "5",
            "KERASCOPE_WORKER_IDLE_SECONDS": "0.5",
            "KERASCOPE_WORKERS": "2",
            "KERASCOPE_WORKER_SPARE": "0",
            "KERASCOPE_VERBOSE": "1",
            "KERASCOPE_WORKER_PLUGIN": "some.module",
            "KERASCOPE_WORKER_SANDBOX": " Off ",
        }
    )
    assert got.model_dir == Path.home() / "models"
    assert got.cache_dir == Path("/tmp/ks-cache")
    assert got.cache_bytes == 300 * 1024**2
    assert got.worker == WorkerLimits(memory=512 * 1024**2, cpu=1.5, wall=5.0, idle=0.5)
    assert got.worker_memory_fixed
    assert got.workers == 2
    assert not got.spare_worker
    assert got.verbose
    assert got.worker_plugin == "some.module"
    assert got.sandbox == "off"


def test_cache_dir_follows_xdg_when_not_set() -> None:
    got = Settings.from_env({"XDG_CACHE_HOME": "/srv/cache"})
    assert got.cache_dir == Path("/srv/cache/kerascope")
    explicit = Settings.from_env({"XDG_CACHE_HOME": "/srv/cache", "KERASCOPE_CACHE_DIR": "/c"})
    assert explicit.cache_dir == Path("/c")


@pytest.mark.parametrize("bad", ["", "lots", "0", "-5", "nan", "inf", "-inf", "1e999", "0x10"])
@pytest.mark.parametrize(
    ("variable", "read"),
    [
        ("KERASCOPE_CACHE_MB", lambda s: s.cache_bytes),
        ("KERASCOPE_WORKER_MEMORY_MB", lambda s: (s.worker.memory, s.worker_memory_fixed)),
        ("KERASCOPE_WORKER_CPU_SECONDS", lambda s: s.worker.cpu),
        ("KERASCOPE_WORKER_SECONDS", lambda s: s.worker.wall),
        ("KERASCOPE_WORKER_IDLE_SECONDS", lambda s: s.worker.idle),
        ("KERASCOPE_WORKERS", lambda s: s.workers),
    ],
)
def test_a_bad_number_leaves_the_default(variable: str, read: object, bad: str) -> None:
    """A typo never turns a limit off or to zero: anything but a positive finite number is
    the default."""
    assert callable(read)
    assert read(Settings.from_env({variable: bad})) == read(Settings())


def test_a_fraction_of_a_worker_is_one_worker() -> None:
    assert Settings.from_env({"KERASCOPE_WORKERS": "0.5"}).workers == 1


@pytest.mark.parametrize(
    ("value", "mode"), [("require", "require"), ("of", "require"), ("none", "require")]
)
def test_a_misspelt_sandbox_mode_is_the_strictest(value: str, mode: str) -> None:
    assert Settings.from_env({"KERASCOPE_WORKER_SANDBOX": value}).sandbox == mode


def test_no_home_is_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandboxed worker reads its settings with no HOME (nor, once confined, a readable
    password database): that must never raise."""
    monkeypatch.delenv("HOME", raising=False)
    assert Settings.from_env({}).workers == 8


@pytest.mark.parametrize(("value", "verbose"), [("", False), ("0", False), ("1", True)])
def test_verbose(value: str, verbose: bool) -> None:
    assert Settings.from_env({"KERASCOPE_VERBOSE": value}).verbose is verbose


def test_reads_the_environment_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is read at import: a server and a test see what is set now."""
    monkeypatch.setenv("KERASCOPE_WORKERS", "3")
    assert Settings.from_env().workers == 3
    monkeypatch.setenv("KERASCOPE_WORKERS", "4")
    assert Settings.from_env().workers == 4
    monkeypatch.setenv("KERASCOPE_CACHE_DIR", "/tmp/elsewhere")
    assert settings.cache_dir() == Path("/tmp/elsewhere")


def _code_files() -> list[Path]:
    files = [ROOT / "app.py"]
    for folder in ("extraction", "components", "kerascope"):
        files += [p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts]
    return files


def test_every_variable_the_code_names_lives_in_settings() -> None:
    """No module keeps a ``KERASCOPE_*`` variable of its own, or reads one around settings."""
    named: dict[str, set[str]] = {}
    for path in _code_files():
        text = path.read_text()
        for name in re.findall(r"\bKERASCOPE_[A-Z_]+\b", text):
            named.setdefault(name, set()).add(str(path.relative_to(ROOT)))
        if path.name != "settings.py":
            assert not re.search(r"environ(\.get)?\(?\[?\s*[\"']KERASCOPE_", text), path
    assert set(named) <= set(settings.VARIABLES), {
        n: f for n, f in named.items() if n not in settings.VARIABLES
    }


def test_every_variable_is_documented() -> None:
    """``docs/cli.md`` (the app's settings) or ``docs/safety.md`` (the worker's) has a row for
    every variable."""
    docs = (ROOT / "docs" / "cli.md").read_text() + (ROOT / "docs" / "safety.md").read_text()
    rows = set(re.findall(r"^\| `(KERASCOPE_[A-Z_]+)` \|", docs, flags=re.MULTILINE))
    assert set(settings.VARIABLES) == rows
