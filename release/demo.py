"""``python -m release demo``: the whole job on embedded sample submissions.

For each assignment it builds the release, writes a folder of sample submissions (the
reference, the stubs, students who made one known mistake each, and a hostile one; for
``optim_reg`` also a correct submission written independently of the reference and a
disguised copy of it), grades them in parallel, prints the gradebook and writes the
instructor's report. Everything lands under ``--out`` (``demo/``).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from rich.console import Console

from autograder import course
from autograder.course import Assignment
from autograder.samples import graded, write_students

from .build import build
from .grade import grade
from .report import report

# student id -> the known mistake (an entry of solutions/<a>/MISTAKES.md) in their work
BUGGY = {
    "cnn": {
        "2025101_kim": "conv2d-flipped-kernel",
        "2025102_lee": "maxpool-grad-spread",
        "2025103_park": "net-no-relu-after-conv",
    },
    "optim_reg": {
        "2025201_choi": "adam-no-bias-correction",
        "2025202_jung": "bn-unbiased-variance",
        "2025203_kang": "dropout-not-inverted",
    },
}
# student id -> a correct submission written independently of the reference (its modules in
# release/demo_samples/<a>/), and the student who handed in a disguised copy of it
INDEPENDENT = {"optim_reg": ("2025301_yoon", "2025302_lim")}
SAMPLES = Path(__file__).parent / "demo_samples"
# the copy's disguise: other names, comments rewritten, blank lines moved
RENAMES = {
    "name": "key",
    "grad": "g",
    "velocity": "vel",
    "squares": "acc",
    "average": "avg",
    "mean": "m1",
    "power": "m2",
    "rows": "flat",
    "centre": "mu",
    "spread": "var",
}
# In every graded module: patches NumPy, tries to read the hidden graders and to fork, then
# exits before any result. It must earn nothing, and change nothing else.
HOSTILE = """
import os
import pathlib

import numpy as np

np.allclose = lambda *args, **kwargs: True
for secret in ("{root}/autograder/graders/__init__.py", "{root}/solutions/README"):
    try:
        print(pathlib.Path(secret).read_text())
    except OSError as error:
        print("denied:", error)
try:
    os.fork()
except OSError as error:
    print("denied:", error)
os._exit(0)
"""


def disguise(source: str) -> str:
    """``source`` as a student hands in someone else's code: the names of ``RENAMES``
    changed, every comment replaced, a blank line after each ``def``."""
    for old, new in RENAMES.items():
        source = re.sub(rf"\b{old}\b", new, source)
    source = re.sub(r"#.*", "# my own version", source)
    return re.sub(r"(\n( *)def [^\n]*\n)", r"\1\n", source)


def samples(assignment: Assignment, folder: Path) -> list[str]:
    """Write the sample submissions of ``assignment`` into ``folder``; their ids."""
    students = {
        "2025000_reference": graded(assignment, "reference"),
        "2025999_stubs": graded(assignment, "stubs"),
        **{student: graded(assignment, bug) for student, bug in BUGGY[assignment.name].items()},
        "2025666_hacker": dict.fromkeys(assignment.graded, HOSTILE.format(root=course.ROOT)),
    }
    if assignment.name in INDEPENDENT:
        author, copier = INDEPENDENT[assignment.name]
        own = {
            name: (SAMPLES / assignment.name / name).read_text(encoding="utf-8")
            for name in assignment.graded
        }
        students[author] = own
        students[copier] = {name: disguise(text) for name, text in own.items()}
    return write_students(assignment, folder, students)


def demo(out: Path, jobs: int = 2) -> int:
    """Build, write the samples and grade them, for every assignment; the exit code."""
    console = Console()
    started = time.perf_counter()
    for name in course.names():
        assignment = course.load(name)
        console.rule(f"{name}: {assignment.title}")
        for path in build(assignment, out / "dist"):
            console.print(f"built {path}")
        submissions = out / "submissions" / name
        samples(assignment, submissions)
        code = grade(
            assignment, submissions, out / "graded" / name, jobs=jobs, regrade=True, console=console
        )
        if code:
            return code
        code = report(out / "graded" / name, submissions=submissions)
        if code:
            return code
    console.print(
        f"demo finished in {time.perf_counter() - started:.0f} s: archives in "
        f"{out / 'dist'}, gradebooks, feedback and the report (report.html) in "
        f"{out / 'graded'}"
    )
    return 0
