"""Where one submission's grading time goes, per assignment (reference submissions, -j 1).

    python -m benchmarks.overhead_profile [--copies 20]

One grader (sandbox, oracle) grades ``--copies`` reference submissions after a warm-up one
(which fills the reference answers). Each sandboxed call is timed in the parent and split
with what the zygote and the child measured:

* student compute: the probes' own time in the child (the student's code, the package
  import on the first call of a child);
* child overhead: the call as the zygote saw it (continue to stop) minus that: global
  state reset, reading inputs and writing outputs in the child;
* parent and supervisor: the call as the parent saw it minus the call in the zygote:
  writing inputs, two control round trips, reading outputs, deleting the call folder;
* graders and pytest: the rest of the submission (pytest's session, the hidden graders'
  own work, the comparisons), and of that the fixed cost of a pytest session with no test
  selected;
* outside training: the submission's time but its ``training`` call (cnn).

Timings are medians per submission, in milliseconds; calls per submission are printed too.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

from autograder import course, intake
from autograder.batch import Grader
from autograder.grading import Context, GradingPlugin
from autograder.runner import GRADERS, run_graders
from autograder.sandbox import Session

from .submissions import submissions, write


class Recorder:
    """Wraps ``Session.run`` to add up, per submission, what each call cost."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.original = Session.run

    def __enter__(self) -> Recorder:
        recorder = self

        def run(session, probe, inputs, timeout):
            started = time.perf_counter()
            outcome = recorder.original(session, probe, inputs, timeout)
            parent = time.perf_counter() - started
            recorder.add(
                calls=1,
                student=outcome.probe_seconds,
                child=outcome.wall - outcome.probe_seconds,
                parent=parent - outcome.wall,
            )
            if probe.endswith(":training"):
                recorder.add(training=parent)
            return outcome

        Session.run = run
        return self

    def __exit__(self, *exc: object) -> None:
        Session.run = self.original

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
        grader = Grader(assignment)
        try:
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
                        "graders": total - t["student"] - t["child"] - t["parent"],
                        "outside_training": total - t.get("training", 0.0),
                    }
                )
        finally:
            grader.close()
    figures = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
    figures["pytest_session"] = pytest_session_cost(assignment)
    return figures


def print_profile(figures: dict[str, dict[str, float]]) -> None:
    print("median ms per reference submission, -j 1, after a warm-up submission")
    print(
        f"{'assignment':10s} {'total':>7s} {'student':>8s} {'overhead':>9s} | "
        f"{'child':>6s} {'parent':>7s} {'graders':>8s} {'(pytest)':>9s} {'calls':>6s} "
        f"{'outside training':>17s}"
    )
    for name, f in figures.items():
        print(
            f"{name:10s} {f['total'] * 1e3:7.1f} {f['student'] * 1e3:8.1f} "
            f"{(f['total'] - f['student']) * 1e3:9.1f} | {f['child'] * 1e3:6.1f} "
            f"{f['parent'] * 1e3:7.1f} {f['graders'] * 1e3:8.1f} "
            f"{f['pytest_session'] * 1e3:9.1f} {f['calls']:6.0f} "
            f"{f['outside_training'] * 1e3:17.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=20)
    args = parser.parse_args()
    print_profile({name: profile(course.load(name), args.copies) for name in course.names()})


if __name__ == "__main__":
    main()
