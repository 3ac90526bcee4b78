"""Submissions the benchmarks grade: copies of the reference, a known mistake and the stubs."""

from __future__ import annotations

from pathlib import Path

from autograder import course
from autograder.reference import known_mistakes, module_files

BUGGY = {"cnn": "conv2d-flipped-kernel", "optim_reg": "adam-no-bias-correction"}
KINDS = ("reference", "buggy", "stub")


def submissions(
    assignment: course.Assignment, copies: int, kinds: list[str]
) -> dict[str, dict[str, str]]:
    """Student id (``<kind>-<copy>``) -> graded module name -> text."""
    reference = module_files(assignment)
    [mistake] = [m for m in known_mistakes(assignment) if m.name == BUGGY[assignment.name]]
    sources = {
        "reference": reference,
        "buggy": mistake.apply(reference),
        "stub": {n: (assignment.stub_dir / n).read_text() for n in assignment.graded},
    }
    return {
        f"{kind}-{copy}": {n: sources[kind][n] for n in assignment.graded}
        for kind in kinds
        for copy in range(copies)
    }


def write(assignment: course.Assignment, subs: dict[str, dict[str, str]], folder: Path) -> None:
    for student, files in subs.items():
        package = folder / student / assignment.package
        package.mkdir(parents=True)
        for name, text in files.items():
            (package / name).write_text(text, encoding="utf-8")
