"""The student's self-check matches the grader (issue 14, item 5), through the real student
archive: ``release build``'s ``cnn-student.zip``, unpacked, its public tests and recorded
answers run on a submission's modules, against the hidden grader on the same modules.

Both give the same score in every part, ``training`` included (which the self-check could
not see before), on the reference, the stubs and one-mistake submissions; the table shows
each part's first failure with its explanation and fix, and the student's text verbatim
(never read as markup).
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable

import pytest
from rich.console import Console

from autograder import course, intake, reference_oracle, samples, selfcheck
from autograder.course import from_manifest
from autograder.graders_plugin import known_mistake
from autograder.hidden_grading import grade_submission
from autograder.reference_oracle import known_mistakes
from autograder.results import Result, TestResult, selfcheck_table
from release.build import student_archive

pytestmark = pytest.mark.slow  # the self-check and the hidden grader on whole submissions

CNN = course.load("cnn")
TRAINER = reference_oracle.module("cnn", "trainer")
MISTAKES = {m.name: m for m in known_mistakes(CNN)}
# one mistake each: in a part of its own (training kept), in a layer the network uses, and
# in the network's gradient (training lost)
ONE_MISTAKE = ["conv2d-flipped-kernel", "maxpool-grad-spread", "net-grads-swapped"]
STUB_HINT = "Y[i, j] is the sum of the window X[i:i+kh, j:j+kw] times K"  # corr2d's stub


@pytest.fixture(scope="module")
def graded(cnn_grader, tmp_path_factory) -> Callable[[str], tuple[Result, list[TestResult]]]:
    """``graded(variant)``: (the hidden grader's result, the self-check's cases) of one
    submission, its modules in a student folder of the unpacked archive's files."""
    root = tmp_path_factory.mktemp("selfcheck")
    with zipfile.ZipFile(student_archive(CNN, root)) as archive:
        archive.extractall(root / "unpacked")
    public = from_manifest(root / "unpacked" / "cnn" / "assignment.toml")
    done: dict[str, tuple[Result, list[TestResult]]] = {}

    def run(variant: str) -> tuple[Result, list[TestResult]]:
        if variant not in done:
            folder = root / variant
            shutil.copytree(public.folder / CNN.package, folder / CNN.package)
            samples.write_folder(folder, samples.graded(CNN, variant), CNN.package)
            hidden = grade_submission(
                intake.read_folder(folder, CNN),
                CNN,
                cnn_grader.sandbox,
                cnn_grader.oracle,
                cnn_grader.seed,
            )
            # the grader's sandbox: the self-check's on Linux (open_sandbox), started once
            done[variant] = hidden, selfcheck.check(public, folder, sandbox=cnn_grader.sandbox)
        return done[variant]

    return run


@pytest.mark.parametrize("variant", ["reference", "stubs", *ONE_MISTAKE])
def test_the_self_check_scores_each_part_as_the_grader(graded, variant):
    hidden, cases = graded(variant)
    public = Result("20251234", CNN.name, CNN.points, tests=cases)
    assert hidden.status == "ok"
    assert {case.part for case in cases} == set(CNN.parts)  # training included
    assert public.part_scores() == hidden.part_scores()
    expected = {"reference": CNN.max_score, "stubs": 0}.get(variant)
    if expected is None:
        part = MISTAKES[variant].part
        assert public.part_scores()[part] < CNN.points[part]
        assert 0 < public.score < CNN.max_score
    else:
        assert public.score == expected
    if variant == "reference":  # the leaderboard's figures of the training part
        assert hidden.metrics["test accuracy"] >= TRAINER.ACCURACY_THRESHOLD
        assert 0 < hidden.metrics["training seconds"] <= TRAINER.TIME_BUDGET_S


def _table(cases: list[TestResult]) -> str:
    console = Console(record=True, width=250, color_system=None)
    console.print(selfcheck_table(CNN, cases))
    return console.export_text()


def test_the_table_shows_the_explanation_and_fix_verbatim(graded):
    """The known mistake's line is shown (it was dropped), and text with brackets is shown as
    written (it was read as markup): the stub's hint, the training part's explanation."""
    _, mistaken = graded("maxpool-grad-spread")
    mistake = MISTAKES["maxpool-grad-spread"]
    line = known_mistake(mistake.name, mistake.why)
    text = " ".join(_table(mistaken).split())
    assert " ".join(line.split()) in text
    assert "more failed cases: pytest tests -m pooling shows each" in text
    _, stubs = graded("stubs")
    text = " ".join(_table(stubs).split())
    assert (
        f"corr2d: corr2d_d2l_example: not implemented yet (NotImplementedError: {STUB_HINT})"
        in text
    )
    assert "File " not in text  # the frames stay in the pytest output
    _, swapped = graded("net-grads-swapped")
    text = " ".join(_table(swapped).split())
    assert (
        "training: training_on_digits: your code raised ValueError: gradient returned W2 "
        "of shape (100, 10) for params['W2'] of shape (256, 100)"
    ) in text
