"""Partial credit per output (issue 14, item 3), through the real graders.

A layer case checks several outputs (``out``, ``dx``, ``dW``, ``db``; BatchNorm's running
statistics); each earns its own share, so one wrong line costs that output's share and the
feedback names the output, what is right, and the known mistake.
"""

from __future__ import annotations

import pytest

from autograder import batch, course, intake, samples
from autograder.graders_plugin import Context, Failure, Grade, GradingPlugin, known_mistake
from autograder.pytest_runs import GRADERS, run_graders
from autograder.sandboxed_student import SandboxedStudent

CNN = course.load("cnn")
OPTIM = course.load("optim_reg")


def graded(assignment: course.Assignment, mistake: str, part: str, tmp_path):
    """The known ``mistake`` and the test results of ``part`` for the reference with it
    applied: the real hidden graders of that part only, in the real sandbox."""
    bug = samples.mistake(assignment, mistake)
    samples.write_folder(
        tmp_path / "subs" / "2025-student",
        samples.with_mistake(assignment, bug),
        assignment.package,
    )
    [submission] = intake.collect(tmp_path / "subs", assignment)
    with batch.grading(assignment) as grader, grader.sandbox.workspace() as folder:
        intake.materialize(submission, assignment, folder)
        student = SandboxedStudent(grader.sandbox, folder, assignment)
        context = Context(student, grader.oracle, hidden=True, seed=grader.seed)
        try:
            run_graders(
                GRADERS / assignment.name,
                GradingPlugin(context, assignment.points),
                select=part,
            )
        finally:
            student.close()
    assert context.results and not context.errors
    return bug, context.results


@pytest.mark.slow
def test_an_unsummed_db_costs_only_the_share_of_db(tmp_path):
    bug, cases = graded(CNN, "convolution-db-mean", "convolution", tmp_path)
    assert all(t.score == pytest.approx(0.75 * t.max_score) for t in cases)
    assert sum(t.score for t in cases) == pytest.approx(0.75 * CNN.points["convolution"])
    for case in cases:
        lines = case.output.splitlines()
        assert lines[0].startswith("result[0].db: ")  # the one wrong output, by name
        assert "Right: out, dx, dW: this case earns 3 of its 4 outputs' shares." in lines
        assert known_mistake(bug.name, bug.why) in case.output


def test_a_wrong_dbeta_costs_only_the_share_of_dbeta(tmp_path):
    _, cases = graded(OPTIM, "bn-dbeta-not-summed", "batchnorm", tmp_path)
    backward = [t for t in cases if t.name.startswith("batchnorm: backward")]
    # out, dx, dgamma, dbeta, running_mean, running_var: only dbeta is wrong
    assert backward and all(t.score == pytest.approx(5 / 6 * t.max_score) for t in backward)
    assert all(t.output.startswith("result[0].dbeta: ") for t in backward)
    forward = [t for t in cases if t.name.startswith("batchnorm: train_forward")]
    assert forward and all(t.passed for t in forward)  # no dout there: dbeta is not checked


class _Oracle:
    def __init__(self, want):
        self.want = want

    def expect(self, probe, inputs, part, mistake=None):
        return self.want

    def mistakes(self, part):
        return []

    def raised(self, probe, inputs, part, mistake):
        return None


def _check(got, want, per_output=True) -> Failure | None:
    context = Context(lambda probe, inputs, timeout: got, _Oracle(want), hidden=True, seed=0)
    try:
        Grade(context, "part", "node").check("probe", per_output=per_output)
    except Failure as failure:
        return failure
    return None


def test_the_layout_must_match_for_any_share():
    import numpy as np

    one, two = np.ones(3), np.full(3, 2.0)
    want = [{"out": one, "dx": one}, {"out": one, "dx": one}]
    assert _check(want, want) is None
    assert _check([{"out": one, "dx": two}] * 2, want).credit == 0.5
    assert _check([{"out": two, "dx": one}, {"out": one, "dx": one}], want).credit == 0.5
    assert _check([{"out": two, "dx": two}] * 2, want).credit == 0.0
    assert _check([{"out": one, "dx": one}], want).credit == 0.0  # a pass missing
    assert _check([{"out": one}] * 2, want).credit == 0.0  # an output missing
    assert _check({"out": one, "dx": one}, want).credit == 0.0  # not per pass
    assert _check([{"out": one, "dx": two}] * 2, want, per_output=False).credit == 0.0
    assert _check({"out": one, "dx": two}, {"out": one, "dx": one}).credit == 0.5


def test_code_that_raises_is_explained_by_the_mistake_that_raises_alike(tmp_path):
    """Per-feature BatchNorm on 4-D input raises a broadcasting ValueError: the feedback
    names the known mistake that raises the same way, beside the student's own frame."""
    bug, cases = graded(OPTIM, "bn-4d-per-feature", "batchnorm", tmp_path)
    raised = [t for t in cases if "your code raised ValueError" in t.output]
    assert raised and all(known_mistake(bug.name, bug.why) in t.output for t in raised)
    assert all('File "optim_reg/layers.py", line' in t.output for t in raised)
    assert all(t.passed or t in raised for t in cases)  # the 2-D cases are right


def test_common_exceptions_name_their_usual_cause():
    from autograder.graders_plugin import CAUSES

    samples = {
        "your code raised ValueError: operands could not be broadcast together with shapes "
        "(2,3) (4,)": "A shape does not fit",
        "your code raised ValueError: cannot reshape array of size 24 into shape (5,5)": (
            "A reshape asks"
        ),
        "your code raised TypeError: cannot unpack non-iterable int object": "int or a pair",
        "your code raised IndexError: too many indices for array": "An index or axis",
        "your code raised AttributeError: 'NoneType' object has no attribute 'shape'": (
            "returned nothing"
        ),
        "your code raised AttributeError: 'Convolution' object has no attribute 'col'": (
            "before it is set"
        ),
        "your code raised NameError: name 'np' is not defined": "is not defined",
    }
    import re

    for text, cause in samples.items():
        found = [c for pattern, c in CAUSES if re.search(pattern, text)]
        assert found and cause in found[0], text


def test_identical_failures_of_a_part_are_shown_once():
    from autograder.results import Result, TestResult

    same = "your code raised ValueError: boom"
    result = Result(
        "s",
        "optim_reg",
        {"sgd": 10},
        tests=[TestResult("sgd: a", "sgd", 0, 5, same), TestResult("sgd: b", "sgd", 0, 5, same)],
    )
    page = result.feedback_markdown()
    assert page.count("boom") == 1
    assert (
        "- **sgd: a** (0.00 / 5.00), **sgd: b** (0.00 / 5.00): the same for these 2 cases" in page
    )
