"""The generated student materials committed under ``assignments/``: the student's package
(stubs and given modules) and the recorded answers to the public tests.

``python -m release stubs`` rewrites them from ``solutions/``; a test fails when the
committed files differ from what this module would write.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from autograder import course, selfcheck
from autograder.course import Assignment
from autograder.reference_oracle import AnswerRecorder, module_files
from autograder.verify import known_variants

from .stubs import student_files


def package_files(assignment: Assignment) -> dict[str, str]:
    """File name -> text of the student's package, given modules and stubs."""
    return student_files(assignment.solution_dir, [*assignment.given, *assignment.graded])


def regenerate() -> list[Path]:
    """Rewrite every assignment's student package and public answers; the paths written."""
    written = []
    for name in course.names():
        assignment = course.load(name)
        assignment.stub_dir.mkdir(parents=True, exist_ok=True)
        for file, text in package_files(assignment).items():
            path = assignment.stub_dir / file
            path.write_text(text, encoding="utf-8")
            written.append(path)
        if (assignment.folder / "tests").is_dir():
            written.append(record_public(assignment))
    return written


def record_public(assignment: Assignment, folder: Path | None = None) -> Path:
    """Record the reference's answers to the public tests in ``folder`` (by default the
    assignment's ``tests/expected``, which the self-check reads).

    The reference runs as a student would, in the sandbox, and must pass every public case;
    every known mistake must apply (else it would be recorded as raising).
    """
    _, stale = known_variants(assignment, module_files(assignment))
    if stale:
        raise RuntimeError("rebase the entries of MISTAKES.md first:\n" + "\n".join(stale))
    folder = folder or assignment.folder / "tests" / selfcheck.EXPECTED
    with tempfile.TemporaryDirectory(prefix="reference-") as tmp:
        package = Path(tmp) / assignment.package
        package.mkdir()
        for name, text in module_files(assignment).items():
            (package / name).write_text(text, encoding="utf-8")
        oracle = AnswerRecorder(assignment)
        results = selfcheck.check(assignment, Path(tmp), oracle=oracle)
    failed = [f"{r.name}: {r.output}" for r in results if not r.passed]
    if failed or not results:
        raise RuntimeError("the reference fails its own public tests:\n" + "\n".join(failed))
    shutil.rmtree(folder, ignore_errors=True)
    oracle.save(folder)
    return folder
