"""Oracles (grading side, shipped to students too): what the graders compare with.

An :class:`Oracle` gives a probe's expected value and the part's known mistakes
(:class:`KnownMistake`): from the reference (:mod:`autograder.reference_oracle`, instructor
only) or from recorded answers.
The self-check ships to students without the reference: :class:`RecordedOracle` looks each
public case's answer up by :func:`digest` in a folder that ``python -m release stubs``
records from the reference, with the answers of the known mistakes, so that the
self-check names a mistake just as the hidden graders do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import plain


@dataclass(frozen=True)
class KnownMistake:
    """What the graders know of a known mistake: its ``why`` is the explanation the
    student reads (an entry of ``solutions/<a>/MISTAKES.md``, read on the instructor's
    side by :mod:`autograder.mistakes`)."""

    name: str
    part: str
    why: str


class Oracle(Protocol):
    """The expected plain value of a probe, for the reference or one of its mistakes;
    never changes ``inputs``."""

    def expect(
        self, probe: str, inputs: dict, part: str, mistake: KnownMistake | None = None
    ) -> Any: ...

    def mistakes(self, part: str) -> Sequence[KnownMistake]: ...

    def raised(self, probe: str, inputs: dict, part: str, mistake: KnownMistake) -> str | None:
        """The name of the exception ``mistake`` raises on ``inputs`` (None if it returns,
        or where that is not known)."""
        ...


def digest(probe: str, inputs: dict) -> str:
    """A stable key for one probe call: its name and the exact bytes of its inputs."""
    hasher = hashlib.sha256(probe.encode())

    def feed(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            hasher.update(np.ascontiguousarray(value).tobytes())
            return ["ndarray", value.dtype.str, list(value.shape)]
        if isinstance(value, dict):
            return {k: feed(v) for k, v in sorted(value.items())}
        if isinstance(value, list | tuple):
            return [feed(v) for v in value]
        return value

    hasher.update(json.dumps(feed(inputs), sort_keys=True).encode())
    return hasher.hexdigest()[:32]


class RecordedOracle:
    """Expected values looked up in a folder written by ``AnswerRecorder.save``."""

    def __init__(self, folder: Path):
        data = plain.load(folder, max_arrays=100_000, max_nodes=1_000_000)  # our own data
        self.records = data["records"]
        self.known = [
            KnownMistake(name, m["part"], m["why"]) for name, m in data["mistakes"].items()
        ]

    def expect(
        self, probe: str, inputs: dict, part: str, mistake: KnownMistake | None = None
    ) -> Any:
        record = self.records.get(digest(probe, inputs))
        if record is None:
            raise LookupError(
                f"no recorded answer for this {probe} case: the public tests "
                "changed; rebuild the expected outputs"
            )
        return record["mistakes"][mistake.name] if mistake else record["want"]  # KeyError:
        # the mistake crashed on this case

    def mistakes(self, part: str) -> list[KnownMistake]:
        return [m for m in self.known if m.part == part]

    def raised(self, probe: str, inputs: dict, part: str, mistake: KnownMistake) -> str | None:
        record = self.records.get(digest(probe, inputs)) or {}
        return record.get("raised", {}).get(mistake.name)
