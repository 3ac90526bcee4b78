"""otter-grader: a checks notebook for students and an autograder for ``otter run``.

    python -m release build optim_reg --otter DIR      # writes DIR/ (this module)
    otter run -a DIR/optim_reg-otter-autograder.zip 20251234.zip          # one upload
    python -m release.otter_batch -a DIR/optim_reg-otter-autograder.zip uploads/ -o out/

`export` writes two files:

- ``<a>-otter-student.zip``: the student archive of ``release build`` (stubs, given modules,
  the kit's public self-check) plus ``<a>_checks.ipynb`` and ``otter_tests/<part>.py``. The
  notebook has one ``grader.check("<part>")`` cell per part and a last cell,
  ``grader.export(...)``, that zips the notebook with the graded modules for upload. Each
  public test file runs the kit's self-check (``autograder.selfcheck.check``: the public
  cases, in the sandbox, against recorded answers) for its part and fails with the kit's
  messages, which name frames of the student's files only; these checks run in the student's
  kernel, on the student's machine.
- ``<a>-otter-autograder.zip``, what ``otter run -a`` reads: ``otter_config.json``,
  ``tests/<part>.py`` (one question per part with the part's points, no test in it) and
  ``files/<a>_checks.ipynb`` (the course's notebook, which otter copies into the folder it
  grades, so that an upload without a notebook, or with the student's copy, is graded too).

The kit's otter plugin :class:`KitGrades` does the grading, in ``otter run``'s process:

1. ``before_grading``, the first event, after otter extracted the upload and before it
   executes anything: every file of the folder otter grades in (the upload, ``.OTTER_LOG``
   and all) is moved out of it, and the folder is rebuilt with the course's files only (the
   notebook, the question files, an empty ``__init__.py``). The upload's graded modules are
   read from the moved files by the kit's intake (as data, as ``release grade`` reads a
   folder) and graded with :class:`autograder.batch.Grader` (student code in the kit's
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
:mod:`release.otter_batch`, hands the plugin each upload as the kit's intake read it
(:func:`batch_upload`) and gives otter the course's notebook alone. The hidden graders never
enter a zip: the grading machine needs the kit installed (with the ``otter`` extra). Nothing
here imports otter at module level.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from autograder import course, intake
from autograder.batch import Grader
from autograder.course import Assignment
from autograder.intake import Submission
from autograder.results import GRADING_ERROR, Result, TestResult

from .build import _add, student_archive
from .nbgrader_course import ALLOW_UNCONFINED

TESTS = "otter_tests"  # the public test files, in the student's folder
PLUGIN = "release.otter_course.KitGrades"


def notebook_name(assignment: Assignment) -> str:
    return f"{assignment.name}_checks.ipynb"


def _markdown(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def _code(source: str) -> dict:
    return {
        "cell_type": "code",
        "metadata": {},
        "execution_count": None,
        "outputs": [],
        "source": source,
    }


def _metadata(assignment: Assignment) -> dict:
    return {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "otter": {"assignment_name": assignment.name},
    }


def student_notebook(assignment: Assignment) -> dict:
    """The checks notebook (nbformat v4 JSON): one ``grader.check`` per part, then export."""
    name = notebook_name(assignment)
    modules = [f"{assignment.package}/{module}" for module in assignment.graded]
    shown = ", ".join(f"`{module}`" for module in modules)
    cells = [
        _markdown(
            f"# {assignment.title}: otter checks\n\n"
            f"코드는 {shown}에 작성하고, 아래 cell로 part마다\n"
            "**공개 case**를 확인하세요. `python selfcheck.py <part>`와 같은 확인입니다:\n"
            "여러분의 package를 sandbox에서 실행해 기록된 정답과 비교합니다.\n"
            "점수는 제출 후 **숨은 case**로 매겨집니다. 마지막 cell이 제출할 zip을 만듭니다.\n\n"
            f"(Write your code in {shown}. Each cell below runs the public cases of one part, as\n"
            "`python selfcheck.py <part>` does; the grade comes from hidden cases "
            "after you submit.\n"
            "The last cell writes the zip file to upload.)"
        ),
        _code(f'import otter\n\ngrader = otter.Notebook("{name}", tests_dir="{TESTS}")'),
    ]
    for part, points in assignment.points.items():
        cells += [_markdown(f"### `{part}` ({points}점)"), _code(f'grader.check("{part}")')]
    cells += [
        _markdown(
            "## 제출 (submit)\n\n이 cell이 만든 zip 파일을 제출하세요. "
            "(Upload the zip file this cell writes.)"
        ),
        _code(f'grader.export("{name}", pdf=False, ignore_log=True, files={modules!r})'),
    ]
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": _metadata(assignment)}


def notebook_text(assignment: Assignment) -> str:
    return json.dumps(student_notebook(assignment), indent=1, ensure_ascii=False) + "\n"


PUBLIC_TEST = '''"""Part `{part}` ({points} points): the public cases of the course's self-check, as
`python selfcheck.py {part}` runs them (your package in the sandbox, recorded answers)."""

from otter.test_files import test_case

OK_FORMAT = False
name = "{part}"
points = {points}


def public_feedback(part):
    """The self-check's feedback on the public cases of `part` that failed ("" if none
    failed): the kit's messages, which name frames of your own files only. The kit's own log
    records (the traceback of an internal error) stay out of the notebook."""
    import logging
    from pathlib import Path

    from autograder.course import from_manifest
    from autograder.selfcheck import check

    kit, quiet = logging.getLogger("autograder"), logging.NullHandler()
    kit.addHandler(quiet)
    propagate, kit.propagate = kit.propagate, False
    try:
        folder = Path.cwd()
        results = check(from_manifest(folder / "assignment.toml"), folder, [part])
    except Exception as error:  # the check itself failed, not your code
        return (f"the self-check could not run ({{type(error).__name__}}): run this notebook "
                f"from the assignment folder, or `python selfcheck.py {{part}}` in a terminal")
    finally:
        kit.removeHandler(quiet)
        kit.propagate = propagate
    if not results:
        return "no public case ran: run this notebook from the assignment folder"
    return "\\n".join(f"{{r.name}} ({{r.score:.2f}} / {{r.max_score:.2f}}):\\n{{r.output}}"
                     for r in results if not r.passed)


@test_case(name="{part}: public cases", points={points})
def public_cases():
    feedback = public_feedback("{part}")
    assert not feedback, feedback
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


def question_files(assignment: Assignment) -> dict[str, str]:
    """``tests/<part>.py`` -> source: otter's questions, one per part with its points."""
    return {
        f"tests/{part}.py": PLACEHOLDER_TEST.format(
            part=part, points=points, assignment=assignment.name, plugin=PLUGIN
        )
        for part, points in assignment.points.items()
    }


def otter_config(assignment: Assignment) -> dict:
    return {
        "lang": "python",
        "assignment_name": assignment.name,
        "pdf": False,
        "plugins": [{PLUGIN: {"assignment": assignment.name}}],
    }


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
            _add(archive, notebook_text(assignment), f"{top}{notebook_name(assignment)}")
            for part, points in assignment.points.items():
                _add(
                    archive, PUBLIC_TEST.format(part=part, points=points), f"{top}{TESTS}/{part}.py"
                )
    return target


def autograder_zip(assignment: Assignment, out: Path) -> Path:
    """``out/<a>-otter-autograder.zip``: ``otter_config.json``, the question files and the
    course's notebook in ``files/``."""
    target = out / f"{assignment.name}-otter-autograder.zip"
    with zipfile.ZipFile(target, "w") as archive:
        _add(archive, json.dumps(otter_config(assignment), indent=2), "otter_config.json")
        for name, text in question_files(assignment).items():
            _add(archive, text, name)
        _add(archive, notebook_text(assignment), f"files/{notebook_name(assignment)}")
    return target


def export(assignment: Assignment, out: Path) -> Path:
    """Write both zips (see the module docstring) into ``out``; returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    student_zip(assignment, out)
    autograder_zip(assignment, out)
    return out


# ------------------------------------------------------------------ grading: the plugin


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
    import click

    context = click.get_current_context(silent=True)
    if context is None or context.command.name != "run":
        return None
    submission = context.params.get("submission")
    return Path(submission).name if submission else None


def grade(grader: Grader, submission: Submission) -> tuple[Result, list[TestResult]]:
    """The kit's result of ``submission`` (hidden cases numbered, as the engine names them)
    and its public cases, as ``grader.check`` runs them, with ``grader``'s sandbox."""
    from autograder.selfcheck import check

    result = grader.grade(submission)
    if not submission.ok:
        return result, []
    with tempfile.TemporaryDirectory(prefix="kit-otter-") as tmp:
        folder = intake.materialize(submission, grader.assignment, Path(tmp))
        return result, check(grader.assignment, folder, sandbox=grader.sandbox)


def test_files(result: Result, public: list[TestResult]) -> list[Any]:
    """The kit's result as otter's test files (``ExceptionTestFile``), one per part in the
    course's order: the part's public cases (visible, 0 points) and hidden cases (their
    points and the kit's feedback); the file's score is the kit's part score. A part with no
    case of a kind gets one "not graded" case of that kind, saying why."""
    from otter.test_files.abstract_test import TestCase, TestCaseResult
    from otter.test_files.exception_test import ExceptionTestFile

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


_batch: tuple[Grader, Submission] | None = None  # see batch_upload


@contextlib.contextmanager
def batch_upload(grader: Grader, submission: Submission) -> Iterator[None]:
    """While active, the plugin of an ``otter run`` in this process grades ``submission``
    (an upload as the kit's intake read it) with ``grader``, instead of reading the files
    otter extracted: the batch road, ``release.otter_batch``."""
    global _batch
    _batch = (grader, submission)
    try:
        yield
    finally:
        _batch = None


@cache
def _plugin_class() -> type:
    """:class:`KitGrades`, built on first use so that this module imports without otter."""
    import nbformat
    from otter.plugins import AbstractOtterPlugin
    from otter.run.run_autograder.utils import OtterRuntimeError

    from autograder.gradescope import student_of

    class KitGrades(AbstractOtterPlugin):
        """Otter plugin: the kit's grading of the upload (module docstring).

        Configuration (``otter_config.json``): ``{"release.otter_course.KitGrades":
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
            grader = Grader(assignment, allow_unconfined=os.environ.get(ALLOW_UNCONFINED) == "1")
            try:
                return grade(grader, submission)
            finally:
                grader.close()

        def before_execution(self, submission: Any) -> Any:
            return nbformat.v4.new_notebook(metadata=_metadata(self.assignment))

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

    return KitGrades


def __getattr__(name: str) -> Any:
    if name == "KitGrades":
        return _plugin_class()
    raise AttributeError(name)
