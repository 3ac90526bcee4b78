"""Cases run ahead: the cases of a submission in as few sandbox requests as can be.

The hidden graders call the student's code one case at a time, and each call used to be a
round trip to the sandboxed child. The inputs of each case's *first* call depend on the
graders and the seed only, never on what a student's code returned: a planning run of the
graders with a stand-in student (:class:`Planner`: it records each case's first call and
fails it, so no case goes further) lists them, in the graders' order, once per process
(:func:`autograder.hidden_grading.call_plan`). When the graders ask for a listed call,
:class:`Ahead` sends it in one request together with the listed calls after it, of any
part (at most the sandbox's :data:`~autograder.sandbox.parent.MAX_CALLS`; each with a
time limit of at most :data:`~autograder.graders_plugin.DEFAULT_TIMEOUT`: a long call such as
training, which the grader times itself, is never run ahead, and ends the list). The
later cases' outcomes wait until the graders ask for them, matched by probe, time limit
and the exact bytes of the inputs (:func:`same`); a call that matches nothing is run on
its own.

Each case keeps its own outcome and time limit. A call that ends the child (time limit,
crash, exit) ends the request: the cases after it were not run, and the next of them the
graders ask for starts a new request in a fresh child. A sandbox failure costs nothing
either: that case is run again on its own, once, as any call that met one.

What a submission sees: its child runs the first calls of the cases back to back, before
the graders ask for them, and a case's later calls (when it makes several) after them.
What a call changes and the sandbox does not reset (the student's own module globals) can
reach the calls after it in that order, fixed by the graders: the same for every run and
every submission.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .graders_plugin import DEFAULT_TIMEOUT, Context, Failure
from .sandbox import Outcome
from .sandbox.parent import MAX_CALLS


def same(a: Any, b: Any) -> bool:
    """Whether two trees of inputs are equal to the bit: the same types, keys, dtypes,
    shapes and bytes (``-0.0`` is not ``0.0``; a NaN equals the same NaN)."""
    if a is b:  # inputs built once (``Grade.inputs``) share their arrays with the plan
        return True
    if type(a) is not type(b):
        return False
    if type(a) is np.ndarray:
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if type(a) is dict:
        return a.keys() == b.keys() and all(same(value, b[name]) for name, value in a.items())
    if type(a) is list or type(a) is tuple:
        return len(a) == len(b) and all(map(same, a, b))
    return repr(a) == repr(b)


@dataclass(frozen=True)
class Planned:
    """A case's first call, as the planning run saw it."""

    part: str
    probe: str
    inputs: dict[str, Any]
    timeout: float

    def matches(self, probe: str, inputs: dict, timeout: float) -> bool:
        return probe == self.probe and timeout == self.timeout and same(inputs, self.inputs)


class Planner:
    """The stand-in student of a planning run (a ``StudentCode``): records the first call
    of each case, with the case's part (``context.part``), and fails it."""

    def __init__(self, context: Context):
        self.context = context
        self.calls: list[Planned] = []

    def __call__(self, probe: str, inputs: dict, timeout: float) -> Any:
        self.calls.append(Planned(self.context.part, probe, inputs, timeout))
        raise Failure("planning run: no student code runs")


@dataclass
class Ahead:
    """One submission's planned calls and the outcomes run ahead of the graders."""

    plan: tuple[Planned, ...]
    next: int = 0  # the first planned call not sent yet
    ready: list[tuple[Planned, Outcome]] = field(default_factory=list)

    def take(self, probe: str, inputs: dict, timeout: float) -> Outcome | None:
        """The outcome of this call if it was run ahead (once)."""
        for i, (call, outcome) in enumerate(self.ready):
            if call.matches(probe, inputs, timeout):
                del self.ready[i]
                return outcome
        return None

    def batch(self, probe: str, inputs: dict, timeout: float) -> list[Planned]:
        """The calls to send with this one: itself first, then the planned calls after it
        (up to the first long one); empty when it is not planned (or was sent already)."""
        start = next(
            (
                i
                for i in range(self.next, len(self.plan))
                if self.plan[i].matches(probe, inputs, timeout)
            ),
            -1,
        )
        if start < 0:
            return []
        calls = [self.plan[start]]
        for later in self.plan[start + 1 :]:
            if later.timeout > DEFAULT_TIMEOUT or len(calls) == MAX_CALLS:
                break
            calls.append(later)
        self.next = start + 1
        return calls

    def ran(self, calls: list[Planned], outcomes: list[Outcome]) -> None:
        """``outcomes`` of the first ``len(outcomes)`` of ``calls`` (a batch); the first
        is the caller's, the others wait for the graders."""
        self.next += len(outcomes) - 1
        self.ready += zip(calls[1:], outcomes[1:], strict=False)
