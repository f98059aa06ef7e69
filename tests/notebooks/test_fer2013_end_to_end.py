"""The Colab notebook, executed end to end on generated data with the smoke preset."""

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.fer_fixtures import ROOT

pytestmark = pytest.mark.slow  # trains, exports, benchmarks and serves: minutes

NOTEBOOK = ROOT / "notebooks" / "fer2013_end_to_end.ipynb"


def test_notebook_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("FER_NOTEBOOK_SKIP_INSTALL", "1")  # the project is installed already; no network here
    monkeypatch.setenv("FER_WORKDIR", str(tmp_path))
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()

    outputs = "\n".join(
        out.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )
    assert "preset=smoke" in outputs
    assert (tmp_path / "runs" / "smoke" / "metrics.json").is_file()
    assert (tmp_path / "runs" / "smoke" / "eval.json").is_file()
    assert (tmp_path / "artifacts" / "smoke" / "model_int8.tflite").is_file()
    assert (tmp_path / "bench.json").is_file() and (tmp_path / "bench.png").is_file()
    assert "demo answered 200" in outputs
