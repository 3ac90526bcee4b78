"""nbgrader: a course folder whose grading notebook grades through the kit.

    python -m release build optim_reg --nbgrader course/     # writes course/ (this module)
    cd course
    nbgrader generate_assignment optim_reg                   # release/optim_reg/ for students
    nbgrader autograde optim_reg                             # submitted/<student>/optim_reg/
    nbgrader generate_feedback optim_reg && nbgrader export

`export` writes, under the course root:

- ``nbgrader_config.py``: the course id, ``Autograde.exclude_overwriting`` for every graded
  module (nbgrader otherwise copies the instructor's ``.py`` files over the student's), cell
  timeouts, ``OverwriteCells.add_missing_cells`` and the preprocessors :class:`KitCells` and
  :class:`KitFolder`;
- ``source/<a>/<package>/``: the student's package (stubs and given modules), released as is;
- ``source/<a>/<a>.ipynb``: the grading notebook, locked cells only (schema v3): an
  introduction, then one autograded test cell per part, in the manifest's order, worth the
  part's points.

Each test cell holds, inside ``### BEGIN HIDDEN TESTS`` (so the released notebook shows only a
comment), ``part_score("<a>", "<part>")``. The first such call grades the folder the notebook
runs in (the student's package there) once, with the kit's hidden graders, in a separate
``python -P -m release.nbgrader_course`` process whose student code runs in the kit's sandbox;
the Result is written to a temporary JSON file and cached in the kernel. Each cell prints its
part's feedback and evaluates to the part's points: nbgrader (since 0.7) takes a test cell
whose ``execute_result`` is a number between 0 and the cell's points as that cell's partial
credit (``nbgrader.utils.determine_grade``), so nbgrader's scores equal the kit's, part by
part. Nothing is written to stderr by these cells (nbgrader scores a cell that writes to
stderr 0).

At autograde time :class:`KitCells` (before ``OverwriteCells``, and again before ``Execute``)
keeps only the course's own cells, once each, in the course's order, and :class:`KitFolder`
(before ``Execute``) removes from the kernel's working folder every file but the notebook and
the package's modules: a student's added or forged cells, or a stray ``.py`` file that would
shadow a module the kernel imports, never run in the grading kernel. The student's modules
run only in the sandbox, from the separate grading process.

Requires the ``nbgrader`` extra on the grading machine, with the kit installed in the
kernel's Python. Nothing here imports nbgrader at module level.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from autograder import course
from autograder.course import Assignment
from autograder.results import Result

COURSE_ID = "kubig-dl"
CELL_TIMEOUT = 900  # seconds nbgrader gives one cell (the first test cell grades everything)
GRADE_TIMEOUT = 840  # seconds the grading process may take, under CELL_TIMEOUT
ALLOW_UNCONFINED = "KIT_ALLOW_UNCONFINED"  # "1": grade where the sandbox has no confinement
CONFIG_LOADED = "KIT_NBGRADER_CONFIG"  # set by nbgrader_config.py, checked by part_score
INTRO_ID = "intro"
GRADE_MARK = "### BEGIN HIDDEN TESTS"
GRADE_END = "### END HIDDEN TESTS"
CONFIG_HEADER = "# Written by release/nbgrader_course.py"


# ------------------------------------------------------------------ the course folder


def _metadata(grade_id: str, points: int | None = None) -> dict:
    """nbgrader's cell metadata, schema v3: a locked cell, or a test cell worth ``points``."""
    meta = {"grade": points is not None, "grade_id": grade_id, "locked": True,
            "schema_version": 3, "solution": False, "task": False}
    if points is not None:
        meta["points"] = points
    return {"editable": False, "deletable": False, "nbgrader": meta}


def _intro(assignment: Assignment) -> str:
    modules = ", ".join(f"`{assignment.package}/{name}`" for name in assignment.graded)
    rows = "\n".join(f"| `{part}` | {points} |" for part, points in assignment.points.items())
    return f"""# {assignment.title}: 채점 notebook

이 notebook은 채점용이라 고칠 곳이 없습니다. 코드는 {modules}에 작성하세요.
제출하면 과정의 grader가 제출 폴더의 `{assignment.package}/` 패키지를 **숨은 case**로
채점하고, 아래 cell마다 그 part의 점수와 틀린 case의 설명을 보여 줍니다. 여러분의 코드는
grader의 sandbox 안에서만 실행되고, 이 notebook에 추가한 cell은 채점할 때 지워집니다.

(This notebook only grades: write your code in {modules}. When it is
autograded, the course's grader runs the hidden cases on the `{assignment.package}/` package of
your submitted folder, in its sandbox; each cell below shows one part's points and what went
wrong. Cells you add to this notebook are removed before grading.)

| part | points |
|---|---:|
{rows}
| total | {assignment.max_score} |
"""


def _test_cell(assignment: Assignment, part: str) -> str:
    return "\n".join([
        f"# `{part}` ({assignment.points[part]}점): 과정의 grader가 숨은 case로 채점합니다.",
        f"# Part `{part}`, {assignment.points[part]} points: the course's hidden tests.",
        GRADE_MARK,
        "from release.nbgrader_course import part_score",
        "",
        f"part_score({assignment.name!r}, {part!r})",
        GRADE_END,
    ])


def notebook(assignment: Assignment) -> dict:
    """The source (instructor's) grading notebook, as nbformat v4 JSON."""
    cells = [{"cell_type": "markdown", "id": INTRO_ID, "metadata": _metadata(INTRO_ID),
              "source": _intro(assignment)}]
    for part, points in assignment.points.items():
        cells.append({"cell_type": "code", "id": part, "metadata": _metadata(part, points),
                      "execution_count": None, "outputs": [],
                      "source": _test_cell(assignment, part)})
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"},
                         "language_info": {"name": "python"}}}


def config() -> str:
    """``nbgrader_config.py`` for every assignment of the course."""
    exclude = {name: [f"{course.load(name).package}/{module}"
                      for module in course.load(name).graded] for name in course.names()}
    lines = [
        f"{CONFIG_HEADER} (python -m release build <a> --nbgrader DIR);",
        "# it is rewritten by every export: keep your own settings (exchange, JupyterHub) in",
        "# ~/.jupyter/nbgrader_config.py.",
        "import os",
        "",
        "from nbgrader.converters import Autograde",
        "from nbgrader.preprocessors import OverwriteCells",
        "",
        "from release.nbgrader_course import KitCells, KitFolder",
        "",
        "c = get_config()  # noqa: F821",
        f"c.CourseDirectory.course_id = {COURSE_ID!r}",
        "# The student's graded modules are never replaced by the instructor's copies (by default",
        "# nbgrader's autograde copies every non-notebook file of source/ over the submission).",
        f"c.Autograde.exclude_overwriting = {json.dumps(exclude, indent=4)}",
        "# The first test cell runs the kit's grader on the whole package; the kit bounds each",
        "# call of student code itself (sandbox timeouts, a per-submission budget).",
        f"c.Execute.timeout = {CELL_TIMEOUT}",
        "# A deleted test cell is put back (instead of leaving the part to manual grading).",
        "c.OverwriteCells.add_missing_cells = True",
        "# Only the course's cells run (a student's added cells are dropped), in a folder that",
        "# holds only the notebook and the package's modules.",
        "_sanitize = Autograde.sanitize_preprocessors.default()",
        "_at = _sanitize.index(OverwriteCells)",
        "c.Autograde.sanitize_preprocessors = [*_sanitize[:_at], KitCells, *_sanitize[_at:]]",
        "c.Autograde.autograde_preprocessors = [",
        "    KitCells, KitFolder, *Autograde.autograde_preprocessors.default()]",
        "# nbgrader only logs an error when this file fails to load; the grading cells refuse",
        "# to grade unless this line ran.",
        f"os.environ[{CONFIG_LOADED!r}] = '1'",
        "# Where `python -m release doctor` finds no sandbox layer, uncomment:",
        f"# os.environ[{ALLOW_UNCONFINED!r}] = '1'",
        "",
    ]
    return "\n".join(lines)


def export(assignment: Assignment, root: Path) -> Path:
    """Write the nbgrader course folder ``root`` for ``assignment`` (see the module docstring);
    ``source/<a>/`` is replaced, other assignments' folders are kept. Returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    source = root / "source" / assignment.name
    if source.exists():
        shutil.rmtree(source)
    package = source / assignment.package
    package.mkdir(parents=True)
    for name in (*assignment.given, *assignment.graded):
        (package / name).write_bytes((assignment.stub_dir / name).read_bytes())
    (source / f"{assignment.name}.ipynb").write_text(
        json.dumps(notebook(assignment), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (root / "nbgrader_config.py").write_text(config(), encoding="utf-8")
    return root


# ------------------------------------------------------------------ autograde: the cells


@cache
def _preprocessors() -> dict[str, type]:
    """:class:`KitCells` and :class:`KitFolder`, built on first use so that this module
    imports without nbgrader."""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import NbGraderPreprocessor

    def course_cells(resources: dict) -> tuple[list[str], set[str]] | None:
        """The grade ids of the notebook's source cells, in order, and the assignment's
        notebook file names; None for an assignment that is not this kit's."""
        info = resources["nbgrader"]
        if info["assignment"] not in course.names():
            return None
        with Gradebook(info["db_url"]) as gradebook:
            order = [cell.name for cell in gradebook.find_notebook(
                info["notebook"], info["assignment"]).source_cells]
            notebooks = {f"{n.name}.ipynb" for n in
                         gradebook.find_assignment(info["assignment"]).notebooks}
        return order, notebooks

    class KitCells(NbGraderPreprocessor):
        """Keep only the course's cells, once each, in the course's order.

        Registered before ``OverwriteCells`` (which restores the source of every locked cell
        and puts back missing test cells) and again before ``Execute``. A cell whose
        ``grade_id`` the gradebook does not know (anything the student added or forged) is
        dropped. Only assignments of this kit are touched.
        """

        def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
            known = course_cells(resources)
            if known is None:
                return nb, resources
            order, _ = known
            kept: dict[str, Any] = {}
            for cell in nb.cells:
                grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                if grade_id in order and grade_id not in kept:
                    kept[grade_id] = cell
            if len(kept) < len(nb.cells):
                self.log.warning("%s: dropped %d cell(s) that are not the course's",
                                 resources["nbgrader"]["student"], len(nb.cells) - len(kept))
            nb.cells = sorted(kept.values(),
                              key=lambda cell: order.index(cell.metadata.nbgrader.grade_id))
            return nb, resources

    class KitFolder(NbGraderPreprocessor):
        """Before ``Execute``: delete every file of the kernel's working folder (the
        autograded copy) but the notebooks and the package's modules (see `clean_folder`)."""

        def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
            known = course_cells(resources)
            if known is None:
                return nb, resources
            info = resources["nbgrader"]
            folder = Path(resources["metadata"]["path"])
            for path in clean_folder(folder, course.load(info["assignment"]), known[1]):
                self.log.warning("%s: removed %s before grading", info["student"], path)
            return nb, resources

    return {"KitCells": KitCells, "KitFolder": KitFolder}


def clean_folder(folder: Path, assignment: Assignment, notebooks: set[str]) -> list[str]:
    """Delete everything in ``folder`` but ``notebooks``, ``timestamp.txt`` and the package's
    modules (``<package>/<module>``); the relative paths removed. Links are removed, never
    followed."""
    keep_top = {*notebooks, "timestamp.txt"}
    keep_package = {*assignment.given, *assignment.graded}
    removed = []
    for entry in sorted(folder.iterdir()):
        if entry.name == assignment.package and entry.is_dir() and not entry.is_symlink():
            for inner in sorted(entry.iterdir()):
                if not (inner.name in keep_package and inner.is_file()
                        and not inner.is_symlink()):
                    _remove(inner)
                    removed.append(f"{entry.name}/{inner.name}")
        elif not (entry.name in keep_top and entry.is_file() and not entry.is_symlink()):
            _remove(entry)
            removed.append(entry.name)
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def __getattr__(name: str) -> Any:
    if name in ("KitCells", "KitFolder"):
        return _preprocessors()[name]
    raise AttributeError(name)


# ------------------------------------------------------------------ autograde: the kernel

_results: dict[tuple[str, Path], Result] = {}


def grade_in_subprocess(assignment: str, folder: Path, student: str) -> Result:
    """Grade the package in ``folder`` with the kit's hidden graders, in a fresh
    ``python -P`` process (no folder of the submission on its ``sys.path``) that writes the
    Result to a temporary JSON file; its output is kept away from the caller's stdout/stderr."""
    with tempfile.TemporaryDirectory(prefix="kit-nbgrader-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-P", "-m", "release.nbgrader_course", assignment,
                   str(folder), str(out), "--student", student]
        done = subprocess.run(command, cwd=tmp, capture_output=True, text=True,
                              timeout=GRADE_TIMEOUT, stdin=subprocess.DEVNULL)
        if done.returncode != 0 or not out.is_file():
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise RuntimeError(f"the course's grader failed (exit {done.returncode}):\n{tail}")
        return Result.from_json(json.loads(out.read_text(encoding="utf-8")))


def part_score(assignment: str, part: str, folder: Path | None = None) -> float:
    """The points of ``part`` earned by the package in ``folder`` (the working folder: the
    notebook's), graded once per folder; prints the part's feedback (stdout only)."""
    folder = (folder or Path.cwd()).resolve()
    key = (assignment, folder)
    if os.environ.get("NBGRADER_EXECUTION") == "autograde" and not os.environ.get(CONFIG_LOADED):
        raise RuntimeError("nbgrader_config.py of the course did not load (see nbgrader's log): "
                           "not grading, since the student's modules may have been replaced")
    if key not in _results:
        student = folder.parent.name if folder.name == assignment else folder.name
        result = _results[key] = grade_in_subprocess(assignment, folder, student)
        print(f"{result.assignment}: {result.score:g} / {result.max_score} "
              "(the course's hidden tests)")
        if result.status != "ok":
            print(f"status: {result.status}")
        for note in result.notes:
            print(f"note: {note}")
        print()
    result = _results[key]
    score = result.part_scores()[part]
    print(f"{part}: {score:g} / {result.points[part]}")
    for test in result.tests:
        if test.part == part and not test.passed:
            print(f"- {test.name} ({test.score:.2f} / {test.max_score:.2f})")
            for line in test.output.splitlines():
                print(f"    {line}")
    return score


def stage(folder: Path, assignment: Assignment, dest: Path) -> Path:
    """Copy the graded modules of ``folder/<package>/`` (regular files only) to a fresh
    ``dest/<package>/``: what nbgrader's students submit, and nothing else, is graded."""
    package = dest / assignment.package
    package.mkdir(parents=True)
    for name in assignment.graded:
        source = folder / assignment.package / name
        if source.is_file() and not source.is_symlink():
            shutil.copyfile(source, package / name)
    return dest


def main(argv: list[str] | None = None) -> int:
    """``python -P -m release.nbgrader_course <a> <folder> <out.json>``: grade one folder."""
    from autograder import intake
    from autograder.batch import Grader
    from autograder.results import write_atomic

    parser = argparse.ArgumentParser(prog="python -m release.nbgrader_course")
    parser.add_argument("assignment", choices=course.names())
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--student", default=None)
    args = parser.parse_args(argv)
    assignment = course.load(args.assignment)
    with tempfile.TemporaryDirectory(prefix="kit-nbgrader-") as tmp:
        submission = intake.read_folder(stage(args.folder, assignment, Path(tmp) / "s"),
                                        assignment)
    submission.student = args.student or args.folder.resolve().name
    submission.safe_id = intake.safe_id(submission.student)
    grader = Grader(assignment, allow_unconfined=os.environ.get(ALLOW_UNCONFINED) == "1")
    try:
        result = grader.grade(submission)
    finally:
        grader.close()
    write_atomic(args.out, json.dumps(result.to_json(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
