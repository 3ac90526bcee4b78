"""Grading throughput: K copies each of a reference, a buggy and a stub submission, graded
at -j 1 and -j 2, per assignment. A script, not a test (timings are noisy here).

    python benchmarks/grading_speed.py [--copies 4] [--kinds reference buggy stub] [--json F]

Reports per submission the median wall time (in the batch) and the grading overhead, the
wall time minus the student's own compute (the sandboxed children's wall time); the batch
time per submission at -j 1 and -j 2 and the speed-up; and each worker's peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

from autograder import batch, course
from autograder.reference import known_mistakes, module_files

BUGGY = {"cnn": "conv2d-flipped-kernel", "optim_reg": "adam-no-bias-correction"}


KINDS = ("reference", "buggy", "stub")


def submissions(assignment: course.Assignment, folder: Path, copies: int,
                kinds: list[str]) -> None:
    reference = module_files(assignment)
    [mistake] = [m for m in known_mistakes(assignment) if m.name == BUGGY[assignment.name]]
    sources = {"reference": reference, "buggy": mistake.apply(reference),
               "stub": {n: (assignment.stub_dir / n).read_text() for n in assignment.graded}}
    for kind in kinds:
        files = sources[kind]
        for copy in range(copies):
            package = folder / f"{kind}-{copy}" / assignment.package
            package.mkdir(parents=True)
            for name in assignment.graded:
                (package / name).write_text(files[name], encoding="utf-8")


def measure(assignment: course.Assignment, copies: int, kinds: list[str]) -> dict:
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        submissions(assignment, folder, copies, kinds)
        count = len(kinds) * copies
        for jobs in (1, 2):
            started = time.perf_counter()
            results = batch.grade_folder(assignment, folder, Path(tmp) / f"out{jobs}",
                                         jobs=jobs, regrade=True)
            wall = time.perf_counter() - started
            per = {kind: statistics.median(r.execution_time for r in results
                                           if r.student.startswith(kind))
                   for kind in kinds}
            overhead = statistics.median(r.execution_time - r.student_seconds for r in results)
            figures[f"j{jobs}"] = {"batch_seconds": wall, "per_submission": wall / count,
                                   "median_execution": per, "median_overhead": overhead}
    figures["speedup_j2"] = figures["j1"]["per_submission"] / figures["j2"]["per_submission"]
    figures["worker_peak_rss_mib"] = resource.getrusage(
        resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = {name: measure(course.load(name), args.copies, args.kinds)
              for name in course.names()}
    for name, figures in report.items():
        print(f"{name}:")
        for jobs in ("j1", "j2"):
            f = figures[jobs]
            kinds = ", ".join(f"{k} {v:.2f} s" for k, v in f["median_execution"].items())
            print(f"  -{jobs[0]} {jobs[1]}: {f['per_submission']:.2f} s per submission in the "
                  f"batch; median grading time {kinds}; overhead {f['median_overhead']:.3f} s")
        print(f"  speed-up at -j 2: {figures['speedup_j2']:.2f}x; peak memory of a worker or "
              f"its children: {figures['worker_peak_rss_mib']:.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
