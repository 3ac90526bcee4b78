"""The demo's sample submissions: each is graded as the README promises."""

import pytest
from demo_graded import graded

from autograder import course
from autograder.reference_oracle import known_mistakes
from release.demo import BUGGY, INDEPENDENT

pytestmark = pytest.mark.xdist_group("demo")  # graded once per process: with test_report.py


@pytest.mark.slow
@pytest.mark.parametrize("name", course.names())
def test_samples_are_graded_as_promised(name):
    assignment = course.load(name)
    results = {r.student: r for r in graded(name)[2]}
    assert results["2025000_reference"].score == 100
    assert results["2025999_stubs"].score == 0
    assert results["2025666_hacker"].score == 0
    parts = {m.name: m.part for m in known_mistakes(assignment)}
    for student, bug in BUGGY[name].items():
        scores = results[student].part_scores()
        assert scores[parts[bug]] < assignment.points[parts[bug]], (student, bug)
        assert "This looks like a known mistake" in results[student].feedback_markdown()
    for student in INDEPENDENT.get(name, ()):  # written apart from the reference, and its copy
        assert results[student].score == 100, results[student].feedback_markdown()
