"""The student notebooks and READMEs of each assignment.

Fast: the committed notebooks are valid nbformat v4 without outputs, and each README names
every part of its assignment with its points. Slow: each notebook runs top to bottom, as a
student runs it from the assignment folder, with the reference solution in place of the
student's package; and on the stubs (a student's first run), where every unfinished part
stops its cell with the stub's own NotImplementedError and nothing else.
"""

from __future__ import annotations

import ast
import base64
import shutil
import time
from pathlib import Path

import pytest

from autograder import course

pytestmark = pytest.mark.slow  # the notebooks run in a kernel

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
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in readme.splitlines()
        if line.lstrip().startswith("|")
    ]
    for part, points in assignment.points.items():
        assert f"`{part}`" in readme, f"README.md does not mention the part `{part}`"
        assert any(f"`{part}`" in row and str(points) in row for row in rows), (
            f"README.md has no table row with the part `{part}` and its {points} points"
        )
    for command in ("python selfcheck.py", "--pack", "pip install -r requirements.txt"):
        assert command in readme, f"README.md does not show `{command}`"


def _student_folder(name: str, folder: Path) -> Path:
    """The assignment folder as a student has it, with the reference as the student's
    package (links, such as optim_reg/base_layers.py, copied as files)."""
    assignment = course.load(name)
    shutil.copytree(
        assignment.solution_dir,
        folder / assignment.package,
        symlinks=False,
        ignore=shutil.ignore_patterns("__pycache__", "*.md"),
    )
    shutil.copy(notebook_path(name), folder / notebook_path(name).name)
    return folder / notebook_path(name).name


@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))
def test_notebook_runs_top_to_bottom_on_the_reference(name, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    path = _student_folder(name, tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the kernel inherits the environment
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
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
        f"the notebook did not import the package next to it: {setup!r}"
    )
    images = [out.data["image/png"] for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) >= EXPECTED_FIGURES[name], (
        f"{len(images)} figures drawn, {EXPECTED_FIGURES[name]} expected"
    )
    assert all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    assert seconds < TIME_LIMIT_S, f"{name}.ipynb took {seconds:.0f} s"


# Figures drawn on the stubs: only by the given code (the digits in cnn's section 8).
FIGURES_ON_THE_STUBS = {"cnn": 1, "optim_reg": 0}
# Added to the stubs' own messages: what the notebook raises while KERNELS is still empty.
EMPTY_KERNELS = "KERNELS in cnn/kernels.py is still empty"


def stub_messages(assignment: course.Assignment) -> dict[str, str]:
    """Each ``raise NotImplementedError("...")`` message of the student's package -> its
    module."""
    found = {}
    for name in assignment.graded:
        tree = ast.parse((assignment.stub_dir / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Raise)
                and isinstance(node.exc, ast.Call)
                and getattr(node.exc.func, "id", "") == "NotImplementedError"
            ):
                found[node.exc.args[0].value] = name
    return found


@pytest.fixture(scope="module")
def on_the_stubs(tmp_path_factory):
    """Both notebooks run top to bottom on the stubs, as on a student's first day, with
    errors allowed: name -> the executed notebook. One kernel serves both (started in a
    folder holding both stub packages), its namespace reset between them."""
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    from nbclient.util import run_sync

    folder = tmp_path_factory.mktemp("stubs")
    for name in EXPECTED_FIGURES:
        package = course.load(name).package
        shutil.copytree(
            ROOT / "assignments" / name / package,
            folder / package,
            symlinks=False,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    executed, first = {}, None
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MPLBACKEND", "Agg")  # the kernel inherits the environment
        try:
            for name in sorted(EXPECTED_FIGURES):
                nb = nbformat.read(notebook_path(name), as_version=4)
                options = dict(
                    timeout=CELL_TIMEOUT_S,
                    kernel_name="python3",
                    allow_errors=True,
                    resources={"metadata": {"path": str(folder)}},
                )
                if first is None:
                    first = nbclient.NotebookClient(nb, **options)
                    first.execute(cleanup_kc=False)
                else:
                    nb.cells.insert(0, nbformat.v4.new_code_cell("%reset -f"))
                    client = nbclient.NotebookClient(nb, km=first.km, **options)
                    client.kc = first.kc  # the same connection to the same kernel
                    client.execute()
                    nb.cells.pop(0)
                executed[name] = nb
        finally:
            if first is not None and first.km is not None:
                first.kc.stop_channels()
                run_sync(first.km.shutdown_kernel)(now=True)
    return folder, executed


def _errors(nb) -> list[tuple[str, str, str]]:
    """(cell id, exception name, message) of every error the run of ``nb`` showed."""
    return [
        (cell.id, out.ename, out.evalue)
        for cell in code_cells(nb)
        for out in cell.outputs
        if out.output_type == "error"
    ]


@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))
def test_notebook_on_the_stubs_stops_at_each_part_with_the_stubs_message(name, on_the_stubs):
    """Only NotImplementedError, with the stub's own hint, and every graded module's stub is
    met: no KeyError or NameError from a cell that needed another cell's result."""
    folder, executed = on_the_stubs
    assignment = course.load(name)
    nb = executed[name]
    cells = code_cells(nb)
    assert all(cell.execution_count is not None for cell in cells), "a code cell did not run"
    setup = "".join(out.get("text", "") for out in cells[0].outputs)
    assert str((folder / assignment.package).resolve()) in setup, setup
    errors = _errors(nb)
    assert errors and all(ename == "NotImplementedError" for _, ename, _ in errors), errors
    messages = stub_messages(assignment)
    met = set()
    for cell, _, message in errors:
        module = "kernels.py" if message.startswith(EMPTY_KERNELS) else messages.get(message)
        assert module, f"cell {cell}: {message!r} is no stub's message"
        met.add(module)
    assert met == set(assignment.graded)


@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))
def test_on_the_stubs_no_figure_is_drawn_empty(name, on_the_stubs):
    """Each cell computes before it draws, so an unfinished part stops its cell before any
    figure: on the stubs only the given code draws (cnn's digits)."""
    _, executed = on_the_stubs
    drawn = 0
    for cell in code_cells(executed[name]):
        kinds = [out.output_type for out in cell.outputs]
        figures = [out for out in cell.outputs if "image/png" in out.get("data", {})]
        assert not ("error" in kinds and figures), f"cell {cell.id} drew a figure, then stopped"
        drawn += len(figures)
    assert drawn == FIGURES_ON_THE_STUBS[name]
