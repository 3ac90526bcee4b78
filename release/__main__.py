"""``python -m release``: the instructor's command line.

    build <a> [--out DIR]                    student archive and Gradescope autograder
    grade <a> <submissions> --out DIR [-j N] grade a folder of submissions into a gradebook
    verify <a>                               reference full marks, stubs none, mistakes caught
    report <graded> [--out F] [--lang ko|en] the class at a glance: one HTML page and a CSV
    demo                                     the whole job on the embedded sample submissions
    doctor                                   which sandbox layers this machine offers
    stubs                                    regenerate the committed stubs and public answers

Each verb is a thin layer over ``autograder`` and the modules of this package.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import course


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m release", description=__doc__.split("\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    assignments = course.names()

    build = verbs.add_parser("build", help="student archive and Gradescope autograder zip")
    build.add_argument("assignment", choices=assignments)
    build.add_argument("--out", type=Path, default=Path("dist"))
    build.add_argument(
        "--nbgrader",
        type=Path,
        metavar="DIR",
        help="also write an nbgrader course folder (extra: nbgrader)",
    )
    build.add_argument(
        "--nbgrader-overwrite",
        action="store_true",
        help="with --nbgrader: replace the files of DIR you edited since the "
        "kit wrote them (otherwise the rebuild stops and lists them)",
    )
    build.add_argument(
        "--otter",
        type=Path,
        metavar="DIR",
        help="also write what otter-grader needs (extra: otter)",
    )

    grade = verbs.add_parser("grade", help="grade a folder of submissions")
    grade.add_argument("assignment", choices=assignments)
    grade.add_argument("submissions", type=Path)
    grade.add_argument("--out", type=Path, required=True)
    grade.add_argument("-j", "--jobs", type=int, default=1, help="parallel workers")
    grade.add_argument(
        "--student",
        action="append",
        default=[],
        help="grade only this student (repeatable); implies --regrade for them",
    )
    grade.add_argument("--regrade", action="store_true", help="ignore finished results")
    grade.add_argument(
        "--allow-unconfined",
        action="store_true",
        help="grade even where no confinement layer of the sandbox works",
    )
    grade.add_argument(
        "--allow-empty",
        action="store_true",
        help="an empty submissions folder writes a gradebook with no rows "
        "(otherwise it is an error)",
    )

    verify = verbs.add_parser("verify", help="prove the graders sound")
    verify.add_argument("assignment", choices=assignments)
    verify.add_argument(
        "--mutants", type=int, default=40, help="systematic mutants to sample (default 40)"
    )
    verify.add_argument("-j", "--jobs", type=int, default=2, help="parallel workers")

    report = verbs.add_parser("report", help="the class at a glance, as one HTML page")
    report.add_argument(
        "graded",
        type=Path,
        help="release grade's --out folder, nbgrader's kit/<a>/, or a folder of "
        "Gradescope results.json files",
    )
    report.add_argument("--out", type=Path, help="the page (default: <graded>/report.html)")
    report.add_argument("--lang", choices=("ko", "en"), default="ko", help="labels (default ko)")
    report.add_argument(
        "--submissions",
        type=Path,
        metavar="DIR",
        help="the folder that was graded: also compare the code (extra: report)",
    )

    demo = verbs.add_parser("demo", help="build and grade the embedded sample submissions")
    demo.add_argument("--out", type=Path, default=Path("demo"))
    demo.add_argument("-j", "--jobs", type=int, default=2, help="parallel workers")
    verbs.add_parser("doctor", help="report the sandbox layers active on this machine")
    verbs.add_parser("stubs", help="regenerate the committed stubs and public answers")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.verb == "stubs":
        from .materials import regenerate

        for path in regenerate():
            print(f"wrote {path}")
        return 0
    if args.verb == "grade":
        from .grade import grade

        return grade(
            course.load(args.assignment),
            args.submissions,
            args.out,
            jobs=args.jobs,
            students=args.student,
            regrade=args.regrade,
            allow_unconfined=args.allow_unconfined,
            allow_empty=args.allow_empty,
        )
    if args.verb == "report":
        from .report import report

        return report(args.graded, args.out, args.lang, args.submissions)
    if args.verb == "demo":
        from .demo import demo

        return demo(args.out, jobs=args.jobs)
    if args.verb == "doctor":
        from .doctor import doctor

        return doctor()
    if args.verb == "build":
        from .build import build

        assignment = course.load(args.assignment)
        written = build(assignment, args.out)
        if args.nbgrader:
            from .nbgrader_course import EditedFiles, export

            try:
                written.append(export(assignment, args.nbgrader, args.nbgrader_overwrite))
            except EditedFiles as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
        if args.otter:
            from .otter_course import export

            written.append(export(assignment, args.otter))
        for path in written:
            print(f"wrote {path}")
        return 0
    if args.verb == "verify":
        from .verify import verify

        return verify(course.load(args.assignment), mutants=args.mutants, jobs=args.jobs)
    raise SystemExit(f"{args.verb}: not available yet")


if __name__ == "__main__":
    sys.exit(main())
