"""A failure of the kit is never a student's zero marked ``ok``.

The sandbox is made to fail for real (too few descriptors for Landlock's setup): every
call fails in the kit, is retried once in a fresh child, and the submission's status says
``grading error`` with the cases to regrade, instead of ``ok`` with 0 points.
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import adversaries as adv
import pytest

from autograder import batch, course, intake, samples
from autograder.results import GRADING_ERROR, OK
from autograder.sandbox import Limits

OPTIM = course.load("optim_reg")


def _reference(folder):
    samples.write_folder(folder / "20251234", samples.graded(OPTIM), OPTIM.package)
    [submission] = intake.collect(folder, OPTIM)
    return submission


@pytest.mark.slow
def test_a_sandbox_failure_is_a_grading_error_not_a_zero(tmp_path):
    submission = _reference(tmp_path)
    with batch.grading(OPTIM) as grader:
        assert grader.grade(submission).status == OK  # the healthy sandbox: graded
        grader.sandbox.limits = Limits(nofile=3)  # children cannot confine themselves now
        failed = grader.grade(submission)
    assert failed.status.startswith(GRADING_ERROR) and "regrade with --student" in failed.status
    assert all("not your code" in test.output for test in failed.tests)


def _workers(cli: int) -> list[int]:
    """The pool workers of the grade command ``cli`` (children of its fork server)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(stat[1]), []).append(int(entry))
    return [worker for server in children.get(cli, []) for worker in children.get(server, [])]


@pytest.mark.slow
def test_a_worker_killed_mid_batch_costs_no_row(tmp_path):
    """The out-of-memory killer takes a grading worker mid-batch: the pool is replaced, its
    unfinished submissions are graded again, every row is a grade, nothing is left in the
    temporary folder."""
    subs, tmp = tmp_path / "submissions", Path(tempfile.mkdtemp(prefix="kit-killed-"))
    os.chmod(tmp, 0o755)
    for name in ("aaa-correct", "bbb-correct", "ccc-correct"):
        adv.correct(name).write(subs)
    adv.sgd("import time\ntime.sleep(1.5)", then=True).folder("mmm-slow", ()).write(subs)
    env = {**os.environ, "TMPDIR": str(tmp)}
    env.pop("PYTHONPATH", None)
    cli = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "release",
            "grade",
            "optim_reg",
            str(subs),
            "--out",
            str(tmp_path / "out"),
            "-j",
            "2",
        ],
        cwd=course.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_workers(cli.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2.0)  # the workers are grading
        victims = _workers(cli.pid)
        assert victims, "no worker to kill"
        os.kill(victims[0], signal.SIGKILL)
        _, err = cli.communicate(timeout=300)
    finally:
        cli.kill()
    try:
        assert cli.returncode == 0, err[-3000:]
        assert "a grading worker died" in err  # the kill did land mid-batch
        with open(tmp_path / "out" / "gradebook.csv", newline="", encoding="utf-8") as handle:
            rows = {row["student"]: row for row in csv.DictReader(handle)}
        assert sorted(rows) == ["aaa-correct", "bbb-correct", "ccc-correct", "mmm-slow"]
        assert {row["status"] for row in rows.values()} == {OK}
        assert {rows[name]["score"] for name in rows if "correct" in name} == {"100"}
        assert os.listdir(tmp) == []  # no sandbox folder, no copy of a student's module
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
