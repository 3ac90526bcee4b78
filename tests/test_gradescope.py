"""Gradescope, in a faithful copy of its image (tests/gradescope_image.py).

The autograder zip is laid out as Gradescope's specification says, set up with the system's
interpreter by its own ``setup.sh``, and run by its own ``run_autograder`` on uploads as
students make them: loose files, a package folder, a zip. The sandbox's uid layer is on
there, as it is on Gradescope.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import jsonschema
import pytest
from gradescope_image import files, zipped

from autograder import course, samples
from autograder.course import VISIBILITIES, Gradescope
from autograder.results import Result, TestResult
from autograder.sandbox import Layer
from autograder.views import results_json
from release.build import autograder_archive
from release.demo import BUGGY, HOSTILE

SCHEMA = json.loads(
    (Path(__file__).parent / "data" / "gradescope-results.schema.json").read_text("utf-8")
)
CNN = course.load("cnn")
OPTIM = course.load("optim_reg")
METADATA = {
    "users": [{"name": "김민지", "email": "minji@example.com", "sid": "20251234"}],
    "assignment": {"title": "cnn"},
    "id": 1,
}


def modules(assignment: course.Assignment, kind: str, root: Path | None = None) -> dict[str, str]:
    """The graded modules of :func:`autograder.samples.graded`'s ``kind``, or the demo's
    hostile ones (``kind="hostile"``, aimed at the kit in ``root``)."""
    if kind == "hostile":
        return dict.fromkeys(assignment.graded, HOSTILE.format(root=root))
    return samples.graded(assignment, kind)


def valid(results: dict, assignment: course.Assignment) -> dict[str, float]:
    """Check ``results`` against Gradescope's schema and the manifest; the part scores."""
    jsonschema.validate(results, SCHEMA)
    tests = results["tests"]
    assert [t["name"] for t in tests] == assignment.parts  # one test per part, in order
    assert [t["max_score"] for t in tests] == list(assignment.points.values())
    assert results["score"] == pytest.approx(sum(t["score"] for t in tests))
    assert results["output_format"] == "md"
    assert results["extra_data"]["sandbox_layers"]["uid"] is True  # as on Gradescope
    return {t["name"]: t["score"] for t in tests}


def test_the_zip_has_gradescope_files_at_its_root(tmp_path):
    with zipfile.ZipFile(autograder_archive(CNN, tmp_path)) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    for script in ("setup.sh", "run_autograder"):
        assert infos[script].external_attr >> 16 & stat.S_IXUSR, script
    assert "requirements.txt" in infos and "autograder/gradescope.py" in infos
    assert "assignments/cnn/assignment.toml" in infos and "solutions/cnn/conv.py" in infos
    assert not [name for name in infos if name.startswith(("source/", "autograder/jupyter/"))]
    assert "autograder/views.py" in infos  # results.json's view
    requirements = archive_text(tmp_path / "cnn-autograder.zip", "requirements.txt")
    assert "+" not in requirements and all("==" in line for line in requirements.split())


def archive_text(path: Path, name: str) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name).decode("utf-8")


@pytest.mark.slow
def test_setup_uses_the_image_interpreter(gradescope):
    image = gradescope("cnn")
    assert "setup.sh: Python 3." in image.setup.stdout
    assert "/usr/bin/python3" in image.setup.stdout
    venv = (image.root / "venv" / "pyvenv.cfg").read_text("utf-8")
    assert "home = /usr/bin" in venv
    assert stat.S_IMODE(os.stat(image.root / "source").st_mode) == 0o700  # graders: root's


@pytest.mark.slow
def test_cnn_uploads_on_gradescope(gradescope):
    image = gradescope("cnn")
    correct = image.run(files(modules(CNN, "reference"), "cnn"), METADATA)
    assert correct.process.returncode == 0, correct.process.stderr[-3000:]
    scores = valid(correct.results, CNN)
    assert scores == CNN.points and correct.results["score"] == 100
    assert correct.results["extra_data"]["student"] == "20251234"
    assert "| training | 10 | 10 |" in correct.results["output"]
    board = {entry["name"]: entry for entry in correct.results["leaderboard"]}
    assert board["test accuracy"]["order"] == "desc" and board["test accuracy"]["value"] > 0.8
    assert board["training seconds"]["order"] == "asc"
    # the layer report is the instructor's (stdout), never the student's
    assert "uid       setuid to dedicated uid" in correct.process.stdout
    assert "setuid" not in json.dumps(correct.results["tests"])

    bug = BUGGY["cnn"]["2025101_kim"]
    part = samples.mistake(CNN, bug).part
    one_mistake = image.run(zipped(modules(CNN, bug), "20251234.zip", "cnn-student/cnn/"))
    scores = valid(one_mistake.results, CNN)
    assert 0 < one_mistake.results["score"] < 100 and scores[part] < CNN.points[part]
    lost = {p for p, score in scores.items() if score < CNN.points[p]}
    assert lost <= {part, "convolution", "simple_convnet", "training"}, lost  # users of conv2d
    assert f"known mistake ({bug})" in json.dumps(one_mistake.results["tests"])

    stubs = image.run(files(modules(CNN, "stubs")))
    assert valid(stubs.results, CNN) == dict.fromkeys(CNN.parts, 0)
    assert stubs.results["extra_data"]["status"] == "ok"
    assert "not implemented yet" in stubs.results["tests"][0]["output"]

    hostile = image.run(files(modules(CNN, "hostile", image.root / "source"), "cnn"))
    assert hostile.process.returncode == 0
    assert valid(hostile.results, CNN) == dict.fromkeys(CNN.parts, 0)
    assert hostile.results["extra_data"]["status"] == "ok"
    assert "exited the process" in hostile.results["tests"][0]["output"]
    assert "HIDDEN_SEED" not in json.dumps(hostile.results)


@pytest.mark.slow
def test_optim_reg_uploads_on_gradescope(gradescope):
    image = gradescope("optim_reg")
    assert valid(image.run(files(modules(OPTIM, "reference"))).results, OPTIM) == OPTIM.points
    stubs = image.run(zipped(modules(OPTIM, "stubs"), "20251234.zip", "optim_reg/"))
    assert valid(stubs.results, OPTIM) == dict.fromkeys(OPTIM.parts, 0)
    assert stubs.results["extra_data"]["student"] == "submission"  # no metadata: a neutral id


@pytest.mark.slow
def test_no_confinement_fails_loudly_unless_allowed(gradescope):
    """Where no confinement layer works, the results say the autograder failed (never a
    grade) and run_autograder exits 1; the manifest's allow_unconfined lifts that."""
    image = gradescope("optim_reg")
    manifest = image.root / "source" / "assignments" / "optim_reg" / "assignment.toml"
    original = manifest.read_text("utf-8")
    launcher = image.root / "source" / "autograder" / "sandbox" / "zygote.py"
    code = launcher.read_text("utf-8")
    try:  # the image without Landlock, seccomp and network namespaces
        launcher.write_text(
            code.replace(
                "    def detect(self) -> None:",
                (
                    "    def detect(self) -> None:\n        self._detect()\n"
                    "        for name in ('landlock', 'seccomp', 'netns'):\n"
                    "            self._set(name, False, 'not on this image')\n\n"
                    "    def _detect(self) -> None:"
                ),
                1,
            ),
            "utf-8",
        )
        refused = image.run(files(modules(OPTIM, "reference")))
        assert refused.process.returncode == 1
        jsonschema.validate(refused.results, SCHEMA)
        assert refused.results["tests"] == []
        assert "This is not your score" in refused.results["output"]
        assert refused.results["extra_data"]["status"].startswith("grader error")
        manifest.write_text(
            original.replace("allow_unconfined = false", "allow_unconfined = true"), "utf-8"
        )
        allowed = image.run(files(modules(OPTIM, "reference")))
        assert allowed.process.returncode == 0 and allowed.results["score"] == 100
        assert allowed.results["extra_data"]["sandbox_layers"]["seccomp"] is False
    finally:
        launcher.write_text(code, "utf-8")
        manifest.write_text(original, "utf-8")


def _result() -> Result:
    points = {"sgd": 4, "adam": 6}
    tests = [
        TestResult("sgd: updates[case 1]", "sgd", 2, 2, "passed"),
        TestResult("sgd: updates[case 2]", "sgd", 0, 2, "expected 1.0, got 2.0"),
        TestResult("adam: updates[case 1]", "adam", 6, 6, "passed"),
    ]
    return Result(
        "kim",
        "optim_reg",
        points,
        tests=tests,
        notes=["took `conv (1).py` as conv.py"],
        metrics={"test accuracy": 0.9},
    )


@pytest.mark.parametrize("visibility", VISIBILITIES)
def test_results_follow_the_manifest_settings(visibility):
    layers = {"uid": Layer("uid", True, "setuid")}
    per_part = results_json(_result(), Gradescope(visibility=visibility), layers)
    jsonschema.validate(per_part, SCHEMA)
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in per_part["tests"]] == [
        ("sgd", 2, 4, "failed"),
        ("adam", 6, 6, "passed"),
    ]
    assert per_part["tests"][0]["output"] == (
        "updates[case 1]: passed\nupdates[case 2]: 0.00 / 2.00\n    expected 1.0, got 2.0"
    )
    assert {t["visibility"] for t in per_part["tests"]} == {visibility}
    assert "leaderboard" not in per_part  # no leaderboard asked for
    assert "took \\`conv (1).py\\` as conv.py" in per_part["output"]  # student text escaped
    per_case = results_json(
        _result(),
        Gradescope(visibility=visibility, tests="case", leaderboard={"test accuracy": "desc"}),
        layers,
    )
    jsonschema.validate(per_case, SCHEMA)
    assert [t["name"] for t in per_case["tests"]] == [t.name for t in _result().tests]
    assert per_case["leaderboard"] == [{"name": "test accuracy", "value": 0.9, "order": "desc"}]
    assert per_case["extra_data"]["sandbox_layers"] == {"uid": True}


def test_bad_settings_are_refused():
    for settings in ({"visibility": "always"}, {"tests": "module"}, {"leaderboard": {"x": "up"}}):
        with pytest.raises(ValueError):
            Gradescope(**settings)


@pytest.mark.slow
def test_a_grader_failure_is_no_grade(gradescope):
    """The kit failing on a submission (here: a given module missing from the image) says
    so in the results, with no score to stand as the student's; run_autograder exits 1."""
    image = gradescope("optim_reg")
    given = image.root / "source" / "assignments" / "optim_reg" / "optim_reg" / "base_layers.py"
    kept = given.read_bytes()
    given.unlink()
    try:
        run = image.run(files(modules(OPTIM, "reference")))
    finally:
        given.write_bytes(kept)
    assert run.process.returncode == 1
    jsonschema.validate(run.results, SCHEMA)
    assert run.results["tests"] == [] and "This is not your score" in run.results["output"]
    assert run.results["extra_data"]["status"].startswith("grader error: grading error")
