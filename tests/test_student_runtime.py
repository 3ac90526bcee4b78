"""The student's runtime (``release.build.STUDENT_RUNTIME``): the student zip ships exactly it
of ``autograder/``, it is closed under imports, and nothing of the instructor's side is in it.

Imports are read from the source (every ``import`` and ``from`` statement, in functions too):
the modules a student file or a listed module can import, whatever runs.
"""

from __future__ import annotations

import ast
import functools
import zipfile

import pytest

from autograder import course
from autograder.sandbox import parent, portable_parent
from release.build import AUTOGRADER, STUDENT_RUNTIME, student_archive, student_files

# The grading side's modules: never in the student's hands.
INSTRUCTOR_SIDE = (
    "intake.py",
    "mistakes.py",
    "regions.py",
    "samples.py",
    "verify.py",
    "reference_oracle.py",
    "hidden_grading.py",
    "batch.py",
    "views.py",
    "gradebook_xlsx.py",
    "gradescope.py",
    "jupyter/",
    "graders/",
)
# What the sandbox's children run first: `python -c BOOT`, which imports their main module.
BOOTS = (parent._BOOT, portable_parent._BOOT)
NOTEBOOK = "notebook.py"  # nbgrader's test cells import it (release/nbgrader_course.py)


def _module(dotted: str) -> str | None:
    """``autograder.x.y`` -> ``x/y.py`` (or ``x/y/__init__.py``), None if it names no module."""
    relative = "/".join(dotted.split(".")[1:])
    for path in (f"{relative}/__init__.py".lstrip("/"), f"{relative}.py"):
        if (AUTOGRADER / path).is_file():
            return path
    return None


def _imported(tree: ast.AST, package: list[str]) -> set[str]:
    """The kit's modules that the imports in ``tree`` load (with the packages above them);
    ``package``: the dotted package the code is in, for relative imports."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            base = [*base, *(node.module.split(".") if node.module else [])]
            names.append(".".join(base))
            names += [".".join([*base, alias.name]) for alias in node.names]  # a submodule?
    modules = set()
    for name in names:
        parts = name.split(".")
        if parts[0] != "autograder":
            continue
        for end in range(1, len(parts) + 1):
            if found := _module(".".join(parts[:end])):
                modules.add(found)
    return modules


@functools.cache
def _imports(path: str) -> set[str]:
    """The kit's modules that module ``path`` (relative to ``autograder/``) imports."""
    package = ["autograder", *path.split("/")[:-1]]  # x/y.py and x/__init__.py: in x
    return _imported(ast.parse((AUTOGRADER / path).read_text("utf-8")), package)


def _reached(roots: set[str]) -> set[str]:
    """``roots`` and every kit module they import, directly or not."""
    seen, todo = set(), list(roots)
    while todo:
        if (path := todo.pop()) not in seen:
            seen.add(path)
            todo += _imports(path)
    return seen


def _roots(assignment: course.Assignment) -> set[str]:
    """What the student's files import (``selfcheck.py``, the public tests), the notebook
    check, the sandbox children's boots and the assignment's probe module."""
    roots = {NOTEBOOK, f"probes/{assignment.name}.py"}
    for boot in BOOTS:
        roots |= _imported(ast.parse(boot), [])
    for name, data in student_files(assignment).items():
        if name.endswith(".py") and not name.startswith("autograder/"):
            roots |= _imported(ast.parse(data.decode("utf-8")), [])
    return roots


@pytest.mark.parametrize("name", course.names())
def test_student_zip_ships_exactly_the_runtime(name, tmp_path):
    assignment = course.load(name)
    with zipfile.ZipFile(student_archive(assignment, tmp_path)) as archive:
        prefix = f"{name}/autograder/"
        shipped = {n.removeprefix(prefix) for n in archive.namelist() if n.startswith(prefix)}
    assert shipped == {*STUDENT_RUNTIME, f"probes/{name}.py"}


def test_runtime_is_closed_under_imports():
    listed = set(STUDENT_RUNTIME)
    probes = {f"probes/{name}.py" for name in course.names()}
    for path in sorted(listed | probes):
        missing = _imports(path) - listed
        assert not missing, f"{path} imports {sorted(missing)}, not in STUDENT_RUNTIME"


def test_runtime_is_what_the_student_files_reach():
    """No listed module is dead weight: each is reached from some assignment's student files."""
    reached = set().union(*(_reached(_roots(course.load(name))) for name in course.names()))
    probes = {f"probes/{name}.py" for name in course.names()}
    assert reached == set(STUDENT_RUNTIME) | probes


def test_no_instructor_module_is_reachable_from_the_self_check():
    reached = _reached({"selfcheck.py", NOTEBOOK})
    assert {"graders_plugin.py", "sandboxed_student.py", "sandbox/parent.py"} <= reached
    leaked = [path for path in reached if path.startswith(INSTRUCTOR_SIDE)]
    assert not leaked
    assert not [path for path in STUDENT_RUNTIME if path.startswith(INSTRUCTOR_SIDE)]
