"""The public check of one part in a notebook cell (the test cells of nbgrader's grading
notebook): ``notebook_check("<part>")`` runs that part's public cases as ``python
selfcheck.py <part>`` does (`autograder.selfcheck`: the package in the sandbox, against the
recorded answers) and reports them like it.

A pass prints one line; a failure writes the report to stderr, which is how a cell fails
``nbgrader validate`` and the Validate button. Under ``nbgrader autograde`` it returns at
once, importing nothing: the hidden tests after it in the cell grade, and nothing of the
student's may run in that kernel. One sandbox serves every cell of a kernel.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .results import TestResult
    from .sandbox import Runner

_sandboxes: dict[str, Runner] = {}  # assignment -> the sandbox of this kernel's checks


def part_report(part: str, points: int, results: list[TestResult]) -> str:
    """One part's public check for people: its points, then each failed case with the kit's
    message (the table of ``python selfcheck.py`` shows the first one)."""
    earned = sum(r.score for r in results)
    lines = [f"{part}: {earned:.1f} / {points} on the public cases"]
    for result in results:
        if not result.passed:
            lines.append(f"- {result.name} ({result.score:.2f} / {result.max_score:.2f})")
            lines += [f"    {line}" for line in result.output.splitlines()]
    if not results:
        lines.append("no public case ran: open this notebook in the assignment folder")
    return "\n".join(lines)


def notebook_check(part: str, folder: Path | None = None) -> None:
    """Check ``part`` on its public cases, on the package in ``folder`` (default: the
    notebook's folder); see the module docstring."""
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        return
    from .course import from_manifest
    from .selfcheck import check, open_sandbox, unconfined_note

    folder = folder or Path.cwd()
    if not (folder / "assignment.toml").is_file():
        print(
            f"{part}: no assignment.toml in {folder}: open this notebook in the assignment folder",
            file=sys.stderr,
        )
        return
    assignment = from_manifest(folder / "assignment.toml")
    if assignment.name not in _sandboxes:
        _sandboxes[assignment.name] = open_sandbox(assignment)
        atexit.register(_sandboxes[assignment.name].close)
    sandbox = _sandboxes[assignment.name]
    results = check(assignment, folder, [part], sandbox=sandbox)
    if note := unconfined_note(sandbox):
        print(f"note: {note}")
    failed = not results or any(not r.passed for r in results)
    print(
        part_report(part, assignment.points[part], results),
        file=sys.stderr if failed else sys.stdout,
    )
