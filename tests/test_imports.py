"""The layering DESIGN.md promises: ``extraction`` and ``components.figures`` never import
Streamlit, and importing ``extraction`` does not import TensorFlow or Keras."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import importlib, pkgutil, sys
import {package} as root
names = [m.name for m in pkgutil.walk_packages(root.__path__, root.__name__ + ".")
         if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(len(names))
print(" ".join(sorted(m for m in {forbidden} if m in sys.modules)))
"""


def _import_all(package: str, forbidden: tuple[str, ...]) -> tuple[int, str]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(package=package, forbidden=forbidden)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout.split("\n")
    return int(out[0]), out[1].strip()


def test_extraction_never_imports_streamlit_nor_tensorflow_on_import() -> None:
    count, loaded = _import_all("extraction", ("streamlit", "tensorflow", "keras"))
    assert count >= 20  # every module of the library was imported
    assert loaded == ""


def test_figures_never_import_streamlit() -> None:
    count, loaded = _import_all("components.figures", ("streamlit",))
    assert count >= 10
    assert loaded == ""


def test_page_modules_are_the_ones_that_use_streamlit() -> None:
    count, loaded = _import_all("components.page", ("streamlit",))
    assert count >= 10 and loaded == "streamlit"


def test_weightscope_never_imports_streamlit() -> None:
    # The notebook module and the command: Streamlit runs only in the server `app` starts.
    count, loaded = _import_all("weightscope", ("streamlit",))
    assert count >= 3 and loaded == ""
