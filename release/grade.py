"""``python -m release grade``: a folder of submissions into a gradebook, with a progress
bar and a table of the results that fits the terminal."""

from __future__ import annotations

import difflib
import shlex
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from autograder import batch, intake
from autograder.course import Assignment
from autograder.results import GRADING_ERROR, Result
from autograder.sandbox import SandboxError
from autograder.views import plural, tables


class _NoSubmissions(Exception):
    """The folder holds no submission and no empty gradebook was asked for."""


class _UnknownStudents(Exception):
    """``--student`` names an id that no submission in the folder has."""


def unknown_students(asked: list[str], submissions: list[intake.Submission]) -> str | None:
    """Why some ``--student`` ids cannot be graded again (they are in no entry's name), with
    the nearest ids for a typo; ``None`` when every one is there."""
    ids = [s.student for s in submissions]
    missing = [student for student in dict.fromkeys(asked) if student not in ids]
    if not missing:
        return None
    lines = []
    for student in missing:
        near = difflib.get_close_matches(student, ids, n=3)
        hint = f" (did you mean {', '.join(map(repr, near))}?)" if near else ""
        lines.append(f"--student {student!r}: no submission of that id{hint}")
    return (
        "; ".join(lines) + ". An id is an entry's name without .zip and without a "
        "download suffix such as ' (1)'; nothing was graded or written."
    )


def superseded(submissions: list[intake.Submission]) -> list[str]:
    """The batch summary's lines on students with several entries: which one was graded."""
    return [
        f"{s.student}: graded {s.source.name} (the newest entry); not graded: "
        f"{', '.join(s.superseded)}"
        for s in submissions
        if s.superseded
    ]


def _folder_error(submissions: Path) -> str | None:
    """Why ``submissions`` cannot be the folder of submissions, if it cannot."""
    if submissions.is_dir():
        return None
    if not submissions.exists():
        return f"no submissions folder: {submissions} does not exist"
    unpack = "; unpack it into a folder first" if submissions.suffix.lower() == ".zip" else ""
    return (
        f"{submissions} is a file, not a folder: give the folder that holds one zip or "
        f"folder per student{unpack}"
    )


def grade(
    assignment: Assignment,
    submissions: Path,
    out: Path,
    *,
    jobs: int = 1,
    students: list[str] | None = None,
    regrade: bool = False,
    allow_unconfined: bool = False,
    allow_empty: bool = False,
    console: Console | None = None,
    stdout: Console | None = None,
) -> int:
    """Grade and report; 0 when every submission was graded, 1 when the kit failed on some
    (their rows say ``grading error``), 2 for the instructor's errors.

    An empty folder is such an error unless ``allow_empty`` (then the gradebook has only
    its header), and so is a ``students`` id that no submission has (a typo would otherwise
    regrade nothing and look done); both stop before anything is graded or written.
    Messages and the progress bar go to ``console`` (standard error), the table of results
    to ``stdout`` (standard output), as wide as its terminal; paths in messages are never
    broken by inserted line ends (the terminal wraps them).
    """
    console = console or Console(stderr=True)
    stdout = stdout or Console(file=sys.stdout)
    problem = _folder_error(submissions)
    if problem:
        console.print(f"[red]error:[/red] {escape(problem)}", soft_wrap=True)
        return 2
    started = time.perf_counter()
    counts = {"kept": 0, "graded": 0}
    read: list[intake.Submission] = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = None

        def plan(entries: list[intake.Submission], kept: int) -> None:
            nonlocal task
            todo = len(entries) - kept
            if not entries and not allow_empty:
                raise _NoSubmissions
            unknown = unknown_students(students or [], entries)
            if unknown:
                raise _UnknownStudents(unknown)
            counts["kept"] = kept
            read.extend(entries)
            if todo:
                task = bar.add_task(f"grading {assignment.name}", total=todo)

        def advance(submission: intake.Submission, result: Result) -> None:
            counts["graded"] += 1
            bar.update(
                task,
                advance=1,
                description=escape(f"grading {assignment.name} ({submission.student})"),
            )

        try:
            results = batch.grade_folder(
                assignment,
                submissions,
                out,
                jobs=jobs,
                students=students,
                regrade=regrade,
                allow_unconfined=allow_unconfined,
                progress=advance,
                planned=plan,
            )
        except (intake.IntakeError, SandboxError, _UnknownStudents) as error:
            console.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)
            return 2
        except _NoSubmissions:
            console.print(
                f"[red]error:[/red] {escape(str(submissions))} holds no submissions "
                "(hidden entries are skipped); nothing was written. To write a "
                "gradebook with no rows, pass --allow-empty.",
                soft_wrap=True,
            )
            return 2
    for view in tables(assignment, results, stdout.width) if results else ():
        stdout.print(view)
    seconds = time.perf_counter() - started
    if not results:
        done = "0 submissions (--allow-empty): the gradebook has no rows"
    elif counts["kept"]:
        done = (
            f"{plural(len(results), 'submission')} in {seconds:.1f} s: {counts['kept']} "
            f"kept from the last run, {counts['graded']} graded (--regrade grades all again)"
        )
    else:
        done = f"{plural(len(results), 'submission')} graded in {seconds:.1f} s"
    paths = batch.Paths(out)
    console.print(
        escape(
            f"{done}; gradebook: {paths.gradebook} and {paths.gradebook_xlsx.name}"
            f" (for Excel); feedback: {out / 'feedback'}"
        ),
        soft_wrap=True,
    )
    for line in superseded(read):
        console.print(escape(line), soft_wrap=True)
    failed = [r.student for r in results if r.status.startswith(GRADING_ERROR)]
    if failed:  # the kit's failure, not the students': loud, and how to grade them again
        again = " ".join(f"--student {shlex.quote(student)}" for student in failed)
        console.print(
            f"[red]{escape(plural(len(failed), 'submission'))} not graded because "
            f"the kit failed on them[/red] (their rows say grading error, not a "
            f"grade); once the cause is fixed, run this command again with "
            f"{escape(again)}",
            soft_wrap=True,
        )
        return 1
    return 0
