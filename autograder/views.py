"""The instructor's views of a :class:`~autograder.results.Result`, beside the student's
(``results.py``, which ships in the student archive): Gradescope's ``results.json`` as the
manifest asks for it, and the gradebook as terminal tables (``release grade``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from . import course
from .results import OK, Result, markdown_text

if TYPE_CHECKING:
    from .sandbox import Layer

FAILED = (
    "The autograder could not run on this submission, so it has no grade yet; "
    "your instructor has been told. This is not your score."
)
STATUS_MIN = 20  # narrowest the status column wraps to before it moves to a table of its own


def plural(count: int, noun: str) -> str:
    """``1 submission``, ``2 submissions``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _part_test(result: Result, part: str, number: int, visibility: str) -> dict[str, Any]:
    """One Gradescope test for ``part``: its score, and each case in its output."""
    cases = [t for t in result.tests if t.part == part]
    lines = []
    for case in cases:
        mark = "passed" if case.passed else f"{case.score:.2f} / {case.max_score:.2f}"
        lines.append(f"{case.name.removeprefix(part + ': ')}: {mark}")
        if not case.passed:
            lines += [f"    {line}" for line in case.output.splitlines()]
    return {
        "name": part,
        "number": str(number),
        "score": result.part_scores()[part],
        "max_score": result.points[part],
        "output": "\n".join(lines) or "not run",
        "visibility": visibility,
        "tags": [part],
        "status": "passed" if cases and all(c.passed for c in cases) else "failed",
    }


def results_json(
    result: Result, settings: course.Gradescope, layers: dict[str, Layer]
) -> dict[str, Any]:
    """Gradescope's ``results.json`` for ``result``, as the manifest's settings ask."""
    data = result.to_json()
    if settings.tests == "part":
        data["tests"] = [
            _part_test(result, part, number, settings.visibility)
            for number, part in enumerate(result.points, 1)
        ]
    else:  # the result's own cases (Result.to_json), as the manifest shows them
        for test, case in zip(data["tests"], result.tests, strict=True):
            test.update(
                visibility=settings.visibility, status="passed" if case.passed else "failed"
            )
    data.update(output=result.summary_markdown(), output_format="md", test_output_format="text")
    data["extra_data"]["sandbox_layers"] = {name: layer.active for name, layer in layers.items()}
    leaderboard = [
        {"name": metric, "value": result.metrics[metric], "order": order}
        for metric, order in settings.leaderboard.items()
        if metric in result.metrics
    ]
    if leaderboard:
        data["leaderboard"] = leaderboard
    return data


def failure_json(assignment: course.Assignment, reason: str) -> dict[str, Any]:
    """``results.json`` when the autograder itself failed: no grade, a loud message."""
    return {
        "score": 0.0,
        "output": f"{FAILED}\n\n{markdown_text(reason)}",
        "output_format": "md",
        "tests": [],
        "extra_data": {"assignment": assignment.name, "status": f"grader error: {reason}"},
    }


def tables(assignment: course.Assignment, results: list[Result], width: int) -> list[Table]:
    """The gradebook as terminal tables no wider than ``width``.

    One table when it fits; else the columns (score, the parts, status) are split over
    several tables, each led by the student column, so that every student keeps one line
    per table. Ids, part names and scores are never cut or wrapped (a squeezed table
    misleads); only the status wraps. Only an id wider than ``width`` can overflow it.
    """
    parts = [r.part_scores() for r in results]
    columns = [
        ("score", [f"{r.score:g}" for r in results]),
        *((part, [f"{p[part]:g}" for p in parts]) for part in assignment.parts),
    ]
    statuses = ["[green]ok[/green]" if r.status == OK else escape(r.status) for r in results]

    measure = Console(width=10**6)  # measures cells, never prints

    def cells(header: str, texts: list[str]) -> int:
        """The width of a column: its widest line, in terminal cells."""
        return max(
            Measurement.get(measure, measure.options, Text.from_markup(t)).maximum
            for t in [header, *texts]
        )

    student = cells("student", [escape(r.student) for r in results])
    start = 1 + student + 3  # a column takes its text, a space each side and one border
    chunks: list[list[tuple[str, list[str]]]] = [[]]
    used = start
    for header, texts in columns:
        need = cells(header, texts) + 3
        if chunks[-1] and used + need > width:
            chunks.append([])
            used = start
        chunks[-1].append((header, texts))
        used += need
    status_width = cells("status", statuses)
    room = width - used - 3
    if room < min(status_width, STATUS_MIN):
        chunks.append([])
        room = width - start - 3
    chunks[-1].append(("status", statuses))

    title = f"{assignment.name}: {plural(len(results), 'submission')}"
    views = []
    for number, chunk in enumerate(chunks, start=1):
        view = Table(title=title if len(chunks) == 1 else f"{title} ({number} of {len(chunks)})")
        view.add_column("student", no_wrap=True)
        for header, _ in chunk:
            if header == "status":
                view.add_column(header, overflow="fold", max_width=max(room, STATUS_MIN))
            else:
                view.add_column(header, justify="right", no_wrap=True)
        for row, result in enumerate(results):
            view.add_row(escape(result.student), *(texts[row] for _, texts in chunk))
        views.append(view)
    return views
