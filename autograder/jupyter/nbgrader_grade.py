"""The kit's grading process of one ``nbgrader autograde`` run.

    python -P -m autograder.jupyter.nbgrader_grade <a> --results DIR

`autograder.jupyter.nbgrader_plugins.KitAutograde` starts it once per run and asks it, one JSON line
on stdin per submission (``{"folder", "student", "package", "cells"}``), before nbgrader
touches that submission. It reads ``submitted/<student>/<a>/`` with the kit's intake, as
``release grade`` reads a folder (links and special files never followed or read, only
the graded modules taken, with caps), adds a note for each cell of the student's notebook
that holds code (the notebook is parsed as JSON, nothing of it runs), grades with its one
:class:`autograder.batch.SubmissionGrader` (student code in the kit's sandbox), writes the
package it graded to ``<package>/<package name>/``, saves ``results/<id>.json`` and
``feedback/<id>.md`` under ``--results`` (:func:`autograder.batch.save`) and answers one
JSON line on stdout:
``{"result": <path>}`` or, where the kit failed, ``{"error": <reason>}``. Anything else it
prints goes to stderr. ``-P``: no folder of a submission is on its ``sys.path``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import traceback
from pathlib import Path

from autograder import course, intake
from autograder.batch import Paths, SubmissionGrader, grading, save, unconfined_allowed
from autograder.course import Assignment

MAX_CELL_NOTES = 5  # notebook cells named one by one; the rest are counted


def _defined(source: str) -> set[str]:
    """Top-level function and class names of ``source`` (parsed, never run; empty when it
    does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def _home(assignment: Assignment, source: str) -> str:
    """Where the code of a notebook cell belongs: the graded modules whose stub defines a
    name the cell defines, else every graded module."""
    names = _defined(source)
    modules = [
        m
        for m in assignment.graded
        if names & _defined((assignment.stub_dir / m).read_text("utf-8"))
    ]
    return " or ".join(f"`{assignment.package}/{m}`" for m in modules or assignment.graded)


def _code(cell: object) -> str:
    """The source of a code cell ("" for any other cell or a cell of comments only)."""
    if not isinstance(cell, dict) or cell.get("cell_type") != "code":
        return ""
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    if not isinstance(source, str):
        return ""
    lines = [line for line in source.splitlines() if line.strip()]
    return source if any(not line.lstrip().startswith("#") for line in lines) else ""


def notebook_notes(path: Path, assignment: Assignment, course_cells: set[str]) -> list[str]:
    """Notes for the student about the submitted notebook ``path``: missing, unreadable, or
    which of its code cells (not the course's own) hold code that was not graded."""
    if not os.path.lexists(path):
        return [f"{path.name} was not submitted: your modules were graded without it"]
    try:
        nb = json.loads(intake._read_file(path))
        cells = nb["cells"]
        if not isinstance(cells, list):
            raise TypeError("cells is not a list")
    except Exception as error:  # a broken notebook costs nothing: only modules are graded
        reason = error.detail if isinstance(error, intake._Fail) else type(error).__name__
        return [f"could not read {path.name} ({reason}); only your modules were graded"]
    seen: set[str] = set()
    found = []
    for number, cell in enumerate(cells, start=1):
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
        grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
        if isinstance(grade_id, str) and grade_id in course_cells and grade_id not in seen:
            seen.add(grade_id)
            continue
        if source := _code(cell):
            first = next(line for line in source.splitlines() if line.strip())
            found.append(
                f"your notebook cell {number} (`{intake._show(first.strip(), 60)}`) "
                f"was not graded; put the code in {_home(assignment, source)}"
            )
    if len(found) > MAX_CELL_NOTES:
        found[MAX_CELL_NOTES:] = [
            f"{len(found) - MAX_CELL_NOTES} more notebook cells with code were not graded"
        ]
    return found


def grade(grader: SubmissionGrader, results: Path, request: dict) -> Path:
    """Grade the submission of one request (see the module docstring); the saved Result."""
    assignment = grader.assignment
    folder = Path(request["folder"])
    submission = intake.read_folder(folder, assignment)
    submission.student, submission.safe_id = request["student"], intake.safe_id(request["student"])
    if folder.is_dir() and not folder.is_symlink():
        submission.notes += notebook_notes(
            folder / f"{assignment.name}.ipynb", assignment, set(request["cells"])
        )
    result = grader.grade(submission)
    intake.materialize(submission, assignment, Path(request["package"]))
    paths = Paths(results)
    save(paths, result, submission)
    return paths.result(submission)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -P -m autograder.jupyter.nbgrader_grade")
    parser.add_argument("assignment", choices=course.names())
    parser.add_argument("--results", type=Path, required=True)
    args = parser.parse_args(argv)
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # stdout carries the answers only
    with grading(course.load(args.assignment), allow_unconfined=unconfined_allowed()) as grader:
        for line in sys.stdin:
            try:
                answer = {"result": str(grade(grader, args.results, json.loads(line)))}
            except Exception as error:  # the kit's failure on one submission: say which
                traceback.print_exc()
                answer = {"error": f"{type(error).__name__}: {error}"}
            answers.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
