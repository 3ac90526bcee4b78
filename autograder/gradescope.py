"""Gradescope's entry point: ``run_autograder`` calls ``python -m autograder.gradescope``.

Grades ``<root>/submission`` (one student, as uploaded) with the hidden graders and writes
``<root>/results/results.json``, the only file the grade comes from. Student code runs in
the sandbox (an unprivileged uid where the image allows it); this parent alone writes the
results, after every process the submission started is dead, and replaces the file
atomically, so nothing the submission prints or writes can stand in for it.

stdout is the instructor's (Gradescope shows it to staff only): the sandbox's layer report
and the score. Where the sandbox cannot start, or no confinement layer works and the
manifest does not allow it (``[gradescope] allow_unconfined``), the results say that the
autograder failed, never a grade, and the command exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

from . import course, intake
from .batch import SubmissionGrader, grading
from .results import GRADING_ERROR, Result, write_atomic
from .sandbox import Layer, SandboxError
from .views import failure_json, results_json


def student_of(root: Path) -> str | None:
    """The student's id from Gradescope's ``submission_metadata.json`` (their roster id,
    else their e-mail, else their name; several for a group), or None."""
    try:
        users = json.loads((root / "submission_metadata.json").read_text("utf-8"))["users"]
        ids = [str(u.get("sid") or u.get("email") or u.get("name")) for u in users]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return "+".join(i for i in ids if i and i != "None") or None


def grade(grader: SubmissionGrader, root: Path) -> Result:
    """Grade Gradescope's ``<root>/submission`` folder as the submission of one student."""
    uploaded = root / "submission"
    files = [p for p in uploaded.iterdir() if not p.name.startswith(".")]
    with tempfile.TemporaryDirectory(prefix="gradescope-") as tmp:
        if len(files) == 1 and files[0].suffix == ".zip" and files[0].is_file():
            shutil.copyfile(files[0], Path(tmp) / "submission.zip")  # an archive left zipped
        else:
            shutil.copytree(uploaded, Path(tmp) / "submission", symlinks=True)
        [submission] = intake.collect(Path(tmp), grader.assignment)
        student = student_of(root)
        if student:
            submission = dataclasses.replace(submission, student=student)
        return grader.grade(submission)


def layer_report(layers: dict[str, Layer]) -> str:
    """The sandbox's layers as plain text, one line each."""
    return "\n".join(
        f"  {'yes' if layer.active else 'no ':3} {name:9} {layer.detail}"
        for name, layer in layers.items()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope")
    parser.add_argument("assignment", choices=course.names())
    parser.add_argument("--root", type=Path, default=Path("/autograder"))
    args = parser.parse_args(argv)
    assignment = course.load(args.assignment)
    target = args.root / "results" / "results.json"

    def failed(reason: str) -> int:
        write_atomic(target, json.dumps(failure_json(assignment, reason), indent=1))
        print(f"autograder failed: {reason}")
        return 1

    with contextlib.ExitStack() as stack:
        try:
            grader = stack.enter_context(
                grading(assignment, allow_unconfined=assignment.gradescope.allow_unconfined)
            )
        except SandboxError as error:
            return failed(str(error))
        try:
            layers = grader.sandbox.report()
            print(f"sandbox layers:\n{layer_report(layers)}")
            result = grade(grader, args.root)
        except Exception as error:  # the kit's own failure: never a grade
            traceback.print_exc(file=sys.stdout)
            return failed(f"{type(error).__name__}: {error}")
    if result.status.startswith(GRADING_ERROR):  # the engine failed on this submission
        return failed(result.status)
    data = results_json(result, assignment.gradescope, layers)
    write_atomic(target, json.dumps(data, indent=1, ensure_ascii=False))
    print(f"{result.student}: {result.score:g} / {result.max_score} ({result.status})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
