"""Grading side (the parent): its handle on the student's code, each call in the sandbox.

The parent never imports student code. :class:`SandboxedStudent` runs each probe call in the
submission's sandbox :class:`~autograder.sandbox.Session` (one confined child for all its
calls, a fresh one after a fault) and turns each way a call can go wrong into feedback. The
hidden graders' run of one submission is :mod:`autograder.hidden_grading`'s; the public
self-check uses this handle too, so this module imports nothing instructor-only.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from .ahead import Ahead, Planned
from .course import ROOT, Assignment
from .graders_plugin import Failure, TimedOut
from .sandbox import Outcome, Runner, SandboxError

log = logging.getLogger(__name__)
SUBMISSION_BUDGET = 120.0  # seconds of sandboxed calls one submission may use in all


class SandboxedStudent:
    """The student's code, reached only through sandboxed probe calls (a ``StudentCode``).

    With ``plan`` (:func:`~autograder.hidden_grading.call_plan`), the planned calls of a
    part go to the sandbox together (:mod:`autograder.ahead`): a
    :class:`~autograder.sandbox.Sandbox`'s sessions take several calls per request
    (``run_many``), the portable runner's do not."""

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
        outcome = self.ahead.take(probe, inputs, timeout)
        if outcome is None:
            outcome = self._run(probe, inputs, timeout)
        self.left -= outcome.wall
        self.spent += outcome.probe_seconds
        if outcome.ok:
            return self.redact.value(outcome.value)
        if outcome.status == "timeout":
            raise TimedOut(self.redact.value(explain(outcome)))
        raised = outcome.error_type if outcome.status == "error" else None
        raise Failure(self.redact.value(explain(outcome)), raised=raised)

    def _run(self, probe: str, inputs: dict, timeout: float) -> Outcome:
        """The call's outcome from the sandbox, with the planned calls that follow it; a
        sandbox failure (the kit's, not the student's) is retried once, in a fresh child."""
        request = (
            f"{self.module}:{probe}",
            {"package": self.package, **inputs},
            min(timeout, self.left),
        )
        planned = self.ahead.batch(probe, inputs, timeout)  # it and the planned calls after it
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
