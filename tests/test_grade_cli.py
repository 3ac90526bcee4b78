"""``release grade`` as the instructor sees it: a table that fits the terminal, a progress bar
with its total, counts in words, clear errors, and a gradebook.xlsx that matches the CSV."""

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from rich.cells import cell_len
from rich.console import Console

from autograder import course
from autograder.gradebook_xlsx import gradebook_xlsx
from autograder.results import Result, TestResult
from autograder.views import tables
from release import demo
from release.grade import grade

pytestmark = pytest.mark.slow  # whole batches through the command line

CNN = course.load("cnn")
OPTIM = course.load("optim_reg")
HANGUL = "김민지_2025123"
ZEROS = "0012345"


def _run(submissions: Path, out: Path, width: int = 80, **options) -> tuple[int, str, str]:
    """``grade`` with a terminal of ``width`` columns: (exit code, messages, table)."""
    messages = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None)
    table = Console(file=io.StringIO(), width=width)
    code = grade(OPTIM, submissions, out, console=messages, stdout=table, **options)
    return code, messages.file.getvalue(), table.file.getvalue()


def _results(assignment, students: list[str]) -> list[Result]:
    """Made-up results with fractional scores and one long status (no grading)."""
    results = []
    for number, student in enumerate(students):
        tests = [
            TestResult("case", part, points * (number % 4) / 4 + 0.25 * (number % 2), points)
            for part, points in assignment.points.items()
        ]
        status = "ok" if number != 2 else "could not read your archive (BadZipFile: not a zip)"
        results.append(Result(student, assignment.name, assignment.points, status, tests))
    return results


def _lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The demo's optim_reg samples plus a Hangul id and an id with leading zeros, graded
    once (fresh), then again with one more submission (resumed)."""
    root = tmp_path_factory.mktemp("grade")
    subs, out = root / "submissions", root / "out"
    demo.samples(OPTIM, subs)
    shutil.copytree(subs / "2025000_reference", subs / HANGUL)
    shutil.copytree(subs / "2025999_stubs", subs / ZEROS)
    count = len(list(subs.iterdir()))
    first = _run(subs, out)
    shutil.copytree(subs / "2025201_choi", subs / "2025204_new")
    resumed = _run(subs, out)
    return subs, out, first, resumed, count


# ------------------------------------------------------------------------- the table


@pytest.mark.parametrize("assignment", [CNN, OPTIM], ids=lambda a: a.name)
def test_table_at_80_columns_fits_and_cuts_nothing(assignment):
    students = ["2025000_reference", HANGUL, ZEROS, "[bold]markup[/bold]", "2025101_kim"]
    results = _results(assignment, students)
    screen = Console(file=io.StringIO(), width=80)
    views = tables(assignment, results, 80)
    for view in views:
        screen.print(view)
    lines = _lines(screen.file.getvalue())
    assert max(cell_len(line) for line in lines) <= 80
    assert len(views) > 1 and "…" not in screen.file.getvalue()
    words = {word for line in lines for word in line.replace("│", " ").replace("┃", " ").split()}
    assert set(assignment.parts) <= words
    for result in results:
        row = [line for line in lines if line.startswith(f"│ {result.student} ")]
        assert len(row) == len(views)  # the student leads one line of every table
        scores = [w for line in row for w in line.split("│")[2:] if w.strip()]
        shown = [f"{result.score:g}", *(f"{s:g}" for s in result.part_scores().values())]
        assert [s.strip() for s in scores[: len(shown)]] == shown
    assert set(results[2].status.split()) <= words  # wrapped, not cut


def test_table_in_a_wide_terminal_is_one_table():
    results = _results(CNN, ["2025000_reference", HANGUL, "2025101_kim"])
    [view] = tables(CNN, results, 250)
    screen = Console(file=io.StringIO(), width=250)
    screen.print(view)
    text = screen.file.getvalue()
    assert _lines(text)[0].strip() == "cnn: 3 submissions"
    assert max(cell_len(line) for line in _lines(text)) <= 250
    row = next(line for line in _lines(text) if line.startswith(f"│ {HANGUL} "))
    assert [c.strip() for c in row.split("│")[2:-2]] == [
        f"{results[1].score:g}",
        *(f"{s:g}" for s in results[1].part_scores().values()),
    ]


# ------------------------------------------------------------------------ a real run


def test_first_run_reports_its_total_and_counts(graded):
    _, _, (code, messages, table), _, n = graded
    assert code == 0
    assert f"{n}/{n}" in messages and "/?" not in messages  # the bar knew its total
    assert f"{n} submissions graded in" in messages and "kept" not in messages
    assert max(cell_len(line) for line in _lines(table)) <= 80
    assert f"optim_reg: {n} submissions (1 of" in table


def test_resumed_run_says_what_it_kept(graded):
    _, _, _, (code, messages, _), n = graded
    assert code == 0
    assert "1/1" in messages and "/?" not in messages
    assert f"{n + 1} submissions in" in messages
    assert f"{n} kept from the last run, 1 graded" in messages


def test_one_submission_is_singular(graded, tmp_path):
    subs, out, _, _, _ = graded
    one = tmp_path / "one"
    shutil.copytree(subs / HANGUL, one / HANGUL)
    shutil.copytree(out, tmp_path / "out")
    code, messages, table = _run(one, tmp_path / "out")  # its result is there: kept
    assert code == 0
    assert "1 submission in" in messages and "1 kept from the last run, 0 graded" in messages
    assert "optim_reg: 1 submission" in table and "1 submissions" not in messages + table


def test_xlsx_holds_what_the_csv_holds(graded):
    _, out, _, _, n = graded
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    book = openpyxl.load_workbook(out / "gradebook.xlsx")
    assert book.sheetnames == ["optim_reg"]
    sheet = book["optim_reg"]
    cells = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert cells[0] == rows[0]
    assert len(cells) == len(rows) == n + 2  # the header, the resumed run's one more
    for written, row in zip(cells[1:], rows[1:], strict=True):
        assert written[0] == row[0] and written[-1] == row[-1]  # id and status, as text
        assert all(isinstance(value, int | float) for value in written[1:-1])
        assert written[1:-1] == [float(value) for value in row[1:-1]]
    students = [row[0] for row in cells[1:]]
    assert HANGUL in students and ZEROS in students
    assert dict(zip(students, (row[1] for row in cells[1:]), strict=True))[HANGUL] == 100
    assert sheet.freeze_panes == "B2"
    assert sheet["B2"].number_format == "0.00" and sheet["A2"].data_type == "s"
    assert sheet.column_dimensions["A"].width >= cell_len(HANGUL)


def test_xlsx_keeps_hostile_text_as_text():
    results = _results(OPTIM, ["=1+1", ZEROS, "tab\there\x01", "@SUM(A1)", "bad\udcff"])
    sheet = openpyxl.load_workbook(io.BytesIO(gradebook_xlsx(results, "optim_reg", OPTIM.parts)))[
        "optim_reg"
    ]
    ids = [sheet.cell(row, 1) for row in range(2, 7)]
    assert [cell.value for cell in ids] == [
        "=1+1",
        ZEROS,
        "tab\there\\x01",
        "@SUM(A1)",
        "bad\\udcff",
    ]
    assert all(cell.data_type == "s" for cell in ids)


# ---------------------------------------------------------------- the instructor's errors


def test_an_empty_folder_is_an_error_unless_asked_for(tmp_path):
    subs = tmp_path / "submissions"
    subs.mkdir()
    (subs / ".DS_Store").write_bytes(b"hidden")
    code, messages, table = _run(subs, tmp_path / "out")
    assert code == 2 and "holds no submissions" in messages and "--allow-empty" in messages
    assert not (tmp_path / "out").exists() and table == ""
    code, messages, table = _run(subs, tmp_path / "out", allow_empty=True)
    assert code == 0 and "the gradebook has no rows" in messages and table == ""
    header = ["student", "score", "max_score", *OPTIM.parts, "status"]
    assert (tmp_path / "out" / "gradebook.csv").read_text("utf-8") == ",".join(header) + "\n"
    sheet = openpyxl.load_workbook(tmp_path / "out" / "gradebook.xlsx")["optim_reg"]
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [header]


def _cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m release grade optim_reg ...`` in an 80-column terminal."""
    return subprocess.run(
        [sys.executable, "-m", "release", "grade", "optim_reg", *args],
        cwd=course.ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
        timeout=120,
    )


def test_cli_file_as_folder_exits_2_saying_so(tmp_path):
    archive = tmp_path / "submissions.zip"
    archive.write_bytes(b"PK\x05\x06" + bytes(18))
    done = _cli(str(archive), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "is a file, not a folder" in done.stderr and "unpack it" in done.stderr
    missing = _cli(str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert not (tmp_path / "out").exists()


def test_cli_allow_empty_writes_a_header_only_gradebook(tmp_path):
    (tmp_path / "submissions").mkdir()
    refused = _cli(str(tmp_path / "submissions"), "--out", str(tmp_path / "out"))
    assert refused.returncode == 2 and "--allow-empty" in refused.stderr
    done = _cli(str(tmp_path / "submissions"), "--out", str(tmp_path / "out"), "--allow-empty")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "gradebook.csv").read_text("utf-8").count("\n") == 1
    assert (tmp_path / "out" / "gradebook.xlsx").is_file()


def test_an_unknown_student_is_an_error_naming_the_nearest(graded, tmp_path):
    """A typo in --student would regrade nothing and look done: exit 2, nothing written."""
    subs, _, _, _, _ = graded
    code, messages, table = _run(subs, tmp_path / "out", students=["2025201_cho1", HANGUL])
    assert code == 2 and table == ""
    assert "--student '2025201_cho1': no submission of that id" in messages
    assert "(did you mean '2025201_choi'" in messages and HANGUL not in messages
    assert not (tmp_path / "out").exists()
