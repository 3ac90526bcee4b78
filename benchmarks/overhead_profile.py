"""Where one submission's grading time goes, per assignment (reference submissions, -j 1).

    python -m benchmarks.overhead_profile [--copies 20]

One grader (sandbox, oracle) grades ``--copies`` reference submissions after a warm-up one
(which fills the reference answers and makes the call plan). Each sandbox request (one
call, or several cases of a part: :mod:`autograder.ahead`) is timed in the parent and
split with what the child measured:

* student compute: the probes' own time in the child (the student's code, the package
  import on the first call of a child);
* child overhead: the calls' time from the request (or the previous call's "done") to
  their "done", minus that: global state reset, reading inputs and writing outputs in the
  child;
* parent and supervisor: the request as the parent saw it minus its calls: starting the
  child (fork and confinement, once per submission), writing inputs, stopping the child,
  reading outputs, deleting the call folders;
* graders: the rest of the submission (the hidden graders' own work: making each case's
  inputs, the comparisons, the feedback); beside it, what a pytest session of the graders
  that selects no test costs (its start and collection), which grading pays once per
  process (:class:`autograder.pytest_runs.HiddenGraders` collects once, then calls each
  case itself);
* outside training: the submission's time but its ``training`` call (cnn).

Timings are medians per submission, in milliseconds; calls and requests per submission are
printed too.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

from autograder import course, intake
from autograder.batch import grading
from autograder.graders_plugin import Context, GradingPlugin
from autograder.pytest_runs import GRADERS, run_graders
from autograder.sandbox import Session

from .submissions import submissions, write


class Recorder:
    """Wraps ``Session.run_many`` (every request: one call, or several cases) to add up,
    per submission, what each request cost."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.original = Session.run_many

    def __enter__(self) -> Recorder:
        recorder = self

        def run_many(session, calls, time_left=None):
            started = time.perf_counter()
            outcomes = recorder.original(session, calls, time_left)
            parent = time.perf_counter() - started
            student = sum(outcome.probe_seconds for outcome in outcomes)
            wall = sum(outcome.wall for outcome in outcomes)
            recorder.add(
                requests=1,
                calls=len(outcomes),
                student=student,
                child=wall - student,
                parent=parent - wall,
            )
            if any(probe.endswith(":training") for probe, _, _ in calls):
                recorder.add(training=parent)
            return outcomes

        Session.run_many = run_many
        return self

    def __exit__(self, *exc: object) -> None:
        Session.run_many = self.original

    def add(self, **amounts: float) -> None:
        for key, value in amounts.items():
            self.totals[key] = self.totals.get(key, 0.0) + value


def pytest_session_cost(assignment: course.Assignment, rounds: int = 9) -> float:
    """Seconds of a pytest run of the graders that selects no test."""
    samples = []
    for _ in range(rounds):
        plugin = GradingPlugin(Context(None, None, hidden=True, seed=0), assignment.points)
        started = time.perf_counter()
        with contextlib.suppress(RuntimeError):  # "no tests collected" is the point here
            run_graders(GRADERS / assignment.name, plugin, select="no_such_part")
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def profile(assignment: course.Assignment, copies: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        folder = Path(tmp)
        subs = submissions(assignment, copies + 1, ["reference"])
        write(assignment, subs, folder)
        entries = intake.collect(folder, assignment)
        with grading(assignment) as grader:
            grader.grade(entries[0])  # warm: reference answers, first imports
            rows = []
            for entry in entries[1:]:
                with Recorder() as recorder:
                    started = time.perf_counter()
                    result = grader.grade(entry)
                    total = time.perf_counter() - started
                assert result.score == assignment.max_score, result.score
                t = recorder.totals
                rows.append(
                    {
                        "total": total,
                        "student": t["student"],
                        "child": t["child"],
                        "parent": t["parent"],
                        "calls": t["calls"],
                        "requests": t["requests"],
                        "graders": total - t["student"] - t["child"] - t["parent"],
                        "outside_training": total - t.get("training", 0.0),
                    }
                )
    figures = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
    figures["pytest_session"] = pytest_session_cost(assignment)
    return figures


def print_profile(figures: dict[str, dict[str, float]]) -> None:
    print("median ms per reference submission, -j 1, after a warm-up submission")
    print(
        f"{'assignment':10s} {'total':>7s} {'student':>8s} {'overhead':>9s} | "
        f"{'child':>6s} {'parent':>7s} {'graders':>8s} {'(once)':>9s} {'calls':>6s} "
        f"{'requests':>9s} {'outside training':>17s}"
    )
    for name, f in figures.items():
        print(
            f"{name:10s} {f['total'] * 1e3:7.1f} {f['student'] * 1e3:8.1f} "
            f"{(f['total'] - f['student']) * 1e3:9.1f} | {f['child'] * 1e3:6.1f} "
            f"{f['parent'] * 1e3:7.1f} {f['graders'] * 1e3:8.1f} "
            f"{f['pytest_session'] * 1e3:9.1f} {f['calls']:6.0f} {f['requests']:9.0f} "
            f"{f['outside_training'] * 1e3:17.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=20)
    args = parser.parse_args()
    print_profile({name: profile(course.load(name), args.copies) for name in course.names()})


if __name__ == "__main__":
    main()
