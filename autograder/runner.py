"""Grading one submission: its package in the sandbox, the graders and the oracle here.

The parent never imports student code. :class:`SandboxedStudent` runs each probe call in the
submission's sandbox :class:`~autograder.sandbox.Session` (one confined child for all its
calls, a fresh one after a fault) and turns each way a call can go wrong into feedback;
:func:`run_graders` runs the pytest graders in this process with the grading plugin.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import course, intake
from .ahead import Ahead, Key, Planned, Planner, key
from .course import ROOT, Assignment
from .grading import Context, Failure, GradingPlugin, Oracle, TimedOut
from .intake import Submission
from .results import GRADING_ERROR, Result
from .sandbox import Outcome, Runner, SandboxError

log = logging.getLogger(__name__)
GRADERS = Path(__file__).parent / "graders"
SUBMISSION_BUDGET = 120.0  # seconds of sandboxed calls one submission may use in all
# pytest plugins the graders do not need: each costs time on every submission
QUIET_PLUGINS = (
    "cacheprovider",
    "unraisableexception",
    "threadexception",
    "faulthandler",
    "junitxml",
    "pastebin",
    "nose",
    "doctest",
    "logging",
    "stepwise",
    "warnings",
    "legacypath",
    "tmpdir",
    "monkeypatch",
    "recwarn",
    "capture",
)


class SandboxedStudent:
    """The student's code, reached only through sandboxed probe calls (a ``StudentCode``).

    With ``plan`` (:func:`call_plan`), the planned calls of a part go to the sandbox
    together (:mod:`autograder.ahead`)."""

    def __init__(
        self,
        sandbox: Runner,
        folder: Path,
        assignment: Assignment,
        budget: float = SUBMISSION_BUDGET,
        plan: tuple[Planned, ...] = (),
    ):
        self.ahead = Ahead(plan)
        self.module = f"autograder.probes.{assignment.name}"
        self.package = assignment.package
        self.session = sandbox.session(
            folder, assignment.package, modules=(self.module,), budget=budget
        )
        self.left = budget
        self.spent = 0.0  # seconds the student's code ran (in the probes, as children measured)
        self.redact = Redactor(
            {
                str(folder): "<submission>",
                sandbox.folder or "": "<sandbox>",
                str(ROOT): "<kit>",
                sys.prefix: "<python>",
                sys.base_prefix: "<python>",
                tempfile.gettempdir(): "<tmp>",
                os.path.expanduser("~"): "~",
            }
        )

    def __call__(self, probe: str, inputs: dict, timeout: float) -> Any:
        __tracebackhide__ = True
        if self.left <= 0:
            raise Failure(
                "not run: this submission used up its total time "
                f"({SUBMISSION_BUDGET:g} s) in earlier tests"
            )
        call = key(probe, inputs, timeout)
        outcome = self.ahead.take(call)
        if outcome is None:
            outcome = self._run(probe, inputs, timeout, call)
        self.left -= outcome.wall
        self.spent += outcome.probe_seconds
        if outcome.ok:
            return self.redact.value(outcome.value)
        if outcome.status == "timeout":
            raise TimedOut(self.redact.value(explain(outcome)))
        raised = outcome.error_type if outcome.status == "error" else None
        raise Failure(self.redact.value(explain(outcome)), raised=raised)

    def _run(self, probe: str, inputs: dict, timeout: float, call: Key) -> Outcome:
        """The call's outcome from the sandbox, with the planned calls that follow it; a
        sandbox failure (the kit's, not the student's) is retried once, in a fresh child."""
        request = (
            f"{self.module}:{probe}",
            {"package": self.package, **inputs},
            min(timeout, self.left),
        )
        planned = self.ahead.batch(call)  # this call and the planned calls after it
        try:
            if len(planned) < 2:
                return self.session.run(*request)
            later = [
                (f"{self.module}:{c.probe}", {"package": self.package, **c.inputs}, c.timeout)
                for c in planned[1:]
            ]
            outcomes = self.session.run_many([request, *later], time_left=self.left)
        except SandboxError:
            log.warning("sandbox failure on %s; retrying in a fresh child", probe, exc_info=True)
            self.session.close()
            return self.session.run(*request)
        self.ahead.ran(planned, outcomes)
        return outcomes[0]

    def close(self) -> None:
        self.session.close()


@functools.cache
def call_plan(name: str, seed: int, parts: tuple[str, ...] | None = None) -> tuple[Planned, ...]:
    """The first call of each case of assignment ``name``'s hidden graders (of ``parts``
    only, if given), in order: a planning run with a stand-in student, once per process."""
    assignment = course.load(name)
    planner = Planner()
    # no oracle: the planner fails every case at its first call, before any comparison
    context = Context(planner, None, hidden=True, seed=seed)  # type: ignore[arg-type]
    planner.plugin = GradingPlugin(context, assignment.points)
    select = " or ".join(parts) if parts else None
    run_graders(GRADERS / name, planner.plugin, select, also=(planner,))
    return tuple(planner.calls)


class Redactor:
    """Puts neutral names (``<kit>``, ``<sandbox>``) for the grading machine's own folders in
    what the student's code returned or printed: feedback names no path of the machine."""

    def __init__(self, names: dict[str, str]):
        pairs = {
            spelling: name
            for path, name in names.items()
            if len(path) > 1
            for spelling in (path, os.path.realpath(path))
        }
        self.pairs = sorted(pairs.items(), key=lambda pair: -len(pair[0]))  # longest first

    def value(self, value: Any) -> Any:
        """``value`` (plain data) with every string redacted."""
        if isinstance(value, str):
            for path, name in self.pairs:
                value = value.replace(path, name)
            return value
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        return value


def explain(outcome: Outcome) -> str:
    """What the student reads when a call returned no value."""
    if outcome.status == "error":
        if outcome.error_type == "NotImplementedError":
            head = f"not implemented yet ({outcome.message})"
        else:
            head = f"your code raised {outcome.message}"
        lines = [head, *(f"  {frame}" for frame in outcome.traceback)]
    else:
        lines = [outcome.message]
    if outcome.stdout.strip():
        lines.append("your code printed (first lines):")
        lines += [f"  | {line}" for line in outcome.stdout.strip().splitlines()[:5]]
    return "\n".join(lines)


def run_graders(
    tests: Path,
    plugin: GradingPlugin,
    select: str | None = None,
    extra: list[str] | None = None,
    also: tuple[object, ...] = (),
) -> None:
    """Run the pytest graders in ``tests`` with ``plugin`` (and the plugins ``also``),
    quietly, in this process."""
    args = [
        str(tests),
        "-q",
        "--rootdir",
        str(tests),
        "-c",
        str(tests / "pytest.ini"),
        "-o",
        "addopts=",
        "--import-mode=importlib",
        "--assert=plain",
        "--tb=no",
        *(f"-pno:{name}" for name in QUIET_PLUGINS),
    ]
    if select:
        args += ["-m", select]
    args += extra or []
    with contextlib.redirect_stdout(io.StringIO()) as output, _no_plugin_autoload():
        code = pytest.main(args, plugins=[plugin, *also])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise RuntimeError(
            f"the graders in {tests} did not run ({code!r}):\n{output.getvalue()[-3000:]}"
        )


@contextlib.contextmanager
def _no_plugin_autoload() -> Iterator[None]:
    """Only pytest's own plugins and the grading plugin: none of the installed ones."""
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved


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
            plan = call_plan(assignment.name, seed, tuple(parts) if parts else None)
            student = SandboxedStudent(sandbox, folder, assignment, plan=plan)
            context = Context(student, oracle, hidden=True, seed=seed)
            try:
                run_graders(
                    GRADERS / assignment.name,
                    GradingPlugin(context, assignment.points),
                    " or ".join(parts) if parts else None,
                )
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
