"""``python -m release report``: the class at a glance, one self-contained HTML page.

    python -m release report graded/ [--out report.html] [--lang ko|en] [--submissions DIR]

From a graded folder (``release grade``'s ``--out``, nbgrader's ``kit/<a>/``, or a folder of
Gradescope ``results.json`` files: `release.report_data`) it writes one page with no
script, no font and nothing fetched: the figures are inline SVG (`release.report_svg`), the
CSS is in the page and works from a phone's width up. Beside it, ``<name>-mistakes.csv``:
one row per student and part where points were lost, with each known mistake named.
With ``--submissions`` (the folder that was graded), the page also compares the
submissions' code (`release.similarity`, extra ``report``). Every string that came from a
student (ids, feedback, code) is escaped.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.results import write_atomic

from . import report_data as data
from . import report_svg as svg

if TYPE_CHECKING:
    from .similarity import Similarity

LANGUAGES = ("ko", "en")
SHOWN_STUDENTS = 12  # ids listed in one cell before "and N more"
SHOWN_PAIRS = 100  # rows of the table of alike pairs (the most alike)
NUM = ' class="num"'
CONTEXT = 2  # lines kept around a matching region in the side-by-side view

LABELS: dict[str, tuple[str, str]] = {
    "title": ("{a}: 수업 한눈에 보기", "{a}: the class at a glance"),
    "meta": (
        "제출 {n}개 · 최고점 {max:g} · {origin}에서 읽음",
        "{n} submissions · out of {max:g} · read from {origin}",
    ),
    "origin.kit": ("kit의 채점 폴더", "the kit's graded folder"),
    "origin.gradescope": ("Gradescope results.json", "Gradescope results.json files"),
    "notes": ("알아둘 점", "Worth knowing"),
    "scores": ("점수 분포", "Scores"),
    "scores.figure": ("총점 분포 (제출 수)", "Total scores (submissions per bin)"),
    "scores.x": ("총점", "total score"),
    "table.part": ("파트", "part"),
    "table.points": ("배점", "points"),
    "table.mean": ("평균", "mean"),
    "table.median": ("중앙값", "median"),
    "table.full": ("만점", "full marks"),
    "table.zero": ("0점", "zero"),
    "table.total": ("총점", "total"),
    "parts": ("파트별 분포", "Each part"),
    "parts.figure": ("파트별 점수 분포 (채점표 순서)", "Each part's scores, in gradebook order"),
    "bin.0": ("0점", "nothing"),
    "bin.1": ("절반 미만", "below half"),
    "bin.2": ("절반 이상", "half or more"),
    "bin.3": ("만점", "full marks"),
    "mistakes": ("파트별 알려진 실수", "Known mistakes, part by part"),
    "mistakes.lead": (
        "채점기가 알아본 실수(solutions/*/MISTAKES.md)와 그 실수를 한 학생 수입니다. "
        "비율은 그 파트의 케이스에 틀린 답을 낸 학생 중의 비율입니다.",
        "The mistakes the graders recognised (solutions/*/MISTAKES.md) and how many students "
        "made each; shares are of the students whose code answered some case of that part "
        "wrongly.",
    ),
    "mistakes.none": (
        "틀린 답을 낸 학생이 없습니다 (구현하지 않은 제출, 사람이 볼 제출은 세지 않음).",
        "No code answered wrongly here (stubs and submissions that need a human are not counted).",
    ),
    "mistakes.lost": (
        "틀린 답을 낸 학생 {lost}명 중 알려진 실수로 설명되지 않은 학생: {n}명 ({share})",
        "Of {lost} students whose code answered wrongly, {n} ({share}) have no known mistake named",
    ),
    "table.mistake": ("실수", "mistake"),
    "table.students": ("학생 수", "students"),
    "table.share": ("비율", "share"),
    "table.example": ("피드백 예", "example feedback"),
    "table.who": ("학생", "who"),
    "hard": ("가장 많이 틀린 채점 케이스", "Hidden cases that fail most"),
    "hard.lead": (
        "코드가 답을 낸 제출 중 틀린 수 (구현되지 않음·실행되지 않음은 세지 않음).",
        "Failures among the submissions whose code answered the case (not implemented or "
        "not run are not counted).",
    ),
    "table.case": ("케이스", "case"),
    "table.failed": ("틀림", "failed"),
    "table.ran": ("답한 제출", "answered"),
    "none": ("없음", "none"),
    "human": ("사람이 볼 제출", "Submissions that need a human"),
    "human.lead": (
        "상태가 ok가 아니거나(채점되지 않음, kit의 오류), 시간 초과·충돌·프로세스 종료·메모리 "
        "초과·샌드박스 거부·채점기 오류가 있었던 제출입니다.",
        "Statuses other than ok (nothing graded, or the kit failed), and cases that timed "
        "out, crashed, exited, ran out of memory, were refused by the sandbox or met a grader "
        "error.",
    ),
    "table.student": ("학생", "student"),
    "table.status": ("상태", "status"),
    "table.what": ("무슨 일", "what happened"),
    "kind.timeout": ("시간 초과", "timeout"),
    "kind.memory": ("메모리 초과", "out of memory"),
    "kind.refused": ("샌드박스 거부", "refused by the sandbox"),
    "kind.crash": ("충돌", "crash"),
    "kind.exit": ("프로세스 종료", "exited the process"),
    "kind.output": ("잘못된 출력", "invalid output"),
    "kind.grader error": ("채점기 오류", "grader error"),
    "kind.cases": ("{kind}: {n}개 케이스 (처음: {case})", "{kind}: {n} cases (first: {case})"),
    "training": ("training: 정확도와 시간", "training: accuracy against time"),
    "training.figure": ("학습 시간 대비 테스트 정확도", "Test accuracy against training time"),
    "training.x": ("학습 시간 (초)", "training time (s)"),
    "training.y": ("테스트 정확도", "test accuracy"),
    "training.budget": ("시간 예산 {b:g}초", "budget {b:g} s"),
    "training.threshold": ("기준 {t:g}", "threshold {t:g}"),
    "training.lead": (
        "점 하나가 제출 하나입니다. 속이 빈 점은 시간 예산을 넘긴 제출입니다. 기준 이상·예산 "
        "이내: {ok}개, 그 밖: {other}개.",
        "One point per submission; hollow points ran out of the budget. At or above the "
        "threshold within the budget: {ok}; the others: {other}.",
    ),
    "training.none": (
        "결과 없이 끝난 학습(시간 초과, 충돌): {who}",
        "Training that ended with no result (a timeout, a crash): {who}",
    ),
    "similarity": ("코드 유사도", "Code similarity"),
    "similarity.lead": (
        "유사도는 한 제출이 직접 쓴 코드(주어진 stub 코드는 제외)의 지문 중 다른 제출에도 있는 "
        "비율입니다(copydetect, winnowing). 변수 이름과 주석은 비교하지 않습니다. 높은 유사도는 "
        "사람이 살펴볼 이유일 뿐, 부정행위의 증거가 아닙니다: 짧은 문제는 독립적으로 써도 "
        "비슷해지고, 함께 공부했거나 같은 자료를 보았을 수 있습니다. 학생과 이야기하기 전에 "
        "코드를 직접 비교하세요.",
        "The score is the share of one submission's own code (the given stub code left out) "
        "whose fingerprints the other submission has too (copydetect, winnowing); variable "
        "names and comments are not compared. A high score is a reason for a person to look, "
        "not evidence of misconduct: short exercises come out alike when written "
        "independently, and students may have studied together or used the same material. "
        "Compare the code yourself before you talk to anyone.",
    ),
    "similarity.compared": (
        "직접 쓴 코드가 있는 제출 {n}개를 비교했습니다 (기준 {t:.0%}).",
        "{n} submissions with code of their own were compared (flagged from {t:.0%}).",
    ),
    "similarity.off": (
        "계산하지 않음: 채점한 제출 폴더를 --submissions로 주세요 (extra: report).",
        "Not computed: give the folder that was graded as --submissions (extra: report).",
    ),
    "similarity.groups": (
        "직접 쓴 코드가 글자 하나까지 같은 제출",
        "Submissions whose own code is the same, character for character",
    ),
    "similarity.pairs": ("비슷한 제출 쌍", "Pairs that look alike"),
    "similarity.nopairs": (
        "기준을 넘는 쌍이 없습니다.",
        "No pair reaches the threshold.",
    ),
    "table.left": ("제출 A", "submission A"),
    "table.right": ("제출 B", "submission B"),
    "table.score": ("유사도", "score"),
    "table.shared": ("공통 지문", "shared fingerprints"),
    "similarity.rest": (
        "덜 비슷한 쌍 {n}개는 표에서 생략했습니다.",
        "{n} less alike pairs are left out of the table.",
    ),
    "similarity.view": ("겹치는 부분 나란히 보기", "matching regions side by side"),
    "similarity.more": ("외 {n}명", "and {n} more"),
    "similarity.same": ("(같은 코드 {n}개)", "({n} with this code)"),
    "csv": (
        "학생·실수별 표: {name} (학생, 파트, 파트 점수, 배점, 실수, 케이스 수)",
        "Per student and mistake: {name} (student, part, part score, points, mistake, cases)",
    ),
}

CSS = """
:root { color-scheme: light; --ink: #222; --muted: #666; --line: #ddd; --mark: #ffe08a; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans KR",
  "Apple SD Gothic Neo", "Malgun Gothic", sans-serif; color: var(--ink); background: #fafafa; }
main { max-width: 1100px; margin: 0 auto; padding: 12px 16px 48px; }
h1 { font-size: 1.5rem; margin: 8px 0 0; } h2 { font-size: 1.2rem; margin: 28px 0 8px;
  border-bottom: 2px solid var(--line); } h3 { font-size: 1rem; margin: 16px 0 4px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 4px 16px 12px; margin-top: 16px; }
.meta, .lead { color: var(--muted); }
.figure { width: 100%; height: auto; max-width: 760px; display: block; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 6px 0; min-width: 60%; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left;
  vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 13px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
td code { overflow-wrap: anywhere; }
.ids { overflow-wrap: break-word; min-width: 9em; }
details { margin: 8px 0; } summary { cursor: pointer; }
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
.sides pre { margin: 0; padding: 8px; background: #f4f4f4; border-radius: 4px;
  overflow-x: auto; white-space: pre; }
mark { background: var(--mark); }
.gap { color: var(--muted); }
@media (max-width: 700px) {
  body { font-size: 14px; } main { padding: 8px; } section { padding: 4px 10px 10px; }
  .sides { grid-template-columns: 1fr; }
}
"""


def _labels(lang: str) -> Callable[..., str]:
    index = LANGUAGES.index(lang)

    def label(key: str, **values: object) -> str:
        return LABELS[key][index].format(**values)

    return label


def _share(count: int, total: int) -> str:
    return f"{count / total:.0%}" if total else "-"


def _ids(students: tuple[str, ...] | list[str], label: Callable[..., str]) -> str:
    shown = ", ".join(escape(s) for s in students[:SHOWN_STUDENTS])
    rest = len(students) - SHOWN_STUDENTS
    return shown + (f" {escape(label('similarity.more', n=rest))}" if rest > 0 else "")


def _table(headers: list[str], rows: list[str], number: set[int], table_id: str) -> str:
    head = "".join(
        f"<th{NUM if i in number else ''}>{escape(h)}</th>" for i, h in enumerate(headers)
    )
    return (
        f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _scores(graded: data.Graded, label: Callable[..., str]) -> str:
    max_score = graded.assignment.max_score
    counts = data.score_bins(graded.rows, max_score)
    step = max_score / len(counts)
    bins = [f"{i * step:g}-{(i + 1) * step:g}" for i in range(len(counts))]
    figure = svg.histogram(counts, bins, label("scores.figure"), label("scores.x"))
    stats = data.part_stats(graded)
    rows = [
        f'<tr data-part="{escape(s.part)}"><td>{escape(s.part)}</td>'
        f'<td class="num">{s.points}</td><td class="num">{s.mean:.2f}</td>'
        f'<td class="num">{s.median:g}</td><td class="num">{s.full}</td>'
        f'<td class="num">{s.zero}</td></tr>'
        for s in stats
    ]
    totals = [row.score for row in graded.rows] or [0.0]
    full = sum(row.score >= max_score for row in graded.rows)
    zero = sum(row.score <= 0 for row in graded.rows)
    rows.append(
        f'<tr data-part="total"><th>{escape(label("table.total"))}</th>'
        f'<td class="num">{max_score}</td><td class="num">{_mean(totals):.2f}</td>'
        f'<td class="num">{_median(totals):g}</td><td class="num">{full}</td>'
        f'<td class="num">{zero}</td></tr>'
    )
    headers = [label(f"table.{k}") for k in ("part", "points", "mean", "median", "full", "zero")]
    table = _table(headers, rows, {1, 2, 3, 4, 5}, "parts")
    return f"<section><h2>{escape(label('scores'))}</h2>{figure}{table}</section>"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)


def _parts(graded: data.Graded, label: Callable[..., str]) -> str:
    stacks = [svg.Stack(s.part, s.bins) for s in data.part_stats(graded)]
    figure = svg.stacked_bars(stacks, [label(f"bin.{i}") for i in range(4)], label("parts.figure"))
    return f"<section><h2>{escape(label('parts'))}</h2>{figure}</section>"


def _mistakes(found: list[data.PartMistakes], label: Callable[..., str]) -> str:
    out = [f"<section><h2>{escape(label('mistakes'))}</h2>"]
    out.append(f'<p class="lead">{escape(label("mistakes.lead"))}</p>')
    for part in found:
        out.append(f"<h3>{escape(part.part)}</h3>")
        if not part.lost:
            out.append(f"<p>{escape(label('mistakes.none'))}</p>")
            continue
        rows = [
            f'<tr class="mistake" data-part="{escape(m.part)}" data-mistake="{escape(m.name)}" '
            f'data-count="{len(m.students)}"><td><code>{escape(m.name)}</code><br>'
            f'<small>{escape(m.why)}</small></td><td class="num">{len(m.students)}</td>'
            f'<td class="num">{_share(len(m.students), part.lost)}</td>'
            f"<td><code>{escape(m.example)}</code></td>"
            f'<td class="ids">{_ids(m.students, label)}</td></tr>'
            for m in part.mistakes
        ]
        if rows:
            headers = [label(f"table.{k}") for k in ("mistake", "students", "share", "example")]
            out.append(
                _table([*headers, label("table.who")], rows, {1, 2}, f"mistakes-{part.part}")
            )
        n = len(part.undiagnosed)
        line = label("mistakes.lost", lost=part.lost, n=n, share=_share(n, part.lost))
        who = f': <span class="ids">{_ids(part.undiagnosed, label)}</span>' if n else ""
        out.append(
            f'<p class="undiagnosed" data-part="{escape(part.part)}" data-count="{n}" '
            f'data-lost="{part.lost}">{escape(line)}{who}</p>'
        )
    out.append("</section>")
    return "".join(out)


def _hardest(cases: list[data.HardCase], label: Callable[..., str]) -> str:
    rows = [
        f'<tr><td><code>{escape(c.name)}</code></td><td class="num">{c.failed}</td>'
        f'<td class="num">{c.ran}</td><td class="num">{_share(c.failed, c.ran)}</td></tr>'
        for c in cases
    ]
    headers = [label(f"table.{k}") for k in ("case", "failed", "ran", "share")]
    body = _table(headers, rows, {1, 2, 3}, "hardest") if rows else f"<p>{label('none')}</p>"
    return (
        f"<section><h2>{escape(label('hard'))}</h2>"
        f'<p class="lead">{escape(label("hard.lead"))}</p>{body}</section>'
    )


def _human(attention: list[data.Attention], label: Callable[..., str]) -> str:
    rows = []
    for a in attention:
        what = "<br>".join(
            escape(label("kind.cases", kind=label(f"kind.{kind}"), n=n, case=first))
            for kind, n, first in a.kinds
        )
        rows.append(
            f'<tr data-student="{escape(a.student)}"><td class="ids">{escape(a.student)}</td>'
            f"<td>{escape(a.status)}</td><td>{what}</td></tr>"
        )
    headers = [label(f"table.{k}") for k in ("student", "status", "what")]
    body = _table(headers, rows, set(), "human") if rows else f"<p>{label('none')}</p>"
    return (
        f"<section><h2>{escape(label('human'))}</h2>"
        f'<p class="lead">{escape(label("human.lead"))}</p>{body}</section>'
    )


def _training(found: data.Training, label: Callable[..., str]) -> str:
    longest = max((p.seconds for p in found.points), default=0.0)
    x_max = max(found.budget * 1.2, longest * 1.05)
    figure = svg.scatter(
        [svg.Point(p.seconds, p.accuracy, p.student, p.over) for p in found.points],
        x_max=x_max,
        x_line=found.budget,
        y_line=found.threshold,
        title=label("training.figure"),
        xlabel=label("training.x"),
        ylabel=label("training.y"),
        x_line_label=label("training.budget", b=found.budget),
        y_line_label=label("training.threshold", t=found.threshold),
    )
    ok = sum(p.accuracy >= found.threshold and not p.over for p in found.points)
    lead = label("training.lead", ok=ok, other=len(found.points) - ok)
    none = ""
    if found.no_result:
        text = escape(label("training.none", who=""))
        none = f'<p>{text}<span class="ids">{_ids(found.no_result, label)}</span></p>'
    return (
        f"<section><h2>{escape(label('training'))}</h2>{figure}"
        f'<p class="lead">{escape(lead)}</p>{none}</section>'
    )


def _marked(text: str, spans: tuple[tuple[int, int], ...]) -> str:
    """``text`` escaped, its ``spans`` in ``<mark>``, only the lines near a mark kept."""
    inside = [False] * len(text)
    for start, end in spans:
        for i in range(start, min(end, len(text))):
            inside[i] = True
    lines, at = [], 0
    for line in text.splitlines(keepends=True):
        marks = inside[at : at + len(line)]
        parts, run_start = [], 0
        for i in range(1, len(line) + 1):
            if i == len(line) or marks[i] != marks[run_start]:
                piece = escape(line[run_start:i])
                parts.append(f"<mark>{piece}</mark>" if marks[run_start] else piece)
                run_start = i
        lines.append(("".join(parts), any(marks)))
        at += len(line)
    near = [
        any(marked for _, marked in lines[max(0, i - CONTEXT) : i + CONTEXT + 1])
        for i in range(len(lines))
    ]
    out, skipping = [], False
    for (html, _), keep in zip(lines, near, strict=True):
        if keep:
            out.append(html)
            skipping = False
        elif not skipping:
            out.append('<span class="gap">…\n</span>')
            skipping = True
    return "".join(out)


def _group(members: tuple[str, ...], label: Callable[..., str]) -> str:
    if len(members) == 1:
        return escape(members[0])
    return f"{escape(members[0])} {escape(label('similarity.same', n=len(members)))}"


def _similarity(found: Similarity | None, label: Callable[..., str]) -> str:
    out = [f'<section id="similarity"><h2>{escape(label("similarity"))}</h2>']
    out.append(f'<p class="lead">{escape(label("similarity.lead"))}</p>')
    if found is None:
        out.append(f"<p>{escape(label('similarity.off'))}</p></section>")
        return "".join(out)
    out.append(
        f"<p>{escape(label('similarity.compared', n=found.compared, t=found.threshold))}</p>"
    )
    if found.groups:
        out.append(f"<h3>{escape(label('similarity.groups'))}</h3><ul>")
        out += [
            f'<li class="group ids" data-members="{len(g)}">{_ids(g, label)}</li>'
            for g in found.groups
        ]
        out.append("</ul>")
    out.append(f"<h3>{escape(label('similarity.pairs'))}</h3>")
    if not found.pairs:
        out.append(f"<p>{escape(label('similarity.nopairs'))}</p>")
    rows = [
        f'<tr class="pair" data-left="{escape(p.left[0])}" data-right="{escape(p.right[0])}" '
        f'data-score="{p.score:.3f}"><td class="ids">{_group(p.left, label)}</td>'
        f'<td class="ids">{_group(p.right, label)}</td><td class="num">{p.score:.0%}</td>'
        f'<td class="num">{p.shared}</td></tr>'
        for p in found.pairs[:SHOWN_PAIRS]
    ]
    if rows:
        headers = [label(f"table.{k}") for k in ("left", "right", "score", "shared")]
        out.append(_table(headers, rows, {2, 3}, "pairs"))
    if len(found.pairs) > SHOWN_PAIRS:
        rest = label("similarity.rest", n=len(found.pairs) - SHOWN_PAIRS)
        out.append(f"<p>{escape(rest)}</p>")
    for p in found.pairs:
        if not p.regions:
            continue
        title = f"{p.left[0]} · {p.right[0]} ({p.score:.0%}): {label('similarity.view')}"
        out.append(f'<details class="sidebyside"><summary>{escape(title)}</summary>')
        for region in p.regions:
            out.append(
                f'<h3><code>{escape(region.module)}</code></h3><div class="sides">'
                f"<pre>{_marked(region.left, region.left_spans)}</pre>"
                f"<pre>{_marked(region.right, region.right_spans)}</pre></div>"
            )
        out.append("</details>")
    out.append("</section>")
    return "".join(out)


def page(
    graded: data.Graded, lang: str = "ko", similar: Similarity | None = None, csv_name: str = ""
) -> str:
    """The whole page (HTML text) for ``graded``, labels in ``lang``; ``similar`` is the
    code similarity (`release.similarity.compare`), or None where it was not computed."""
    label = _labels(lang)
    a = graded.assignment
    title = label("title", a=a.name)
    meta = label(
        "meta",
        n=len(graded.rows),
        max=a.max_score,
        origin=label(f"origin.{graded.origin}"),
    )
    body = [f'<h1>{escape(title)}</h1><p class="meta">{escape(a.title)} · {escape(meta)}</p>']
    if graded.notes:
        items = "".join(f"<li>{escape(note)}</li>" for note in graded.notes)
        body.append(f"<section><h2>{escape(label('notes'))}</h2><ul>{items}</ul></section>")
    body.append(_scores(graded, label))
    body.append(_parts(graded, label))
    body.append(_mistakes(data.mistakes(graded), label))
    body.append(_hardest(data.hardest_cases(graded), label))
    body.append(_human(data.needs_a_human(graded), label))
    trained = data.training(graded)
    if trained is not None:
        body.append(_training(trained, label))
    body.append(_similarity(similar, label))
    if csv_name:
        link = f'<a href="{escape(csv_name)}">{escape(csv_name)}</a>'
        text = escape(label("csv", name="\0")).replace("\0", link)
        body.append(f"<p>{text}</p>")
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


CSV_HEADER = ["student", "part", "part_score", "part_points", "mistake", "cases"]


def mistakes_csv(graded: data.Graded) -> str:
    """One row per graded student, part where points were lost, and known mistake named
    there (``mistake`` empty where none is), in gradebook order."""
    from autograder.reference_oracle import known_mistakes

    known = [m for m in known_mistakes(graded.assignment) if m.is_mistake]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in graded.rows:
        if row.status != data.OK or not row.has_results:
            continue
        for part, points in graded.assignment.points.items():
            if row.parts[part] >= points:
                continue
            names = [m.name for m in known if m.part == part]
            found = data.diagnoses(row, part, names) or {"": []}
            for name, cases in found.items():
                writer.writerow(
                    [row.student, part, f"{row.parts[part]:g}", points, name, len(cases)]
                )
    return buffer.getvalue()


def report(
    graded_dir: Path,
    out: Path | None = None,
    lang: str = "ko",
    submissions: Path | None = None,
) -> int:
    """Write the page and its CSV; 0, or 2 for the instructor's errors (printed)."""
    out = out or graded_dir / "report.html"
    try:
        graded = data.load(graded_dir)
    except data.ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    similar = None
    if submissions is not None:
        if not submissions.is_dir():
            print(f"error: --submissions {submissions} is not a folder", file=sys.stderr)
            return 2
        try:
            import copydetect  # noqa: F401  (the extra's library)
        except ImportError as error:
            print(f"error: {error}; pip install -e '.[report]'", file=sys.stderr)
            return 2
        from . import similarity

        similar = similarity.compare(
            graded.assignment, submissions, [row.student for row in graded.rows]
        )
    csv_path = out.with_name(f"{out.stem}-mistakes.csv")
    write_atomic(out, page(graded, lang, similar, csv_path.name))
    write_atomic(csv_path, mistakes_csv(graded))
    print(f"wrote {out} and {csv_path.name}")
    for note in graded.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
