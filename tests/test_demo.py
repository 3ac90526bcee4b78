"""The demo's sample submissions: each is graded as the README promises."""

import pytest

from autograder import batch, course
from autograder.reference import known_mistakes
from release.demo import BUGGY, samples


@pytest.mark.slow
@pytest.mark.parametrize("name", course.names())
def test_samples_are_graded_as_promised(name, tmp_path):
    assignment = course.load(name)
    samples(assignment, tmp_path / "submissions")
    results = {
        r.student: r
        for r in batch.grade_folder(assignment, tmp_path / "submissions", tmp_path / "out", jobs=2)
    }
    assert results["2025000_reference"].score == 100
    assert results["2025999_stubs"].score == 0
    assert results["2025666_hacker"].score == 0
    parts = {m.name: m.part for m in known_mistakes(assignment)}
    for student, bug in BUGGY[name].items():
        scores = results[student].part_scores()
        assert scores[parts[bug]] < assignment.points[parts[bug]], (student, bug)
        assert "This looks like a known mistake" in results[student].feedback_markdown()
