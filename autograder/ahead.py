"""Cases run ahead: several cases of a part in one sandbox request.

The hidden graders call the student's code one case at a time, and each call used to be a
round trip to the sandboxed child. The inputs of each case's *first* call depend on the
graders and the seed only, never on what a student's code returned: a planning run of the
graders with a stand-in student (:class:`Planner`: it records each case's first call and
fails it, so no case goes further) lists them, in the graders' order, once per process
(:func:`autograder.runner.call_plan`). When the graders ask for a listed call,
:class:`Ahead` sends it in one request together with the listed calls after it in the
same part (at most :data:`MAX_AHEAD`, each with a time limit of at most
:data:`~autograder.grading.DEFAULT_TIMEOUT`: long calls such as training, which the
grader times itself, are never run ahead). The later cases' outcomes wait until the
graders ask for them, matched by probe, time limit and the exact bytes of the inputs
(:func:`~autograder.oracles.digest`); a call that matches nothing is run on its own.

Each case keeps its own outcome and time limit. A call that ends the child (time limit,
crash, exit) ends the request: the cases after it were not run, and the next of them the
graders ask for starts a new request in a fresh child. A sandbox failure costs nothing
either: that case is run again on its own, once, as any call that met one.

What a submission sees: its child runs the first calls of a part's cases back to back,
before the graders ask for them, and a case's later calls (when it makes several) after
them. What a call changes and the sandbox does not reset (the student's own module
globals) can reach the calls after it in that order, fixed by the graders: the same for
every run and every submission.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pytest

from .grading import DEFAULT_TIMEOUT, Failure, GradingPlugin
from .oracles import digest
from .sandbox import Outcome

MAX_AHEAD = 16  # calls in one request
Key = tuple[str, str, float]


def key(probe: str, inputs: dict, timeout: float) -> Key:
    """What identifies a call: its probe, the exact bytes of its inputs, its time limit."""
    return probe, digest(probe, inputs), float(timeout)


@dataclass(frozen=True)
class Planned:
    """A case's first call, as the planning run saw it."""

    part: str
    probe: str
    inputs: dict[str, Any]
    timeout: float
    key: Key


class Planner:
    """The stand-in student of a planning run (a ``StudentCode`` and a pytest plugin):
    records the first call of each case, with the case's part, and fails it."""

    def __init__(self) -> None:
        self.plugin: GradingPlugin | None = None  # the run's grading plugin (parts of cases)
        self.part = ""
        self.calls: list[Planned] = []

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        assert self.plugin is not None
        self.part = self.plugin.part_of(item)

    def __call__(self, probe: str, inputs: dict, timeout: float) -> Any:
        self.calls.append(Planned(self.part, probe, inputs, timeout, key(probe, inputs, timeout)))
        raise Failure("planning run: no student code runs")


@dataclass
class Ahead:
    """One submission's planned calls and the outcomes run ahead of the graders."""

    plan: tuple[Planned, ...]
    next: int = 0  # the first planned call not sent yet
    ready: dict[Key, deque[Outcome]] = field(default_factory=dict)

    def take(self, call: Key) -> Outcome | None:
        """The outcome of ``call`` if it was run ahead (once)."""
        waiting = self.ready.get(call)
        return waiting.popleft() if waiting else None

    def batch(self, call: Key) -> list[Planned]:
        """The calls to send with ``call``: ``call`` first, then the planned calls after it
        in its part; empty when ``call`` is not planned (or was sent already)."""
        start = next((i for i in range(self.next, len(self.plan)) if self.plan[i].key == call), -1)
        if start < 0:
            return []
        first = self.plan[start]
        calls = [first]
        for later in self.plan[start + 1 :]:
            if later.part != first.part or later.timeout > DEFAULT_TIMEOUT:
                break
            calls.append(later)
            if len(calls) == MAX_AHEAD:
                break
        self.next = start + 1
        return calls

    def ran(self, calls: list[Planned], outcomes: list[Outcome]) -> None:
        """``outcomes`` of the first ``len(outcomes)`` of ``calls`` (a batch); the first
        is the caller's, the others wait for the graders."""
        self.next += len(outcomes) - 1
        for call, outcome in zip(calls[1:], outcomes[1:], strict=False):
            self.ready.setdefault(call.key, deque()).append(outcome)
