"""``python -m release.otter_batch -a <a>-otter-autograder.zip uploads/ -o graded/``: a folder
of uploads, each graded by one ``otter run``, into a gradebook (the road:
:mod:`autograder.jupyter.otter_batch`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.jupyter.otter_batch import grade_uploads
from autograder.results import GRADING_ERROR


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when every entry was graded, 1 when the kit or otter failed on some, 2 for a
    missing folder."""
    parser = argparse.ArgumentParser(
        prog="python -m release.otter_batch", description="grade a folder of uploads with otter run"
    )
    parser.add_argument("uploads", type=Path, help="one entry per student: zip, folder, ...")
    parser.add_argument(
        "-a",
        "--autograder",
        type=Path,
        required=True,
        help="<a>-otter-autograder.zip of release build --otter",
    )
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not args.uploads.is_dir():
        print(f"not a folder: {args.uploads}", file=sys.stderr)
        return 2
    rows = grade_uploads(args.autograder, args.uploads, args.out)
    for result in rows:
        print(f"{result.student}: {result.score:g} / {result.max_score} ({result.status})")
    print(f"{len(rows)} uploads; gradebook: {args.out / 'gradebook.csv'}")
    return 1 if any(r.status.startswith(GRADING_ERROR) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
