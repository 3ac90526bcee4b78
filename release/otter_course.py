"""otter-grader: a checks notebook for students and an autograder for ``otter run``.

    python -m release build optim_reg --otter DIR      # writes DIR/ (this module)
    otter run -a DIR/optim_reg-otter-autograder.zip 20251234.zip          # one upload
    python -m release.otter_batch -a DIR/optim_reg-otter-autograder.zip uploads/ -o out/

`export` writes two files:

- ``<a>-otter-student.zip``: the student archive of ``release build`` (stubs, given modules,
  the kit's public self-check) plus ``<a>_checks.ipynb`` and ``otter_tests/<part>.py``. The
  notebook has one ``grader.check("<part>")`` cell per part and a last cell,
  ``grader.export(...)``, that zips the notebook with the graded modules for upload. Each
  public test file runs the kit's self-check (``autograder.selfcheck.check``: the public
  cases, in the sandbox, against recorded answers) for its part and fails with the kit's
  messages, which name frames of the student's files only; these checks run in the student's
  kernel, on the student's machine.
- ``<a>-otter-autograder.zip``, what ``otter run -a`` reads: ``otter_config.json``,
  ``tests/<part>.py`` (one question per part with the part's points, no test in it) and
  ``files/<a>_checks.ipynb`` (the course's notebook, which otter copies into the folder it
  grades, so that an upload without a notebook, or with the student's copy, is graded too).

The kit's otter plugin, :mod:`autograder.jupyter.otter_plugin` (``otter_config.json`` names
it by dotted path), grades each upload in ``otter run``'s process; the files both write are
:mod:`autograder.jupyter.otter_files`. The hidden graders never enter a zip: the grading
machine needs the kit installed (with the ``otter`` extra). Nothing here imports otter.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from autograder.course import Assignment
from autograder.jupyter.otter_files import (
    PUBLIC_TEST,
    TESTS,
    notebook_name,
    notebook_text,
    otter_config,
    question_files,
)

from .build import _add, student_archive


def student_zip(assignment: Assignment, out: Path) -> Path:
    """``out/<a>-otter-student.zip``: the student archive with the checks notebook, its
    public test files and ``otter-grader`` in ``requirements.txt``."""
    target = out / f"{assignment.name}-otter-student.zip"
    top = f"{assignment.name}/"
    with tempfile.TemporaryDirectory(prefix="kit-otter-") as tmp:
        base = student_archive(assignment, Path(tmp))
        with zipfile.ZipFile(base) as source, zipfile.ZipFile(target, "w") as archive:
            for info in source.infolist():
                data = source.read(info)
                if info.filename == f"{top}requirements.txt":
                    data += f"otter-grader>={metadata.version('otter-grader')}\n".encode()
                archive.writestr(info, data)
            _add(archive, notebook_text(assignment), f"{top}{notebook_name(assignment)}")
            for part, points in assignment.points.items():
                _add(
                    archive, PUBLIC_TEST.format(part=part, points=points), f"{top}{TESTS}/{part}.py"
                )
    return target


def autograder_zip(assignment: Assignment, out: Path) -> Path:
    """``out/<a>-otter-autograder.zip``: ``otter_config.json``, the question files and the
    course's notebook in ``files/``."""
    target = out / f"{assignment.name}-otter-autograder.zip"
    with zipfile.ZipFile(target, "w") as archive:
        _add(archive, json.dumps(otter_config(assignment), indent=2), "otter_config.json")
        for name, text in question_files(assignment).items():
            _add(archive, text, name)
        _add(archive, notebook_text(assignment), f"files/{notebook_name(assignment)}")
    return target


def export(assignment: Assignment, out: Path) -> Path:
    """Write both zips (see the module docstring) into ``out``; returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    student_zip(assignment, out)
    autograder_zip(assignment, out)
    return out
