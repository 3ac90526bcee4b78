"""``python -m release build``: the student archive and the Gradescope autograder.

- ``<a>-student.zip`` unpacks to ``<a>/``: the stubs and given modules, the notebook, the
  Korean README, the public tests with their recorded answers, ``selfcheck.py`` and the
  kit's public runtime (sandbox, comparison, feedback, probes). No solution, no hidden
  grader, no known-mistake list.
- ``<a>-autograder.zip`` is Gradescope's format: ``setup.sh`` (builds the image once),
  ``run_autograder`` (grades ``/autograder/submission`` into
  ``/autograder/results/results.json``), pinned requirements, and ``source/`` with the
  engine, the hidden graders and the reference.
"""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from autograder import course
from autograder.course import Assignment

AUTOGRADER = course.ROOT / "autograder"
PUBLIC_RUNTIME = ["__init__.py", "compare.py", "course.py", "grading.py", "intake.py",
                  "mistakes.py", "oracles.py", "plain.py", "results.py", "runner.py",
                  "selfcheck.py", "sandbox", "probes/__init__.py"]
REQUIREMENTS = ["numpy", "pytest", "rich", "scikit-learn"]
NOTEBOOK_REQUIREMENTS = ["matplotlib", "ipykernel"]
SKIP = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}


def _files(path: Path) -> Iterable[Path]:
    """``path`` itself, or every file under it (links read through), skipping caches."""
    if path.is_dir():
        for child in sorted(path.iterdir()):
            if child.name not in SKIP:
                yield from _files(child)
    else:
        yield path


def _add(archive: zipfile.ZipFile, source: Path, name: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2025, 7, 1, 0, 0, 0))  # reproducible archives
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    archive.writestr(info, source.read_bytes() if isinstance(source, Path) else source)


def _tree(archive: zipfile.ZipFile, root: Path, relative: Iterable[str], prefix: str) -> None:
    for item in relative:
        for file in _files(root / item):
            _add(archive, file, f"{prefix}{file.relative_to(root).as_posix()}")


def requirements(assignment: Assignment, pinned: bool, notebook: bool) -> str:
    """requirements.txt text: ``name>=installed`` for students, ``==`` for Gradescope."""
    names = REQUIREMENTS + (["torch"] if assignment.needs_torch else [])
    names += NOTEBOOK_REQUIREMENTS if notebook else []
    pins = [f"{name}{'==' if pinned else '>='}{metadata.version(name)}" for name in names]
    return "\n".join(sorted(pins)) + "\n"


def student_archive(assignment: Assignment, out: Path) -> Path:
    """Write ``out/<a>-student.zip`` (see the module docstring)."""
    target = out / f"{assignment.name}-student.zip"
    top = f"{assignment.name}/"
    folder = assignment.folder
    with zipfile.ZipFile(target, "w") as archive:
        _tree(archive, folder, sorted(p.name for p in folder.iterdir() if p.name not in SKIP),
              top)
        _tree(archive, AUTOGRADER, [*PUBLIC_RUNTIME, f"probes/{assignment.name}.py"],
              f"{top}autograder/")
        _add(archive, requirements(assignment, pinned=False, notebook=True).encode(),
             f"{top}requirements.txt")
    return target


SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
# It needs Python 3.11 or newer (Ubuntu 22.04 images: the python3.11 package).
set -euo pipefail
apt-get update -qq
apt-get install -y -qq python3.11 python3.11-venv
python3.11 -m venv /autograder/venv
# CPU-only PyTorch (a plain 'pip install torch' pulls a CUDA build of several GB)
{torch}/autograder/venv/bin/pip install -q -r /autograder/source/requirements.txt
# The graders and the reference: readable by root only (student code runs as another uid).
chmod -R go-rwx /autograder/source
"""
TORCH = ("/autograder/venv/bin/pip install -q torch=={version} "
         "--index-url https://download.pytorch.org/whl/cpu\n")
RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission; the grade is /autograder/results/results.json.
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}"
cd "$ROOT/source" && PYTHONPATH="$ROOT/source" exec "$PYTHON" -m autograder.gradescope \\
    {assignment} --root "$ROOT" --allow-unconfined
"""


def autograder_archive(assignment: Assignment, out: Path) -> Path:
    """Write ``out/<a>-autograder.zip`` (see the module docstring)."""
    target = out / f"{assignment.name}-autograder.zip"
    torch = TORCH.format(version=metadata.version("torch")) if assignment.needs_torch else ""
    with zipfile.ZipFile(target, "w") as archive:
        _add(archive, SETUP.format(torch=torch).encode(), "setup.sh", executable=True)
        _add(archive, RUN.format(assignment=assignment.name).encode(), "run_autograder",
             executable=True)
        _add(archive, requirements(assignment, pinned=True, notebook=False).encode(),
             "source/requirements.txt")
        _tree(archive, AUTOGRADER, [p.name for p in AUTOGRADER.iterdir()
                                    if p.name not in SKIP and p.name != "graders"],
              "source/autograder/")
        graders = AUTOGRADER / "graders"
        _tree(archive, graders, ["__init__.py", assignment.name], "source/autograder/graders/")
        _tree(archive, assignment.solution_dir, [p.name for p in
                                                 assignment.solution_dir.iterdir()],
              f"source/solutions/{assignment.name}/")
        _tree(archive, assignment.folder, ["assignment.toml", assignment.package],
              f"source/assignments/{assignment.name}/")
    return target


def build(assignment: Assignment, out: Path) -> list[Path]:
    """Both archives of ``assignment`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    return [student_archive(assignment, out), autograder_archive(assignment, out)]
