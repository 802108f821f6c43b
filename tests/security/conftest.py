"""Fixtures of the security tests: tiny model files, a private temporary folder.

Temporary files are checked in a private temporary folder (``tempfile.tempdir`` and ``TMPDIR``
point there), because other test sessions on the same machine use the shared one.
"""

from __future__ import annotations

import gc
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from _security import save_tiny_models


@pytest.fixture()
def private_tmp(tmp_path: Path) -> Iterator[Path]:
    """A private temporary folder for this test, checked empty of ``kerascope-*`` at the end."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    saved = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield folder
        gc.collect()
        left = sorted(p.name for p in folder.iterdir())
        assert not left, f"temporary files left behind: {left}"
    finally:
        tempfile.tempdir = saved


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny model saved once per session in every format Keras 3 writes."""
    return save_tiny_models(tmp_path_factory.mktemp("tiny"))
