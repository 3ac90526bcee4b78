"""The student's self-check: the public tests, run like the hidden graders.

The student's package runs in the same sandbox (where the platform has none of its
confinement, in the portable runner: a separate process with the same time limits, and the
output says so), and the same comparison and feedback judge it, against answers recorded
from the reference on the public cases (the reference itself is not shipped). From the
unpacked assignment folder::

    python selfcheck.py                  # every part: a table of points and first failures
    python selfcheck.py conv2d pool2d    # some parts
    python selfcheck.py --pack 20251234  # 20251234.zip, ready to upload
    pytest tests -m conv2d               # the same tests through plain pytest
    python -m pytest                     # or bare ``pytest``, here or one folder up, or an IDE

The ``training`` part runs too, with the grader's threshold and time budget, on a public
split of the data (:mod:`autograder.training`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from .course import Assignment, from_manifest
from .graders_plugin import Context, GradingPlugin
from .oracles import Oracle, RecordedOracle
from .pytest_runs import run_graders
from .results import TestResult, selfcheck_table
from .sandbox import Runner, Sandbox, SandboxError
from .sandbox.parent import CONFINING
from .sandbox.portable_parent import PortableSandbox
from .sandboxed_student import SandboxedStudent

PUBLIC_SEED = 2025
EXPECTED = "expected"  # the folder of recorded answers, inside tests/
RUNNER = "KIT_SELFCHECK_RUNNER"  # "confined" or "portable": forces the runner (CI tests both)
UNCONFINED = (
    "your code ran in a separate process without the grader's confinement "
    "(this platform has none): "
)


def plugin(
    assignment: Assignment, student: Path, sandbox: Runner, oracle: Oracle | None = None
) -> GradingPlugin:
    """The grading plugin for the public tests: the package in folder ``student`` against
    the answers recorded in the assignment's ``tests/expected`` (or ``oracle``)."""
    oracle = oracle or RecordedOracle(assignment.folder / "tests" / EXPECTED)
    context = Context(
        SandboxedStudent(sandbox, student, assignment), oracle, hidden=False, seed=PUBLIC_SEED
    )
    return GradingPlugin(context, assignment.points)


def open_sandbox(assignment: Assignment) -> Runner:
    """A runner for the student's own code on the student's own machine: the confined
    :class:`Sandbox` where it starts with a confinement layer (Linux with fork), else the
    :class:`PortableSandbox` (a separate process with the same time limits, unconfined;
    its ``reason`` says why). ``KIT_SELFCHECK_RUNNER=confined`` or ``portable`` forces
    the choice (``confined``: as before, unconfined layers allowed)."""
    forced = os.environ.get(RUNNER, "")
    if forced not in ("", "confined", "portable"):
        raise ValueError(f"{RUNNER} must be 'confined' or 'portable', not {forced!r}")
    preload = ("torch",) if assignment.needs_torch else ()
    probes = (f"autograder.probes.{assignment.name}",)
    if forced == "portable":
        reason = f"{RUNNER}=portable is set"
    elif not forced and sys.platform != "linux":
        system = platform.system() or sys.platform
        reason = f"it needs Linux, this is {'macOS' if system == 'Darwin' else system}"
    elif not forced and not hasattr(os, "fork"):
        reason = "this Python has no os.fork()"
    else:
        sandbox = Sandbox(preload=preload, probes=probes, allow_unconfined=True)
        try:
            sandbox.start()
        except SandboxError as exc:
            if forced:
                raise
            reason = f"the confined sandbox did not start ({str(exc)[:300]})"
        else:
            layers = sandbox.report()
            if forced or any(layers[name].active for name in CONFINING):
                return sandbox
            sandbox.close()
            reason = (
                "no confinement layer works here ("
                + "; ".join(f"{name}: {layers[name].detail}" for name in CONFINING)
                + ")"
            )
    portable = PortableSandbox(preload=preload, probes=probes, reason=reason)
    portable.start()
    return portable


def unconfined_note(sandbox: Runner) -> str | None:
    """The line telling the student that their code ran unconfined (None if it did not)."""
    return UNCONFINED + sandbox.reason if isinstance(sandbox, PortableSandbox) else None


class _Note:
    """Pytest plugin: the unconfined note in the header of a plain ``pytest`` run."""

    def __init__(self, note: str) -> None:
        self.note = note

    def pytest_report_header(self) -> str:
        return f"note: {self.note}"


def copy_in(
    sandbox: Runner, assignment: Assignment, student: Path, stack: contextlib.ExitStack
) -> Path:
    """A copy of the package in folder ``student`` (its modules, as the grader takes them),
    in a workspace of ``sandbox`` that its children can read whoever runs the check (root's
    folders are not theirs); it lives as long as ``stack``. Portable: plain file copies."""
    folder = stack.enter_context(sandbox.workspace())
    package = folder / assignment.package
    package.mkdir()
    os.chmod(package, 0o755)
    for name in (*assignment.given, *assignment.graded):
        source = student / assignment.package / name
        if source.is_file():
            shutil.copyfile(source, package / name)
            os.chmod(package / name, 0o644)
    return folder


def install(config: pytest.Config, folder: Path) -> None:
    """Register the self-check's plugin in a plain ``pytest`` run (called by conftest.py)."""
    assignment = from_manifest(folder / "assignment.toml")
    stack = contextlib.ExitStack()
    config.add_cleanup(stack.close)
    sandbox = stack.enter_context(open_sandbox(assignment))
    student = copy_in(sandbox, assignment, folder, stack)
    config.pluginmanager.register(plugin(assignment, student, sandbox), "kit-selfcheck")
    if note := unconfined_note(sandbox):
        config.pluginmanager.register(_Note(note), "kit-selfcheck-note")


def check(
    assignment: Assignment,
    student: Path,
    parts: list[str] | None = None,
    oracle: Oracle | None = None,
    sandbox: Runner | None = None,
) -> list[TestResult]:
    """Run the public tests of ``parts`` (all by default) on the package in folder
    ``student``; the results of every case. ``sandbox`` (from :func:`open_sandbox`) is
    used and left open; without it, one is opened for this check."""
    with contextlib.ExitStack() as stack:
        if sandbox is None:
            sandbox = stack.enter_context(open_sandbox(assignment))
        grading = plugin(assignment, copy_in(sandbox, assignment, student, stack), sandbox, oracle)
        run_graders(
            assignment.folder / "tests",
            grading,
            " or ".join(parts) if parts else None,
            extra=["--noconftest"],
        )
        return grading.context.results


def pack(folder: Path, student: str) -> tuple[Path, list[str]]:
    """Zip the graded modules as the grader expects them; the path and warnings."""
    assignment = from_manifest(folder / "assignment.toml")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", student):
        raise ValueError(f"use your student id (letters, digits, '-', '_'), not {student!r}")
    warnings, target = [], folder / f"{student}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in assignment.graded:
            path = folder / assignment.package / name
            if not path.is_file():
                warnings.append(f"{assignment.package}/{name} is missing")
                continue
            todo = path.read_text(encoding="utf-8").count("raise NotImplementedError(")
            if todo:
                warnings.append(
                    f"{assignment.package}/{name} still has {todo} unimplemented place(s)"
                )
            archive.write(path, f"{assignment.package}/{name}")
    return target, warnings


def main(argv: list[str] | None = None, folder: Path | None = None) -> int:
    from rich.console import Console
    from rich.markup import escape

    folder = folder or Path.cwd()
    assignment = from_manifest(folder / "assignment.toml")
    parser = argparse.ArgumentParser(prog="python selfcheck.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "parts",
        nargs="*",
        choices=[[], *assignment.parts],
        metavar="part",
        help=f"parts to check (default all): {', '.join(assignment.parts)}",
    )
    parser.add_argument("--pack", metavar="STUDENT_ID", help="write STUDENT_ID.zip to upload")
    args = parser.parse_args(argv)
    console = Console()
    if args.pack:
        target, warnings = pack(folder, args.pack)
        for warning in warnings:
            console.print(f"[yellow]warning:[/yellow] {escape(warning)}")
        console.print(escape(f"wrote {target}"))
        return 0
    with console.status("checking your code on the public cases"):
        sandbox = open_sandbox(assignment)
        try:
            results = check(assignment, folder, args.parts, sandbox=sandbox)
        finally:
            sandbox.close()
    if note := unconfined_note(sandbox):
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    console.print(selfcheck_table(assignment, results, args.parts))
    console.print("These are the public cases only: the grader uses other, hidden cases.")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
