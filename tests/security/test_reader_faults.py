"""A parser's own fault on a crafted file is a line that names the file's problem.

Each file makes a parser raise an exception of its own (see ``_reader_faults``); the user once
read "the reader failed (IndexError ...)", "(RecursionError ...)" or "<cyfunction
FastRLock.__exit__ at 0x7f...> returned a result with an exception set". Now the library
raises one of its errors whose line says what is wrong with the file, in process and through
the sandboxed worker, and the CLI prints it as its one ``error:`` line, leaving nothing in the
temporary folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from _reader_faults import bad_link_name, checkpoint_outside, saved_model_deep, saved_model_outside
from _security import PYTHON_WORDS, assert_cli_refuses, run_cli

from kerascope.extraction import open_model
from kerascope.extraction.errors import KerascopeError

SAVED_MODEL = "digits_savedmodel_keras2"

CASES: dict[str, tuple[Callable[[dict[str, Path], Path, Path], Path], str]] = {
    "link_name_weights_h5": (
        lambda tiny, _sm, out: bad_link_name(tiny["weights_h5"], out / "bad.weights.h5"),
        "not valid UTF-8",
    ),
    "link_name_h5": (lambda tiny, _sm, out: bad_link_name(tiny["h5"], out / "bad.h5"), "UTF-8"),
    "saved_model_outside": (
        lambda _tiny, sm, out: saved_model_outside(sm, out / "outside"),
        "the object graph points outside itself",
    ),
    "checkpoint_outside": (
        lambda _tiny, sm, out: checkpoint_outside(sm, out / "ckpt"),
        "the object graph points outside itself",
    ),
    "saved_model_deep": (
        lambda _tiny, sm, out: saved_model_deep(sm, out / "deep"),
        "nests too deeply",
    ),
}


@pytest.fixture(scope="module")
def crafted(
    tiny_files: dict[str, Path], realworld: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("faults")
    out = {}
    for case, (build, _) in CASES.items():
        (folder / case).mkdir()
        out[case] = build(tiny_files, realworld / SAVED_MODEL, folder / case)
    return out


def _read_everything(path: Path, isolate: bool) -> None:
    model = open_model(path, isolate=isolate)
    for _, weight in model.iter_weights():
        weight.stats()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("isolate", [True, False], ids=["worker", "in-process"])
@pytest.mark.parametrize("case", list(CASES))
def test_the_library_names_the_files_problem(
    case: str, isolate: bool, crafted: dict[str, Path]
) -> None:
    with pytest.raises(KerascopeError) as caught:
        _read_everything(crafted[case], isolate)
    message = str(caught.value)
    assert "\n" not in message and CASES[case][1] in message, message
    assert not PYTHON_WORDS.search(message), message


@pytest.mark.timeout(300)
@pytest.mark.parametrize("case", list(CASES))
def test_the_cli_names_the_files_problem(
    case: str, crafted: dict[str, Path], private_tmp: Path
) -> None:
    run = run_cli("inspect", str(crafted[case]), "--json", tmpdir=private_tmp, timeout=180)
    assert_cli_refuses(run, CASES[case][1])
