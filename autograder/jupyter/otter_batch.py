"""The otter batch road: a folder of uploads, each graded by ``otter run``, into a gradebook
(the command: :mod:`release.otter_batch`). This module imports otter.

    python -m release.otter_batch -a otter/optim_reg-otter-autograder.zip uploads/ -o graded/

``otter grade``, otter's own batch command, runs each upload in a Docker image, which would
have to hold the hidden graders; this command is its stand-in. Every entry of ``uploads/``
is one student, whatever it is (a ``grader.export`` zip, a zip of the ``.py`` files, a
folder, a broken file), read by the kit's intake exactly as ``release grade`` reads it: the
id from the entry's name, a status saying why an entry earned nothing. Each entry is then
graded by one real ``otter run`` (otter's Python API, in this process, one kernel each)
whose upload is the course's notebook alone; the kit's otter plugin grades the entry as the
intake read it (:func:`autograder.jupyter.otter_plugin.batch_upload`). Nothing of an entry
ever lies in a folder otter reads. Writes ``graded/results/<id>.json`` (otter's
``results.json``) and ``graded/gradebook.csv`` (the kit's columns, parts in the course's
order).
"""

from __future__ import annotations

import json
import logging
import tempfile
import zipfile
from pathlib import Path

from otter.run import capture_run_output
from otter.run import main as otter_run

from autograder import course, intake
from autograder.batch import grading, unconfined_allowed
from autograder.course import Assignment
from autograder.results import GRADING_ERROR, Result, gradebook_csv, write_atomic

from .otter_files import PLUGIN, notebook_name, notebook_text
from .otter_plugin import batch_upload

log = logging.getLogger(__name__)


def assignment_of(autograder: Path) -> Assignment:
    """The assignment an otter autograder zip of this kit grades (its plugin's config)."""
    with zipfile.ZipFile(autograder) as archive:
        config = json.loads(archive.read("otter_config.json"))
    for plugin in config.get("plugins", []):
        if isinstance(plugin, dict) and PLUGIN in plugin:
            return course.load(plugin[PLUGIN]["assignment"])
    raise ValueError(f"{autograder} is not an otter autograder of this kit (no {PLUGIN})")


def grade_uploads(autograder: Path, uploads: Path, out: Path) -> list[Result]:
    """Grade every entry of ``uploads`` (module docstring); the gradebook's rows. Raises
    ``IntakeError`` when ``uploads`` cannot be listed."""
    assignment = assignment_of(autograder)
    entries = intake.collect(uploads, assignment)
    rows = []
    with (
        grading(assignment, allow_unconfined=unconfined_allowed()) as grader,
        tempfile.TemporaryDirectory(prefix="kit-otter-batch-") as tmp,
    ):
        stand_in = Path(tmp) / notebook_name(assignment)
        stand_in.write_text(notebook_text(assignment), encoding="utf-8")
        for submission in entries:
            written = Path(tempfile.mkdtemp(dir=tmp))
            try:
                with batch_upload(grader, submission), capture_run_output():
                    graded = otter_run(
                        str(stand_in),
                        autograder=str(autograder),
                        output_dir=str(written),
                        no_logo=True,
                    )
                result = Result.from_json(graded.get_plugin_data(PLUGIN))
                write_atomic(
                    out / "results" / f"{submission.safe_id}.json",
                    (written / "results.json").read_bytes(),
                )
            except Exception as error:  # the kit or otter failed: a row, never a grade
                log.error("otter run on %s failed", submission.student, exc_info=True)
                result = Result(
                    submission.student,
                    assignment.name,
                    assignment.points,
                    status=f"{GRADING_ERROR} ({type(error).__name__} in "
                    "otter run); the instructor was told",
                    notes=list(submission.notes),
                    submission_sha256=submission.sha256 or "",
                )
            rows.append(result)
    write_atomic(out / "gradebook.csv", gradebook_csv(rows, assignment.parts))
    return rows
