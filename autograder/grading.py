"""The graders' side of a grading run: the ``grade`` fixture and the pytest plugin.

A grader is a pytest test marked with its part (``@pytest.mark.conv2d``) that asks the
``grade`` fixture to run a probe on the student's code and to judge the result::

    @pytest.mark.conv2d
    @pytest.mark.parametrize("case", range(3))
    def test_forward(grade, case):
        rng = grade.rng(case)
        grade.check("conv2d", x=rng.standard_normal((2, 3, 7, 7)), ...)

The student's code runs only in the sandbox (``StudentCode``); the expected value comes from
an ``Oracle`` (the reference for hidden graders, recorded outputs for the public self-check);
the comparison and the feedback happen here, in the parent.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pytest

from .compare import DEFAULT, Tolerance, mismatch
from .mistakes import Mistake
from .results import TestResult

OUTPUT_CAP = 4000  # characters of feedback per case
DEFAULT_TIMEOUT = 3.0  # seconds per call: every case takes milliseconds when right
log = logging.getLogger(__name__)


def known_mistake(name: str, why: str) -> str:
    """The feedback line that names a known mistake (the same wherever it is detected)."""
    return f"This looks like a known mistake ({name}): {why}"


class Failure(Exception):
    """A case the student's code did not pass; the message is the student's feedback."""


class TimedOut(Failure):
    """A call that ran out of time; the part's remaining cases are not run."""


class StudentCode(Protocol):
    """Runs a probe on the student's package in the sandbox; raises :class:`Failure`
    (with a message for the student) when the code did not return a plain value. The
    inputs cross as data: the caller's arrays are never changed."""

    def __call__(self, probe: str, inputs: dict, timeout: float) -> Any: ...


class Oracle(Protocol):
    """The expected plain value of a probe, for the reference or one of its mistakes;
    never changes ``inputs``."""

    def expect(self, probe: str, inputs: dict, part: str,
               mistake: Mistake | None = None) -> Any: ...

    def mistakes(self, part: str) -> list[Mistake]: ...


@dataclass
class Context:
    """Everything the ``grade`` fixture needs for one submission."""

    student: StudentCode
    oracle: Oracle
    hidden: bool
    seed: int
    results: list[TestResult] = field(default_factory=list)
    timed_out: set[str] = field(default_factory=set)  # parts whose code ran out of time
    metrics: dict[str, float] = field(default_factory=dict)  # name -> value (leaderboards)
    errors: list[str] = field(default_factory=list)  # cases the kit itself failed on


class Grade:
    """The ``grade`` fixture: runs the student's code through probes and judges it."""

    def __init__(self, context: Context, part: str, nodeid: str):
        self._context = context
        self.part = part
        self._nodeid = nodeid

    def rng(self, *key: int | str) -> np.random.Generator:
        """A generator seeded by the run's seed, this test and ``key``: fixed per case."""
        words = [self._context.seed, zlib.crc32(self._nodeid.encode())]
        words += [k if isinstance(k, int) else zlib.crc32(k.encode()) for k in key]
        return np.random.default_rng(words)

    def call(self, probe: str, *, timeout: float = DEFAULT_TIMEOUT, **inputs) -> Any:
        """The student's plain result of ``probe`` on ``inputs`` (``Failure`` if none)."""
        __tracebackhide__ = True  # a student's pytest run shows the test, not the kit
        if self.part in self._context.timed_out:
            raise Failure("not run: an earlier case of this part ran out of time")
        try:
            return self._context.student(probe, inputs, timeout)
        except TimedOut:
            self._context.timed_out.add(self.part)
            raise

    def check(self, probe: str, *, tol: Tolerance = DEFAULT,
              timeout: float = DEFAULT_TIMEOUT, **inputs) -> None:
        """Fail unless the student's result of ``probe`` equals the oracle's within ``tol``."""
        __tracebackhide__ = True
        got = self.call(probe, timeout=timeout, **inputs)
        oracle = self._context.oracle
        want = oracle.expect(probe, inputs, self.part)
        hidden = self._context.hidden
        reason = mismatch(got, want, tol, show_values=not hidden)
        if reason is None:
            return
        message = [reason]
        for mistake in oracle.mistakes(self.part):
            if mismatch(got, self._variant(probe, inputs, mistake), tol) is None:
                message.append(known_mistake(mistake.name, mistake.why))
                break
        raise Failure("\n".join(message))

    def _variant(self, probe: str, inputs: dict, mistake: Mistake) -> Any:
        """What ``mistake`` would have returned, or None where it has no answer (the
        mistaken code raised, or no answer was recorded)."""
        try:
            return self._context.oracle.expect(probe, inputs, self.part, mistake)
        except Exception:  # a mistake that crashes explains no returned value
            return None

    def record(self, metric: str, value: float) -> None:
        """Keep a figure of this submission (``"test accuracy"``) for leaderboards."""
        self._context.metrics[metric] = float(value)

    def expect(self, condition: bool, message: str) -> None:
        """Fail with ``message`` unless ``condition`` holds (for property checks)."""
        __tracebackhide__ = True
        if not condition:
            raise Failure(message)


class GradingPlugin:
    """Pytest plugin: provides ``grade``, weighs the cases of each part, records results.

    Every case of a part is worth the same share of the part's points, unless marked
    ``@pytest.mark.weight(k)``.
    """

    def __init__(self, context: Context, points: dict[str, int]):
        self.context = context
        self.points = points
        self._max: dict[str, float] = {}
        self._names: dict[str, str] = {}  # nodeid -> the case's name in results

    def pytest_configure(self, config: pytest.Config) -> None:
        for part in self.points:
            config.addinivalue_line("markers", f"{part}: graded part {part}")
        config.addinivalue_line("markers", "weight(k): this case's share of its part")

    def part_of(self, item: pytest.Item) -> str:
        parts = [m.name for m in item.iter_markers() if m.name in self.points]
        if len(parts) != 1:
            raise pytest.UsageError(f"{item.nodeid} must be marked with exactly one part, "
                                    f"has {parts}")
        return parts[0]

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        weights = {item.nodeid: _weight(item) for item in items}
        totals: dict[str, float] = {}
        for item in items:
            totals[self.part_of(item)] = totals.get(self.part_of(item), 0) + weights[item.nodeid]
        cases: dict[str, int] = {}
        for item in items:
            part = self.part_of(item)
            self._max[item.nodeid] = self.points[part] * weights[item.nodeid] / totals[part]
            self._names[item.nodeid] = f"{part}: {self._case_name(item, part, cases)}"

    def _case_name(self, item: pytest.Item, part: str, cases: dict[str, int]) -> str:
        """``updates[Adam-lr=0.01]`` on public cases; a hidden case is numbered within its
        part instead (``updates[case 3]``): its parameters are hidden inputs."""
        name = item.name.removeprefix("test_")
        if not self.context.hidden or not hasattr(item, "callspec"):
            return name
        base = getattr(item, "originalname", name).removeprefix("test_")
        key = f"{part}: {base}"
        cases[key] = cases.get(key, 0) + 1
        return f"{base}[case {cases[key]}]"

    @pytest.fixture
    def grade(self, request: pytest.FixtureRequest) -> Grade:
        return Grade(self.context, self.part_of(request.node), request.node.nodeid)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" or (report.when == "setup" and report.failed):
            self.context.results.append(self._result(item, call))

    def _result(self, item: pytest.Item, call: pytest.CallInfo) -> TestResult:
        max_score = self._max[item.nodeid]
        name = self._names[item.nodeid]
        if call.excinfo is None:
            return TestResult(name, self.part_of(item), max_score, max_score, "passed")
        error = call.excinfo.value
        if isinstance(error, Failure):
            output = str(error)
            if len(output) > OUTPUT_CAP:
                output = output[:OUTPUT_CAP] + "\n[... feedback cut]"
        else:  # the kit failed (a grader's bug, the sandbox): never the student's zero
            log.error("grader error in %s", item.nodeid, exc_info=call.excinfo._excinfo)
            self.context.errors.append(f"{name}: {type(error).__name__}")
            output = (f"internal grader error ({type(error).__name__}): not your code; this "
                      "case is to be graded again")
        return TestResult(name, self.part_of(item), 0.0, max_score, output)


def _weight(item: pytest.Item) -> float:
    marker = item.get_closest_marker("weight")
    return float(marker.args[0]) if marker else 1.0
