"""The one atomic writer and the one keyed disk cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kerascope.extraction.disk import PARTIAL_PREFIX, DiskCache, atomic_path, write_atomic

ROOT = Path(__file__).parents[2]


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("KERASCOPE_CACHE_DIR", str(folder))
    return folder


def test_atomic_path_renames_onto_the_target_when_the_block_succeeds(tmp_path: Path) -> None:
    target = tmp_path / "model.weights.h5"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(PARTIAL_PREFIX)
        assert tmp.name.endswith("model.weights.h5")  # Keras checks the suffix
        tmp.write_text("new")
        assert target.read_text() == "old"  # nobody sees the new file before it is whole
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["model.weights.h5"]


def test_a_failed_write_leaves_the_target_and_no_stray_file(tmp_path: Path) -> None:
    target = tmp_path / "out.npz"
    target.write_bytes(b"before")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("the writer failed")
    assert target.read_bytes() == b"before"
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]


def test_a_block_that_writes_nothing_leaves_the_target_alone(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    with pytest.raises(FileNotFoundError), atomic_path(target):
        pass
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_writes_text_and_bytes(tmp_path: Path) -> None:
    write_atomic(tmp_path / "a.txt", "héllo")
    write_atomic(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_two_writers_at_once_get_their_own_partial_files(tmp_path: Path) -> None:
    target = tmp_path / "t.json"
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first != second
        first.write_text("1")
        second.write_text("2")
    assert target.read_text() == "1"  # the outer block ends last
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]


def test_cache_is_keyed(cache_dir: Path) -> None:
    cache = DiskCache("things", version=1)
    assert cache.get({"path": "/a", "size": 1}) is None
    assert cache.put({"path": "/a", "size": 1}, {"value": [1, 2]})
    assert cache.put({"path": "/a", "size": 2}, "other")
    assert cache.get({"size": 1, "path": "/a"}) == {"value": [1, 2]}  # key order is no matter
    assert cache.get({"path": "/a", "size": 2}) == "other"
    assert cache.get(("/a", 1)) is None
    assert cache.path({"path": "/a", "size": 1}).parent == cache_dir / "things"
    assert len(list((cache_dir / "things").iterdir())) == 2


def test_tuples_and_lists_are_one_key(cache_dir: Path) -> None:
    cache = DiskCache("things", version=1)
    cache.put(("a", 1, [2, 3]), 5)
    assert DiskCache("things", version=1).get(["a", 1, (2, 3)]) == 5


def test_values_survive_a_restart(cache_dir: Path) -> None:
    """Another process (a server restarted, the CLI) reads what this one kept."""
    DiskCache("runs", version=3).put(["/x/step-1.h5", 10, 99], {"l2": 1.5, "nan": None})
    code = (
        "from kerascope.extraction.disk import DiskCache; import json; "
        "print(json.dumps(DiskCache('runs', version=3).get(['/x/step-1.h5', 10, 99])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "KERASCOPE_CACHE_DIR": str(cache_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"l2": 1.5, "nan": None}


def test_another_version_is_a_miss(cache_dir: Path) -> None:
    DiskCache("stats", version=1).put("k", 1)
    assert DiskCache("stats", version=2).get("k") is None
    assert DiskCache("stats", version=1).get("k") == 1


@pytest.mark.parametrize(
    "damage",
    [b"", b"{not json", b"[1, 2]", b'{"key": "other", "value": 1}', b'{"value": 1}', b"\xff\xfe"],
)
def test_a_corrupt_entry_is_ignored_and_rewritten(cache_dir: Path, damage: bytes) -> None:
    cache = DiskCache("stats", version=1)
    cache.put("k", {"a": 1})
    cache.path("k").write_bytes(damage)
    assert DiskCache("stats", version=1).get("k") is None
    assert cache.put("k", {"a": 2})
    assert DiskCache("stats", version=1).get("k") == {"a": 2}


def test_an_unwritable_cache_only_costs_speed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("KERASCOPE_CACHE_DIR", str(blocker))  # a file: no folder can be made in it
    cache = DiskCache("stats", version=1)
    assert not cache.put("k", 1)
    assert DiskCache("stats", version=1).get("k") is None


def test_memory_front_is_bounded_and_isolated_from_the_caller(cache_dir: Path) -> None:
    cache = DiskCache("runs", version=1, memory=2)
    value = {"xs": [1, 2]}
    cache.put("a", value)
    value["xs"].append(3)  # the caller's later change is not what the cache keeps
    assert cache.get("a") == {"xs": [1, 2]}
    for key in "bcd":
        cache.put(key, key)
    for path in (cache_dir / "runs").iterdir():
        path.unlink()
    assert [cache.get(k) for k in "abcd"] == [None, None, "c", "d"]  # the last two are held
    cache.forget()
    assert cache.get("d") is None


def test_the_folder_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = DiskCache("stats", version=1)
    monkeypatch.setenv("KERASCOPE_CACHE_DIR", str(tmp_path / "one"))
    cache.put("k", 1)
    monkeypatch.setenv("KERASCOPE_CACHE_DIR", str(tmp_path / "two"))
    assert cache.get("k") is None
    assert (tmp_path / "one" / "stats").is_dir() and not (tmp_path / "two").exists()


WRITER = """
import sys
from kerascope.extraction.disk import DiskCache
cache, n = DiskCache("race", version=1), int(sys.argv[1])
for i in range(15):
    cache.put("shared", {"writer": n, "round": i, "payload": [n] * 200_000})
"""


def test_concurrent_writers_never_leave_a_torn_file(cache_dir: Path) -> None:
    """Four processes and two threads write one key over and over (values of about 1 MB)
    while this test reads the file itself: whenever it exists, it is one whole value."""
    env = {**os.environ, "KERASCOPE_CACHE_DIR": str(cache_dir)}
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(n)], cwd=ROOT, env=env)
        for n in range(4)
    ]
    cache = DiskCache("race", version=1)

    def write(n: int) -> None:
        for i in range(15):
            cache.put("shared", {"writer": n, "round": i, "payload": [n] * 200_000})

    threads = [threading.Thread(target=write, args=(n,)) for n in (10, 11)]
    for t in threads:
        t.start()
    target, reads = cache.path("shared"), 0
    while any(p.poll() is None for p in procs) or any(t.is_alive() for t in threads):
        try:
            raw = target.read_bytes()
        except FileNotFoundError:
            continue
        value = json.loads(raw)["value"]  # a torn file would not parse
        assert value["payload"] == [value["writer"]] * 200_000
        reads += 1
    for t in threads:
        t.join()
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    assert reads > 0
    assert DiskCache("race", version=1).get("shared")["round"] == 14
    assert [p.name for p in (cache_dir / "race").iterdir()] == [target.name]  # no partials left
