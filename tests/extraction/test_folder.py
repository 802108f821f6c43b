"""The model folder: listing, and names from deep links that must not leave it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kerascope.extraction.errors import SourceNotFound, UnsafeModel
from kerascope.extraction.folder import list_models, resolve


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    (root / "sub").mkdir(parents=True)
    (root / "a.keras").write_bytes(b"x")
    (root / "b.h5").write_bytes(b"x")
    (root / "notes.txt").write_text("not a model")
    (root / "sub" / "c.weights.h5").write_bytes(b"x")
    (root / "exported").mkdir()
    (root / "exported" / "saved_model.pb").write_bytes(b"x")
    outside = tmp_path / "secret.keras"
    outside.write_bytes(b"secret")
    os.symlink(outside, root / "link_out.keras")
    os.symlink(tmp_path, root / "dir_out")
    return root


def test_lists_models_inside_only(folder: Path) -> None:
    assert list_models(folder) == ["a.keras", "b.h5", "exported", "sub/c.weights.h5"]


@pytest.mark.parametrize(
    "name",
    [
        "../secret.keras",
        "/etc/passwd",
        "sub/../../secret.keras",
        "link_out.keras",
        "dir_out/secret.keras",
        "..\\secret.keras",
        "a.keras\x00",
    ],
)
def test_names_that_leave_the_folder_are_refused(folder: Path, name: str) -> None:
    with pytest.raises(UnsafeModel):
        resolve(folder, name)


def test_resolves_names_inside_and_reports_missing(folder: Path) -> None:
    assert resolve(folder, "sub/c.weights.h5") == (folder / "sub" / "c.weights.h5").resolve()
    with pytest.raises(SourceNotFound, match="no model 'nope.keras'"):
        resolve(folder, "nope.keras")
