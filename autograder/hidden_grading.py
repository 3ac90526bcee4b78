"""Grading one submission with the hidden graders (grading side, never shipped to students).

The submission's package is written into a sandbox workspace (:mod:`autograder.intake`),
its code reached only through :class:`~autograder.sandboxed_student.SandboxedStudent`; the hidden
graders (:class:`~autograder.pytest_runs.HiddenGraders`, collected once per process) run in
this process with the grading plugin, against the reference's ``Oracle``.
"""

from __future__ import annotations

import functools
import time

from . import course, intake
from .ahead import Planned, Planner
from .course import Assignment
from .graders_plugin import Context
from .intake import Submission
from .oracles import Oracle
from .pytest_runs import HiddenGraders
from .results import GRADING_ERROR, Result
from .sandbox import Runner
from .sandboxed_student import SandboxedStudent


@functools.cache
def hidden_graders(name: str, select: str | None = None) -> HiddenGraders:
    """Assignment ``name``'s hidden graders (``select``ed parts), collected once per
    process."""
    return HiddenGraders(name, course.load(name).points, select)


@functools.cache
def call_plan(name: str, seed: int, select: str | None = None) -> tuple[Planned, ...]:
    """The first call of each case of assignment ``name``'s hidden graders (``select``ed
    parts), in order: a planning run with a stand-in student, once per process."""
    # no oracle: the planner fails every case at its first call, before any comparison
    context = Context(None, None, hidden=True, seed=seed)  # type: ignore[arg-type]
    planner = context.student = Planner(context)
    hidden_graders(name, select).run(context)
    return tuple(planner.calls)


def grade_submission(
    submission: Submission,
    assignment: Assignment,
    sandbox: Runner,
    oracle: Oracle,
    seed: int,
    parts: list[str] | None = None,
) -> Result:
    """Grade one submission with the hidden graders of its assignment (of ``parts`` only,
    if given)."""
    started = time.perf_counter()
    result = Result(
        submission.student,
        assignment.name,
        assignment.points,
        status=submission.status,
        notes=list(submission.notes),
        submission_sha256=submission.sha256 or "",
    )
    if submission.ok:
        with sandbox.workspace() as folder:
            intake.materialize(submission, assignment, folder)
            select = " or ".join(parts) if parts else None
            plan = call_plan(assignment.name, seed, select)
            student = SandboxedStudent(sandbox, folder, assignment, plan=plan)
            context = Context(student, oracle, hidden=True, seed=seed)
            try:
                hidden_graders(assignment.name, select).run(context)
            finally:
                student.close()
            result.tests = context.results
            result.metrics = context.metrics
            if context.errors:  # a grade with holes made by the kit is no grade
                shown = ", ".join(context.errors[:3]) + (" ..." if len(context.errors) > 3 else "")
                result.status = (
                    f"{GRADING_ERROR} ({len(context.errors)} cases failed in "
                    f"the kit: {shown}); regrade with --student"
                )
            result.student_seconds = student.spent
    result.execution_time = time.perf_counter() - started
    return result
