"""``python -m release verify``: print what :mod:`autograder.verify` found."""

from __future__ import annotations

from rich.console import Console

from autograder import verify as checks
from autograder.course import Assignment

KINDS = {
    "reference": "reference earns full marks",
    "stubs": "stubs earn nothing",
    "mistake": "known mistakes lose points in their part",
    "equivalent": "equivalent forms earn full marks",
    "mutant": "systematic mutants lose points",
}


def verify(assignment: Assignment, *, mutants: int = 40, jobs: int = 2) -> int:
    """Run the checks and print them; 0 when every entry of MISTAKES.md applies and every
    variant was judged as it must be."""
    console = Console()
    with console.status(f"grading the variants of {assignment.name}"):
        report = checks.verify(assignment, mutants=mutants, jobs=jobs)
    if report.stale:
        console.print(
            f"[red]MISTAKES.md: {len(report.stale)} stale[/red] (no longer applying to the "
            "reference: rebase them)"
        )
        for line in report.stale:
            console.print(f"    stale: {line}", markup=False, highlight=False)
    for kind, label in KINDS.items():
        right, total = report.count(kind)
        colour = "green" if right == total else "red"
        console.print(f"[{colour}]{right}/{total}[/{colour}] {label}")
        for variant, result in report.failures(kind):
            where = (
                f" (part {variant.part}: {result.part_scores()[variant.part]:g})"
                if variant.part
                else ""
            )
            console.print(
                f"    {'survivor' if kind == 'mutant' else 'wrong'}: {variant.name}: "
                f"scored {result.score:g}{where}"
            )
    killed, total = report.count("mistake")
    mutant_killed, mutant_total = report.count("mutant")
    rate = (killed + mutant_killed) / max(total + mutant_total, 1)
    console.print(
        f"kill rate {rate:.1%} ({killed + mutant_killed} of {total + mutant_total} "
        "mistakes and mutants)"
    )
    return 0 if not report.failures() and not report.stale else 1
