"""The layering DESIGN.md promises: ``extraction`` and ``components.figures`` never import
Streamlit, and importing ``extraction`` does not import TensorFlow or Keras.

And the packaging the checkout and the wheel share: everything is imported as ``kerascope.*``
(``kerascope/extraction`` and ``kerascope/components`` link to the folders at the repository
root; the wheel carries them inside ``kerascope``), so the library's own modules import each
other relatively and nothing ever imports a top-level ``extraction`` or ``components``, names
other projects on PyPI use too (``python -m extraction`` runs ``kerascope.extraction``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import importlib, pkgutil, sys
import {package} as root
names = [m.name for m in pkgutil.walk_packages(root.__path__, root.__name__ + ".")
         if not m.name.endswith("__main__") and not m.name.startswith({skip})]
for name in names:
    importlib.import_module(name)
print(len(names))
print(" ".join(sorted(m for m in {forbidden} if m in sys.modules)))
print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in ("extraction", "components"))))
"""


def _import_all(
    package: str, forbidden: tuple[str, ...], skip: tuple[str, ...] = ("-",)
) -> tuple[int, str]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(package=package, forbidden=forbidden, skip=skip)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout.split("\n")
    assert out[2].strip() == "", f"imported under a top-level name: {out[2][:300]}"
    return int(out[0]), out[1].strip()


def test_extraction_never_imports_streamlit_nor_tensorflow_on_import() -> None:
    count, loaded = _import_all("kerascope.extraction", ("streamlit", "tensorflow", "keras"))
    assert count >= 20  # every module of the library was imported
    assert loaded == ""


def test_figures_never_import_streamlit() -> None:
    count, loaded = _import_all("kerascope.components.figures", ("streamlit",))
    assert count >= 10
    assert loaded == ""


def test_page_modules_are_the_ones_that_use_streamlit() -> None:
    count, loaded = _import_all("kerascope.components.page", ("streamlit",))
    assert count >= 10 and loaded == "streamlit"


def test_kerascope_never_imports_streamlit() -> None:
    # The notebook module and the command: Streamlit runs only in the server `app` starts.
    own = ("kerascope.extraction", "kerascope.components")
    count, loaded = _import_all("kerascope", ("streamlit",), skip=own)
    assert count >= 3 and loaded == ""


def _imports(path: Path) -> list[tuple[int, str]]:
    """(level, module) of every import statement in a file; level 0 is absolute."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(0, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


@pytest.mark.parametrize("top", ["extraction", "components"])
def test_packages_import_themselves_relatively(top: str) -> None:
    # extraction imports nothing of ours by an absolute name: it works under any parent; its
    # __main__ hands `python -m extraction` to its one import name, kerascope.extraction.
    # components takes the library as kerascope.extraction.
    allowed = {"extraction": (), "components": ("kerascope.extraction",)}[top]
    wrong = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / top).rglob("*.py"))
        if path != ROOT / "extraction" / "__main__.py"
        for level, module in _imports(path)
        if level == 0
        and module.split(".")[0] in ("extraction", "components", "kerascope")
        and not module.startswith(allowed)
    ]
    assert not wrong


def test_nothing_else_imports_a_top_level_extraction_or_components() -> None:
    sources = [ROOT / "app.py", *(ROOT / "kerascope").glob("*.py")]
    sources += [*(ROOT / "tests").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]
    wrong = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sources
        for level, module in _imports(path)
        if level == 0 and module.split(".")[0] in ("extraction", "components")
    ]
    assert not wrong
