"""Courses that live in Jupyter: the helpers that ``tests/test_nbgrader_path.py`` and
``tests/test_otter_path.py`` share (submissions from the reference, the stubs and known
mistakes with partial credit; the native grader's scores; the hidden material no view may
hold), and the tests that need neither tool.

The tools' own tests are skipped only when nbgrader or otter-grader is not installed
(``pip install -e ".[nbgrader,otter]"``).
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import batch, course
from autograder.graders import HIDDEN_SEED

OPTIM = course.load("optim_reg")
MISTAKES = ["adam-t-per-key", "bn-backward-no-gamma"]  # partial credit: 4.67 / 14, 17.14 / 24
GRADERS = course.ROOT / "autograder" / "graders"
TIMEOUT = 600

needs_otter = pytest.mark.skipif(
    importlib.util.find_spec("otter") is None or importlib.util.find_spec("nbclient") is None,
    reason="otter-grader (or nbclient) is not installed: pip install -e '.[otter,notebooks]'",
)


# ---------------------------------------------------------------------------- helpers


class Started:
    """A command left running, its output in the files ``<log>.out`` and ``<log>.err`` (one
    file, ``<log>.out``, when ``merged``), so that the independent steps of a fixture
    overlap; :meth:`wait` gives what ``subprocess.run`` would have given."""

    def __init__(self, command: list[str], log: Path, merged: bool = False, **options) -> None:
        self.out, self.err = Path(f"{log}.out"), None if merged else Path(f"{log}.err")
        with open(self.out, "wb") as out, open(self.err or os.devnull, "wb") as err:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT if merged else err,
                stdin=subprocess.DEVNULL,
                **options,
            )

    def wait(self) -> subprocess.CompletedProcess:
        try:
            code = self.process.wait(timeout=TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        out, err = (
            path.read_text("utf-8", "replace") if path else "" for path in (self.out, self.err)
        )
        return subprocess.CompletedProcess(self.process.args, code, out, err)


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def native(submissions: Path, out: Path) -> dict[str, dict]:
    """The native grader's results on the same folder: student -> part scores and total."""
    results = batch.grade_folder(OPTIM, submissions, out, jobs=1)
    return {
        r.student: {"parts": r.part_scores(), "score": r.score, "status": r.status} for r in results
    }


def secret_lines() -> list[str]:
    """Distinctive lines of the hidden graders' source (the hidden cases live there) that
    occur in no public file (public tests, the kit's engine)."""
    public = "\n".join(
        path.read_text("utf-8")
        for path in [
            *(OPTIM.folder / "tests").glob("*.py"),
            *(course.ROOT / "autograder").glob("*.py"),
        ]
    )
    lines = {
        line.strip()
        for path in (GRADERS / OPTIM.name).glob("*.py")
        for line in path.read_text("utf-8").splitlines()
    }
    return sorted(
        line
        for line in lines
        if len(line) >= 30 and not line.startswith("#") and line not in public
    )


def assert_no_secret(text: str, where: str) -> None:
    assert str(HIDDEN_SEED) not in text, f"{where} shows the hidden seed"
    assert hex(HIDDEN_SEED) not in text.lower(), f"{where} shows the hidden seed"
    leaked = [line for line in secret_lines() if line in text]
    assert not leaked, f"{where} shows hidden grader source: {leaked[:3]}"


def html_text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text("utf-8")))


def test_secret_lines_are_a_real_check():
    assert len(secret_lines()) > 20  # the leak checks below compare against these


def test_the_native_path_imports_neither_tool():
    code = (
        "import sys, release.__main__, release.build, release.grade, autograder.batch, "
        "release.nbgrader_course, release.otter_course; "
        "print([m for m in ('nbgrader', 'otter') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=course.ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


# ------------------------------------------------------------------------------ otter


@needs_otter
def test_release_build_writes_both(tmp_path):
    from release.__main__ import main

    assert (
        main(
            [
                "build",
                OPTIM.name,
                "--out",
                str(tmp_path / "dist"),
                "--nbgrader",
                str(tmp_path / "nbgrader"),
                "--otter",
                str(tmp_path / "otter"),
            ]
        )
        == 0
    )
    assert (tmp_path / "nbgrader" / "nbgrader_config.py").is_file()
    assert (tmp_path / "otter" / f"{OPTIM.name}-otter-autograder.zip").is_file()
