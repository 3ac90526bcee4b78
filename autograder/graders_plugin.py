"""Grading side, never in the sandbox: the graders' ``grade`` fixture and pytest plugin.

A grader is a pytest test marked with its part (``@pytest.mark.conv2d``) that asks the
``grade`` fixture to run a probe on the student's code and to judge the result::

    @pytest.mark.conv2d
    @pytest.mark.parametrize("case", range(3))
    def test_forward(grade, case):
        rng = grade.rng(case)
        grade.check("conv2d", x=rng.standard_normal((2, 3, 7, 7)), ...)

Inputs that take time to draw are built once per process, for every submission alike:
``params, grads = grade.inputs(_updates, steps)`` calls ``_updates(grade.rng(), steps)``
the first time only (:meth:`Grade.inputs`).

The student's code runs only in the sandbox (``StudentCode``); the expected value comes from
an :class:`~autograder.oracles.Oracle` (the reference for hidden graders, recorded outputs
for the public self-check); the comparison and the feedback happen here, in the parent.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
import pytest

from .compare import DEFAULT, Tolerance, mismatch
from .oracles import KnownMistake, Oracle
from .results import TestResult

OUTPUT_CAP = 4000  # characters of feedback per case
DEFAULT_TIMEOUT = 3.0  # seconds per call: every case takes milliseconds when right
log = logging.getLogger(__name__)
T = TypeVar("T")


def known_mistake(name: str, why: str) -> str:
    """The feedback line that names a known mistake (the same wherever it is detected)."""
    return f"This looks like a known mistake ({name}): {why}"


# Likely causes of the exceptions students' code raises, by a pattern of the feedback.
CAUSES = (
    (
        r"could not be broadcast|shapes \S+ and \S+ not aligned|matmul: Input operand|"
        r"mismatch in its core dimension|size \d+ is different from",
        "A shape does not fit in the line above: print the shapes there. The docstring gives "
        "each input's shape, and the code must work for every batch size N and for inputs that "
        "are not square.",
    ),
    (
        r"cannot reshape array of size",
        "A reshape asks for a size the array does not have: take the sizes from the input "
        "itself (N, C, H, W = x.shape) rather than fixed numbers, and check the output size.",
    ),
    (
        r"cannot unpack non-iterable int|'int' object is not (iterable|subscriptable)",
        "An argument the contract allows as an int or a pair is used as a pair only "
        "(pool_size=2 means (2, 2)): accept both.",
    ),
    (
        r"too many indices for array|index -?\d+ is out of bounds|tuple index out of range",
        "An index or axis the array does not have: the input may have fewer (2-D) or more "
        "(4-D) dimensions than the code expects; the docstring says which shapes it takes.",
    ),
    (
        r"'NoneType' object (has no attribute|is not subscriptable|is not iterable)",
        "A function returned nothing (None): check that every path ends with a return.",
    ),
    (
        r"AttributeError: '\w+' object has no attribute",
        "An attribute is used before it is set: backward uses what forward stored on self "
        "(the input, the columns, the mask); set it in forward, or in __init__.",
    ),
    (
        r"NameError: name '\w+' is not defined",
        "A name is not defined in this module: an import (numpy as np) or a helper is missing.",
    ),
)


class Failure(Exception):
    """A case the student's code did not pass; the message is the student's feedback,
    ``credit`` the share of the case it still earns (0 unless some outputs were right) and
    ``raised`` the name of the exception the student's code raised, if it did."""

    def __init__(self, message: str, credit: float = 0.0, raised: str | None = None):
        super().__init__(message)
        self.credit = credit
        self.raised = raised


class TimedOut(Failure):
    """A call that ran out of time; the part's remaining cases are not run."""


class StudentCode(Protocol):
    """Runs a probe on the student's package in the sandbox; raises :class:`Failure`
    (with a message for the student) when the code did not return a plain value. The
    inputs cross as data: the caller's arrays are never changed."""

    def __call__(self, probe: str, inputs: dict, timeout: float) -> Any: ...


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
    part: str = ""  # the part of the case being run (set by the ``grade`` fixture)


class Grade:
    """The ``grade`` fixture: runs the student's code through probes and judges it."""

    def __init__(self, context: Context, part: str, case: str, built: dict | None = None):
        self._context = context
        self.part = part
        self._case = case  # its case_id
        self._built = {} if built is None else built  # what ``inputs`` built, kept by its plugin

    def rng(self, *key: int | str) -> np.random.Generator:
        """A generator seeded by the run's seed, this test and ``key``: fixed per case."""
        words = [self._context.seed, zlib.crc32(self._case.encode())]
        words += [k if isinstance(k, int) else zlib.crc32(k.encode()) for k in key]
        return np.random.default_rng(words)

    def inputs(
        self, build: Callable[..., T], *args: Hashable, key: tuple[int | str, ...] = ()
    ) -> T:
        """``build(self.rng(*key), *args)``, built once per process for this case, seed and
        ``key``, and handed out again to every later submission: the same read-only arrays
        in fresh lists, tuples and dicts. ``build`` (a module-level function) returns plain
        data drawn from the generator it gets, and nothing else."""
        entry = (self._context.seed, self._case, build, key, args)
        if entry not in self._built:
            self._built[entry] = _frozen(build(self.rng(*key), *args))
        return _fresh(self._built[entry])

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
        except Failure as failure:
            if failure.raised in (None, "NotImplementedError"):  # a stub is no mistake
                raise
            hint = self._cause(probe, inputs, failure)
            if hint is None:
                raise
            raise Failure(f"{failure}\n{hint}", raised=failure.raised) from None

    def _cause(self, probe: str, inputs: dict, failure: Failure) -> str | None:
        """Why the student's code likely raised: a known mistake of this part that raises
        the same exception on these inputs, else the usual cause of its message."""
        oracle = self._context.oracle
        for mistake in oracle.mistakes(self.part):
            if oracle.raised(probe, inputs, self.part, mistake) == failure.raised:
                return known_mistake(mistake.name, mistake.why)
        text = str(failure)
        return next((cause for pattern, cause in CAUSES if re.search(pattern, text)), None)

    def check(
        self,
        probe: str,
        *,
        tol: Tolerance = DEFAULT,
        timeout: float = DEFAULT_TIMEOUT,
        per_output: bool = False,
        **inputs,
    ) -> None:
        """Fail unless the student's result of ``probe`` equals the oracle's within ``tol``.

        ``per_output``: the result is a dict of named outputs (``out``, ``dx``, ``dW``,
        ``db``), or a list of such dicts (one per pass); each name is worth the same share
        of the case, earned where that output is right in every pass.
        """
        __tracebackhide__ = True
        got = self.call(probe, timeout=timeout, **inputs)
        oracle = self._context.oracle
        want = oracle.expect(probe, inputs, self.part)
        hidden = self._context.hidden
        reason = mismatch(got, want, tol, show_values=not hidden)
        if reason is None:
            return
        credit, message = 0.0, [reason]
        outputs = _outputs(got, want, tol) if per_output else None
        if outputs:
            right = [name for name, ok in outputs.items() if ok]
            credit = len(right) / len(outputs)
            message = [
                _first_mismatch(got, want, name, tol, show_values=not hidden)
                for name, ok in outputs.items()
                if not ok
            ]
            if right:
                message.append(
                    f"Right: {', '.join(right)}: this case earns {len(right)} of "
                    f"its {len(outputs)} outputs' shares."
                )
        for mistake in oracle.mistakes(self.part):
            if mismatch(got, self._variant(probe, inputs, mistake), tol) is None:
                message.append(known_mistake(mistake.name, mistake.why))
                break
        raise Failure("\n".join(message), credit)

    def _variant(self, probe: str, inputs: dict, mistake: KnownMistake) -> Any:
        """What ``mistake`` would have returned, or None where it has no answer (the
        mistaken code raised, or no answer was recorded)."""
        try:
            return self._context.oracle.expect(probe, inputs, self.part, mistake)
        except Exception:  # a mistake that crashes explains no returned value
            return None

    def known_mistake(self, name: str) -> str:
        """The feedback line naming the known mistake ``name`` of this part, with its
        explanation from MISTAKES.md (for graders that recognise a mistake by a property
        rather than by the oracle's answer)."""
        for mistake in self._context.oracle.mistakes(self.part):
            if mistake.name == name:
                return known_mistake(mistake.name, mistake.why)
        raise LookupError(f"{name} is not a known mistake of part {self.part}")

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
        self._built: dict = {}  # the cases' inputs built once (``Grade.inputs``)

    def pytest_configure(self, config: pytest.Config) -> None:
        for part in self.points:
            config.addinivalue_line("markers", f"{part}: graded part {part}")
        config.addinivalue_line("markers", "weight(k): this case's share of its part")

    def part_of(self, item: pytest.Item) -> str:
        parts = [m.name for m in item.iter_markers() if m.name in self.points]
        if len(parts) != 1:
            raise pytest.UsageError(
                f"{item.nodeid} must be marked with exactly one part, has {parts}"
            )
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
        return self.grade_for(self.part_of(request.node), case_id(request.node))

    def grade_for(self, part: str, case: str) -> Grade:
        """The ``grade`` of the case ``case`` (its case_id) of ``part``, now being run."""
        self.context.part = part
        return Grade(self.context, part, case, self._built)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" or (report.when == "setup" and report.failed):
            error = call.excinfo.value if call.excinfo is not None else None
            self.context.results.append(self.result(item.nodeid, self.part_of(item), error))

    def result(self, nodeid: str, part: str, error: BaseException | None) -> TestResult:
        """The result of case ``nodeid`` of ``part`` that raised ``error`` (None: passed)."""
        max_score = self._max[nodeid]
        name = self._names[nodeid]
        if error is None:
            return TestResult(name, part, max_score, max_score, "passed")
        if isinstance(error, Failure):
            output = str(error)
            if len(output) > OUTPUT_CAP:
                output = output[:OUTPUT_CAP] + "\n[... feedback cut]"
            return TestResult(name, part, max_score * error.credit, max_score, output)
        # the kit failed (a grader's bug, the sandbox): never the student's zero
        log.error("grader error in %s", nodeid, exc_info=error)
        self.context.errors.append(f"{name}: {type(error).__name__}")
        output = (
            f"internal grader error ({type(error).__name__}): not your code; this case "
            "is to be graded again"
        )
        return TestResult(name, part, 0.0, max_score, output)


def _frozen(tree: Any) -> Any:
    """``tree`` (plain data: arrays, lists, tuples, dicts, scalars) with its arrays made
    read-only, in place."""
    if type(tree) is np.ndarray and not tree.dtype.hasobject:
        tree.setflags(write=False)
    elif type(tree) is dict:
        for value in tree.values():
            _frozen(value)
    elif type(tree) is list or type(tree) is tuple:
        for value in tree:
            _frozen(value)
    elif tree is not None and not isinstance(tree, bool | int | float | str | np.generic):
        raise TypeError(f"built inputs must be plain data, not {type(tree).__name__}")
    return tree


def _fresh(tree: Any) -> Any:
    """A copy of ``tree``'s lists, tuples and dicts around the same arrays and scalars."""
    if type(tree) is dict:
        return {key: _fresh(value) for key, value in tree.items()}
    if type(tree) is list:
        return [_fresh(value) for value in tree]
    if type(tree) is tuple:
        return tuple(_fresh(value) for value in tree)
    return tree


def _outputs(got: Any, want: Any, tol: Tolerance) -> dict[str, bool] | None:
    """Each named output of ``want`` (a dict, or a list of dicts with the same keys) and
    whether ``got`` has it right in every pass; None unless ``got`` has the same layout."""
    passes = want if isinstance(want, list) else [want]
    if isinstance(want, list) != isinstance(got, list):
        return None
    mine = got if isinstance(got, list) else [got]
    if (
        not passes
        or len(mine) != len(passes)
        or not all(
            isinstance(w, dict) and isinstance(g, dict) and set(g) == set(w)
            for g, w in zip(mine, passes, strict=True)
        )
    ):
        return None
    names = list(passes[0])
    if len(names) < 2 or any(list(w) != names for w in passes):
        return None
    return {name: mismatch(_output(got, name), _output(want, name), tol) is None for name in names}


def _first_mismatch(got: Any, want: Any, name: str, tol: Tolerance, show_values: bool) -> str:
    """Why output ``name`` is wrong, at its first wrong pass (``result[1].db: ...``)."""
    if not isinstance(want, list):
        return mismatch(got[name], want[name], tol, show_values=show_values, where=name) or ""
    return next(
        reason
        for i, (g, w) in enumerate(zip(got, want, strict=True))
        if (
            reason := mismatch(
                g[name], w[name], tol, show_values=show_values, where=f"result[{i}].{name}"
            )
        )
    )


def _output(result: Any, name: str) -> Any:
    """Output ``name`` of a per-output result, over every pass."""
    return [step[name] for step in result] if isinstance(result, list) else result[name]


def case_id(item: pytest.Item) -> str:
    """The case's id as seen from its own folder (``test_conv.py::test_conv2d[1-0]``),
    however pytest was started (from that folder, the assignment folder or its parent, by an
    IDE): it seeds the case's inputs, so a public case's recorded answer is always found."""
    return f"{item.path.name}::{item.nodeid.split('::', 1)[1]}"


def _weight(item: pytest.Item) -> float:
    marker = item.get_closest_marker("weight")
    return float(marker.args[0]) if marker else 1.0
