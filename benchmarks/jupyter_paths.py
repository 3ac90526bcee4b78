"""Per-submission time of the three grading paths on the same optim_reg submissions.

    python -m benchmarks.jupyter_paths [--mistakes 8] [--json jupyter_paths.json]

Submissions: the reference, the stubs and ``--mistakes`` known mistakes of
``solutions/optim_reg/MISTAKES.md`` (the last one listed for each part, in part order; several
earn partial credit). Each path runs once, the way an instructor runs it:

* ``native``: ``python -m release grade optim_reg <subs> --out DIR -j 1`` (one process, the
  whole batch);
* ``nbgrader``: ``nbgrader autograde optim_reg`` on ``submitted/<student>/optim_reg/`` of a
  course folder from ``release build --nbgrader`` (one process, the whole batch; nbgrader
  grades serially; ``generate_assignment`` is not counted);
* ``otter``: ``otter run -a <autograder zip> <submission zip>``, one process per submission
  (``otter run`` grades one submission; ``otter grade`` needs Docker).

Printed per path: the wall time of the batch, that time divided by the number of submissions
(start-up included), the median wall time of one process where each submission has its own
(otter), and whether every total equals the native grader's. The numbers are also written as
JSON. Needs the ``nbgrader`` and ``otter`` extras.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from autograder import course, samples
from autograder.jupyter import otter_files
from autograder.reference_oracle import known_mistakes
from release import nbgrader_course, otter_course

OPTIM = course.load("optim_reg")


def submissions(mistakes: int) -> dict[str, dict[str, str]]:
    """Student -> graded module name -> text."""
    subs = {kind: samples.graded(OPTIM, kind) for kind in samples.KINDS}
    known = [m for m in known_mistakes(OPTIM) if m.is_mistake]
    chosen = [next(m for m in reversed(known) if m.part == part) for part in OPTIM.parts]
    for mistake in chosen[:mistakes]:
        subs[mistake.name] = samples.with_mistake(OPTIM, mistake)
    return subs


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        raise SystemExit(f"{command} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def native(subs: dict, work: Path, jobs: int = 1) -> tuple[float, dict[str, float]]:
    """``release grade`` in a process of its own, as an instructor runs it."""
    folder = work / "native-subs"
    if not folder.exists():
        for student, files in subs.items():
            (folder / student / OPTIM.package).mkdir(parents=True)
            for name, text in files.items():
                (folder / student / OPTIM.package / name).write_text(text, encoding="utf-8")
    out = work / f"native-j{jobs}"
    wall = timed(
        [
            sys.executable,
            "-m",
            "release",
            "grade",
            OPTIM.name,
            str(folder),
            "--out",
            str(out),
            "-j",
            str(jobs),
        ],
        course.ROOT,
    )
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        return wall, {row["student"]: float(row["score"]) for row in csv.DictReader(handle)}


def nbgrader(subs: dict, work: Path) -> tuple[float, dict[str, float]]:
    root = nbgrader_course.export(OPTIM, work / "nbgrader")
    nb = [sys.executable, "-m", "nbgrader"]
    timed([*nb, "generate_assignment", OPTIM.name], root)
    for student, files in subs.items():
        folder = root / "submitted" / student / OPTIM.name
        shutil.copytree(root / "release" / OPTIM.name, folder)
        for name, text in files.items():
            (folder / OPTIM.package / name).write_text(text, encoding="utf-8")
    wall = timed([*nb, "autograde", OPTIM.name], root)
    timed([*nb, "export"], root)
    with open(root / "grades.csv", newline="", encoding="utf-8") as handle:
        return wall, {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}


def otter(subs: dict, work: Path) -> tuple[list[float], dict[str, float]]:
    dist = otter_course.export(OPTIM, work / "otter")
    notebook = json.dumps(otter_files.student_notebook(OPTIM))
    walls, scores = [], {}
    for student, files in subs.items():
        submission = work / "otter-subs" / f"{student}.zip"
        submission.parent.mkdir(exist_ok=True)
        with zipfile.ZipFile(submission, "w") as archive:  # what grader.export() writes
            archive.writestr(otter_files.notebook_name(OPTIM), notebook)
            for name, text in files.items():
                archive.writestr(f"{OPTIM.package}/{name}", text)
        out = work / "otter-results" / student
        out.mkdir(parents=True)
        walls.append(
            timed(
                [
                    sys.executable,
                    "-m",
                    "otter",
                    "run",
                    "-a",
                    str(dist / f"{OPTIM.name}-otter-autograder.zip"),
                    "-o",
                    str(out),
                    "--no-logo",
                    str(submission),
                ],
                work,
            )
        )
        tests = json.loads((out / "results.json").read_text("utf-8"))["tests"]
        scores[student] = round(sum(t["score"] for t in tests if t["name"] in OPTIM.points), 2)
    return walls, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mistakes", type=int, default=8, help="known mistakes to submit")
    parser.add_argument("--json", type=Path, default=Path("jupyter_paths.json"))
    args = parser.parse_args()
    subs = submissions(args.mistakes)
    n = len(subs)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-jupyter-") as tmp:
        work = Path(tmp)
        wall, want = native(subs, work)
        rows["native (release grade -j 1)"] = {
            "batch_s": wall,
            "per_submission_s": wall / n,
            "scores": want,
        }
        wall, got = nbgrader(subs, work)
        rows["nbgrader autograde"] = {"batch_s": wall, "per_submission_s": wall / n, "scores": got}
        walls, got = otter(subs, work)
        rows["otter run"] = {
            "batch_s": sum(walls),
            "per_submission_s": sum(walls) / n,
            "median_process_s": statistics.median(walls),
            "max_process_s": max(walls),
            "scores": got,
        }
    for row in rows.values():
        row["agrees_with_native"] = all(
            abs(row["scores"].get(s, -1) - want[s]) < 1e-6 for s in want
        )
    print(
        f"optim_reg, {n} submissions ({', '.join(subs)}), one run each, "
        f"{course.ROOT.name} at {time.strftime('%Y-%m-%d %H:%M')}"
    )
    print(
        f"{'path':30s} {'batch s':>8s} {'s/submission':>13s} {'median s/process':>17s}"
        f"  scores = native"
    )
    for name, row in rows.items():
        median = row.get("median_process_s")
        print(
            f"{name:30s} {row['batch_s']:8.2f} {row['per_submission_s']:13.2f} "
            f"{(f'{median:.2f}' if median else '-'):>17s}  {row['agrees_with_native']}"
        )
    args.json.write_text(
        json.dumps({"assignment": OPTIM.name, "submissions": list(subs), "paths": rows}, indent=1),
        encoding="utf-8",
    )
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
