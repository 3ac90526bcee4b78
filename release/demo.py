"""``python -m release demo``: the whole job on embedded sample submissions.

For each assignment it builds the release, writes a folder of sample submissions (the
reference, the stubs, students who made one known mistake each, and a hostile one), grades
them in parallel and prints the gradebook. Everything lands under ``--out`` (``demo/``).
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from autograder import course
from autograder.course import Assignment
from autograder.reference import known_mistakes, module_files

from .build import build
from .grade import grade

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


def samples(assignment: Assignment, folder: Path) -> list[str]:
    """Write the sample submissions of ``assignment`` into ``folder``; their ids."""
    reference = module_files(assignment)
    graded = {name: reference[name] for name in assignment.graded}
    mistakes = {m.name: m for m in known_mistakes(assignment)}
    students = {
        "2025000_reference": graded,
        "2025999_stubs": {
            name: (assignment.stub_dir / name).read_text(encoding="utf-8")
            for name in assignment.graded
        },
        **{
            student: {
                name: text
                for name, text in mistakes[bug].apply(reference).items()
                if name in assignment.graded
            }
            for student, bug in BUGGY[assignment.name].items()
        },
        "2025666_hacker": dict.fromkeys(assignment.graded, HOSTILE.format(root=course.ROOT)),
    }
    for student, files in students.items():
        package = folder / student / assignment.package
        package.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (package / name).write_text(text, encoding="utf-8")
    return list(students)


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
    console.print(
        f"demo finished in {time.perf_counter() - started:.0f} s: archives in "
        f"{out / 'dist'}, gradebooks and feedback in {out / 'graded'}"
    )
    return 0
