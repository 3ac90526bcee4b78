"""Courses that live in Jupyter: nbgrader and otter-grader, proven by round trips.

The real tools run on submissions made from the reference, the stubs and known mistakes
with partial credit, and must give the native grader's scores part by part:

- nbgrader: ``release.nbgrader_course.export``, then the real ``nbgrader
  generate_assignment``, ``autograde``, ``generate_feedback`` and ``export`` (subprocesses,
  one course root per module run); the released notebook and the feedback hold no hidden
  grader source and no hidden seed; a student's added cells and stray files never run.
- otter: ``tests/test_otter_path.py``; here only ``release build`` writing both.

Skipped only when nbgrader or otter-grader is not installed (``pip install -e
".[nbgrader,otter]"``); the export tests that need neither always run.
"""

from __future__ import annotations

import csv
import html
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import batch, course
from autograder.graders import HIDDEN_SEED
from autograder.reference import known_mistakes, module_files
from release import nbgrader_course

OPTIM = course.load("optim_reg")
MISTAKES = ["adam-t-per-key", "bn-backward-no-gamma"]  # partial credit: 4.67 / 14, 17.14 / 24
GRADERS = course.ROOT / "autograder" / "graders"
TIMEOUT = 600

needs_nbgrader = pytest.mark.skipif(
    importlib.util.find_spec("nbgrader") is None,
    reason="nbgrader is not installed: pip install -e '.[nbgrader]'")
needs_otter = pytest.mark.skipif(
    importlib.util.find_spec("otter") is None or importlib.util.find_spec("nbclient") is None,
    reason="otter-grader (or nbclient) is not installed: pip install -e '.[otter,notebooks]'")


# ---------------------------------------------------------------------------- helpers


def graded_files(kind: str) -> dict[str, str]:
    """The graded modules of a sample submission: reference, stubs or a known mistake."""
    if kind == "reference":
        files = module_files(OPTIM)
    elif kind == "stubs":
        return {name: (OPTIM.stub_dir / name).read_text("utf-8") for name in OPTIM.graded}
    else:
        [mistake] = [m for m in known_mistakes(OPTIM) if m.name == kind]
        files = mistake.apply(module_files(OPTIM))
    return {name: files[name] for name in OPTIM.graded}


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def native(submissions: Path, out: Path) -> dict[str, dict]:
    """The native grader's results on the same folder: student -> part scores and total."""
    results = batch.grade_folder(OPTIM, submissions, out, jobs=1)
    return {r.student: {"parts": r.part_scores(), "score": r.score, "status": r.status}
            for r in results}


def secret_lines() -> list[str]:
    """Distinctive lines of the hidden graders' source (the hidden cases live there) that
    occur in no public file (public tests, the kit's engine)."""
    public = "\n".join(path.read_text("utf-8") for path in [
        *(OPTIM.folder / "tests").glob("*.py"), *(course.ROOT / "autograder").glob("*.py")])
    lines = {line.strip() for path in (GRADERS / OPTIM.name).glob("*.py")
             for line in path.read_text("utf-8").splitlines()}
    return sorted(line for line in lines
                  if len(line) >= 30 and not line.startswith("#") and line not in public)


def assert_no_secret(text: str, where: str) -> None:
    assert str(HIDDEN_SEED) not in text, f"{where} shows the hidden seed"
    assert hex(HIDDEN_SEED) not in text.lower(), f"{where} shows the hidden seed"
    leaked = [line for line in secret_lines() if line in text]
    assert not leaked, f"{where} shows hidden grader source: {leaked[:3]}"


def html_text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text("utf-8")))


def test_secret_lines_are_a_real_check():
    assert len(secret_lines()) > 20  # the leak checks below compare against these


def test_the_native_path_imports_neither_tool():
    code = ("import sys, release.__main__, release.build, release.grade, autograder.batch, "
            "release.nbgrader_course, release.otter_course; "
            "print([m for m in ('nbgrader', 'otter') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], cwd=course.ROOT, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]"


# --------------------------------------------------------------------- nbgrader: export


def test_nbgrader_export_writes_a_course_folder(tmp_path):
    root = nbgrader_course.export(OPTIM, tmp_path / "course")
    source = root / "source" / OPTIM.name
    for name in (*OPTIM.given, *OPTIM.graded):
        assert (source / OPTIM.package / name).read_bytes() == (OPTIM.stub_dir / name).read_bytes()
    config = (root / "nbgrader_config.py").read_text("utf-8")
    for name in OPTIM.graded:
        assert f'"{OPTIM.package}/{name}"' in config  # exclude_overwriting
    assert "c.Execute.timeout" in config and "c.CourseDirectory.course_id" in config
    compile(config, "nbgrader_config.py", "exec")
    nb = json.loads((source / f"{OPTIM.name}.ipynb").read_text("utf-8"))
    tests = [c for c in nb["cells"] if c["metadata"]["nbgrader"]["grade"]]
    assert [c["metadata"]["nbgrader"]["grade_id"] for c in tests] == OPTIM.parts
    for cell in nb["cells"]:
        meta = cell["metadata"]["nbgrader"]
        assert meta["schema_version"] == 3 and meta["locked"] and not meta["solution"]
    for cell, (part, points) in zip(tests, OPTIM.points.items(), strict=True):
        assert cell["metadata"]["nbgrader"]["points"] == points
        hidden = cell["source"].split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
        assert f"part_score({OPTIM.name!r}, {part!r})" in hidden
        assert "part_score" not in cell["source"].split("### BEGIN HIDDEN TESTS")[0]


# ------------------------------------------------------------------ nbgrader: round trip


@pytest.fixture(scope="module")
def nbgrader_course_run(tmp_path_factory):
    """One course root: generate, five submissions, autograde, feedback, export, native."""
    root = nbgrader_course.export(OPTIM, tmp_path_factory.mktemp("nbgrader") / "course")
    nbgrader = [sys.executable, "-m", "nbgrader"]
    logs = {"generate": run([*nbgrader, "generate_assignment", OPTIM.name], root)}
    released = root / "release" / OPTIM.name
    markers = root.parent / "markers"
    markers.mkdir()
    for student in ["reference", "stubs", *MISTAKES, "tamper"]:
        folder = root / "submitted" / student / OPTIM.name
        shutil.copytree(released, folder)
        kind = "stubs" if student == "tamper" else student
        for name, text in graded_files(kind).items():
            (folder / OPTIM.package / name).write_text(text, encoding="utf-8")
    _tamper(root / "submitted" / "tamper" / OPTIM.name, markers)
    logs["autograde"] = run([*nbgrader, "autograde", OPTIM.name], root)
    logs["feedback"] = run([*nbgrader, "generate_feedback", OPTIM.name], root)
    logs["export"] = run([*nbgrader, "export"], root)
    expected = native(root / "submitted", root.parent / "native")
    return root, logs, markers, expected


def _tamper(folder: Path, markers: Path) -> None:
    """A submission that tries to score without working code (stubs): an added cell, a forged
    test cell, a module shadowing the kit's and one shadowing the kernel's launcher."""
    path = folder / f"{OPTIM.name}.ipynb"
    nb = json.loads(path.read_text("utf-8"))
    nb["cells"].insert(0, {"cell_type": "code", "id": "mine", "metadata": {}, "outputs": [],
                           "execution_count": None, "source":
                           f"open({str(markers / 'cell')!r}, 'w').close()\n"
                           "def part_score(*args):\n    return 8.0\n"})
    forged = json.loads(json.dumps(nb["cells"][2]))
    forged["id"] = "bonus"
    forged["metadata"]["nbgrader"].update(grade_id="bonus", points=50)
    forged["source"] = f"open({str(markers / 'forged')!r}, 'w').close()\n50"
    nb["cells"].append(forged)
    path.write_text(json.dumps(nb), encoding="utf-8")
    shadow = f"open({str(markers / 'shadow')!r}, 'w').close()\n"
    (folder / "release").mkdir()
    (folder / "release" / "__init__.py").write_text("")
    (folder / "release" / "nbgrader_course.py").write_text(
        shadow + "def part_score(*args):\n    return 8.0\n")
    (folder / "ipykernel_launcher.py").write_text(shadow)
    (folder / OPTIM.package / "numpy.py").write_text(shadow)


def _nbgrader_scores(root: Path) -> dict[str, dict[str, float]]:
    """Per student, per part: the scores in nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    scores: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for student in gradebook.students:
            scores[student.id] = {part: gradebook.find_grade(
                part, OPTIM.name, OPTIM.name, student.id).score for part in OPTIM.parts}
    return scores


@needs_nbgrader
def test_nbgrader_config_loads(nbgrader_course_run):
    _, logs, _, _ = nbgrader_course_run
    for step, done in logs.items():
        assert "Exception while loading config file" not in done.stdout + done.stderr, step


@needs_nbgrader
def test_nbgrader_scores_equal_the_native_grader(nbgrader_course_run):
    root, _, _, expected = nbgrader_course_run
    with open(root / "grades.csv", newline="", encoding="utf-8") as handle:
        totals = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    assert sorted(totals) == sorted(expected)
    assert expected["reference"]["score"] == 100 and expected["stubs"]["score"] == 0
    assert 0 < expected[MISTAKES[0]]["parts"]["adam"] < OPTIM.points["adam"]  # partial credit
    parts = _nbgrader_scores(root)
    for student, want in expected.items():
        assert parts[student] == pytest.approx(want["parts"], abs=1e-9), student
        assert totals[student] == pytest.approx(want["score"], abs=1e-6), student


@needs_nbgrader
def test_nbgrader_release_holds_no_hidden_grading(nbgrader_course_run):
    root, _, _, _ = nbgrader_course_run
    released = root / "release" / OPTIM.name
    text = (released / f"{OPTIM.name}.ipynb").read_text("utf-8")
    assert "HIDDEN TESTS" not in text and "part_score" not in text
    assert_no_secret(text, "the released notebook")
    for name in OPTIM.graded:
        assert (released / OPTIM.package / name).read_bytes() == \
            (OPTIM.stub_dir / name).read_bytes()
    assert sorted(p.name for p in released.rglob("*") if p.is_file()) == sorted(
        [f"{OPTIM.name}.ipynb", *OPTIM.given, *OPTIM.graded])


@needs_nbgrader
def test_nbgrader_feedback_shows_points_not_secrets(nbgrader_course_run):
    root, _, _, expected = nbgrader_course_run
    for student in expected:
        page = html_text(root / "feedback" / student / OPTIM.name / f"{OPTIM.name}.html")
        assert_no_secret(page, f"{student}'s feedback")
        assert f"{OPTIM.name}: {expected[student]['score']:g} / 100" in page
    mistake = html_text(root / "feedback" / MISTAKES[0] / OPTIM.name / f"{OPTIM.name}.html")
    assert "This looks like a known mistake (adam-t-per-key)" in mistake


@needs_nbgrader
def test_nbgrader_runs_only_the_course_cells(nbgrader_course_run):
    root, logs, markers, expected = nbgrader_course_run
    assert sorted(p.name for p in markers.iterdir()) == []  # no student code ran unsandboxed
    assert expected["tamper"]["score"] == 0
    graded = json.loads((root / "autograded" / "tamper" / OPTIM.name /
                         f"{OPTIM.name}.ipynb").read_text("utf-8"))
    ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in graded["cells"]]
    assert ids == ["intro", *OPTIM.parts]
    for cell in graded["cells"][1:]:
        assert [o["output_type"] for o in cell["outputs"]] == ["stream", "execute_result"]
    log = logs["autograde"].stdout + logs["autograde"].stderr
    assert "tamper: dropped 2 cell(s)" in log
    for removed in ("ipykernel_launcher.py", "release", f"{OPTIM.package}/numpy.py"):
        assert f"tamper: removed {removed} before grading" in log
    folder = root / "autograded" / "tamper" / OPTIM.name
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) \
        == sorted([f"{OPTIM.name}.ipynb", *(f"{OPTIM.package}/{n}" for n in
                                            (*OPTIM.given, *OPTIM.graded))])


# ------------------------------------------------------------------------------ otter


@needs_otter
def test_release_build_writes_both(tmp_path):
    from release.__main__ import main

    assert main(["build", OPTIM.name, "--out", str(tmp_path / "dist"), "--nbgrader",
                 str(tmp_path / "nbgrader"), "--otter", str(tmp_path / "otter")]) == 0
    assert (tmp_path / "nbgrader" / "nbgrader_config.py").is_file()
    assert (tmp_path / "otter" / f"{OPTIM.name}-otter-autograder.zip").is_file()
