"""The release's archives: what a student receives and what Gradescope runs."""

import re
import zipfile

import pytest

from autograder import course
from autograder.graders import HIDDEN_SEED
from autograder.regions import regions
from release.build import student_archive

OPTIM = course.load("optim_reg")
# from .graders, from autograder.graders.cnn, import autograder.graders (not graders_plugin)
HIDDEN_GRADERS = re.compile(r"(from \.|from autograder\.|import autograder\.)graders\b")


def _solution_lines(assignment) -> set[str]:
    """Every substantive line students must write, from the reference's marked regions,
    except lines that the stubs show anyway (given code)."""
    lines = set()
    for path in assignment.solution_dir.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        source = text.split("\n")
        for region in regions(text, path.name):
            lines |= {
                line.strip()
                for line in source[region.begin : region.end - 1]
                if len(line.strip()) > 25 and not line.strip().startswith("#")
            }
    given = "".join(path.read_text(encoding="utf-8") for path in assignment.stub_dir.glob("*.py"))
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
    for secret in ("graders/", "solutions", "MISTAKES", "reference_oracle.py", "verify.py"):
        assert not [n for n in names if secret in n], secret
    solution = _solution_lines(assignment)
    assert solution, "the reference has solution regions"
    for file, text in texts.items():
        for marker in (
            "from .reference",
            "from autograder.reference",
            "import autograder.reference",
            str(HIDDEN_SEED),
            hex(HIDDEN_SEED),
        ):
            assert marker not in text, f"{marker!r} in {file}"
        assert not HIDDEN_GRADERS.search(text), f"an import of the hidden graders in {file}"
        assert not regions(text, file), f"a region in {file}"
        leaked = [line for line in solution if line in text]
        assert not leaked, f"{file} holds solution code: {leaked[:3]}"
