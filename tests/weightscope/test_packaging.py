"""``pip install .``: every package is listed, requirements.txt is the one list of dependencies
and declares what the code imports, and the wheel carries the app, its settings and the
command."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pip brings tomli on Python 3.10
    from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
OURS = ("extraction", "components", "weightscope")


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement_lines() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def shipped_sources() -> list[Path]:
    return [ROOT / "app.py", *(p for top in OURS for p in sorted((ROOT / top).rglob("*.py")))]


def test_every_package_folder_is_listed() -> None:
    listed = set(pyproject()["tool"]["setuptools"]["packages"])  # type: ignore[index]
    found = {
        init.parent.relative_to(ROOT).as_posix().replace("/", ".")
        for top in OURS
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert listed == found | {"weightscope._app"}


def test_requirements_txt_is_plain_requirements() -> None:
    # setuptools reads it as the package's dependencies: no -r, -e, -c or --options there.
    assert pyproject()["tool"]["setuptools"]["dynamic"] == {  # type: ignore[index]
        "dependencies": {"file": ["requirements.txt"]}
    }
    for line in requirement_lines():
        assert not line.startswith("-"), line
        Requirement(line)  # raises on anything pip would not take as a requirement


def test_every_third_party_import_is_declared() -> None:
    declared = {canonicalize_name(Requirement(line).name) for line in requirement_lines()}
    distributions = packages_distributions()
    imported: dict[str, str] = {}
    for path in shipped_sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in OURS:
                    imported.setdefault(top, path.relative_to(ROOT).as_posix())
    assert "keras" in imported and "plotly" in imported
    undeclared = {
        top: where
        for top, where in imported.items()
        if not {canonicalize_name(d) for d in distributions.get(top, [top])} & declared
    }
    assert not undeclared, f"imported but not in requirements.txt: {undeclared}"


@pytest.mark.slow
def test_wheel_ships_the_app_settings_command_and_dependencies(tmp_path: Path) -> None:
    # From a copy: setuptools writes build/ and *.egg-info beside the sources it builds. pip
    # builds in an isolated environment with the setuptools pyproject.toml asks for.
    source = tmp_path / "src"
    skip = shutil.ignore_patterns(
        ".*venv*", ".git", "__pycache__", "build", "*.egg-info", "artifacts", ".*cache*", "tests"
    )
    shutil.copytree(ROOT, source, ignore=skip)
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = out.glob("weightscope-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(zf.read(info).decode())
        entry_points = zf.read(info.replace("METADATA", "entry_points.txt")).decode()
        app = zf.read("weightscope/_app/app.py").decode()
        config = zf.read("weightscope/_app/.streamlit/config.toml").decode()
    assert app == (ROOT / "app.py").read_text()
    assert config == (ROOT / ".streamlit" / "config.toml").read_text()
    assert "weightscope = weightscope.cli:main" in entry_points
    for source in shipped_sources():
        if source.name != "app.py":
            assert source.relative_to(ROOT).as_posix() in names
    assert not any(n.startswith(("tests/", "benchmarks/", "docs/", "examples/")) for n in names)
    required = {str(Requirement(r)) for r in metadata.get_all("Requires-Dist") or []}
    assert required == {str(Requirement(line)) for line in requirement_lines()}
