"""The student notebooks and READMEs of each assignment.

Fast: the committed notebooks are valid nbformat v4 without outputs, and each README names
every part of its assignment with its points. Slow: each notebook runs top to bottom, as a
student runs it from the assignment folder, with the reference solution in place of the
student's package.
"""

from __future__ import annotations

import base64
import shutil
import time
from pathlib import Path

import pytest

from autograder import course

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[1]

# Figures (image/png outputs) each notebook draws when it runs to the end.
EXPECTED_FIGURES = {"cnn": 11, "optim_reg": 6}
# The target is about 60 s on 2 cores; the bound leaves room for a loaded machine.
TIME_LIMIT_S = 240
CELL_TIMEOUT_S = 120


def notebook_path(name: str) -> Path:
    return ROOT / "assignments" / name / f"{name}.ipynb"


def code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_every_assignment_has_a_notebook_and_readme():
    assert sorted(EXPECTED_FIGURES) == course.names()
    for name in course.names():
        assert notebook_path(name).is_file(), f"{name}: no notebook"
        assert (ROOT / "assignments" / name / "README.md").is_file(), f"{name}: no README.md"


@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))
def test_committed_notebook_is_clean_nbformat_v4(name):
    nb = nbformat.read(notebook_path(name), as_version=nbformat.NO_CONVERT)
    assert nb.nbformat == 4
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown", "the notebook opens with its introduction"
    cells = code_cells(nb)
    assert cells, "no code cell"
    for cell in cells:
        assert cell.outputs == [], f"cell {cell.get('id')} has outputs: commit it cleared"
        assert cell.execution_count is None, f"cell {cell.get('id')} has an execution count"
        assert "http" not in cell.source, f"cell {cell.get('id')} may download something"
    package = course.load(name).package
    assert f"import {package}\n" in cells[0].source, "the first code cell imports the package"


@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))
def test_readme_lists_every_part_with_its_points(name):
    assignment = course.load(name)
    readme = (assignment.folder / "README.md").read_text(encoding="utf-8")
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in readme.splitlines() if line.lstrip().startswith("|")]
    for part, points in assignment.points.items():
        assert f"`{part}`" in readme, f"README.md does not mention the part `{part}`"
        assert any(f"`{part}`" in row and str(points) in row for row in rows), (
            f"README.md has no table row with the part `{part}` and its {points} points")
    for command in ("python selfcheck.py", "--pack", "pip install -r requirements.txt"):
        assert command in readme, f"README.md does not show `{command}`"


def _student_folder(name: str, folder: Path) -> Path:
    """The assignment folder as a student has it, with the reference as the student's
    package (links, such as optim_reg/base_layers.py, copied as files)."""
    assignment = course.load(name)
    shutil.copytree(assignment.solution_dir, folder / assignment.package, symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "*.md"))
    shutil.copy(notebook_path(name), folder / notebook_path(name).name)
    return folder / notebook_path(name).name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))
def test_notebook_runs_top_to_bottom_on_the_reference(name, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    path = _student_folder(name, tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the kernel inherits the environment
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the traceback, if a cell fails
    seconds = time.perf_counter() - start
    print(f"{name}.ipynb ran in {seconds:.1f} s")

    cells = code_cells(nb)
    assert all(cell.execution_count is not None for cell in cells), "a code cell did not run"
    outputs = [out for cell in cells for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    setup = "".join(out.get("text", "") for out in cells[0].outputs)
    package = course.load(name).package
    assert str((tmp_path / package).resolve()) in setup, (
        f"the notebook did not import the package next to it: {setup!r}")
    images = [out.data["image/png"] for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) >= EXPECTED_FIGURES[name], (
        f"{len(images)} figures drawn, {EXPECTED_FIGURES[name]} expected")
    assert all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    assert seconds < TIME_LIMIT_S, f"{name}.ipynb took {seconds:.0f} s"
