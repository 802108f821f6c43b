"""The ``kerascope`` command: the library's commands handed over unchanged, ``app``'s plan
(deep link and model folder) for every kind of source, and its one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import keras
import pytest
from keras import layers

from kerascope import cli, launch
from kerascope.extraction import SourceNotFound, UnsupportedFormat
from kerascope.extraction import cli as library

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inputs = keras.Input((4,))
    model = keras.Model(inputs, layers.Dense(3, name="dense")(inputs), name="cli_net")
    path = tmp_path_factory.mktemp("ws_cli") / "cli net.keras"
    model.save(path)
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kerascope", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_help_lists_app_and_every_library_command() -> None:
    done = run("--help")
    assert done.returncode == 0
    listed = re.findall(r"^    (\S+)  ", done.stdout, flags=re.MULTILINE)
    assert listed == ["app", *cli.library_commands()]
    assert {"inspect", "export"} <= set(cli.library_commands())


def test_library_commands_behave_as_python_m_extraction(
    model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["inspect", str(model_file), "--json"]) == 0
    ours = capsys.readouterr().out
    assert library.main(["inspect", str(model_file), "--json"]) == 0
    assert json.loads(ours) == json.loads(capsys.readouterr().out)
    assert json.loads(ours)["layers"][1]["weights"][0]["shape"] == [4, 3]


def test_library_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a model at all")
    done = run("inspect", str(junk))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    usage = run("inspect", "--bogus")
    assert usage.returncode == 2 and "usage: kerascope" in usage.stderr


def test_app_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    for args, says in (
        (["app", str(tmp_path / "missing.keras")], "no file, folder or demo"),
        (["app", "demo:nope"], "no demo 'nope'; demos are: "),
        (["app", "app:NotANet"], "no application 'app:NotANet'"),
    ):
        done = run(*args)
        assert done.returncode == 2, args
        assert done.stderr.startswith(f"error: {says}") and done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("source", "model"),
    [
        (None, None),
        ("digits_cnn", "digits_cnn"),
        ("demo:digits_mlp", "digits_mlp"),
        ("app:VGG16", "app:VGG16"),
    ],
)
def test_plan_for_demos_and_applications(source: str | None, model: str | None) -> None:
    plan = launch.plan(source, layer="conv1")
    assert plan.env == {}
    assert plan.query == ({"model": model} if model else {}) | {"layer": "conv1"}


def test_plan_for_a_file_serves_its_folder(
    model_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KERASCOPE_MODEL_DIR", raising=False)
    monkeypatch.chdir(model_file.parent)
    plan = launch.plan(model_file.name)  # relative to the working directory
    assert plan.env == {"KERASCOPE_MODEL_DIR": str(model_file.parent.resolve())}
    assert plan.query == {"model": model_file.name}
    url = plan.url("localhost", 8600)
    assert url == "http://localhost:8600/?model=cli+net.keras"
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(url).query) == {"model": ["cli net.keras"]}


def test_plan_keeps_the_users_model_folder(
    model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = model_file.parent.parent
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(folder))
    plan = launch.plan(str(model_file))
    assert plan.env == {"KERASCOPE_MODEL_DIR": str(folder.resolve())}
    assert plan.query == {"model": f"{model_file.parent.name}/{model_file.name}"}


def test_plan_serves_a_deep_file_from_its_own_folder(
    model_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The sidebar lists a model folder and one level below; deeper files get their own folder.
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "net.keras").write_bytes(model_file.read_bytes())
    monkeypatch.setenv("KERASCOPE_MODEL_DIR", str(tmp_path))
    plan = launch.plan(str(deep / "net.keras"))
    assert plan.env == {"KERASCOPE_MODEL_DIR": str(deep.resolve())}
    assert plan.query == {"model": "net.keras"}


def test_plan_refuses_what_the_app_could_not_open(tmp_path: Path, model_file: Path) -> None:
    odd = tmp_path / "net.bin"  # a real model whose name the model folder would not list
    odd.write_bytes(model_file.read_bytes())
    with pytest.raises(UnsupportedFormat, match="opens model files by their ending"):
        launch.plan(str(odd))
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(UnsupportedFormat):
        launch.plan(str(text))
    with pytest.raises(SourceNotFound):
        launch.plan(str(tmp_path / "missing.keras"))


def test_app_folder_has_the_app_and_its_settings() -> None:
    folder = launch.app_folder()
    assert (folder / "app.py").read_text() == (ROOT / "app.py").read_text()
    config = (folder / ".streamlit" / "config.toml").read_text()
    assert "maxUploadSize" in config
    command = launch.server_command(folder, "localhost", 8600)
    assert command[1:5] == ["-m", "streamlit", "run", str(folder / "app.py")]


def test_plan_for_a_run_folder(model_file: Path, tmp_path: Path) -> None:
    run = tmp_path / "checkpoints"
    run.mkdir()
    for epoch in (1, 2):
        (run / f"model-{epoch:02d}.keras").write_bytes(model_file.read_bytes())
    plan = launch.plan(str(run))
    assert plan.env == {"KERASCOPE_MODEL_DIR": str(tmp_path.resolve())}
    assert plan.query == {"model": "checkpoints"}
