"""How long ``release report`` takes on a class of 200, and how large the page is. A script,
not a test (timings are noisy here).

    python -m benchmarks.report_speed [--students 200] [--assignment cnn] [--keep DIR]

The demo's samples of the assignment (the reference, the stubs, three known mistakes, the
hostile one) are graded for real, once. The class is then made from them: each synthetic
student has submission files (copies of the reference, the stubs, every known mistake of
MISTAKES.md in turn, and near-copies: the reference or a mistake disguised as
``release demo`` disguises its copy, each with other names) and a result copied from the
graded sample of the same kind under its own id, as the kit writes it (results JSON, then
the gradebook). Grading 200 ``cnn`` submissions would take minutes and measure the grader,
not the report. Then ``release report --submissions`` runs on the class, timed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from autograder import batch, course, samples
from autograder.mistakes import NotApplicable
from autograder.reference_oracle import known_mistakes
from autograder.results import Result, gradebook_csv, write_atomic
from release import demo
from release.demo import BUGGY, disguise
from release.report import report

SHARES = {"reference": 0.3, "stubs": 0.1, "mistake": 0.4, "near-copy": 0.2}


def _rename(text: str, number: int) -> str:
    """A near-copy's own names: every ``out`` and ``x`` gets the student's number."""
    return re.sub(r"\b(out|x)\b", rf"\1_{number}", text)


def build(name: str, students: int, root: Path) -> tuple[Path, Path]:
    """The class (module docstring): its submissions folder and graded folder."""
    assignment = course.load(name)
    demo.samples(assignment, root / "samples")
    graded = batch.grade_folder(assignment, root / "samples", root / "samples-graded", jobs=2)
    by_kind = {
        "reference": next(r for r in graded if r.student == "2025000_reference"),
        "stubs": next(r for r in graded if r.student == "2025999_stubs"),
        "mistake": [r for r in graded if r.student in BUGGY[name]],
    }
    reference, stubs = samples.graded(assignment, "reference"), samples.graded(assignment, "stubs")
    variants = []
    for mistake in known_mistakes(assignment):
        if mistake.is_mistake:
            try:
                variants.append(samples.with_mistake(assignment, mistake))
            except NotApplicable:
                continue
    counts = {kind: round(share * students) for kind, share in SHARES.items()}
    counts["reference"] += students - sum(counts.values())
    submissions, out = root / "submissions", root / "graded"
    rows = []
    number = 0
    for kind, count in counts.items():
        for i in range(count):
            number += 1
            student = f"2025{number:04d}_{kind}"
            if kind == "reference":
                files, template = reference, by_kind["reference"]
            elif kind == "stubs":
                files, template = stubs, by_kind["stubs"]
            elif kind == "mistake":
                files = variants[i % len(variants)]
                template = by_kind["mistake"][i % len(by_kind["mistake"])]
            else:
                base = reference if i % 2 else variants[i % len(variants)]
                files = {m: _rename(disguise(t), number) for m, t in base.items()}
                template = by_kind["reference"]
            samples.write_folder(submissions / student, files, assignment.package)
            result = Result.from_json(template.to_json())
            result.student = student
            rows.append(result)
            write_atomic(
                out / "results" / f"{student}.json",
                json.dumps(result.to_json(), indent=1, ensure_ascii=False),
            )
    write_atomic(out / "gradebook.csv", gradebook_csv(rows, assignment.parts))
    return submissions, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report_speed")
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--assignment", choices=course.names(), default="cnn")
    parser.add_argument("--keep", type=Path, help="build the class here and keep it")
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="kit-report-speed-"))
    try:
        started = time.perf_counter()
        submissions, graded = build(args.assignment, args.students, root)
        print(f"class of {args.students} built in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        code = report(graded, graded / "report.html", "ko", submissions)
        seconds = time.perf_counter() - started
        page = graded / "report.html"
        print(
            f"release report on {args.students} {args.assignment} submissions: "
            f"{seconds:.2f} s (goal: under 10 s); page {page.stat().st_size / 1024:.0f} KiB, "
            f"CSV {(graded / 'report-mistakes.csv').stat().st_size / 1024:.0f} KiB"
        )
        return code or (seconds >= 10)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
