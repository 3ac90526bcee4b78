"""The instructor's report (`release report`): the demo's page in a real browser, its
numbers against the gradebook, the Gradescope folder, hostile student text."""

from __future__ import annotations

import csv
import json
import os
import shutil
import statistics
from html.parser import HTMLParser
from pathlib import Path

import pytest
from chromium import Browser, available
from demo_graded import graded

from autograder import course
from autograder.results import Result, gradebook_csv, write_atomic
from autograder.views import results_json
from release import report_data
from release.demo import BUGGY, INDEPENDENT
from release.report import report

# The demo's samples graded (once per process: with test_demo.py), and a browser.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("demo")]

IN_CI = bool(os.environ.get("CI"))
needs_chromium = pytest.mark.skipif(
    not available() and not IN_CI, reason="no chromium (CI installs it: .ci/run)"
)
FIGURES = {"cnn": {"histogram", "stacked", "scatter"}, "optim_reg": {"histogram", "stacked"}}


def _write_report(name: str, out: Path, lang: str = "ko") -> Path:
    submissions, folder, _ = graded(name)
    page = out / f"{name}.html"
    assert report(folder, page, lang, submissions) == 0
    return page


FIGURE_CHECK = """[...document.querySelectorAll('svg.figure')].map(s => ({
  figure: s.dataset.figure,
  width: s.getBoundingClientRect().width,
  height: s.getBoundingClientRect().height,
  marks: [...s.querySelectorAll('.bar, .point')].filter(m => {
    const box = m.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  }).length,
}))"""
MISTAKES = """Object.fromEntries([...document.querySelectorAll('tr.mistake')].map(
  r => [r.dataset.mistake, Number(r.dataset.count)]))"""
PAIRS = """[...document.querySelectorAll('tr.pair')].map(r => [r.dataset.left, r.dataset.right])"""


@needs_chromium
@pytest.mark.parametrize("name", course.names())
def test_demo_report_in_chromium(name, tmp_path):
    if not available():
        pytest.fail("chromium is not installed, and CI must run this test (.ci/run installs it)")
    page = _write_report(name, tmp_path)
    with Browser(1200, 900) as browser:
        loaded = browser.load(page)
        assert loaded.errors() == []
        assert loaded.requests == [page.resolve().as_uri()]  # nothing else was fetched
        browser.screenshot(tmp_path / f"{name}.png")
        figures = browser.evaluate(FIGURE_CHECK)
        assert {f["figure"] for f in figures} == FIGURES[name]
        for figure in figures:
            assert figure["width"] > 200 and figure["height"] > 100, figure
            assert figure["marks"] > 0, figure
        assert browser.evaluate("document.querySelectorAll('script').length") == 0
        assert browser.evaluate(MISTAKES) == dict.fromkeys(BUGGY[name].values(), 1)
        pairs = {frozenset(pair) for pair in browser.evaluate(PAIRS)}
        if name in INDEPENDENT:
            author, copier = INDEPENDENT[name]
            assert frozenset((author, copier)) in pairs  # the near-copy is flagged
            for other in (author, copier):  # two independent writings are not
                assert frozenset(("2025000_reference", other)) not in pairs
    assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    with Browser(390, 844) as phone:  # a phone's width: nothing wider than the screen
        assert phone.load(page).errors() == []
        width = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width


class _Cells(HTMLParser):
    """The cells of every ``<tr data-part>`` of table ``#parts``, and each bar's data."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.bars: list[dict[str, str]] = []
        self._table = self._row = None
        self._text: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = attrs.get("id")
        elif tag == "tr" and self._table == "parts" and "data-part" in attrs:
            self._row = attrs["data-part"]
            self.rows[self._row] = []
        elif tag in ("td", "th") and self._row:
            self._text = []
        elif tag == "rect" and "data-count" in attrs:
            self.bars.append(attrs)

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._text is not None and self._row:
            self.rows[self._row].append("".join(self._text))
            self._text = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None


def _gradebook(folder: Path) -> list[dict[str, str]]:
    with (folder / "gradebook.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("name", course.names())
def test_page_and_csv_numbers_equal_the_gradebook(name, tmp_path):
    assignment = course.load(name)
    page = _write_report(name, tmp_path, "en")
    book = _gradebook(graded(name)[1])
    cells = _Cells()
    cells.feed(page.read_text("utf-8"))
    columns = [*assignment.parts, "total"]
    assert list(cells.rows) == columns  # every part, in the gradebook's order
    for part in columns:
        points = assignment.max_score if part == "total" else assignment.points[part]
        scores = [float(row["score" if part == "total" else part]) for row in book]
        shown = cells.rows[part][1:]
        assert [float(v) for v in shown] == [
            points,
            round(statistics.fmean(scores), 2),
            statistics.median(scores),
            sum(s >= points for s in scores),
            sum(s <= 0 for s in scores),
        ], part
    histogram = [int(b["data-count"]) for b in cells.bars if "data-bin" in b]
    assert len(histogram) == 10 and sum(histogram) == len(book)
    top = [float(row["score"]) >= assignment.max_score * 0.9 for row in book]
    assert histogram[-1] == sum(top)
    per_part = {}
    for bar in cells.bars:
        if "data-stack" in bar:
            per_part[bar["data-stack"]] = per_part.get(bar["data-stack"], 0) + int(
                bar["data-count"]
            )
    assert per_part == dict.fromkeys(assignment.parts, len(book))
    scores = {(row["student"], part): row[part] for row in book for part in assignment.parts}
    with page.with_name(f"{page.stem}-mistakes.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        assert row["part_score"] == scores[row["student"], row["part"]]
        assert float(row["part_score"]) < float(row["part_points"])
    named = {(r["student"], r["mistake"]) for r in rows if r["mistake"]}
    assert named == set(BUGGY[name].items())


@pytest.mark.parametrize("tests", ["part", "case"])
def test_gradescope_folder_reads_as_the_kit_folder(tests, tmp_path):
    """The same results written as the kit's Gradescope ``results.json`` files (one folder
    per submission, as an export has them) give the same rows, mistakes and cases."""
    name = "optim_reg"
    _, folder, results = graded(name)
    settings = course.Gradescope(tests=tests)
    for result in results:
        data = results_json(result, settings, {})
        write_atomic(tmp_path / "gs" / f"sub_{result.student}" / "results.json", json.dumps(data))
    kit, gradescope = report_data.load(folder), report_data.load(tmp_path / "gs")
    assert gradescope.origin == "gradescope"

    def rows(loaded):
        return sorted((r.student, r.score, r.parts, r.status) for r in loaded.rows)

    assert rows(gradescope) == rows(kit)
    assert report_data.mistakes(gradescope) == report_data.mistakes(kit)
    assert report_data.hardest_cases(gradescope) == report_data.hardest_cases(kit)
    # nbgrader's kit/<a>/ has results and no gradebook: the results are the roster
    shutil.copytree(folder / "results", tmp_path / "nb" / "results")
    assert rows(report_data.load(tmp_path / "nb")) == rows(kit)


HOSTILE_ID = '<script>alert("id")</script>김민지 "quoted" & <b>bold</b>'
HOSTILE_TEXT = "**not bold** <img src=x onerror=alert(1)> </pre><script>alert(2)</script>"


@needs_chromium
def test_hostile_student_text_is_shown_as_text(tmp_path):
    """Ids in any script and feedback with markup come out as the same text, inert: no
    script, no element, no request of theirs."""
    if not available():
        pytest.fail("chromium is not installed, and CI must run this test")
    name = "optim_reg"
    submissions, _, results = graded(name)
    assignment = course.load(name)
    hostile = []
    for result in results:
        copy = Result.from_json(result.to_json())
        if copy.student == "2025201_choi":
            copy.student = HOSTILE_ID
            for test in copy.tests:
                if not test.passed:
                    test.output = f"{HOSTILE_TEXT}\n{test.output}"
        hostile.append(copy)
    out = tmp_path / "graded"
    for number, copy in enumerate(hostile):
        write_atomic(out / "results" / f"{number}.json", json.dumps(copy.to_json()))
    write_atomic(out / "gradebook.csv", gradebook_csv(hostile, assignment.parts))
    code = tmp_path / "submissions"
    for student in INDEPENDENT[name]:  # their modules, with markup in a comment
        for module in assignment.graded:
            source = (submissions / student / assignment.package / module).read_text("utf-8")
            target = code / student / assignment.package / module
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"# {HOSTILE_TEXT}\n{source}", encoding="utf-8")
    assert report(out, out / "report.html", "ko", code) == 0
    with Browser(1000, 800) as browser:
        page = out / "report.html"
        loaded = browser.load(page)
        assert loaded.errors() == [] and loaded.requests == [page.resolve().as_uri()]
        assert browser.evaluate("document.querySelectorAll('script, img, b').length") == 0
        text = browser.evaluate("document.body.innerText")
        assert HOSTILE_ID in text
        assert browser.evaluate("document.querySelectorAll('tr.mistake').length") > 0
        browser.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        assert "alert(2)" in browser.evaluate("document.body.innerText")


def test_not_a_graded_folder_is_the_instructors_error(tmp_path, capsys):
    (tmp_path / "stray.txt").write_text("x")
    assert report(tmp_path) == 2
    assert "neither" in capsys.readouterr().err
