"""Submissions the benchmarks grade: copies of the reference, a known mistake and the stubs."""

from __future__ import annotations

from pathlib import Path

from autograder import course, samples

BUGGY = {"cnn": "conv2d-flipped-kernel", "optim_reg": "adam-no-bias-correction"}
KINDS = ("reference", "buggy", "stub")


def submissions(
    assignment: course.Assignment, copies: int, kinds: list[str]
) -> dict[str, dict[str, str]]:
    """Student id (``<kind>-<copy>``) -> graded module name -> text."""
    sources = {
        "reference": samples.graded(assignment, "reference"),
        "buggy": samples.graded(assignment, BUGGY[assignment.name]),
        "stub": samples.graded(assignment, "stubs"),
    }
    return {f"{kind}-{copy}": sources[kind] for kind in kinds for copy in range(copies)}


def write(assignment: course.Assignment, subs: dict[str, dict[str, str]], folder: Path) -> None:
    samples.write_students(assignment, folder, subs)
