"""``python -m release build``: the student archive and the Gradescope autograder.

- ``<a>-student.zip`` unpacks to ``<a>/``: the stubs and given modules, the notebook, the
  Korean README, the public tests with their recorded answers, ``selfcheck.py``, the kit's
  student runtime (:data:`STUDENT_RUNTIME`: sandbox, comparison, feedback, probes) and
  ``requirements.txt`` (the kit's floors, never an upper bound or a local label: pip keeps
  an installed torch). No solution, no hidden grader, no known-mistake list, no intake.
- ``<a>-autograder.zip`` is Gradescope's format, as its specification lays it out: at the
  zip's root ``setup.sh`` (run once when the image is built), ``run_autograder`` (copied to
  ``/autograder/run_autograder``, run for each submission), ``requirements.txt`` (the
  instructor's exact versions), and beside them the engine, the hidden graders, the
  reference and the manifest, extracted by Gradescope into ``/autograder/source``.
"""

from __future__ import annotations

import stat
import tomllib
import zipfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from autograder import course
from autograder.course import Assignment

AUTOGRADER = course.ROOT / "autograder"
# The student's runtime: every module the self-check (selfcheck.py, the public tests, the
# nbgrader notebook's checks) imports, and the sandbox children it starts, closed under
# imports (tests/test_student_runtime.py); with the assignment's probe module. No archive
# intake, no reference, no hidden grading.
STUDENT_RUNTIME = (
    "__init__.py",
    "ahead.py",
    "compare.py",
    "course.py",
    "graders_plugin.py",
    "notebook.py",
    "oracles.py",
    "plain.py",
    "pytest_runs.py",
    "results.py",
    "sandboxed_student.py",
    "selfcheck.py",
    "training.py",
    "probes/__init__.py",
    "sandbox/__init__.py",
    "sandbox/_linux.py",
    "sandbox/child.py",
    "sandbox/confine.py",
    "sandbox/landlock.py",
    "sandbox/layers.py",
    "sandbox/parent.py",
    "sandbox/portable_parent.py",
    "sandbox/portable_child.py",
    "sandbox/protocol.py",
    "sandbox/seccomp.py",
    "sandbox/syscall_table.py",
    "sandbox/zygote.py",
)
REQUIREMENTS = ["numpy", "pytest", "rich", "scikit-learn"]  # the grader's and the student's
NOTEBOOK_REQUIREMENTS = ["matplotlib", "ipykernel"]  # the student's notebook
SKIP = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
NOT_ON_GRADESCOPE = {"graders", "jupyter"}  # the assignment's graders go on their own


def _files(path: Path) -> Iterable[Path]:
    """``path`` itself, or every file under it (links read through), skipping caches."""
    if path.is_dir():
        for child in sorted(path.iterdir()):
            if child.name not in SKIP:
                yield from _files(child)
    else:
        yield path


def _add(
    archive: zipfile.ZipFile, source: Path | bytes, name: str, executable: bool = False
) -> None:
    info = zipfile.ZipInfo(name, date_time=(2025, 7, 1, 0, 0, 0))  # reproducible archives
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    archive.writestr(info, source.read_bytes() if isinstance(source, Path) else source)


def _tree(archive: zipfile.ZipFile, root: Path, relative: Iterable[str], prefix: str) -> None:
    for item in relative:
        for file in _files(root / item):
            _add(archive, file, f"{prefix}{file.relative_to(root).as_posix()}")


def _project_requirements() -> dict[str, Requirement]:
    """Name -> requirement, from ``pyproject.toml``'s dependencies and extras."""
    project = tomllib.loads((course.ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    lines = [
        *project["dependencies"],
        *(line for extra in project["optional-dependencies"].values() for line in extra),
    ]
    return {(req := Requirement(line)).name: req for line in lines}


def student_requirements(assignment: Assignment) -> str:
    """The student's requirements.txt: the kit's floor of each package, nothing more.

    No upper bound and no local label (``+cpu``), so that pip keeps whatever torch and
    numpy a student already has (Colab's, or the CPU torch the README installs first).
    """
    known = _project_requirements()
    names = [*REQUIREMENTS, *NOTEBOOK_REQUIREMENTS]
    lines = []
    if assignment.needs_torch:
        names.append("torch")
        lines.append("# Install PyTorch first (README.md says how); pip keeps an installed torch.")
    for name in sorted(names):
        floors = [str(spec) for spec in known[name].specifier if spec.operator == ">="]
        lines.append(name + ",".join(floors))
    return "\n".join(lines) + "\n"


def grader_requirements() -> str:
    """Gradescope's requirements.txt: the instructor's exact versions (torch is installed
    on its own, from the CPU wheel index, by ``setup.sh``)."""
    return "".join(f"{name}=={metadata.version(name)}\n" for name in sorted(REQUIREMENTS))


def student_files(assignment: Assignment) -> dict[str, bytes]:
    """What the student receives, by path relative to the assignment folder (see the module
    docstring): the student folder, the kit's public runtime and ``requirements.txt``."""
    folder = assignment.folder
    files = {
        file.relative_to(folder).as_posix(): file.read_bytes()
        for item in sorted(p.name for p in folder.iterdir() if p.name not in SKIP)
        for file in _files(folder / item)
    }
    files |= {
        f"autograder/{module}": (AUTOGRADER / module).read_bytes()
        for module in [*STUDENT_RUNTIME, f"probes/{assignment.name}.py"]
    }
    files["requirements.txt"] = student_requirements(assignment).encode()
    return files


def student_archive(assignment: Assignment, out: Path) -> Path:
    """Write ``out/<a>-student.zip`` (see the module docstring)."""
    target = out / f"{assignment.name}-student.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in student_files(assignment).items():
            _add(archive, data, f"{assignment.name}/{name}")
    return target


SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image; it lies in
# /autograder/source with the rest of this zip. The environment it makes, /autograder/venv,
# uses the image's own Python 3.11 or newer (on Ubuntu 22.04: the python3.11 package).
set -euo pipefail
SOURCE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
ROOT="$(dirname "$SOURCE")"
TORCH_INDEX_URL="${{TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}}"

newest() {{  # the first Python 3.11 or newer on the image
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"; return
        fi
    done
}}
PYTHON="$(newest)"
if [ -z "$PYTHON" ]; then  # Ubuntu 22.04: python3 is 3.10
    apt-get update -qq && apt-get install -y -qq python3.11 python3.11-venv
    PYTHON=python3.11
elif ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then  # Debian/Ubuntu split venv off
    apt-get update -qq && apt-get install -y -qq "$PYTHON-venv"
fi
echo "setup.sh: $("$PYTHON" --version) from $(command -v "$PYTHON")"
"$PYTHON" -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install -q --upgrade pip
{torch}"$ROOT/venv/bin/python" -m pip install -q -r "$SOURCE/requirements.txt"
# The graders and the reference: root's only (student code runs as another uid).
chmod -R go-rwx "$SOURCE"
"""
# CPU-only PyTorch: a plain 'pip install torch' pulls a CUDA build of several GB.
TORCH = (
    '"$ROOT/venv/bin/python" -m pip install -q "torch=={version}" '
    '${{TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}}\n'
)
RUN = """#!/usr/bin/env bash
# Gradescope copies this to /autograder/run_autograder and runs it for every submission;
# the grade is /autograder/results/results.json, the rest of stdout is the instructor's.
HERE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
if [ -d "$HERE/source" ]; then ROOT="$HERE"; else ROOT="$(dirname "$HERE")"; fi
cd "$ROOT/source" && exec "$ROOT/venv/bin/python" -B -m autograder.gradescope {assignment} \\
    --root "$ROOT"
"""


def autograder_archive(assignment: Assignment, out: Path) -> Path:
    """Write ``out/<a>-autograder.zip`` (see the module docstring)."""
    target = out / f"{assignment.name}-autograder.zip"
    torch = TORCH.format(version=metadata.version("torch")) if assignment.needs_torch else ""
    with zipfile.ZipFile(target, "w") as archive:
        _add(archive, SETUP.format(torch=torch).encode(), "setup.sh", executable=True)
        _add(
            archive,
            RUN.format(assignment=assignment.name).encode(),
            "run_autograder",
            executable=True,
        )
        _add(archive, grader_requirements().encode(), "requirements.txt")
        _tree(
            archive,
            AUTOGRADER,
            [p.name for p in AUTOGRADER.iterdir() if p.name not in {*SKIP, *NOT_ON_GRADESCOPE}],
            "autograder/",
        )
        graders = AUTOGRADER / "graders"
        _tree(archive, graders, ["__init__.py", assignment.name], "autograder/graders/")
        _tree(
            archive,
            assignment.solution_dir,
            [p.name for p in assignment.solution_dir.iterdir()],
            f"solutions/{assignment.name}/",
        )
        _tree(
            archive,
            assignment.folder,
            ["assignment.toml", assignment.package],
            f"assignments/{assignment.name}/",
        )
    return target


def build(assignment: Assignment, out: Path) -> list[Path]:
    """Both archives of ``assignment`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    return [student_archive(assignment, out), autograder_archive(assignment, out)]
