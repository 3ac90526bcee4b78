"""What runs inside nbgrader's own process: the kit's autograde and its export plugin.

The course's ``nbgrader_config.py`` calls :func:`install`; ``nbgrader export --exporter
autograder.jupyter.nbgrader_plugins.KitExport`` loads :class:`KitExport`. This module
imports nbgrader.

:class:`KitAutograde` replaces nbgrader's ``Autograde`` converter. For an assignment of the
kit (any other goes through nbgrader's own steps, unchanged):

1. Every entry ``submitted/<student>/<a>`` is a submission, with or without its notebook,
   whatever it is (a folder without a notebook, a file, a link: each gets its row).
2. nbgrader never reads a submitted folder: it reads the kit's copy,
   ``kit/submitted/<student>/<a>/``, which holds the notebook *rebuilt from the gradebook's
   source cells* (the course's cells, once each, in the course's order, with their hidden
   tests: no cell, flag or output of the student's) and ``timestamp.txt`` (a regular file,
   copied). A deleted, moved or edited cell, a changed ``grade`` or ``solution`` flag, a
   broken or missing notebook: none reaches nbgrader.
3. Before nbgrader writes ``autograded/<student>/<a>/``, links in the submitted folder are
   listed (a warning per student: they are refused, never followed) and
   ``python -P -m autograder.jupyter.nbgrader_grade`` grades the submitted folder as
   ``release grade`` would (`autograder.jupyter.nbgrader_grade`); the package it graded
   replaces the package folder of ``autograded/``, and its Result and feedback are saved
   under ``kit/<a>/``.
4. nbgrader executes the rebuilt notebook with ``KIT_NBGRADER_RESULT`` naming that Result:
   each test cell prints its part's feedback and evaluates to the kit's points
   (`autograder.jupyter.nbgrader_cells.part_score`). A grading error (the kit's failure, never the
   student's) fails that student's autograde in nbgrader, which says so and exits 1.

:class:`KitExport` writes the kit's gradebook (``student, score, max_score``, one column per
part, ``status``) from nbgrader's gradebook, one CSV per assignment of the kit.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import re
import select
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import autogradeapp
from nbgrader.converters import Autograde
from nbgrader.converters.base import NbGraderException
from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.plugins import ExportPlugin

from autograder import course, intake
from autograder.batch import Paths
from autograder.results import GRADING_ERROR, Result, TestResult, gradebook_csv, write_atomic

from .nbgrader_cells import RESULT

KIT = "kit"  # the kit's folder in the course root: kit/<a>/ results, kit/submitted/ copies
STAGED = "kit/submitted"  # what nbgrader reads instead of submitted/ for the kit's assignments
GRADE_TIMEOUT = 900  # seconds one submission's grading may take (the sandbox bounds each call)
MAX_TIMESTAMP = 1024  # bytes of a submitted timestamp.txt


def install(config: Any) -> None:
    """The kit's steps in nbgrader: ``autograde`` (the command and formgrader's button) runs
    :class:`KitAutograde` (nbgrader has no setting for its converter, so the name its app
    looks up is rebound) and ``collect`` runs :class:`KitCollect` (set in ``config``)."""
    autogradeapp.Autograde = KitAutograde
    config.ExchangeFactory.collect = KitCollect


def rebuilt_notebook(gradebook: Gradebook, notebook: str, assignment: str) -> Any:
    """The notebook ``notebook`` of ``assignment`` as the gradebook holds its source cells
    (the source version: hidden tests included), in their order, with their checksums."""
    source = gradebook.find_notebook(notebook, assignment)
    if source.solution_cells:  # rebuilt, it would run the instructor's solution
        raise NbGraderException(
            f"{assignment}: the kit's notebook grades modules, it cannot "
            f"hold solution cells ({source.solution_cells[0].name})"
        )
    points = {cell.name: cell.max_score for cell in source.grade_cells}
    tasks = {cell.name: cell.max_score for cell in source.task_cells}
    cells = []
    for cell in source.source_cells:
        meta = {
            "grade": cell.name in points,
            "grade_id": cell.name,
            "locked": cell.locked,
            "schema_version": 3,
            "solution": False,
            "task": cell.name in tasks,
            "checksum": cell.checksum,
        }
        if cell.name in points or cell.name in tasks:
            meta["points"] = points.get(cell.name, tasks.get(cell.name))
        make = (
            nbformat.v4.new_code_cell if cell.cell_type == "code" else nbformat.v4.new_markdown_cell
        )
        cells.append(
            make(cell.source, metadata={"nbgrader": meta, "editable": False, "deletable": False})
        )
    nb = nbformat.v4.new_notebook(cells=cells)
    if source.kernelspec:
        nb.metadata.kernelspec = json.loads(source.kernelspec)
    return nb


def links(folder: Path) -> list[str]:
    """The symbolic links anywhere in ``folder`` (which may be one), relative, sorted;
    nothing is followed."""
    if folder.is_symlink():
        return ["."]
    found, walked = [], 0
    for top, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            if os.path.islink(os.path.join(top, name)):
                found.append(Path(top, name).relative_to(folder).as_posix())
        walked += len(dirs) + len(files)
        if walked > intake.MAX_ENTRIES:  # as far as the intake looks
            break
    return sorted(found)


def _copy_timestamp(folder: Path, dest: Path) -> None:
    """Copy ``folder/timestamp.txt`` to ``dest`` if it is a small regular file (not a link)."""
    try:
        data = intake._read_file(folder / "timestamp.txt")
    except (OSError, intake._Fail):
        return
    if len(data) <= MAX_TIMESTAMP:
        (dest / "timestamp.txt").write_bytes(data)


class GradingProcess:
    """The kit's grading process of one autograde run (`autograder.jupyter.nbgrader_grade`), started
    on first use and again after it failed."""

    def __init__(self, assignment: str, results: Path):
        self.command = [
            sys.executable,
            "-P",
            "-m",
            "autograder.jupyter.nbgrader_grade",
            assignment,
            "--results",
            str(results),
        ]
        self.process: subprocess.Popen | None = None

    def grade(self, request: dict) -> Path:
        """The saved Result of one submission (see `autograder.jupyter.nbgrader_grade`);
        raises where the kit did not grade it."""
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                cwd=tempfile.gettempdir(),
            )
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], GRADE_TIMEOUT)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.close()
            raise RuntimeError(
                "the kit's grading process "
                + ("timed out" if not ready else "ended")
                + " (its output is above)"
            )
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the kit failed: {answer['error']}")
        return Path(answer["result"])

    def close(self) -> None:
        if self.process is None:
            return
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


class KitAutograde(Autograde):
    """nbgrader's ``Autograde`` with the kit's steps for the kit's assignments (see the
    module docstring)."""

    _kit = False
    _result: Path | None = None
    _grading: GradingProcess | None = None

    def start(self) -> None:
        assignment = self.coursedir.assignment_id
        self._kit = assignment in course.names()
        try:
            if self._kit:
                self._stage()
            elif any(fnmatch.fnmatch(name, assignment) for name in course.names()):
                raise NbGraderException(
                    f"{assignment!r} matches the kit's assignments: autograde each by its name"
                )
        except NbGraderException as error:  # nbgrader exits 1 without a word
            self.log.error("%s", error)
            raise
        if not self._kit:
            return super().start()
        self._grading = GradingProcess(assignment, Path(self.coursedir.root) / KIT / assignment)
        try:
            super().start()
        finally:
            self._grading.close()

    @property
    def _input_directory(self) -> str:
        if self._sanitizing and self._kit:
            return STAGED
        return super()._input_directory

    def _submitted(self, assignment: str, student: str) -> Path:
        return Path(
            self.coursedir.format_path(self.coursedir.submitted_directory, student, assignment)
        )

    def _stage(self) -> None:
        """``kit/submitted/<student>/<a>/`` for every entry ``submitted/<student>/<a>``:
        the rebuilt notebook and a copy of ``timestamp.txt``."""
        assignment = self.coursedir.assignment_id
        pattern = re.compile(
            self.coursedir.format_path(
                self.coursedir.submitted_directory,
                "(?P<student>[^/]+)",
                re.escape(assignment),
                escape=True,
            )
            + "$"
        )
        entries = glob.glob(
            self.coursedir.format_path(
                self.coursedir.submitted_directory, self.coursedir.student_id, assignment
            )
        )
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gradebook:
            try:
                nb = rebuilt_notebook(gradebook, assignment, assignment)
            except MissingEntry:
                raise NbGraderException(
                    f"{assignment} is not in the gradebook: run "
                    f"'nbgrader generate_assignment {assignment}'"
                ) from None
        for old in glob.glob(
            self.coursedir.format_path(STAGED, self.coursedir.student_id, assignment)
        ):
            shutil.rmtree(old)  # a copy whose submission is gone must not be graded
        for entry in sorted(entries):
            match = pattern.match(entry)
            if not match:
                continue
            staged = Path(self.coursedir.format_path(STAGED, match["student"], assignment))
            staged.mkdir(parents=True)
            nbformat.write(nb, staged / f"{assignment}.ipynb")
            if not os.path.islink(entry) and os.path.isdir(entry):
                _copy_timestamp(Path(entry), staged)

    def init_assignment(self, assignment_id: str, student_id: str) -> None:
        super().init_assignment(assignment_id, student_id)
        if self._kit:
            self._result = self._grade(assignment_id, student_id)

    def _grade(self, assignment: str, student: str) -> Path:
        """Grade ``submitted/<student>/<a>`` in the kit's grading process; the saved
        Result's path. Raises (nbgrader reports it) unless the kit graded it."""
        assert self._grading is not None
        folder = self._submitted(assignment, student)
        if refused := links(folder):
            self.log.warning(
                "%s: %d symbolic link(s) refused, never followed: %s",
                student,
                len(refused),
                ", ".join(refused[:5]),
            )
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gradebook:
            cells = [
                cell.name for cell in gradebook.find_notebook(assignment, assignment).source_cells
            ]
        package = Path(self._format_dest(assignment, student)) / course.load(assignment).package
        with tempfile.TemporaryDirectory(prefix="kit-nbgrader-") as tmp:
            path = self._grading.grade(
                {"folder": str(folder), "student": student, "package": tmp, "cells": cells}
            )
            if package.exists():
                shutil.rmtree(package)
            shutil.copytree(Path(tmp) / package.name, package)
        result = Result.from_json(json.loads(path.read_text("utf-8")))
        self.log.info("%s: %g / %d (%s)", student, result.score, result.max_score, result.status)
        if result.status.startswith(GRADING_ERROR):
            raise RuntimeError(f"{student}: {result.status}")
        return path

    def convert_single_notebook(self, notebook_filename: str) -> None:
        if not self._kit:
            return super().convert_single_notebook(notebook_filename)
        with utils.setenv(**{RESULT: str(self._result)}):
            return super().convert_single_notebook(notebook_filename)


class KitCollect(ExchangeCollect):
    """``nbgrader collect`` that copies links as links. nbgrader's own copy follows them as
    the instructor's user, so a link a student put in the exchange would arrive in
    ``submitted/`` as a copy of whatever it points to (the kit's reference, another
    student's work), indistinguishable from the student's own file; kept as a link, it is
    refused by :class:`KitAutograde`. nbgrader's ``do_copy`` otherwise: the size check,
    the ignore and include patterns, the group-shared modes (never set through a link)."""

    def do_copy(self, src: str, dest: str, log: Any = None) -> None:
        size = self.get_size(src)
        if size > 1000 * self.coursedir.max_dir_size:
            self.log.error("Directory size is too big")
            raise RuntimeError(
                f"Directory size is too big. Size is {size}, maximum size is "
                f"{1000 * self.coursedir.max_dir_size}"
            )
        shutil.copytree(
            src,
            dest,
            symlinks=True,
            ignore=utils.ignore_patterns(
                exclude=self.coursedir.ignore,
                include=self.coursedir.include,
                max_file_size=self.coursedir.max_file_size,
                log=self.log,
            ),
        )
        if refused := links(Path(dest)):
            self.log.warning(
                "%s: %d symbolic link(s) kept as links, not followed: %s",
                src,
                len(refused),
                ", ".join(refused[:5]),
            )
        if not self.coursedir.groupshared:
            return
        for top, dirs, files in os.walk(dest):
            for name, bits in [
                (".", 0o2770),
                *((d, 0o2770) for d in dirs),
                *((f, 0o660) for f in files),
            ]:
                path = os.path.join(top, name)
                mode = os.lstat(path).st_mode
                if stat.S_ISLNK(mode) or (name != "." and stat.S_ISDIR(mode)):
                    continue  # a link is never followed; a folder is walked on its own
                if mode & bits != bits:
                    try:
                        os.chmod(path, (mode | bits) & 0o7777)
                    except PermissionError:
                        self.log.warning(
                            "Could not update permissions of %s to make it groupshared", path
                        )


class KitExport(ExportPlugin):
    """``nbgrader export --exporter autograder.jupyter.nbgrader_plugins.KitExport [--to PATH]``.

    For each assignment of the kit in the gradebook (or in ``--assignment``), the kit's
    gradebook CSV (`autograder.results.gradebook_csv`): ``student, score, max_score``, one
    column per part with nbgrader's score of that part's cell (the kit's points, or the
    grader's manual score where one was given), and ``status``: the kit's (from
    ``kit/<a>/results/``), ``no submission``, or ``not graded by the kit``. Every student
    of the gradebook gets a row. ``--to`` (default ``gradebook-{assignment}.csv``) must
    hold ``{assignment}`` when several assignments are exported.
    """

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or "gradebook-{assignment}.csv"
        names = [
            a.name
            for a in gradebook.assignments
            if a.name in course.names()
            and (not self.assignment or a.name in map(str, self.assignment))
        ]
        if len(names) > 1 and "{assignment}" not in dest:
            raise ValueError(
                f"--to {dest}: give a path with {{assignment}} to export {', '.join(names)}"
            )
        root = Path(getattr(getattr(self.parent, "coursedir", None), "root", "."))
        for name in names:
            assignment = course.load(name)
            rows = [
                self._row(gradebook, assignment, student.id, root)
                for student in gradebook.students
                if not self.student or student.id in map(str, self.student)
            ]
            path = Path(dest.format(assignment=name))
            self.log.info("Exporting the kit's gradebook of %s to %s", name, path)
            write_atomic(path, gradebook_csv(rows, assignment.parts))

    @staticmethod
    def _row(
        gradebook: Gradebook, assignment: course.Assignment, student: str, root: Path
    ) -> Result:
        """One student's row as a Result: nbgrader's score per part, the kit's status."""
        name = assignment.name
        try:
            gradebook.find_submission(name, student)
        except MissingEntry:
            return Result(student, name, assignment.points, status="no submission")
        tests = []
        for part, points in assignment.points.items():
            try:
                score = gradebook.find_grade(part, name, name, student).score
            except MissingEntry:
                score = 0.0
            tests.append(TestResult(part, part, score, points))
        saved = Paths(root / KIT / name).result(
            intake.Submission(student, intake.safe_id(student), root)
        )
        try:
            status = Result.from_json(json.loads(saved.read_text("utf-8"))).status
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            status = "not graded by the kit"
        return Result(student, name, assignment.points, status=status, tests=tests)
