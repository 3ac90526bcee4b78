"""A student's first install, as the student README says it, made once per test session.

A fresh environment of the system's interpreter (tests/roads.py) with the newest pip and the
CPU torch first; what pip would then do with each assignment's ``requirements.txt`` (``pip
install --dry-run --report``, over that torch); then the cnn archive's own requirements (a
superset of optim_reg's) installed, as the student does.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from roads import TORCH, fresh_venv, pip

from autograder import course
from release.build import student_archive


def unpack(assignment: course.Assignment, root: Path) -> Path:
    """The student archive of ``assignment`` unpacked under ``root``; its folder."""
    root.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(student_archive(assignment, root)) as archive:
        archive.extractall(root / "unpacked")
    return root / "unpacked" / assignment.name


def torch_version(python: Path) -> str:
    return pip(python, "show", "torch").stdout.split("Version: ")[1].split()[0]


class StudentEnvironment:
    """``python``: the student's environment after the install; ``pip_version``,
    ``torch_before`` and per assignment ``requirements`` (the text) and ``dry_run`` (pip's
    report) from before it."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="kit-student-"))
        try:
            self.python = fresh_venv(self.root / "venv", TORCH)
            self.pip_version = pip(self.python, "--version").stdout
            self.requirements: dict[str, str] = {}
            self.dry_run: dict[str, dict[str, Any]] = {}
            for name in course.names():
                folder = unpack(course.load(name), self.root / "dry-run" / name)
                self.requirements[name] = (folder / "requirements.txt").read_text("utf-8")
                report = pip(
                    self.python,
                    *("install", "--dry-run", "--quiet", "--report", "-"),
                    *("-r", "requirements.txt"),
                    cwd=folder,
                )
                self.dry_run[name] = json.loads(report.stdout)
            self.torch_before = torch_version(self.python)
            folder = unpack(course.load("cnn"), self.root / "install")
            pip(self.python, "install", "-q", "-r", "requirements.txt", cwd=folder)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
