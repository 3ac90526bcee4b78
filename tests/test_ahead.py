"""Cases run ahead (autograder.ahead): the hidden graders' cases go to the sandbox in one
request, and every case gets the result it gets when run alone, through the real
graders and sandbox: a crash or an exit in the middle of a part costs only that case. The
graders' pytest session kept open (autograder.pytest_runs.HiddenGraders) gives the results
of a fresh pytest run, submission after submission.
"""

from __future__ import annotations

import pytest
from adversaries import REFERENCE, Source

from autograder import batch, course, intake
from autograder.graders_plugin import Context, GradingPlugin
from autograder.hidden_grading import call_plan, hidden_graders
from autograder.pytest_runs import GRADERS, run_graders
from autograder.reference_oracle import known_mistakes
from autograder.sandboxed_student import SandboxedStudent

OPTIM = course.load("optim_reg")
SELECT = "momentum or adam"  # 2 and 4 cases
[BUGGY] = [m for m in known_mistakes(OPTIM) if m.name == "adam-no-bias-correction"]
SUBMISSIONS = {
    "reference": Source(),
    "buggy": Source(BUGGY.apply(REFERENCE)),
    # Adam's cases: defaults, lr=0.01 (attacked by a crash), beta2=0 (by an exit), tiny steps
    "exits-mid-part": Source().patch(
        "Adam.update",
        "params, grads",
        "if self.beta2 == 0.0:\n    import os\n    os._exit(3)",
        then=True,
    ),
    "crashes-mid-part": Source().patch(
        "Adam.update",
        "params, grads",
        "if self.lr == 0.01:\n    import ctypes\n    ctypes.string_at(0)",
        then=True,
    ),
}


@pytest.fixture(scope="module")
def grader():
    with batch.grading(OPTIM) as grader:
        yield grader


def grade(grader, tmp_path, name: str, ahead: bool) -> tuple[list[tuple], int]:
    """The test results (name, score, feedback) of the parts ``SELECT`` for submission
    ``name`` and the number of sandbox requests: as graded (cases run ahead, the graders'
    pytest session kept open) or each case on its own in a pytest run of its own."""
    subs = tmp_path / f"{name}-{ahead}"
    SUBMISSIONS[name].folder(name, ()).write(subs)
    [submission] = intake.collect(subs, OPTIM)
    plan = call_plan(OPTIM.name, grader.seed, SELECT) if ahead else ()
    with grader.sandbox.workspace() as folder:
        intake.materialize(submission, OPTIM, folder)
        student = SandboxedStudent(grader.sandbox, folder, OPTIM, plan=plan)
        context = Context(student, grader.oracle, hidden=True, seed=grader.seed)
        try:
            if ahead:
                hidden_graders(OPTIM.name, SELECT).run(context)
            else:
                run_graders(GRADERS / OPTIM.name, GradingPlugin(context, OPTIM.points), SELECT)
        finally:
            student.close()
    assert not context.errors
    return [(t.name, t.score, t.output) for t in context.results], student.session.requests


def test_the_plan_lists_each_cases_first_call_in_order(grader):
    plan = call_plan(OPTIM.name, grader.seed, SELECT)
    assert [c.part for c in plan] == ["momentum"] * 2 + ["adam"] * 4
    assert {c.probe for c in plan} == {"optimizer"}
    assert [c.inputs["hyper"].get("lr") for c in plan][:2] == [None, 0.05]


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_cases_run_ahead_get_the_results_they_get_alone(grader, tmp_path, name):
    alone, calls = grade(grader, tmp_path, name, ahead=False)
    ahead, requests = grade(grader, tmp_path, name, ahead=True)
    assert ahead == alone
    assert calls == 6
    # one request for both parts; a call that ends the child ends its request, the
    # remaining cases go in a new one (in a fresh child)
    attacked = {"crashes-mid-part": 1, "exits-mid-part": 2}.get(name)
    assert requests == (1 if attacked is None else 2)
    if attacked is not None:
        adam = [score for case, score, _ in ahead if case.startswith("adam")]
        assert [i for i, score in enumerate(adam) if score == 0] == [attacked]
