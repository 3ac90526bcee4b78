"""Sample submissions made from the reference (instructor side, never shipped to students).

The demo, ``release verify``, the benchmarks and the tests grade the same samples: the
reference's graded modules, the stubs, or the reference with one known mistake of
``solutions/<a>/MISTAKES.md`` made. A sample is ``{graded module file name: text}``;
:func:`write_folder` and :func:`write_zip` hand it in as a student would.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from .course import Assignment
from .mistakes import Mistake
from .reference_oracle import known_mistakes, module_files

KINDS = ("reference", "stubs")  # the kinds of :func:`graded` besides a known mistake's name


def graded(assignment: Assignment, kind: str = "reference") -> dict[str, str]:
    """The graded modules of ``kind``: ``"reference"``, ``"stubs"`` or the name of a known
    mistake (the reference with it made)."""
    if kind == "stubs":
        return {n: (assignment.stub_dir / n).read_text(encoding="utf-8") for n in assignment.graded}
    if kind == "reference":
        files = module_files(assignment)
        return {n: files[n] for n in assignment.graded}
    return with_mistake(assignment, mistake(assignment, kind))


def mistake(assignment: Assignment, name: str) -> Mistake:
    """The entry ``name`` of MISTAKES.md (a mistake or an equivalent form)."""
    found = [m for m in known_mistakes(assignment) if m.name == name]
    if len(found) != 1:
        raise KeyError(f"{assignment.name}: no sample {name!r} (not in {KINDS} nor MISTAKES.md)")
    return found[0]


def with_mistake(
    assignment: Assignment, mistake: Mistake, reference: dict[str, str] | None = None
) -> dict[str, str]:
    """The graded modules of the reference (or of ``reference``: file name -> text of every
    module) with ``mistake`` made; raises :class:`~autograder.mistakes.NotApplicable`."""
    files = mistake.apply(module_files(assignment) if reference is None else reference)
    return {n: files[n] for n in assignment.graded}


def write_folder(folder: Path, files: dict[str, str], package: str | None = None) -> Path:
    """Write ``files`` (file name -> text) into ``folder/package`` (or ``folder`` itself);
    the folder."""
    target = folder / package if package else folder
    target.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    return folder


def write_students(
    assignment: Assignment, folder: Path, students: dict[str, dict[str, str]]
) -> list[str]:
    """One folder ``folder/<student>/<package>`` per student of ``students`` (student id ->
    files); their ids."""
    for student, files in students.items():
        write_folder(folder / student, files, assignment.package)
    return list(students)


def write_zip(path: Path, files: dict[str, str], prefix: str = "") -> Path:
    """A zip at ``path`` holding each file of ``files`` as ``<prefix><name>``; the path."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"{prefix}{name}", text)
    return path
