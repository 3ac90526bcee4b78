"""nbgrader: the course folder (``python -m release build <a> --nbgrader DIR``).

    python -m release build optim_reg --nbgrader course/     # writes course/ (this module)
    cd course
    nbgrader generate_assignment optim_reg                   # release/optim_reg/ for students
    nbgrader autograde optim_reg                             # submitted/<student>/optim_reg/
    nbgrader generate_feedback optim_reg
    nbgrader export --exporter autograder.jupyter.nbgrader_plugins.KitExport  # the gradebook

`export` writes, under the course root:

- ``nbgrader_config.py``: the course id, the interpreter's own folder first on ``PATH``
  (nbgrader runs ``alembic`` by name, so it works whether or not its environment is
  activated) and the kit's autograde (`autograder.jupyter.nbgrader_plugins.install`);
- ``source/<a>/``: what the student archive of ``release build`` holds (the package, the
  public tests with recorded answers, ``selfcheck.py``, the kit's public runtime,
  ``requirements.txt``), without its README and exploration notebook (they describe the zip
  workflow), plus the grading notebook ``<a>.ipynb``: locked cells only (schema v3), an
  introduction, then one autograded test cell per part, in the manifest's order, worth the
  part's points.

Each test cell runs ``notebook_check("<part>")``, the public self-check of that part
(`autograder.notebook.notebook_check`), so ``nbgrader validate`` and the Validate button
fail with the self-check's messages until the part passes its public cases; inside
``### BEGIN HIDDEN TESTS`` (the release shows none of it) it evaluates
``part_score("<a>", "<part>")`` (`autograder.jupyter.nbgrader_cells`), which under ``nbgrader
autograde`` prints the part's feedback and evaluates to the points the kit's hidden graders
gave: nbgrader (since 0.7) takes a test cell's numeric ``execute_result`` as its partial
credit, so nbgrader's scores equal the kit's, part by part.

A rebuild writes only what is the kit's and unchanged: ``.kit-nbgrader.json`` records the
SHA-256 of every file as the kit wrote it, and a file that differs from both that record and
the new content is the instructor's edit. `export` refuses (:class:`EditedFiles`, nothing
written) unless ``overwrite`` is set; files the instructor added are never touched.

Nothing here imports nbgrader.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

from autograder.batch import ALLOW_UNCONFINED
from autograder.course import Assignment

from .build import student_files

COURSE_ID = "kubig-dl"
CELL_TIMEOUT = 300  # seconds nbgrader gives one cell (the kit grades before the kernel starts)
INTRO_ID = "intro"
GRADE_MARK = "### BEGIN HIDDEN TESTS"
GRADE_END = "### END HIDDEN TESTS"
CONFIG = "nbgrader_config.py"
RECORD = ".kit-nbgrader.json"  # path relative to the root -> SHA-256 of what the kit wrote
NOT_RELEASED = ("README.md",)  # of the student folder; and its notebooks (see `course_files`)
log = logging.getLogger(__name__)


class EditedFiles(Exception):
    """Files of the course folder changed since the kit wrote them (the instructor's edits)."""

    def __init__(self, root: Path, paths: list[str]):
        self.root, self.paths = root, paths
        super().__init__(
            f"{root}: not rebuilt, these files were edited since the kit wrote them: "
            f"{', '.join(paths)}; keep your copies elsewhere and rebuild with "
            "--nbgrader-overwrite to replace them"
        )


# ------------------------------------------------------------------ the notebook


def _metadata(grade_id: str, points: int | None = None) -> dict:
    """nbgrader's cell metadata, schema v3: a locked cell, or a test cell worth ``points``."""
    meta = {
        "grade": points is not None,
        "grade_id": grade_id,
        "locked": True,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return {"editable": False, "deletable": False, "nbgrader": meta}


def _intro(assignment: Assignment) -> str:
    modules = ", ".join(f"`{assignment.package}/{name}`" for name in assignment.graded)
    rows = "\n".join(f"| `{part}` | {points} |" for part, points in assignment.points.items())
    return f"""# {assignment.title}: 채점 notebook

코드는 {modules}에 작성하세요. 이 notebook에는 작성할 곳이 없고, notebook cell에 쓴 코드는
채점되지 않습니다 (채점 결과에 그 cell이 적혀 나옵니다).
아래 cell을 실행하거나 **Validate**를 누르면 part마다 **공개 case**로 확인합니다
(`python selfcheck.py <part>`와 같은 확인: 여러분의 package를 sandbox에서 실행해 기록된
정답과 비교합니다). 제출하면 과정의 grader가 `{assignment.package}/` package를 **숨은 case**로
채점하고, cell마다 그 part의 점수와 틀린 case의 설명을 보여 줍니다.

(Write your code in {modules}; code written in this notebook's cells is not graded, and
your feedback names such cells. Running a cell below, or **Validate**, checks one part on the
public cases, as `python selfcheck.py <part>` does. After you submit, the course's grader
runs the hidden cases on your `{assignment.package}/` package, in its sandbox; each cell then
shows one part's points and what went wrong.)

| part | points |
|---|---:|
{rows}
| total | {assignment.max_score} |
"""


def _test_cell(assignment: Assignment, part: str) -> str:
    points = assignment.points[part]
    return "\n".join(
        [
            f"# `{part}` ({points}점): 공개 case로 확인합니다. "
            "점수는 제출 후 숨은 case로 매깁니다.",
            f"# Part `{part}`, {points} points: the public cases here; the hidden ones grade it.",
            "from autograder.notebook import notebook_check",
            "",
            f"notebook_check({part!r})",
            GRADE_MARK,
            "from autograder.jupyter.nbgrader_cells import part_score",
            "",
            f"part_score({assignment.name!r}, {part!r})",
            GRADE_END,
        ]
    )


def notebook(assignment: Assignment) -> dict:
    """The source (instructor's) grading notebook, as nbformat v4 JSON."""
    cells = [
        {
            "cell_type": "markdown",
            "id": INTRO_ID,
            "metadata": _metadata(INTRO_ID),
            "source": _intro(assignment),
        }
    ]
    for part, points in assignment.points.items():
        cells.append(
            {
                "cell_type": "code",
                "id": part,
                "metadata": _metadata(part, points),
                "execution_count": None,
                "outputs": [],
                "source": _test_cell(assignment, part),
            }
        )
    return {
        "cells": cells,
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    }


def config() -> str:
    """``nbgrader_config.py`` for every assignment of the course. The kit's lines come first:
    nbgrader drops the settings of a config file that fails to load (an error in an edit
    below them), but the kit's autograde, installed by then, stays."""
    lines = [
        "# Written by release/nbgrader_course.py (python -m release build <a> --nbgrader DIR).",
        "# A rebuild replaces this file only while it is as the kit wrote it; an edited copy",
        "# stops the rebuild (or is replaced with --nbgrader-overwrite). Keep the kit's lines",
        "# first: nbgrader drops the settings of a file that fails, not what ran before.",
        "import os",
        "import sys",
        "",
        "c = get_config()  # noqa: F821",
        "# nbgrader runs `alembic` (for a new gradebook) by name: this interpreter's folder goes",
        "# first on PATH, so nbgrader works whether or not its environment is activated.",
        "os.environ['PATH'] = os.pathsep.join([os.path.dirname(sys.executable),",
        "                                      os.environ.get('PATH', '')])",
        "# The kit's autograde for the kit's assignments (autograder/jupyter/nbgrader_plugins.py):",
        "# the kit reads each submitted folder itself (links never followed) and grades it in",
        "# its sandbox; the notebook that runs is rebuilt from the course's cells. `collect`",
        "# keeps links as links. Without the kit, autograde executes nothing.",
        "try:",
        "    from autograder.jupyter.nbgrader_plugins import install",
        "except ImportError as error:",
        "    print(f'nbgrader_config.py: the course kit is not importable ({error}): autograde'",
        "          ' runs no notebook', file=sys.stderr)",
        "    c.Autograde.sanitize_preprocessors = []",
        "    c.Autograde.autograde_preprocessors = []",
        "else:",
        "    install(c)",
        f"c.CourseDirectory.course_id = {COURSE_ID!r}",
        f"c.Execute.timeout = {CELL_TIMEOUT}",
        "# Where `python -m release doctor` finds no sandbox layer, uncomment:",
        f"# os.environ[{ALLOW_UNCONFINED!r}] = '1'",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ the course folder


def course_files(assignment: Assignment) -> dict[str, bytes]:
    """Every file the kit writes for ``assignment``, by path relative to the course root."""
    files = {
        f"source/{assignment.name}/{name}": data
        for name, data in student_files(assignment).items()
        if name not in NOT_RELEASED and not (name.endswith(".ipynb") and "/" not in name)
    }
    files[f"source/{assignment.name}/{assignment.name}.ipynb"] = (
        json.dumps(notebook(assignment), indent=1, ensure_ascii=False) + "\n"
    ).encode()
    files[CONFIG] = config().encode()
    return files


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export(assignment: Assignment, root: Path, overwrite: bool = False) -> Path:
    """Write (or rebuild) the nbgrader course folder ``root`` for ``assignment``; ``root``.

    A file edited since the kit wrote it (see the module docstring) stops the rebuild with
    :class:`EditedFiles` before anything is written, unless ``overwrite`` is set (each
    replaced edit is logged). Files the kit no longer writes are removed where unchanged,
    kept (and logged) where edited. Other assignments' files and the instructor's own files
    are never touched."""
    files = course_files(assignment)
    record_path = root / RECORD
    record: dict[str, str] = (
        json.loads(record_path.read_text("utf-8")) if record_path.is_file() else {}
    )
    prefix = f"source/{assignment.name}/"
    stale = [name for name in record if name.startswith(prefix) and name not in files]

    def edited(name: str) -> bool:
        path = root / name
        if path.is_symlink() or (path.exists() and not path.is_file()):
            return True
        if not path.exists():
            return False
        current = path.read_bytes()
        return current != files.get(name) and _digest(current) != record.get(name)

    changed = [name for name in files if edited(name)]
    if changed and not overwrite:
        raise EditedFiles(root, changed)
    for name in changed:
        log.warning("%s: replaced your edited copy", root / name)
    for name in stale:
        if edited(name):
            log.warning("%s: kept (edited; the kit no longer writes it)", root / name)
        else:
            (root / name).unlink(missing_ok=True)
        del record[name]
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        path.unlink(missing_ok=True)  # a link is replaced, never written through
        path.write_bytes(data)
        record[name] = _digest(data)
    record_path.write_text(json.dumps(dict(sorted(record.items())), indent=1) + "\n", "utf-8")
    return root
