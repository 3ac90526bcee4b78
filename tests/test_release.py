"""The release's archives: what a student receives and what Gradescope runs."""

import json
import os
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from autograder import course
from autograder.graders import HIDDEN_SEED
from autograder.mistakes import regions
from release.build import autograder_archive, student_archive

OPTIM = course.load("optim_reg")


def _solution_lines(assignment) -> set[str]:
    """Every substantive line students must write, from the reference's marked regions,
    except lines that the stubs show anyway (given code)."""
    lines = set()
    for path in assignment.solution_dir.glob("*.py"):
        source = path.read_text(encoding="utf-8").splitlines()
        for first, last in regions("\n".join(source)):
            lines |= {line.strip() for line in source[first - 1:last]
                      if len(line.strip()) > 25 and not line.strip().startswith("#")}
    given = "".join(path.read_text(encoding="utf-8") for path in
                    assignment.stub_dir.glob("*.py"))
    return {line for line in lines if line not in given}


@pytest.mark.parametrize("name", course.names())
def test_student_archive_holds_no_secret(name, tmp_path):
    assignment = course.load(name)
    with zipfile.ZipFile(student_archive(assignment, tmp_path)) as archive:
        names = archive.namelist()
        texts = {n: archive.read(n).decode("utf-8", "replace") for n in names}
    assert all(n.startswith(f"{name}/") for n in names)
    assert f"{name}/selfcheck.py" in names and f"{name}/requirements.txt" in names
    assert f"{name}/{assignment.package}/{assignment.graded[0]}" in names
    for secret in ("graders", "solutions", "MISTAKES", "reference.py", "verify.py"):
        assert not [n for n in names if secret in n], secret
    solution = _solution_lines(assignment)
    assert solution, "the reference has solution regions"
    for file, text in texts.items():
        for marker in ("from .reference", "from autograder.reference",
                       "import autograder.reference", "from .graders", "from autograder.graders",
                       str(HIDDEN_SEED), hex(HIDDEN_SEED)):
            assert marker not in text, f"{marker!r} in {file}"
        assert not re.search(r"^[ \t]*# BEGIN SOLUTION", text, re.M), f"a region in {file}"
        leaked = [line for line in solution if line in text]
        assert not leaked, f"{file} holds solution code: {leaked[:3]}"


def _gradescope(tmp_path: Path, files: dict[str, str], zip_name: str | None = None) -> dict:
    """Lay out Gradescope's folders, run run_autograder, return results.json."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder_archive(OPTIM, tmp_path)) as archive:
        archive.extractall(root)
    (root / "results").mkdir()
    submission = root / "submission"
    submission.mkdir()
    if zip_name:
        with zipfile.ZipFile(submission / zip_name, "w") as upload:
            for name, text in files.items():
                upload.writestr(f"optim_reg/{name}", text)
    else:
        for name, text in files.items():
            (submission / name).write_text(text, encoding="utf-8")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)
    run = subprocess.run(["bash", str(root / "run_autograder")], env=env, capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def _schema_ok(results: dict) -> None:
    assert isinstance(results["score"], int | float) and results["tests"]
    for test in results["tests"]:
        assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
        assert 0 <= test["score"] <= test["max_score"]
    assert sum(t["max_score"] for t in results["tests"]) == pytest.approx(OPTIM.max_score)


def test_gradescope_grades_the_reference_full(tmp_path):
    reference = {n: (OPTIM.solution_dir / n).read_text(encoding="utf-8") for n in OPTIM.graded}
    results = _gradescope(tmp_path, reference)
    _schema_ok(results)
    assert results["score"] == 100


def test_gradescope_grades_the_stubs_zero_even_zipped(tmp_path):
    stubs = {n: (OPTIM.stub_dir / n).read_text(encoding="utf-8") for n in OPTIM.graded}
    results = _gradescope(tmp_path, stubs, zip_name="20251234.zip")
    _schema_ok(results)
    assert results["score"] == 0
    assert "not implemented yet" in results["tests"][0]["output"]


@pytest.mark.slow
def test_unpacked_archive_self_checks_in_a_fresh_venv(tmp_path):
    """Only the archive and its own requirements: the stubs fail every part with clear
    messages, the reference copied in passes every part."""
    with zipfile.ZipFile(student_archive(OPTIM, tmp_path)) as archive:
        archive.extractall(tmp_path / "unpacked")
    folder = tmp_path / "unpacked" / "optim_reg"
    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([python, "-m", "pip", "install", "-q", "-r", "requirements.txt"],
                   cwd=folder, env=env, check=True, timeout=600)
    where = subprocess.run([python, "-c", "import autograder; print(autograder.__file__)"],
                           cwd=folder, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(folder))

    def selfcheck() -> subprocess.CompletedProcess:
        return subprocess.run([python, "selfcheck.py"], cwd=folder, env={**env, "COLUMNS": "200"},
                              capture_output=True, text=True, timeout=300)

    stubs = selfcheck()
    assert stubs.returncode == 1
    for part in OPTIM.parts:
        assert f"0.0 / {OPTIM.points[part]}" in stubs.stdout
    assert "not implemented yet" in stubs.stdout
    for name in OPTIM.graded:
        (folder / "optim_reg" / name).write_bytes((OPTIM.solution_dir / name).read_bytes())
    reference = selfcheck()
    assert reference.returncode == 0, reference.stdout
    for part in OPTIM.parts:
        assert f"{OPTIM.points[part]:.1f} / {OPTIM.points[part]}" in reference.stdout
    packed = subprocess.run([python, "selfcheck.py", "--pack", "20251234"], cwd=folder, env=env,
                            capture_output=True, text=True, check=True)
    assert "warning" not in packed.stdout
    with zipfile.ZipFile(folder / "20251234.zip") as archive:
        assert sorted(archive.namelist()) == sorted(f"optim_reg/{n}" for n in OPTIM.graded)
