"""Grading a folder of real submissions end to end: the batch, its files, resume, -j 2."""

import csv
import json
import shutil
import sys
from pathlib import Path

import pytest

from autograder import batch, course, samples

pytestmark = pytest.mark.slow  # whole batches

OPTIM = course.load("optim_reg")


def _folder(root: Path, name: str, files: dict[str, str], package: bool = True) -> Path:
    return samples.write_folder(root / name, files, OPTIM.package if package else None)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One batch of varied submissions, graded once for the tests below."""
    root = tmp_path_factory.mktemp("batch")
    subs = root / "submissions"
    reference = samples.graded(OPTIM, "reference")
    _folder(subs, "reference", reference)
    _folder(subs, "flat layout", reference, package=False)
    _folder(subs, "stubs", samples.graded(OPTIM, "stubs"))
    _folder(subs, "no-bias-correction", samples.graded(OPTIM, "adam-no-bias-correction"))
    _folder(subs, "only-optimizers", {"optimizers.py": reference["optimizers.py"]})
    _folder(subs, "syntax-error", {**reference, "layers.py": "def broken(:\n"})
    _folder(subs, "exits", {**reference, "optimizers.py": "import os\nos._exit(0)\n"})
    _folder(
        subs,
        "liar",
        {
            **reference,
            "optimizers.py": reference["optimizers.py"]
            + (
                "\nimport numpy as np\nnp.allclose = lambda *a, **k: True\n"
                "class Lie(np.ndarray):\n    def __eq__(self, other):\n        return True\n"
                "SGD.update = lambda self, params, grads: None\n"
            ),
        },
    )
    _folder(subs, "loops", {**reference, "layers.py": "while True:\n    pass\n"})
    samples.write_zip(subs / 'kim, "minji".zip', reference, "optim_reg-student/optim_reg/")
    (subs / "notes.pdf").write_bytes(b"%PDF-1.4 not a submission")
    (subs / ".DS_Store").write_bytes(b"hidden: no row")
    out = root / "out"
    results = batch.grade_folder(OPTIM, subs, out, jobs=1)
    return subs, out, {r.student: r for r in results}


def test_every_entry_gets_one_row(graded):
    subs, out, results = graded
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["student", "score", "max_score", *OPTIM.parts, "status"]
    assert sorted(row[0] for row in rows[1:]) == sorted(
        p.name.removesuffix(".zip") for p in subs.iterdir() if not p.name.startswith(".")
    )
    assert len(rows) - 1 == len(results) == 11


def test_scores(graded):
    _, _, results = graded
    assert results["reference"].score == 100
    assert results["flat layout"].score == 100
    assert results['kim, "minji"'].score == 100
    assert results["stubs"].score == 0
    only = results["only-optimizers"].part_scores()
    assert only["adam"] == 14 and only["batchnorm"] == only["dropout"] == 0
    mistaken = results["no-bias-correction"].part_scores()
    assert (
        mistaken["adam"] < 14 and results["no-bias-correction"].score == 100 - 14 + mistaken["adam"]
    )
    assert results["notes.pdf"].status.startswith("not a folder or a zip file")
    assert results["notes.pdf"].score == 0


def test_broken_code_costs_only_its_tests(graded):
    _, out, results = graded
    syntax = results["syntax-error"]
    assert syntax.part_scores()["sgd"] == 8 and syntax.part_scores()["batchnorm"] == 0
    feedback = (out / "feedback" / "syntax-error.md").read_text()
    assert "SyntaxError" in feedback
    exits = results["exits"]
    assert exits.part_scores()["sgd"] == 0 and exits.part_scores()["batchnorm"] == 24
    assert "exited the process" in (out / "feedback" / "exits.md").read_text()
    loops = results["loops"]
    assert loops.part_scores()["batchnorm"] == 0 and loops.part_scores()["adam"] == 14
    assert "time limit" in (out / "feedback" / "loops.md").read_text()


def test_lying_objects_and_patched_numpy_earn_nothing(graded):
    _, _, results = graded
    assert results["liar"].part_scores()["sgd"] == 0
    assert results["liar"].part_scores()["momentum"] == 10


def test_feedback_names_the_known_mistake(graded):
    _, out, _ = graded
    page = (out / "feedback" / "no-bias-correction.md").read_text()
    assert "adam-no-bias-correction" in page or "bias correction" in page
    assert "This looks like a known mistake" in page


def test_results_follow_gradescope_schema(graded):
    _, out, results = graded
    data = json.loads((out / "results" / "reference.json").read_text())
    assert data["score"] == 100
    assert sum(t["max_score"] for t in data["tests"]) == pytest.approx(100)
    for test in data["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
    odd = [p.name for p in (out / "results").iterdir() if p.name.startswith("kim")]
    assert len(odd) == 1 and all(c.isalnum() or c in "-_." for c in odd[0])
    assert results['kim, "minji"'].student == 'kim, "minji"'


def test_no_student_module_was_imported_here(graded):
    subs, _, _ = graded
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None) or ""
        assert not path.startswith(str(subs)) and "submission-" not in path


def test_resume_keeps_finished_results_and_regrades_on_request(graded, tmp_path):
    subs, out, _ = graded
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    (copy / "results" / "stubs.json").unlink()  # as if the batch stopped before it
    stamp = (copy / "results" / "reference.json").stat().st_mtime_ns
    again = batch.grade_folder(OPTIM, subs, copy, students=["exits"])
    assert (copy / "results" / "reference.json").stat().st_mtime_ns == stamp
    assert (copy / "results" / "stubs.json").exists()
    assert {r.student: r.score for r in again} == {r.student: r.score for r in graded[2].values()}


def test_two_workers_agree_with_one(graded, tmp_path):
    subs, _, results = graded
    chosen = tmp_path / "subs"
    chosen.mkdir()
    for name in ("reference", "stubs", "no-bias-correction", "exits"):
        shutil.copytree(subs / name, chosen / name)
    parallel = batch.grade_folder(OPTIM, chosen, tmp_path / "out", jobs=2)
    assert {r.student: r.part_scores() for r in parallel} == {
        name: results[name].part_scores()
        for name in ("reference", "stubs", "no-bias-correction", "exits")
    }
