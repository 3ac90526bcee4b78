"""Grading a folder of submissions into a gradebook.

Every entry of the folder gets a row, whatever it is or does. Results are written as each
submission finishes (atomically), so an interrupted batch resumes where it stopped: a
finished result is kept unless its submission changed or a regrade is asked for.

Workers come from a fork server that imported the engine but never ran a torch operation
(a fork after one can deadlock the child's first torch call), whatever the calling process
did before; each owns one sandbox (a zygote that forks a confined child per submission) and its
own reference oracle.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import multiprocessing.util
import os
import tempfile
import traceback
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from . import course, intake
from .course import Assignment
from .gradebook_xlsx import gradebook_xlsx
from .intake import Submission
from .results import GRADING_ERROR, Result, gradebook_csv, write_atomic

log = logging.getLogger(__name__)
ALLOW_UNCONFINED = "KIT_ALLOW_UNCONFINED"  # "1": the Jupyter roads grade without confinement


@dataclass(frozen=True)
class Paths:
    """Where a batch writes: ``gradebook.csv`` (and ``gradebook.xlsx``, its view for Excel),
    ``results/<id>.json``, ``feedback/<id>.md``."""

    out: Path

    @property
    def gradebook(self) -> Path:
        return self.out / "gradebook.csv"

    @property
    def gradebook_xlsx(self) -> Path:
        return self.out / "gradebook.xlsx"

    def result(self, submission: Submission) -> Path:
        return self.out / "results" / f"{submission.safe_id}.json"

    def feedback(self, submission: Submission) -> Path:
        return self.out / "feedback" / f"{submission.safe_id}.md"


def finished(paths: Paths, submission: Submission) -> Result | None:
    """The result already written for this very submission (same content, read the same
    way: status and intake notes), if any."""
    try:
        result = Result.from_json(json.loads(paths.result(submission).read_text("utf-8")))
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    same = (
        result.student == submission.student
        and result.submission_sha256 == (submission.sha256 or "")
        and result.status == submission.status
        and result.notes[: len(submission.notes)] == submission.notes
    )
    return result if same else None


def save(paths: Paths, result: Result, submission: Submission) -> None:
    write_atomic(
        paths.result(submission), json.dumps(result.to_json(), indent=1, ensure_ascii=False)
    )
    write_atomic(paths.feedback(submission), result.feedback_markdown())


class SubmissionGrader:
    """Grades submissions of one assignment in this process (one sandbox, one oracle)."""

    def __init__(
        self,
        assignment: Assignment,
        slot: int = 0,
        allow_unconfined: bool = False,
        workdir: str | None = None,
    ):
        from .graders import HIDDEN_SEED
        from .reference_oracle import ReferenceOracle
        from .sandbox import Sandbox

        self.assignment = assignment
        self.seed = HIDDEN_SEED
        self.oracle = ReferenceOracle(assignment)
        self.sandbox = Sandbox(
            preload=("torch",) if assignment.needs_torch else (),
            probes=(f"autograder.probes.{assignment.name}",),
            slot=slot,
            allow_unconfined=allow_unconfined,
            workdir=workdir,
        )
        self.sandbox.start()

    def grade(self, submission: Submission) -> Result:
        """Grade one submission; an engine failure still yields a result, with its reason."""
        from .hidden_grading import grade_submission

        try:
            return grade_submission(
                submission, self.assignment, self.sandbox, self.oracle, self.seed
            )
        except Exception as error:
            log.error("grading %s failed:\n%s", submission.student, traceback.format_exc())
            return Result(
                submission.student,
                self.assignment.name,
                self.assignment.points,
                status=f"{GRADING_ERROR} ({type(error).__name__}); the instructor was told",
                notes=list(submission.notes),
                submission_sha256=submission.sha256 or "",
            )

    def close(self) -> None:
        self.sandbox.close()


def unconfined_allowed() -> bool:
    """Whether the environment allows grading without confinement (``KIT_ALLOW_UNCONFINED=1``,
    set in the course's ``nbgrader_config.py`` or around ``otter run``)."""
    return os.environ.get(ALLOW_UNCONFINED) == "1"


@contextlib.contextmanager
def grading(
    assignment: Assignment,
    *,
    slot: int = 0,
    allow_unconfined: bool = False,
    workdir: str | None = None,
) -> Iterator[SubmissionGrader]:
    """The one way every road (``release grade``, Gradescope, nbgrader, otter) grades: a
    :class:`SubmissionGrader` whose ``grade(submission)`` grades one submission, closed on exit.
    Raises ``SandboxError`` when the sandbox cannot start (or only unconfined, unless
    ``allow_unconfined``)."""
    grader = SubmissionGrader(assignment, slot, allow_unconfined, workdir)
    try:
        yield grader
    finally:
        grader.close()


_worker: SubmissionGrader | None = None


def _start_worker(
    name: str, slots: multiprocessing.Queue, allow_unconfined: bool, workdir: str
) -> None:
    global _worker
    stack = contextlib.ExitStack()
    _worker = stack.enter_context(
        grading(
            course.load(name),
            slot=slots.get(),
            allow_unconfined=allow_unconfined,
            workdir=workdir,
        )
    )
    # close the sandbox (its zygote and folders) when the pool shuts this worker down
    multiprocessing.util.Finalize(_worker, stack.close, exitpriority=10)


def _grade_in_worker(submission: Submission) -> Result:
    assert _worker is not None
    return _worker.grade(submission)


def _results(
    assignment: Assignment, todo: list[Submission], jobs: int, allow_unconfined: bool
) -> Iterator[tuple[Submission, Result]]:
    """Grade ``todo`` with ``jobs`` workers, yielding each result as it is ready.

    A worker lost mid-batch (a signal, the out-of-memory killer) breaks its pool: the
    submissions it left unfinished are graded again by a fresh pool, then, should that
    break too, one at a time, each in a pool of its own; one that still takes its worker
    down gets a ``grading error`` row. Every submission gets its result.
    """
    if not todo:
        return
    if jobs <= 1:
        with grading(assignment, allow_unconfined=allow_unconfined) as grader:
            for submission in todo:
                yield submission, grader.grade(submission)
        return
    lost = yield from _pool_results(assignment, todo, jobs, allow_unconfined)
    if lost:  # once more, all together
        lost = yield from _pool_results(assignment, lost, jobs, allow_unconfined)
    for submission in lost:  # again: one at a time, so that only the culprit is lost
        for gone in (yield from _pool_results(assignment, [submission], 1, allow_unconfined)):
            yield gone, _lost(assignment, gone)


def _pool_results(
    assignment: Assignment, todo: list[Submission], jobs: int, allow_unconfined: bool
) -> Generator[tuple[Submission, Result], None, list[Submission]]:
    """One pool of ``jobs`` workers over ``todo``: yields the results it finishes and
    returns the submissions left unfinished when a worker died."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["autograder.batch"])
    slots = context.Queue()
    for slot in range(jobs):
        slots.put(slot)
    lost = []
    # the workers' sandboxes live here: a worker killed mid-batch leaves its folder (and
    # the copies of students' modules in it) to this process to remove
    with tempfile.TemporaryDirectory(prefix="kit-batch-") as workdir:
        os.chmod(workdir, 0o711)  # the sandbox uid reaches its sandbox's folder through it
        with ProcessPoolExecutor(
            jobs,
            mp_context=context,
            initializer=_start_worker,
            initargs=(assignment.name, slots, allow_unconfined, workdir),
        ) as pool:
            futures = {pool.submit(_grade_in_worker, submission): submission for submission in todo}
            for future in as_completed(futures):
                try:
                    result = future.result()
                except BrokenProcessPool:
                    lost.append(futures[future])
                    continue
                yield futures[future], result
    if lost:
        log.error("a grading worker died; %d submissions to grade again", len(lost))
    return sorted(lost, key=todo.index)


def _lost(assignment: Assignment, submission: Submission) -> Result:
    """The row of a submission whose grading worker died every time."""
    return Result(
        submission.student,
        assignment.name,
        assignment.points,
        status=f"{GRADING_ERROR} (its grading worker died three times); regrade with --student",
        notes=list(submission.notes),
        submission_sha256=submission.sha256 or "",
    )


def grade_folder(
    assignment: Assignment,
    submissions: Path,
    out: Path,
    *,
    jobs: int = 1,
    students: list[str] | None = None,
    regrade: bool = False,
    allow_unconfined: bool = False,
    progress: Callable[[Submission, Result], None] | None = None,
    planned: Callable[[list[Submission], int], None] | None = None,
) -> list[Result]:
    """Grade every submission in ``submissions`` and write the batch's files under ``out``.

    A submission whose result is already written (same content) is kept, not graded again,
    unless ``regrade`` is set or its student is one of ``students``. Every submission gets
    a gradebook row. ``planned(submissions, kept)`` is called once the folder is read (one
    submission per student, see `intake.collect`; ``kept`` of them are not graded again),
    before anything is graded or written (it may raise to stop the batch there);
    ``progress`` after each graded submission. Raises ``IntakeError`` for a missing folder.
    """
    paths = Paths(out)
    entries = intake.collect(submissions, assignment)
    chosen = set(students or ())
    results: dict[str, Result] = {}
    for submission in entries:
        fresh = regrade or submission.student in chosen
        kept = None if fresh else finished(paths, submission)
        if kept is not None:
            results[submission.safe_id] = kept
    todo = [s for s in entries if s.safe_id not in results]
    if planned:
        planned(entries, len(results))
    for submission, result in _results(assignment, todo, jobs, allow_unconfined):
        try:
            save(paths, result, submission)
        except (OSError, ValueError) as error:  # e.g. text the file system refuses
            log.error("saving %s failed: %s", submission.safe_id, error)
            result.status = f"{GRADING_ERROR} ({type(error).__name__} writing the results)"
        results[submission.safe_id] = result
        if progress:
            progress(submission, result)
    rows = [results[s.safe_id] for s in entries]
    write_atomic(paths.gradebook, gradebook_csv(rows, assignment.parts))
    write_atomic(paths.gradebook_xlsx, gradebook_xlsx(rows, assignment.name, assignment.parts))
    return rows
