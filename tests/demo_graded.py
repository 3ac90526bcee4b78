"""The demo's sample submissions, graded once per test run and shared by the tests that
read them (the demo's own checks, the instructor's report)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from autograder import batch, course
from autograder.results import Result
from release.demo import samples


@functools.cache
def graded(name: str) -> tuple[Path, Path, tuple[Result, ...]]:
    """(submissions folder, graded folder, results) of the demo's samples of ``name``;
    the folders are removed when the run ends. Treat them as read-only (copy to change)."""
    root = Path(tempfile.mkdtemp(prefix=f"kit-demo-{name}-"))
    atexit.register(shutil.rmtree, root, True)
    assignment = course.load(name)
    samples(assignment, root / "submissions")
    results = batch.grade_folder(assignment, root / "submissions", root / "graded", jobs=2)
    return root / "submissions", root / "graded", tuple(results)
