"""The one result model of a grading run, and its views.

A grading run yields a :class:`Result`: tests, each with a name, part, score, max score,
output and visibility. The Gradescope ``results.json``, the gradebook row, the feedback page
and the terminal table are views of it, each written here and nowhere else.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Table

    from .course import Assignment

OK = "ok"
GRADING_ERROR = "grading error"  # how a status begins that is the kit's failure, not a grade


@dataclass
class TestResult:
    """One graded test case."""

    __test__ = False  # not a pytest test class

    name: str
    part: str
    score: float
    max_score: float
    output: str = ""
    visibility: str = "visible"  # Gradescope: visible, hidden, after_due_date, after_published

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score

    def explanation(self) -> list[str]:
        """What a short view (the self-check's table) shows of this case's output: its first
        line and the statements after it (a known mistake, a fix: unindented lines), without
        the details (indented lines: frames, printed output, values) and the lines that
        introduce them (ending in ``:``)."""
        first, *rest = self.output.splitlines() or [""]
        return [
            first,
            *(
                line
                for line in rest
                if line.strip() and not line[0].isspace() and not line.rstrip().endswith(":")
            ),
        ]


@dataclass
class Result:
    """One student's grade for one assignment."""

    student: str
    assignment: str
    points: dict[str, int]  # part -> points, in gradebook order
    status: str = OK
    tests: list[TestResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    execution_time: float = 0.0
    student_seconds: float = 0.0  # of execution_time, spent in the student's sandboxed calls
    submission_sha256: str = ""
    metrics: dict[str, float] = field(default_factory=dict)  # figures graders recorded

    @property
    def max_score(self) -> int:
        return sum(self.points.values())

    def part_scores(self) -> dict[str, float]:
        """Part -> points earned (0 for a part with no test run), rounded to 0.01."""
        earned = dict.fromkeys(self.points, 0.0)
        for test in self.tests:
            earned[test.part] += test.score
        return {part: round(score, 2) for part, score in earned.items()}

    @property
    def score(self) -> float:
        return round(sum(self.part_scores().values()), 2)

    def to_json(self) -> dict:
        """Gradescope's ``results.json`` schema, with the kit's own fields under ``extra_data``."""
        return {
            "score": self.score,
            "execution_time": round(self.execution_time, 3),
            "output": self._summary(),
            "tests": [
                {
                    "name": t.name,
                    "score": round(t.score, 6),
                    "max_score": round(t.max_score, 6),
                    "output": t.output,
                    "visibility": t.visibility,
                    "tags": [t.part],
                }
                for t in self.tests
            ],
            "extra_data": {
                "student": self.student,
                "assignment": self.assignment,
                "status": self.status,
                "points": self.points,
                "notes": self.notes,
                "submission_sha256": self.submission_sha256,
                "student_seconds": round(self.student_seconds, 3),
                "parts": self.part_scores(),
                "metrics": self.metrics,
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> Result:
        """Inverse of :meth:`to_json` (for resuming a batch from its results files)."""
        extra = data["extra_data"]
        tests = [
            TestResult(
                t["name"], t["tags"][0], t["score"], t["max_score"], t["output"], t["visibility"]
            )
            for t in data["tests"]
        ]
        return cls(
            extra["student"],
            extra["assignment"],
            extra["points"],
            extra["status"],
            tests,
            extra["notes"],
            data["execution_time"],
            extra["student_seconds"],
            extra["submission_sha256"],
            extra.get("metrics", {}),
        )

    def _summary(self) -> str:
        lines = [f"{self.assignment}: {self.score:g} / {self.max_score}"]
        if self.status != OK:
            lines.append(f"Status: {self.status}")
        lines += self.notes
        return "\n".join(lines)

    def summary_markdown(self) -> str:
        """The score, the status, the notes and the table of parts, as Markdown."""
        parts = self.part_scores()
        out = [f"# {self.assignment}: {self.score:g} / {self.max_score}", ""]
        if self.status != OK:
            out += [f"**Status:** {markdown_text(self.status)}", ""]
        out += [f"- {markdown_text(note)}" for note in self.notes]
        if self.notes:
            out.append("")
        out += ["| part | score | max |", "|---|---:|---:|"]
        out += [f"| {part} | {parts[part]:g} | {points} |" for part, points in self.points.items()]
        return "\n".join(out) + "\n"

    def feedback_markdown(self) -> str:
        """The page the student reads: the summary, then what went wrong in each part."""
        out = [self.summary_markdown().rstrip("\n")]
        for part in self.points:
            failed = [t for t in self.tests if t.part == part and not t.passed]
            if not failed:
                continue
            out += ["", f"## {part}", ""]
            alike: dict[str, list[TestResult]] = {}  # identical feedback is shown once
            for test in failed:
                alike.setdefault(test.output, []).append(test)
            for output, tests in alike.items():
                cases = ", ".join(
                    f"**{markdown_text(t.name)}** ({t.score:.2f} / {t.max_score:.2f})"
                    for t in tests
                )
                same = f": the same for these {len(tests)} cases" if len(tests) > 1 else ""
                out.append(f"- {cases}{same}")
                out += [f"  {line}" for line in markdown_code(output).splitlines()]
        return "\n".join(out) + "\n"

    def report_text(self, *, student: bool = False) -> str:
        """The score on the hidden tests, the status and the notes as plain text, one line
        each (otter's and nbgrader's output); ``student``: with the student's id."""
        lines = [
            f"{self.assignment}: {self.score:g} / {self.max_score} (the course's hidden tests)"
        ]
        if student:
            lines.append(f"student: {self.student}")
        if self.status != OK:
            lines.append(f"status: {self.status}")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def part_text(self, part: str) -> str:
        """One part's score and its failed cases with their feedback, as plain text (the
        output of nbgrader's test cell of that part)."""
        lines = [f"{part}: {self.part_scores()[part]:g} / {self.points[part]}"]
        for test in self.tests:
            if test.part == part and not test.passed:
                lines.append(f"- {test.name} ({test.score:.2f} / {test.max_score:.2f})")
                lines += [f"    {line}" for line in test.output.splitlines()]
        return "\n".join(lines)

    def gradebook_row(self) -> list:
        parts = self.part_scores()
        return [
            self.student,
            f"{self.score:g}",
            self.max_score,
            *(f"{parts[p]:g}" for p in self.points),
            self.status,
        ]


def markdown_text(text: str) -> str:
    """``text`` shown as itself in Markdown and HTML: every character that could start
    markup (emphasis, links, headings, tables, tags, entities) is backslash-escaped."""
    return re.sub(r"([\\`*_\[\]<>#|~&])", r"\\\1", text)


def markdown_code(text: str) -> str:
    """``text`` as a fenced code block: shown verbatim, no Markdown or HTML of its own."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{fence}text\n{text}\n{fence}"


def gradebook_header(parts: list[str]) -> list[str]:
    return ["student", "score", "max_score", *parts, "status"]


def gradebook_csv(results: list[Result], parts: list[str]) -> str:
    """The whole gradebook as CSV text (student ids quoted as CSV requires)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(gradebook_header(parts))
    writer.writerows(r.gradebook_row() for r in results)
    return buffer.getvalue()


def first_failure(failed: list[TestResult], part: str) -> str:
    """The table's cell of a part: its first failed case with the explanation and fix (see
    :meth:`TestResult.explanation`), and how many others failed."""
    if not failed:
        return "-"
    head, *more = failed[0].explanation()
    lines = [f"{failed[0].name}: {head}", *more]
    if len(failed) > 1:
        lines.append(
            f"(and {len(failed) - 1} more failed cases: pytest tests -m {part} shows each)"
        )
    return "\n".join(lines)


def selfcheck_table(
    assignment: Assignment, results: list[TestResult], parts: list[str] | None = None
) -> Table:
    """The self-check's table (a ``rich`` Table): per part, the points earned on the public
    cases and its first failure. Feedback text is never read as markup."""
    from rich.table import Table
    from rich.text import Text

    view = Table(title=f"{assignment.name}: public self-check")
    for column in ("part", "points", "first failure"):
        view.add_column(column)
    for part in parts or assignment.parts:
        cases = [r for r in results if r.part == part]
        failed = [r for r in cases if not r.passed]
        view.add_row(
            part,
            f"{sum(r.score for r in cases):.1f} / {assignment.points[part]}",
            Text(first_failure(failed, part)),
        )
    return view


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` so that a reader sees the old file or the
    new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    if isinstance(data, str):
        data = data.encode("utf-8", "backslashreplace")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
