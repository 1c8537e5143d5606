"""The notebooks run top to bottom, small, without a cell error."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
PATIENTS = "2000"


def test_notebooks_found():
    # the tour, the trade-off and the NK pilot, then one per task (04-08)
    names = {p.stem for p in NOTEBOOKS}
    assert {"01_tour_of_the_arms", "02_gvhd_relapse_tradeoff", "03_nk_pilot",
            "04_cost_effectiveness", "05_fit_predict", "06_solid_and_autologous",
            "07_sweep_tornado", "08_small_trial"} <= names


def test_task_pages_name_their_notebooks():
    # each "Notebook: notebooks/NAME.ipynb" line of the manual names a notebook that
    # exists, and every notebook is named by a page
    docs = Path(__file__).resolve().parents[2] / "docs"
    named = {line.split("notebooks/", 1)[1].strip()
             for page in docs.rglob("*.md") for line in page.read_text().splitlines()
             if line.startswith("Notebook: notebooks/")}
    assert named == {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, monkeypatch, tmp_path):
    # the kernel inherits this process's environment: small cohorts, no display
    monkeypatch.setenv("HSCTSIM_NOTEBOOK_PATIENTS", PATIENTS)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # the example data of the clone (the package may be installed apart from it)
    monkeypatch.setenv("HSCTSIM_CLONE", str(path.parents[1]))
    nb = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), \
        "notebooks are stored without outputs"
    # "python3" is the kernel of the interpreter running the tests (ipykernel's own
    # spec), so nothing needs installing beyond the test extras
    client = NotebookClient(nb, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [out for cell in nb.cells if cell.cell_type == "code"
              for out in cell.outputs if out.output_type == "error"]
    assert not errors
