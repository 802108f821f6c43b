"""Fixtures shared by every test package: where the real-world files are, a demo cache."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REALWORLD = ROOT.parent / "shared" / "realworld"


def pytest_configure(config: pytest.Config) -> None:
    # One demo cache per test session, shared with the app servers the tests start: the demos
    # train once per run (seconds), and a developer's own cache is never touched.
    if "WEIGHTSCOPE_TEST_CACHE" not in os.environ:
        os.environ["WEIGHTSCOPE_TEST_CACHE"] = tempfile.mkdtemp(prefix="weightscope-test-")
    os.environ["WEIGHTSCOPE_CACHE_DIR"] = os.environ["WEIGHTSCOPE_TEST_CACHE"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def realworld() -> Path:
    """The folder of public model files (../shared/realworld), or skip when it is absent."""
    if not REALWORLD.is_dir():
        pytest.skip(f"the real-world corpus is not at {REALWORLD}")
    return REALWORLD
