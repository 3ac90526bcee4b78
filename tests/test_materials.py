"""The committed student materials are exactly what the generator makes from solutions/."""

import ast

import pytest

from autograder import course
from autograder.compare import Tolerance, mismatch
from autograder.oracles import RecordedOracle
from autograder.regions import regions
from autograder.selfcheck import EXPECTED
from release.materials import package_files, record_public


@pytest.mark.parametrize("name", course.names())
def test_committed_student_package_equals_the_generator(name):
    assignment = course.load(name)
    files = package_files(assignment)
    assert sorted(p.name for p in assignment.stub_dir.glob("*.py")) == sorted(files)
    for file, text in files.items():
        assert (assignment.stub_dir / file).read_text(encoding="utf-8") == text, (
            f"{file} is out of date: run `python -m release stubs`"
        )


@pytest.mark.parametrize("name", course.names())
def test_every_graded_function_of_the_stubs_raises(name):
    """Each function with a solution region is, in the stub, a NotImplementedError; the
    stubs compile."""
    assignment = course.load(name)
    for file in assignment.graded:
        solution = (assignment.solution_dir / file).read_text(encoding="utf-8")
        stub = ast.parse((assignment.stub_dir / file).read_text(encoding="utf-8"))
        raising = {
            node.name
            for node in ast.walk(stub)
            if isinstance(node, ast.FunctionDef)
            and any(
                isinstance(n, ast.Raise) and "NotImplementedError" in ast.unparse(n)
                for n in ast.walk(node)
            )
        }
        begins = [region.begin for region in regions(solution, file)]
        graded = {
            node.name
            for node in ast.walk(ast.parse(solution))
            if isinstance(node, ast.FunctionDef)
            and any(node.lineno < line <= node.end_lineno for line in begins)
        }
        assert graded and graded <= raising, (file, graded - raising)


@pytest.mark.slow
@pytest.mark.parametrize("name", course.names())
def test_public_answers_are_up_to_date(name, tmp_path):
    assignment = course.load(name)
    fresh = RecordedOracle(record_public(assignment, tmp_path / "expected"))
    committed = RecordedOracle(assignment.folder / "tests" / EXPECTED)
    assert fresh.records.keys() == committed.records.keys(), "run `python -m release stubs`"
    for key, record in fresh.records.items():
        assert mismatch(committed.records[key], record, Tolerance(1e-12, 1e-14)) is None
