"""Grading throughput of the kit, side by side with nbgrader and otter. A script, not a test
(timings are noisy here: compare the ratios of one run).

    python -m benchmarks.grading_speed [--copies 4] [--kinds reference buggy stub]
                                       [--scale 8 16 32] [--no-jupyter] [--json F]

Per assignment, K copies each of a reference, a buggy (one known mistake) and a stub
submission, graded in this process at -j 1 and -j 2 (a fresh batch each time):

* the batch time per submission and the speed-up at -j 2;
* the median time of one submission (per kind) and the grading overhead: that time minus
  the student's own compute (the probes' time, measured in the sandboxed child);
* the peak memory of a worker and its sandbox, to size a bigger machine;
* scale: reference copies of optim_reg in batches of growing size at -j 2: the time per
  submission stays flat when the batch time grows linearly.

Then, on the same optim_reg submissions, each grading path the way an instructor runs it
(start-up included): ``release grade`` at -j 1 and -j 2, ``nbgrader autograde`` and
``otter run`` (one process per submission), with the ratios and whether every total agrees
(needs the ``nbgrader`` and ``otter`` extras; ``--no-jupyter`` skips them).

Last, where one submission's time goes (:mod:`benchmarks.overhead_profile`), the reference
kernels against torch (:mod:`benchmarks.kernels`, in a process of its own: one thread for
both libraries from the start) and each goal of issues 7 and 12 with its figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder import batch, course

from . import jupyter_paths, overhead_profile
from .submissions import KINDS, submissions, write


def in_process(assignment: course.Assignment, subs: dict, jobs: int, work: Path) -> dict:
    """Grade ``subs`` with ``batch.grade_folder`` (this process and its workers)."""
    folder = work / f"subs-{len(subs)}"
    if not folder.exists():
        write(assignment, subs, folder)
    started = time.perf_counter()
    results = batch.grade_folder(
        assignment, folder, work / f"out-{len(subs)}-j{jobs}", jobs=jobs, regrade=True
    )
    wall = time.perf_counter() - started
    kinds = sorted({r.student.rpartition("-")[0] for r in results})
    return {
        "batch_s": wall,
        "per_submission_s": wall / len(results),
        "median_submission_s": {
            k: statistics.median(
                r.execution_time for r in results if r.student.rpartition("-")[0] == k
            )
            for k in kinds
        },
        "median_student_s": statistics.median(r.student_seconds for r in results),
        "median_overhead_s": statistics.median(
            r.execution_time - r.student_seconds for r in results
        ),
    }


def measure(assignment: course.Assignment, copies: int, kinds: list[str], work: Path) -> dict:
    subs = submissions(assignment, copies, kinds)
    figures = {f"j{jobs}": in_process(assignment, subs, jobs, work) for jobs in (1, 2)}
    figures["speedup_j2"] = figures["j1"]["batch_s"] / figures["j2"]["batch_s"]
    return figures


def scale(sizes: list[int], work: Path) -> dict[str, float]:
    """Seconds per submission at -j 2 for batches of ``sizes`` optim_reg references."""
    optim = course.load("optim_reg")
    return {
        str(n): in_process(optim, submissions(optim, n, ["reference"]), 2, work / f"scale-{n}")[
            "per_submission_s"
        ]
        for n in sizes
    }


def jupyter(subs: dict, work: Path) -> dict:
    """Each path on the same optim_reg submissions, whole processes, and the ratios."""
    n = len(subs)
    rows = {}
    for jobs in (1, 2):
        wall, scores = jupyter_paths.native(subs, work, jobs)
        rows[f"release grade -j {jobs}"] = {"per_submission_s": wall / n, "scores": scores}
    wall, scores = jupyter_paths.nbgrader(subs, work)
    rows["nbgrader autograde"] = {"per_submission_s": wall / n, "scores": scores}
    walls, scores = jupyter_paths.otter(subs, work)
    rows["otter run"] = {"per_submission_s": sum(walls) / n, "scores": scores}
    want = rows["release grade -j 1"]["scores"]
    for row in rows.values():
        row["agrees"] = all(abs(row["scores"].get(s, -1) - want[s]) < 1e-6 for s in want)
    for jobs in (1, 2):
        ours = rows[f"release grade -j {jobs}"]["per_submission_s"]
        for peer in ("nbgrader autograde", "otter run"):
            rows[peer][f"ratio_to_j{jobs}"] = rows[peer]["per_submission_s"] / ours
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument(
        "--scale",
        type=int,
        nargs="*",
        default=[8, 16, 32],
        help="optim_reg batch sizes for the scaling row (none: skip)",
    )
    parser.add_argument("--no-jupyter", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        work = Path(tmp)
        for name in course.names():
            report[name] = measure(course.load(name), args.copies, args.kinds, work / name)
        report["worker_peak_rss_mib"] = (
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        )
        if args.scale:
            report["scale_j2_per_submission_s"] = scale(args.scale, work)
        if not args.no_jupyter:
            subs = submissions(course.load("optim_reg"), args.copies, args.kinds)
            report["paths_optim_reg"] = jupyter(subs, work / "jupyter")
        report["profile"] = {
            name: overhead_profile.profile(course.load(name), 4 * args.copies)
            for name in course.names()
        }
        kernels = work / "kernels.json"
        subprocess.run(
            [sys.executable, "-m", "benchmarks.kernels", "--json", str(kernels)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        report["kernels"] = json.loads(kernels.read_text())
    print_report(report, args.copies, args.kinds)
    print_goals(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


def print_goals(report: dict) -> None:
    profile, paths = report["profile"], report.get("paths_optim_reg", {})
    conv = next(
        v["ratio"]
        for k, v in report["kernels"].items()
        if k.startswith("SimpleConvNet") and k.endswith("convolution")
    )
    rows = [
        (
            "overhead per submission, optim_reg (-j 1)",
            profile["optim_reg"]["total"] - profile["optim_reg"]["student"],
            "s",
            "<=",
            0.04,
        ),
        (
            "overhead per submission, cnn (-j 1)",
            profile["cnn"]["total"] - profile["cnn"]["student"],
            "s",
            "<=",
            0.1,
        ),
        (
            "optim_reg per submission at -j 2",
            report["optim_reg"]["j2"]["per_submission_s"],
            "s",
            "<=",
            0.3,
        ),
        (
            "cnn per submission outside its training (-j 1)",
            profile["cnn"]["outside_training"],
            "s",
            "<=",
            1.0,
        ),
        ("SimpleConvNet conv fwd+bwd, reference / torch", conv, "x", "<=", 2.0),
    ]
    for peer, goal in (("nbgrader autograde", 10.0), ("otter run", 30.0)):
        for jobs in (1, 2):
            if peer in paths:
                rows.append(
                    (
                        f"{peer} / release grade -j {jobs}",
                        paths[peer][f"ratio_to_j{jobs}"],
                        "x",
                        ">=",
                        goal,
                    )
                )
    print("goals (issue 7; the overheads: issue 12):")
    for name, value, unit, sense, goal in rows:
        met = value <= goal if sense == "<=" else value >= goal
        print(
            f"  {name:50s} {value:8.3f} {unit}  goal {sense} {goal:g}: "
            f"{'met' if met else 'NOT met'}"
        )


def print_report(report: dict, copies: int, kinds: list[str]) -> None:
    print(f"{copies} copies each of {', '.join(kinds)}; in this process (no interpreter start)")
    for name in course.names():
        figures = report[name]
        print(f"{name}:")
        for jobs in ("j1", "j2"):
            f = figures[jobs]
            each = ", ".join(f"{k} {v:.3f}" for k, v in f["median_submission_s"].items())
            print(
                f"  -{jobs[0]} {jobs[1]}: {f['per_submission_s']:.3f} s/submission in the "
                f"batch; median s/submission: {each}; student compute "
                f"{f['median_student_s']:.3f} s; overhead {f['median_overhead_s']:.3f} s"
            )
        print(f"  speed-up at -j 2: {figures['speedup_j2']:.2f}x")
    print(
        f"peak memory of the largest process (a worker, its zygote or a child): "
        f"{report['worker_peak_rss_mib']:.0f} MiB"
    )
    if "scale_j2_per_submission_s" in report:
        scale_row = report["scale_j2_per_submission_s"]
        row = ", ".join(f"{n}: {s:.3f}" for n, s in scale_row.items())
        print(f"scale (optim_reg references, -j 2, s/submission by batch size): {row}")
        (n1, s1), (n2, s2) = sorted((int(n), s) for n, s in scale_row.items())[-2:]
        print(
            f"  each submission beyond {n1} adds {(n2 * s2 - n1 * s1) / (n2 - n1):.3f} s "
            "(the batch's fixed start-up is spread over more submissions)"
        )
    overhead_profile.print_profile(report["profile"])
    for case, row in report["kernels"].items():
        print(
            f"{case}: reference {row['reference_s'] * 1e3:.2f} ms, torch "
            f"{row['torch_s'] * 1e3:.2f} ms, ratio {row['ratio']:.2f}"
        )
    if "paths_optim_reg" in report:
        print("optim_reg, whole processes (start-up included), s/submission:")
        for path, row in report["paths_optim_reg"].items():
            ratios = "".join(
                f"; {row[k]:.1f}x -j {k[-1]}" for k in ("ratio_to_j1", "ratio_to_j2") if k in row
            )
            print(
                f"  {path:22s} {row['per_submission_s']:7.3f}{ratios}; totals agree: "
                f"{row['agrees']}"
            )


if __name__ == "__main__":
    main()
