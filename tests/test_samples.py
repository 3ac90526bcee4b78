"""The sample submissions every caller shares: what they hold and that intake reads them."""

import pytest

from autograder import course, intake, samples
from autograder.mistakes import NotApplicable
from autograder.reference_oracle import known_mistakes, module_files

OPTIM = course.load("optim_reg")


def test_each_kind_holds_the_graded_modules_of_its_source():
    reference, stubs = samples.graded(OPTIM, "reference"), samples.graded(OPTIM, "stubs")
    assert list(reference) == list(stubs) == list(OPTIM.graded)
    assert reference == {n: (OPTIM.solution_dir / n).read_text("utf-8") for n in OPTIM.graded}
    assert stubs == {n: (OPTIM.stub_dir / n).read_text("utf-8") for n in OPTIM.graded}
    for mistake in known_mistakes(OPTIM)[:3]:
        made = samples.graded(OPTIM, mistake.name)
        changed = {n for n in OPTIM.graded if made[n] != reference[n]}
        assert changed == {edit.file for edit in mistake.edits}, mistake.name


def test_an_unknown_kind_and_a_stale_mistake_are_errors():
    with pytest.raises(KeyError, match="no sample 'adam-typo'"):
        samples.graded(OPTIM, "adam-typo")
    mistake = known_mistakes(OPTIM)[0]
    emptied = dict.fromkeys(module_files(OPTIM), "")
    with pytest.raises(NotApplicable, match=mistake.name):
        samples.with_mistake(OPTIM, mistake, emptied)


def test_intake_reads_back_a_written_folder_and_zip(tmp_path):
    reference = samples.graded(OPTIM, "reference")
    samples.write_students(OPTIM, tmp_path, {"20250001": reference})
    samples.write_zip(tmp_path / "20250002.zip", reference, f"hw/{OPTIM.package}/")
    read = intake.collect(tmp_path, OPTIM)
    assert [s.student for s in read] == ["20250001", "20250002"]
    for submission in read:
        assert submission.ok, submission.status
        assert {n: b.decode() for n, b in submission.files.items()} == reference
