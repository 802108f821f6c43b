"""Every hostile file the suite makes, through the CLI: exit 0, or exit 2 with one ``error:``
line that names no Python exception, address or traceback, and nothing left in the
temporary folder.

The files: the real crashers and hangs of ``data/`` (HDF5 1.14.6), every case of
``test_hostile`` (pickles, zip and config bombs, HDF5 storage that reads other files, zip-slip),
the crafted files on which a parser raised its own exception (``_reader_faults``), the
weights that cannot be read (``_unreadable``), and a zipped SavedModel (which opens, and is
extracted to a folder that must not outlive the run). The fuzzed files go through the CLI
with the same check in ``test_fuzz``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import test_hostile
from _reader_faults import bad_link_name, checkpoint_outside, saved_model_deep, saved_model_outside
from _security import assert_plain, run_cli
from _unreadable import damaged_copy, with_weights

DATA = Path(__file__).with_name("data")
SAVED_MODEL = "digits_savedmodel_keras2"


@pytest.fixture(scope="module")
def corpus(
    tiny_files: dict[str, Path], realworld: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("corpus")
    files = {path.name: path for path in sorted(DATA.glob("*.h5"))}
    for case, (build, _, _) in test_hostile.CASES.items():
        (folder / case).mkdir()
        files[case] = build(tiny_files, folder / case, folder / case / "PICKLE_RAN")
    saved = realworld / SAVED_MODEL
    files["bad_link_name"] = bad_link_name(tiny_files["weights_h5"], folder / "link.weights.h5")
    files["saved_model_outside"] = saved_model_outside(saved, folder / "outside")
    files["checkpoint_outside"] = checkpoint_outside(saved, folder / "ckpt")
    files["saved_model_deep"] = saved_model_deep(saved, folder / "deep")
    kernel = "layers/dense/vars/0"
    for damage in ("deflate", "cut", "filter"):
        out = folder / f"{damage}.weights.h5"
        files[f"unreadable_{damage}"] = damaged_copy(tiny_files["weights_h5"], out, kernel, damage)
    files["unreadable_in_keras"] = with_weights(
        tiny_files["keras"], files["unreadable_cut"], folder / "cut.keras"
    )
    files["zipped_saved_model"] = folder / "digits.zip"
    with zipfile.ZipFile(files["zipped_saved_model"], "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(saved.rglob("*")):
            if path.is_file():
                zf.write(path, f"{SAVED_MODEL}/{path.relative_to(saved)}")
    return files


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_every_hostile_file_ends_in_exit_0_or_one_plain_line(
    corpus: dict[str, Path], private_tmp: Path
) -> None:
    failures = []
    for name, path in corpus.items():
        for command in (["inspect", str(path), "--json"], ["health", str(path)]):
            run = run_cli(*command, tmpdir=private_tmp, timeout=180)
            lines = run.error_lines()
            clean = run.returncode == 0 or (
                run.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ")
            )
            try:
                assert_plain(run)
            except AssertionError as exc:
                clean, lines = False, [str(exc)]
            left = sorted(p.name for p in private_tmp.iterdir())
            if not clean or left:
                failures.append(f"{name} {command[0]}: exit {run.returncode}, {lines}, left {left}")
    assert not failures, "\n".join(failures)
    assert not (private_tmp.parent / "slipped.txt").exists()
