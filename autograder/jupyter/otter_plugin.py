"""otter-grader's side of the kit: the plugin ``otter run`` loads (``otter_config.json``
names it ``autograder.jupyter.otter_plugin.KitGrades``). This module imports otter.

:class:`KitGrades` does the grading, in ``otter run``'s process:

1. ``before_grading``, the first event, after otter extracted the upload and before it
   executes anything: every file of the folder otter grades in (the upload, ``.OTTER_LOG``
   and all) is moved out of it, and the folder is rebuilt with the course's files only (the
   notebook, the question files, an empty ``__init__.py``). The upload's graded modules are
   read from the moved files by the kit's intake (as data, as ``release grade`` reads a
   folder) and graded with :class:`autograder.batch.SubmissionGrader` (student code in the kit's
   sandbox), and their public cases are run as ``grader.check`` runs them. Otter's kernel
   then starts in a folder that holds nothing of the student's, and ``.OTTER_LOG`` (which
   otter would unpickle) is gone.
2. ``before_execution`` replaces the notebook with an empty one: otter's kernel runs only
   otter's setup and the question files.
3. ``after_grading`` replaces whatever the kernel's results held with the kit's result: one
   question per part in the course's order, its public cases visible (the "Public Tests"
   entry), its hidden cases hidden, under neutral names (``adam: updates[case 3]``), with
   the kit's partial credit as the question's score.

The student id is Gradescope's (``submission_metadata.json``) where otter has one, else the
name of the upload given to ``otter run`` (``20251234.zip`` is ``20251234``). The batch road,
:mod:`autograder.jupyter.otter_batch`, hands the plugin each upload as the kit's intake read it
(:func:`batch_upload`) and gives otter the course's notebook alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import nbformat
from otter.plugins import AbstractOtterPlugin
from otter.run.run_autograder.utils import OtterRuntimeError
from otter.test_files.abstract_test import TestCase, TestCaseResult
from otter.test_files.exception_test import ExceptionTestFile

from autograder import course, intake
from autograder.batch import SubmissionGrader, grading, unconfined_allowed
from autograder.course import Assignment
from autograder.gradescope import student_of
from autograder.intake import Submission
from autograder.results import GRADING_ERROR, Result, TestResult
from autograder.selfcheck import check

from .otter_files import PLUGIN, notebook_metadata, notebook_name, notebook_text, question_files


def take_upload(folder: Path, assignment: Assignment) -> Path:
    """Move every entry of otter's grading ``folder`` into a new folder beside it, and
    rebuild ``folder`` with the course's files only (notebook, question files, an empty
    ``__init__.py``). Returns the new folder: the upload as otter extracted it, without
    otter's copies of the course's files (they replaced the student's of the same name)."""
    upload = Path(tempfile.mkdtemp(prefix="kit-upload-", dir=folder.parent))
    for name in os.listdir(folder):
        os.rename(folder / name, upload / name)
    for name in ("tests", "__init__.py", notebook_name(assignment)):
        path = upload / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    files = {
        **question_files(assignment),
        notebook_name(assignment): notebook_text(assignment),
        "__init__.py": "",
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return upload


def upload_name() -> str | None:
    """The file name of the upload given to the ``otter run`` command, if this process is
    one (otter's command line is click's)."""
    context = click.get_current_context(silent=True)
    if context is None or context.command.name != "run":
        return None
    submission = context.params.get("submission")
    return Path(submission).name if submission else None


def grade(grader: SubmissionGrader, submission: Submission) -> tuple[Result, list[TestResult]]:
    """The kit's result of ``submission`` (hidden cases numbered, as the engine names them)
    and its public cases, as ``grader.check`` runs them, with ``grader``'s sandbox."""
    result = grader.grade(submission)
    if not submission.ok:
        return result, []
    with tempfile.TemporaryDirectory(prefix="kit-otter-") as tmp:
        folder = intake.materialize(submission, grader.assignment, Path(tmp))
        return result, check(grader.assignment, folder, sandbox=grader.sandbox)


def test_files(result: Result, public: list[TestResult]) -> list[ExceptionTestFile]:
    """The kit's result as otter's test files (``ExceptionTestFile``), one per part in the
    course's order: the part's public cases (visible, 0 points) and hidden cases (their
    points and the kit's feedback); the file's score is the kit's part score. A part with no
    case of a kind gets one "not graded" case of that kind, saying why."""
    scores = result.part_scores()
    files = []
    for part, points in result.points.items():
        missing = f"not graded: {result.status}"
        shown = [(t.name, 0, t.output, t.passed) for t in public if t.part == part] or [
            (f"{part}: public cases", 0, missing, False)
        ]
        hidden = [
            (t.name, t.max_score, t.output, t.passed) for t in result.tests if t.part == part
        ] or [(f"{part}: hidden cases", points, missing, False)]
        cases, outcomes = [], []
        for (name, worth, output, passed), secret in [
            *((c, False) for c in shown),
            *((c, True) for c in hidden),
        ]:
            cases.append(TestCase(name, None, secret, worth, None, None))
            outcomes.append(TestCaseResult(cases[-1], output, passed))
        file = ExceptionTestFile(part, f"tests/{part}.py", cases, all_or_nothing=False)
        file.test_case_results = outcomes
        file.update_score(scores[part])
        files.append(file)
    return files


_batch: tuple[SubmissionGrader, Submission] | None = None  # see batch_upload


@contextlib.contextmanager
def batch_upload(grader: SubmissionGrader, submission: Submission) -> Iterator[None]:
    """While active, the plugin of an ``otter run`` in this process grades ``submission``
    (an upload as the kit's intake read it) with ``grader``, instead of reading the files
    otter extracted: the batch road, `autograder.jupyter.otter_batch`."""
    global _batch
    _batch = (grader, submission)
    try:
        yield
    finally:
        _batch = None


class KitGrades(AbstractOtterPlugin):
    """Otter plugin: the kit's grading of the upload (module docstring).

    Configuration (``otter_config.json``): ``{"autograder.jupyter.otter_plugin.KitGrades":
    {"assignment": "<a>"}}``.
    """

    graded: tuple[Result, list[TestResult]] | None = None  # the result, public cases

    def before_grading(self, config: Any) -> None:
        self.assignment = assignment = course.load(self.plugin_config["assignment"])
        folder = Path(self.submission_path).parent  # otter's grading folder (its cwd)
        upload = take_upload(folder, assignment)
        try:
            self.graded = (
                grade(*_batch)
                if _batch is not None
                else self._grade_alone(assignment, folder, upload)
            )
        finally:
            shutil.rmtree(upload, ignore_errors=True)
        result = self.graded[0]
        if result.status.startswith(GRADING_ERROR):
            raise OtterRuntimeError(
                f"the course kit could not grade {result.student}: {result.status}"
            )

    def _grade_alone(
        self, assignment: Assignment, folder: Path, upload: Path
    ) -> tuple[Result, list[TestResult]]:
        """``otter run`` on one upload: its files as otter extracted them."""
        name = upload_name()
        student = student_of(folder.parent) or (
            intake.student_id(Path(name)) if name else Path(folder).name
        )
        submission = replace(
            intake.read_folder(upload, assignment),
            student=student,
            safe_id=intake.safe_id(student),
        )
        with grading(assignment, allow_unconfined=unconfined_allowed()) as grader:
            return grade(grader, submission)

    def before_execution(self, submission: Any) -> Any:
        return nbformat.v4.new_notebook(metadata=notebook_metadata(self.assignment))

    def after_grading(self, results: Any) -> None:
        if self.graded is None:
            raise OtterRuntimeError("the course kit's plugin did not grade this upload")
        result, public = self.graded
        # whatever the kernel's pickle held, the object now holds the kit's result only
        results.__init__(test_files(result, public), results.notebook)
        results.set_output(result.report_text(student=True))
        results.set_plugin_data(PLUGIN, result.to_json())

    def generate_report(self) -> str:
        return self.graded[0].report_text(student=True) if self.graded else "not graded"
