"""What the instructor's report shows, read from a graded folder and worked out.

Two kinds of folder are read (:func:`load`):

- the kit's own: ``release grade``'s ``--out`` (``gradebook.csv``, ``results/<id>.json``),
  or nbgrader's ``kit/<a>/`` (``results/`` only). The gradebook, where there is one, is the
  roster and the numbers (every row, in its order); the results add each row's cases.
- a folder of Gradescope ``results.json`` files (one per submission, at any depth, as the
  kit's ``run_autograder`` writes them, with one test per part or per case): each file is
  one row, its numbers from the kit's ``extra_data``.

Everything here is data: nothing is rendered, nothing of a student's is run.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from autograder import course
from autograder.course import Assignment
from autograder.graders_plugin import known_mistake
from autograder.reference_oracle import known_mistakes
from autograder.results import GRADING_ERROR, OK, gradebook_header

MAX_RESULT_BYTES = 8 << 20  # one results file (the kit's are tens of kilobytes)


class ReportError(Exception):
    """The folder cannot be reported on (the instructor's error: wrong folder)."""


@dataclass(frozen=True)
class Case:
    """One graded case of one submission."""

    name: str  # neutral, as in the results: ``adam: updates[case 3]``
    part: str
    passed: bool
    output: str


@dataclass
class Row:
    """One submission: the gradebook's numbers and, where the results hold them, its cases."""

    student: str
    score: float
    max_score: float
    parts: dict[str, float]  # part -> points earned, in gradebook order
    status: str
    cases: list[Case] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    has_results: bool = True


@dataclass
class Graded:
    """A graded folder, read."""

    assignment: Assignment
    rows: list[Row]
    origin: str  # "kit" or "gradescope"
    notes: list[str] = field(default_factory=list)  # what the instructor should know


# ------------------------------------------------------------------------------ reading


def load(folder: Path) -> Graded:
    """Read a graded folder of either kind (module docstring); ``ReportError`` if it is
    neither, or holds no result."""
    if not folder.is_dir():
        raise ReportError(f"{folder} is not a folder")
    if (folder / "results").is_dir() or (folder / "gradebook.csv").is_file():
        return _load_kit(folder)
    files = sorted(p for p in folder.rglob("results.json") if p.is_file())
    if not files:
        raise ReportError(
            f"{folder} holds neither the kit's gradebook.csv and results/ (release grade's "
            "--out) nor Gradescope results.json files"
        )
    return _load_gradescope(folder, files)


def _read_json(path: Path) -> dict:
    if path.stat().st_size > MAX_RESULT_BYTES:
        raise ValueError(f"larger than {MAX_RESULT_BYTES >> 20} MiB")
    data = json.loads(path.read_text("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _assignment(names: Counter[str], where: Path) -> Assignment:
    if not names:
        raise ReportError(f"no result in {where} names its assignment")
    name, _ = names.most_common(1)[0]
    try:
        return course.load(name)
    except KeyError as error:
        raise ReportError(f"{where}: {error.args[0]}") from None


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def _kit_row(data: dict) -> Row:
    """A row from the kit's ``results/<id>.json`` (`Result.to_json`)."""
    extra = data["extra_data"]
    points = {str(part): _number(p) for part, p in extra["points"].items()}
    cases = [
        Case(
            str(t["name"]),
            str(t["tags"][0]),
            _number(t["score"]) >= _number(t["max_score"]),
            str(t["output"]),
        )
        for t in data["tests"]
    ]
    parts = {str(part): _number(s) for part, s in extra["parts"].items()}
    return Row(
        str(extra["student"]),
        _number(data["score"]),
        sum(points.values()),
        parts,
        str(extra["status"]),
        cases,
        {str(k): _number(v) for k, v in extra.get("metrics", {}).items()},
    )


def _load_kit(folder: Path) -> Graded:
    notes: list[str] = []
    by_student: dict[str, Row] = {}
    names: Counter[str] = Counter()
    for path in sorted((folder / "results").glob("*.json")):
        try:
            data = _read_json(path)
            row = _kit_row(data)
            names[str(data["extra_data"]["assignment"])] += 1
        except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
            notes.append(f"results/{path.name} was not read ({type(error).__name__})")
            continue
        by_student[row.student] = row
    gradebook = folder / "gradebook.csv"
    if not gradebook.is_file():  # nbgrader's kit/<a>/: the results are the roster
        return Graded(_assignment(names, folder), list(by_student.values()), "kit", notes)
    with gradebook.open(encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    header, body = table[0], table[1:]
    if not names:
        names.update(a for a in course.names() if gradebook_header(course.load(a).parts) == header)
    assignment = _assignment(names, folder)
    if header != gradebook_header(assignment.parts):
        raise ReportError(f"{gradebook}: its columns are not those of {assignment.name}")
    rows = []
    for cells in body:
        student, score, max_score, *parts, status = cells
        found = by_student.pop(student, None)
        row = Row(
            student,
            float(score),
            float(max_score),
            dict(zip(assignment.parts, map(float, parts), strict=True)),
            status,
            found.cases if found else [],
            found.metrics if found else {},
            has_results=found is not None,
        )
        if found is None and status == OK:
            notes.append(f"{student}: in the gradebook, but no results file of theirs was read")
        rows.append(row)
    if by_student:
        notes.append(
            f"{len(by_student)} results files are of students not in the gradebook (an "
            "earlier run's?) and are left out"
        )
    return Graded(assignment, rows, "kit", notes)


def _gradescope_row(data: dict, path: Path, root: Path) -> tuple[str, Row]:
    """A row from one Gradescope ``results.json`` of the kit (``autograder.gradescope``);
    the student is the one Gradescope's metadata named, else the file's folder."""
    extra = data.get("extra_data", {})
    assignment = str(extra["assignment"])
    student = str(extra.get("student") or path.parent.relative_to(root).as_posix() or path.name)
    status = str(extra.get("status", OK))
    if "points" not in extra:  # failure_json: the autograder failed, no grade
        points = dict(course.load(assignment).points)
        zero = dict.fromkeys(points, 0.0)
        return assignment, Row(student, 0.0, sum(points.values()), zero, status)
    points = {str(p): _number(v) for p, v in extra["points"].items()}
    cases = []
    for test in data["tests"]:
        if "number" in test and str(test["name"]) in points:  # one test per part
            cases += _part_cases(str(test["name"]), str(test["output"]))
        else:
            cases.append(
                Case(
                    str(test["name"]),
                    str(test["tags"][0]),
                    _number(test["score"]) >= _number(test["max_score"]),
                    str(test["output"]),
                )
            )
    row = Row(
        student,
        _number(data["score"]),
        sum(points.values()),
        {str(p): _number(s) for p, s in extra["parts"].items()},
        status,
        cases,
        {str(k): _number(v) for k, v in extra.get("metrics", {}).items()},
    )
    return assignment, row


def _part_cases(part: str, output: str) -> list[Case]:
    """The cases of one per-part Gradescope test, from its output (`_part_test` writes a
    line ``<case>: passed`` or ``<case>: <score> / <max>`` per case, its feedback under it
    indented by four spaces)."""
    cases: list[tuple[str, bool, list[str]]] = []
    for line in output.splitlines():
        if line.startswith("    ") and cases:
            cases[-1][2].append(line[4:])
        elif ": " in line:
            name, mark = line.rsplit(": ", 1)
            cases.append((f"{part}: {name}", mark == "passed", []))
    return [Case(name, part, passed, "\n".join(lines)) for name, passed, lines in cases]


def _load_gradescope(folder: Path, files: list[Path]) -> Graded:
    notes, rows = [], []
    names: Counter[str] = Counter()
    for path in files:
        try:
            assignment, row = _gradescope_row(_read_json(path), path, folder)
        except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
            notes.append(f"{path.relative_to(folder)} was not read ({type(error).__name__})")
            continue
        names[assignment] += 1
        rows.append(row)
    chosen = _assignment(names, folder)
    if len(names) > 1:
        notes.append(f"results of other assignments than {chosen.name} are left out")
    rows = [row for row in rows if list(row.parts) == chosen.parts]
    return Graded(chosen, rows, "gradescope", notes)


# ----------------------------------------------------------------------------- working out


def part_bins(score: float, points: float) -> int:
    """0: nothing, 1: below half, 2: half or more, 3: full marks."""
    if score >= points:
        return 3
    if score <= 0:
        return 0
    return 1 if score < points / 2 else 2


def score_bins(rows: list[Row], max_score: float, bins: int = 10) -> list[int]:
    """Counts of total scores in ``bins`` equal bins of [0, max]; full marks in the last."""
    counts = [0] * bins
    for row in rows:
        share = row.score / max_score if max_score else 0.0
        counts[min(int(share * bins), bins - 1)] += 1
    return counts


@dataclass(frozen=True)
class PartStats:
    part: str
    points: int
    mean: float
    median: float
    full: int
    zero: int
    bins: tuple[int, ...]  # part_bins counts


def part_stats(graded: Graded) -> list[PartStats]:
    """Each part's numbers over every row of the gradebook, in its order."""
    stats = []
    for part, points in graded.assignment.points.items():
        scores = [row.parts[part] for row in graded.rows] or [0.0]
        bins = Counter(part_bins(s, points) for s in scores if graded.rows)
        stats.append(
            PartStats(
                part,
                points,
                statistics.fmean(scores),
                statistics.median(scores),
                bins[3],
                bins[0],
                tuple(bins[i] for i in range(4)),
            )
        )
    return stats


def _graded_rows(graded: Graded) -> list[Row]:
    return [row for row in graded.rows if row.status == OK and row.has_results]


@dataclass(frozen=True)
class Mistake:
    """A known mistake the results name, and who made it."""

    name: str
    part: str
    why: str
    students: tuple[str, ...]
    example: str  # the first line of one diagnosed case's feedback


@dataclass(frozen=True)
class PartMistakes:
    part: str
    lost: int  # students whose code answered some case of this part wrongly
    undiagnosed: tuple[str, ...]  # of those, the ones no known mistake explains
    mistakes: tuple[Mistake, ...]  # most students first


def diagnoses(row: Row, part: str, names: list[str]) -> dict[str, list[Case]]:
    """Known mistake (of ``names``, the part's) -> the failed cases of ``row`` whose feedback
    names it (`known_mistake`'s words, in a line the kit wrote: what the student's code
    printed and its traceback are indented)."""
    found: dict[str, list[Case]] = {}
    for case in row.cases:
        if case.part != part or case.passed:
            continue
        lines = [line for line in case.output.splitlines() if line[:1].strip()]
        for name in names:
            if any(known_mistake(name, "") in line for line in lines):
                found.setdefault(name, []).append(case)
    return found


def mistakes(graded: Graded) -> list[PartMistakes]:
    """Per part, in gradebook order: the known mistakes the results name, with their
    students, and who answered some case wrongly with no known mistake named (a stub's
    ``not implemented``, a skipped case or a case in trouble is no answer)."""
    known = [m for m in known_mistakes(graded.assignment) if m.is_mistake]
    rows = _graded_rows(graded)
    out = []
    for part, points in graded.assignment.points.items():
        entries = [m for m in known if m.part == part]
        names = [m.name for m in entries]
        made: dict[str, list[tuple[str, Case]]] = {name: [] for name in names}
        lost, undiagnosed = 0, []
        for row in rows:
            answered = [c for c in row.cases if c.part == part and _attempted(c)]
            if row.parts[part] >= points or not any(not c.passed for c in answered):
                continue
            lost += 1
            found = diagnoses(row, part, names)
            for name, cases in found.items():
                made[name].append((row.student, cases[0]))
            if not found:
                undiagnosed.append(row.student)
        listed = [
            Mistake(
                entry.name,
                part,
                entry.why,
                tuple(student for student, _ in made[entry.name]),
                made[entry.name][0][1].output.splitlines()[0],
            )
            for entry in entries
            if made[entry.name]
        ]
        listed.sort(key=lambda m: -len(m.students))
        out.append(PartMistakes(part, lost, tuple(undiagnosed), tuple(listed)))
    return out


@dataclass(frozen=True)
class HardCase:
    name: str
    part: str
    failed: int
    ran: int  # graded submissions whose code answered this case


def hardest_cases(graded: Graded, limit: int = 10) -> list[HardCase]:
    """The cases failed by the most graded submissions whose code answered them (a stub's
    ``not implemented`` or a skipped case is no answer), most first."""
    failed: Counter[str] = Counter()
    ran: Counter[str] = Counter()
    parts: dict[str, str] = {}
    for row in _graded_rows(graded):
        for case in row.cases:
            if not _attempted(case):
                continue
            ran[case.name] += 1
            parts[case.name] = case.part
            failed[case.name] += not case.passed
    order = sorted((n for n in failed if failed[n]), key=lambda n: (-failed[n], n))
    return [HardCase(n, parts[n], failed[n], ran[n]) for n in order[:limit]]


# What a case's feedback begins with when the code did not simply answer wrong: a human
# should look at those submissions. Matched on the first line, written by the kit.
TROUBLE = (
    (
        "timeout",
        (
            "time limit exceeded",
            "CPU time limit exceeded",
            "training ran out of time",
            "not run: this submission used up its total time",
        ),
    ),
    ("memory", ("memory limit exceeded",)),
    ("refused", ("crashed with signal SIGSYS", "your code raised PermissionError")),
    ("crash", ("crashed with signal",)),
    ("exit", ("your code exited the process",)),
    (
        "output",
        (
            "invalid output",
            "the call ended without a result record",
            "the call's result could not be written",
            "invalid result record",
        ),
    ),
    ("grader error", ("internal grader error",)),
)


def trouble(case: Case) -> str | None:
    """The kind of trouble (`TROUBLE`) a failed case's feedback reports, if any."""
    if case.passed:
        return None
    first = case.output.split("\n", 1)[0]
    return next((kind for kind, heads in TROUBLE if first.startswith(heads)), None)


def _attempted(case: Case) -> bool:
    """The student's code ran on this case and answered: not a stub, not skipped, no
    trouble (those submissions are listed for a human instead)."""
    return not case.output.startswith(("not implemented yet", "not run:")) and not trouble(case)


@dataclass(frozen=True)
class Attention:
    """A submission a human should look at, and why."""

    student: str
    status: str
    kinds: tuple[tuple[str, int, str], ...]  # (kind, cases, first such case's name)


def needs_a_human(graded: Graded) -> list[Attention]:
    """Submissions whose status is not ``ok`` (nothing graded, or the kit failed), whose
    results are missing, or with cases that timed out, crashed, exited, ran out of memory,
    were refused by the sandbox or met a grader error."""
    out = []
    for row in graded.rows:
        kinds: dict[str, list[str]] = {}
        for case in row.cases:
            kind = trouble(case)
            if kind:
                kinds.setdefault(kind, []).append(case.name)
        if row.status == OK and row.has_results and not kinds:
            continue
        out.append(
            Attention(
                row.student,
                row.status if row.has_results or row.status != OK else "no results file",
                tuple((kind, len(names), names[0]) for kind, names in kinds.items()),
            )
        )
    kit_failed = [a for a in out if a.status.startswith(GRADING_ERROR)]
    return kit_failed + [a for a in out if a not in kit_failed]


@dataclass(frozen=True)
class TrainingPoint:
    student: str
    accuracy: float
    seconds: float
    over: bool  # ran out of the budget


@dataclass(frozen=True)
class Training:
    points: tuple[TrainingPoint, ...]
    no_result: tuple[str, ...]  # attempted, but no accuracy (a timeout, a crash)
    threshold: float
    budget: float


def training(graded: Graded) -> Training | None:
    """The ``training`` part's accuracy against time for each graded submission that
    reached one (the recorded metrics, else what the feedback reports), with the course's
    threshold and budget; None for an assignment without that part."""
    if "training" not in graded.assignment.points:
        return None
    from autograder.training import load_trainer, reached

    trainer = load_trainer(graded.assignment.stub_dir / "trainer.py")
    points, none = [], []
    for row in _graded_rows(graded):
        cases = [c for c in row.cases if c.part == "training" and _attempted(c)]
        if not cases:
            continue
        metrics = row.metrics
        if "test accuracy" in metrics and "training seconds" in metrics:
            points.append(
                TrainingPoint(
                    row.student, metrics["test accuracy"], metrics["training seconds"], False
                )
            )
            continue
        case = next((c for c in cases if reached(c.output)), None)
        if case is None:
            none.append(row.student)
            continue
        accuracy, seconds = reached(case.output) or (0.0, 0.0)
        over = case.output.startswith("training ran out of time")
        points.append(TrainingPoint(row.student, accuracy, seconds, over))
    return Training(tuple(points), tuple(none), trainer.ACCURACY_THRESHOLD, trainer.TIME_BUDGET_S)
