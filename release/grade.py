"""``python -m release grade``: a folder of submissions into a gradebook, with a progress
bar and a table of the results."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from autograder import batch, intake
from autograder.course import Assignment
from autograder.results import OK, Result
from autograder.sandbox import SandboxError


def table(assignment: Assignment, results: list[Result]) -> Table:
    """The gradebook as a terminal table."""
    view = Table(title=f"{assignment.name}: {len(results)} submissions")
    view.add_column("student", no_wrap=True)
    view.add_column("score", justify="right")
    for part in assignment.parts:
        view.add_column(part, justify="right")
    view.add_column("status")
    for result in results:
        parts = result.part_scores()
        view.add_row(escape(result.student), f"{result.score:g}",
                     *(f"{parts[p]:g}" for p in assignment.parts),
                     escape(result.status) if result.status != OK else "[green]ok[/green]")
    return view


def grade(assignment: Assignment, submissions: Path, out: Path, *, jobs: int = 1,
          students: list[str] | None = None, regrade: bool = False,
          allow_unconfined: bool = False, console: Console | None = None) -> int:
    """Grade and report; 0 when every submission was graded, 2 for the instructor's errors."""
    console = console or Console(stderr=True)
    if not submissions.is_dir():
        console.print(f"[red]error:[/red] no submissions folder {submissions}")
        return 2
    started = time.perf_counter()
    columns = (TextColumn("grading {task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(assignment.name, total=None)

        def advance(submission: intake.Submission, result: Result) -> None:
            bar.update(task, advance=1,
                       description=escape(f"{assignment.name} ({submission.student})"))

        try:
            results = batch.grade_folder(assignment, submissions, out, jobs=jobs,
                                         students=students, regrade=regrade,
                                         allow_unconfined=allow_unconfined, progress=advance)
        except (intake.IntakeError, SandboxError) as error:
            console.print(f"[red]error:[/red] {error}")
            return 2
    # never squeeze ids, part names or scores (a wide table scrolls; a squeezed one misleads)
    longest = max((len(r.student) for r in results), default=7)
    wide_enough = longest + 48 + sum(len(part) + 3 for part in assignment.parts)
    Console(file=sys.stdout, width=max(Console().width, wide_enough)).print(
        table(assignment, results))
    console.print(f"{len(results)} submissions in {time.perf_counter() - started:.1f} s; "
                  f"gradebook: {batch.Paths(out).gradebook}; feedback: {out / 'feedback'}")
    return 0
