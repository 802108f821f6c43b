"""examples/quickstart.ipynb runs top to bottom in a real Jupyter kernel, every figure cell
shows a plotly figure, and git holds the notebook without outputs."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"
PLOTLY = "application/vnd.plotly.v1+json"


def test_notebook_is_stored_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source


@pytest.mark.slow
def test_notebook_runs_and_shows_its_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient import NotebookClient

    # The kernel is a fresh Python: it imports kerascope from this checkout, and writes the
    # notebook's files in tmp_path. The demo cache is the test session's (tests/conftest.py).
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the traceback, if any cell fails

    figure_cells = [c for c in nb.cells if "figure" in c.metadata.get("tags", [])]
    assert len(figure_cells) >= 6
    for cell in figure_cells:
        shown = [out for out in cell.outputs if PLOTLY in out.get("data", {})]
        assert len(shown) == 1, cell.source
        figure = shown[0]["data"][PLOTLY]
        assert figure["data"] and figure["layout"], cell.source
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not [out for out in cell.outputs if out.output_type == "error"], cell.source
            assert not [out for out in cell.outputs if out.get("name") == "stderr"], cell.source
    assert (tmp_path / "my_net.keras").is_file()
