"""Every notebook in notebooks/ runs top to bottom on a fresh kernel, and is saved without outputs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 600  # seconds per cell: generous, for a loaded CI machine; the notebooks use small demo sizes


def test_there_are_notebooks():
    assert any(p.name == "quickstart.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_saved_without_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} were saved with outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path: Path, tmp_path: Path, monkeypatch):
    from nbclient import NotebookClient

    # Run in a scratch copy of the notebooks folder: nothing the notebook writes lands in the repository.
    work = tmp_path / "notebooks"
    shutil.copytree(path.parent, work)
    # The kernel is a new process: make sure it imports this checkout of the package.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(work / path.name, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(work)}},
        allow_errors=False,  # any error fails, except in cells tagged raises-exception
    )
    client.execute()

    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        # A magic's UsageError arrives as a short stderr message, anything else as an error output.
        errors = [o for o in cell.outputs if o.output_type == "error"]
        usage = [o for o in cell.outputs if o.output_type == "stream" and o.text.startswith("UsageError:")]
        expected = "raises-exception" in cell.metadata.get("tags", [])
        assert bool(errors or usage) == expected, (
            f"{path.name} cell {i}: error expected={expected}, got {errors}"
        )
        # Magic errors are short messages, never Python tracebacks into the package.
        for err in errors:
            assert err.ename in ("UsageError", "SegmentError"), (
                f"{path.name} cell {i}: {err.ename}: {err.evalue}"
            )
        if cell.source.lstrip().startswith("%%segment") and not expected:
            assert cell.outputs, f"{path.name} cell {i}: a %%segment cell displayed nothing"
