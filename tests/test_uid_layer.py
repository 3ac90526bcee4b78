"""The sandbox's uid layer changes no grade.

Where the interpreter is world-readable (the system's, as on Gradescope), children drop to
a dedicated uid; under root's home (this project's default interpreter) they cannot, and
keep uid 0 without capabilities. ``release grade`` must give the same gradebook either way.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from roads import system_environment

from autograder import course
from release.demo import samples

LAYERS = (
    "from autograder.sandbox import layers; import json; "
    "print(json.dumps({n: l.active for n, l in layers().items()}))"
)


def _layers(python: str) -> dict[str, bool]:
    run = subprocess.run(
        [python, "-c", LAYERS],
        cwd=course.ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=system_environment(),
    )
    return json.loads(run.stdout)


def _grade(python: str, name: str, submissions: Path, out: Path) -> list[list[str]]:
    run = subprocess.run(
        [python, "-m", "release", "grade", name, str(submissions), "--out", str(out), "-j", "2"],
        cwd=course.ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=system_environment(),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _feedback(out: Path) -> dict[str, str]:
    return {p.name: p.read_text("utf-8") for p in sorted((out / "feedback").iterdir())}


@pytest.mark.slow
# cnn (torch) under the uid layer is graded by tests/test_gradescope.py on the image's
# interpreter; here the whole comparison for one assignment keeps CI within its time
@pytest.mark.parametrize("name", ["optim_reg"])
def test_the_uid_layer_changes_no_grade(name, system_kit):
    system = str(system_kit)
    assert _layers(system)["uid"] is True
    root = Path(tempfile.mkdtemp(prefix="kit-uid-"))
    try:
        os.chmod(root, 0o755)
        students = samples(course.load(name), root / "submissions")
        for extra in students[3:-1]:  # keep the reference, the stubs, a mistake, the hacker
            shutil.rmtree(root / "submissions" / extra)
        with_uid = _grade(system, name, root / "submissions", root / "with-uid")
        without = _grade(sys.executable, name, root / "submissions", root / "without-uid")
        assert with_uid == without and len(with_uid) == 5
        assert _feedback(root / "with-uid") == _feedback(root / "without-uid")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if os.path.realpath(sys.executable).startswith("/root/"):
        assert _layers(sys.executable)["uid"] is False  # the pair really differs here
