"""The generated student materials committed under ``assignments/``: stubs and given modules.

``python -m release stubs`` rewrites them from ``solutions/``; a test fails when the
committed files differ from what this module would write.
"""

from __future__ import annotations

from pathlib import Path

from autograder import course
from autograder.course import Assignment

from .stubs import student_files


def package_files(assignment: Assignment) -> dict[str, str]:
    """File name -> text of the student's package, given modules and stubs."""
    return student_files(assignment.solution_dir, [*assignment.given, *assignment.graded])


def regenerate() -> list[Path]:
    """Rewrite every assignment's student package; returns the files written."""
    written = []
    for name in course.names():
        assignment = course.load(name)
        assignment.stub_dir.mkdir(parents=True, exist_ok=True)
        for file, text in package_files(assignment).items():
            path = assignment.stub_dir / file
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
