"""``examples/placement.ipynb`` is executed on every run, so it never rots (and stays under a minute)."""

from __future__ import annotations

import time

import pytest
from placement_checks import REPO

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def test_placement_notebook_executes_without_errors(cases_file):
    path = REPO / "examples" / "placement.ipynb"
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    nbclient.NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    elapsed = time.perf_counter() - started
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "exact: 10/10 cases match" in text and "fast: 10/10 cases match" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2
    assert elapsed < 120, f"notebook took {elapsed:.0f} s; keep it under a minute"
