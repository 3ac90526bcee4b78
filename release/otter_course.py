"""otter-grader: a checks notebook for students and an autograder for ``otter run``.

    python -m release build optim_reg --otter DIR      # writes DIR/ (this module)
    otter run -a DIR/optim_reg-otter-autograder.zip optim_reg_checks_<time>.zip

`export` writes two files:

- ``<a>-otter-student.zip``: the student archive of ``release build`` (stubs, given modules,
  the kit's public self-check) plus ``<a>_checks.ipynb`` and ``otter_tests/<part>.py``. The
  notebook has one ``grader.check("<part>")`` cell per part and a last cell,
  ``grader.export(...)``, that zips the notebook with the graded modules for upload. Each
  public test file runs the kit's self-check (``autograder.selfcheck.check``: the public
  cases, in the sandbox, against recorded answers) for its part and fails with the kit's
  messages; these checks run in the student's kernel, on the student's machine.
- ``<a>-otter-autograder.zip``, what ``otter run -a`` reads: ``otter_config.json`` and
  ``tests/<part>.py``, one question per part with the part's points. The test files hold no
  test: the kit's otter plugin :class:`KitGrades` grades the submission with the kit's hidden
  graders and writes each question's score and feedback (``GradingResults.update_score``, the
  hook otter's own ``GradeOverride`` plugin uses). Otter scores a test case all or nothing;
  the plugin gives each question the kit's partial credit exactly. Without the plugin every
  question earns 0 (the placeholder case fails).

:class:`KitGrades`, in otter's grading process: ``before_grading`` (before any notebook code
runs) copies ``<package>/<graded module>`` of the submission to a fresh folder and grades it
with :class:`autograder.batch.Grader` (student code in the kit's sandbox); ``before_execution``
drops every cell of the submitted notebook, so otter's kernel runs only otter's own setup and
the placeholder tests; ``after_grading`` writes the kit's part scores and feedback. The
hidden graders never enter the zip: the grading machine needs the kit installed (with the
``otter`` extra). Nothing here imports otter at module level.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from autograder import course
from autograder.course import Assignment
from autograder.results import Result

from .build import student_archive
from .nbgrader_course import ALLOW_UNCONFINED, stage

TESTS = "otter_tests"  # the public test files, in the student's folder
PLUGIN = "release.otter_course.KitGrades"
ZIP_DATE = (2025, 7, 1, 0, 0, 0)  # reproducible archives, as release.build


def notebook_name(assignment: Assignment) -> str:
    return f"{assignment.name}_checks.ipynb"


def _markdown(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def _code(source: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
            "source": source}


def student_notebook(assignment: Assignment) -> dict:
    """The checks notebook (nbformat v4 JSON): one ``grader.check`` per part, then export."""
    name = notebook_name(assignment)
    modules = [f"{assignment.package}/{module}" for module in assignment.graded]
    shown = ", ".join(f"`{module}`" for module in modules)
    cells = [_markdown(
        f"# {assignment.title}: otter checks\n\n"
        f"코드는 {shown}에 작성하고, 아래 cell로 part마다\n"
        "**공개 case**를 확인하세요. `python selfcheck.py <part>`와 같은 확인입니다:\n"
        "여러분의 package를 sandbox에서 실행해 기록된 정답과 비교합니다.\n"
        "점수는 제출 후 **숨은 case**로 매겨집니다. 마지막 cell이 제출할 zip을 만듭니다.\n\n"
        f"(Write your code in {shown}. Each cell below runs the public cases of one part, as\n"
        "`python selfcheck.py <part>` does; the grade comes from hidden cases after you submit.\n"
        "The last cell writes the zip file to upload.)"),
        _code(f'import otter\n\ngrader = otter.Notebook("{name}", tests_dir="{TESTS}")')]
    for part, points in assignment.points.items():
        cells += [_markdown(f"### `{part}` ({points}점)"), _code(f'grader.check("{part}")')]
    cells += [_markdown("## 제출 (submit)\n\n이 cell이 만든 zip 파일을 제출하세요. "
                        "(Upload the zip file this cell writes.)"),
              _code(f'grader.export("{name}", pdf=False, ignore_log=True, files={modules!r})')]
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"},
                         "language_info": {"name": "python"},
                         "otter": {"assignment_name": assignment.name}}}


PUBLIC_TEST = '''"""Part `{part}` ({points} points): the public cases of the course's self-check, as
`python selfcheck.py {part}` runs them (your package in the sandbox, recorded answers)."""

from otter.test_files import test_case

OK_FORMAT = False
name = "{part}"
points = {points}


@test_case(name="{part}: public cases", points={points})
def public_cases():
    from pathlib import Path

    from autograder.course import from_manifest
    from autograder.selfcheck import check

    folder = Path.cwd()
    results = check(from_manifest(folder / "assignment.toml"), folder, ["{part}"])
    failed = [r for r in results if not r.passed]
    assert results and not failed, "\\n".join(
        [f"{{r.name}} ({{r.score:.2f}} / {{r.max_score:.2f}}):\\n{{r.output}}" for r in failed]
        or ["no public case ran: run this notebook from the assignment folder"])
'''

PLACEHOLDER_TEST = '''"""Part `{part}` ({points} points) of {assignment}: graded by the course kit.

This file only declares the question and its points. The kit's otter plugin ({plugin})
grades the submitted modules with the hidden graders, in the kit's sandbox, and writes this
question's score and feedback; without the plugin the question earns nothing.
"""

from otter.test_files import test_case

OK_FORMAT = False
name = "{part}"
points = {points}


@test_case(name="{part}: the course's hidden tests", points={points})
def hidden_tests():
    raise AssertionError("graded by the course kit's otter plugin, which did not run")
'''


def otter_config(assignment: Assignment) -> dict:
    return {"lang": "python", "assignment_name": assignment.name, "pdf": False,
            "plugins": [{PLUGIN: {"assignment": assignment.name}}]}


def _add(archive: zipfile.ZipFile, name: str, data: bytes | str) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o100644 << 16
    archive.writestr(info, data)


def student_zip(assignment: Assignment, out: Path) -> Path:
    """``out/<a>-otter-student.zip``: the student archive with the checks notebook, its
    public test files and ``otter-grader`` in ``requirements.txt``."""
    target = out / f"{assignment.name}-otter-student.zip"
    top = f"{assignment.name}/"
    with tempfile.TemporaryDirectory(prefix="kit-otter-") as tmp:
        base = student_archive(assignment, Path(tmp))
        with zipfile.ZipFile(base) as source, zipfile.ZipFile(target, "w") as archive:
            for info in source.infolist():
                data = source.read(info)
                if info.filename == f"{top}requirements.txt":
                    data += f"otter-grader>={metadata.version('otter-grader')}\n".encode()
                archive.writestr(info, data)
            _add(archive, f"{top}{notebook_name(assignment)}",
                 json.dumps(student_notebook(assignment), indent=1, ensure_ascii=False) + "\n")
            for part, points in assignment.points.items():
                _add(archive, f"{top}{TESTS}/{part}.py",
                     PUBLIC_TEST.format(part=part, points=points))
    return target


def autograder_zip(assignment: Assignment, out: Path) -> Path:
    """``out/<a>-otter-autograder.zip``: ``otter_config.json`` and the question files."""
    target = out / f"{assignment.name}-otter-autograder.zip"
    with zipfile.ZipFile(target, "w") as archive:
        _add(archive, "otter_config.json", json.dumps(otter_config(assignment), indent=2))
        for part, points in assignment.points.items():
            _add(archive, f"tests/{part}.py", PLACEHOLDER_TEST.format(
                part=part, points=points, assignment=assignment.name, plugin=PLUGIN))
    return target


def export(assignment: Assignment, out: Path) -> Path:
    """Write both zips (see the module docstring) into ``out``; returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    student_zip(assignment, out)
    autograder_zip(assignment, out)
    return out


# ------------------------------------------------------------------ grading: the plugin


def grade_submission(assignment: Assignment, folder: Path, student: str) -> Result:
    """Grade ``folder/<package>/<graded module>`` with the kit's hidden graders."""
    from autograder import intake
    from autograder.batch import Grader

    with tempfile.TemporaryDirectory(prefix="kit-otter-") as tmp:
        submission = intake.read_folder(stage(folder, assignment, Path(tmp) / "s"), assignment)
    submission.student, submission.safe_id = student, intake.safe_id(student)
    grader = Grader(assignment, allow_unconfined=os.environ.get(ALLOW_UNCONFINED) == "1")
    try:
        return grader.grade(submission)
    finally:
        grader.close()


def part_feedback(result: Result, part: str) -> str:
    """The part's line of points and, for each failed case, its name and the kit's output."""
    lines = [f"{part}: {result.part_scores()[part]:g} / {result.points[part]} "
             "(the course's hidden tests)"]
    for test in result.tests:
        if test.part == part and not test.passed:
            lines.append(f"- {test.name} ({test.score:.2f} / {test.max_score:.2f})")
            lines += [f"    {line}" for line in test.output.splitlines()]
    return "\n".join(lines)


def summary(result: Result) -> str:
    lines = [f"{result.assignment}: {result.score:g} / {result.max_score} "
             "(the course's hidden tests)"]
    if result.status != "ok":
        lines.append(f"status: {result.status}")
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


@cache
def _plugin_class() -> type:
    """:class:`KitGrades`, built on first use so that this module imports without otter."""
    import nbformat
    from otter.plugins import AbstractOtterPlugin
    from otter.test_files.abstract_test import TestCaseResult

    class KitGrades(AbstractOtterPlugin):
        """Otter plugin: the kit's hidden grading of the submitted modules (module docstring).

        Configuration (``otter_config.json``): ``{"release.otter_course.KitGrades":
        {"assignment": "<a>"}}``.
        """

        result: Result | None = None

        def before_grading(self, config: Any) -> None:
            assignment = course.load(self.plugin_config["assignment"])
            users = (self.submission_metadata or {}).get("users") or [{}]
            student = users[0].get("email") or Path(self.submission_path).stem
            self.result = grade_submission(assignment, Path(self.submission_path).parent,
                                           student)

        def before_execution(self, submission: Any) -> Any:
            if isinstance(submission, str):  # a .py submission
                return ""
            return nbformat.v4.new_notebook(metadata=submission.metadata)

        def after_grading(self, results: Any) -> None:
            if self.result is None or results.catastrophic_error is not None:
                return
            missing = [p for p in self.result.points if p not in results.results]
            if missing:
                raise RuntimeError(f"the otter autograder has no question for {missing}")
            for part, points in self.result.points.items():
                test_file = results.get_result(part)
                score = self.result.part_scores()[part]
                results.update_score(part, score)
                test_file.test_case_results = [TestCaseResult(
                    test_case=test_file.test_cases[0], message=part_feedback(self.result, part),
                    passed=score >= points)]
            results.set_output(summary(self.result))
            results.set_plugin_data(PLUGIN, self.result.to_json())

        def generate_report(self) -> str:
            return summary(self.result) if self.result else "not graded"

    return KitGrades


def __getattr__(name: str) -> Any:
    if name == "KitGrades":
        return _plugin_class()
    raise AttributeError(name)
