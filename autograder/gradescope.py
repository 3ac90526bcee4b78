"""Gradescope's entry point: ``run_autograder`` calls ``python -m autograder.gradescope``.

Grades ``<root>/submission`` (one student, as uploaded) with the hidden graders and writes
``<root>/results/results.json``, the only file the grade comes from. Student code runs in
the sandbox (an unprivileged uid where the image allows it); this parent alone writes the
results, after every process the submission started is dead, and replaces the file
atomically, so nothing the submission prints or writes can stand in for it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from . import course, intake
from .batch import Grader
from .results import Result, write_atomic


def grade(assignment: course.Assignment, root: Path, allow_unconfined: bool) -> Result:
    """Grade Gradescope's ``<root>/submission`` folder as the submission of one student."""
    uploaded = root / "submission"
    files = [p for p in uploaded.iterdir() if not p.name.startswith(".")]
    with tempfile.TemporaryDirectory(prefix="gradescope-") as tmp:
        if len(files) == 1 and files[0].suffix == ".zip" and files[0].is_file():
            shutil.copyfile(files[0], Path(tmp) / "submission.zip")  # an archive left zipped
        else:
            shutil.copytree(uploaded, Path(tmp) / "submission", symlinks=True)
        [submission] = intake.collect(Path(tmp), assignment)
        grader = Grader(assignment, allow_unconfined=allow_unconfined)
        try:
            return grader.grade(submission)
        finally:
            grader.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope")
    parser.add_argument("assignment", choices=course.names())
    parser.add_argument("--root", type=Path, default=Path("/autograder"))
    parser.add_argument("--allow-unconfined", action="store_true",
                        help="grade even where the image offers no confinement layer")
    args = parser.parse_args(argv)
    result = grade(course.load(args.assignment), args.root, args.allow_unconfined)
    write_atomic(args.root / "results" / "results.json",
                 json.dumps(result.to_json(), indent=1, ensure_ascii=False))
    print(f"{result.student}: {result.score:g} / {result.max_score} ({result.status})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
