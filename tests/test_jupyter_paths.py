"""Courses that live in Jupyter: otter-grader, proven by round trips (nbgrader's path:
``tests/test_nbgrader_path.py``, which uses the helpers here).

The real tool runs on submissions made from the reference, the stubs and known mistakes
with partial credit, and must give the native grader's scores part by part:
``release.otter_course.export``; the checks notebook runs with nbclient in the unpacked
student folder (the reference passes every check, the stubs fail each with the kit's
messages) and writes the submission zip; the real ``otter run`` grades it.

Skipped only when otter-grader is not installed (``pip install -e ".[otter]"``); the tests
that do not need it always run.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import batch, course
from autograder.graders import HIDDEN_SEED
from autograder.reference import known_mistakes, module_files
from release import otter_course

OPTIM = course.load("optim_reg")
MISTAKES = ["adam-t-per-key", "bn-backward-no-gamma"]  # partial credit: 4.67 / 14, 17.14 / 24
GRADERS = course.ROOT / "autograder" / "graders"
TIMEOUT = 600

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


# ------------------------------------------------------------------------------ otter


@needs_otter
def test_otter_zips_hold_no_hidden_grading(tmp_path):
    out = otter_course.export(OPTIM, tmp_path)
    with zipfile.ZipFile(out / f"{OPTIM.name}-otter-autograder.zip") as archive:
        names = sorted(archive.namelist())
        assert names == sorted(["otter_config.json", *(f"tests/{p}.py" for p in OPTIM.parts)])
        for name in names:
            assert_no_secret(archive.read(name).decode(), f"autograder zip {name}")
        config = json.loads(archive.read("otter_config.json"))
        assert config["plugins"] == [{otter_course.PLUGIN: {"assignment": OPTIM.name}}]
    with zipfile.ZipFile(out / f"{OPTIM.name}-otter-student.zip") as archive:
        names = archive.namelist()
        assert f"{OPTIM.name}/{otter_course.notebook_name(OPTIM)}" in names
        assert not [n for n in names if "graders" in n or "solutions" in n or "MISTAKES" in n]
        for name in names:
            if name.endswith((".py", ".ipynb", ".toml", ".txt", ".md")):
                assert_no_secret(archive.read(name).decode(), f"student zip {name}")
        assert "otter-grader>=" in archive.read(f"{OPTIM.name}/requirements.txt").decode()


def _execute(folder: Path) -> list[tuple[str, str]]:
    """Run the checks notebook in ``folder`` as a student does: (cell source, output text)."""
    import nbclient
    import nbformat

    path = folder / otter_course.notebook_name(OPTIM)
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}).execute()
    shown = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                           + str(o.get("evalue", "")) for o in cell.outputs)
            shown.append((cell.source, text))
    return shown


@pytest.fixture(scope="module")
def otter_run(tmp_path_factory):
    """Checks notebooks executed on the reference and the stubs (each writing its submission
    zip), a mistake's zip made from the reference's, ``otter run`` on each, and native."""
    base = tmp_path_factory.mktemp("otter")
    dist = otter_course.export(OPTIM, base / "dist")
    zips, outputs = {}, {}
    native_subs = base / "native-submissions"
    for student in ["reference", "stubs"]:
        with zipfile.ZipFile(dist / f"{OPTIM.name}-otter-student.zip") as archive:
            archive.extractall(base / student)
        folder = base / student / OPTIM.name
        for name, text in graded_files(student).items():
            (folder / OPTIM.package / name).write_text(text, encoding="utf-8")
        outputs[student] = _execute(folder)
        [zips[student]] = folder.glob(f"{OPTIM.name}_checks_*.zip")
    for mistake in MISTAKES:
        zips[mistake] = base / f"{mistake}.zip"
        with zipfile.ZipFile(zips["reference"]) as source, \
                zipfile.ZipFile(zips[mistake], "w") as archive:
            for info in source.infolist():
                module = info.filename.removeprefix(f"{OPTIM.package}/")
                data = (graded_files(mistake)[module].encode() if module in OPTIM.graded
                        else source.read(info))
                archive.writestr(info, data)
    results = {}
    for student, submission in zips.items():
        out = base / "results" / student
        out.mkdir(parents=True)
        run([sys.executable, "-m", "otter", "run", "-a",
             str(dist / f"{OPTIM.name}-otter-autograder.zip"), "-o", str(out), "--no-logo",
             str(submission)], base)
        results[student] = json.loads((out / "results.json").read_text("utf-8"))
        with zipfile.ZipFile(submission) as archive:  # the same modules, graded natively
            archive.extractall(native_subs / student)
    return outputs, results, native(native_subs, base / "native")


@needs_otter
def test_otter_checks_pass_on_the_reference(otter_run):
    outputs, _, _ = otter_run
    checks = [(src, text) for src, text in outputs["reference"] if "grader.check(" in src]
    assert len(checks) == len(OPTIM.parts)
    for source, text in checks:
        assert "All test cases passed!" in text, f"{source}:\n{text}"


@needs_otter
def test_otter_checks_fail_on_the_stubs_with_the_kits_messages(otter_run):
    outputs, _, _ = otter_run
    checks = [(src, text) for src, text in outputs["stubs"] if "grader.check(" in src]
    assert len(checks) == len(OPTIM.parts)
    for source, text in checks:
        assert "Test case failed" in text and "not implemented yet" in text, f"{source}:\n{text}"


@needs_otter
def test_otter_run_scores_equal_the_native_grader(otter_run):
    _, results, expected = otter_run
    assert expected["reference"]["score"] == 100 and expected["stubs"]["score"] == 0
    for student, result in results.items():
        scores = {t["name"]: t["score"] for t in result["tests"] if t["name"] in OPTIM.points}
        assert scores == pytest.approx(expected[student]["parts"], abs=1e-9), student
        assert sum(scores.values()) == pytest.approx(expected[student]["score"], abs=1e-6)
        assert {t["name"]: t["max_score"] for t in result["tests"]
                if t["name"] in OPTIM.points} == OPTIM.points
        assert result["output"].startswith(f"{OPTIM.name}: {expected[student]['score']:g} / 100")
        assert_no_secret(json.dumps(result), f"{student}'s results.json")
    adam = next(t for t in results[MISTAKES[0]]["tests"] if t["name"] == "adam")
    assert "known mistake (adam-t-per-key)" in adam["output"]


@needs_otter
def test_release_build_writes_both(tmp_path):
    from release.__main__ import main

    assert main(["build", OPTIM.name, "--out", str(tmp_path / "dist"), "--nbgrader",
                 str(tmp_path / "nbgrader"), "--otter", str(tmp_path / "otter")]) == 0
    assert (tmp_path / "nbgrader" / "nbgrader_config.py").is_file()
    assert (tmp_path / "otter" / f"{OPTIM.name}-otter-autograder.zip").is_file()
