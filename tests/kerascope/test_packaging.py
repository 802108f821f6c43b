"""``pip install .``: every package is listed, requirements.txt is the one list of dependencies
and declares what the code imports, and the wheel carries the app, its settings and the
command."""

from __future__ import annotations

import ast
import json
import os
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
ROOT_PACKAGES = ("extraction", "components")
"""Kept at the repository root, shipped inside ``kerascope``."""
OURS = ("kerascope", *ROOT_PACKAGES)


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement_lines() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def shipped_sources() -> list[Path]:
    """Every module the wheel ships, where it is in the checkout (links not followed)."""
    own = [p for p in sorted((ROOT / "kerascope").glob("*.py"))]
    return [
        ROOT / "app.py",
        *own,
        *(p for top in ROOT_PACKAGES for p in (ROOT / top).rglob("*.py")),
    ]


def test_every_package_folder_is_listed() -> None:
    listed = set(pyproject()["tool"]["setuptools"]["packages"])  # type: ignore[index]
    found = {
        "kerascope." + init.parent.relative_to(ROOT).as_posix().replace("/", ".")
        for top in ROOT_PACKAGES
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert listed == found | {"kerascope", "kerascope._app"}
    # In a checkout kerascope.extraction is extraction/ itself: a relative link, not a copy.
    for top in ROOT_PACKAGES:
        link = ROOT / "kerascope" / top
        assert link.is_symlink() and os.readlink(link) == f"../{top}"


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


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``python -m build`` on a copy of the checkout: the sdist, then the wheel built from it."""
    # From a copy: setuptools writes build/ and *.egg-info beside the sources it builds. build
    # makes an isolated environment with the setuptools pyproject.toml asks for.
    tmp_path = tmp_path_factory.mktemp("build")
    source = tmp_path / "src"
    skip = shutil.ignore_patterns(
        ".*venv*", ".git", "__pycache__", "build", "*.egg-info", "artifacts", ".*cache*", "tests"
    )
    shutil.copytree(ROOT, source, ignore=skip, symlinks=True)
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "-q", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=900,
    )
    (wheel,) = out.glob("kerascope-*.whl")
    (sdist,) = out.glob("kerascope-*.tar.gz")
    return wheel, sdist


@pytest.mark.slow
def test_wheel_ships_the_app_settings_command_and_dependencies(built: tuple[Path, Path]) -> None:
    wheel, sdist = built
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(zf.read(info).decode())
        entry_points = zf.read(info.replace("METADATA", "entry_points.txt")).decode()
        app = zf.read("kerascope/_app/app.py").decode()
        config = zf.read("kerascope/_app/.streamlit/config.toml").decode()
        api = zf.read("kerascope/extraction/api.py").decode()
    assert app == (ROOT / "app.py").read_text()
    assert config == (ROOT / ".streamlit" / "config.toml").read_text()
    assert api == (ROOT / "extraction" / "api.py").read_text()
    assert "kerascope = kerascope.cli:main" in entry_points
    for source in shipped_sources():
        if source.name != "app.py":
            # extraction/ and components/: at the checkout's root, inside kerascope/ in the wheel
            relative = source.relative_to(ROOT).as_posix()
            inside = relative if relative.startswith("kerascope/") else f"kerascope/{relative}"
            assert inside in names
    # Only one top-level name: `extraction` and `components` are other projects' names on PyPI.
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"kerascope"}
    required = {str(Requirement(r)) for r in metadata.get_all("Requires-Dist") or []}
    assert required == {str(Requirement(line)) for line in requirement_lines()}
    assert sdist.name == wheel.name.split("-py3")[0] + ".tar.gz"


@pytest.mark.slow
def test_installed_wheel_works_outside_the_checkout(
    built: tuple[Path, Path], tmp_path: Path, realworld: Path
) -> None:
    # The wheel installed into a folder of its own, run from elsewhere, with nothing of the
    # checkout on the path: the command, the library's CLI through the sandboxed worker (which
    # must import the installed package too) and the notebook module.
    wheel, _ = built
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    assert not (target / "extraction").exists() and not (target / "components").exists()
    env = {**os.environ, "PYTHONPATH": str(target), "KERASCOPE_CACHE_DIR": str(tmp_path / "c")}
    model = realworld / "mnist_cnn.keras"

    def run(*args: str) -> str:
        done = subprocess.run(
            args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    assert "inspect" in run(str(target / "bin" / "kerascope"), "--help")
    listing = json.loads(run(str(target / "bin" / "kerascope"), "inspect", str(model), "--json"))
    conv = next(layer for layer in listing["layers"] if layer["class_name"] == "Conv2D")
    shown = run(
        sys.executable, "-c",
        "import sys, kerascope as ks\n"
        f"fig = ks.filters(ks.open({str(model)!r}), {conv['path']!r})\n"
        "print(type(fig).__name__, ks.__file__, 'extraction' in sys.modules)",
    )  # fmt: skip
    kind, where, top_level = shown.split()
    assert kind == "Figure" and where.startswith(str(target)) and top_level == "False"
