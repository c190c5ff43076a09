"""notebooks/colab_tpu.ipynb runs top to bottom on the CPU with a tiny budget."""

import os
import pathlib

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_colab_notebook_runs_on_the_cpu(tmp_path, monkeypatch):
    from ipykernel.kernelspec import install

    # A kernel spec for this interpreter, so that "python3" resolves here.
    kernels = tmp_path / "jupyter"
    install(prefix=str(kernels), kernel_name="python3")
    monkeypatch.setenv("JUPYTER_PATH", str(kernels / "share" / "jupyter"))
    monkeypatch.setenv("AUTOCV_NOTEBOOK_BUDGET_S", "30")
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep
                       + os.environ.get("PYTHONPATH", ""))
    notebook = nbformat.read(REPO / "notebooks" / "colab_tpu.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=240, kernel_name="python3",
        resources={"metadata": {"path": str(REPO / "notebooks")}},
    )
    client.execute()
    images = [
        output for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) == 1
    # The device cell reports the starter kit's own choice, here the CPU.
    printed = "".join(
        output.get("text", "") for cell in notebook.cells
        if cell.cell_type == "code" for output in cell.get("outputs", [])
    )
    assert "cpu: 1 replica(s), float32" in printed
