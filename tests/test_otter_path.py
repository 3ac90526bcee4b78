"""The otter-grader path, proven with the real otter: ``otter run`` and the batch road.

``release.otter_course.export`` writes the two zips. The checks notebook runs with nbclient
in an unpacked student folder, as a student runs it (correct optimizers, stub layers, one
public test edited so that the kit's own check fails on it), and writes the upload zip. From
it come three uploads, each graded by the real ``otter run`` command:

- ``20250001.zip``: the correct modules, as ``grader.export`` zips them;
- ``20250002.zip``: the stubs, as the student's whole folder zipped (both notebooks inside),
  with a crafted ``.OTTER_LOG`` (otter unpickles it: it would mark every part full), an
  ``ipykernel_launcher.py`` and a ``sitecustomize.py`` at its top;
- ``20250003.zip``: a known mistake as a zip of the ``.py`` files (no notebook), with a
  ``dill.py``, an ``otter/`` package and a ``numpy/`` package.

Each planted file would create a file in a canary folder if it ran. The batch road
(``python -m release.otter_batch``) grades a folder upload (another known mistake, the
whole student folder, every file above planted again) and a file that is not a zip, which
``otter run`` cannot take. Every score must
equal the native grader's (``release grade``'s ``batch.grade_folder``) part by part, and
nothing planted may run.

Skipped only when otter-grader or nbclient is not installed (``pip install -e
".[otter,notebooks]"``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import re
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from test_jupyter_paths import Started, assert_no_secret, native

from autograder import course, samples
from autograder.jupyter import otter_files
from autograder.results import Result, TestResult
from release import otter_batch, otter_course

pytestmark = [
    pytest.mark.slow,  # the real otter run over several uploads
    pytest.mark.skipif(
        importlib.util.find_spec("otter") is None or importlib.util.find_spec("nbclient") is None,
        reason="otter-grader (or nbclient) is not installed: pip install -e '.[otter,notebooks]'",
    ),
]

OPTIM = course.load("optim_reg")
PACKAGE = OPTIM.package
MISTAKE, FOLDER_MISTAKE = "adam-t-per-key", "bn-backward-no-gamma"
CHECKED = ["sgd"]  # the part whose public test the checked folder edits (the kit then fails)
PLANTED = [".OTTER_LOG", "ipykernel_launcher.py", "sitecustomize.py", "dill.py", "otter", "numpy"]


def _canary(folder: Path, name: str) -> str:
    """Python source that leaves ``folder/name`` behind if it ever runs."""
    return f"open({str(folder / name)!r}, 'w').close()\n"


class _Unpickled:
    """A crafted ``.OTTER_LOG``: unpickling it runs code that leaves a canary and rewrites
    how otter reports scores (every question at full marks)."""

    def __init__(self, canary: str) -> None:
        self.code = canary + (
            "import otter.test_files as t\n"
            "real = t.GradingResults.to_gradescope_dict\n"
            "def full(self, config):\n"
            "    out = real(self, config)\n"
            "    for test in out['tests']:\n"
            "        test['score'] = test.get('max_score', 0)\n"
            "    return out\n"
            "t.GradingResults.to_gradescope_dict = full\n"
        )

    def __reduce__(self):
        return exec, (self.code,)


def _planted(canaries: Path, names: list[str]) -> dict[str, bytes]:
    """Zip members: each name of ``names``, as a file that leaves its canary if it runs."""
    members = {}
    for name in names:
        code = _canary(canaries, name.strip("."))
        if name == ".OTTER_LOG":
            members[name] = pickle.dumps(_Unpickled(code))
        elif name.endswith(".py"):
            members[name] = code.encode()
        else:  # a package
            members[f"{name}/__init__.py"] = code.encode()
    return members


def _rezip(template: Path, target: Path, kind: str) -> None:
    """A copy of the ``grader.export`` zip ``template`` with ``kind``'s graded modules."""
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(target, "w") as archive:
        for info in source.infolist():
            module = info.filename.removeprefix(f"{PACKAGE}/")
            archive.writestr(
                info,
                samples.graded(OPTIM, kind)[module].encode()
                if module in OPTIM.graded
                else source.read(info),
            )


def _execute(folder: Path) -> list[tuple[str, list[dict]]]:
    """Run the checks notebook in ``folder`` as a student does: (cell source, outputs)."""
    import nbclient
    import nbformat

    nb = nbformat.read(folder / otter_files.notebook_name(OPTIM), as_version=4)
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    return [(cell.source, cell.outputs) for cell in nb.cells if cell.cell_type == "code"]


def _text(outputs: list[dict]) -> str:
    return "".join(
        str(o.get("text", ""))
        + str(o.get("data", {}).get("text/plain", ""))
        + str(o.get("evalue", ""))
        for o in outputs
    )


def _edit_public_test(folder: Path) -> None:
    """Change the public sgd case's learning rate: its recorded answer no longer exists, so
    the kit's check fails on it (an internal error, logged with the kit's traceback)."""
    path = folder / "tests" / "test_optimizers.py"
    text = path.read_text("utf-8")
    case = '("sgd", "SGD", {"lr": 0.1}'
    assert case in text
    path.write_text(text.replace(case, '("sgd", "SGD", {"lr": 0.2}'), encoding="utf-8")


def _env() -> dict[str, str]:
    """This checkout's kit first on the path of ``otter run`` (and of its kernel)."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(course.ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }


@pytest.fixture(scope="module")
def otter_path(tmp_path_factory):
    """The notebook run, three ``otter run``s, one batch and the native grades of all."""
    base = tmp_path_factory.mktemp("otter")
    canaries = base / "canaries"
    canaries.mkdir()
    dist = otter_course.export(OPTIM, base / "dist")
    autograder = dist / f"{OPTIM.name}-otter-autograder.zip"
    student_zip = dist / f"{OPTIM.name}-otter-student.zip"

    def unpacked(where: Path, modules: dict[str, str]) -> Path:
        with zipfile.ZipFile(student_zip) as archive:
            archive.extractall(where)
        return samples.write_folder(where / OPTIM.name, modules, PACKAGE)

    checked = unpacked(
        base / "checked", {"optimizers.py": samples.graded(OPTIM, "reference")["optimizers.py"]}
    )
    _edit_public_test(checked)
    cells = _execute(checked)
    [template] = checked.glob(f"{OPTIM.name}_checks_*.zip")

    uploads = base / "uploads"
    uploads.mkdir()
    _rezip(template, uploads / "20250001.zip", "reference")
    stubs = unpacked(base / "stubs", {})
    with zipfile.ZipFile(uploads / "20250002.zip", "w") as archive:  # the folder, zipped
        for path in sorted(stubs.rglob("*")):
            archive.write(path, path.relative_to(stubs.parent).as_posix())
        for name, data in _planted(
            canaries, [".OTTER_LOG", "ipykernel_launcher.py", "sitecustomize.py"]
        ).items():
            archive.writestr(name, data)
    with zipfile.ZipFile(uploads / "20250003.zip", "w") as archive:
        for name, text in samples.graded(OPTIM, MISTAKE).items():
            archive.writestr(name, text)
        for name, data in _planted(canaries, ["dill.py", "otter", "numpy"]).items():
            archive.writestr(name, data)
    runs = {}  # the otter runs go on while this process grades the batch and natively
    for upload in sorted(uploads.iterdir()):
        out = base / "results" / upload.stem
        out.mkdir(parents=True)
        runs[upload.stem] = Started(
            [
                sys.executable,
                "-m",
                "otter",
                "run",
                "-a",
                str(autograder),
                "-o",
                str(out),
                "--no-logo",
                str(upload),
            ],
            log=base / f"otter-run-{upload.stem}",
            cwd=base,
            env=_env(),
        )

    folders = base / "batch"
    folders.mkdir()
    shutil.move(unpacked(base / "kim", samples.graded(OPTIM, FOLDER_MISTAKE)), folders / "kim")
    for name, data in _planted(canaries, PLANTED).items():
        (folders / "kim" / name).parent.mkdir(exist_ok=True)
        (folders / "kim" / name).write_bytes(data)
    (folders / "lee.zip").write_text("not a zip")
    code = otter_batch.main(["-a", str(autograder), "-o", str(base / "graded"), str(folders)])

    everyone = base / "native-uploads"
    shutil.copytree(uploads, everyone)
    shutil.copytree(folders, everyone, dirs_exist_ok=True)
    native_scores = native(everyone, base / "native")
    return {
        "cells": cells,
        "runs": {student: started.wait() for student, started in runs.items()},
        "results": base / "results",
        "batch_code": code,
        "graded": base / "graded",
        "canaries": canaries,
        "native": native_scores,
        "native_results": base / "native" / "results",
    }


@pytest.fixture(scope="module")
def otter_results(otter_path) -> dict[str, dict]:
    """Each ``otter run``'s results.json; the run must have succeeded."""
    results = {}
    for student, done in otter_path["runs"].items():
        assert done.returncode == 0, (
            f"otter run {student}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
        results[student] = json.loads(
            (otter_path["results"] / student / "results.json").read_text("utf-8")
        )
    return results


def _scores(results: dict) -> dict[str, float]:
    return {t["name"]: t["score"] for t in results["tests"] if t["name"] in OPTIM.points}


# ------------------------------------------------------------------------ the zips


def test_otter_zips_hold_no_hidden_grading(tmp_path):
    out = otter_course.export(OPTIM, tmp_path)
    with zipfile.ZipFile(out / f"{OPTIM.name}-otter-autograder.zip") as archive:
        names = sorted(archive.namelist())
        assert names == sorted(
            [
                "otter_config.json",
                *(f"tests/{p}.py" for p in OPTIM.parts),
                f"files/{otter_files.notebook_name(OPTIM)}",
            ]
        )
        for name in names:
            assert_no_secret(archive.read(name).decode(), f"autograder zip {name}")
        config = json.loads(archive.read("otter_config.json"))
        assert config["plugins"] == [{otter_files.PLUGIN: {"assignment": OPTIM.name}}]
        assert json.loads(
            archive.read(f"files/{otter_files.notebook_name(OPTIM)}")
        ) == otter_files.student_notebook(OPTIM)
    with zipfile.ZipFile(out / f"{OPTIM.name}-otter-student.zip") as archive:
        names = archive.namelist()
        assert f"{OPTIM.name}/{otter_files.notebook_name(OPTIM)}" in names
        assert not [n for n in names if "graders/" in n or "solutions" in n or "MISTAKES" in n]
        for name in names:
            if name.endswith((".py", ".ipynb", ".toml", ".txt", ".md")):
                assert_no_secret(archive.read(name).decode(), f"student zip {name}")
        assert "otter-grader>=" in archive.read(f"{OPTIM.name}/requirements.txt").decode()


# ------------------------------------------------------------ the student's notebook


def test_checks_pass_fail_and_show_only_the_students_frames(otter_path):
    checks = {
        source.split('"')[1]: outputs
        for source, outputs in otter_path["cells"]
        if source.startswith("grader.check(")
    }
    assert list(checks) == OPTIM.parts
    for part, outputs in checks.items():
        text = _text(outputs)
        if part in CHECKED:  # the kit failed: said so, without its traceback
            assert "internal grader error (LookupError)" in text, text
        elif part in ("batchnorm", "dropout"):  # stub layers: the kit's messages
            assert "Test case failed" in text and "not implemented yet" in text, text
            assert f'File "{PACKAGE}/layers.py"' in text, text
        else:
            assert "All test cases passed!" in text, f"{part}:\n{text}"
        assert [o for o in outputs if o["output_type"] == "stream"] == [], part
        frames = re.findall(r'File "([^"]+)"', text)
        assert all(f.startswith(f"{PACKAGE}/") for f in frames), (part, frames)
        assert "Traceback" not in text and "autograder/" not in text, text


# ------------------------------------------------------------------- otter run


def test_otter_run_scores_equal_the_native_grader(otter_path, otter_results):
    runs, expected = otter_results, otter_path["native"]
    assert expected["20250001"]["score"] == 100 and expected["20250002"]["score"] == 0
    assert 0 < expected["20250003"]["parts"]["adam"] < OPTIM.points["adam"]  # partial credit
    for student, results in runs.items():
        assert [t["name"] for t in results["tests"]] == ["Public Tests", *OPTIM.parts]
        assert _scores(results) == pytest.approx(expected[student]["parts"], abs=1e-9), student
        assert {t["name"]: t["max_score"] for t in results["tests"][1:]} == OPTIM.points
        assert results["output"].startswith(
            f"{OPTIM.name}: {expected[student]['score']:g} / 100 (the course's hidden tests)\n"
            f"student: {student}\n"
        )
        assert_no_secret(json.dumps(results), f"{student}'s results.json")
    adam = next(t for t in runs["20250003"]["tests"] if t["name"] == "adam")
    assert f"known mistake ({MISTAKE})" in adam["output"]


def test_nothing_planted_runs(otter_path):
    assert sorted(p.name for p in otter_path["canaries"].iterdir()) == []


def test_hidden_cases_are_hidden_and_neutrally_named(otter_path, otter_results):
    for student, results in otter_results.items():
        native_json = json.loads((otter_path["native_results"] / f"{student}.json").read_text())
        hidden = [t["name"] for t in native_json["tests"]]
        # the engine numbers hidden cases; no bracket holds anything else (an input)
        assert all(re.fullmatch(r"[^\[]*(\[case \d+\])?", n) for n in hidden), hidden
        assert [n for n in hidden if "[case " in n], student
        public, *parts = results["tests"]
        assert public["visibility"] == "visible"
        assert {t["visibility"] for t in parts} == {"hidden"}
        text = json.dumps(results)
        shown = re.findall(r"\b\w+: \w+\[([^\]]*)\]", text)  # case names otter shows
        public_ids = re.findall(r"\b\w+: \w+\[([^\]]*)\]", public["output"])
        assert all(re.fullmatch(r"case \d+", b) for b in shown if b not in public_ids), student
        assert "[case " not in public["output"], student
    public, *_ = otter_results["20250003"]["tests"]
    assert "adam: three_steps[Adam] result" in public["output"]  # a public case, shown
    assert "adam: updates[case 3] result" in json.dumps(otter_results["20250003"])


def test_the_kits_result_replaces_whatever_the_kernel_wrote(tmp_path):
    from otter.run import AutograderConfig
    from otter.test_files import GradingResults
    from otter.test_files.abstract_test import TestCase, TestCaseResult
    from otter.test_files.exception_test import ExceptionTestFile

    from autograder.jupyter import otter_plugin

    def question(name: str, points: float) -> ExceptionTestFile:
        case = TestCase(f"{name} forged", None, False, points, None, None)
        file = ExceptionTestFile(name, f"tests/{name}.py", [case])
        file.test_case_results = [TestCaseResult(case, "passed", True)]
        return file

    kernel = GradingResults([question("bonus", 50), question("sgd", 8)])
    kernel.hide_everything()
    kernel.set_output("100 / 100")
    result = Result(
        "20250009",
        OPTIM.name,
        OPTIM.points,
        tests=[
            TestResult("sgd: updates[case 1]", "sgd", 2.5, 4.0, "expected 1.0, got 2.0"),
            TestResult("sgd: updates[case 2]", "sgd", 4.0, 4.0, "passed"),
        ],
    )
    plugin = otter_plugin.KitGrades(str(tmp_path / "x.ipynb"), {}, {"assignment": OPTIM.name})
    plugin.graded = (result, [])
    plugin.after_grading(kernel)
    out = kernel.to_gradescope_dict(AutograderConfig({}))
    assert [t["name"] for t in out["tests"]] == ["Public Tests", *OPTIM.parts]
    assert {t["name"]: t["score"] for t in out["tests"][1:]} == result.part_scores()
    assert {t["visibility"] for t in out["tests"]} == {"visible", "hidden"}
    assert out["output"].startswith(f"{OPTIM.name}: 6.5 / 100")
    assert "forged" not in json.dumps(out)


# -------------------------------------------------------------------- the batch road


def test_the_batch_road_grades_every_entry_as_natively(otter_path):
    assert otter_path["batch_code"] == 0
    expected = otter_path["native"]
    lines = (otter_path["graded"] / "gradebook.csv").read_text("utf-8").splitlines()
    assert lines[0] == ",".join(["student", "score", "max_score", *OPTIM.parts, "status"])
    rows = {line.split(",")[0]: line.split(",") for line in lines[1:]}
    assert sorted(rows) == ["kim", "lee"]
    for student, row in rows.items():
        parts = dict(zip(OPTIM.parts, map(float, row[3:-1]), strict=True))
        assert parts == pytest.approx(expected[student]["parts"], abs=1e-9), student
        assert row[-1] == expected[student]["status"], student
        results = json.loads((otter_path["graded"] / "results" / f"{student}.json").read_text())
        assert _scores(results) == pytest.approx(expected[student]["parts"], abs=1e-9)
    assert 0 < expected["kim"]["parts"]["batchnorm"] < OPTIM.points["batchnorm"]
    assert expected["lee"]["status"].startswith("could not read your archive")
