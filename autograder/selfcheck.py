"""The student's self-check: the public tests, run like the hidden graders.

The student's package runs in the same sandbox, and the same comparison and feedback
judge it, against answers recorded from the reference on the public cases (the reference
itself is not shipped). From the unpacked assignment folder::

    python selfcheck.py                  # every part: a table of points and first failures
    python selfcheck.py conv2d pool2d    # some parts
    python selfcheck.py --pack 20251234  # 20251234.zip, ready to upload
    pytest tests -m conv2d               # the same tests through plain pytest
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path

import pytest

from .course import Assignment, from_manifest
from .grading import Context, GradingPlugin, Oracle
from .oracles import RecordedOracle
from .results import TestResult
from .runner import SandboxedStudent, run_graders
from .sandbox import Sandbox

PUBLIC_SEED = 2025
EXPECTED = "expected"  # the folder of recorded answers, inside tests/


def plugin(assignment: Assignment, student: Path, sandbox: Sandbox,
           oracle: Oracle | None = None) -> GradingPlugin:
    """The grading plugin for the public tests: the package in folder ``student`` against
    the answers recorded in the assignment's ``tests/expected`` (or ``oracle``)."""
    oracle = oracle or RecordedOracle(assignment.folder / "tests" / EXPECTED)
    context = Context(SandboxedStudent(sandbox, student, assignment), oracle, hidden=False,
                      seed=PUBLIC_SEED)
    return GradingPlugin(context, assignment.points)


def open_sandbox(assignment: Assignment) -> Sandbox:
    """A sandbox for the student's own code on the student's own machine: confined where the
    platform allows it, and allowed to run unconfined where it does not."""
    sandbox = Sandbox(preload=("torch",) if assignment.needs_torch else (),
                      probes=(f"autograder.probes.{assignment.name}",), allow_unconfined=True)
    sandbox.start()
    return sandbox


def install(config: pytest.Config, folder: Path) -> None:
    """Register the self-check's plugin in a plain ``pytest`` run (called by conftest.py)."""
    assignment = from_manifest(folder / "assignment.toml")
    sandbox = open_sandbox(assignment)
    config.add_cleanup(sandbox.close)
    config.pluginmanager.register(plugin(assignment, folder, sandbox), "kit-selfcheck")


def check(assignment: Assignment, student: Path, parts: list[str] | None = None,
          oracle: Oracle | None = None) -> list[TestResult]:
    """Run the public tests of ``parts`` (all by default) on the package in folder
    ``student``; the results of every case."""
    sandbox = open_sandbox(assignment)
    try:
        grading = plugin(assignment, student, sandbox, oracle)
        run_graders(assignment.folder / "tests", grading, " or ".join(parts) if parts else None,
                    extra=["--noconftest"])
        return grading.context.results
    finally:
        sandbox.close()


def pack(folder: Path, student: str) -> tuple[Path, list[str]]:
    """Zip the graded modules as the grader expects them; the path and warnings."""
    assignment = from_manifest(folder / "assignment.toml")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", student):
        raise ValueError(f"use your student id (letters, digits, '-', '_'), not {student!r}")
    warnings, target = [], folder / f"{student}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in assignment.graded:
            path = folder / assignment.package / name
            if not path.is_file():
                warnings.append(f"{assignment.package}/{name} is missing")
                continue
            todo = path.read_text(encoding="utf-8").count("raise NotImplementedError(")
            if todo:
                warnings.append(f"{assignment.package}/{name} still has {todo} unimplemented "
                                "place(s)")
            archive.write(path, f"{assignment.package}/{name}")
    return target, warnings


def main(argv: list[str] | None = None, folder: Path | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    folder = folder or Path.cwd()
    assignment = from_manifest(folder / "assignment.toml")
    parser = argparse.ArgumentParser(prog="python selfcheck.py", description=__doc__.split("\n")[0])
    parser.add_argument("parts", nargs="*", choices=[[], *assignment.parts], metavar="part",
                        help=f"parts to check (default all): {', '.join(assignment.parts)}")
    parser.add_argument("--pack", metavar="STUDENT_ID", help="write STUDENT_ID.zip to upload")
    args = parser.parse_args(argv)
    console = Console()
    if args.pack:
        target, warnings = pack(folder, args.pack)
        for warning in warnings:
            console.print(f"[yellow]warning:[/yellow] {warning}")
        console.print(f"wrote {target}")
        return 0
    with console.status("checking your code on the public cases"):
        results = check(assignment, folder, args.parts)
    table = Table(title=f"{assignment.name}: public self-check")
    for column in ("part", "points", "first failure"):
        table.add_column(column)
    for part in args.parts or assignment.parts:
        cases = [r for r in results if r.part == part]
        failed = [r for r in cases if not r.passed]
        earned = sum(r.score for r in cases)
        first = f"{failed[0].name}: {failed[0].output.splitlines()[0]}" if failed else "-"
        table.add_row(part, f"{earned:.1f} / {assignment.points[part]}", first)
    console.print(table)
    console.print("These are the public cases only: the grader uses other, hidden cases.")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
