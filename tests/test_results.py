"""The result model and its views: JSON, feedback, gradebook."""

import csv
import io
import json

from autograder.results import Result, TestResult, gradebook_csv, write_atomic

POINTS = {"sgd": 8, "adam": 12}


def _result(student='kim, "minji"'):
    return Result(
        student,
        "optim_reg",
        POINTS,
        tests=[
            TestResult("sgd: a", "sgd", 4, 4, "passed"),
            TestResult("sgd: b", "sgd", 0, 4, "dW: wrong"),
            TestResult("adam: a", "adam", 12, 12, "passed"),
        ],
        notes=["extra files ignored: notes.txt"],
        execution_time=1.5,
        submission_sha256="ab",
    )


def test_scores_per_part_and_total():
    result = _result()
    assert result.part_scores() == {"sgd": 4, "adam": 12}
    assert (result.score, result.max_score) == (16, 20)


def test_json_follows_gradescope_and_round_trips():
    data = json.loads(json.dumps(_result().to_json()))
    assert data["score"] == 16
    assert {"name", "score", "max_score", "output", "visibility"} <= set(data["tests"][0])
    again = Result.from_json(data)
    assert again.to_json() == data


def test_gradebook_quotes_odd_ids():
    text = gradebook_csv(
        [_result(), Result("b", "optim_reg", POINTS, status="no graded module found")], list(POINTS)
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["student", "score", "max_score", "sgd", "adam", "status"]
    assert rows[1] == ['kim, "minji"', "16", "20", "4", "12", "ok"]
    assert rows[2] == ["b", "0", "20", "0", "0", "no graded module found"]


def test_feedback_lists_failures_by_part():
    page = _result().feedback_markdown()
    assert "# optim_reg: 16 / 20" in page
    assert "| sgd | 4 | 8 |" in page
    assert "sgd: b" in page and "dW: wrong" in page and "adam: a" not in page


def test_write_atomic_replaces_whole_files(tmp_path):
    target = tmp_path / "deep" / "r.json"
    write_atomic(target, "one")
    write_atomic(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["r.json"]


def test_student_text_renders_as_itself_in_the_feedback_page():
    """Markdown, HTML and a fence in what the student's code printed or raised, and in a
    note about their files, render verbatim (a real Markdown renderer, markdown-it)."""
    from markdown_it import MarkdownIt

    hostile = "# Heading\n<script>alert(1)</script>\n```\n[link](http://x) **bold** | a |"
    result = Result(
        "s",
        "optim_reg",
        {"sgd": 2},
        notes=[f"took <b>{hostile}</b>.py"],
        tests=[TestResult("sgd: updates[case 1]", "sgd", 0, 2, hostile)],
    )
    html = MarkdownIt("commonmark").enable("table").render(result.feedback_markdown())
    for tag in ("<script", "<a ", "<strong>bold", "<b>", "<h1>Heading"):
        assert tag not in html, tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, as text
    assert html.count("<h1>") == 1 and html.count("<table>") == 1  # the kit's own only
